//! The gateway: a corral's servers behind one authenticated Streamable-HTTP MCP endpoint.
//!
//! [`Corral::start_gateway`] binds `127.0.0.1` on a free port (unless told otherwise) and serves
//! MCP at `/mcp` in both protocol eras (2025-11-25 sessions with `Mcp-Session-Id`, DELETE and the
//! GET stream; stateless 2026-07-28 with `server/discover`), plus `GET /health` (up/down counts
//! only, no auth) and `GET /metrics` (Prometheus text, auth). Beside MCP, plain HTTP for other
//! clients: `POST /mcp/list_tools`, `POST /mcp/call_tool` (`{"name", "arguments"}`),
//! `POST /mcp/call_tool/<name>` and `GET /mcp/openapi.json` (OpenAPI 3.1), with the same token.
//!
//! **`mcp={…}`** ([`GatewayOptions::mcp`]): E2B's way to name servers — catalog names with their
//! keys, `github/<owner>/<repo>[#ref]` custom servers, server configs and `mcpServers`
//! documents, mixed (see [`crate::catalog`]). They are added to the corral (replacing servers of
//! the same name) and published; without `servers`, only they are published.
//!
//! **Upstreams.** Each published server runs once, in its own sandbox, with the runner's one warm
//! session, shared by every client of the gateway (a per-client mode may come later). A
//! supervisor task per server starts it (eagerly by default), watches it, and restarts it with
//! capped exponential backoff when it fails to start or dies; meanwhile its tools drop out of
//! `tools/list` and the others keep working (fail open). Every change of the published set is
//! announced with `notifications/tools/list_changed` (on 2025-11-25 sessions' GET streams and on
//! 2026-07-28 `subscriptions/listen` streams); an upstream's `prompts/list_changed` is relayed
//! the same way (prompts are listed live, so only the notification is passed on). A call to a tool of a server that is down is a
//! tool result with `isError: true` naming the server and the reason.
//!
//! **Names** are described in [`names`]; resources of several servers are published as
//! `corral://<server>/<original uri>`, prompts like tools. **Budget:** above
//! [`GatewayOptions::tool_budget`] published tools (a client may send the
//! `Corral-Tool-Budget: N` header), `tools/list` shows `search_tools` and `call_tool` instead
//! (see [`search`]). **Health:** the resource `corral://gateway/servers`.
//!
//! **E2B's own gateway** ([`GatewayOptions::e2b_gateway`], provider `e2b` only): instead of
//! serving locally, one sandbox from E2B's `mcp-gateway` template runs E2B's gateway over the
//! `mcp` config, created the way E2B's SDKs do for `Sandbox.create(mcp=…)`; the [`Gateway`]
//! then carries its URL (`https://50005-<sandboxID>.<domain>/mcp`) and token, `servers()` is
//! empty, and closing it kills the sandbox (see [`crate::sandbox::e2b::McpGateway`]).
//!
//! **Input from the client** (sampling, elicitation, roots; MRTR `input_required` in the
//! 2026-07-28 era) goes to the client whose call asked for it, never to another: the upstream
//! session is shared, so each forwarded request carries its client's capabilities in `_meta`;
//! an upstream's `input_required` passes through to a 2026-07-28 client and is fulfilled by the
//! gateway for a legacy one (it sends the requests to that client and retries the upstream).
//! See [`input`] for the era combinations and what is refused.
//!
//! **Auth:** a random 256-bit URL-safe token unless one is given; `Authorization: Bearer`
//! compared in constant time on every route but `/health`; credentials in the query string are
//! refused; Host and Origin are checked against DNS rebinding; bodies above 4 MiB get 413.

