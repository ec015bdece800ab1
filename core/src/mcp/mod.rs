//! An MCP client session over any [`Process`]'s stdio or over Streamable HTTP, built on rmcp.
//!
//! Speaks both protocol eras: it probes `server/discover` (2026-07-28) and falls back to
//! `initialize` (2025-11-25 and older). Progress and log notifications reach caller callbacks;
//! a call's timeout is extended while progress arrives; a caller that gives up sends
//! `notifications/cancelled`. A server that writes anything but JSON-RPC to stdout breaks the
//! session with a `PROTOCOL` error; one that exits fails in-flight calls with `SERVER_CRASHED`,
//! both with the tail of its stderr attached.
//!
//! Input for the server (sampling, elicitation, roots): its requests go to the session's input
//! callback, which only the gateway sets (it relays them to its client), else they get a
//! JSON-RPC error; the capabilities are declared only for sessions a gateway will serve
//! ([`SessionOptions::relay_input`]). An MRTR `input_required` answer (2026-07-28) reaches the
//! gateway as it is; elsewhere ([`Session::call_tool`], the bindings) it is a clean `PROTOCOL`
//! error, the session intact.

#![allow(deprecated)] // rmcp marks the logging types deprecated (SEP-2577); legacy servers use them

mod guard;
mod notes;
mod probe;
mod sse;
mod stderr;
mod wire;

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient,
    model::{
        CallToolRequest, CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig,
        ClientRequest, GetPromptRequestParams, Implementation, ProgressNotificationParam,
        ProgressToken, ProtocolVersion, ReadResourceRequestParams, ServerResult,
    },
    service::{NotificationContext, Peer, PeerRequestOptions, RunningService, ServiceError},
};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

pub use self::stderr::StderrTail;
use self::{guard::StdoutGuard, stderr::spawn_stderr_reader};
use crate::{
    error::{Error, ErrorKind, Result},
    sandbox::{Process, ProcessControl},
    sync::lock,
    tool::{
        LogMessage, Progress, Prompt, PromptResult, Resource, ResourceContents, Tool, ToolResult,
    },
};

/// Called with each progress report of a call.
pub type ProgressCallback = Arc<dyn Fn(Progress) + Send + Sync>;
/// Called with each log message of a server.
pub type LogCallback = Arc<dyn Fn(LogMessage) + Send + Sync>;
/// Answers a server's request for input (sampling, elicitation, roots) on a legacy-era
/// session: the gateway relays it to the client whose call is in flight.
pub(crate) type InputCallback = Arc<
    dyn Fn(
            rmcp::model::ServerRequest,
        ) -> futures::future::BoxFuture<
            'static,
            std::result::Result<rmcp::model::ClientResult, rmcp::ErrorData>,
        > + Send
        + Sync,
>;

/// Options of one call. Its data crosses as `{"timeoutMs"?, "maxTotalMs"?}` (checked: > 0 and
/// at most [`MAX_TIMEOUT`](crate::config::MAX_TIMEOUT), else `INVALID_ARGUMENT`); the callback
/// and the token are not data.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallOptions {
    /// Overrides the server's per-call timeout (extended while progress arrives).
    #[serde(
        rename = "timeoutMs",
        alias = "timeout_ms",
        default,
        with = "crate::config::millis_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// Hard cap on the call however much progress arrives (default: 10 × the timeout).
    #[serde(
        rename = "maxTotalMs",
        alias = "max_total_ms",
        default,
        with = "crate::config::millis_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_total: Option<Duration>,
    /// Receives progress notifications of this call.
    #[serde(skip)]
    pub on_progress: Option<ProgressCallback>,
    /// Cancels the call (sends `notifications/cancelled`) when triggered.
    #[serde(skip)]
    pub cancel: Option<CancellationToken>,
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field("timeout", &self.timeout)
            .field("on_progress", &self.on_progress.is_some())
            .finish_non_exhaustive()
    }
}

/// How to open a session.
#[derive(Clone)]
pub struct SessionOptions {
    /// The server's name (for messages and log records).
    pub server: String,
    /// Default per-call timeout.
    pub call_timeout: Duration,
    /// Limit for the handshake.
    pub start_timeout: Duration,
    /// Receives the server's log messages.
    pub on_log: Option<LogCallback>,
    /// Declare sampling, elicitation and roots at the handshake, for a gateway to relay the
    /// server's requests for them to its clients (see [`Session::set_input_callback`]).
    pub relay_input: bool,
    /// Open with `server/discover` alone (2026-07-28), waiting up to `start_timeout`, instead
    /// of probing for 10 s and falling back to `initialize`: for a server known to be of the
    /// new era only (the runner's second try of one that answered the probe late).
    pub discover_only: bool,
}

