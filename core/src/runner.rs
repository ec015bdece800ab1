//! [`Corral`]: named servers, one warm session per server shared by concurrent calls, lazy
//! start, restart after a crash, idle reaping, `quick` one-shot calls and direct sandboxes.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{
    config::{self, NetworkPolicy, ServerConfig, Transport},
    error::{Error, ErrorKind, Result},
    mcp::{CallOptions, LogCallback, Session, SessionOptions},
    sandbox::{self, Command, ExecOutput, Provider, Sandbox, SandboxConfig},
    tool::{Prompt, PromptResult, Resource, ResourceContents, Tool, ToolResult},
};

/// How long one install command may run.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// Lines of install output quoted in an `INSTALL_FAILED` error.
const INSTALL_TAIL_LINES: usize = 30;

/// What happens while a server starts, for progress displays. Canonical form: an object
/// tagged by `type` (`installStarted`, `installFinished`, `serverStarting`, `serverReady`)
/// with camelCase fields, e.g. `{"type": "serverReady", "server": "fx", "protocolVersion": "…"}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum StartEvent {
    /// Install command `index` (1-based) of `total` is starting.
    InstallStarted {
        /// The server.
        server: String,
        /// 1-based position.
        index: usize,
        /// How many there are.
        total: usize,
        /// The command.
        command: String,
    },
    /// Install command `index` finished (successfully or not), with its output.
    InstallFinished {
        /// The server.
        server: String,
        /// 1-based position.
        index: usize,
        /// How it ended.
        status: crate::sandbox::ExitStatus,
        /// What it printed (stdout then stderr).
        output: String,
    },
    /// The server process is starting (sandbox ready, install done).
    ServerStarting {
        /// The server.
        server: String,
    },
    /// The MCP handshake completed.
    ServerReady {
        /// The server.
        server: String,
        /// The negotiated protocol version.
        protocol_version: String,
    },
}

/// Receives [`StartEvent`]s.
pub type StartCallback = Arc<dyn Fn(StartEvent) + Send + Sync>;

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
/// clone also stops every server (synchronously, killing their sandboxes).
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
    reaper: Mutex<Option<tokio::task::JoinHandle<()>>>,
    on_log: Mutex<Option<LogCallback>>,
    on_start: Mutex<Option<StartCallback>>,
}

struct Slot {
    config: ServerConfig,
    /// The warm instance, for the lock-free-ish fast path (a short std lock, no await).
    current: Mutex<Option<Arc<Live>>>,
    /// Serializes starting and stopping.
    live: tokio::sync::Mutex<Option<Arc<Live>>>,
    tools: Mutex<Option<Arc<Vec<Tool>>>>,
    last_used: Mutex<Instant>,
}

/// A running server: its session and its sandbox.
struct Live {
    id: String,
    session: Session,
    sandbox: Option<Arc<dyn Sandbox>>,
}