mod handler;
mod http;
mod input;
mod metrics;
pub mod names;
mod rest;
pub mod search;
mod tasks;

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rmcp::{model::Tool as McpTool, service::Peer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::{
    error::{Error, ErrorKind, Result},
    runner::{Corral, CorralOptions, ServerSession},
    sync::lock,
};

/// The health resource's URI.
pub const HEALTH_URI: &str = "corral://gateway/servers";
/// The request header a client may use to ask for another tool budget.
pub const BUDGET_HEADER: &str = "corral-tool-budget";
/// The two meta-tools published above the budget.
pub const SEARCH_TOOLS: &str = "search_tools";
/// See [`SEARCH_TOOLS`].
pub const CALL_TOOL: &str = "call_tool";

/// How to run a gateway. The canonical JSON form is camelCase; every field is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GatewayOptions {
    /// The servers to publish (names configured in the corral); unset: all of them.
    #[serde(alias = "server_names")]
    pub servers: Option<Vec<String>>,
    /// Address to bind. Default `127.0.0.1`.
    pub host: String,
    /// Port to bind; 0 (the default) picks a free one.
    pub port: u16,
    /// The bearer token; unset: a random one (256 bits, URL-safe).
    pub token: Option<String>,
    /// `false` serves without any token (only allowed on loopback addresses).
    pub auth: bool,
    /// Above this many published tools, `search_tools` + `call_tool` are published instead.
    #[serde(alias = "tool_budget")]
    pub tool_budget: usize,
    /// How long `tools/list` waits for servers still starting, in ms (default 3000).
    #[serde(alias = "discovery_deadline_ms")]
    pub discovery_deadline_ms: u64,
    /// Start every server when the gateway starts (default) rather than at the first request.
    pub eager: bool,
    /// Extra `Host` values accepted (names or `name:port`); loopback names always are.
    #[serde(alias = "allowed_hosts")]
    pub allowed_hosts: Vec<String>,
    /// Extra `Origin` values accepted (`scheme://host[:port]`); loopback origins always are.
    #[serde(alias = "allowed_origins")]
    pub allowed_origins: Vec<String>,
    /// Largest request body, in bytes (default 4 MiB; larger ones get 413).
    #[serde(alias = "max_body_bytes")]
    pub max_body_bytes: usize,
    /// First restart delay after a failure, in ms (default 500; doubles up to the cap).
    #[serde(alias = "restart_backoff_ms")]
    pub restart_backoff_ms: u64,
    /// Longest restart delay, in ms (default 30000).
    #[serde(alias = "restart_backoff_max_ms")]
    pub restart_backoff_max_ms: u64,
    /// Servers to add and publish, E2B style: `{"filesystem": {"paths": ["/data"]},
    /// "github": {"githubPersonalAccessToken": "…"}, "github/owner/repo": {"installCmd": "…",
    /// "runCmd": "…"}, "mine": {"command": "…"}, "mcpServers": {…}}` (`corral catalog list`).
    /// Unknown servers or keys and missing required keys are `CONFIG_INVALID` naming them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp: Option<serde_json::Map<String, Value>>,
    /// Where `github/<owner>/<repo>` servers of `mcp` are cloned from: a URL base or a local
    /// directory (unset: `CORRAL_GIT_BASE`, else `https://github.com`).
    #[serde(alias = "git_base", skip_serializing_if = "Option::is_none")]
    pub git_base: Option<String>,
    /// Run `mcp` in E2B's own gateway (one `mcp-gateway`-template sandbox, as E2B's SDKs do)
    /// instead of corral's gateway in front of one E2B sandbox per server. Needs provider
    /// `e2b` and `mcp`; only `mcp` and `token` apply (anything else is `CONFIG_INVALID`).
    #[serde(alias = "e2b_gateway", skip_serializing_if = "std::ops::Not::not")]
    pub e2b_gateway: bool,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            servers: None,
            host: "127.0.0.1".into(),
            port: 0,
            token: None,
            auth: true,
            tool_budget: 64,
            discovery_deadline_ms: 3000,
            eager: true,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_body_bytes: 4 * 1024 * 1024,
            restart_backoff_ms: 500,
            restart_backoff_max_ms: 30_000,
            mcp: None,
            git_base: None,
            e2b_gateway: false,
        }
    }
}

/// The state of one upstream server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
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

/// One server's health, as `servers()` and the health resource report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerHealth {
    /// The server's name.
    pub name: String,
    /// Its state.
    pub state: ServerState,
    /// How many of its tools are published (0 unless ready).
    pub tool_count: usize,
    /// The last failure, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When failed: milliseconds until the next restart attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_in_ms: Option<u64>,
    /// How many times it was (re)started after the first start.
    pub restarts: u32,
}

