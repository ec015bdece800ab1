//! [`Corral`]: named servers, one warm instance per server shared by concurrent calls, lazy
//! start, restart after a crash, idle reaping, `quick` one-shot calls and direct sandboxes.
//!
//! The pieces, one concept per file:
//! - this file: the [`Corral`] handle, its options and its public operations;
//! - [`instance`]: a server's slot and the one state of its live instance (stopped, starting,
//!   running, closed), the leases that mark an instance in use, and the idle reaper;
//! - [`start`]: starting an instance (sandbox, layer, install commands, handshake), cancellable
//!   by [`Corral::close`] and [`Corral::remove_server`], and the [`StartEvent`]s it reports;
//! - [`server_session`]: the [`ServerSession`] handle on a warm instance;
//! - [`sandbox_handle`]: the [`SandboxHandle`] of a direct sandbox.
//!
//! Install-command caching and layers live in [`crate::install`].

mod instance;
mod sandbox_handle;
mod server_session;
mod start;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use self::instance::{Lease, Slot};
pub use self::{
    sandbox_handle::SandboxHandle,
    server_session::ServerSession,
    start::{StartCallback, StartEvent},
};
use crate::{
    config::{self, LoadOptions, ServerConfig},
    error::{Error, ErrorKind, Result},
    mcp::{CallOptions, LogCallback},
    sandbox::{self, Provider, Sandbox, SandboxConfig},
    sync::{blocking, lock},
    tool::{Tool, ToolResult},
};

/// Options of a [`Corral`].
#[derive(Debug, Clone, Default)]
pub struct CorralOptions {
    /// `local` (bubblewrap, the default), `unsandboxed` or `e2b`. Default: `$CORRAL_PROVIDER`,
    /// else `local`.
    pub provider: Option<String>,
    /// The API key of a remote provider (`e2b`; default `$E2B_API_KEY`).
    pub api_key: Option<String>,
    /// corral's home (state, caches). Default: `$CORRAL_HOME`, else `<data dir>/corral`.
    pub home: Option<PathBuf>,
}

/// The runner: configure servers, then discover and call their tools.
///
/// Cloning is cheap and shares everything. Call [`Corral::close`] when done; dropping the last
/// clone also stops every server (synchronously, killing their sandboxes). Dropping needs no
/// async runtime: it may happen on any thread.
#[derive(Clone)]
pub struct Corral {
    inner: Arc<Inner>,
}

struct Inner {
    home: PathBuf,
    provider: Arc<dyn Provider>,
    servers: Mutex<BTreeMap<String, Arc<Slot>>>,
    sandboxes: Mutex<Vec<Weak<dyn Sandbox>>>,
    closed: AtomicBool,
    /// Cancelled by [`Corral::close`] (and on drop): every start in progress is a child of it.
    cancel: CancellationToken,
    reaper: Mutex<Option<tokio::task::JoinHandle<()>>>,
    on_log: Mutex<Option<LogCallback>>,
    on_start: Mutex<Option<StartCallback>>,
    /// The gateways started from this corral, closed with it.
    gateways: Mutex<Vec<Weak<crate::gateway::State>>>,
    /// Set once a gateway serves from this corral: sessions started from then on declare the
    /// input capabilities (sampling, elicitation, roots) the gateway relays.
    relay_input: AtomicBool,
}

impl std::fmt::Debug for Corral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Corral")
            .field("home", &self.inner.home)
            .field("provider", &self.inner.provider.name())
            .finish_non_exhaustive()
    }
}

