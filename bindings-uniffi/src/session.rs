//! `ServerSession`: a handle on one server's warm instance. Closing the handle (`close()` in
//! Swift, `shutdown()` in Kotlin) ends the handle only: calls on it afterwards fail with
//! `CLOSED`, and the server stays warm for other callers.

use std::sync::Arc;

use corral_core as core;

use crate::{
    runner::{ProgressListener, Result, ToolCall},
    runtime as rt,
    types::{
        CallOptions, Prompt, PromptResult, Resource, ResourceContents, Tool, ToolResult, all,
        parse_json,
    },
};

/// A handle on one server's warm session.
#[derive(uniffi::Object)]
pub struct ServerSession {
    core: Arc<core::ServerSession>,
}

impl ServerSession {
    pub(crate) fn new(session: core::ServerSession) -> Arc<Self> {
        Arc::new(Self {
            core: Arc::new(session),
        })
    }
}

#[uniffi::export]
impl ServerSession {
    /// The server's name.
    pub fn server(&self) -> String {
        self.core.server().to_owned()
    }

    /// This server instance's id (changes when the server restarts).
    pub fn session_id(&self) -> String {
        self.core.session_id().to_owned()
    }

    /// The sandbox's id (`null` for remote servers).
    pub fn sandbox_id(&self) -> Option<String> {
        self.core.sandbox_id().map(str::to_owned)
    }

    /// The negotiated MCP protocol version.
    pub fn protocol_version(&self) -> String {
        self.core.protocol_version().to_owned()
    }

    /// The last lines the server wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        self.core.stderr_tail()
    }

    /// The server's tools (filtered by its config).
    pub async fn list_tools(&self) -> Result<Vec<Tool>> {
        let this = Arc::clone(&self.core);
        rt::run(async move { Ok(all(this.list_tools().await?)) }).await
    }

    /// Calls a tool (`arguments`: JSON text of an object).
    #[uniffi::method(default(arguments = "{}", options = None, on_progress = None))]
    pub async fn call_tool(
        &self,
        tool: String,
        arguments: String,
        options: Option<CallOptions>,
        on_progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<ToolResult> {
        let this = Arc::clone(&self.core);
        let arguments = parse_json("arguments", &arguments)?;
        let call = ToolCall::start(options, on_progress, move |options| async move {
            this.call_tool_with(&tool, arguments, options).await
        })?;
        call.finish().await
    }

    /// The server's resources.
    pub async fn list_resources(&self) -> Result<Vec<Resource>> {
        let this = Arc::clone(&self.core);
        rt::run(async move { Ok(all(this.list_resources().await?)) }).await
    }

    /// Reads one resource.
    pub async fn read_resource(&self, uri: String) -> Result<Vec<ResourceContents>> {
        let this = Arc::clone(&self.core);
        rt::run(async move { Ok(all(this.read_resource(&uri).await?)) }).await
    }

    /// The server's prompts.
    pub async fn list_prompts(&self) -> Result<Vec<Prompt>> {
        let this = Arc::clone(&self.core);
        rt::run(async move { Ok(all(this.list_prompts().await?)) }).await
    }

    /// Renders a prompt (`arguments`: JSON text of an object of strings).
    #[uniffi::method(default(arguments = "{}"))]
    pub async fn get_prompt(&self, name: String, arguments: String) -> Result<PromptResult> {
        let this = Arc::clone(&self.core);
        let arguments = parse_json("arguments", &arguments)?;
        rt::run(async move { Ok(this.get_prompt(&name, arguments).await?.into()) }).await
    }

    /// Ends this handle (not the server, which stays warm for other callers): later calls on it
    /// fail with `CLOSED`. Idempotent. (`shutdown()` in Kotlin.)
    pub fn close(&self) {
        self.core.close();
    }

    /// Whether this handle was closed.
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }
}