struct Upstream {
    state: ServerState,
    tools: Vec<McpTool>,
    last_error: Option<String>,
    retry_at: Option<Instant>,
    restarts: u32,
}

/// What `tools/list` publishes, rebuilt on every change.
#[derive(Default)]
struct Catalog {
    tools: Vec<McpTool>,
    routes: HashMap<String, (String, String)>,
    docs: Vec<search::Doc>,
}

/// A call in flight that wants the server's log messages (and its own progress).
type Forward = tokio::sync::mpsc::UnboundedSender<handler::Forwarded>;

pub(crate) struct State {
    corral: Corral,
    options: GatewayOptions,
    servers: Vec<String>,
    prefixed: bool,
    upstreams: Mutex<BTreeMap<String, Upstream>>,
    catalog: Mutex<Arc<Catalog>>,
    /// Every route ever published (so a call to a tool of a server that went down still
    /// reaches a helpful error rather than "unknown tool").
    known_routes: Mutex<HashMap<String, (String, String)>>,
    /// Bumped on every state change (for the discovery wait).
    changed: tokio::sync::watch::Sender<u64>,
    /// Fires when the published tool set changes.
    list_changed: tokio::sync::broadcast::Sender<ListChange>,
    /// Legacy-era client sessions (for `notifications/tools/list_changed`).
    peers: Mutex<Vec<Peer<rmcp::RoleServer>>>,
    /// Calls in flight per server, which receive the server's log messages.
    log_routes: Mutex<HashMap<String, Vec<(u64, Forward)>>>,
    next_call: std::sync::atomic::AtomicU64,
    metrics: metrics::Metrics,
    started: std::sync::atomic::AtomicBool,
    shutdown: CancellationToken,
    supervisors: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The HTTP server's task (taken by the first close).
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A running gateway. [`Gateway::close`] stops serving (the servers keep running in the
/// corral until it closes); dropping it does the same, without waiting.
pub struct Gateway {
    url: String,
    token: String,
    addr: SocketAddr,
    state: Arc<State>,
    /// The E2B `mcp-gateway` sandbox, when [`GatewayOptions::e2b_gateway`].
    e2b: Option<crate::sandbox::e2b::McpGateway>,
    /// The corral this gateway owns ([`start_gateway`]), closed with it.
    owned: Option<Corral>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("url", &self.url)
            .field("servers", &self.state.servers)
            .finish_non_exhaustive()
    }
}

fn random_token() -> Result<String> {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::new(ErrorKind::Io, format!("no randomness for the token: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Corral {
    /// Publishes this corral's servers (all, or `options.servers`) behind one authenticated
    /// Streamable-HTTP MCP endpoint. See the [`gateway`](crate::gateway) module.
    pub async fn start_gateway(&self, options: GatewayOptions) -> Result<Gateway> {
        Gateway::start(self.clone(), options).await
    }
}

/// Starts a gateway on a corral of its own (`options` as for [`Corral::with_options`]):
/// E2B's `Sandbox.create(mcp={…})` in one call. Closing (or dropping) the gateway closes that
/// corral and every server it started.
pub async fn start_gateway(corral: CorralOptions, options: GatewayOptions) -> Result<Gateway> {
    let corral = Corral::with_options(corral)?;
    match Gateway::start(corral.clone(), options).await {
        Ok(mut gateway) => {
            gateway.owned = Some(corral);
            Ok(gateway)
        }
        Err(e) => {
            corral.close().await;
            Err(e)
        }
    }
}

impl Gateway {
    async fn start(corral: Corral, options: GatewayOptions) -> Result<Self> {
        if options.e2b_gateway {
            return Self::start_e2b(corral, options).await;
        }
        // Upstream sessions declare what the gateway relays (see `input`).
        corral.enable_input_relay();
        // The `mcp` servers are resolved (validated) first and added once every other option
        // checked out and the port is bound.
        let mut to_add = Vec::new();
        if let Some(mcp) = &options.mcp {
            let templates = if corral.provider_name() == "local" {
                corral.list_templates()
            } else {
                Vec::new()
            };
            let base = options
                .git_base
                .clone()
                .unwrap_or_else(crate::catalog::git_base);
            to_add = crate::catalog::resolve_mcp(mcp, &templates, &base)?;
        }
        let mut from_mcp: Vec<String> = to_add.iter().map(|c| c.name.clone()).collect();
        let mut configured: Vec<String> =
            corral.list_servers().into_iter().map(|s| s.name).collect();
        configured.extend(from_mcp.iter().cloned());
        let servers = match &options.servers {
            None if options.mcp.is_some() => {
                from_mcp.sort();
                from_mcp
            }
            None => configured,
            Some(names) => {
                for n in names {
                    if !configured.contains(n) {
                        return Err(Error::new(
                            ErrorKind::ServerNotFound,
                            format!("no server named `{n}` is configured"),
                        ));
                    }
                }
                let mut n = names.clone();
                n.extend(from_mcp);
                n.sort();
                n.dedup();
                n
            }
        };
        let token = match (&options.token, options.auth) {
            (_, false) => String::new(),
            (Some(t), true) => {
                if t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(Error::new(
                        ErrorKind::ConfigInvalid,
                        "gateway.token must be at least 16 printable ASCII characters",
                    ));
                }
                t.clone()
            }
            (None, true) => random_token()?,
        };
        if !options.auth && !is_loopback_host(&options.host) {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "gateway.auth: refusing to serve {} without a token (only loopback addresses may go without one)",
                    options.host
                ),
            ));
        }
        if options.tool_budget < 2 {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                "gateway.toolBudget must be at least 2",
            ));
        }
        let ip: std::net::IpAddr = if options.host.eq_ignore_ascii_case("localhost") {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            options
                .host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|e| Error::new(ErrorKind::ConfigInvalid, format!("gateway.host: {e}")))?
        };
        let listener = tokio::net::TcpListener::bind((ip, options.port))
            .await
            .map_err(|e| Error::io(format!("cannot bind {ip}:{}", options.port), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("local address", e))?;
        for c in to_add {
            corral.add_server(c).await?;
        }
        let state = State::new(corral, options, servers);
        if state.options.eager {
            state.ensure_started();
        }
        let app = http::router(state.clone(), &token, addr);
        let shutdown = state.shutdown.clone();
        let server = tokio::spawn(async move {
            use axum::serve::ListenerExt as _;
            // Responses go out in several writes (headers, SSE events): without TCP_NODELAY,
            // Nagle's algorithm and the client's delayed ACK add ~40 ms to a call.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                shutdown.cancelled().await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "gateway server stopped");
            }
        });
        let host = match ip {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            std::net::IpAddr::V4(v4) => v4.to_string(),
        };
        let url = format!("http://{host}:{}/mcp", addr.port());
        *lock(&state.server) = Some(server);
        // Closed with the corral, too (a corral closed meanwhile closes it right away).
        state.corral.register_gateway(Arc::downgrade(&state));
        if state.corral.is_closed() {
            state.close().await;
            return Err(Error::closed());
        }
        tracing::info!(url = %url, servers = ?state.servers, "gateway listening");
        Ok(Self {
            url,
            token,
            addr,
            state,
            e2b: None,
            owned: None,
        })
    }

    /// [`GatewayOptions::e2b_gateway`]: E2B's own gateway in one `mcp-gateway` sandbox.
    async fn start_e2b(corral: Corral, options: GatewayOptions) -> Result<Self> {
        let invalid = |m: String| Error::config("gateway.e2bGateway", m);
        let Some(provider) = corral.provider().as_e2b() else {
            return Err(invalid(format!(
                "E2B's own gateway needs provider `e2b` (this corral's is `{}`)",
                corral.provider_name()
            )));
        };
        let Some(mcp) = options.mcp.as_ref().filter(|m| !m.is_empty()) else {
            return Err(invalid(
                "E2B's own gateway needs `mcp` (the servers it runs)".into(),
            ));
        };
        // Only `mcp` and `token` mean something to E2B's gateway: refuse the rest rather
        // than ignore it.
        let given = serde_json::to_value(&options).unwrap_or(Value::Null);
        let default = serde_json::to_value(GatewayOptions::default()).unwrap_or(Value::Null);
        let mut others: Vec<&str> = given
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| {
                !matches!(k.as_str(), "mcp" | "token" | "e2bGateway") && default.get(*k) != Some(*v)
            })
            .map(|(k, _)| k.as_str())
            .collect();
        others.sort_unstable();
        if !others.is_empty() {
            return Err(invalid(format!(
                "with E2B's own gateway only `mcp` and `token` apply; remove {}",
                others.join(", ")
            )));
        }
        if let Some(t) = &options.token
            && (t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                "gateway.token must be at least 16 printable ASCII characters",
            ));
        }
        let remote = provider
            .start_mcp_gateway(mcp, options.token.clone())
            .await?;
        let state = State::new(corral, options, Vec::new());
        Ok(Self {
            url: remote.url().to_owned(),
            token: remote.token().to_owned(),
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            state,
            e2b: Some(remote),
            owned: None,
        })
    }

    /// The MCP endpoint, e.g. `http://127.0.0.1:41234/mcp`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bearer token (empty when auth is off).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Headers a client must send besides `Authorization`: none, except for an E2B gateway
    /// reached through one `E2B_SANDBOX_URL` (the routing headers `E2b-Sandbox-Id` and
    /// `E2b-Sandbox-Port`).
    pub fn headers(&self) -> &[(String, String)] {
        self.e2b.as_ref().map_or(&[], |g| g.headers())
    }

    /// The bound address (`0.0.0.0:0` for E2B's own gateway, which listens in E2B's cloud).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Each published server's health.
    pub fn servers(&self) -> Vec<ServerHealth> {
        self.state.health()
    }

    /// Waits until no server is starting any more (ready or failed), or `timeout` passes.
    /// Returns whether that happened.
    pub async fn wait_settled(&self, timeout: Duration) -> bool {
        self.state.ensure_started();
        self.state.wait_settled(Instant::now() + timeout).await
    }

    /// Stops serving and the supervisors. The corral's servers keep running until
    /// [`Corral::close`] (which closes its gateways too), unless the gateway owns its corral
    /// ([`start_gateway`]): then that closes too. Idempotent.
    pub async fn close(&self) {
        if let Some(e2b) = &self.e2b {
            e2b.close().await;
        }
        self.state.close().await;
        if let Some(corral) = &self.owned {
            corral.close().await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
        let server = lock(&self.state.server).take();
        if let Some(s) = server {
            s.abort();
        }
        self.state.stop_supervisors();
    }
}

