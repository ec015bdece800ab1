//! The gateway's MCP server side: one handler shared by every client session (both eras).

#![allow(deprecated)] // logging and resources/subscribe are legacy-era, still served

use std::{
    sync::{Arc, atomic::Ordering},
    time::Instant,
};

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams,
        CompleteResult, ContentBlock, GetPromptRequestParams, GetPromptResponse, Implementation,
        ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
        LoggingMessageNotificationParam, PaginatedRequestParams, ProgressNotificationParam,
        ProgressToken, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
        ResourceContents, ResultType, ServerCapabilities, ServerConfig, ServerResult,
        SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, Tool as McpTool,
        UnsubscribeRequestParams,
    },
    service::{NotificationContext, Peer, RequestContext, ServiceError, SubscriptionContext},
};
use serde_json::{Map, Value, json};

use super::{BUDGET_HEADER, CALL_TOOL, HEALTH_URI, SEARCH_TOOLS, ServerState, State, names};
use crate::{
    mcp::CallOptions,
    sync::lock,
    tool::{LogMessage, Progress},
};

/// What a call in flight forwards to its client, in order.
pub(super) enum Forwarded {
    Progress(Progress),
    Log(LogMessage),
    /// A legacy upstream's request for input, for this call's client (see `input`).
    Input(rmcp::model::ServerRequest, super::input::Reply),
}

#[derive(Clone)]
pub(super) struct GatewayHandler(pub(super) Arc<State>);

/// Who a call comes from: an MCP client session (progress and log messages go back to it) or
/// a plain-HTTP request (only the result goes back).
#[derive(Clone)]
pub(super) struct CallContext {
    pub(super) peer: Option<Peer<RoleServer>>,
    pub(super) progress: Option<ProgressToken>,
    pub(super) cancel: tokio_util::sync::CancellationToken,
    /// What the client can answer, and its answers (see [`super::input`]).
    pub(super) input: super::input::InputContext,
}

impl CallContext {
    fn of(context: &RequestContext<RoleServer>, request: &CallToolRequestParams) -> Self {
        Self {
            peer: Some(context.peer.clone()),
            progress: context.meta.get_progress_token(),
            cancel: context.ct.clone(),
            input: super::input::InputContext::of(
                context,
                request.input_responses.clone(),
                request.request_state.clone(),
            ),
        }
    }
}

fn tool_error(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

pub(super) fn upstream_error(e: ServiceError) -> McpError {
    match e {
        ServiceError::McpError(data) => data,
        other => McpError::internal_error(format!("upstream failed: {other}"), None),
    }
}

fn corral_error(server: &str, e: crate::Error) -> McpError {
    McpError::internal_error(
        format!(
            "server `{server}` is unavailable: {}: {}",
            e.kind(),
            e.message()
        ),
        None,
    )
}

fn meta_tools() -> Vec<McpTool> {
    let search = json!({
        "name": SEARCH_TOOLS,
        "title": "Search tools",
        "description": "Finds tools by what they do. This gateway publishes more tools than fit in one list: search with a few words (a task, a tool name, a parameter), then call a result with `call_tool`. Returns each match's name, description and input schema, best first.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "Words describing the tool you need, or its name."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50, "description": "Most results to return (default 10)."}
            },
            "required": ["query"]
        },
        "annotations": {"readOnlyHint": true}
    });
    let call = json!({
        "name": CALL_TOOL,
        "title": "Call a tool",
        "description": "Calls a tool found with `search_tools`, by its exact name, with its arguments (an object matching the tool's input schema). Returns that tool's result.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "The tool's name as `search_tools` returned it."},
                "arguments": {"type": "object", "description": "The tool's arguments."}
            },
            "required": ["name"]
        }
    });
    [search, call]
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()
}

/// The server's session: at once when its instance runs, else started or waited for on the
/// heap. That future is large (a sandbox start); inline, it would be part of every request's
/// future, which rmcp spawns (and tokio copies) once per request.
async fn session_of(st: &State, server: &str) -> crate::Result<crate::runner::ServerSession> {
    match st.corral.running_session(server) {
        Some(s) => Ok(s),
        None => Box::pin(st.corral.session(server)).await,
    }
}

