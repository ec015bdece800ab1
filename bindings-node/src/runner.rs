//! `Corral`: the runner. Every method is a thin shim over `corral_core::Corral`; every I/O
//! method returns a Promise and runs on the addon's runtime, never on the JS thread.

use std::sync::Arc;

use corral_core::{self as core, sync::lock};
use napi::{
    Either, Env,
    bindgen_prelude::{ClassInstance, Function, Object},
};
use napi_derive::napi;
use serde_json::Value;

use crate::{
    errors,
    gateway::{self, Gateway},
    runtime::{self, Promise, ok, run},
    sandbox::Sandbox,
    session::ServerSession,
    types::{self, CorralOptions, ServerConfig, Tool, ToolResult, json},
};

/// The runner: configure servers, then discover and call their tools. Each server runs in its
/// own sandbox with one warm MCP session shared by concurrent calls.
#[napi]
pub struct Corral {
    inner: core::Corral,
    gateways: gateway::Kept,
}

impl From<core::Corral> for Corral {
    fn from(inner: core::Corral) -> Self {
        let gateways = gateway::Kept::default();
        Self { inner, gateways }
    }
}

impl Corral {
    fn core(&self) -> core::Corral {
        self.inner.clone()
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
    }
}

#[napi]
impl Corral {
    /// `new Corral({provider: 'local' | 'unsandboxed', home})`; both optional. Throws
    /// `SANDBOX_FAILED` when bubblewrap is missing or cannot create namespaces.
    #[napi(catch_unwind, constructor)]
    pub fn new(env: Env, options: Option<CorralOptions>) -> napi::Result<Self> {
        let options = options.unwrap_or_default().into();
        errors::throw(
            &env,
            runtime::enter(|| core::Corral::with_options(options)).map(Self::from),
        )
    }

    /// Like the constructor, without blocking the event loop: the constructor checks that
    /// bubblewrap works (a few milliseconds, synchronously); this does it on corral's thread.
    #[napi(catch_unwind, ts_return_type = "Promise<Corral>")]
    pub fn create<'env>(env: &'env Env, options: Option<CorralOptions>) -> Promise<'env, Corral> {
        let options: core::CorralOptions = options.unwrap_or_default().into();
        run(
            env,
            None,
            async move { core::Corral::with_options(options) },
            Self::from,
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

    /// The configured servers, sorted by name.
    #[napi(catch_unwind)]
    pub fn list_servers(&self) -> Vec<ServerConfig> {
        let servers = self.inner.list_servers();
        servers.into_iter().map(ServerConfig::from).collect()
    }

    /// The config of one server (throws `SERVER_NOT_FOUND`).
    #[napi(catch_unwind)]
    pub fn server(&self, env: Env, name: String) -> napi::Result<ServerConfig> {
        errors::throw(&env, self.inner.server(&name).map(ServerConfig::from))
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
        let (c, args) = (self.core(), args.unwrap_or_default());
        let (options, hook) = types::call_options(env, options);
        let call = async move { c.execute_tool_with(&server, &tool, args, options?).await };
        run(env, hook, call, ToolResult::from)
    }

    /// Receives log messages of every server started from now on (`undefined` to stop).
    /// The callback never keeps the process alive.
    #[napi(
        catch_unwind,
        ts_args_type = "callback?: ((message: LogMessage) => void) | undefined | null"
    )]
    pub fn set_log_callback(&self, env: Env, f: Option<Function<Value, ()>>) -> napi::Result<()> {
        let f = errors::throw(&env, types::callback(f))?;
        self.inner.set_log_callback(f);
        Ok(())
    }

    /// Receives the install and start events (`StartEvent`) of every server started from now
    /// on (`undefined` to stop). The callback never keeps the process alive.
    #[napi(
        catch_unwind,
        ts_args_type = "callback?: ((event: StartEvent) => void) | undefined | null"
    )]
    pub fn set_start_callback(&self, env: Env, f: Option<Function<Value, ()>>) -> napi::Result<()> {
        let f = errors::throw(&env, types::callback(f))?;
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
        opts: Option<Value>,
    ) -> Promise<'env, Gateway> {
        let (c, kept, options) = (self.core(), self.gateways.clone(), gateway::options(opts));
        let start = async move { Ok(Arc::new(c.start_gateway(options?).await?)) };
        run(env, None, start, move |g| {
            lock(&kept).push(Arc::clone(&g));
            Gateway::new(g, Some(kept))
        })
    }
}