impl State {
    fn new(corral: Corral, options: GatewayOptions, servers: Vec<String>) -> Arc<Self> {
        let upstreams = servers
            .iter()
            .map(|s| {
                (
                    s.clone(),
                    Upstream {
                        state: ServerState::Starting,
                        tools: Vec::new(),
                        last_error: None,
                        retry_at: None,
                        restarts: 0,
                    },
                )
            })
            .collect();
        Arc::new(Self {
            corral,
            prefixed: servers.len() > 1,
            servers,
            upstreams: Mutex::new(upstreams),
            catalog: Mutex::new(Arc::new(Catalog::default())),
            known_routes: Mutex::new(HashMap::new()),
            changed: tokio::sync::watch::channel(0).0,
            list_changed: tokio::sync::broadcast::channel(64).0,
            peers: Mutex::new(Vec::new()),
            log_routes: Mutex::new(HashMap::new()),
            next_call: 0.into(),
            metrics: metrics::Metrics::default(),
            started: false.into(),
            shutdown: CancellationToken::new(),
            supervisors: Mutex::new(Vec::new()),
            server: Mutex::new(None),
            options,
        })
    }

    fn ensure_started(self: &Arc<Self>) {
        if self.started.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let mut sups = Vec::new();
        for name in &self.servers {
            let state = Arc::downgrade(self);
            let name = name.clone();
            let shutdown = self.shutdown.clone();
            sups.push(tokio::spawn(async move {
                tokio::select! {
                    () = supervise(state, name) => {}
                    () = shutdown.cancelled() => {}
                }
            }));
        }
        lock(&self.supervisors).extend(sups);
    }

