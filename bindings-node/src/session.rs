//! `ServerSession`: a handle on one server's warm session (resources, prompts, repeated calls).
//! Closing the handle leaves the shared session running for other callers.

use std::sync::{Arc, Mutex};

use corral_core as core;
use napi::{
    Env,
    bindgen_prelude::{Object, PromiseRaw},
};
use napi_derive::napi;
use serde_json::Value;

use crate::{
    convert::{self, Prompt, PromptResult, Resource, ResourceContents, Tool, ToolResult},
    errors,
    runtime::{self, Owned},
};

type Promise<'env, T> = napi::Result<PromiseRaw<'env, T>>;

/// A handle on one server's warm session, from `corral.session(server)`.
#[napi]
pub struct ServerSession {
    inner: Mutex<Option<Owned<Arc<core::ServerSession>>>>,
    server: String,
    session_id: String,
    sandbox_id: Option<String>,
    protocol_version: String,
}

impl ServerSession {
    pub(crate) fn new(s: core::ServerSession) -> Self {
        Self {
            server: s.server().to_owned(),
            session_id: s.session_id().to_owned(),
            sandbox_id: s.sandbox_id().map(str::to_owned),
            protocol_version: s.protocol_version().to_owned(),
            inner: Mutex::new(Some(Owned::new(Arc::new(s)))),
        }
    }

    /// The session, or `CLOSED` once this handle was closed.
    fn get(&self) -> Result<Arc<core::ServerSession>, napi::Error<errors::Code>> {
        self.inner
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(|s| Arc::clone(s)))
            .ok_or_else(|| {
                errors::to_js(core::Error::new(
                    core::ErrorKind::Closed,
                    "this session handle is closed",
                ))
            })
    }
}

/// Spawns `$body` (an async block using `$s`, the session) or rejects with `CLOSED`.
macro_rules! with_session {
    ($self:ident, $env:ident, |$s:ident| $body:expr, $map:expr) => {
        match $self.get() {
            Ok($s) => runtime::promise($env, async move { $body.await }, $map),
            Err(e) => runtime::rejected($env, e),
        }
    };
}

#[napi]
impl ServerSession {
    /// The server's name.
    #[napi(catch_unwind, getter)]
    pub fn server(&self) -> String {
        self.server.clone()
    }

    /// This server instance's id (changes when the server restarts).
    #[napi(catch_unwind, getter)]
    pub fn session_id(&self) -> String {
        self.session_id.clone()
    }

    /// The sandbox's id (`undefined` for remote servers).
    #[napi(catch_unwind, getter)]
    pub fn sandbox_id(&self) -> Option<String> {
        self.sandbox_id.clone()
    }

    /// The negotiated MCP protocol version.
    #[napi(catch_unwind, getter)]
    pub fn protocol_version(&self) -> String {
        self.protocol_version.clone()
    }

    /// The last lines the server wrote to stderr.
    #[napi(catch_unwind)]
    pub fn stderr_tail(&self) -> String {
        self.get().map(|s| s.stderr_tail()).unwrap_or_default()
    }

    /// The server's tools (filtered by its config).
    #[napi(catch_unwind, ts_return_type = "Promise<Tool[]>")]
    pub fn list_tools<'env>(&self, env: &'env Env) -> Promise<'env, Vec<Tool>> {
        with_session!(
            self,
            env,
            |s| s.list_tools(),
            |_, tools: Vec<core::Tool>| {
                Ok(tools.into_iter().map(|inner| Tool { inner }).collect())
            }
        )
    }

    /// Calls a tool (see `Corral.executeTool`).
    #[napi(
        catch_unwind,
        ts_args_type = "tool: string, args?: Record<string, any>, options?: CallOptions",
        ts_return_type = "Promise<ToolResult>"
    )]
    pub fn call_tool<'env>(
        &self,
        env: &'env Env,
        tool: String,
        args: Option<Value>,
        options: Option<Object>,
    ) -> Promise<'env, ToolResult> {
        let (s, (options, hook)) = match self
            .get()
            .and_then(|s| Ok((s, convert::call_options(env, options)?)))
        {
            Ok(v) => v,
            Err(e) => return runtime::rejected(env, e),
        };
        let args = args.unwrap_or(Value::Null);
        runtime::promise_with_hook(
            env,
            async move { s.call_tool_with(&tool, args, options).await },
            hook,
            |_, inner| Ok(ToolResult { inner }),
        )
    }

    /// The server's resources.
    #[napi(catch_unwind, ts_return_type = "Promise<Resource[]>")]
    pub fn list_resources<'env>(&self, env: &'env Env) -> Promise<'env, Vec<Resource>> {
        with_session!(self, env, |s| s.list_resources(), |_,
                                                          r: Vec<
            core::Resource,
        >| {
            Ok(r.into_iter().map(Into::into).collect())
        })
    }

    /// Reads one resource.
    #[napi(catch_unwind, ts_return_type = "Promise<ResourceContents[]>")]
    pub fn read_resource<'env>(
        &self,
        env: &'env Env,
        uri: String,
    ) -> Promise<'env, Vec<ResourceContents>> {
        with_session!(self, env, |s| s.read_resource(&uri), |_,
                                                             r: Vec<
            core::ResourceContents,
        >| {
            Ok(r.into_iter().map(Into::into).collect())
        })
    }

    /// The server's prompts.
    #[napi(catch_unwind, ts_return_type = "Promise<Prompt[]>")]
    pub fn list_prompts<'env>(&self, env: &'env Env) -> Promise<'env, Vec<Prompt>> {
        with_session!(
            self,
            env,
            |s| s.list_prompts(),
            |_, p: Vec<core::Prompt>| { Ok(p.into_iter().map(Into::into).collect()) }
        )
    }

    /// Renders a prompt with string arguments.
    #[napi(
        catch_unwind,
        ts_args_type = "name: string, args?: Record<string, string>",
        ts_return_type = "Promise<PromptResult>"
    )]
    pub fn get_prompt<'env>(
        &self,
        env: &'env Env,
        name: String,
        args: Option<Value>,
    ) -> Promise<'env, PromptResult> {
        let args = args.unwrap_or(Value::Null);
        with_session!(
            self,
            env,
            |s| s.get_prompt(&name, args),
            |_, p: core::PromptResult| { Ok(p.into()) }
        )
    }

    /// Releases this handle (the shared session keeps running). Idempotent; later calls on
    /// this handle reject with `CLOSED`.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Promise<'env, ()> {
        let released = self.inner.lock().ok().and_then(|mut s| s.take());
        runtime::promise(
            env,
            async move {
                drop(released);
                Ok(())
            },
            |_, ()| Ok(()),
        )
    }

    /// `await using s = await corral.session(server)` releases it at the end of the scope.
    #[napi(
        catch_unwind,
        well_known_symbol = "asyncDispose",
        ts_return_type = "Promise<void>"
    )]
    pub fn async_dispose<'env>(&self, env: &'env Env) -> Promise<'env, ()> {
        self.close(env)
    }
}
