//! `Corral`: the runner. Every method is a thin shim over `corral_core::Corral`; every I/O
//! method returns a Promise and runs on the addon's runtime, never on the JS thread.

use corral_core as core;
use napi::{
    Either, Env,
    bindgen_prelude::{ClassInstance, Function, Object},
};
use napi_derive::napi;
use serde_json::Value;

use crate::{
    errors,
    gateway::{self, Gateway},
    runtime::{self, Owned, Promise, promise, run},
    sandbox::Sandbox,
    session::ServerSession,
    types::{self, CorralOptions, ServerConfig, Tool, ToolResult},
};

/// The runner: configure servers, then discover and call their tools. Each server runs in its
/// own sandbox with one warm MCP session shared by concurrent calls.
#[napi]
pub struct Corral {
    inner: Owned<core::Corral>,
    gateways: gateway::Registry,
}

impl Corral {
    fn wrap(inner: core::Corral) -> Self {
        Self {
            inner: Owned::new(inner),
            gateways: gateway::Registry::default(),
        }
    }
}

/// Garbage-collected without `close()`: its servers are stopped now (no orphans), with a warning.
impl Drop for Corral {
    fn drop(&mut self) {
        if !self.inner.is_closed() && !self.inner.list_servers().is_empty() {
            eprintln!(
                "corral: warning: a Corral was garbage-collected without close(); its servers are stopped now"
            );
        }
        let gateways = self
            .gateways
            .lock()
            .map(|mut list| std::mem::take(&mut *list))
            .unwrap_or_default();
        runtime::enter(move || drop(gateways));
    }
}

#[napi]
impl Corral {
    /// `new Corral({provider: 'local' | 'unsandboxed', home})`; both optional. Throws
    /// `SANDBOX_FAILED` when bubblewrap is missing or cannot create namespaces.
    #[napi(catch_unwind, constructor)]
    pub fn new(env: Env, options: Option<CorralOptions>) -> napi::Result<Self> {
        let options = options.unwrap_or_default().into();
        let inner = runtime::enter(|| core::Corral::with_options(options))
            .map_err(|e| errors::to_js(&env, &e))?;
        Ok(Self::wrap(inner))
    }

