//! E2B's `mcp-gateway` template in the double (P§3).
//!
//! A sandbox created from `mcp-gateway` (or `mcp-gateway-…`) has an `mcp-gateway` program on
//! its PATH. The SDKs run `mcp-gateway --config '<JSON>'` in it, as root with
//! `GATEWAY_ACCESS_TOKEN` set, and expect it to start the gateway and exit 0 (P§3 "Starting
//! the gateway"). The double's program keeps the config in `/etc/mcp-gateway/config.json` and
//! the token in `/etc/mcp-gateway/.token` (where the SDKs' `get_mcp_token()` reads it after a
//! `connect`); when it has exited 0, and before that exit is reported, the double starts a
//! stand-in gateway as a process of the same sandbox: corral's own (`corral gateway --mcp-file
//! … --token …`, given with `--corral`), its log in `/var/log/mcp-gateway/gateway.log` (P§3
//! "The gateway log"). A failed start turns the exit into 1 with the reason on stderr, which
//! the SDKs raise as "Failed to start MCP gateway: <stderr>".
//!
//! The gateway is reached as E2B routes a sandbox port (P§2.1): the Host
//! `50005-<sandboxID>.<domain>`, or, on an IP/`localhost` Host (C§2.2 mode B), the headers
//! `E2b-Sandbox-Id` and `E2b-Sandbox-Port: 50005`. The double proxies such requests to the
//! stand-in (streaming the responses: SSE); a port nothing listens on is the edge's 502 "The
//! sandbox is running but port is not open" (P§4.3).

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::Request,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use corral_core::{Command, Sandbox, sandbox::ProcessControl};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

use crate::{Double, Sbx, json_response};

/// The gateway's port inside the sandbox (P§3 `get_mcp_url()`).
pub const MCP_PORT: u16 = 50005;

/// The template's `mcp-gateway` program (its `pull` is what template builds run, P§3
/// "Templates and pre-pulling": nothing to pre-pull here).
const PROGRAM: &str = r#"#!/bin/sh
# mcp-gateway of the corral E2B double's mcp-gateway template: keeps the config and the
# token; the double starts its stand-in gateway once this has exited 0.
set -eu
case "${1:-}" in
  --config) ;;
  pull) exit 0 ;;
  *) echo "usage: mcp-gateway --config JSON" >&2; exit 2 ;;