impl Live {
    async fn stop(&self) {
        self.session.close().await;
        if let Some(s) = &self.sandbox {
            let _ = s.kill().await;
        }
    }
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
                reaper: Mutex::new(None),
                on_log: Mutex::new(None),
                on_start: Mutex::new(None),
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
        if let Ok(mut slot) = self.inner.on_log.lock() {
            *slot = on_log;
        }
    }

    /// Receives start-up events (install commands, server start) of every server.
    pub fn set_start_callback(&self, on_start: Option<StartCallback>) {
        if let Ok(mut slot) = self.inner.on_start.lock() {
            *slot = on_start;
        }
    }

    /// The corral-wide log callback (the gateway chains it).
    pub(crate) fn log_callback(&self) -> Option<LogCallback> {
        self.inner.on_log.lock().ok().and_then(|l| l.clone())
    }

    fn emit(&self, event: StartEvent) {
        let cb = self.inner.on_start.lock().ok().and_then(|c| c.clone());
        if let Some(cb) = cb {
            cb(event);
        }
    }

    /// Adds (or replaces) a server. A replaced server's running instance is stopped.
    pub async fn add_server(&self, config: ServerConfig) -> Result<()> {
        self.check_open()?;
        config.validate()?;
        let slot = Arc::new(Slot {
            config,
            current: Mutex::new(None),
            live: tokio::sync::Mutex::new(None),
            tools: Mutex::new(None),
            last_used: Mutex::new(Instant::now()),
        });
        let old = self.lock_servers()?.insert(slot.config.name.clone(), slot);
        if let Some(old) = old {
            stop_slot(&old).await;
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
    pub async fn load_mcp_servers(&self, document: &str) -> Result<Vec<String>> {
        let servers = config::parse_servers_document(document)?;
        self.add_all(servers).await
    }

    /// Like [`Corral::load_mcp_servers`], reading the document from a file (for example
    /// `~/.cursor/mcp.json` or `claude_desktop_config.json`).
    pub async fn load_mcp_servers_file(&self, path: &Path) -> Result<Vec<String>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(path.display(), &e).with_source(e))?;
        self.load_mcp_servers(&text).await
    }

    /// Like [`Corral::load_mcp_servers`], for a parsed JSON value.
    pub async fn load_mcp_servers_value(&self, document: &Value) -> Result<Vec<String>> {
        let servers = config::parse_servers_value(document)?;
        self.add_all(servers).await
    }

    async fn add_all(&self, servers: Vec<ServerConfig>) -> Result<Vec<String>> {
        let names = servers.iter().map(|s| s.name.clone()).collect();
        for s in servers {
            self.add_server(s).await?;
        }
        Ok(names)
    }

    /// Removes a server, stopping it if it runs.
    pub async fn remove_server(&self, name: &str) -> Result<()> {
        self.check_open()?;
        let slot = self
            .lock_servers()?
            .remove(name)
            .ok_or_else(|| not_found(name))?;
        stop_slot(&slot).await;
        Ok(())
    }

    /// The configured servers, by name.
    pub fn list_servers(&self) -> Vec<ServerConfig> {
        self.lock_servers()
            .map(|m| m.values().map(|s| s.config.clone()).collect())
            .unwrap_or_default()
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
        let tools = self.tools_of(&slot, &live).await?;
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
        check_arguments(&arguments)?;
        if !slot.config.tools.permits(tool) {
            return Err(tool_not_found(server, tool, None));
        }
        let live = self.live(&slot).await?;
        let tools = self.tools_of(&slot, &live).await?;
        if !tools.iter().any(|t| t.name == tool) {
            return Err(tool_not_found(server, tool, Some(&tools)));
        }
        self.call(&slot, &live, tool, arguments, options).await
    }

    async fn call(
        &self,
        slot: &Arc<Slot>,
        live: &Arc<Live>,
        tool: &str,
        arguments: Value,
        options: CallOptions,
    ) -> Result<ToolResult> {
        let mut params = rmcp::model::CallToolRequestParams::new(tool.to_owned());
        if let Some(args) = crate::mcp::object_arguments(arguments)? {
            params = params.with_arguments(args);
        }
        self.call_mcp(slot, live, params, options)
            .await
            .map(ToolResult::from_mcp)
    }

    /// [`Corral::call`] in rmcp's model (the gateway's pass-through path).
    async fn call_mcp(
        &self,
        slot: &Arc<Slot>,
        live: &Arc<Live>,
        params: rmcp::model::CallToolRequestParams,
        options: CallOptions,
    ) -> Result<rmcp::model::CallToolResult> {
        let tool = params.name.to_string();
        let result = live.session.call_tool_mcp(params, options).await;
        touch(slot);
        match result {
            Err(e) if e.kind() == ErrorKind::Timeout => {
                // A server that lets a call time out may be wedged: stop it; the next call
                // starts a fresh one.
                live.session.kill(&format!(
                    "a call to `{tool}` timed out, so the server was stopped"
                ));
                self.retire(slot, live).await;
                Err(e)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ServerCrashed | ErrorKind::Protocol | ErrorKind::SandboxFailed
                ) =>
            {
                let diagnosis = live.sandbox.as_ref().and_then(|s| s.diagnose());
                self.retire(slot, live).await;
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
        Ok(ServerSession {
            corral: self.clone(),
            slot,
            live,
        })
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
        let live = self.start(&config, None).await?;
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
        if let Ok(mut list) = self.inner.sandboxes.lock() {
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(&sandbox));
        }
        Ok(SandboxHandle { sandbox })
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

    /// Stops every server and sandbox. Idempotent; later calls fail with `CLOSED`.
    pub async fn close(&self) {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(reaper) = self.inner.reaper.lock().ok().and_then(|mut r| r.take()) {
            reaper.abort();
        }
        let slots: Vec<Arc<Slot>> = self
            .inner
            .servers
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        for slot in slots {
            stop_slot(&slot).await;
        }
        let sandboxes: Vec<Arc<dyn Sandbox>> = self
            .inner
            .sandboxes
            .lock()
            .map(|l| l.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default();
        for s in sandboxes {
            let _ = s.kill().await;
        }
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

    fn lock_servers(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, Arc<Slot>>>> {
        self.inner
            .servers
            .lock()
            .map_err(|_| Error::new(ErrorKind::Closed, "corral's state is poisoned"))
    }

    fn slot(&self, name: &str) -> Result<Arc<Slot>> {
        self.check_open()?;
        self.lock_servers()?
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(name))
    }

    /// The warm instance of a server, started if there is none or it died.
    async fn live(&self, slot: &Arc<Slot>) -> Result<Arc<Live>> {
        let warm = slot.current.lock().ok().and_then(|c| c.clone());
        if let Some(live) = warm
            && live.session.is_alive()
        {
            touch(slot);
            return Ok(live);
        }
        let mut guard = slot.live.lock().await;
        if let Some(live) = guard.as_ref() {
            if live.session.is_alive() {
                touch(slot);
                return Ok(live.clone());
            }
            live.stop().await;
            *guard = None;
            set_current(slot, None);
        }
        self.check_open()?;
        let live = self.start(&slot.config, Some(slot)).await?;
        if let Ok(mut tools) = slot.tools.lock() {
            *tools = None;
        }
        *guard = Some(live.clone());
        set_current(slot, Some(live.clone()));
        touch(slot);
        drop(guard);
        self.ensure_reaper();
        Ok(live)
    }

    /// Drops `live` from its slot (if still current) and stops it.
    async fn retire(&self, slot: &Arc<Slot>, live: &Arc<Live>) {
        let mut guard = slot.live.lock().await;
        if guard.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, live)) {
            *guard = None;
            set_current(slot, None);
        }
        drop(guard);
        live.stop().await;
    }

    async fn tools_of(&self, slot: &Arc<Slot>, live: &Arc<Live>) -> Result<Arc<Vec<Tool>>> {
        if !live.session.tools_changed()
            && let Some(tools) = slot.tools.lock().ok().and_then(|t| t.clone())
        {
            return Ok(tools);
        }
        let mut tools = live.session.list_tools().await?;
        tools.retain(|t| slot.config.tools.permits(&t.name));
        let tools = Arc::new(tools);
        if let Ok(mut cache) = slot.tools.lock() {
            *cache = Some(tools.clone());
        }
        Ok(tools)
    }

    /// Creates the sandbox, runs install commands (once per their hash), starts the server and
    /// completes the MCP handshake.
    async fn start(&self, config: &ServerConfig, slot: Option<&Arc<Slot>>) -> Result<Arc<Live>> {
        let on_log = self.inner.on_log.lock().ok().and_then(|l| l.clone());
        let options = SessionOptions {
            server: config.name.clone(),
            call_timeout: config.call_timeout,
            start_timeout: Duration::from_secs(60),
            on_log,
        };
        let argv = match &config.transport {
            Transport::Http { url, headers } => {
                let session = Session::over_http(url, headers, options).await?;
                return Ok(Arc::new(Live {
                    id: sandbox::new_id(&config.name),
                    session,
                    sandbox: None,
                }));
            }
            Transport::Stdio { argv } => argv,
        };
        let state_dir = slot.map(|_| self.inner.home.join("servers").join(&config.name));
        // The server's layer is keyed by its template and install commands: a change of either
        // starts from a clean layer; older layers go.
        let template_id = match &config.template {
            Some(t) if self.inner.provider.name() == "local" => {
                Some(crate::install::template_id(&self.inner.home, t)?)
            }
            _ => None,
        };
        let layer_key = crate::install::hash_parts(
            std::iter::once(template_id.as_deref().unwrap_or(""))
                .chain(config.install_commands.iter().map(String::as_str)),
        )[..32]
            .to_owned();
        let layer_dir = match &state_dir {
            Some(dir) => {
                let layers = dir.join("layers");
                if let Ok(entries) = std::fs::read_dir(&layers) {
                    for e in entries.flatten() {
                        let name = e.file_name().to_string_lossy().into_owned();
                        if name.split('.').next() != Some(layer_key.as_str()) {
                            let _ = crate::install::remove_tree(&e.path());
                        }
                    }
                }
                std::fs::create_dir_all(&layers).map_err(|e| Error::io(layers.display(), e))?;
                let _ = std::fs::write(dir.join("layer-key"), &layer_key);
                Some(layers.join(&layer_key))
            }
            None => None,
        };
        let sandbox = self
            .inner
            .provider
            .create(SandboxConfig {
                name: config.name.clone(),
                state_dir: state_dir.clone(),
                env: config.env.clone(),
                network: config.network,
                mounts: config.mounts.clone(),
                limits: config.limits.clone(),
                programs: argv.first().cloned().into_iter().collect(),
                template: config.template.clone(),
                layer_dir,
                reuse_key: slot.map(|_| config_hash(config)),
            })
            .await?;
        let started = async {
            run_install_commands(
                sandbox.as_ref(),
                config,
                state_dir.as_deref(),
                &layer_key,
                &|e| self.emit(e),
            )
            .await?;
            for (path, text) in &config.files {
                sandbox
                    .write_file(path, text.as_bytes())
                    .await
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::SandboxFailed,
                            format!(
                                "cannot write files.{path} of `{}`: {}",
                                config.name,
                                e.message()
                            ),
                        )
                    })?;
            }
            self.emit(StartEvent::ServerStarting {
                server: config.name.clone(),
            });
            let mut command = Command::new(argv.clone());
            command.cwd = config.cwd.clone();
            let process = sandbox.spawn(command).await?;
            let session = Session::over_process(process, options).await?;
            self.emit(StartEvent::ServerReady {
                server: config.name.clone(),
                protocol_version: session.protocol_version().to_owned(),
            });
            Ok::<_, Error>(session)
        }
        .await;
        match started {
            Ok(session) => Ok(Arc::new(Live {
                id: sandbox.id().to_owned(),
                session,
                sandbox: Some(sandbox),
            })),
            Err(e) => {
                let diagnosis = sandbox.diagnose();
                let _ = sandbox.kill().await;
                Err(match diagnosis {
                    Some(d) => e.context(d),
                    None => e,
                })
            }
        }
    }

    fn ensure_reaper(&self) {
        let Ok(mut reaper) = self.inner.reaper.lock() else {
            return;
        };
        if reaper.as_ref().is_some_and(|r| !r.is_finished()) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        *reaper = Some(tokio::spawn(async move {
            loop {
                let tick = {
                    let Some(inner) = weak.upgrade() else { return };
                    let slots: Vec<Arc<Slot>> = inner
                        .servers
                        .lock()
                        .map(|m| m.values().cloned().collect())
                        .unwrap_or_default();
                    let mut tick = Duration::from_secs(5);
                    for slot in slots {
                        let idle = slot.config.idle_timeout;
                        tick = tick.min(idle / 2);
                        let since = slot
                            .last_used
                            .lock()
                            .map(|t| t.elapsed())
                            .unwrap_or_default();
                        if since < idle {
                            continue;
                        }
                        let Ok(mut guard) = slot.live.try_lock() else {
                            continue;
                        };
                        // Only reap when no call holds the instance (the slot holds two refs).
                        if guard.as_ref().is_some_and(|l| Arc::strong_count(l) == 2)
                            && let Some(live) = guard.take()
                        {
                            set_current(&slot, None);
                            drop(guard);
                            tracing::debug!(server = %slot.config.name, "stopping idle server");
                            live.stop().await;
                        }
                    }
                    tick.max(Duration::from_millis(50))
                };
                tokio::time::sleep(tick).await;
            }
        }));
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut r) = self.reaper.lock()
            && let Some(r) = r.take()
        {
            r.abort();
        }
        let running = self
            .servers
            .lock()
            .map(|m| {
                m.values()
                    .filter(|s| s.current.lock().is_ok_and(|c| c.is_some()))
                    .count()
            })
            .unwrap_or(0);
        if running > 0 && !self.closed.load(Ordering::SeqCst) {
            tracing::warn!(
                running,
                "a Corral was dropped without close(): its servers are killed now"
            );
        }
        // Sessions and sandboxes kill their processes when dropped with the slots.
    }
}

