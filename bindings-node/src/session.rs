//! `ServerSession`: a handle on one server's warm session (resources, prompts, repeated calls).
//! Closing the handle leaves the shared session running for other callers.

use std::sync::{Arc, Mutex};

use corral_core::{self as core, sync::lock};
use napi::{Env, bindgen_prelude::Object};
use napi_derive::napi;
use serde_json::Value;

use crate::{
    runtime::{self, Promise, ok, run},
    types::{self, Tool, ToolResult, json},
};

/// A handle on one server's warm session, from `corral.session(server)`.
#[napi]
pub struct ServerSession {
    /// Released by `close()`, so that the idle reaper no longer counts this handle.
    inner: Mutex<Option<Arc<core::ServerSession>>>,
    info: Info,
}

/// The session's identity (`SessionInfo`), kept for the getters once the handle is closed.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Info {
    server: String,
    session_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sandbox_id: Option<String>,
    protocol_version: String,
}

impl ServerSession {
    pub(crate) fn new(s: core::ServerSession) -> Self {
        let info = Info {
            server: s.server().to_owned(),
            session_id: s.session_id().to_owned(),
            sandbox_id: s.sandbox_id().map(str::to_owned),
            protocol_version: s.protocol_version().to_owned(),
        };
        Self {
            inner: Mutex::new(Some(Arc::new(s))),
            info,
        }
    }

    /// The session, or `CLOSED` once this handle was closed.
    fn core(&self) -> core::Result<Arc<core::ServerSession>> {
        let session = lock(&self.inner).as_ref().map(Arc::clone);
        session.ok_or_else(|| {
            core::Error::new(core::ErrorKind::Closed, "this session handle is closed")
        })
    }
}

types::getters! { ServerSession.info {
    #[doc = "The server's name."]
    server: String,
    #[doc = "This server instance's id (changes when the server restarts)."]
    session_id: String,
    #[doc = "The sandbox's id (`undefined` for remote servers)."]
    sandbox_id: Option<String>,
    #[doc = "The negotiated MCP protocol version."]
    protocol_version: String,
} }

#[napi]
impl ServerSession {
    /// `{server, sessionId, sandboxId?, protocolVersion}`.
    #[napi(catch_unwind, js_name = "toJSON", ts_return_type = "SessionInfo")]
    pub fn to_json(&self) -> Value {
        json(&self.info)
    }

    /// The last lines the server wrote to stderr.
    #[napi(catch_unwind)]
    pub fn stderr_tail(&self) -> String {
        self.core().map(|s| s.stderr_tail()).unwrap_or_default()
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
        let (s, args) = (self.core(), args.unwrap_or_default());
        let (options, hook) = types::call_options(env, options);
        let call = async move { s?.call_tool_with(&tool, args, options?).await };
        run(env, hook, call, ToolResult::from)
    }

    /// Releases this handle (the shared session keeps running). Idempotent; later calls on
    /// this handle reject with `CLOSED`.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Promise<'env, ()> {
        let released = lock(&self.inner).take();
        if let Some(s) = &released {
            s.close();
        }
        run(env, None, ok(async move { drop(released) }), drop)
    }
}

runtime::promises! { ServerSession |s| {
    #[doc = "The server's tools (filtered by its config)."]
    fn list_tools() -> Vec<Tool> as "Promise<Tool[]>" = async move { s?.list_tools().await }, Tool::list;

    #[doc = "The server's resources."]
    fn list_resources() -> Value as "Promise<Resource[]>" =
        async move { s?.list_resources().await }, |v| json(&v);

    #[doc = "Reads one resource."]
    fn read_resource(uri: String) -> Value as "Promise<ResourceContents[]>" =
        async move { s?.read_resource(&uri).await }, |v| json(&v);

    #[doc = "The server's prompts."]
    fn list_prompts() -> Value as "Promise<Prompt[]>" = async move { s?.list_prompts().await }, |v| json(&v);

    #[doc = "Renders a prompt with string arguments."]
    fn get_prompt(name: String, args: Option<Value>) -> Value as "Promise<PromptResult>"
        ("name: string, args?: Record<string, string>") =
        async move { s?.get_prompt(&name, args.unwrap_or_default()).await }, |v| json(&v);
} }

runtime::dispose!(
    ServerSession,
    "`await using s = await corral.session(server)` releases it at the end of the scope."
);