    /// Stops serving (open SSE streams get 2 s) and the supervisors. Idempotent.
    pub(crate) async fn close(&self) {
        self.shutdown.cancel();
        let server = lock(&self.server).take();
        if let Some(mut server) = server
            && tokio::time::timeout(Duration::from_secs(2), &mut server)
                .await
                .is_err()
        {
            // Open SSE streams would hold a graceful shutdown forever.
            tracing::debug!("gateway connections did not close in time");
            server.abort();
        }
        self.stop_supervisors();
    }

    fn stop_supervisors(&self) {
        for h in lock(&self.supervisors).drain(..) {
            h.abort();
        }
    }

    fn health(&self) -> Vec<ServerHealth> {
        let now = Instant::now();
        lock(&self.upstreams)
            .iter()
            .map(|(name, u)| ServerHealth {
                name: name.clone(),
                state: u.state,
                tool_count: u.tools.len(),
                last_error: u.last_error.clone(),
                restart_in_ms: u
                    .retry_at
                    .filter(|_| u.state == ServerState::Failed)
                    .map(|t| t.saturating_duration_since(now).as_millis() as u64),
                restarts: u.restarts,
            })
            .collect()
    }

    fn counts(&self) -> (usize, usize) {
        let h = self.health();
        let up = h.iter().filter(|s| s.state == ServerState::Ready).count();
        (up, h.len() - up)
    }