fn touch(slot: &Slot) {
    if let Ok(mut t) = slot.last_used.lock() {
        *t = Instant::now();
    }
}

fn set_current(slot: &Slot, live: Option<Arc<Live>>) {
    if let Ok(mut c) = slot.current.lock() {
        *c = live;
    }
}

async fn stop_slot(slot: &Slot) {
    let mut guard = slot.live.lock().await;
    set_current(slot, None);
    let live = guard.take();
    drop(guard);
    if let Some(live) = live {
        live.stop().await;
    }
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

/// Runs install commands once per distinct list (the marker is kept in the state dir).
async fn run_install_commands(
    sandbox: &dyn Sandbox,
    config: &ServerConfig,
    state_dir: Option<&Path>,
    layer_key: &str,
    emit: &(dyn Fn(StartEvent) + Sync),
) -> Result<()> {
    if config.install_commands.is_empty() {
        return Ok(());
    }
    let hash = layer_key;
    // A remote sandbox keeps the marker inside itself (a new sandbox has nothing installed).
    let remote = !sandbox.state_is_local();
    let marker = state_dir.filter(|_| !remote).map(|d| d.join("installed"));
    if let Some(m) = &marker
        && std::fs::read_to_string(m).is_ok_and(|s| s.trim() == hash)
    {
        return Ok(());
    }
    if remote
        && sandbox
            .read_file(REMOTE_INSTALL_MARKER)
            .await
            .is_ok_and(|s| String::from_utf8_lossy(&s).trim() == hash)
    {
        return Ok(());
    }
    let total = config.install_commands.len();
    for (i, script) in config.install_commands.iter().enumerate() {
        let mut command = Command::shell(script.clone());
        command.cwd = config.cwd.clone();
        command.network = Some(NetworkPolicy::All);
        command.timeout = Some(INSTALL_TIMEOUT);
        emit(StartEvent::InstallStarted {
            server: config.name.clone(),
            index: i + 1,
            total,
            command: script.clone(),
        });
        let out: ExecOutput = sandbox.exec(command).await.map_err(|e| {
            let message = format!(
                "install command {} of {total} for `{}` (`{script}`) failed: {}",
                i + 1,
                config.name,
                e.message()
            );
            Error::new(ErrorKind::InstallFailed, message).with_source(e)
        })?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        emit(StartEvent::InstallFinished {
            server: config.name.clone(),
            index: i + 1,
            status: out.status,
            output: text.clone(),
        });
        if !out.status.success() {
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(INSTALL_TAIL_LINES)..].join("\n");
            return Err(Error::new(
                ErrorKind::InstallFailed,
                format!(
                    "install command {} of {total} for `{}` (`{script}`) failed with {}:\n{tail}",
                    i + 1,
                    config.name,
                    out.status
                ),
            ));
        }
    }
    if let Some(m) = marker {
        std::fs::write(&m, hash).map_err(|e| Error::io(m.display(), e))?;
    }
    if remote {
        sandbox
            .write_file(REMOTE_INSTALL_MARKER, hash.as_bytes())
            .await?;
    }
    Ok(())
}