/// corral's default home: `$CORRAL_HOME`, else the user's data dir + `corral`.
pub fn default_home() -> PathBuf {
    std::env::var_os("CORRAL_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("corral")))
        .unwrap_or_else(|| std::env::temp_dir().join("corral"))
}

impl Corral {
    /// A runner with the local (bubblewrap) provider and the default home.
    pub fn new() -> Result<Self> {
        Self::with_options(CorralOptions::default())
    }

    /// A runner with explicit options.
    pub fn with_options(options: CorralOptions) -> Result<Self> {
        let home = options.home.unwrap_or_else(default_home);
        std::fs::create_dir_all(&home)
            .map_err(|e| Error::io(format!("cannot create corral home {}", home.display()), e))?;
        let name = options
            .provider
            .or_else(|| {
                std::env::var("CORRAL_PROVIDER")
                    .ok()
                    .filter(|p| !p.is_empty())
            })
            .unwrap_or_else(|| "local".into());
        let provider = sandbox::provider_with_key(&name, &home, options.api_key)?;
        Ok(Self::with_provider(home, provider))
    }

    /// A runner with a provider of your own.
    pub fn with_provider(home: PathBuf, provider: Arc<dyn Provider>) -> Self {
        Self {
            inner: Arc::new(Inner {
                home,
                provider,
                servers: Mutex::new(BTreeMap::new()),
                sandboxes: Mutex::new(Vec::new()),
                closed: AtomicBool::new(false),
                cancel: CancellationToken::new(),
                reaper: Mutex::new(None),
                on_log: Mutex::new(None),
                on_start: Mutex::new(None),
                gateways: Mutex::new(Vec::new()),
                relay_input: AtomicBool::new(false),
            }),
        }
    }

    /// corral's home directory.
    pub fn home(&self) -> &Path {
        &self.inner.home
    }

    /// The provider's name.
    pub fn provider_name(&self) -> &'static str {
        self.inner.provider.name()
    }

    /// The provider (for provider-specific features such as E2B's own gateway).
    pub(crate) fn provider(&self) -> &dyn Provider {
        self.inner.provider.as_ref()
    }

    /// Receives log messages of every server started from now on.
    pub fn set_log_callback(&self, on_log: Option<LogCallback>) {
        *lock(&self.inner.on_log) = on_log;
    }

    /// Receives start-up events (install commands, server start) of every server.
    pub fn set_start_callback(&self, on_start: Option<StartCallback>) {
        *lock(&self.inner.on_start) = on_start;
    }

    /// The corral-wide log callback (the gateway chains it).
    pub(crate) fn log_callback(&self) -> Option<LogCallback> {
        lock(&self.inner.on_log).clone()
    }

    /// Adds (or replaces) a server. A replaced server's running instance is stopped (a start
    /// in progress is cancelled).
    pub async fn add_server(&self, config: ServerConfig) -> Result<()> {
        self.check_open()?;
        config.validate()?;
        let slot = Arc::new(Slot::new(config));
        let old = lock(&self.inner.servers).insert(slot.config.name.clone(), slot);
        if let Some(old) = old {
            old.close().await;
        }
        Ok(())
    }

    /// Adds a server from a dict in any accepted form (see [`config`](crate::config)).
    pub async fn add_server_from_dict(&self, name: &str, value: &Value) -> Result<()> {
        self.add_server(ServerConfig::from_value(name, value)?)
            .await
    }

    /// Adds every server of an `mcpServers` (or corral) document, JSON or TOML text.
    /// Returns their names.
    pub async fn load_mcp_servers(
        &self,
        document: &str,
        options: LoadOptions,
    ) -> Result<Vec<String>> {
        let document = document.to_owned();
        // Off the runtime's threads: `mount_args` looks at the host's files.
        let servers =
            blocking(move || config::parse_servers_document_with(&document, &options)).await?;
        self.add_all(servers).await
    }

    /// Like [`Corral::load_mcp_servers`], reading the document from a file (for example
    /// `~/.cursor/mcp.json` or `claude_desktop_config.json`).
    pub async fn load_mcp_servers_file(
        &self,
        path: &Path,
        options: LoadOptions,
    ) -> Result<Vec<String>> {
        let text = tokio::fs::read_to_string(path).await.map_err(|e| {
            let looks_like_text = path
                .to_str()
                .is_some_and(|p| p.contains('\n') || p.trim_start().starts_with(['{', '[']));
            if looks_like_text {
                return Error::config(
                    "document",
                    "this is a document's text, not the path of a file: load it as text (or as a parsed object)",
                );
            }
            Error::config(path.display(), &e).with_source(e)
        })?;
        // `${workspaceFolder}` is the project of the file, as the CLI's import has it.
        let options = match options.workspace_folder {
            Some(_) => options,
            None => options.for_file(path),
        };
        self.load_mcp_servers(&text, options).await
    }

    /// Like [`Corral::load_mcp_servers`], for a parsed JSON value.
    pub async fn load_mcp_servers_value(
        &self,
        document: &Value,
        options: LoadOptions,
    ) -> Result<Vec<String>> {
        let document = document.clone();
        let servers =
            blocking(move || config::parse_servers_value_with(&document, &options)).await?;
        self.add_all(servers).await
    }

    async fn add_all(&self, servers: Vec<ServerConfig>) -> Result<Vec<String>> {
        let names = servers.iter().map(|s| s.name.clone()).collect();
        for s in servers {
            self.add_server(s).await?;
        }
        Ok(names)
    }

    /// Removes a server, stopping it if it runs (a start in progress is cancelled, and the
    /// callers waiting for it fail with `CLOSED`).
    pub async fn remove_server(&self, name: &str) -> Result<()> {
        self.check_open()?;
        let slot = lock(&self.inner.servers)
            .remove(name)
            .ok_or_else(|| not_found(name))?;
        slot.close().await;
        Ok(())
    }

    /// The configured servers, by name.
    pub fn list_servers(&self) -> Vec<ServerConfig> {
        lock(&self.inner.servers)
            .values()
            .map(|s| s.config.clone())
            .collect()
    }

    /// The config of one server.
    pub fn server(&self, name: &str) -> Result<ServerConfig> {
        Ok(self.slot(name)?.config.clone())
    }

    /// The server's tools (allowed by its filter). Cached; refreshed when the server says its
    /// list changed or after a restart.
    pub async fn discover_tools(&self, server: &str) -> Result<Vec<Tool>> {
        let slot = self.slot(server)?;
        let live = self.live(&slot).await?;
        let tools = tools_of(&slot, &live).await?;
        Ok(tools.as_ref().clone())
    }

    /// Calls a tool with JSON-object arguments.
    pub async fn execute_tool(
        &self,
        server: &str,
        tool: &str,
        arguments: Value,
    ) -> Result<ToolResult> {
        self.execute_tool_with(server, tool, arguments, CallOptions::default())
            .await
    }

    /// Calls a tool with per-call options (timeout, progress callback, cancellation).
    pub async fn execute_tool_with(
        &self,
        server: &str,
        tool: &str,
        arguments: Value,
        options: CallOptions,
    ) -> Result<ToolResult> {
        let slot = self.slot(server)?;
        check_call(&slot.config, tool, &arguments)?;
        let live = self.live(&slot).await?;
        let tools = tools_of(&slot, &live).await?;
        if !tools.iter().any(|t| t.name == tool) {
            return Err(tool_not_found(server, tool, Some(&tools)));
        }
        self.call(&slot, &live, tool, arguments, options).await
    }

    async fn call(
        &self,
        slot: &Slot,
        live: &Lease,
        tool: &str,
        arguments: Value,
        options: CallOptions,
    ) -> Result<ToolResult> {
        let mut params = rmcp::model::CallToolRequestParams::new(tool.to_owned());
        if let Some(args) = crate::mcp::object_arguments(arguments)? {
            params = params.with_arguments(args);
        }
        let r = self.call_mcp(slot, live, params, options, None).await?;
        crate::mcp::complete(r, tool).map(ToolResult::from_mcp)
    }

    /// [`Corral::call`] in rmcp's model (the gateway's pass-through path): the answer may be
    /// an MRTR `input_required` result; `meta` goes into the request's `_meta`.
    async fn call_mcp(
        &self,
        slot: &Slot,
        live: &Lease,
        params: rmcp::model::CallToolRequestParams,
        options: CallOptions,
        meta: Option<rmcp::model::RequestMetaObject>,
    ) -> Result<rmcp::model::CallToolResponse> {
        let tool = params.name.to_string();
        let result = live.session.call_tool_response(params, options, meta).await;
        match result {
            Err(e) if e.kind() == ErrorKind::Timeout => {
                // A server that lets a call time out may be wedged: stop it; the next call
                // starts a fresh one.
                live.session.kill(&format!(
                    "a call to `{tool}` timed out, so the server was stopped"
                ));
                Box::pin(slot.retire(live)).await;
                Err(e)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ServerCrashed | ErrorKind::Protocol | ErrorKind::SandboxFailed
                ) =>
            {
                let diagnosis = live.sandbox.as_ref().and_then(|s| s.diagnose());
                Box::pin(slot.retire(live)).await;
                Err(match diagnosis {
                    Some(d) => e.context(d),
                    None => e,
                })
            }
            other => other,
        }
    }

    /// A handle on the server's warm session (started if needed), for resources, prompts and
    /// repeated calls. Dropping the handle leaves the shared session running.
    pub async fn session(&self, server: &str) -> Result<ServerSession> {
        let slot = self.slot(server)?;
        let live = self.live(&slot).await?;
        Ok(ServerSession::new(self.clone(), slot, live))
    }

    /// [`Corral::session`] if the server's instance is running now; `None` if it would have to
    /// be started or waited for. The gateway's per-call fast path: it keeps the large future of
    /// a start out of every call's future.
    pub(crate) fn running_session(&self, server: &str) -> Option<ServerSession> {
        let slot = self.slot(server).ok()?;
        let live = self.live_now(&slot)?;
        Some(ServerSession::new(self.clone(), slot, live))
    }

    /// One-shot: starts `command` in a fresh sandbox, calls `tool`, stops it. Saves nothing.
    pub async fn quick(&self, command: &str, tool: &str, arguments: Value) -> Result<ToolResult> {
        let config = ServerConfig::command("quick", command)?;
        self.quick_with(config, tool, arguments).await
    }

    /// One-shot with a full config.
    pub async fn quick_with(
        &self,
        config: ServerConfig,
        tool: &str,
        arguments: Value,
    ) -> Result<ToolResult> {
        self.check_open()?;
        config.validate()?;
        check_arguments(&arguments)?;
        let start = start::Start::new(self.inner.cancel.child_token());
        let live = self.start(&config, false, &start).await?;
        let result = live
            .session
            .call_tool(tool, arguments, CallOptions::default())
            .await;
        live.stop().await;
        result
    }

    /// A sandbox of your own for `exec`, `read_file` and `write_file`.
    pub async fn sandbox(&self, config: SandboxConfig) -> Result<SandboxHandle> {
        self.check_open()?;
        let sandbox = self.inner.provider.create(config).await?;
        let mut list = lock(&self.inner.sandboxes);
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(&sandbox));
        Ok(SandboxHandle::new(sandbox))
    }

    /// Builds template `name` from install commands (on top of template `base`, if given): a
    /// named, content-addressed layer that servers and sandboxes start from
    /// (`"template": name`). Building the same content again reuses the layer.
    pub async fn build_template(
        &self,
        name: &str,
        install_commands: &[String],
        base: Option<&str>,
    ) -> Result<crate::install::TemplateInfo> {
        self.check_open()?;
        crate::install::build_template(
            self.inner.provider.as_ref(),
            &self.inner.home,
            name,
            install_commands,
            base,
        )
        .await
    }

    /// The built templates.
    pub fn list_templates(&self) -> Vec<crate::install::TemplateInfo> {
        crate::install::list_templates(&self.inner.home)
    }

    /// Removes a template (sandboxes running from it keep their mounts until they stop).
    pub fn remove_template(&self, name: &str) -> Result<()> {
        crate::install::remove_template(&self.inner.home, name)
    }

    /// Removes layers that no configured server uses any more (servers not configured in this
    /// corral, stale layers of configured ones, leftovers of dead processes).
    pub fn prune(&self) -> Result<crate::install::PruneReport> {
        let keep: Vec<String> = self.list_servers().into_iter().map(|s| s.name).collect();
        crate::install::prune(&self.inner.home, Some(&keep))
    }

    /// Stops every server and sandbox. Starts in progress are cancelled (an install command
    /// is killed, not waited for) and the calls waiting for them fail with `CLOSED`.
    /// Idempotent; later calls fail with `CLOSED`.
    pub async fn close(&self) {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        self.inner.cancel.cancel();
        if let Some(reaper) = lock(&self.inner.reaper).take() {
            reaper.abort();
        }
        let gateways: Vec<_> = lock(&self.inner.gateways)
            .drain(..)
            .filter_map(|g| g.upgrade())
            .collect();
        for g in gateways {
            g.close().await;
        }
        let slots: Vec<Arc<Slot>> = lock(&self.inner.servers).values().cloned().collect();
        futures::future::join_all(slots.iter().map(|s| s.close())).await;
        let sandboxes: Vec<Arc<dyn Sandbox>> = lock(&self.inner.sandboxes)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for s in sandboxes {
            let _ = s.kill().await;
        }
    }

    /// Sessions started from now on declare the input capabilities a gateway relays.
    pub(crate) fn enable_input_relay(&self) {
        self.inner.relay_input.store(true, Ordering::SeqCst);
    }

    /// See [`Corral::enable_input_relay`].
    pub(crate) fn relays_input(&self) -> bool {
        self.inner.relay_input.load(Ordering::SeqCst)
    }

    pub(crate) fn register_gateway(&self, gateway: Weak<crate::gateway::State>) {
        let mut list = lock(&self.inner.gateways);
        list.retain(|g| g.strong_count() > 0);
        list.push(gateway);
    }

    /// Whether [`Corral::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(Error::closed())
        } else {
            Ok(())
        }
    }

    fn slot(&self, name: &str) -> Result<Arc<Slot>> {
        self.check_open()?;
        lock(&self.inner.servers)
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(name))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Some(r) = lock(&self.reaper).take() {
            r.abort();
        }
        let running = lock(&self.servers)
            .values()
            .filter(|s| s.is_running())
            .count();
        if running > 0 && !self.closed.load(Ordering::SeqCst) {
            tracing::warn!(
                running,
                "a Corral was dropped without close(): its servers are killed now"
            );
        }
        // Sessions and sandboxes kill their processes when dropped with the slots; none of
        // that needs a runtime (see `Corral`'s docs).
    }
}

