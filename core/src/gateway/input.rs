//! Server-to-client input through the gateway: sampling, elicitation (form and URL mode) and
//! roots, in both protocol eras.
//!
//! **The upstream asks.** Each upstream session is shared by every client, so it cannot declare
//! one client's capabilities at its handshake. Instead every request the gateway forwards for a
//! client carries that client's capabilities in `_meta`
//! (`io.modelcontextprotocol/clientCapabilities`, SEP-2575; rmcp reads it on legacy sessions
//! too), so the upstream asks only for what the client can answer; a client that declared
//! nothing is asked nothing (the upstream refuses, for instance with -32021 or a tool error).
//!
//! - **2026-07-28 upstream** (MRTR, SEP-2322): the upstream answers `resultType:
//!   "input_required"` with `inputRequests` and maybe `requestState`.
//!   - to a **2026-07-28 client** the gateway passes that result through unchanged and forwards
//!     the client's retry (`inputResponses`, `requestState`) to the same upstream. The
//!     `requestState` stays the upstream's opaque string, untouched: its integrity is the
//!     upstream's to check (SEP-2322 makes it so); the gateway adds none of its own because
//!     it could not bind it to a client any better (all clients share the upstream session
//!     and, usually, the token).
//!   - to a **legacy client** (a 2025-11-25 session) the gateway itself fulfils each input
//!     request by sending it to that client (`sampling/createMessage`, `elicitation/create`,
//!     `roots/list`, on the stream of the client's `tools/call`), then retries the upstream
//!     with the answers as `inputResponses` and the echoed `requestState`, for at most
//!     [`MAX_ROUNDS`] rounds.
//! - **legacy upstream** (initialize era): it sends the requests to corral's upstream client.
//!   Sessions started once a gateway serves from the corral declare sampling, elicitation
//!   (form and URL) and roots at their handshake (the session is shared, so it declares all
//!   three; each request still carries its client's own capabilities in `_meta`); a legacy
//!   session opened before the gateway (by a direct call) declared none, so the gateway
//!   restarts it once when it starts serving that server. The request
//!   goes to the client whose call is in flight on that server, through the same per-call
//!   route as its progress and log messages. A stdio session does not say which call a
//!   request belongs to (SEP-2260), so with no call or several calls in flight on that server
//!   the gateway refuses it with a JSON-RPC error (-32600) rather than guess; it refuses too
//!   when the client did not declare the capability (-32021), when the client speaks
//!   2026-07-28 (no server-to-client requests there; the upstream would have to use MRTR),
//!   and for a plain-HTTP caller. Nothing waits forever: a request ends with its call.
//!
//! Input requests reach only the client whose call asked for them: they are answers to that
//! call, never broadcast. A plain-HTTP caller (`/mcp/call_tool`) cannot answer, so a tool that
//! asks gets a tool error there.

#![allow(deprecated)] // sampling and roots are deprecated by SEP-2577 but still relayed

use std::sync::Arc;

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{
        CallToolResponse, ClientCapabilities, ClientRequest, ClientResult, ContentBlock, ErrorCode,
        GetExtensions, InputRequest, InputRequiredResult, InputResponses, ProtocolVersion,
        RequestId, RequestMetaObject, ServerRequest, ServerResult,
    },
    service::{OriginatingRequestId, Peer, PeerRequestOptions, RequestContext},
};
use serde_json::{Map, Value};

use super::handler::{CallContext, GatewayHandler};
use crate::sync::lock;

/// Most MRTR rounds the gateway drives for a legacy client (rmcp's own client default).
pub(super) const MAX_ROUNDS: usize = rmcp::model::DEFAULT_MRTR_MAX_ROUNDS;

