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
//! - **legacy upstream**: its server-to-client requests reach corral's upstream client
//!   (core/src/mcp), which refuses them with a JSON-RPC error, as it does outside the gateway
//!   (see the module docs there); relaying them needs the request tied to the call it belongs
//!   to, which a stdio session does not carry (SEP-2260).
//!
//! Input requests reach only the client whose call asked for them: they are answers to that
//! call, never broadcast. A plain-HTTP caller (`/mcp/call_tool`) cannot answer, so a tool that
//! asks gets a tool error there.

#![allow(deprecated)] // sampling and roots are deprecated by SEP-2577 but still relayed

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{
        CallToolResponse, ClientCapabilities, ClientResult, ContentBlock, InputRequest,
        InputRequiredResult, InputResponses, ProtocolVersion, RequestMetaObject, ServerRequest,
    },
    service::{Peer, RequestContext},
};
use serde_json::{Map, Value};

use super::handler::{CallContext, GatewayHandler};

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
}

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

/// Why the client cannot answer `request`, if it cannot.
fn unsupported(request: &InputRequest, caps: Option<&ClientCapabilities>) -> Option<&'static str> {
    let caps = caps?;
    match request {
        InputRequest::CreateMessage(_) if caps.sampling.is_none() => Some("sampling"),
        InputRequest::Elicitation(_) if caps.elicitation.is_none() => Some("elicitation"),
        InputRequest::ListRoots(_) if caps.roots.is_none() => Some("roots"),
        InputRequest::CreateMessage(_)
        | InputRequest::Elicitation(_)
        | InputRequest::ListRoots(_) => None,
        _ => Some("this kind of input request"),
    }
}

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
        if let Some(what) = unsupported(
            request,
            input
                .capabilities
                .as_ref()
                .or(Some(&ClientCapabilities::default())),
        ) {
            return Err(format!(
                "the server asked for {what}, which this client did not declare"
            ));
        }
        let outbound = match request.clone() {
            InputRequest::CreateMessage(r) => ServerRequest::CreateMessageRequest(r),
            InputRequest::Elicitation(r) => ServerRequest::ElicitRequest(r),
            InputRequest::ListRoots(r) => ServerRequest::ListRootsRequest(r),
            _ => return Err("the server asked for an unknown kind of input".into()),
        };
        let answer: ClientResult = tokio::select! {
            r = peer.send_request(outbound) => r.map_err(|e| format!("the client did not answer `{key}`: {e}"))?,
            () = cancel.cancelled() => return Err("the call was cancelled".into()),
        };
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

    /// A `prompts/get` (or similar) answer that asked for input: passed through to a
    /// 2026-07-28 client; for a legacy one, `Some(answers)` to retry with (or an error).
    pub(super) async fn answer_for_legacy(
        &self,
        needed: &InputRequiredResult,
        context: &RequestContext<RoleServer>,
        input: &InputContext,
    ) -> Result<InputResponses, McpError> {
        ask_client(&context.peer, needed, input, &context.ct)
            .await
            .map_err(|why| McpError::internal_error(format!("the server needs input: {why}"), None))
    }
}