    /// Like the constructor, without blocking the event loop: the constructor checks that
    /// bubblewrap works (a few milliseconds, synchronously); this does it on corral's thread.
    #[napi(catch_unwind, ts_return_type = "Promise<Corral>")]
    pub fn create<'env>(env: &'env Env, options: Option<CorralOptions>) -> Promise<'env, Corral> {
        let options: core::CorralOptions = options.unwrap_or_default().into();
        run(
            env,
            async move { core::Corral::with_options(options) },
            Corral::wrap,
        )
    }

    /// corral's home directory.
    #[napi(catch_unwind, getter)]
    pub fn home(&self) -> String {
        self.inner.home().display().to_string()
    }

    /// The sandbox provider's name.
    #[napi(catch_unwind, getter)]
    pub fn provider(&self) -> &'static str {
        self.inner.provider_name()
    }

    /// Whether `close()` was called.
    #[napi(catch_unwind, getter)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Adds (or replaces) a server. A replaced server's running instance is stopped.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn add_server<'env>(&self, env: &'env Env, config: &ServerConfig) -> Promise<'env, ()> {
        let (c, config) = (self.inner.clone(), config.inner.clone());
        run(env, async move { c.add_server(config).await }, drop)
    }

    /// Adds a server from a dict in any accepted form (corral's, e2b-mcp's, an `mcpServers` entry).
    #[napi(
        catch_unwind,
        ts_args_type = "name: string, config: ServerConfigDict",
        ts_return_type = "Promise<void>"
    )]
    pub fn add_server_from_dict<'env>(
        &self,
        env: &'env Env,
        name: String,
        config: Value,
    ) -> Promise<'env, ()> {
        let c = self.inner.clone();
        run(
            env,
            async move { c.add_server_from_dict(&name, &config).await },
            drop,
        )
    }

    /// Adds every server of an `mcpServers` (or corral) document — JSON or TOML text, or an
    /// object — and resolves with their names.
    #[napi(
        catch_unwind,
        ts_args_type = "document: string | Record<string, any>",
        ts_return_type = "Promise<string[]>"
    )]
    pub fn load_mcp_servers<'env>(
        &self,
        env: &'env Env,
        document: Value,
    ) -> Promise<'env, Vec<String>> {
        let c = self.inner.clone();
        let load = async move {
            match document {
                Value::String(text) => c.load_mcp_servers(&text).await,
                other => c.load_mcp_servers_value(&other).await,
            }
        };
        run(env, load, |names| names)
    }

    /// Like `loadMcpServers`, reading the document from a file (e.g. `~/.cursor/mcp.json`).
    #[napi(catch_unwind, ts_return_type = "Promise<string[]>")]
    pub fn load_mcp_servers_file<'env>(
        &self,
        env: &'env Env,
        path: String,
    ) -> Promise<'env, Vec<String>> {
        let c = self.inner.clone();
        run(
            env,
            async move { c.load_mcp_servers_file(path.as_ref()).await },
            |names| names,
        )
    }

    /// Removes a server, stopping it if it runs.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn remove_server<'env>(&self, env: &'env Env, name: String) -> Promise<'env, ()> {
        let c = self.inner.clone();
        run(env, async move { c.remove_server(&name).await }, drop)
    }

    /// The configured servers, sorted by name.
    #[napi(catch_unwind)]
    pub fn list_servers(&self) -> Vec<ServerConfig> {
        let servers = self.inner.list_servers();
        servers
            .into_iter()
            .map(|inner| ServerConfig { inner })
            .collect()
    }

    /// The config of one server (throws `SERVER_NOT_FOUND`).
    #[napi(catch_unwind)]
    pub fn server(&self, env: Env, name: String) -> napi::Result<ServerConfig> {
        let inner = self
            .inner
            .server(&name)
            .map_err(|e| errors::to_js(&env, &e))?;
        Ok(ServerConfig { inner })
    }

    /// The server's tools (allowed by its filters), starting it if needed. Cached; refreshed
    /// when the server says its list changed.
    #[napi(catch_unwind, ts_return_type = "Promise<Tool[]>")]
    pub fn discover_tools<'env>(&self, env: &'env Env, server: String) -> Promise<'env, Vec<Tool>> {
        let c = self.inner.clone();
        run(
            env,
            async move { c.discover_tools(&server).await },
            Tool::list,
        )
    }

    /// Calls a tool with JSON-object arguments. A tool that reports failure resolves with
    /// `isError === true`; corral's own failures reject with an `Error` whose `code` says why.
    #[napi(
        catch_unwind,
        ts_args_type = "server: string, tool: string, args?: Record<string, any>, options?: CallOptions",
        ts_return_type = "Promise<ToolResult>"
    )]
    pub fn execute_tool<'env>(
        &self,
        env: &'env Env,
        server: String,
        tool: String,
        args: Option<Value>,
        options: Option<Object>,
    ) -> Promise<'env, ToolResult> {
        let c = self.inner.clone();
        let args = args.unwrap_or(Value::Null);
        let call = types::call_options(env, options).map(|(options, hook)| {
            let call = async move { c.execute_tool_with(&server, &tool, args, options).await };
            (call, hook)
        });
        promise(env, call, ToolResult::from)
    }

    /// A handle on the server's warm session (started if needed), for resources, prompts and
    /// repeated calls. `await using s = await corral.session('fx')` releases it.
    #[napi(catch_unwind, ts_return_type = "Promise<ServerSession>")]
    pub fn session<'env>(&self, env: &'env Env, server: String) -> Promise<'env, ServerSession> {
        let c = self.inner.clone();
        run(
            env,
            async move { c.session(&server).await },
            ServerSession::new,
        )
    }

    /// One-shot: starts `server` (a command line or a `ServerConfig`) in a fresh sandbox,
    /// calls `tool`, stops it. Saves nothing.
    #[napi(
        catch_unwind,
        ts_args_type = "server: string | ServerConfig, tool: string, args?: Record<string, any>",
        ts_return_type = "Promise<ToolResult>"
    )]
    pub fn quick<'env>(
        &self,
        env: &'env Env,
        server: Either<String, ClassInstance<ServerConfig>>,
        tool: String,
        args: Option<Value>,
    ) -> Promise<'env, ToolResult> {
        let c = self.inner.clone();
        let args = args.unwrap_or(Value::Null);
        let config = match server {
            Either::A(command) => core::ServerConfig::command("quick", &command),
            Either::B(config) => Ok(config.inner.clone()),
        };
        let call =
            config.map(|config| (async move { c.quick_with(config, &tool, args).await }, None));
        promise(env, call, ToolResult::from)
    }

    /// A sandbox of your own for `exec`, `readFile` and `writeFile`:
    /// `{name?, env?, network?, mounts?, limits?, template?}` (the server config's forms).
    #[napi(
        catch_unwind,
        ts_args_type = "config?: SandboxOptions",
        ts_return_type = "Promise<Sandbox>"
    )]
    pub fn sandbox<'env>(&self, env: &'env Env, config: Option<Value>) -> Promise<'env, Sandbox> {
        let c = self.inner.clone();
        let config = core::SandboxConfig::from_value(&config.unwrap_or(Value::Null));
        let call = config.map(|config| (async move { c.sandbox(config).await }, None));
        promise(env, call, Sandbox::new)
    }

    /// Builds template `name` from shell commands (on top of template `base`, if given): a
    /// content-addressed layer that servers and sandboxes start from (`template: name`).
    /// Building the same content again reuses it. A failing command rejects with
    /// `INSTALL_FAILED`.
    #[napi(
        catch_unwind,
        ts_args_type = "name: string, installCommands: string[], base?: string | undefined | null",
        ts_return_type = "Promise<TemplateInfo>"
    )]
    pub fn build_template<'env>(
        &self,
        env: &'env Env,
        name: String,
        install_commands: Vec<String>,
        base: Option<String>,
    ) -> Promise<'env, Value> {
        let c = self.inner.clone();
        let build = async move {
            c.build_template(&name, &install_commands, base.as_deref())
                .await
        };
        run(env, build, |t| types::json(&t))
    }

    /// The built templates.
    #[napi(catch_unwind, ts_return_type = "Promise<TemplateInfo[]>")]
    pub fn list_templates<'env>(&self, env: &'env Env) -> Promise<'env, Value> {
        let c = self.inner.clone();
        run(env, async move { Ok(c.list_templates()) }, |t| {
            types::json(&t)
        })
    }

    /// Removes a template (sandboxes running from it keep it until they stop).
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn remove_template<'env>(&self, env: &'env Env, name: String) -> Promise<'env, ()> {
        let c = self.inner.clone();
        run(env, async move { c.remove_template(&name) }, drop)
    }

    /// Removes the on-disk layers no configured server uses any more, and leftovers of dead
    /// processes; running sandboxes are never touched.
    #[napi(catch_unwind, ts_return_type = "Promise<PruneReport>")]
    pub fn prune<'env>(&self, env: &'env Env) -> Promise<'env, Value> {
        let c = self.inner.clone();
        run(env, async move { c.prune() }, |r| types::json(&r))
    }

    /// Receives log messages of every server started from now on (`undefined` to stop).
    /// The callback never keeps the process alive.
    #[napi(
        catch_unwind,
        ts_args_type = "callback?: ((message: LogMessage) => void) | undefined | null"
    )]
    pub fn set_log_callback(
        &self,
        env: Env,
        callback: Option<Function<Value, ()>>,
    ) -> napi::Result<()> {
        let f =
            types::callback::<core::LogMessage>(callback).map_err(|e| errors::to_js(&env, &e))?;
        self.inner.set_log_callback(f);
        Ok(())
    }

    /// Receives the install and start events (`StartEvent`) of every server started from now
    /// on (`undefined` to stop). The callback never keeps the process alive.
    #[napi(
        catch_unwind,
        ts_args_type = "callback?: ((event: StartEvent) => void) | undefined | null"
    )]
    pub fn set_start_callback(
        &self,
        env: Env,
        callback: Option<Function<Value, ()>>,
    ) -> napi::Result<()> {
        let f =
            types::callback::<core::StartEvent>(callback).map_err(|e| errors::to_js(&env, &e))?;
        self.inner.set_start_callback(f);
        Ok(())
    }

    /// Publishes the servers (all, or `options.servers`) behind one authenticated
    /// Streamable-HTTP MCP endpoint on 127.0.0.1 (unless `host` says otherwise). The gateway
    /// runs until `gateway.close()` or until this corral closes.
    #[napi(
        catch_unwind,
        ts_args_type = "options?: GatewayOptions",
        ts_return_type = "Promise<Gateway>"
    )]
    pub fn start_gateway<'env>(
        &self,
        env: &'env Env,
        options: Option<Value>,
    ) -> Promise<'env, Gateway> {
        let start = gateway::start(
            self.inner.clone(),
            self.gateways.clone(),
            gateway::options(options),
        );
        run(env, start, Gateway::new)
    }

    /// Stops every gateway, server and sandbox. Idempotent; later calls reject with `CLOSED`.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Promise<'env, ()> {
        let (c, gateways) = (self.inner.clone(), self.gateways.clone());
        let close = async move {
            gateway::close_all(&gateways).await;
            c.close().await;
            Ok(())
        };
        run(env, close, drop)
    }

    /// `await using corral = new Corral()` closes it at the end of the scope.
    #[napi(
        catch_unwind,
        well_known_symbol = "asyncDispose",
        ts_return_type = "Promise<void>"
    )]
    pub fn async_dispose<'env>(&self, env: &'env Env) -> Promise<'env, ()> {
        self.close(env)
    }
}