impl SessionOptions {
    /// Defaults for a server name.
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            call_timeout: crate::config::DEFAULT_CALL_TIMEOUT,
            start_timeout: Duration::from_secs(60),
            on_log: None,
            relay_input: false,
            discover_only: false,
        }
    }
}

/// State shared between the session, its notification handler and its delivery task.
struct Shared {
    server: String,
    progress: Mutex<ProgressRoutes>,
    on_log: Mutex<Option<LogCallback>>,
    tools_changed: AtomicBool,
    prompts_changed: AtomicBool,
    delivery: notes::Delivery,
    relay_input: bool,
    input: Mutex<Option<InputCallback>>,
}

/// Where progress reports go: the calls in flight by progress token, and the few reports that
/// came before their call had registered (rmcp picks the token as it sends the request).
#[derive(Default)]
struct ProgressRoutes {
    calls: HashMap<ProgressToken, Arc<CallWatch>>,
    early: VecDeque<ProgressNotificationParam>,
}

/// Most reports kept for a call that has not registered yet.
const EARLY_PROGRESS: usize = 32;

impl Shared {
    /// Hands one notification to its callback (on the session's delivery task, in order).
    fn deliver(&self, note: notes::Note) {
        match note {
            notes::Note::Progress(params) => {
                let watch = {
                    let mut routes = lock(&self.progress);
                    let watch = routes.calls.get(&params.progress_token).cloned();
                    if watch.is_none() {
                        if routes.early.len() >= EARLY_PROGRESS {
                            routes.early.pop_front();
                        }
                        routes.early.push_back(params.clone());
                    }
                    watch
                };
                if let Some(watch) = watch {
                    watch.report(params);
                }
            }
            notes::Note::Log(params) => {
                let callback = lock(&self.on_log).clone();
                if let Some(cb) = callback {
                    let level = serde_json::to_value(params.level)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| "info".into());
                    cb(LogMessage {
                        server: self.server.clone(),
                        level,
                        logger: params.logger,
                        data: params.data,
                    });
                }
            }
        }
    }

    /// Routes a call's progress reports to `watch`, delivering any that came first.
    fn register(&self, token: &ProgressToken, watch: &Arc<CallWatch>) {
        let early: Vec<ProgressNotificationParam> = {
            let mut routes = lock(&self.progress);
            routes.calls.insert(token.clone(), watch.clone());
            if routes.early.is_empty() {
                Vec::new()
            } else {
                let (mine, others) = std::mem::take(&mut routes.early)
                    .into_iter()
                    .partition(|p| p.progress_token == *token);
                routes.early = others;
                mine.into()
            }
        };
        for params in early {
            watch.report(params);
        }
    }
}

#[derive(Clone)]
struct Handler(Arc<Shared>);

impl Handler {
    /// Hands a server's request for input to the session's input callback. Without one
    /// (outside the gateway) corral has nobody to ask: a clean JSON-RPC error.
    async fn relay(
        &self,
        request: rmcp::model::ServerRequest,
    ) -> std::result::Result<rmcp::model::ClientResult, rmcp::ErrorData> {
        let callback = lock(&self.0.input).clone();
        match callback {
            Some(cb) => cb(request).await,
            None => Err(rmcp::ErrorData::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                "corral has no user or model to ask (sampling, elicitation and roots are relayed only through its gateway)",
                None,
            )),
        }
    }
}