fn header<'a>(context: &'a RequestContext<RoleServer>, name: &str) -> Option<&'a str> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.headers.get(name))
        .and_then(|v| v.to_str().ok())
}

impl GatewayHandler {
    fn budget(&self, context: &RequestContext<RoleServer>) -> usize {
        header(context, BUDGET_HEADER)
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map_or(self.0.options.tool_budget, |b| b.max(2))
    }

    pub(super) async fn discovery_wait(&self) {
        self.0.ensure_started();
        let deadline =
            Instant::now() + std::time::Duration::from_millis(self.0.options.discovery_deadline_ms);
        self.0.wait_settled(deadline).await;
    }

    /// Which server (and upstream name) a published tool name belongs to.
    pub(super) fn route(&self, name: &str) -> Option<(String, String)> {
        if let Some(r) = self.0.catalog().routes.get(name) {
            return Some(r.clone());
        }
        if let Some(r) = lock(&self.0.known_routes).get(name) {
            return Some(r.clone());
        }
        if self.0.prefixed {
            for s in &self.0.servers {
                if let Some(rest) = name.strip_prefix(&format!("{s}{}", names::SEPARATOR))
                    && !rest.is_empty()
                {
                    return Some((s.clone(), rest.to_owned()));
                }
            }
            None
        } else {
            let server = self.0.servers.first()?;
            // One server whose tools are not known yet (it is down or starting).
            let ready = self
                .0
                .upstream_state(server)
                .is_some_and(|(s, ..)| s == ServerState::Ready);
            (!ready).then(|| (server.clone(), name.to_owned()))
        }
    }

    /// [`GatewayHandler::dispatch_mcp`] for callers that cannot answer input requests (plain
    /// HTTP): a tool that asks for input gets a tool error.
    pub(super) async fn dispatch(
        &self,
        name: String,
        arguments: Option<Map<String, Value>>,
        context: &CallContext,
        depth: u8,
    ) -> Result<CallToolResult, McpError> {
        match self
            .dispatch_mcp(name.clone(), arguments, context, depth)
            .await?
        {
            CallToolResponse::Complete(r) => Ok(r),
            _ => Ok(tool_error(format!(
                "tool `{name}` asks its caller for input (sampling, elicitation or roots), which needs an MCP client"
            ))),
        }
    }

    pub(super) async fn dispatch_mcp(
        &self,
        name: String,
        arguments: Option<Map<String, Value>>,
        context: &CallContext,
        depth: u8,
    ) -> Result<CallToolResponse, McpError> {
        if let Some((server, upstream)) = self.route(&name) {
            return self
                .forward_with_input(&server, &upstream, &name, arguments, context)
                .await;
        }
        match name.as_str() {
            SEARCH_TOOLS => Ok(self.search(arguments.unwrap_or_default()).into()),
            CALL_TOOL if depth == 0 => {
                let mut args = arguments.unwrap_or_default();
                let Some(Value::String(target)) = args.remove("name") else {
                    return Ok(tool_error(
                        "call_tool needs `name` (a tool name from search_tools)".into(),
                    )
                    .into());
                };
                let inner = match args.remove("arguments") {
                    Some(Value::Object(m)) => Some(m),
                    None | Some(Value::Null) => None,
                    Some(_) => {
                        return Ok(tool_error(
                            "call_tool: `arguments` must be an object".into(),
                        )
                        .into());
                    }
                };
                Box::pin(self.dispatch_mcp(target, inner, context, depth + 1)).await
            }
            _ => Ok(tool_error(format!(
                "no tool named `{name}` is published by this gateway (search_tools finds tools by what they do)"
            ))
            .into()),
        }
    }

