//! `Corral`: the runner. Every method is a thin shim over `corral_core::Corral`; every I/O
//! method returns a Promise and runs on the addon's runtime, never on the JS thread.

use std::sync::Arc;

use corral_core as core;
use napi::{
    Env,
    bindgen_prelude::{Function, Object, PromiseRaw},
    threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode},
};
use napi_derive::napi;
use serde_json::Value;

use crate::{
    convert::{self, CorralOptions, LogMessage, ServerConfig, Tool, ToolResult},
    errors::{self, Code},
    runtime::{self, Owned},
    sandbox::Sandbox,
    session::ServerSession,
};

type Promise<'env, T> = napi::Result<PromiseRaw<'env, T>>;

/// The log callback as napi sees it: weak, so it never keeps Node alive.
type LogTsfn = ThreadsafeFunction<LogMessage, (), LogMessage, napi::Status, false, true>;

/// The runner: configure servers, then discover and call their tools. Each server runs in its
/// own sandbox with one warm MCP session shared by concurrent calls.
#[napi]
pub struct Corral {
    inner: Owned<core::Corral>,
}

#[napi]
impl Corral {
    /// `new Corral({provider: 'local' | 'unsandboxed', home})`; both optional. Throws
    /// `SANDBOX_FAILED` when bubblewrap is missing or cannot create namespaces.
    #[napi(catch_unwind, constructor)]
    pub fn new(env: Env, options: Option<CorralOptions>) -> napi::Result<Self> {
        let options = options.unwrap_or_default().into();
        let inner = runtime::enter(|| core::Corral::with_options(options))
            .map_err(|e| errors::thrown(&env, errors::to_js(e)))?;
        Ok(Self {
            inner: Owned::new(inner),
        })
    }