/// The tools of a live instance, filtered by the server's config (cached per instance).
async fn tools_of(slot: &Slot, live: &Lease) -> Result<Arc<Vec<Tool>>> {
    if !live.session.tools_changed()
        && let Some(tools) = live.cached_tools()
    {
        return Ok(tools);
    }
    // Boxed, as the start in `live`: a call's future then holds the list's state only by
    // pointer (it runs once per instance, or when the list changed).
    let mut tools = Box::pin(live.session.list_tools()).await?;
    tools.retain(|t| slot.config.tools.permits(&t.name));
    let tools = Arc::new(tools);
    live.cache_tools(tools.clone());
    Ok(tools)
}

fn not_found(name: &str) -> Error {
    Error::new(
        ErrorKind::ServerNotFound,
        format!("no server named `{name}` is configured"),
    )
}

fn tool_not_found(server: &str, tool: &str, tools: Option<&[Tool]>) -> Error {
    let offers = tools
        .map(|t| {
            let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).take(20).collect();
            format!(" (it offers: {})", names.join(", "))
        })
        .unwrap_or_default();
    Error::new(
        ErrorKind::ToolNotFound,
        format!("server `{server}` has no tool `{tool}`{offers}"),
    )
}

/// The preconditions of a tool call that need no server: object arguments, a permitted tool.
fn check_call(config: &ServerConfig, tool: &str, arguments: &Value) -> Result<()> {
    check_arguments(arguments)?;
    if config.tools.permits(tool) {
        Ok(())
    } else {
        Err(tool_not_found(&config.name, tool, None))
    }
}

fn check_arguments(arguments: &Value) -> Result<()> {
    if arguments.is_object() || arguments.is_null() {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            "tool arguments must be a JSON object",
        ))
    }
}