fn unexpected_answer() -> rmcp::ErrorData {
    rmcp::ErrorData::internal_error("the client answered with another kind of result", None)
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        let capabilities = if self.0.relay_input {
            serde_json::from_value(serde_json::json!({
                "sampling": {}, "elicitation": {"form": {}, "url": {}}, "roots": {}
            }))
            .unwrap_or_default()
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(
            capabilities,
            Implementation::new("corral", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn create_message(
        &self,
        params: rmcp::model::CreateMessageRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> std::result::Result<rmcp::model::CreateMessageResult, rmcp::ErrorData> {
        let request = rmcp::model::ServerRequest::CreateMessageRequest(
            rmcp::model::CreateMessageRequest::new(params),
        );
        match self.relay(request).await? {
            rmcp::model::ClientResult::CreateMessageResult(r) => Ok(*r),
            _ => Err(unexpected_answer()),
        }
    }

    async fn create_elicitation(
        &self,
        params: rmcp::model::ElicitRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> std::result::Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        let request =
            rmcp::model::ServerRequest::ElicitRequest(rmcp::model::ElicitRequest::new(params));
        match self.relay(request).await? {
            rmcp::model::ClientResult::ElicitResult(r) => Ok(r),
            _ => Err(unexpected_answer()),
        }
    }

    async fn list_roots(
        &self,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> std::result::Result<rmcp::model::ListRootsResult, rmcp::ErrorData> {
        let request = rmcp::model::ServerRequest::ListRootsRequest(Default::default());
        match self.relay(request).await? {
            rmcp::model::ClientResult::ListRootsResult(r) => Ok(r),
            _ => Err(unexpected_answer()),
        }
    }

    // Progress and log notifications never reach here: the transport takes them off the
    // wire and delivers them in order (see `notes`).

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.0.tools_changed.store(true, Ordering::SeqCst);
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.0.prompts_changed.store(true, Ordering::SeqCst);
    }
}

/// A live MCP session with one server.
pub struct Session {
    shared: Arc<Shared>,
    peer: Peer<RoleClient>,
    service: tokio::sync::Mutex<Option<RunningService<RoleClient, Handler>>>,
    process: Option<Arc<dyn ProcessControl>>,
    stderr: StderrTail,
    violation: Arc<Mutex<Option<String>>>,
    call_timeout: Duration,
    protocol_version: String,
    remote: bool,
    closed: AtomicBool,
    stop_reason: Mutex<Option<String>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.shared.server)
            .field("protocol_version", &self.protocol_version)
            .finish_non_exhaustive()
    }
}

/// How long a legacy HTTP+SSE server may take to send its `endpoint` event.
const SSE_ENDPOINT_WAIT: Duration = Duration::from_secs(10);

fn lifecycle(discover_only: bool) -> ClientLifecycleMode {
    let preferred_versions = vec![ProtocolVersion::V_2026_07_28];
    if discover_only {
        return ClientLifecycleMode::Discover { preferred_versions };
    }
    ClientLifecycleMode::Auto {
        preferred_versions,
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    }
}

/// Whether a failed start was a slow server of the 2026-07-28 era only, which answered the
/// discover probe after rmcp had fallen back to `initialize` (see [`probe`]): started again
/// with [`SessionOptions::discover_only`], it gets through.
pub(crate) fn answered_discover_late(e: &Error) -> bool {
    std::error::Error::source(e).is_some_and(|s| s.is::<probe::LateDiscover>())
}

impl Session {
    /// Speaks MCP over a process's stdio (the process is killed when the session closes).
    pub async fn over_process(process: Process, options: SessionOptions) -> Result<Self> {
        let Process {
            stdin,
            stdout,
            stderr,
            control,
        } = process;
        let stderr_tail = spawn_stderr_reader(stderr, options.server.clone());
        let violation = Arc::new(Mutex::new(None));
        let late_modern = Arc::new(AtomicBool::new(false));
        let reader = StdoutGuard::new(stdout, violation.clone());
        let shared = new_shared(&options);
        let handler = Handler(shared.clone());
        let transport = notes::Ordered::new(
            probe::ProbeFilter::new(wire::Stdio::new(reader, stdin), late_modern.clone()),
            shared.clone(),
        );
        let start = handler.serve_with_lifecycle(transport, lifecycle(options.discover_only));
        let exited = control.wait();
        let outcome = tokio::select! {
            r = start => Some(r),
            _ = exited => None,
            _ = tokio::time::sleep(options.start_timeout) => {
                control.kill();
                return Err(Error::new(
                    ErrorKind::ServerStartFailed,
                    format!(
                        "server `{}` did not complete the MCP handshake within {:?}{}",
                        options.server,
                        options.start_timeout,
                        stderr_tail.for_message()
                    ),
                ));
            }
        };
        let service = match outcome {
            Some(Ok(service)) => service,
            Some(Err(e)) => {
                let status = tokio::time::timeout(Duration::from_millis(500), control.wait()).await;
                control.kill();
                let kind = if lock(&violation).is_some() {
                    ErrorKind::Protocol
                } else {
                    ErrorKind::ServerStartFailed
                };
                // A server that exited reads the same whichever side saw it first: the
                // transport's "connection closed" is then only the symptom, kept as the source.
                let message = match status {
                    Ok(status) if kind == ErrorKind::ServerStartFailed => format!(
                        "server `{}` exited before the MCP handshake ({status}){}",
                        options.server,
                        stderr_tail.for_message()
                    ),
                    status => format!(
                        "server `{}` failed the MCP handshake{}: {e}{}{}",
                        options.server,
                        status.map(|s| format!(" ({s})")).unwrap_or_default(),
                        violation_text(&violation),
                        stderr_tail.for_message()
                    ),
                };
                let error = Error::new(kind, message);
                if late_modern.load(Ordering::SeqCst) {
                    return Err(error.with_source(probe::LateDiscover(Box::new(e))));
                }
                return Err(error.with_source(e));
            }
            None => {
                // Give the handshake a moment: the output may have raced the exit.
                let status = control.wait().await;
                return Err(Error::new(
                    ErrorKind::ServerStartFailed,
                    format!(
                        "server `{}` exited before the MCP handshake ({status}){}",
                        options.server,
                        stderr_tail.for_message()
                    ),
                ));
            }
        };
        Ok(Self::from_service(
            service,
            shared,
            Some(control),
            stderr_tail,
            violation,
            &options,
            false,
        )
        .await)
    }

    /// Speaks MCP to a remote server over Streamable HTTP, or over the legacy HTTP+SSE
    /// transport when the URL serves that instead (see [`sse`]).
    pub async fn over_http(
        url: &str,
        headers: &BTreeMap<String, String>,
        options: SessionOptions,
    ) -> Result<Self> {
        use rmcp::transport::{
            StreamableHttpClientTransport,
            streamable_http_client::StreamableHttpClientTransportConfig,
        };
        ensure_crypto_provider();
        let started = tokio::time::Instant::now();
        let mut all = http::HeaderMap::new();
        for (k, v) in headers {
            let field = || format!("servers.{}.headers.{k}", options.server);
            let name = http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| Error::config(field(), e))?;
            let value = http::HeaderValue::from_str(v).map_err(|e| Error::config(field(), e))?;
            all.insert(name, value);
        }
        let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned())
            .max_json_response_size(64 * 1024 * 1024);
        let mut custom = HashMap::new();
        for (name, value) in &all {
            if name == http::header::AUTHORIZATION
                && let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer "))
            {
                config = config.auth_header(token.to_owned());
                continue;
            }
            custom.insert(name.clone(), value.clone());
        }
        let shared = new_shared(&options);
        let transport = notes::Ordered::new(
            StreamableHttpClientTransport::from_config(config.custom_headers(custom)),
            shared.clone(),
        );
        let handler = Handler(shared.clone());
        let timed_out = || {
            Error::new(
                ErrorKind::Transport,
                format!(
                    "server `{}` at {url} did not answer in time",
                    options.server
                ),
            )
        };
        let cannot_connect = |e: &dyn std::fmt::Display, kind| {
            Error::new(
                kind,
                format!(
                    "cannot connect to server `{}` at {url}: {e}",
                    options.server
                ),
            )
        };
        let streamable = tokio::time::timeout(
            options.start_timeout,
            handler.serve_with_lifecycle(transport, lifecycle(options.discover_only)),
        )
        .await
        .map_err(|_| timed_out())?;
        let (service, shared) = match streamable {
            Ok(service) => (service, shared),
            Err(e) => {
                let text = format!("{e:?}");
                if e.is_authorization_required() || text.contains("401") || text.contains("403") {
                    return Err(cannot_connect(&e, ErrorKind::Auth).with_source(e));
                }
                // Maybe a legacy HTTP+SSE server.
                let left = options.start_timeout.saturating_sub(started.elapsed());
                let wait = left.min(SSE_ENDPOINT_WAIT);
                let legacy =
                    match tokio::time::timeout(wait, sse::LegacySse::connect(url, all, wait))
                        .await
                        .unwrap_or_else(|_| Err(std::io::Error::other("no answer in time")))
                    {
                        Ok(legacy) => legacy,
                        Err(sse) => {
                            let both = format!("{e}; as a legacy HTTP+SSE server: {sse}");
                            return Err(cannot_connect(&both, ErrorKind::Transport).with_source(e));
                        }
                    };
                let shared = new_shared(&options);
                let transport = notes::Ordered::new(legacy, shared.clone());
                let handler = Handler(shared.clone());
                let left = options.start_timeout.saturating_sub(started.elapsed());
                let service = tokio::time::timeout(
                    left,
                    handler.serve_with_lifecycle(transport, ClientLifecycleMode::Initialize),
                )
                .await
                .map_err(|_| timed_out())?
                .map_err(|e| cannot_connect(&e, ErrorKind::Transport).with_source(e))?;
                (service, shared)
            }
        };
        Ok(Self::from_service(
            service,
            shared,
            None,
            StderrTail::default(),
            Arc::new(Mutex::new(None)),
            &options,
            true,
        )
        .await)
    }

    async fn from_service(
        service: RunningService<RoleClient, Handler>,
        shared: Arc<Shared>,
        process: Option<Arc<dyn ProcessControl>>,
        stderr: StderrTail,
        violation: Arc<Mutex<Option<String>>>,
        options: &SessionOptions,
        remote: bool,
    ) -> Self {
        let peer = service.peer().clone();
        let info = peer.peer_info();
        let protocol_version = info
            .as_ref()
            .map(|i| i.protocol_version.to_string())
            .unwrap_or_default();
        let lists_change = info
            .as_ref()
            .and_then(|i| i.capabilities.tools.as_ref())
            .and_then(|t| t.list_changed)
            .unwrap_or(false);
        if lists_change && info.is_some_and(|i| i.protocol_version >= ProtocolVersion::V_2026_07_28)
        {
            listen_for_list_changes(&peer, shared.clone()).await;
        }
        Self {
            shared,
            peer,
            service: tokio::sync::Mutex::new(Some(service)),
            process,
            stderr,
            violation,
            call_timeout: options.call_timeout,
            protocol_version,
            remote,
            closed: AtomicBool::new(false),
            stop_reason: Mutex::new(None),
        }
    }

    /// The negotiated protocol version, e.g. `2025-11-25` or `2026-07-28`.
    pub fn protocol_version(&self) -> &str {
        &self.protocol_version
    }

    /// Whether this session's handshake lacked what a gateway relays (sampling, elicitation,
    /// roots): true of a legacy (initialize-era) session opened before any gateway.
    pub(crate) fn lacks_input_capabilities(&self) -> bool {
        !self.shared.relay_input && self.protocol_version.as_str() < "2026-07-28"
    }

    /// The server's name and version, as it reports them.
    pub fn server_info(&self) -> Option<(String, String)> {
        self.peer
            .peer_info()
            .and_then(|i| i.server_info.clone())
            .map(|i| (i.name, i.version))
    }

    /// The last lines the server wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        self.stderr.text()
    }

    /// Whether the session can still carry calls.
    pub fn is_alive(&self) -> bool {
        !self.closed.load(Ordering::SeqCst)
            && !self.peer.is_transport_closed()
            && self
                .process
                .as_ref()
                .is_none_or(|p| p.try_status().is_none())
    }

    /// Whether the server said its tool list changed since the last [`Session::list_tools`].
    pub fn tools_changed(&self) -> bool {
        self.shared.tools_changed.load(Ordering::SeqCst)
    }

    /// Whether the server said its prompt list changed since the last call of this (which
    /// clears it; the gateway relays it to its clients).
    pub(crate) fn take_prompts_changed(&self) -> bool {
        self.shared.prompts_changed.swap(false, Ordering::SeqCst)
    }

    /// Sets (or clears) who answers the server's requests for input (legacy era; the session
    /// declares the capabilities only when opened with [`SessionOptions::relay_input`]).
    pub(crate) fn set_input_callback(&self, on_input: Option<InputCallback>) {
        *lock(&self.shared.input) = on_input;
    }

    /// Sets (or clears) the receiver of the server's log messages.
    pub fn set_log_callback(&self, on_log: Option<LogCallback>) {
        *lock(&self.shared.on_log) = on_log;
    }

    /// All tools, following every page of `tools/list`.
    pub async fn list_tools(&self) -> Result<Vec<Tool>> {
        self.shared.tools_changed.store(false, Ordering::SeqCst);
        let tools = self
            .peer
            .list_all_tools()
            .await
            .map_err(|e| self.map_error(e))?;
        Ok(tools.into_iter().map(Tool::from_mcp).collect())
    }

    /// The tools in rmcp's own model, unconverted (for the gateway's pass-through).
    pub(crate) async fn list_tools_mcp(&self) -> Result<Vec<rmcp::model::Tool>> {
        self.shared.tools_changed.store(false, Ordering::SeqCst);
        self.peer
            .list_all_tools()
            .await
            .map_err(|e| self.map_error(e))
    }

    /// The rmcp peer of this session (the gateway forwards requests through it).
    pub(crate) fn peer(&self) -> &Peer<RoleClient> {
        &self.peer
    }

    /// Calls a tool. `arguments` must be a JSON object (or null for none).
    pub async fn call_tool(
        &self,
        tool: &str,
        arguments: Value,
        options: CallOptions,
    ) -> Result<ToolResult> {
        let arguments = object_arguments(arguments)?;
        let mut params = CallToolRequestParams::new(tool.to_owned());
        if let Some(args) = arguments {
            params = params.with_arguments(args);
        }
        let r = self.call_tool_response(params, options, None).await?;
        complete(r, tool).map(ToolResult::from_mcp)
    }

    /// [`Session::call_tool`] in rmcp's own model (the gateway passes results through as they
    /// came, `_meta` and all). An MRTR `input_required` answer (SEP-2322) is returned as it
    /// is, for the gateway to relay; `meta` is merged into the request's `_meta` over rmcp's
    /// own per-request client context (the gateway sends its client's capabilities).
    pub(crate) async fn call_tool_response(
        &self,
        params: CallToolRequestParams,
        options: CallOptions,
        meta: Option<rmcp::model::RequestMetaObject>,
    ) -> Result<CallToolResponse> {
        crate::config::check_api_timeout(options.timeout, "timeout")?;
        crate::config::check_api_timeout(options.max_total, "maxTotal")?;
        let tool = params.name.to_string();
        let tool = tool.as_str();
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        // Capped, so that no deadline arithmetic below can overflow whatever a caller passes.
        let timeout = options
            .timeout
            .unwrap_or(self.call_timeout)
            .min(crate::config::MAX_TIMEOUT);
        let max_total = options
            .max_total
            .unwrap_or(timeout.saturating_mul(10))
            .clamp(timeout, crate::config::MAX_TIMEOUT.saturating_mul(10));
        let started = tokio::time::Instant::now();
        let handle = self
            .peer
            .send_request_with_option(request, {
                let mut o = PeerRequestOptions::no_options();
                o.meta = meta;
                o
            })
            .await
            .map_err(|e| self.map_error(e))?;
        let watch = Arc::new(CallWatch {
            callback: options.on_progress,
            last_progress: Mutex::new(started),
        });
        self.shared.register(&handle.progress_token, &watch);
        let mut inflight = InFlight::new(self, handle.id.clone(), handle.progress_token.clone());
        // No token: a future that never fires (no token allocated per call).
        let cancel = options.cancel.as_ref();
        let cancelled = move || async move {
            match cancel {
                Some(token) => token.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let hard_deadline = started + max_total;
        let mut deadline = started + timeout;
        let response = handle.await_response();
        tokio::pin!(response);
        // One timer per call: when it fires, it is re-armed from the last progress report,
        // until the hard deadline.
        let response = loop {
            tokio::select! {
                r = &mut response => break r,
                () = cancelled() => {
                    inflight.cancel("cancelled by the caller").await;
                    return Err(Error::new(ErrorKind::Cancelled, format!("call to `{tool}` was cancelled")));
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let last = *lock(&watch.last_progress);
                    let next = (last + timeout).min(hard_deadline);
                    if next > tokio::time::Instant::now() {
                        deadline = next;
                        continue;
                    }
                    inflight.cancel("request timeout").await;
                    let limit = if next >= hard_deadline { max_total } else { timeout };
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "tool `{tool}` of server `{}` did not answer within {limit:?}",
                            self.shared.server
                        ),
                    ));
                }
            }
        };
        // The progress reports and log lines the server sent before its answer reach their
        // callbacks before the call returns.
        if !self.shared.delivery.is_settled() {
            tokio::select! {
                () = self.shared.delivery.settled() => {}
                () = cancelled() => {}
                () = tokio::time::sleep_until(hard_deadline) => {}
            }
        }
        inflight.finished();
        match response {
            Ok(ServerResult::CallToolResult(r)) => Ok(CallToolResponse::Complete(r)),
            Ok(ServerResult::InputRequiredResult(r)) => Ok(CallToolResponse::InputRequired(r)),
            Ok(other) => Err(Error::new(
                ErrorKind::Protocol,
                format!("unexpected answer to tools/call: {other:?}"),
            )),
            Err(e) => Err(self.map_error(e)),
        }
    }

    /// All resources.
    pub async fn list_resources(&self) -> Result<Vec<Resource>> {
        let items = self
            .peer
            .list_all_resources()
            .await
            .map_err(|e| self.map_error(e))?;
        items.into_iter().map(|r| convert(&r)).collect()
    }

    /// Reads a resource.
    pub async fn read_resource(&self, uri: &str) -> Result<Vec<ResourceContents>> {
        let r = self
            .peer
            .read_resource(ReadResourceRequestParams::new(uri))
            .await
            .map_err(|e| self.map_error(e))?;
        r.contents.iter().map(convert).collect()
    }

    /// All prompts.
    pub async fn list_prompts(&self) -> Result<Vec<Prompt>> {
        let items = self
            .peer
            .list_all_prompts()
            .await
            .map_err(|e| self.map_error(e))?;
        items.into_iter().map(|p| convert(&p)).collect()
    }

    /// Renders a prompt with its arguments (a JSON object of strings, or null).
    pub async fn get_prompt(&self, name: &str, arguments: Value) -> Result<PromptResult> {
        let mut params = GetPromptRequestParams::new(name);
        if let Some(args) = object_arguments(arguments)? {
            params = params.with_arguments(args);
        }
        let r = self
            .peer
            .get_prompt(params)
            .await
            .map_err(|e| self.map_error(e))?;
        convert(&r)
    }

    /// Ends the session and kills the server process. Idempotent.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let service = self.service.lock().await.take();
        if let Some(service) = service {
            let _ = service.cancel().await;
        }
        if let Some(p) = &self.process {
            p.kill();
        }
    }

    /// Kills the server process at once; calls still in flight fail with `SERVER_CRASHED`
    /// quoting `reason`.
    pub fn kill(&self, reason: &str) {
        lock(&self.stop_reason).get_or_insert_with(|| reason.to_owned());
        if let Some(p) = &self.process {
            p.kill();
        }
    }

    /// Turns an rmcp failure into corral's error, diagnosing a dead transport.
    fn map_error(&self, e: ServiceError) -> Error {
        match e {
            ServiceError::McpError(data) => Error::new(
                ErrorKind::McpError,
                format!(
                    "server `{}` answered with error {}: {}",
                    self.shared.server, data.code.0, data.message
                ),
            )
            // The gateway relays some errors as they came (see `upstream_protocol_error`).
            .with_source(ServiceError::McpError(data)),
            ServiceError::Timeout { timeout } => Error::new(
                ErrorKind::Timeout,
                format!(
                    "server `{}` did not answer within {timeout:?}",
                    self.shared.server
                ),
            ),
            ServiceError::Cancelled { reason } => Error::new(
                ErrorKind::Cancelled,
                reason.unwrap_or_else(|| "cancelled".into()),
            ),
            other => self.dead_error(other),
        }
    }

    fn dead_error(&self, e: ServiceError) -> Error {
        let server = &self.shared.server;
        if lock(&self.violation).is_some() {
            self.kill("it broke the MCP protocol");
            return Error::new(
                ErrorKind::Protocol,
                format!(
                    "server `{server}` broke the MCP protocol{}{}",
                    violation_text(&self.violation),
                    self.stderr.for_message()
                ),
            );
        }
        if self.remote {
            let kind = if e.is_authorization_required() {
                ErrorKind::Auth
            } else {
                ErrorKind::Transport
            };
            return Error::new(kind, format!("connection to server `{server}` failed: {e}"))
                .with_source(e);
        }
        let reason = lock(&self.stop_reason).clone();
        if let Some(reason) = reason {
            return Error::new(
                ErrorKind::ServerCrashed,
                format!("server `{server}` was stopped: {reason}"),
            );
        }
        if let Some(failure) = self.process.as_ref().and_then(|p| p.failure()) {
            return failure;
        }
        if self.closed.load(Ordering::SeqCst) {
            return Error::new(
                ErrorKind::Closed,
                format!("session with `{server}` was closed"),
            );
        }
        let status = self
            .process
            .as_ref()
            .and_then(|p| p.try_status())
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        Error::new(
            ErrorKind::ServerCrashed,
            format!(
                "server `{server}` stopped during the call{status}{}",
                self.stderr.for_message()
            ),
        )
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(p) = &self.process {
            p.kill();
        }
    }
}