    fn search(&self, args: Map<String, Value>) -> CallToolResult {
        let query = args.get("query").and_then(Value::as_str).unwrap_or("");
        let limit = args
            .get("limit")
            .and_then(Value::as_u64)
            .unwrap_or(10)
            .clamp(1, 50) as usize;
        let catalog = self.0.catalog();
        let hits = super::search::rank(&catalog.docs, query, limit);
        let tools: Vec<Value> = hits
            .iter()
            .filter_map(|(i, score)| {
                let t = catalog.tools.get(*i)?;
                let mut v = json!({
                    "name": t.name,
                    "inputSchema": t.input_schema,
                    "score": (score * 1000.0).round() / 1000.0,
                });
                if let Some(title) = &t.title {
                    v["title"] = json!(title);
                }
                if let Some(d) = &t.description {
                    v["description"] = json!(d);
                }
                Some(v)
            })
            .collect();
        let structured = json!({ "tools": tools, "total": catalog.tools.len() });
        let mut r = CallToolResult::success(vec![ContentBlock::text(
            serde_json::to_string(&structured).unwrap_or_default(),
        )]);
        r.structured_content = Some(structured);
        r
    }

    pub(super) async fn forward(
        &self,
        server: &str,
        upstream: &str,
        published: &str,
        arguments: Option<Map<String, Value>>,
        context: &CallContext,
    ) -> Result<CallToolResponse, McpError> {
        let st = &self.0;
        let started = Instant::now();
        if let Some((ServerState::Failed, reason, retry)) = st.upstream_state(server) {
            let retry = retry
                .map(|ms| format!("; next restart in {ms} ms"))
                .unwrap_or_default();
            let reason = reason.unwrap_or_else(|| "it failed".into());
            st.metrics.record(server, started.elapsed(), false);
            tracing::info!(target: "corral::gateway", server, tool = upstream, duration_ms = 0u64, outcome = "server_down", "call");
            return Ok(tool_error(format!("server `{server}` is down: {reason}{retry}")).into());
        }
        let session = match session_of(st, server).await {
            Ok(s) => s,
            Err(e) => {
                st.metrics.record(server, started.elapsed(), false);
                tracing::info!(target: "corral::gateway", server, tool = upstream, outcome = "server_down", kind = %e.kind(), "call");
                return Ok(tool_error(format!(
                    "server `{server}` is down: {}: {}",
                    e.kind(),
                    e.message()
                ))
                .into());
            }
        };
        let peer: Option<&Peer<RoleServer>> = context.peer.as_ref();
        let token: Option<ProgressToken> = context.progress.clone().filter(|_| peer.is_some());
        // Progress reports and the server's log lines go back to an MCP client session; a
        // plain-HTTP call has nowhere to send them, so the relay below drops them.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Forwarded>();
        let call_id = st.next_call.fetch_add(1, Ordering::Relaxed);
        // Every call registers, plain-HTTP ones too: an upstream's input request is relayed
        // only when exactly one call is in flight on that server (see input.rs).
        {
            let mut routes = lock(&st.log_routes);
            match routes.get_mut(server) {
                Some(calls) => calls.push((call_id, tx.clone())),
                None => {
                    routes.insert(server.to_owned(), vec![(call_id, tx.clone())]);
                }
            }
        }
        let on_progress: Option<crate::mcp::ProgressCallback> = token.as_ref().map(|_| {
            let tx = tx.clone();
            Arc::new(move |p: Progress| {
                let _ = tx.send(Forwarded::Progress(p));
            }) as crate::mcp::ProgressCallback
        });
        drop(tx);
        let mut params = CallToolRequestParams::new(upstream.to_owned());
        params.arguments = arguments;
        params.input_responses = context.input.responses.clone();
        params.request_state = context.input.state.clone();
        let options = CallOptions {
            on_progress,
            cancel: Some(context.cancel.clone()),
            ..CallOptions::default()
        };
        let call = async {
            let result = session
                .call_tool_response(params, options, context.input.upstream_meta())
                .await;
            if let Some(calls) = lock(&st.log_routes).get_mut(server) {
                calls.retain(|(id, _)| *id != call_id);
            }
            result
        };
        // Relayed on this task, beside the call (no task of its own per call): the loop ends
        // when the call is done and its routes are gone, so every progress report and log line
        // goes out before the result.
        let relay = async {
            while let Some(f) = rx.recv().await {
                let Some(peer) = peer else { continue };
                match f {
                    Forwarded::Progress(p) => {
                        if let Some(token) = &token {
                            let mut n = ProgressNotificationParam::new(token.clone(), p.progress);
                            n.total = p.total;
                            n.message = p.message;
                            let _ = peer.notify_progress(n).await;
                        }
                    }
                    Forwarded::Log(m) => {
                        let level = serde_json::from_value(Value::String(m.level))
                            .unwrap_or(rmcp::model::LoggingLevel::Info);
                        let mut n = LoggingMessageNotificationParam::new(level, m.data);
                        n.logger = m.logger;
                        let _ = peer.notify_logging_message(n).await;
                    }
                    Forwarded::Input(request, reply) => {
                        super::input::relay_to(
                            peer.clone(),
                            request,
                            reply,
                            &context.input,
                            &context.cancel,
                        );
                    }
                }
            }
        };
        let (result, ()) = tokio::join!(call, relay);
        let elapsed = started.elapsed();
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        Ok(match result {
            Ok(CallToolResponse::InputRequired(r)) => {
                st.metrics.record(server, elapsed, true);
                tracing::info!(target: "corral::gateway", server, tool = upstream, published, duration_ms, outcome = "input_required", "call");
                CallToolResponse::InputRequired(r)
            }
            Ok(CallToolResponse::Complete(mut r)) => {
                // A legacy-era upstream sends no `resultType`; 2026-07-28 clients need it
                // (rmcp strips it again for legacy clients).
                r.result_type
                    .get_or_insert(rmcp::model::ResultType::COMPLETE);
                let is_error = r.is_error.unwrap_or(false);
                st.metrics.record(server, elapsed, !is_error);
                tracing::info!(target: "corral::gateway", server, tool = upstream, published, duration_ms, outcome = if is_error { "tool_error" } else { "ok" }, "call");
                r.into()
            }
            Ok(other) => {
                st.metrics.record(server, elapsed, false);
                tool_error(format!(
                    "server `{server}` answered `{upstream}` with a result the gateway cannot relay: {other:?}"
                ))
                .into()
            }
            Err(e) => {
                st.metrics.record(server, elapsed, false);
                tracing::info!(target: "corral::gateway", server, tool = upstream, published, duration_ms, outcome = "error", kind = %e.kind(), "call");
                if let Some(data) = crate::mcp::upstream_protocol_error(
                    &e,
                    context.input.responses.is_some() || context.input.state.is_some(),
                ) {
                    return Err(data);
                }
                tool_error(format!(
                    "server `{server}` could not complete `{upstream}`: {}: {}",
                    e.kind(),
                    e.message()
                ))
                .into()
            }
        })
    }