/// The input side of one client request.
#[derive(Clone, Default)]
pub(crate) struct InputContext {
    /// The client's capabilities (its `initialize` ones, or the request's `_meta`).
    pub(super) capabilities: Option<ClientCapabilities>,
    /// Whether the client speaks 2026-07-28 (MRTR passes through) or older (the gateway asks).
    pub(super) stateless: bool,
    /// A 2026-07-28 client's retry: its answers and the echoed state.
    pub(super) responses: Option<InputResponses>,
    pub(super) state: Option<String>,
    /// The client's request, so that input requests ride its response stream (SEP-2260).
    pub(super) request_id: Option<RequestId>,
}

/// Where the answer to a legacy upstream's request goes.
pub(super) type Reply = tokio::sync::oneshot::Sender<Result<ClientResult, McpError>>;

impl InputContext {
    pub(super) fn of(
        context: &RequestContext<RoleServer>,
        responses: Option<InputResponses>,
        state: Option<String>,
    ) -> Self {
        Self {
            capabilities: context.client_capabilities(),
            stateless: context
                .protocol_version()
                .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28),
            responses,
            state,
            request_id: Some(context.id.clone()),
        }
    }

    /// The `_meta` the upstream request carries: the client's capabilities (none declared →
    /// an empty set, so the upstream asks nothing).
    pub(super) fn upstream_meta(&self) -> Option<RequestMetaObject> {
        let mut meta = RequestMetaObject::new();
        meta.set_client_capabilities(self.capabilities.clone().unwrap_or_default());
        Some(meta)
    }
}

fn tool_error(text: String) -> CallToolResponse {
    rmcp::model::CallToolResult::error(vec![ContentBlock::text(text)]).into()
}

/// The client capability an input request needs, for the three a server may ask for.
fn capability_for(request: &ServerRequest) -> Option<&'static str> {
    match request {
        ServerRequest::CreateMessageRequest(_) => Some("sampling"),
        ServerRequest::ElicitRequest(_) => Some("elicitation"),
        ServerRequest::ListRootsRequest(_) => Some("roots"),
        _ => None,
    }
}

/// Why the client cannot answer `request`, if it cannot (no capabilities: it can answer none).
fn unsupported(request: &ServerRequest, caps: Option<&ClientCapabilities>) -> Option<&'static str> {
    let none = ClientCapabilities::default();
    let caps = caps.unwrap_or(&none);
    let Some(what) = capability_for(request) else {
        return Some("this kind of request");
    };
    let declared = match what {
        "sampling" => caps.sampling.is_some(),
        "elicitation" => caps.elicitation.is_some(),
        _ => caps.roots.is_some(),
    };
    (!declared).then_some(what)
}

