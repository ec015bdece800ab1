//! The gateway: `Corral.startGateway(options)` publishes the corral's servers behind one
//! authenticated Streamable-HTTP MCP endpoint; `Gateway` is its handle.
//!
//! The records here have the core's canonical camelCase JSON form and convert to and from the
//! core's types through it ([`JsonForm`]), so the mapping is written once, by serde:
//! a field added to the core is one line here.

use std::{sync::Arc, time::Duration};

use corral_core as core;
use serde::{Deserialize, Serialize};

use crate::{
    runner::Result,
    runtime as rt,
    types::{CorralOptions, JsonForm, JsonValue, json_of},
};

/// How to run a gateway (the core's `GatewayOptions`). Every field is optional: `null` is the
/// core's default (127.0.0.1 on a free port, a random token, a tool budget of 64, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, uniffi::Record)]
#[serde(rename_all = "camelCase")]
pub struct GatewayOptions {
    /// The servers to publish (names configured in the corral); `null`: all of them.
    #[uniffi(default)]
    pub servers: Option<Vec<String>>,
    /// Address to bind (default `127.0.0.1`).
    #[uniffi(default)]
    pub host: Option<String>,
    /// Port to bind; 0 (the default) picks a free one.
    #[uniffi(default)]
    pub port: Option<u16>,
    /// The bearer token (at least 16 printable characters); `null` generates a random one.
    #[uniffi(default)]
    pub token: Option<String>,
    /// `false` serves without any token (only on loopback addresses).
    #[uniffi(default)]
    pub auth: Option<bool>,
    /// Above this many published tools, `search_tools` + `call_tool` are published instead.
    #[uniffi(default)]
    pub tool_budget: Option<u64>,
    /// How long `tools/list` waits for servers still starting, in ms (default 3000).
    #[uniffi(default)]
    pub discovery_deadline_ms: Option<u64>,
    /// Start every server when the gateway starts (the default) rather than at the first request.
    #[uniffi(default)]
    pub eager: Option<bool>,
    /// Extra `Host` values accepted (loopback names always are).
    #[uniffi(default)]
    pub allowed_hosts: Option<Vec<String>>,
    /// Extra `Origin` values accepted (loopback origins always are).
    #[uniffi(default)]
    pub allowed_origins: Option<Vec<String>>,
    /// Largest request body in bytes (default 4 MiB; larger ones get 413).
    #[uniffi(default)]
    pub max_body_bytes: Option<u64>,
    /// First restart delay after a failure, in ms (default 500; doubles up to the cap).
    #[uniffi(default)]
    pub restart_backoff_ms: Option<u64>,
    /// Longest restart delay, in ms (default 30000).
    #[uniffi(default)]
    pub restart_backoff_max_ms: Option<u64>,
    /// Servers to add and publish, E2B style, as JSON text: `{"filesystem": {"paths":
    /// ["/data"]}, "github/owner/repo": {"installCmd": "…", "runCmd": "…"}, "mine": {"command":
    /// "…"}}` (catalog names, git servers, plain configs, an `mcpServers` document).
    #[uniffi(default)]
    pub mcp: Option<JsonValue>,
    /// Where the `github/<owner>/<repo>` servers of `mcp` are cloned from (`null`:
    /// `CORRAL_GIT_BASE`, else https://github.com).
    #[uniffi(default)]
    pub git_base: Option<String>,
    /// Run `mcp` in E2B's own gateway (one `mcp-gateway`-template sandbox, as E2B's SDKs do)
    /// instead of corral's gateway in front of one E2B sandbox per server. Provider `e2b` only;
    /// only `mcp` and `token` apply.
    #[uniffi(default)]
    pub e2b_gateway: Option<bool>,
}

impl JsonForm for GatewayOptions {
    type Core = core::GatewayOptions;
    const WHAT: &'static str = "gateway";
}

pub use core::ServerState;

/// The state of one published server (the core's type, mirrored).
#[uniffi::remote(Enum)]
pub enum ServerState {
    /// First start in progress.
    Starting,
    /// Serving; its tools are published.
    Ready,
    /// The last start failed or it died; a restart is scheduled.
    Failed,
    /// Restarting after it died (or after a failure, once the delay passed).
    Restarting,
}

/// One published server's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, uniffi::Record)]
#[serde(rename_all = "camelCase")]
pub struct ServerHealth {
    /// The server's name.
    pub name: String,
    /// Its state.
    pub state: ServerState,
    /// How many of its tools are published (0 unless ready).
    pub tool_count: u64,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// When failed: milliseconds until the next restart attempt.
    pub restart_in_ms: Option<u64>,
    /// How many times it was restarted after the first start.
    pub restarts: u32,
}

impl JsonForm for ServerHealth {
    type Core = core::ServerHealth;
    const WHAT: &'static str = "serverHealth";
}

#[uniffi::export]
impl ServerHealth {
    /// The canonical camelCase JSON form (the core's).
    pub fn to_json(&self) -> String {
        self.to_core().map(json_of).unwrap_or_default()
    }
}

/// Parses gateway options from JSON text (the canonical camelCase form; the snake_case
/// spellings are accepted too). Errors name the offending field.
#[uniffi::export]
pub fn gateway_options_from_json(options: String) -> Result<GatewayOptions> {
    GatewayOptions::from_json("options", &options)
}

