//! The runner, `Corral`, the handle of a started call, `ToolCall`, and the foreign-implemented
//! listeners. Each method is a thin shim over `corral_core`: convert the arguments, hand the work
//! to the shared runtime (`rt::run`), convert the result.

use std::{path::PathBuf, sync::Arc};

use corral_core as core;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{
    errors::{CorralError, ErrorKind},
    gateway::{Gateway, GatewayOptions},
    runtime as rt,
    sandbox::Sandbox,
    session::ServerSession,
    types::{
        CallOptions, CorralOptions, JsonForm, LogMessage, Progress, PruneReport, SandboxConfig,
        ServerConfig, StartEvent, TemplateInfo, Tool, ToolResult, all, parse_json,
    },
};

pub(crate) type Result<T, E = CorralError> = std::result::Result<T, E>;

/// Receives the progress reports of one call. Called on one of corral's threads: return
/// quickly. An exception thrown here is ignored.
#[uniffi::export(foreign)]
pub trait ProgressListener: Send + Sync {
    fn on_progress(&self, progress: Progress) -> Result<()>;
}

/// Receives the log messages servers send. Called on one of corral's threads: return quickly.
/// An exception thrown here is ignored.
#[uniffi::export(foreign)]
pub trait LogListener: Send + Sync {
    fn on_log(&self, message: LogMessage) -> Result<()>;
}

/// Receives start-up events (install commands, server start) of every server. Called on one
/// of corral's threads: return quickly. An exception thrown here is ignored.
#[uniffi::export(foreign)]
pub trait StartListener: Send + Sync {
    fn on_start(&self, event: StartEvent) -> Result<()>;
}

/// The core's call options, with the listener and cancellation wired in.
fn call_options(
    options: Option<CallOptions>,
    on_progress: Option<Arc<dyn ProgressListener>>,
    cancel: CancellationToken,
) -> core::CallOptions {
    let options = options.unwrap_or_default();
    core::CallOptions {
        timeout: options.timeout,
        max_total: options.max_total,
        on_progress: on_progress.map(|l| -> core::ProgressCallback {
            Arc::new(move |p: core::Progress| {
                let _ = l.on_progress(p.into());
            })
        }),
        cancel: Some(cancel),
    }
}

/// The runner: configure servers, then discover and call their tools. Closing it (`close()`
/// in Swift, `shutdown()` in Kotlin) stops every gateway, server and sandbox it started.
/// Freeing it without closing (Kotlin's `close()` / `use {}`, Swift's deinit) is the core's
/// drop: once its gateways, sessions and sandboxes are freed too, its servers are killed.
#[derive(uniffi::Object)]
pub struct Corral {
    core: core::Corral,
}

#[uniffi::export]
impl Corral {
    /// A runner. `options` picks the provider (`local` bubblewrap by default) and the home.
    #[uniffi::constructor(default(options = None))]
    pub fn new(options: Option<CorralOptions>) -> Result<Arc<Self>> {
        let _guard = rt::enter();
        let core = core::Corral::with_options(options.unwrap_or_default())?;
        Ok(Arc::new(Self { core }))
    }

    /// corral's home directory.
    pub fn home(&self) -> String {
        self.core.home().display().to_string()
    }

    /// The provider's name (`local`, `unsandboxed`).
    pub fn provider_name(&self) -> String {
        self.core.provider_name().to_owned()
    }

    /// Receives the log messages of every server started from now on (`null` to stop).
    pub fn set_log_callback(&self, listener: Option<Arc<dyn LogListener>>) {
        self.core
            .set_log_callback(listener.map(|l| -> core::LogCallback {
                Arc::new(move |m: core::LogMessage| {
                    let _ = l.on_log(m);
                })
            }));
    }

    /// Receives start-up events (install commands, server start) of every server (`null` to stop).
    pub fn set_start_callback(&self, listener: Option<Arc<dyn StartListener>>) {
        self.core
            .set_start_callback(listener.map(|l| -> core::StartCallback {
                Arc::new(move |e: core::StartEvent| {
                    if let Some(e) = StartEvent::from_core(e) {
                        let _ = l.on_start(e);
                    }
                })
            }));
    }

    /// Adds (or replaces) a server. A replaced server's running instance is stopped.
    pub async fn add_server(&self, config: ServerConfig) -> Result<()> {
        let core = self.core.clone();
        rt::run(async move { Ok(core.add_server(config.into()).await?) }).await
    }

    /// Adds a server from JSON text in any accepted config form (corral's own, the e2b dict,
    /// an `mcpServers` entry): the `add_server_from_dict` of the other languages.
    pub async fn add_server_from_json(&self, name: String, config: String) -> Result<()> {
        let core = self.core.clone();
        let value = parse_json("config", &config)?;
        rt::run(async move { Ok(core.add_server_from_dict(&name, &value).await?) }).await
    }