/// Sends one input request to the client of a call and waits for its answer (or the end of
/// the call).
async fn send_to_client(
    peer: &Peer<RoleServer>,
    mut request: ServerRequest,
    input: &InputContext,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<ClientResult, McpError> {
    if input.stateless {
        return Err(McpError::invalid_request(
            "the client speaks 2026-07-28, which has no server-to-client requests (the server should answer input_required)",
            None,
        ));
    }
    if let Some(what) = unsupported(&request, input.capabilities.as_ref()) {
        let mut required = serde_json::Map::new();
        required.insert(what.to_owned(), Value::Object(serde_json::Map::new()));
        return Err(McpError::new(
            ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
            format!("the client did not declare {what}"),
            Some(serde_json::json!({ "requiredCapabilities": required })),
        ));
    }
    if let Some(id) = &input.request_id {
        request
            .extensions_mut()
            .insert(OriginatingRequestId(id.clone()));
    }
    tokio::select! {
        r = peer.send_request(request) => r.map_err(|e| match e {
            rmcp::service::ServiceError::McpError(data) => data,
            other => McpError::internal_error(format!("the client did not answer: {other}"), None),
        }),
        () = cancel.cancelled() => Err(McpError::internal_error("the call was cancelled", None)),
    }
}

/// Relays a legacy upstream's request to the client of the call it belongs to, answering on
/// `reply` (on a task of its own, so that the call's progress keeps flowing meanwhile).
pub(super) fn relay_to(
    peer: Peer<RoleServer>,
    request: ServerRequest,
    reply: Reply,
    input: &InputContext,
    cancel: &tokio_util::sync::CancellationToken,
) {
    let input = input.clone();
    let cancel = cancel.clone();
    tokio::spawn(async move {
        let _ = reply.send(send_to_client(&peer, request, &input, &cancel).await);
    });
}

impl super::State {
    /// Answers a legacy upstream's requests for input: the one call in flight on `server`
    /// takes it to its client; none or several → a JSON-RPC error (see the module docs).
    pub(super) fn input_callback(self: &Arc<Self>, server: &str) -> crate::mcp::InputCallback {
        let weak = Arc::downgrade(self);
        let server = server.to_owned();
        Arc::new(move |request: ServerRequest| {
            let route = weak.upgrade().and_then(|st| {
                let routes = lock(&st.log_routes);
                match routes.get(&server).map(Vec::as_slice) {
                    Some([(_, tx)]) => Some(tx.clone()),
                    _ => None,
                }
            });
            let asked = capability_for(&request).unwrap_or("input");
            let server = server.clone();
            Box::pin(async move {
                let Some(tx) = route else {
                    // server-filesystem asks for `roots/list` at every start: routine.
                    tracing::debug!(server = %server, asked, "refused: no single client call in flight");
                    return Err(McpError::invalid_request(
                        "the gateway cannot tell which client to ask: no call, or several calls, in flight on this server",
                        None,
                    ));
                };
                let (reply, answer) = tokio::sync::oneshot::channel();
                tx.send(super::handler::Forwarded::Input(request, reply))
                    .map_err(|_| McpError::internal_error("the call has ended", None))?;
                drop(tx);
                answer.await.unwrap_or_else(|_| {
                    Err(McpError::invalid_request(
                        "the caller cannot answer requests for input (it is not an MCP client session)",
                        None,
                    ))
                })
            })
        })
    }
}

/// A client request that input rounds may repeat (`prompts/get`, `resources/read`): its
/// `inputResponses` and `requestState`, and the request again with others.
pub(super) trait Retried: Clone {
    fn answers(&self) -> (Option<InputResponses>, Option<String>);
    fn with_answers(
        &self,
        responses: Option<InputResponses>,
        state: Option<String>,
    ) -> ClientRequest;
}

macro_rules! retried {
    ($($params:ty => $variant:ident($request:ident)),*) => {$(
        impl Retried for $params {
            fn answers(&self) -> (Option<InputResponses>, Option<String>) {
                (self.input_responses.clone(), self.request_state.clone())
            }
            fn with_answers(
                &self,
                responses: Option<InputResponses>,
                state: Option<String>,
            ) -> ClientRequest {
                let mut params = self.clone();
                params.input_responses = responses;
                params.request_state = state;
                ClientRequest::$variant(rmcp::model::$request::new(params))
            }
        }
    )*};
}

retried!(
    rmcp::model::GetPromptRequestParams => GetPromptRequest(GetPromptRequest),
    rmcp::model::ReadResourceRequestParams => ReadResourceRequest(ReadResourceRequest)
);

/// Sends each input request to the (legacy) client and collects its answers, keyed as the
/// upstream asked. Fails with a message when the client cannot or does not answer.
pub(super) async fn ask_client(
    peer: &Peer<RoleServer>,
    needed: &InputRequiredResult,
    input: &InputContext,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<InputResponses, String> {
    let mut answers = InputResponses::new();
    for (key, request) in needed.input_requests.iter().flatten() {
        let outbound = match request.clone() {
            InputRequest::CreateMessage(r) => ServerRequest::CreateMessageRequest(r),
            InputRequest::Elicitation(r) => ServerRequest::ElicitRequest(r),
            InputRequest::ListRoots(r) => ServerRequest::ListRootsRequest(r),
            _ => return Err("the server asked for an unknown kind of input".into()),
        };
        // A legacy client is asked directly; `input_required` itself never reaches it.
        let legacy = InputContext {
            stateless: false,
            ..input.clone()
        };
        let answer = send_to_client(peer, outbound, &legacy, cancel)
            .await
            .map_err(|e| format!("`{key}`: {}", e.message))?;
        answers.insert(
            key.clone(),
            serde_json::to_value(&answer).unwrap_or(Value::Null),
        );
    }
    Ok(answers)
}

impl GatewayHandler {
    /// [`GatewayHandler::forward`], with the input rounds: an upstream's `input_required`
    /// passes through to a 2026-07-28 client, and is fulfilled by the gateway for a legacy one.
    pub(super) async fn forward_with_input(
        &self,
        server: &str,
        upstream: &str,
        published: &str,
        arguments: Option<Map<String, Value>>,
        context: &CallContext,
    ) -> Result<CallToolResponse, McpError> {
        let first = self
            .forward(server, upstream, published, arguments.clone(), context)
            .await?;
        let CallToolResponse::InputRequired(mut needed) = first else {
            return Ok(first);
        };
        if context.input.stateless {
            return Ok(CallToolResponse::InputRequired(needed));
        }
        let Some(peer) = context.peer.clone() else {
            return Ok(tool_error(format!(
                "tool `{published}` asks its caller for input, which needs an MCP client"
            )));
        };
        let mut round = context.clone();
        for _ in 0..MAX_ROUNDS {
            let answers = match ask_client(&peer, &needed, &context.input, &context.cancel).await {
                Ok(a) => a,
                Err(why) => {
                    return Ok(tool_error(format!(
                        "tool `{published}` needs input the gateway could not get: {why}"
                    )));
                }
            };
            round.input.responses = Some(answers);
            round.input.state = needed.request_state.clone();
            match self
                .forward(server, upstream, published, arguments.clone(), &round)
                .await?
            {
                CallToolResponse::InputRequired(next) => needed = next,
                done => return Ok(done),
            }
        }
        Ok(tool_error(format!(
            "tool `{published}` still asked for input after {MAX_ROUNDS} rounds"
        )))
    }

    /// One request (`prompts/get`, `resources/read`) to an upstream on behalf of a client, with
    /// the input rounds: `params` go as they are (with the client's own `inputResponses` and
    /// `requestState`) and again with the answers of each round. An upstream's
    /// `input_required` is returned as `Err` to a 2026-07-28 client, which answers it itself;
    /// for a legacy client the gateway asks it and retries, for at most [`MAX_ROUNDS`] rounds.
    /// `Ok` is the upstream's final answer.
    pub(super) async fn request_with_input(
        &self,
        session: &crate::runner::ServerSession,
        context: &RequestContext<RoleServer>,
        params: &impl Retried,
    ) -> Result<Result<ServerResult, InputRequiredResult>, McpError> {
        let (mut responses, mut state) = params.answers();
        let input = &InputContext::of(context, responses.clone(), state.clone());
        for _ in 0..MAX_ROUNDS {
            let mut options = PeerRequestOptions::no_options();
            options.meta = input.upstream_meta();
            let answer = session
                .mcp()
                .peer()
                .send_request_with_option(
                    params.with_answers(responses.take(), state.take()),
                    options,
                )
                .await
                .map_err(super::handler::upstream_error)?
                .await_response()
                .await
                .map_err(super::handler::upstream_error)?;
            match answer {
                ServerResult::InputRequiredResult(needed) if input.stateless => {
                    return Ok(Err(needed));
                }
                ServerResult::InputRequiredResult(needed) => {
                    let answers = ask_client(&context.peer, &needed, input, &context.ct)
                        .await
                        .map_err(|why| {
                            McpError::internal_error(format!("the server needs input: {why}"), None)
                        })?;
                    responses = Some(answers);
                    state = needed.request_state;
                }
                done => return Ok(Ok(done)),
            }
        }
        Err(McpError::internal_error(
            format!("the server still asked for input after {MAX_ROUNDS} rounds"),
            None,
        ))
    }
}