/// A running gateway: one MCP endpoint (`url()`) and bearer token (`token()`) for any MCP
/// client. `close()` (Swift) / `shutdown()` (Kotlin) stops serving; so does freeing it (Kotlin's
/// `close()` / `use {}`, Swift's deinit) and closing its corral. The servers keep running in the
/// corral until it closes.
#[derive(uniffi::Object)]
pub struct Gateway {
    core: Arc<core::Gateway>,
}

impl Gateway {
    pub(crate) fn new(gateway: core::Gateway) -> Arc<Self> {
        Arc::new(Self {
            core: Arc::new(gateway),
        })
    }
}

/// Starts a gateway on a corral of its own (E2B's `Sandbox.create(mcp = …)` in one call):
/// `options.mcp` names the servers. Closing (or freeing) the gateway closes that corral too.
#[uniffi::export(default(corral_options = None, options = None))]
pub async fn start_gateway(
    corral_options: Option<CorralOptions>,
    options: Option<GatewayOptions>,
) -> Result<Arc<Gateway>> {
    let options = options.unwrap_or_default().to_core()?;
    let corral_options = corral_options.unwrap_or_default();
    rt::run(async move {
        let gateway = core::start_gateway(corral_options, options).await?;
        Ok(Gateway::new(gateway))
    })
    .await
}

#[uniffi::export]
impl Gateway {
    /// The MCP endpoint, e.g. `http://127.0.0.1:41234/mcp`.
    pub fn url(&self) -> String {
        self.core.url().to_owned()
    }

    /// The bearer token (empty when auth is off).
    pub fn token(&self) -> String {
        self.core.token().to_owned()
    }

    /// `url()`, by E2B's name.
    pub fn get_mcp_url(&self) -> String {
        self.url()
    }

    /// `token()`, by E2B's name.
    pub fn get_mcp_token(&self) -> String {
        self.token()
    }

    /// The bound address, `host:port`.
    pub fn local_addr(&self) -> String {
        self.core.local_addr().to_string()
    }

    /// Each published server's health.
    pub fn servers(&self) -> Result<Vec<ServerHealth>> {
        self.core
            .servers()
            .iter()
            .map(JsonForm::from_core)
            .collect()
    }

    /// Waits until no server is starting any more (each ready or failed), at most `timeout`.
    /// Returns whether that happened.
    pub async fn wait_settled(&self, timeout: Duration) -> Result<bool> {
        let core = Arc::clone(&self.core);
        rt::run(async move { Ok(core.wait_settled(timeout).await) }).await
    }

    /// Stops serving. Idempotent. (`shutdown()` in Kotlin, where `close()` is `AutoCloseable`'s.)
    pub async fn close(&self) {
        let core = Arc::clone(&self.core);
        let _ = rt::run_detached(async move {
            core.close().await;
            Ok(())
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_reaches_the_core_and_back() {
        let all = GatewayOptions {
            servers: Some(vec!["a".into()]),
            host: Some("::1".into()),
            port: Some(8123),
            token: Some("t".repeat(20)),
            auth: Some(false),
            tool_budget: Some(7),
            discovery_deadline_ms: Some(100),
            eager: Some(false),
            allowed_hosts: Some(vec!["h".into()]),
            allowed_origins: Some(vec!["http://o".into()]),
            max_body_bytes: Some(1000),
            restart_backoff_ms: Some(10),
            restart_backoff_max_ms: Some(20),
            mcp: Some(serde_json::json!({"memory": {}})),
            git_base: Some("/srv/git".into()),
            e2b_gateway: Some(true),
        };
        let core = all.to_core().expect("every field is the core's");
        assert!(core.e2b_gateway);
        assert_eq!(core.tool_budget, 7);
        assert!(core.mcp.as_ref().is_some_and(|m| m.contains_key("memory")));
        assert_eq!(core.git_base.as_deref(), Some("/srv/git"));
        assert_eq!(core.restart_backoff_max_ms, 20);
        assert_eq!(GatewayOptions::from_core(&core).expect("back"), all);
        // Unset fields are the core's defaults.
        assert_eq!(
            GatewayOptions::default().to_core().expect("defaults"),
            core::GatewayOptions::default()
        );
    }

    #[test]
    fn options_from_json_are_validated_by_the_core() {
        let o = gateway_options_from_json(r#"{"toolBudget": 3, "restart_backoff_ms": 5}"#.into())
            .expect("valid");
        assert_eq!((o.tool_budget, o.restart_backoff_ms), (Some(3), Some(5)));
        let e = gateway_options_from_json(r#"{"toolBudget": "x"}"#.into()).expect_err("invalid");
        assert_eq!(e.code(), "CONFIG_INVALID");
        assert_eq!(e.field().as_deref(), Some("gateway.toolBudget"));
        let e = gateway_options_from_json(r#"{"nope": 1}"#.into()).expect_err("unknown");
        assert_eq!(e.code(), "CONFIG_INVALID");
    }

    #[test]
    fn health_crosses_in_the_cores_form() {
        let core = core::ServerHealth {
            name: "fx".into(),
            state: core::ServerState::Failed,
            tool_count: 0,
            last_error: Some("boom".into()),
            restart_in_ms: Some(250),
            restarts: 2,
        };
        let h = ServerHealth::from_core(&core).expect("crosses");
        assert_eq!(h.state, ServerState::Failed);
        assert_eq!(h.restart_in_ms, Some(250));
        let json: serde_json::Value = serde_json::from_str(&h.to_json()).expect("json");
        assert_eq!(json, serde_json::to_value(&core).expect("core json"));
    }
}