/// What the notification handler knows of one call in flight.
struct CallWatch {
    callback: Option<ProgressCallback>,
    last_progress: Mutex<tokio::time::Instant>,
}

impl CallWatch {
    fn report(&self, params: ProgressNotificationParam) {
        *lock(&self.last_progress) = tokio::time::Instant::now();
        if let Some(cb) = &self.callback {
            cb(Progress {
                progress: params.progress,
                total: params.total,
                message: params.message,
            });
        }
    }
}

/// Bookkeeping of one call: removes its progress route, and cancels it if abandoned.
struct InFlight<'a> {
    session: &'a Session,
    id: rmcp::model::RequestId,
    token: ProgressToken,
    done: bool,
}

impl<'a> InFlight<'a> {
    fn new(session: &'a Session, id: rmcp::model::RequestId, token: ProgressToken) -> Self {
        Self {
            session,
            id,
            token,
            done: false,
        }
    }

    fn finished(&mut self) {
        self.done = true;
    }

    async fn cancel(&mut self, reason: &str) {
        self.done = true;
        let _ = self
            .session
            .peer
            .notify_cancelled(rmcp::model::CancelledNotificationParam::new(
                Some(self.id.clone()),
                Some(reason.to_owned()),
            ))
            .await;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(&self.session.shared.progress)
            .calls
            .remove(&self.token);
        if !self.done
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let peer = self.session.peer.clone();
            let id = self.id.clone();
            rt.spawn(async move {
                let _ = peer
                    .notify_cancelled(rmcp::model::CancelledNotificationParam::new(
                        Some(id),
                        Some("the caller stopped waiting".into()),
                    ))
                    .await;
            });
        }
    }
}