    /// Adds every server of an MCP client's document (`mcpServers`, `servers`, …: Claude
    /// Desktop, Cursor, VS Code, Codex, … — the README's table) or a corral document, JSON or
    /// TOML text. Returns their names. For documents you trust: `mount_args`
    /// mounts the existing host paths each entry's arguments name, read-write at the same path
    /// (a `filesystem` server's directories); `expand_env` expands `${VAR}` and
    /// `${VAR:-default}` in its command, args, env, url and headers from this process's
    /// environment, as Claude Code.
    #[uniffi::method(default(mount_args = false, expand_env = false))]
    pub async fn load_mcp_servers(
        &self,
        document: String,
        mount_args: bool,
        expand_env: bool,
    ) -> Result<Vec<String>> {
        let (core, options) = (
            self.core.clone(),
            core::LoadOptions::new(mount_args, expand_env),
        );
        rt::run(async move { Ok(core.load_mcp_servers(&document, options).await?) }).await
    }

    /// Like `load_mcp_servers`, reading the document from a file.
    #[uniffi::method(default(mount_args = false, expand_env = false))]
    pub async fn load_mcp_servers_file(
        &self,
        path: String,
        mount_args: bool,
        expand_env: bool,
    ) -> Result<Vec<String>> {
        let (core, options) = (
            self.core.clone(),
            core::LoadOptions::new(mount_args, expand_env),
        );
        rt::run(async move {
            Ok(core
                .load_mcp_servers_file(&PathBuf::from(path), options)
                .await?)
        })
        .await
    }

    /// Removes a server, stopping it if it runs.
    pub async fn remove_server(&self, name: String) -> Result<()> {
        let core = self.core.clone();
        rt::run(async move { Ok(core.remove_server(&name).await?) }).await
    }

    /// The configured servers, by name.
    pub fn list_servers(&self) -> Vec<ServerConfig> {
        all(self.core.list_servers())
    }

    /// The config of one server.
    pub fn server(&self, name: String) -> Result<ServerConfig> {
        Ok(self.core.server(&name)?.into())
    }

    /// The server's tools (allowed by its filter); starts it if needed. Cached.
    pub async fn discover_tools(&self, server: String) -> Result<Vec<Tool>> {
        let core = self.core.clone();
        rt::run(async move { Ok(all(core.discover_tools(&server).await?)) }).await
    }