esac
[ $# -ge 2 ] || { echo "mcp-gateway: --config needs a JSON value" >&2; exit 2; }
[ -n "${GATEWAY_ACCESS_TOKEN:-}" ] || { echo "mcp-gateway: GATEWAY_ACCESS_TOKEN is not set" >&2; exit 2; }
mkdir -p /etc/mcp-gateway /var/log/mcp-gateway
printf '%s' "$2" > /etc/mcp-gateway/config.json
printf '%s' "$GATEWAY_ACCESS_TOKEN" > /etc/mcp-gateway/.token
"#;

/// Runs the stand-in: corral's gateway over the kept config and token, its servers as plain
/// processes of this sandbox (as E2B's run inside the gateway's VM), on a free port.
const STAND_IN: &str = r#"mkdir -p /var/log/mcp-gateway
CORRAL_GATEWAY_TOKEN=$(cat /etc/mcp-gateway/.token) exec "$1" --json --home /tmp/.mcp-gateway \
  --provider unsandboxed gateway --mcp-file /etc/mcp-gateway/config.json --port 0 \
  2>>/var/log/mcp-gateway/gateway.log"#;

/// The stand-in gateway of one sandbox.
pub struct StandIn {
    /// Where it listens (127.0.0.1).
    port: u16,
    _control: Arc<dyn ProcessControl>,
}

/// Whether `template` is E2B's MCP gateway template (`mcp-gateway`, `mcp-gateway-v0-3`, …).
pub fn is_mcp_template(template: &str) -> bool {
    template == "mcp-gateway" || template.starts_with("mcp-gateway-")
}

/// Puts the `mcp-gateway` program on the sandbox's PATH.
pub async fn install(sandbox: &dyn Sandbox) -> Result<(), String> {
    let mut cmd = Command::new([
        "sh",
        "-c",
        "mkdir -p /usr/local/bin && cat > /usr/local/bin/mcp-gateway && chmod 755 /usr/local/bin/mcp-gateway",
    ]);
    cmd.stdin = Some(PROGRAM.as_bytes().to_vec());
    match sandbox.exec(cmd).await {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

async fn read(sandbox: &dyn Sandbox, path: &str) -> Option<String> {
    let out = sandbox.exec(Command::new(["cat", path])).await.ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// After a process of an `mcp-gateway` sandbox exited 0: if `mcp-gateway --config` kept a
/// config and no stand-in runs yet, starts one and waits until it listens. `Err` is the
/// reason it could not start.
pub async fn ensure(d: &Double, sbx: &Sbx) -> Result<(), String> {
    let mut running = sbx.gateway.lock().await;
    if running.is_some() {
        return Ok(());
    }
    let sandbox = sbx.sandbox.as_ref();
    if read(sandbox, "/etc/mcp-gateway/config.json")
        .await
        .is_none()
        || read(sandbox, "/etc/mcp-gateway/.token").await.is_none()
    {
        return Ok(()); // not the gateway's command
    }
    let Some(corral) = &d.corral else {
        return Err(
            "mcp-gateway: the E2B double has no stand-in gateway (start it with --corral <corral CLI>)"
                .into(),
        );
    };
    let log = || async {
        read(sandbox, "/var/log/mcp-gateway/gateway.log")
            .await
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let process = sandbox
        .spawn(Command::new(["/bin/sh", "-c", STAND_IN, "sh", corral]))
        .await
        .map_err(|e| format!("mcp-gateway: cannot start the gateway: {e}"))?;
    // `corral --json gateway` prints one JSON document (`{"url", "token", "servers"}`) once it
    // listens.
    let mut stdout = tokio::io::BufReader::new(process.stdout);
    let mut doc = String::new();
    let listening = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match stdout.read_line(&mut doc).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {
                    if let Ok(v) = serde_json::from_str::<Value>(&doc) {
                        return Some(v);
                    }
                }
            }
        }
    })
    .await;
    let port = listening.ok().flatten().and_then(|v| {
        let url = v.get("url")?.as_str()?.to_owned();
        url.strip_prefix("http://127.0.0.1:")?
            .split('/')
            .next()?
            .parse::<u16>()
            .ok()
    });
    let Some(port) = port else {
        process.control.kill();
        // With --json the CLI may report its error on stdout (as that one document).
        return Err(format!(
            "mcp-gateway: the gateway did not start: {} {}",
            doc.trim(),
            log().await
        ));
    };
    // Keep its pipes drained for as long as it runs.
    let mut stderr = process.stderr;
    tokio::spawn(async move {
        let mut sink = Vec::new();
        let _ = stdout.read_to_end(&mut sink).await;
    });
    tokio::spawn(async move {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink).await;
    });
    *running = Some(StandIn {
        port,
        _control: process.control,
    });
    Ok(())
}

/// P§4.3: nothing listens on that port of the sandbox.
fn port_not_open(id: &str, port: u16) -> Response {
    json_response(
        StatusCode::BAD_GATEWAY,
        json!({"sandboxId": id, "message": "The sandbox is running but port is not open",
               "port": port, "code": 502}),
    )
}

/// Hop-by-hop headers and the edge's own routing headers, which are not passed on.
fn passed_on(name: &header::HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "host"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "proxy-connection"
            | "content-length"
            | "e2b-sandbox-id"
            | "e2b-sandbox-port"
    )
}

/// A request for port `port` of the sandbox (not envd's): proxied to what listens there.
pub async fn proxy(d: &Double, sbx: &Sbx, port: u16, req: Request) -> Response {
    let target = if port == MCP_PORT {
        sbx.gateway.lock().await.as_ref().map(|g| g.port)
    } else {
        None
    };
    let Some(local) = target else {
        return port_not_open(&sbx.id, port);
    };
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 16 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = d
        .http
        .request(parts.method, format!("http://127.0.0.1:{local}{path}"))
        .body(body);
    for (name, value) in &parts.headers {
        if passed_on(name) {
            upstream = upstream.header(name, value);
        }
    }
    let resp = match upstream.send().await {
        Ok(r) => r,
        Err(_) => return port_not_open(&sbx.id, port),
    };
    let mut out = Response::builder().status(resp.status());
    for (name, value) in resp.headers() {
        if passed_on(name) {
            out = out.header(name, value);
        }
    }
    out.body(Body::from_stream(resp.bytes_stream()))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}
