//! `ServerSession`: a handle on one server's warm session (resources, prompts, repeated calls).
//! Closing the handle leaves the shared session running for other callers.

use std::sync::{Arc, Mutex};

use corral_core as core;
use napi::{Env, bindgen_prelude::Object};
use napi_derive::napi;
use serde_json::{Value, json};

use crate::{
    errors::JsResult,
    runtime::{Owned, Promise, promise, run},
    types::{self, Tool, ToolResult},
};

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
    fn get(&self) -> JsResult<Arc<core::ServerSession>> {
        self.inner
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(|s| Arc::clone(s)))
            .ok_or_else(|| {
                core::Error::new(core::ErrorKind::Closed, "this session handle is closed")
            })
    }
}

/// Runs `$body` (a future using `$s`, the session) or rejects with `CLOSED`; the Promise
/// resolves with the result's canonical JSON, or `$map` of it.
macro_rules! with_session {
    ($self:ident, $env:ident, |$s:ident| $body:expr) => {
        with_session!($self, $env, |$s| $body, |v| types::json(&v))
    };
    ($self:ident, $env:ident, |$s:ident| $body:expr, $map:expr) => {
        promise(
            $env,
            $self.get().map(|$s| (async move { $body.await }, None)),
            $map,
        )
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

    /// `{server, sessionId, sandboxId?, protocolVersion}`.
    #[napi(catch_unwind, js_name = "toJSON", ts_return_type = "SessionInfo")]
    pub fn to_json(&self) -> Value {
        let mut info = json!({"server": self.server, "sessionId": self.session_id,
                              "protocolVersion": self.protocol_version});
        if let Some(id) = &self.sandbox_id {
            info["sandboxId"] = id.clone().into();
        }
        info
    }

    /// The last lines the server wrote to stderr.
    #[napi(catch_unwind)]
    pub fn stderr_tail(&self) -> String {
        self.get().map(|s| s.stderr_tail()).unwrap_or_default()
    }

    /// The server's tools (filtered by its config).
    #[napi(catch_unwind, ts_return_type = "Promise<Tool[]>")]
    pub fn list_tools<'env>(&self, env: &'env Env) -> Promise<'env, Vec<Tool>> {
        with_session!(self, env, |s| s.list_tools(), Tool::list)
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
        let args = args.unwrap_or(Value::Null);
        let call = self.get().and_then(|s| {
            let (options, hook) = types::call_options(env, options)?;
            Ok((
                async move { s.call_tool_with(&tool, args, options).await },
                hook,
            ))
        });
        promise(env, call, ToolResult::from)
    }

    /// The server's resources.
    #[napi(catch_unwind, ts_return_type = "Promise<Resource[]>")]
    pub fn list_resources<'env>(&self, env: &'env Env) -> Promise<'env, Value> {
        with_session!(self, env, |s| s.list_resources())
    }

    /// Reads one resource.
    #[napi(catch_unwind, ts_return_type = "Promise<ResourceContents[]>")]
    pub fn read_resource<'env>(&self, env: &'env Env, uri: String) -> Promise<'env, Value> {
        with_session!(self, env, |s| s.read_resource(&uri))
    }

    /// The server's prompts.
    #[napi(catch_unwind, ts_return_type = "Promise<Prompt[]>")]
    pub fn list_prompts<'env>(&self, env: &'env Env) -> Promise<'env, Value> {
        with_session!(self, env, |s| s.list_prompts())
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
    ) -> Promise<'env, Value> {
        let args = args.unwrap_or(Value::Null);
        with_session!(self, env, |s| s.get_prompt(&name, args))
    }

    /// Releases this handle (the shared session keeps running). Idempotent; later calls on
    /// this handle reject with `CLOSED`.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Promise<'env, ()> {
        let released = self.inner.lock().ok().and_then(|mut s| s.take());
        let release = async move {
            drop(released);
            Ok(())
        };
        run(env, release, drop)
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
