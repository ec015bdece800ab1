//! The `io.modelcontextprotocol/tasks` extension (SEP-2663) through the gateway.
//!
//! The gateway advertises the extension and passes tasks through to the upstreams that
//! advertise it too. A `tools/call` from a client that declared the extension (for its session
//! or in the request's `_meta`) goes to such an upstream with the extension declared in that
//! request's `_meta`; the upstream decides whether to create a task, and its
//! `CreateTaskResult` comes back as it is, with the task id namespaced. `tasks/get`,
//! `tasks/update` and `tasks/cancel` go to the upstream that owns the id.
//!
//! Task ids: with one server they pass through unchanged; with several they are published as
//! `<server>__<upstream id>` (the tool-name separator), so any client-visible id maps back to
//! exactly one upstream.
//!
//! rmcp gates the `tasks/*` methods on the client's declaration (-32021 otherwise) and refuses
//! to send a `CreateTaskResult` to a client that did not declare the extension. A call of a
//! client that did not declare it takes the ordinary path (`forward`), where the gateway's own
//! upstream requests carry no tasks capability, so the upstream runs it synchronously.
//!
//! Not relayed on this path: the progress notifications and log lines of a task (the call's
//! route to its client ends with the `CreateTaskResult`); a client follows a task with
//! `tasks/get`. The ordinary path relays both.

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{
        CallToolRequest, CallToolRequestParams, CallToolResponse, CancelTaskParams,
        CancelTaskRequest, ClientCapabilities, ClientRequest, GetTaskParams, GetTaskRequest,
        GetTaskResult, RequestMetaObject, ResultType, ServerResult, UpdateTaskParams,
        UpdateTaskRequest,
    },
    service::{PeerRequestOptions, RequestContext},
};

use super::handler::{GatewayHandler, upstream_error};

const SEP: &str = "__";

/// Whether this request declared the tasks extension (session-wide or per request).
pub(super) fn client_declared(context: &RequestContext<RoleServer>) -> bool {
    context
        .client_capabilities()
        .is_some_and(|c| c.supports_tasks())
}

/// The `_meta` of a request to an upstream on behalf of a client that declared the extension.
fn upstream_options() -> PeerRequestOptions {
    let mut meta = RequestMetaObject::new();
    meta.set_client_capabilities(ClientCapabilities::builder().enable_tasks().build());
    let mut options = PeerRequestOptions::no_options();
    options.meta = Some(meta);
    options
}

fn unexpected(server: &str, what: &str, other: &ServerResult) -> McpError {
    McpError::internal_error(
        format!("server `{server}` answered {what} with something else: {other:?}"),
        None,
    )
}

impl GatewayHandler {
    /// The id a client sees for an upstream task.
    fn publish_task(&self, server: &str, id: &str) -> String {
        if self.0.prefixed {
            format!("{server}{SEP}{id}")
        } else {
            id.to_owned()
        }
    }

    /// The server and upstream id of a published task id.
    fn resolve_task(&self, id: &str) -> Result<(String, String), McpError> {
        let found = if self.0.prefixed {
            self.0.servers.iter().find_map(|s| {
                id.strip_prefix(s.as_str())
                    .and_then(|rest| rest.strip_prefix(SEP))
                    .map(|inner| (s.clone(), inner.to_owned()))
            })
        } else {
            self.0.servers.first().map(|s| (s.clone(), id.to_owned()))
        };
        found.ok_or_else(|| McpError::invalid_params(format!("unknown task id `{id}`"), None))
    }

    /// Whether `server` is up and advertises the tasks extension.
    async fn upstream_supports(&self, server: &str) -> bool {
        let Ok(s) = self.peer_of(server).await else {
            return false;
        };
        s.mcp()
            .peer()
            .peer_info()
            .is_some_and(|i| i.capabilities.supports_tasks())
    }

    async fn send(&self, server: &str, request: ClientRequest) -> Result<ServerResult, McpError> {
        let s = self.peer_of(server).await?;
        let handle = s
            .mcp()
            .peer()
            .send_request_with_option(request, upstream_options())
            .await
            .map_err(upstream_error)?;
        handle.await_response().await.map_err(upstream_error)
    }