    /// Like the constructor, without blocking the event loop: the constructor checks that
    /// bubblewrap works (a few milliseconds, synchronously); this does it on corral's thread.
    #[napi(catch_unwind, ts_return_type = "Promise<Corral>")]
    pub fn create<'env>(env: &'env Env, options: Option<CorralOptions>) -> Promise<'env, Corral> {
        let options: core::CorralOptions = options.unwrap_or_default().into();
        runtime::promise(
            env,
            async move { core::Corral::with_options(options) },
            |_, inner| {
                Ok(Corral {
                    inner: Owned::new(inner),
                })
            },
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
        runtime::promise(env, async move { c.add_server(config).await }, |_, ()| {
            Ok(())
        })
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
        runtime::promise(
            env,
            async move { c.add_server_from_dict(&name, &config).await },
            |_, ()| Ok(()),
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
        runtime::promise(
            env,
            async move {
                match document {
                    Value::String(text) => c.load_mcp_servers(&text).await,
                    other => c.load_mcp_servers_value(&other).await,
                }
            },
            |_, names| Ok(names),
        )
    }

    /// Like `loadMcpServers`, reading the document from a file (e.g. `~/.cursor/mcp.json`).
    #[napi(catch_unwind, ts_return_type = "Promise<string[]>")]
    pub fn load_mcp_servers_file<'env>(
        &self,
        env: &'env Env,
        path: String,
    ) -> Promise<'env, Vec<String>> {
        let c = self.inner.clone();
        runtime::promise(
            env,
            async move { c.load_mcp_servers_file(path.as_ref()).await },
            |_, names| Ok(names),
        )
    }

    /// Removes a server, stopping it if it runs.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn remove_server<'env>(&self, env: &'env Env, name: String) -> Promise<'env, ()> {
        let c = self.inner.clone();
        runtime::promise(env, async move { c.remove_server(&name).await }, |_, ()| {
            Ok(())
        })
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
    pub fn server(&self, name: String) -> napi::Result<ServerConfig, Code> {
        let inner = self.inner.server(&name).map_err(errors::to_js)?;
        Ok(ServerConfig { inner })
    }

    /// The server's tools (allowed by its filters), starting it if needed. Cached; refreshed
    /// when the server says its list changed.
    #[napi(catch_unwind, ts_return_type = "Promise<Tool[]>")]
    pub fn discover_tools<'env>(&self, env: &'env Env, server: String) -> Promise<'env, Vec<Tool>> {
        let c = self.inner.clone();
        runtime::promise(
            env,
            async move { c.discover_tools(&server).await },
            |_, tools| Ok(tools.into_iter().map(|inner| Tool { inner }).collect()),
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
        let (options, hook) = match convert::call_options(env, options) {
            Ok(o) => o,
            Err(e) => return runtime::rejected(env, e),
        };
        let c = self.inner.clone();
        let args = args.unwrap_or(Value::Null);
        runtime::promise_with_hook(
            env,
            async move { c.execute_tool_with(&server, &tool, args, options).await },
            hook,
            |_, inner| Ok(ToolResult { inner }),
        )
    }

    /// A handle on the server's warm session (started if needed), for resources, prompts and
    /// repeated calls. `await using s = await corral.session('fx')` releases it.
    #[napi(catch_unwind, ts_return_type = "Promise<ServerSession>")]
    pub fn session<'env>(&self, env: &'env Env, server: String) -> Promise<'env, ServerSession> {
        let c = self.inner.clone();
        runtime::promise(env, async move { c.session(&server).await }, |_, s| {
            Ok(ServerSession::new(s))
        })
    }

    /// One-shot: starts `command` in a fresh sandbox, calls `tool`, stops it. Saves nothing.
    #[napi(
        catch_unwind,
        ts_args_type = "command: string, tool: string, args?: Record<string, any>",
        ts_return_type = "Promise<ToolResult>"
    )]
    pub fn quick<'env>(
        &self,
        env: &'env Env,
        command: String,
        tool: String,
        args: Option<Value>,
    ) -> Promise<'env, ToolResult> {
        let c = self.inner.clone();
        let args = args.unwrap_or(Value::Null);
        runtime::promise(
            env,
            async move { c.quick(&command, &tool, args).await },
            |_, inner| Ok(ToolResult { inner }),
        )
    }

    /// A sandbox of your own for `exec`, `readFile` and `writeFile`:
    /// `{name?, env?, network?, mounts?, limits?}` (the server config's forms).
    #[napi(
        catch_unwind,
        ts_args_type = "config?: SandboxOptions",
        ts_return_type = "Promise<Sandbox>"
    )]
    pub fn sandbox<'env>(&self, env: &'env Env, config: Option<Value>) -> Promise<'env, Sandbox> {
        let config = match core::SandboxConfig::from_value(&config.unwrap_or(Value::Null)) {
            Ok(c) => c,
            Err(e) => return runtime::rejected(env, errors::to_js(e)),
        };
        let c = self.inner.clone();
        runtime::promise(env, async move { c.sandbox(config).await }, |_, h| {
            Ok(Sandbox::new(h))
        })
    }

    /// Receives log messages of every server started from now on (`undefined` to stop).
    /// The callback never keeps the process alive.
    #[napi(catch_unwind)]
    pub fn set_log_callback(
        &self,
        callback: Option<Function<LogMessage, ()>>,
    ) -> napi::Result<(), Code> {
        let Some(f) = callback else {
            self.inner.set_log_callback(None);
            return Ok(());
        };
        let tsfn: LogTsfn = f
            .build_threadsafe_function()
            .callee_handled::<false>()
            .weak::<true>()
            .build()
            .map_err(|e| errors::invalid(e.reason))?;
        self.inner
            .set_log_callback(Some(Arc::new(move |m: core::LogMessage| {
                tsfn.call(m.into(), ThreadsafeFunctionCallMode::NonBlocking);
            })));
        Ok(())
    }

    /// Stops every server and sandbox. Idempotent; later calls reject with `CLOSED`.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Promise<'env, ()> {
        let c = self.inner.clone();
        runtime::promise(
            env,
            async move {
                c.close().await;
                Ok(())
            },
            |_, ()| Ok(()),
        )
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