/// Where a remote sandbox keeps the hash of its completed install commands.
const REMOTE_INSTALL_MARKER: &str = ".corral/installed";

/// A stable hash of everything that makes a server instance (remote sandboxes are shared by
/// it between corrals of one home).
fn config_hash(config: &ServerConfig) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("{config:?}").as_bytes());
    hasher
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A handle on one server's warm session.
pub struct ServerSession {
    corral: Corral,
    slot: Arc<Slot>,
    live: Arc<Live>,
}

impl std::fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSession")
            .field("server", &self.slot.config.name)
            .field("session_id", &self.live.id)
            .finish_non_exhaustive()
    }
}

impl ServerSession {
    /// The server's name.
    pub fn server(&self) -> &str {
        &self.slot.config.name
    }

    /// This server instance's id (changes when the server restarts).
    pub fn session_id(&self) -> &str {
        &self.live.id
    }

    /// The sandbox's id (`None` for remote servers).
    pub fn sandbox_id(&self) -> Option<&str> {
        self.live.sandbox.as_ref().map(|s| s.id())
    }

    /// The negotiated MCP protocol version.
    pub fn protocol_version(&self) -> &str {
        self.live.session.protocol_version()
    }

    /// The server's tools (filtered by its config).
    pub async fn list_tools(&self) -> Result<Vec<Tool>> {
        Ok(self
            .corral
            .tools_of(&self.slot, &self.live)
            .await?
            .as_ref()
            .clone())
    }