    /// A `tools/call` of a tasks-declaring client to a tasks-capable upstream, or `None` when
    /// the ordinary path applies.
    pub(super) async fn call_tool_tasks(
        &self,
        request: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Option<Result<CallToolResponse, McpError>> {
        if !client_declared(context) {
            return None;
        }
        let (server, upstream) = self.route(request.name.as_ref())?;
        if !self.upstream_supports(&server).await {
            return None;
        }
        // Everything but the name and `_meta` goes as it came (MRTR `inputResponses` and
        // `requestState` included: a tool may gather input before it creates its task).
        let mut params = request.clone();
        params.name = upstream.clone().into();
        params.meta = None;
        let started = std::time::Instant::now();
        let answer = self
            .send(
                &server,
                ClientRequest::CallToolRequest(CallToolRequest::new(params)),
            )
            .await;
        let ok = matches!(&answer, Ok(ServerResult::CallToolResult(r)) if r.is_error != Some(true))
            || matches!(&answer, Ok(ServerResult::CreateTaskResult(_)));
        self.0.metrics.record(&server, started.elapsed(), ok);
        tracing::info!(target: "corral::gateway", server, tool = upstream, published = %request.name, duration_ms = started.elapsed().as_secs_f64() * 1000.0, outcome = if ok { "ok" } else { "error" }, mode = "tasks", "call");
        Some(match answer {
            Ok(ServerResult::CallToolResult(mut r)) => {
                r.result_type.get_or_insert(ResultType::COMPLETE);
                Ok(CallToolResponse::Complete(r))
            }
            Ok(ServerResult::CreateTaskResult(mut t)) => {
                t.task.task_id = self.publish_task(&server, &t.task.task_id);
                Ok(CallToolResponse::Task(t))
            }
            Ok(ServerResult::InputRequiredResult(r)) => Ok(CallToolResponse::InputRequired(r)),
            Ok(other) => Err(unexpected(&server, "tools/call", &other)),
            Err(e) => Err(e),
        })
    }

    pub(super) async fn get_task_upstream(
        &self,
        request: GetTaskParams,
    ) -> Result<GetTaskResult, McpError> {
        let (server, inner) = self.resolve_task(&request.task_id)?;
        let answer = self
            .send(
                &server,
                ClientRequest::GetTaskRequest(GetTaskRequest::new(GetTaskParams::new(inner))),
            )
            .await?;
        match answer {
            ServerResult::GetTaskResult(mut r) => {
                r.task.task.task_id = self.publish_task(&server, &r.task.task.task_id);
                Ok(r)
            }
            other => Err(unexpected(&server, "tasks/get", &other)),
        }
    }

    pub(super) async fn update_task_upstream(
        &self,
        request: UpdateTaskParams,
    ) -> Result<(), McpError> {
        let (server, inner) = self.resolve_task(&request.task_id)?;
        let params = UpdateTaskParams::new(inner, request.input_responses);
        match self
            .send(
                &server,
                ClientRequest::UpdateTaskRequest(UpdateTaskRequest::new(params)),
            )
            .await?
        {
            ServerResult::TaskAckResult(_) | ServerResult::EmptyResult(_) => Ok(()),
            other => Err(unexpected(&server, "tasks/update", &other)),
        }
    }

    pub(super) async fn cancel_task_upstream(
        &self,
        request: CancelTaskParams,
    ) -> Result<(), McpError> {
        let (server, inner) = self.resolve_task(&request.task_id)?;
        let mut params = request;
        params.task_id = inner;
        params.meta = None;
        match self
            .send(
                &server,
                ClientRequest::CancelTaskRequest(CancelTaskRequest::new(params)),
            )
            .await?
        {
            ServerResult::TaskAckResult(_) | ServerResult::EmptyResult(_) => Ok(()),
            other => Err(unexpected(&server, "tasks/cancel", &other)),
        }
    }
}
