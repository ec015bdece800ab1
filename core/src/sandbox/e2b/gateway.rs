//! E2B's own MCP gateway, started the way E2B's SDKs start it for `Sandbox.create(mcp=…)`
//! (`../shared/reference/e2b-protocol.md` §3): one sandbox from the `mcp-gateway` template,
//! created with the `mcp` config in its body; then, through the process API as `root` with
//! `GATEWAY_ACCESS_TOKEN=<token>` (a fresh UUIDv4 unless one is given), the foreground command
//! `mcp-gateway --config '<JSON>'`, which starts the gateway in the background and exits 0. A
//! failure (or a non-zero exit) kills the sandbox and names the command's stderr. The gateway
//! is a Streamable-HTTP MCP endpoint at `https://50005-<sandboxID>.<domain>/mcp` (the SDKs'
//! `get_mcp_url()`), authenticated with `Authorization: Bearer <token>`.
//!
//! With `E2B_SANDBOX_URL` (one URL for every sandbox and port, e2b-compat.md §2.2 mode B) the
//! URL is `<E2B_SANDBOX_URL>/mcp` and a client must also send the routing headers
//! `E2b-Sandbox-Id` and `E2b-Sandbox-Port: 50005` ([`McpGateway::headers`]), as on E2B's shared
//! `sandbox.<domain>` host (§2.1).
//!
//! The sandbox carries corral's metadata (`corral_home`, `corral_server = mcp-gateway`) and a
//! lease, so `corral e2b ls` shows it and `corral e2b gc` leaves it alone while it is in use;
//! its timeout is re-set while the gateway is open, and closing (or dropping) it kills it.

use std::{collections::BTreeMap, time::Duration};

use serde_json::{Map, Value};

use super::{E2bProvider, E2bSandbox, META_HOME, META_SERVER, api::NewSandbox, process};
use crate::{
    error::{Error, ErrorKind, Result},
    sandbox::{Command, Sandbox as _},
};

/// The port E2B's gateway listens on inside its sandbox (`SandboxBase.mcp_port`).
pub const MCP_PORT: u16 = 50005;
/// The template the SDKs create an MCP sandbox from when none is given.
pub const MCP_TEMPLATE: &str = "mcp-gateway";
/// Where the gateway keeps its token inside the sandbox (the SDKs' `get_mcp_token()` after a
/// `connect` reads it as `root`).
pub const TOKEN_FILE: &str = "/etc/mcp-gateway/.token";
/// How long the `mcp-gateway` command may take (the SDKs' default command timeout).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running E2B `mcp-gateway` sandbox.
pub struct McpGateway {
    url: String,
    token: String,
    headers: Vec<(String, String)>,
    sandbox: E2bSandbox,
}

impl std::fmt::Debug for McpGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpGateway")
            .field("url", &self.url)
            .field("sandbox", &self.sandbox.remote.id)
            .finish_non_exhaustive()
    }
}

impl McpGateway {
    /// The MCP endpoint, `https://50005-<sandboxID>.<domain>/mcp`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Headers a client must send besides `Authorization` (the routing headers when every
    /// sandbox is reached through one `E2B_SANDBOX_URL`; none otherwise).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The sandbox's id.
    pub fn sandbox_id(&self) -> &str {
        &self.sandbox.remote.id
    }

    /// Kills the sandbox (bounded). Idempotent.
    pub async fn close(&self) {
        let _ = self.sandbox.kill().await;
    }
}