    /// The ready servers, for listings that fan out.
    fn ready_servers(&self) -> Vec<String> {
        lock(&self.0.upstreams)
            .iter()
            .filter(|(_, u)| u.state == ServerState::Ready)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The sessions of the ready servers whose capabilities offer a feature (`has`), or that
    /// announced none, for listings that fan out.
    async fn ready_with(
        &self,
        has: impl Fn(&rmcp::model::ServerCapabilities) -> bool,
    ) -> Vec<(String, crate::runner::ServerSession)> {
        let mut sessions = Vec::new();
        for server in self.ready_servers() {
            let Ok(s) = self.peer_of(&server).await else {
                continue;
            };
            if s.mcp()
                .peer()
                .peer_info()
                .is_none_or(|i| has(&i.capabilities))
            {
                sessions.push((server, s));
            }
        }
        sessions
    }

    fn publish_uri(&self, server: &str, uri: &str) -> String {
        if self.0.prefixed {
            format!("corral://{server}/{uri}")
        } else {
            uri.to_owned()
        }
    }

    /// The server and upstream URI of a published resource URI.
    fn resolve_uri(&self, uri: &str) -> Option<(String, String)> {
        if !self.0.prefixed {
            return self.0.servers.first().map(|s| (s.clone(), uri.to_owned()));
        }
        let rest = uri.strip_prefix("corral://")?;
        let (server, inner) = rest.split_once('/')?;
        self.0
            .servers
            .iter()
            .any(|s| s == server)
            .then(|| (server.to_owned(), inner.to_owned()))
    }

    pub(super) async fn peer_of(
        &self,
        server: &str,
    ) -> Result<crate::runner::ServerSession, McpError> {
        session_of(&self.0, server)
            .await
            .map_err(|e| corral_error(server, e))
    }

    fn health_json(&self) -> Value {
        json!({ "servers": self.0.health() })
    }

    /// Every prompt of the ready servers, with published names: (published, server, prompt).
    async fn all_prompts(&self) -> Vec<(String, String, rmcp::model::Prompt)> {
        let mut items = Vec::new();
        for (server, s) in self.ready_with(|c| c.prompts.is_some()).await {
            if let Ok(prompts) = s.mcp().peer().list_all_prompts().await {
                for p in prompts {
                    items.push((server.clone(), p));
                }
            }
        }
        let keys: Vec<(String, String)> = items
            .iter()
            .map(|(s, p)| (s.clone(), p.name.clone()))
            .collect();
        let published = names::assign(&keys, self.0.prefixed);
        published
            .into_iter()
            .zip(items)
            .map(|(n, (s, p))| (n, s, p))
            .collect()
    }
}

fn rewrite_uris(value: &mut Value, key: &str, f: &dyn Fn(&str) -> String) {
    match value {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if k == key
                    && let Value::String(s) = v
                {
                    *s = f(s);
                } else {
                    rewrite_uris(v, key, f);
                }
            }
        }
        Value::Array(a) => {
            for v in a {
                rewrite_uris(v, key, f);
            }
        }
        _ => {}
    }
}