    /// Calls a tool.
    pub async fn call_tool(&self, tool: &str, arguments: Value) -> Result<ToolResult> {
        self.call_tool_with(tool, arguments, CallOptions::default())
            .await
    }

    /// Calls a tool with options.
    pub async fn call_tool_with(
        &self,
        tool: &str,
        arguments: Value,
        options: CallOptions,
    ) -> Result<ToolResult> {
        self.corral.check_open()?;
        check_arguments(&arguments)?;
        if !self.slot.config.tools.permits(tool) {
            return Err(tool_not_found(self.server(), tool, None));
        }
        self.corral
            .call(&self.slot, &self.live, tool, arguments, options)
            .await
    }

    /// The server's resources.
    pub async fn list_resources(&self) -> Result<Vec<Resource>> {
        self.live.session.list_resources().await
    }

    /// Reads one resource.
    pub async fn read_resource(&self, uri: &str) -> Result<Vec<ResourceContents>> {
        self.live.session.read_resource(uri).await
    }

    /// The server's prompts.
    pub async fn list_prompts(&self) -> Result<Vec<Prompt>> {
        self.live.session.list_prompts().await
    }

    /// Renders a prompt.
    pub async fn get_prompt(&self, name: &str, arguments: Value) -> Result<PromptResult> {
        self.live.session.get_prompt(name, arguments).await
    }