    /// Changes a server's state and republishes the catalog, under one lock: whoever sees
    /// the new state (the discovery wait) sees the catalog built from it.
    fn set_state(&self, server: &str, f: impl FnOnce(&mut Upstream)) {
        let changed = {
            let mut ups = lock(&self.upstreams);
            if let Some(u) = ups.get_mut(server) {
                f(u);
            }
            self.republish(&ups)
        };
        if changed {
            self.announce_tools_changed();
        }
        self.changed.send_modify(|g| *g += 1);
    }

    fn upstream_state(&self, server: &str) -> Option<(ServerState, Option<String>, Option<u64>)> {
        let now = Instant::now();
        let ups = lock(&self.upstreams);
        let u = ups.get(server)?;
        Some((
            u.state,
            u.last_error.clone(),
            u.retry_at
                .map(|t| t.saturating_duration_since(now).as_millis() as u64),
        ))
    }

    /// Rebuilds the catalog from the ready servers (`ups`, locked by the caller, so that two
    /// servers becoming ready at once cannot store their catalogs in the reverse order of
    /// their reads); returns whether the published tools changed.
    fn republish(&self, ups: &BTreeMap<String, Upstream>) -> bool {
        let mut items = Vec::new();
        let mut tools = Vec::new();
        for (name, u) in ups.iter() {
            if u.state != ServerState::Ready {
                continue;
            }
            for t in &u.tools {
                items.push((name.clone(), t.name.to_string()));
                tools.push(t.clone());
            }
        }
        let names = names::assign(&items, self.prefixed);
        let mut catalog = Catalog::default();
        for ((published, (server, upstream)), mut tool) in names.into_iter().zip(items).zip(tools) {
            tool.name = published.clone().into();
            // The upstream name stays searchable too.
            let json = merge_name(
                serde_json::to_value(&tool).unwrap_or(Value::Null),
                &upstream,
            );
            catalog.docs.push(search::Doc::new(&published, &json));
            catalog.routes.insert(published, (server, upstream));
            catalog.tools.push(tool);
        }
        let mut known = lock(&self.known_routes);
        for (k, v) in &catalog.routes {
            known.insert(k.clone(), v.clone());
        }
        drop(known);
        let mut cur = lock(&self.catalog);
        let same = cur.tools == catalog.tools;
        *cur = Arc::new(catalog);
        !same
    }

    fn announce_tools_changed(&self) {
        self.announce(ListChange::Tools);
    }