/// A random UUIDv4, as the SDKs' token.
fn uuid_v4() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| Error::new(ErrorKind::Io, format!("no randomness for the token: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

impl E2bProvider {
    /// Creates an `mcp-gateway` sandbox serving `mcp` (passed to E2B unchanged: E2B's catalog
    /// names, `github/<owner>/<repo>` with `runCmd`/`installCmd`) and starts E2B's gateway in it,
    /// with `token` or a fresh UUIDv4. The template is `CORRAL_E2B_MCP_TEMPLATE`, default
    /// `mcp-gateway`.
    pub async fn start_mcp_gateway(
        &self,
        mcp: &Map<String, Value>,
        token: Option<String>,
    ) -> Result<McpGateway> {
        let token = match token {
            Some(t) => t,
            None => uuid_v4()?,
        };
        let template = std::env::var("CORRAL_E2B_MCP_TEMPLATE")
            .ok()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| MCP_TEMPLATE.into());
        let mut metadata = BTreeMap::new();
        metadata.insert(META_HOME.to_owned(), self.config.home_id.clone());
        metadata.insert(META_SERVER.to_owned(), MCP_TEMPLATE.to_owned());
        let config = Value::Object(mcp.clone());
        let body = NewSandbox {
            template_id: template,
            timeout: Some(self.config.timeout.as_secs().max(1)),
            metadata,
            secure: Some(true),
            mcp: Some(config.clone()),
            ..NewSandbox::default()
        };
        let info = self.api.create(&body, self.config.request_timeout).await?;
        let domain = info.domain.clone();
        let envd = self.envd_of(&info.sandbox_id, info.envd_access_token, domain.as_deref());
        let mut sandbox = E2bSandbox::new(self, info.sandbox_id.clone(), envd.clone(), false);
        sandbox.remote.lease = true;
        // From here on, dropping `sandbox` kills it.
        let quoted = shlex::try_quote(&config.to_string())
            .map_err(|e| Error::config("mcp", format!("cannot quote the config: {e}")))?
            .into_owned();
        let mut command = Command::new([
            "/bin/bash".to_owned(),
            "-l".to_owned(),
            "-c".to_owned(),
            format!("mcp-gateway --config {quoted}"),
        ]);
        command
            .env
            .insert("GATEWAY_ACCESS_TOKEN".into(), token.clone());
        let root = envd.with_user(Some("root".into()));
        let ran = async {
            let (p, _) = process::start(root, &command, false, "corral-mcp-gateway", false).await?;
            crate::sandbox::collect_output(p, None, Some(START_TIMEOUT)).await
        }
        .await;
        let failed = match ran {
            Ok(out) if out.status.success() => None,
            Ok(out) => Some(format!(
                "exit {}: {}",
                out.status
                    .code
                    .map_or_else(|| "by a signal".to_owned(), |c| c.to_string()),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = failed {
            let _ = sandbox.kill().await;
            return Err(Error::new(
                ErrorKind::ServerStartFailed,
                format!(
                    "failed to start the MCP gateway in E2B sandbox {}: {why}",
                    info.sandbox_id
                ),
            ));
        }
        sandbox.start_keepalive();
        let (url, headers) = match &self.config.sandbox_url {
            Some(base) => (
                format!("{}/mcp", base.trim_end_matches('/')),
                vec![
                    ("E2b-Sandbox-Id".to_owned(), info.sandbox_id.clone()),
                    ("E2b-Sandbox-Port".to_owned(), MCP_PORT.to_string()),
                ],
            ),
            None => (
                format!(
                    "https://{MCP_PORT}-{}.{}/mcp",
                    info.sandbox_id,
                    domain.as_deref().unwrap_or(&self.config.domain)
                ),
                Vec::new(),
            ),
        };
        tracing::info!(sandbox = %info.sandbox_id, url = %url, "E2B mcp-gateway started");
        Ok(McpGateway {
            url,
            token,
            headers,
            sandbox,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_is_additive_camel_case_and_accepts_snake_case() {
        use crate::gateway::GatewayOptions;
        let o: GatewayOptions =
            serde_json::from_value(serde_json::json!({"e2bGateway": true})).expect("options");
        assert!(o.e2b_gateway);
        let o: GatewayOptions =
            serde_json::from_value(serde_json::json!({"e2b_gateway": true})).expect("options");
        assert!(o.e2b_gateway);
        let v = serde_json::to_value(GatewayOptions::default()).expect("json");
        assert!(
            v.get("e2bGateway").is_none(),
            "the default form is unchanged: {v}"
        );
    }

    #[test]
    fn tokens_are_uuid_v4() {
        let t = uuid_v4().expect("token");
        assert_eq!(t.len(), 36);
        assert_eq!(&t[14..15], "4");
        assert!(matches!(&t[19..20], "8" | "9" | "a" | "b"), "{t}");
        assert_ne!(t, uuid_v4().expect("token"));
    }
}
