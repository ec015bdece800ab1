//! The gateway ops of the Rust runner: `start_gateway` (the binding's API) and the client-side
//! ops that drive the gateway as an MCP client would (rmcp's client over real HTTP on
//! 127.0.0.1) or as raw HTTP. See the README's "Gateway ops".

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use corral_core::{Content, Error, ErrorKind, Gateway, GatewayOptions, ToolResult};
use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    model::{
        CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, ProtocolVersion,
        ReadResourceRequestParams,
    },
    service::{NotificationContext, RunningService},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{
    State,
    expect::{Check, check_tool_result, check_value},
    expect_of, str_field,
};

/// A started gateway and the runner's MCP client session on it.
pub(crate) struct Live {
    gateway: Gateway,
    client: Option<RunningService<RoleClient, Recorder>>,
    recorder: Recorder,
    seen: usize,
}

#[derive(Clone, Default)]
struct Recorder {
    list_changed: Arc<AtomicUsize>,
    notify: Arc<tokio::sync::Notify>,
}

impl ClientHandler for Recorder {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("corral-conformance", "0"),
        )
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.list_changed.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
}

fn transport(
    url: &str,
    token: &str,
    budget: Option<u64>,
) -> StreamableHttpClientTransport<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut cfg = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if !token.is_empty() {
        cfg = cfg.auth_header(token.to_owned());
    }
    if let Some(b) = budget {
        let mut h = std::collections::HashMap::new();
        if let Ok(v) = http::HeaderValue::from_str(&b.to_string()) {
            h.insert(http::HeaderName::from_static("corral-tool-budget"), v);
        }
        cfg = cfg.custom_headers(h);
    }
    StreamableHttpClientTransport::from_config(cfg)
}

fn live(state: &State) -> Result<&Live, String> {
    state
        .gateway
        .as_ref()
        .ok_or_else(|| "no gateway started (start_gateway first)".to_owned())
}

fn client(state: &State) -> Result<&RunningService<RoleClient, Recorder>, String> {
    live(state)?
        .client
        .as_ref()
        .ok_or_else(|| "the gateway was started with connect: false".to_owned())
}

fn transport_err(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Transport, e.to_string())
}

fn to_tool_result(r: rmcp::model::CallToolResult) -> ToolResult {
    let content = r
        .content
        .iter()
        .map(|c| {
            let v = serde_json::to_value(c).unwrap_or(Value::Null);
            serde_json::from_value::<Content>(v.clone()).unwrap_or(Content::Text {
                text: v.to_string(),
            })
        })
        .collect();
    ToolResult {
        content,
        structured_content: r.structured_content,
        is_error: r.is_error.unwrap_or(false),
    }
}

impl Live {
    pub(crate) async fn close(self) {
        if let Some(c) = self.client {
            let _ = c.cancel().await;
        }
        self.gateway.close().await;
    }
}