    /// Calls a tool. `arguments` is JSON text of an object. Cancelling the caller (coroutine,
    /// task) cancels the call.
    #[uniffi::method(default(arguments = "{}", options = None, on_progress = None))]
    pub async fn execute_tool(
        &self,
        server: String,
        tool: String,
        arguments: String,
        options: Option<CallOptions>,
        on_progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<ToolResult> {
        let call = self.start_tool(server, tool, arguments, options, on_progress)?;
        call.finish().await
    }

    /// Starts a tool call and returns its handle at once: `cancel()` it, or await `result()`.
    #[uniffi::method(default(arguments = "{}", options = None, on_progress = None))]
    pub fn start_tool(
        &self,
        server: String,
        tool: String,
        arguments: String,
        options: Option<CallOptions>,
        on_progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<Arc<ToolCall>> {
        let core = self.core.clone();
        let arguments = parse_json("arguments", &arguments)?;
        ToolCall::start(options, on_progress, move |options| async move {
            core.execute_tool_with(&server, &tool, arguments, options)
                .await
        })
    }

    /// A handle on the server's warm session (started if needed) for resources, prompts and
    /// repeated calls. Freeing the handle leaves the shared session running.
    pub async fn session(&self, server: String) -> Result<Arc<ServerSession>> {
        let core = self.core.clone();
        rt::run(async move {
            let session = core.session(&server).await?;
            Ok(ServerSession::new(session))
        })
        .await
    }

    /// One-shot: starts `command` in a fresh sandbox, calls `tool`, stops it. Saves nothing.
    #[uniffi::method(default(arguments = "{}"))]
    pub async fn quick(
        &self,
        command: String,
        tool: String,
        arguments: String,
    ) -> Result<ToolResult> {
        let config = core::ServerConfig::command("quick", &command)?;
        self.quick_with(config.into(), tool, arguments).await
    }

    /// One-shot with a full config.
    #[uniffi::method(default(arguments = "{}"))]
    pub async fn quick_with(
        &self,
        config: ServerConfig,
        tool: String,
        arguments: String,
    ) -> Result<ToolResult> {
        let core = self.core.clone();
        let arguments = parse_json("arguments", &arguments)?;
        rt::run(async move {
            Ok(core
                .quick_with(config.into(), &tool, arguments)
                .await?
                .into())
        })
        .await
    }

    /// A sandbox of your own for `exec`, `readFile` and `writeFile`.
    #[uniffi::method(default(config = None))]
    pub async fn sandbox(&self, config: Option<SandboxConfig>) -> Result<Arc<Sandbox>> {
        let core = self.core.clone();
        rt::run(async move {
            let sandbox = core.sandbox(config.unwrap_or_default().to_core()?).await?;
            Ok(Sandbox::new(sandbox))
        })
        .await
    }

    /// Publishes this corral's servers (all, or `options.servers`) behind one authenticated
    /// Streamable-HTTP MCP endpoint on 127.0.0.1 (unless `options.host` says otherwise).
    #[uniffi::method(default(options = None))]
    pub async fn start_gateway(&self, options: Option<GatewayOptions>) -> Result<Arc<Gateway>> {
        let core = self.core.clone();
        let options = options.unwrap_or_default().to_core()?;
        rt::run(async move { Ok(Gateway::new(core.start_gateway(options).await?)) }).await
    }

    /// Builds a template once from install commands (on top of `base`, another template):
    /// servers and sandboxes with `template = name` start from it. Building the same commands
    /// again reuses the layer.
    #[uniffi::method(default(base = None))]
    pub async fn build_template(
        &self,
        name: String,
        install_commands: Vec<String>,
        base: Option<String>,
    ) -> Result<TemplateInfo> {
        let core = self.core.clone();
        rt::run(async move {
            let t = core.build_template(&name, &install_commands, base.as_deref());
            Ok(t.await?.into())
        })
        .await
    }

    /// The built templates, by name.
    pub fn list_templates(&self) -> Result<Vec<TemplateInfo>> {
        Ok(all(self.core.list_templates()))
    }

    /// Removes a template (sandboxes running from it keep it until they stop).
    pub fn remove_template(&self, name: String) -> Result<()> {
        Ok(self.core.remove_template(&name)?)
    }

    /// Removes the layers no configured server uses any more; says what it freed.
    pub fn prune(&self) -> Result<PruneReport> {
        Ok(self.core.prune()?)
    }

    /// Stops every gateway, server and sandbox. Idempotent; later calls fail with `CLOSED`.
    /// (`shutdown()` in Kotlin, where `close()` is `AutoCloseable`'s.)
    pub async fn close(&self) {
        let core = self.core.clone();
        let _ = rt::run_detached(async move {
            core.close().await;
            Ok(())
        })
        .await;
    }

    /// Whether it was closed.
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }
}

type Outcome = Option<Result<ToolResult>>;

/// A running tool call: `cancel()` it, or await its `result()` (as often as you like).
#[derive(uniffi::Object)]
pub struct ToolCall {
    cancel: CancellationToken,
    done: watch::Receiver<Outcome>,
}

impl ToolCall {
    pub(crate) fn start<C, F>(
        options: Option<CallOptions>,
        on_progress: Option<Arc<dyn ProgressListener>>,
        call: C,
    ) -> Result<Arc<Self>>
    where
        C: FnOnce(core::CallOptions) -> F,
        F: Future<Output = core::Result<core::ToolResult>> + Send + 'static,
    {
        let cancel = CancellationToken::new();
        let fut = call(call_options(options, on_progress, cancel.clone()));
        let (tx, done) = watch::channel(None);
        rt::spawn(async move {
            let outcome = fut.await.map(Into::into).map_err(Into::into);
            let _ = tx.send(Some(outcome));
        })?;
        Ok(Arc::new(Self { cancel, done }))
    }

    /// Waits for the result; if the caller stops waiting, the call is cancelled the MCP way
    /// (`notifications/cancelled`) rather than dropped.
    pub(crate) async fn finish(&self) -> Result<ToolResult> {
        let _cancel_on_drop = self.cancel.clone().drop_guard();
        self.result().await
    }
}

#[uniffi::export]
impl ToolCall {
    /// Cancels the call (sends `notifications/cancelled`); its result becomes a `CANCELLED`
    /// error unless it already finished. Idempotent.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Whether the call has finished.
    pub fn is_done(&self) -> bool {
        self.done.borrow().is_some()
    }

    /// Waits for the call's result. Cancelling the waiter does not cancel the call.
    pub async fn result(&self) -> Result<ToolResult> {
        let mut done = self.done.clone();
        rt::run(async move {
            match done.wait_for(Option::is_some).await {
                Ok(outcome) => outcome.clone().unwrap_or_else(unfinished),
                Err(_) => unfinished(),
            }
        })
        .await
    }
}

fn unfinished() -> Result<ToolResult> {
    Err(CorralError::new(
        ErrorKind::Internal,
        "the call ended without a result",
    ))
}
