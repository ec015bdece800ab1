//! [`ServerSession`]: a handle on one server's warm instance, for resources, prompts and
//! repeated calls.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use serde_json::Value;

use super::{
    Corral, check_call,
    instance::{Lease, Slot},
    tools_of,
};
use crate::{
    config::ServerConfig,
    error::{Error, ErrorKind, Result},
    mcp::{CallOptions, Session},
    tool::{Prompt, PromptResult, Resource, ResourceContents, Tool, ToolResult},
};

/// A handle on one server's warm session. [`ServerSession::close`] ends this handle only:
/// the server keeps serving the corral's other callers and handles. While the handle lives,
/// the instance counts as in use (the idle reaper leaves it running).
pub struct ServerSession {
    corral: Corral,
    slot: Arc<Slot>,
    live: Lease,
    closed: AtomicBool,
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
    pub(super) fn new(corral: Corral, slot: Arc<Slot>, live: Lease) -> Self {
        Self {
            corral,
            slot,
            live,
            closed: AtomicBool::new(false),
        }
    }

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

    /// Stops this handle's instance and opens the server anew (the gateway's way to give a
    /// session opened before it the capabilities it declares).
    pub(crate) async fn restart(self) -> Result<Self> {
        self.slot.retire(&self.live).await;
        self.corral.session(self.server()).await
    }

    /// Ends this handle: later calls through it fail with `CLOSED`. The server keeps running
    /// for the corral's other callers. Idempotent.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Whether [`ServerSession::close`] was called (or the corral closed).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || self.corral.is_closed()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::new(
                ErrorKind::Closed,
                format!("this session handle on `{}` was closed", self.server()),
            ));
        }
        self.corral.check_open()
    }

    /// The server's tools (filtered by its config).
    pub async fn list_tools(&self) -> Result<Vec<Tool>> {
        self.check_open()?;
        Ok(tools_of(&self.slot, &self.live).await?.as_ref().clone())
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
        self.check_open()?;
        check_call(&self.slot.config, tool, &arguments)?;
        self.corral
            .call(&self.slot, &self.live, tool, arguments, options)
            .await
    }

    /// The server's resources.
    pub async fn list_resources(&self) -> Result<Vec<Resource>> {
        self.check_open()?;
        self.live.session.list_resources().await
    }

    /// Reads one resource.
    pub async fn read_resource(&self, uri: &str) -> Result<Vec<ResourceContents>> {
        self.check_open()?;
        self.live.session.read_resource(uri).await
    }

    /// The server's prompts.
    pub async fn list_prompts(&self) -> Result<Vec<Prompt>> {
        self.check_open()?;
        self.live.session.list_prompts().await
    }

    /// Renders a prompt.
    pub async fn get_prompt(&self, name: &str, arguments: Value) -> Result<PromptResult> {
        self.check_open()?;
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

    /// Calls a tool in rmcp's model, with the runner's timeout and crash handling. An MRTR
    /// `input_required` answer comes back as it is (the gateway relays it); `meta` goes into
    /// the request's `_meta` (the gateway passes its client's capabilities).
    pub(crate) async fn call_tool_response(
        &self,
        params: rmcp::model::CallToolRequestParams,
        options: CallOptions,
        meta: Option<rmcp::model::RequestMetaObject>,
    ) -> Result<rmcp::model::CallToolResponse> {
        self.check_open()?;
        self.corral
            .call_mcp(&self.slot, &self.live, params, options, meta)
            .await
    }
}