    /// Tells every client that a published list changed: listen streams (2026-07-28) through
    /// the broadcast, legacy sessions by a notification each.
    fn announce(&self, change: ListChange) {
        let _ = self.list_changed.send(change);
        let peers: Vec<_> = {
            let mut p = lock(&self.peers);
            p.retain(|peer| !peer.is_transport_closed());
            p.clone()
        };
        for peer in peers {
            tokio::spawn(async move {
                let _ = match change {
                    ListChange::Tools => peer.notify_tool_list_changed().await,
                    ListChange::Prompts => peer.notify_prompt_list_changed().await,
                };
            });
        }
    }

    fn catalog(&self) -> Arc<Catalog> {
        lock(&self.catalog).clone()
    }

    fn any_starting(&self, deadline: Instant) -> bool {
        // A start in progress, first or a restart, is worth waiting for within the discovery
        // deadline; so is the one retry of a server whose very first start failed (a slow
        // machine), if it comes before the deadline. A server further into its backoff is not:
        // the others are listed without it.
        lock(&self.upstreams).values().any(|u| match u.state {
            ServerState::Starting | ServerState::Restarting => true,
            ServerState::Failed => u.restarts == 0 && u.retry_at.is_some_and(|at| at < deadline),
            ServerState::Ready => false,
        })
    }

    async fn wait_settled(&self, deadline: Instant) -> bool {
        let mut rx = self.changed.subscribe();
        loop {
            if !self.any_starting(deadline) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            if tokio::time::timeout(left, rx.changed()).await.is_err() {
                return !self.any_starting(deadline);
            }
        }
    }

    fn log_callback(self: &Arc<Self>, server: &str) -> crate::mcp::LogCallback {
        let weak = Arc::downgrade(self);
        let server = server.to_owned();
        let chained = self.corral.log_callback();
        Arc::new(move |msg: crate::tool::LogMessage| {
            if let Some(state) = weak.upgrade()
                && let routes = lock(&state.log_routes)
                && let Some(calls) = routes.get(&server)
            {
                for (_, tx) in calls {
                    let _ = tx.send(handler::Forwarded::Log(msg.clone()));
                }
            }
            if let Some(cb) = &chained {
                cb(msg);
            }
        })
    }
}

/// The search document of a renamed tool also knows its upstream name.
fn merge_name(mut json: Value, upstream: &str) -> Value {
    if let Some(o) = json.as_object_mut() {
        o.insert("name".into(), Value::String(upstream.to_owned()));
    }
    json
}

/// How often a supervisor looks at its server (liveness, upstream list changes).
/// Which published list changed (for `list_changed` notifications).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ListChange {
    Tools,
    Prompts,
}

const WATCH_EVERY: Duration = Duration::from_millis(100);