/// Runs one gateway op; `None` when `op` is not one of them.
pub(crate) async fn step(state: &mut State, op: &str, step: &Value) -> Option<Result<(), String>> {
    Some(match op {
        "start_gateway" => start(state, step).await,
        "gateway_list_tools" => list_tools(state, step).await,
        "gateway_call_tool" => call_tool(state, step).await,
        "gateway_read_resource" => read_resource(state, step).await,
        "gateway_servers" => match live(state) {
            Ok(l) => {
                let v = serde_json::to_value(l.gateway.servers()).unwrap_or(Value::Null);
                check_value(&expect_of(step), &Ok(v), Check::Json)
            }
            Err(e) => Err(e),
        },
        "gateway_wait_list_changed" => wait_list_changed(state, step).await,
        "gateway_http" => http(state, step).await,
        "gateway_close" => {
            if let Some(l) = state.gateway.take() {
                l.close().await;
            }
            Ok(())
        }
        "host_write" => {
            let path = match str_field(step, "path") {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            let data = step.get("data").and_then(Value::as_str).unwrap_or("");
            std::fs::write(path, data).map_err(|e| format!("{path}: {e}"))
        }
        "kill_tagged" => {
            let needle = match str_field(step, "env") {
                Ok(p) => p.to_owned(),
                Err(e) => return Some(Err(e)),
            };
            let pids = crate::env::processes_with_env(&needle);
            if pids.is_empty() {
                return Some(Err(format!("no process carries {needle}")));
            }
            for pid in pids {
                // SAFETY: kill(2) on a pid read from /proc; no memory is involved.
                unsafe {
                    libc::kill(pid as libc::pid_t, libc::SIGKILL);
                }
            }
            Ok(())
        }
        _ => return None,
    })
}

async fn start(state: &mut State, step: &Value) -> Result<(), String> {
    let expect = expect_of(step);
    let options = step.get("options").cloned().unwrap_or(json!({}));
    let options: GatewayOptions = match serde_json::from_value(options) {
        Ok(o) => o,
        Err(e) => {
            let err = Error::new(ErrorKind::ConfigInvalid, format!("gateway options: {e}"));
            return check_value(&expect, &Err(err), Check::Json);
        }
    };
    let gateway = match state.corral.start_gateway(options).await {
        Ok(g) => g,
        Err(e) => return check_value(&expect, &Err(e), Check::Json),
    };
    state
        .vars
        .insert("GATEWAY_URL".into(), gateway.url().to_owned());
    state
        .vars
        .insert("GATEWAY_TOKEN".into(), gateway.token().to_owned());
    let recorder = Recorder::default();
    let client = if step.get("connect").and_then(Value::as_bool) != Some(false) {
        Some(
            recorder
                .clone()
                .serve(transport(gateway.url(), gateway.token(), None))
                .await
                .map_err(|e| format!("cannot connect to the gateway: {e}"))?,
        )
    } else {
        None
    };
    state.gateway = Some(Live {
        gateway,
        client,
        recorder,
        seen: 0,
    });
    check_value(&expect, &Ok(Value::Null), Check::Json)
}

async fn list_tools(state: &mut State, step: &Value) -> Result<(), String> {
    let expect = expect_of(step);
    let names = if let Some(b) = step.get("budget").and_then(Value::as_u64) {
        let l = live(state)?;
        let c = ().serve(transport(l.gateway.url(), l.gateway.token(), Some(b))).await;
        match c {
            Ok(c) => {
                let r = c.list_all_tools().await;
                let _ = c.cancel().await;
                r.map_err(transport_err)
            }
            Err(e) => Err(transport_err(e)),
        }
    } else {
        client(state)?.list_all_tools().await.map_err(transport_err)
    };
    let names = names.map(|t| json!(t.iter().map(|t| t.name.to_string()).collect::<Vec<_>>()));
    check_value(&expect, &names, Check::Names)
}

async fn call_tool(state: &mut State, step: &Value) -> Result<(), String> {
    let expect = expect_of(step);
    let mut p = CallToolRequestParams::new(str_field(step, "tool")?.to_owned());
    if let Some(Value::Object(m)) = step.get("args") {
        p = p.with_arguments(m.clone());
    }
    let r = client(state)?
        .call_tool(p)
        .await
        .map(to_tool_result)
        .map_err(transport_err);
    if let (Some(key), Ok(r)) = (step.get("save_structured").and_then(Value::as_str), &r) {
        state.saved.insert(
            key.to_owned(),
            r.structured_content.clone().unwrap_or_default().to_string(),
        );
    }
    check_tool_result(&expect, &r, &[])
}

async fn read_resource(state: &mut State, step: &Value) -> Result<(), String> {
    let expect = expect_of(step);
    let uri = str_field(step, "uri")?;
    let r = client(state)?
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .map_err(transport_err);
    let text = r.map(|r| {
        let v = serde_json::to_value(&r).unwrap_or(Value::Null);
        let text: Vec<String> = v["contents"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["text"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        text.join("\n")
    });
    if step.get("as_json").and_then(Value::as_bool) == Some(true) {
        let v = text.and_then(|t| {
            serde_json::from_str::<Value>(&t).map_err(|e| transport_err(format!("not JSON: {e}")))
        });
        return check_value(&expect, &v, Check::Json);
    }
    check_value(&expect, &text.map(Value::String), Check::Text)
}

async fn wait_list_changed(state: &mut State, step: &Value) -> Result<(), String> {
    let ms = step
        .get("timeout_ms")
        .and_then(Value::as_u64)
        .unwrap_or(20_000);
    let l = state
        .gateway
        .as_mut()
        .ok_or("no gateway started (start_gateway first)")?;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    loop {
        let notified = l.recorder.notify.notified();
        let n = l.recorder.list_changed.load(Ordering::SeqCst);
        if n > l.seen {
            l.seen = n;
            return Ok(());
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Err(format!("no tools/list_changed within {ms} ms"));
        }
    }
}

/// A raw HTTP/1.1 request to the gateway: `method`, `path`, `headers`, `body` (a string or
/// JSON), `body_bytes` (a JSON body padded to that size), `auth` (`true`: the right bearer
/// token, `false`: none, a string: that token). Result: `{status, www_authenticate}`.
async fn http(state: &mut State, step: &Value) -> Result<(), String> {
    let expect = expect_of(step);
    let l = live(state)?;
    let method = step.get("method").and_then(Value::as_str).unwrap_or("POST");
    let path = step.get("path").and_then(Value::as_str).unwrap_or("/mcp");
    let mut body = match step.get("body") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    if let Some(n) = step.get("body_bytes").and_then(Value::as_u64) {
        let pad = (n as usize).saturating_sub(64);
        body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
            "x".repeat(pad)
        );
    }
    let mut headers = String::new();
    let mut has_host = false;
    if let Some(h) = step.get("headers").and_then(Value::as_object) {
        for (k, v) in h {
            has_host |= k.eq_ignore_ascii_case("host");
            headers.push_str(&format!("{k}: {}\r\n", v.as_str().unwrap_or_default()));
        }
    }
    if !has_host {
        headers.push_str("Host: 127.0.0.1\r\n");
    }
    match step.get("auth") {
        Some(Value::Bool(false)) => {}
        Some(Value::String(t)) => headers.push_str(&format!("Authorization: Bearer {t}\r\n")),
        _ => headers.push_str(&format!("Authorization: Bearer {}\r\n", l.gateway.token())),
    }
    if !body.is_empty() {
        headers.push_str(
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n",
        );
    }
    let request = format!(
        "{method} {path} HTTP/1.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let r = async {
        let mut s = tokio::net::TcpStream::connect(l.gateway.local_addr())
            .await
            .map_err(|e| transport_err(format!("connect: {e}")))?;
        let _ = s.write_all(request.as_bytes()).await;
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let status: u64 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let www = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("www-authenticate")
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_default();
        Ok::<_, Error>(json!({"status": status, "www_authenticate": www}))
    }
    .await;
    check_value(&expect, &r, Check::Json)
}