runtime::promises! { Corral |c| {
    #[doc = "Adds (or replaces) a server. A replaced server's running instance is stopped."]
    fn add_server(config: &ServerConfig) -> () as "Promise<void>" =
        { let config = config.inner.clone(); async move { c.add_server(config).await } }, drop;

    #[doc = "Adds a server from a dict in any accepted form (corral's, e2b-mcp's, an `mcpServers` entry)."]
    fn add_server_from_dict(name: String, config: Value) -> () as "Promise<void>"
        ("name: string, config: ServerConfigDict") =
        async move { c.add_server_from_dict(&name, &config).await }, drop;

    #[doc = "Adds every server of an `mcpServers` (or corral) document — JSON or TOML text, or an"]
    #[doc = "object — and resolves with their names. For documents you trust: `mountArgs` mounts"]
    #[doc = "the existing host paths each entry's arguments name, read-write at the same path (a"]
    #[doc = "`filesystem` server's directories); `expandEnv` expands `${VAR}` and `${VAR:-default}`"]
    #[doc = "in its command, args, env, url and headers from this process's environment, as Claude"]
    #[doc = "Code."]
    fn load_mcp_servers(document: Value, options: Option<Value>) -> Vec<String> as "Promise<string[]>"
        ("document: string | Record<string, any>, options?: LoadOptions") = async move {
            let options = types::options(options, "options")?;
            match document {
                Value::String(text) => c.load_mcp_servers(&text, options).await,
                other => c.load_mcp_servers_value(&other, options).await,
            }
        }, |names| names;

    #[doc = "Like `loadMcpServers`, reading the document from a file (e.g. `~/.cursor/mcp.json`)."]
    fn load_mcp_servers_file(path: String, options: Option<Value>) -> Vec<String> as "Promise<string[]>"
        ("path: string, options?: LoadOptions") = async move {
            c.load_mcp_servers_file(path.as_ref(), types::options(options, "options")?).await
        }, |names| names;

    #[doc = "Removes a server, stopping it if it runs."]
    fn remove_server(name: String) -> () as "Promise<void>" =
        async move { c.remove_server(&name).await }, drop;

    #[doc = "The server's tools (allowed by its filters), starting it if needed. Cached; refreshed"]
    #[doc = "when the server says its list changed."]
    fn discover_tools(server: String) -> Vec<Tool> as "Promise<Tool[]>" =
        async move { c.discover_tools(&server).await }, Tool::list;

    #[doc = "A handle on the server's warm session (started if needed), for resources, prompts and"]
    #[doc = "repeated calls. `await using s = await corral.session('fx')` releases it."]
    fn session(server: String) -> ServerSession as "Promise<ServerSession>" =
        async move { c.session(&server).await }, ServerSession::new;

    #[doc = "One-shot: starts `server` (a command line or a `ServerConfig`) in a fresh sandbox,"]
    #[doc = "calls `tool`, stops it. Saves nothing."]
    fn quick(server: Either<String, ClassInstance<ServerConfig>>, tool: String, args: Option<Value>)
        -> ToolResult as "Promise<ToolResult>"
        ("server: string | ServerConfig, tool: string, args?: Record<string, any>") = {
        let config = match server {
            Either::A(command) => core::ServerConfig::command("quick", &command),
            Either::B(config) => Ok(config.inner.clone()),
        };
        async move { c.quick_with(config?, &tool, args.unwrap_or_default()).await }
    }, ToolResult::from;

    #[doc = "Stops every gateway, server and sandbox. Idempotent; later calls reject with `CLOSED`."]
    fn close() -> () as "Promise<void>" = ok(async move { c.close().await }), drop;

    #[doc = "A sandbox of your own for `exec`, `readFile` and `writeFile`:"]
    #[doc = "`{name?, env?, network?, mounts?, limits?, template?}` (the server config's forms)."]
    fn sandbox(config: Option<Value>) -> Sandbox as "Promise<Sandbox>" ("config?: SandboxOptions") = {
        let config = core::SandboxConfig::from_value(&config.unwrap_or_default());
        async move { c.sandbox(config?).await }
    }, Sandbox::from;

    #[doc = "Builds template `name` from shell commands (on top of template `base`, if given): a"]
    #[doc = "content-addressed layer that servers and sandboxes start from (`template: name`)."]
    #[doc = "Building the same content again reuses it. A failing command rejects with"]
    #[doc = "`INSTALL_FAILED`."]
    fn build_template(name: String, install_commands: Vec<String>, base: Option<String>)
        -> Value as "Promise<TemplateInfo>"
        ("name: string, installCommands: string[], base?: string | undefined | null") =
        async move { c.build_template(&name, &install_commands, base.as_deref()).await },
        |t| json(&t);

    #[doc = "The built templates."]
    fn list_templates() -> Value as "Promise<TemplateInfo[]>" =
        async move { Ok(c.list_templates()) }, |t| json(&t);

    #[doc = "Removes a template (sandboxes running from it keep it until they stop)."]
    fn remove_template(name: String) -> () as "Promise<void>" =
        async move { c.remove_template(&name) }, drop;

    #[doc = "Removes the on-disk layers no configured server uses any more, and leftovers of dead"]
    #[doc = "processes; running sandboxes are never touched."]
    fn prune() -> Value as "Promise<PruneReport>" = async move { c.prune() }, |r| json(&r);
} }

runtime::dispose!(
    Corral,
    "`await using corral = new Corral()` closes it at the end of the scope."
);