/// Starts, watches and restarts one server for as long as the gateway lives.
async fn supervise(state: std::sync::Weak<State>, name: String) {
    let mut backoff: Option<Duration> = None;
    let mut first = true;
    loop {
        let Some(st) = state.upgrade() else { return };
        if !first {
            st.set_state(&name, |u| {
                u.state = ServerState::Restarting;
                u.retry_at = None;
                u.restarts += 1;
            });
        }
        first = false;
        let started = async {
            let mut session = st.corral.session(&name).await?;
            if session.mcp().lacks_input_capabilities() {
                // Opened before the gateway (by a direct call): its handshake declared no
                // sampling, elicitation or roots, so its server would never ask; once restarted
                // it declares them (see `input`).
                tracing::info!(server = %name, "restarting a session opened before the gateway, to declare input capabilities");
                session = session.restart().await?;
            }
            session.mcp().set_log_callback(Some(st.log_callback(&name)));
            session
                .mcp()
                .set_input_callback(Some(st.input_callback(&name)));
            let tools = list_permitted(&session).await?;
            Ok::<_, Error>((session, tools))
        }
        .await;
        match started {
            Ok((session, tools)) => {
                backoff = None;
                tracing::info!(server = %name, tools = tools.len(), "gateway upstream ready");
                st.set_state(&name, |u| {
                    u.state = ServerState::Ready;
                    u.tools = tools;
                    u.retry_at = None;
                });
                drop(st);
                watch(&state, &name, session).await;
                let Some(st) = state.upgrade() else { return };
                let reason = "the server stopped; restarting".to_owned();
                tracing::warn!(server = %name, "gateway upstream died, restarting");
                st.set_state(&name, |u| {
                    u.state = ServerState::Restarting;
                    u.tools.clear();
                    u.last_error = Some(reason);
                    u.restarts += 1;
                });
                // Restart at once; back off only if that fails.
                first = true;
            }
            Err(e) => {
                let delay = backoff
                    .map_or(Duration::from_millis(st.options.restart_backoff_ms), |d| {
                        (d * 2).min(Duration::from_millis(st.options.restart_backoff_max_ms))
                    });
                backoff = Some(delay);
                tracing::warn!(
                    server = %name,
                    kind = %e.kind(),
                    error = %e.message(),
                    retry_in_ms = delay.as_millis() as u64,
                    "gateway upstream failed"
                );
                st.set_state(&name, |u| {
                    u.state = ServerState::Failed;
                    u.tools.clear();
                    u.last_error = Some(format!("{}: {}", e.kind(), e.message()));
                    u.retry_at = Some(Instant::now() + delay);
                });
                drop(st);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

async fn list_permitted(session: &ServerSession) -> Result<Vec<McpTool>> {
    let mut tools = session.mcp().list_tools_mcp().await?;
    let filter = &session.config().tools;
    tools.retain(|t| filter.permits(&t.name));
    Ok(tools)
}

/// Returns when the server's session dies; republishes on upstream list changes meanwhile.
async fn watch(state: &std::sync::Weak<State>, name: &str, session: ServerSession) {
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Some(st) = state.upgrade() else { return };
        if !session.mcp().is_alive() {
            return;
        }
        if session.mcp().tools_changed()
            && let Ok(tools) = list_permitted(&session).await
        {
            st.set_state(name, |u| u.tools = tools);
        }
        // Prompts are listed live (fanned out per request), so a change is only relayed.
        if session.mcp().take_prompts_changed() {
            st.announce(ListChange::Prompts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_camel_case_and_accept_snake_case() {
        let o: GatewayOptions = serde_json::from_value(
            serde_json::json!({"toolBudget": 10, "discovery_deadline_ms": 5}),
        )
        .expect("options");
        assert_eq!(o.tool_budget, 10);
        assert_eq!(o.discovery_deadline_ms, 5);
        assert_eq!(o.host, "127.0.0.1");
        assert!(serde_json::from_value::<GatewayOptions>(serde_json::json!({"nope": 1})).is_err());
        let v = serde_json::to_value(GatewayOptions::default()).expect("json");
        assert!(v.get("maxBodyBytes").is_some() && v.get("max_body_bytes").is_none());
        let h = ServerHealth {
            name: "a".into(),
            state: ServerState::Failed,
            tool_count: 0,
            last_error: Some("x".into()),
            restart_in_ms: Some(500),
            restarts: 1,
        };
        let v = serde_json::to_value(&h).expect("json");
        assert_eq!(v["state"], "failed");
        assert_eq!(v["restartInMs"], 500);
        assert_eq!(v["toolCount"], 0);
    }

    /// Servers becoming ready at the same moment: the catalog always ends up built from the
    /// final states (each state change and its catalog are published under one lock).
    #[test]
    fn concurrent_state_changes_leave_a_complete_catalog() {
        let names: Vec<String> = (0..8).map(|i| format!("s{i}")).collect();
        for _round in 0..100 {
            let corral = Corral::new().expect("corral");
            let state = State::new(corral, GatewayOptions::default(), names.clone());
            std::thread::scope(|scope| {
                for name in &names {
                    let state = &state;
                    scope.spawn(move || {
                        let tool: McpTool = serde_json::from_value(serde_json::json!({
                            "name": "echo", "inputSchema": {"type": "object"}
                        }))
                        .expect("tool");
                        state.set_state(name, |u| {
                            u.state = ServerState::Ready;
                            u.tools = vec![tool];
                        });
                    });
                }
            });
            let catalog = state.catalog();
            assert_eq!(catalog.tools.len(), names.len(), "every server's tool");
            assert_eq!(catalog.routes.len(), names.len());
        }
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token().expect("token");
        let b = random_token().expect("token");
        assert_ne!(a, b);
        assert!(a.len() >= 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