/// In the 2026-07-28 era list-changed notifications come only on a `subscriptions/listen`
/// stream: open one (waiting for its acknowledgement, so no change is missed after the session
/// is handed out) and keep it for the session's life.
async fn listen_for_list_changes(peer: &Peer<RoleClient>, shared: Arc<Shared>) {
    use rmcp::model::SubscriptionFilter;
    let filter = SubscriptionFilter::builder()
        .tools_list_changed()
        .prompts_list_changed()
        .build();
    let Ok(Ok(mut sub)) = tokio::time::timeout(Duration::from_secs(10), peer.listen(filter)).await
    else {
        return;
    };
    tokio::spawn(async move {
        while let Ok(Some(n)) = sub.next().await {
            match n {
                rmcp::model::ServerNotification::ToolListChangedNotification(_) => {
                    shared.tools_changed.store(true, Ordering::SeqCst);
                }
                rmcp::model::ServerNotification::PromptListChangedNotification(_) => {
                    shared.prompts_changed.store(true, Ordering::SeqCst);
                }
                _ => {}
            }
        }
    });
}

fn new_shared(options: &SessionOptions) -> Arc<Shared> {
    Arc::new(Shared {
        server: options.server.clone(),
        progress: Mutex::new(ProgressRoutes::default()),
        on_log: Mutex::new(options.on_log.clone()),
        relay_input: options.relay_input,
        input: Mutex::new(None),
        tools_changed: AtomicBool::new(false),
        prompts_changed: AtomicBool::new(false),
        delivery: notes::Delivery::new(),
    })
}