fn remap<T: serde::Serialize + serde::de::DeserializeOwned>(
    value: T,
    key: &str,
    f: &dyn Fn(&str) -> String,
) -> T {
    let Ok(mut v) = serde_json::to_value(&value) else {
        return value;
    };
    rewrite_uris(&mut v, key, f);
    serde_json::from_value(v).unwrap_or(value)
}

/// rmcp spawns one task per request, whose future holds the largest future of any of these
/// methods, and tokio copies that future when it spawns it. So every method's work is boxed
/// (`Box::pin(async move { … })`, one allocation) and the per-request task stays small: on
/// `tools/call` this cut the gateway's instructions per call from 406k to 288k (callgrind,
/// `memcpy` from 173k to 44k).
impl ServerHandler for GatewayHandler {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_logging()
            .enable_completions()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_tasks()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(
                "corral-gateway",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(format!(
                "corral gateway for: {}. Server health: resource {HEALTH_URI}.",
                self.0.servers.join(", ")
            ))
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let mut peers = lock(&self.0.peers);
        peers.retain(|p| !p.is_transport_closed());
        peers.push(context.peer);
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Box::pin(async move {
            self.discovery_wait().await;
            let catalog = self.0.catalog();
            if catalog.tools.len() > self.budget(&context) {
                return Ok(ListToolsResult::with_all_items(meta_tools()));
            }
            Ok(ListToolsResult::with_all_items(catalog.tools.clone()))
        })
        .await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        // Each await boxed (see the impl's doc).
        if !self.0.catalog().routes.contains_key(request.name.as_ref()) {
            // The first call may come before the first tools/list.
            Box::pin(self.discovery_wait()).await;
        }
        if super::tasks::client_declared(&context)
            && let Some(answer) = Box::pin(self.call_tool_tasks(&request, &context)).await
        {
            return answer;
        }
        let call = CallContext::of(&context, &request);
        Box::pin(self.dispatch_mcp(request.name.to_string(), request.arguments, &call, 0)).await
    }

    /// A published tool's definition, so that rmcp checks the `Mcp-Param-*` headers of its
    /// `x-mcp-header` parameters (SEP-2243) before the call is forwarded.
    fn get_tool(&self, name: &str) -> Option<McpTool> {
        self.0
            .catalog()
            .tools
            .iter()
            .find(|t| t.name == name)
            .cloned()
    }