    /// The last lines the server wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        self.live.session.stderr_tail()
    }

    /// The MCP session itself (the gateway forwards through it).
    pub(crate) fn mcp(&self) -> &Session {
        &self.live.session
    }

    /// The server's config.
    pub(crate) fn config(&self) -> &ServerConfig {
        &self.slot.config
    }

    /// Calls a tool in rmcp's model, with the runner's timeout and crash handling.
    pub(crate) async fn call_tool_mcp(
        &self,
        params: rmcp::model::CallToolRequestParams,
        options: CallOptions,
    ) -> Result<rmcp::model::CallToolResult> {
        self.corral.check_open()?;
        self.corral
            .call_mcp(&self.slot, &self.live, params, options)
            .await
    }
}

/// A sandbox made by [`Corral::sandbox`]; killed on [`SandboxHandle::close`], on drop, or when
/// the corral closes.
#[derive(Clone)]
pub struct SandboxHandle {
    sandbox: Arc<dyn Sandbox>,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("id", &self.sandbox.id())
            .finish()
    }
}

impl SandboxHandle {
    /// Its id.
    pub fn id(&self) -> &str {
        self.sandbox.id()
    }

    /// Runs a shell command (`sh -c`) to completion.
    pub async fn exec(&self, script: &str) -> Result<ExecOutput> {
        self.sandbox.exec(Command::shell(script)).await
    }

    /// Runs a command to completion.
    pub async fn exec_command(&self, command: Command) -> Result<ExecOutput> {
        self.sandbox.exec(command).await
    }

    /// Reads a file as the sandbox sees it.
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        self.sandbox.read_file(path).await
    }

    /// Writes a file as the sandbox sees it.
    pub async fn write_file(&self, path: &str, data: &[u8]) -> Result<()> {
        self.sandbox.write_file(path, data).await
    }

    /// Kills everything in it. Idempotent.
    pub async fn close(&self) -> Result<()> {
        self.sandbox.kill().await
    }

    /// The underlying sandbox.
    pub fn inner(&self) -> &Arc<dyn Sandbox> {
        &self.sandbox
    }
}