fn violation_text(violation: &Mutex<Option<String>>) -> String {
    lock(violation)
        .clone()
        .map(|v| format!(": it wrote non-JSON-RPC output to stdout: {v:?}"))
        .unwrap_or_default()
}

/// The complete result of a call, or the clean refusal of a tool that asked its caller for
/// input (MRTR `input_required`): outside the gateway, corral has nobody to ask.
pub(crate) fn complete(r: CallToolResponse, tool: &str) -> Result<rmcp::model::CallToolResult> {
    match r {
        CallToolResponse::Complete(r) => Ok(r),
        CallToolResponse::InputRequired(_) => Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "tool `{tool}` asked for user input (MRTR input_required), which corral can relay only through its gateway"
            ),
        )),
        other => Err(Error::new(
            ErrorKind::Protocol,
            format!("unexpected answer to tools/call: {other:?}"),
        )),
    }
}

/// The server's own JSON-RPC error behind `e`, when it is a protocol-level one that a proxy
/// should relay as it came rather than as a tool error: a missing client capability (-32021,
/// SEP-2575), and, answering an MRTR retry (`retry`), invalid request or params (a rejected
/// `requestState` or `inputResponses`, SEP-2322).
pub(crate) fn upstream_protocol_error(e: &Error, retry: bool) -> Option<rmcp::ErrorData> {
    use rmcp::model::ErrorCode;
    let source = std::error::Error::source(e)?;
    let ServiceError::McpError(data) = source.downcast_ref::<ServiceError>()? else {
        return None;
    };
    let relayed = data.code == ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
        || (retry && [ErrorCode::INVALID_REQUEST, ErrorCode::INVALID_PARAMS].contains(&data.code));
    relayed.then(|| data.clone())
}

/// Tool/prompt arguments: an object, or null/absent for none.
pub(crate) fn object_arguments(arguments: Value) -> Result<Option<Map<String, Value>>> {
    match arguments {
        Value::Object(m) => Ok(Some(m)),
        Value::Null => Ok(None),
        other => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "arguments must be a JSON object, not {}",
                match other {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    _ => "a boolean",
                }
            ),
        )),
    }
}

/// Converts between rmcp's model and ours where both are the MCP JSON shape.
fn convert<A: serde::Serialize, B: serde::de::DeserializeOwned>(a: &A) -> Result<B> {
    serde_json::to_value(a)
        .and_then(serde_json::from_value)
        .map_err(|e| {
            Error::new(
                ErrorKind::Protocol,
                format!("unexpected message shape: {e}"),
            )
        })
}

fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