    async fn get_task(
        &self,
        request: rmcp::model::GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetTaskResult, McpError> {
        Box::pin(async move { self.get_task_upstream(request).await }).await
    }

    async fn update_task(
        &self,
        request: rmcp::model::UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Box::pin(async move { self.update_task_upstream(request).await }).await
    }

    async fn cancel_task(
        &self,
        request: rmcp::model::CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Box::pin(async move { self.cancel_task_upstream(request).await }).await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Box::pin(async move {
            self.discovery_wait().await;
            let mut all = vec![
                rmcp::model::Resource::new(HEALTH_URI, "corral-gateway-servers")
                    .with_description("Each server of this gateway: state, tool count, last error.")
                    .with_mime_type("application/json"),
            ];
            for (server, s) in self.ready_with(|c| c.resources.is_some()).await {
                if let Ok(items) = s.mcp().peer().list_all_resources().await {
                    for r in items {
                        all.push(remap(r, "uri", &|u| self.publish_uri(&server, u)));
                    }
                }
            }
            Ok(ListResourcesResult::with_all_items(all))
        })
        .await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Box::pin(async move {
            self.discovery_wait().await;
            let mut all = Vec::new();
            for (server, s) in self.ready_with(|c| c.resources.is_some()).await {
                if let Ok(items) = s.mcp().peer().list_all_resource_templates().await {
                    for r in items {
                        all.push(remap(r, "uriTemplate", &|u| self.publish_uri(&server, u)));
                    }
                }
            }
            Ok(ListResourceTemplatesResult::with_all_items(all))
        })
        .await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        Box::pin(async move {
            if request.uri == HEALTH_URI {
                let text = serde_json::to_string_pretty(&self.health_json()).unwrap_or_default();
                let contents =
                    ResourceContents::text(text, HEALTH_URI).with_mime_type("application/json");
                return Ok(ReadResourceResult::new(vec![contents]).into());
            }
            self.discovery_wait().await;
            let Some((server, inner)) = self.resolve_uri(&request.uri) else {
                return Err(McpError::resource_not_found(
                    format!("no resource {}", request.uri),
                    Some(json!({ "uri": request.uri })),
                ));
            };
            let s = self.peer_of(&server).await?;
            // A resource may ask for input too (MRTR): see `input`.
            let mut params = request.clone();
            params.uri.clone_from(&inner);
            let answer = self.request_with_input(&s, &context, &params).await?;
            match answer {
                Ok(ServerResult::ReadResourceResult(response)) => {
                    let mut r = remap(response, "uri", &|u| self.publish_uri(&server, u));
                    r.result_type.get_or_insert(ResultType::COMPLETE);
                    Ok(ReadResourceResponse::Complete(r))
                }
                Err(needed) => Ok(ReadResourceResponse::InputRequired(needed)),
                Ok(_) => Err(McpError::internal_error(
                    "unexpected answer to resources/read",
                    None,
                )),
            }
        })
        .await
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Box::pin(async move {
            if request.uri == HEALTH_URI {
                return Ok(());
            }
            let Some((server, inner)) = self.resolve_uri(&request.uri) else {
                return Err(McpError::resource_not_found(
                    format!("no resource {}", request.uri),
                    None,
                ));
            };
            // Best effort: an upstream on the 2026-07-28 era has no resources/subscribe.
            if let Ok(s) = self.peer_of(&server).await {
                let mut params = request.clone();
                params.uri = inner;
                let _ = s.mcp().peer().subscribe(params).await;
            }
            Ok(())
        })
        .await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Box::pin(async move {
            if request.uri == HEALTH_URI {
                return Ok(());
            }
            let Some((server, inner)) = self.resolve_uri(&request.uri) else {
                return Ok(());
            };
            // Best effort: an upstream on the 2026-07-28 era has no resources/unsubscribe.
            if let Ok(s) = self.peer_of(&server).await {
                let mut params = request.clone();
                params.uri = inner;
                let _ = s.mcp().peer().unsubscribe(params).await;
            }
            Ok(())
        })
        .await
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Box::pin(async move {
            self.discovery_wait().await;
            let prompts = self
                .all_prompts()
                .await
                .into_iter()
                .map(|(name, _, mut p)| {
                    p.name = name;
                    p
                })
                .collect();
            Ok(ListPromptsResult::with_all_items(prompts))
        })
        .await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        Box::pin(async move {
            self.discovery_wait().await;
            let found = self
                .all_prompts()
                .await
                .into_iter()
                .find(|(n, ..)| *n == request.name);
            let Some((_, server, prompt)) = found else {
                return Err(McpError::invalid_params(
                    format!("no prompt named `{}`", request.name),
                    None,
                ));
            };
            let s = self.peer_of(&server).await?;
            // A prompt may ask for input too (MRTR): see `input`.
            let mut params = request.clone();
            params.name.clone_from(&prompt.name);
            let answer = self.request_with_input(&s, &context, &params).await?;
            match answer {
                Ok(ServerResult::GetPromptResult(mut r)) => {
                    r.result_type.get_or_insert(ResultType::COMPLETE);
                    Ok(r.into())
                }
                Err(needed) => Ok(GetPromptResponse::InputRequired(needed)),
                Ok(_) => Err(McpError::internal_error(
                    "unexpected answer to prompts/get",
                    None,
                )),
            }
        })
        .await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        Box::pin(async move {
            use rmcp::model::Reference;
            self.discovery_wait().await;
            let mut params = request.clone();
            let server = match &mut params.r#ref {
                Reference::Prompt(p) => {
                    let found = self
                        .all_prompts()
                        .await
                        .into_iter()
                        .find(|(n, ..)| *n == p.name);
                    let Some((_, server, prompt)) = found else {
                        return Ok(CompleteResult::default());
                    };
                    p.name = prompt.name;
                    server
                }
                Reference::Resource(r) => {
                    let Some((server, inner)) = self.resolve_uri(&r.uri) else {
                        return Ok(CompleteResult::default());
                    };
                    r.uri = inner;
                    server
                }
                _ => return Ok(CompleteResult::default()),
            };
            let s = self.peer_of(&server).await?;
            if s.mcp()
                .peer()
                .peer_info()
                .is_some_and(|i| i.capabilities.completions.is_none())
            {
                return Ok(CompleteResult::default());
            }
            let mut r = s
                .mcp()
                .peer()
                .complete(params)
                .await
                .map_err(upstream_error)?;
            r.result_type
                .get_or_insert(rmcp::model::ResultType::COMPLETE);
            Ok(r)
        })
        .await
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Box::pin(async move {
            for server in self.ready_servers() {
                if let Ok(s) = self.peer_of(&server).await
                    && s.mcp()
                        .peer()
                        .peer_info()
                        .is_some_and(|i| i.capabilities.logging.is_some())
                {
                    let _ = s.mcp().peer().set_level(request.clone()).await;
                }
            }
            Ok(())
        })
        .await
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(requested.supported_by(&self.get_info().capabilities))
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let mut changes = self.0.list_changed.subscribe();
        let wants_tools = context.accepted().tools_list_changed == Some(true);
        let wants_prompts = context.accepted().prompts_list_changed == Some(true);
        loop {
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                () = self.0.shutdown.cancelled() => return Ok(()),
                change = changes.recv() => match change {
                    Ok(super::ListChange::Tools) => {
                        if wants_tools && context.sink().notify_tool_list_changed().await.is_err() {
                            return Ok(());
                        }
                    }
                    Ok(super::ListChange::Prompts) => {
                        if wants_prompts
                            && context.sink().notify_prompt_list_changed().await.is_err()
                        {
                            return Ok(());
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        // Missed some: tell of both, a client re-lists either way.
                        if (wants_tools && context.sink().notify_tool_list_changed().await.is_err())
                            || (wants_prompts
                                && context.sink().notify_prompt_list_changed().await.is_err())
                        {
                            return Ok(());
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
        }
    }
}
