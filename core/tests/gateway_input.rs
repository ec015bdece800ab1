//! Server-to-client input through the gateway (sampling, elicitation, roots; MRTR), with the
//! real sandboxed fixture server (`--conformance`) and rmcp's own client over real HTTP on
//! 127.0.0.1, in both client eras. The client's handler answers what the server asks, so each
//! check proves the request reached the client that made the call and the answer came back.

#![allow(clippy::expect_used)] // test helpers
#![allow(deprecated)] // sampling and roots are deprecated by SEP-2577 but still relayed

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use corral_core::{Corral, GatewayOptions, ServerConfig};
use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, ErrorData as McpError, RoleClient,
    ServiceExt,
    model::{
        CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig,
        CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
        Implementation, InputResponses, ListRootsResult, ProtocolVersion,
        ReadResourceRequestParams, ReadResourceResponse,
    },
    service::{RequestContext, RunningService},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Value, json};

mod common;
use common::fixture;

/// The fixture's resource that asks for input before it is read.
const INPUT_RESOURCE: &str = "test://input-required-resource";

/// A client that answers every input request and counts them.
#[derive(Clone, Default)]
struct Answerer {
    /// Declare sampling, elicitation and roots (else nothing).
    capable: bool,
    /// Speak 2025-11-25 (else 2026-07-28).
    legacy: bool,
    asked: Arc<AtomicUsize>,
    /// The last elicitation schema seen.
    schema: Arc<std::sync::Mutex<Value>>,
}

impl ClientHandler for Answerer {
    fn get_info(&self) -> ClientConfig {
        let caps: ClientCapabilities = if self.capable {
            serde_json::from_value(
                json!({"sampling": {}, "elicitation": {"form": {}, "url": {}}, "roots": {}}),
            )
            .expect("caps")
        } else {
            ClientCapabilities::default()
        };
        let c = ClientConfig::new(caps, Implementation::new("gateway-input-test", "0"));
        if self.legacy {
            c.with_protocol_version(ProtocolVersion::V_2025_11_25)
        } else {
            c
        }
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let asked = serde_json::to_value(&params.messages).expect("messages");
        let question = asked[0]["content"]["text"].as_str().unwrap_or_default();
        Ok(
            serde_json::from_value(json!({"role": "assistant", "model": "test-model",
            "content": {"type": "text", "text": format!("answer to: {question}")},
            "stopReason": "endTurn"}))
            .expect("result"),
        )
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let v = serde_json::to_value(&request).expect("request");
        *self.schema.lock().expect("lock") = v["requestedSchema"].clone();
        Ok(
            serde_json::from_value(json!({"action": "accept", "content": {
            "name": "Alice", "username": "alice", "email": "a@example.com", "ok": true,
            "color": "blue", "context": "ctx"}}))
            .expect("result"),
        )
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, McpError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(serde_json::from_value(
            json!({"roots": [{"uri": "file:///test/root", "name": "Test Root"}]}),
        )
        .expect("roots"))
    }
}

type Client = RunningService<RoleClient, Answerer>;

struct Rig {
    corral: Corral,
    gw: corral_core::Gateway,
    _home: tempfile::TempDir,
}

impl Rig {
    async fn new() -> Self {
        Self::with(&[]).await
    }

    /// The fixture with `extra` arguments (`--legacy`: an initialize-era upstream).
    async fn with(extra: &[&str]) -> Self {
        let fx = fixture();
        assert!(fx.is_file(), "build corral-test-server first");
        let home = tempfile::tempdir().expect("tmp");
        let corral = common::unsandboxed(home.path());
        let mut argv = vec![fx.display().to_string(), "--conformance".into()];
        argv.extend(extra.iter().map(|a| (*a).to_owned()));
        let config = ServerConfig::argv("fx", argv);
        corral.add_server(config).await.expect("add");
        let gw = corral
            .start_gateway(GatewayOptions::default())
            .await
            .expect("gateway");
        assert!(
            gw.wait_settled(std::time::Duration::from_secs(60)).await,
            "settled"
        );
        Self {
            corral,
            gw,
            _home: home,
        }
    }

    fn transport(&self) -> StreamableHttpClientTransport<reqwest::Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(self.gw.url().to_owned())
                .auth_header(self.gw.token().to_owned()),
        )
    }

    async fn legacy(&self, capable: bool) -> (Client, Answerer) {
        let a = Answerer {
            capable,
            legacy: true,
            ..Answerer::default()
        };
        let c = a.clone().serve(self.transport()).await.expect("connect");
        assert_eq!(
            c.peer_info().map(|i| i.protocol_version.clone()),
            Some(ProtocolVersion::V_2025_11_25)
        );
        (c, a)
    }

    async fn stateless(&self, capable: bool) -> (Client, Answerer) {
        let a = Answerer {
            capable,
            ..Answerer::default()
        };
        let c = a
            .clone()
            .serve_with_lifecycle(
                self.transport(),
                ClientLifecycleMode::Auto {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                    legacy_version: None,
                },
            )
            .await
            .expect("discover");
        assert_eq!(
            c.peer_info().map(|i| i.protocol_version.clone()),
            Some(ProtocolVersion::V_2026_07_28)
        );
        (c, a)
    }

    async fn close(self) {
        self.gw.close().await;
        self.corral.close().await;
    }
}

fn params(name: &str, args: Value) -> CallToolRequestParams {
    let mut p = CallToolRequestParams::new(name.to_owned());
    if let Value::Object(m) = args {
        p = p.with_arguments(m);
    }
    p
}

fn text(r: &rmcp::model::CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn call(c: &Client, name: &str, args: Value) -> (String, bool) {
    let r = c.call_tool(params(name, args)).await.expect("tools/call");
    (text(&r), r.is_error.unwrap_or(false))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_client_answers_what_the_upstream_asks() {
    let rig = Rig::new().await;
    let (c, a) = rig.legacy(true).await;
    // The upstream speaks 2026-07-28 (MRTR); the gateway asks the legacy client itself.
    let (t, err) = call(&c, "test_sampling", json!({"prompt": "capital of France?"})).await;
    assert_eq!(
        (t.as_str(), err),
        ("LLM response: answer to: capital of France?", false)
    );
    let (t, err) = call(&c, "test_elicitation", json!({"message": "who?"})).await;
    assert!(
        !err && t.contains("action=accept") && t.contains("alice"),
        "{t}"
    );
    // SEP-1034 defaults and SEP-1330 enums reach the client intact.
    call(&c, "test_elicitation_sep1034_defaults", json!({})).await;
    let schema = a.schema.lock().expect("lock").clone();
    assert_eq!(schema["properties"]["score"]["default"], json!(95.5));
    assert_eq!(schema["properties"]["status"]["default"], json!("active"));
    call(&c, "test_elicitation_sep1330_enums", json!({})).await;
    let schema = a.schema.lock().expect("lock").clone();
    assert_eq!(
        schema["properties"]["legacyEnum"]["enumNames"],
        json!(["Option One", "Option Two", "Option Three"])
    );
    assert!(schema["properties"]["titledMulti"]["items"]["anyOf"].is_array());
    // Three kinds at once, then two rounds with requestState.
    let before = a.asked.load(Ordering::SeqCst);
    let (t, err) = call(&c, "test_input_required_result_multiple_inputs", json!({})).await;
    assert!(
        !err && t.contains("\"Alice\"") && t.contains("roots=1"),
        "{t}"
    );
    assert_eq!(a.asked.load(Ordering::SeqCst), before + 3);
    let (t, err) = call(&c, "test_input_required_result_multi_round", json!({})).await;
    assert!(!err && t.contains("Alice") && t.contains("blue"), "{t}");
    let (t, err) = call(&c, "test_input_required_result_request_state", json!({})).await;
    assert!(!err && t.contains("state-ok"), "{t}");
    // A prompt that asks for input first.
    let p = c
        .get_prompt(rmcp::model::GetPromptRequestParams::new(
            "test_input_required_result_prompt",
        ))
        .await
        .expect("prompts/get");
    assert!(format!("{:?}", p.messages).contains("ctx"));
    // A resource that asks for input first: the gateway asks this client and retries.
    let r = c
        .read_resource(ReadResourceRequestParams::new(INPUT_RESOURCE))
        .await
        .expect("resources/read");
    assert!(format!("{:?}", r.contents).contains("Read with this context: ctx"));
    let _ = c.cancel().await;
    rig.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_the_capability_is_not_asked() {
    let rig = Rig::new().await;
    let (c, a) = rig.legacy(false).await;
    // The client declared nothing: the upstream sees that (no hang, a clean refusal).
    let (t, err) = call(&c, "test_sampling", json!({"prompt": "x"})).await;
    assert!(err && t.contains("does not support sampling"), "{t}");
    let e = c
        .call_tool(params("test_missing_capability", json!({})))
        .await
        .expect_err("-32021");
    assert!(format!("{e:?}").contains("-32021"), "{e:?}");
    // An upstream that asks anyway for what the client lacks gets nothing from it.
    let (t, err) = call(&c, "test_input_required_result_elicitation", json!({})).await;
    assert!(err && t.contains("did not declare"), "{t}");
    assert_eq!(a.asked.load(Ordering::SeqCst), 0);
    let _ = c.cancel().await;
    rig.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateless_client_gets_input_required_and_retries() {
    let rig = Rig::new().await;
    let (c, a) = rig.stateless(true).await;
    // One round by hand: the upstream's input_required comes through unchanged.
    let first = c
        .call_tool_once(params(
            "test_input_required_result_request_state",
            json!({}),
        ))
        .await
        .expect("round 1");
    let CallToolResponse::InputRequired(needed) = first else {
        panic!("expected input_required, got {first:?}");
    };
    let keys: Vec<&String> = needed
        .input_requests
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["confirm"]);
    let state = needed.request_state.clone().expect("requestState");
    let answers = InputResponses::from([(
        "confirm".to_owned(),
        json!({"action": "accept", "content": {"ok": true}}),
    )]);
    let mut retry = params("test_input_required_result_request_state", json!({}));
    retry.input_responses = Some(answers.clone());
    retry.request_state = Some(state.clone());
    let done = c.call_tool_once(retry).await.expect("round 2");
    let CallToolResponse::Complete(r) = done else {
        panic!("expected a result, got {done:?}");
    };
    assert!(text(&r).contains("state-ok"));
    // A tampered state is the upstream's to reject, and its error comes back as one.
    let mut bad = params("test_input_required_result_request_state", json!({}));
    bad.input_responses = Some(answers);
    bad.request_state = Some(format!("{state}-TAMPERED"));
    let e = c.call_tool_once(bad).await.expect_err("tampered");
    assert!(format!("{e:?}").contains("-32602"), "{e:?}");
    // resources/read: the upstream's input_required comes through too, and the retry reads it.
    let first = c
        .read_resource_once(ReadResourceRequestParams::new(INPUT_RESOURCE))
        .await
        .expect("read round 1");
    let ReadResourceResponse::InputRequired(needed) = first else {
        panic!("expected input_required, got {first:?}");
    };
    assert!(
        needed
            .input_requests
            .iter()
            .flatten()
            .any(|(k, _)| k == "user_context")
    );
    let mut retry = ReadResourceRequestParams::new(INPUT_RESOURCE);
    retry.input_responses = Some(InputResponses::from([(
        "user_context".to_owned(),
        json!({"action": "accept", "content": {"context": "by hand"}}),
    )]));
    let done = c.read_resource_once(retry).await.expect("read round 2");
    let ReadResourceResponse::Complete(r) = done else {
        panic!("expected contents, got {done:?}");
    };
    assert!(format!("{:?}", r.contents).contains("Read with this context: by hand"));
    // rmcp's own client drives the rounds through its handler (three kinds, then two rounds).
    let (t, err) = call(&c, "test_input_required_result_multiple_inputs", json!({})).await;
    assert!(!err && t.contains("roots=1"), "{t}");
    let (t, err) = call(&c, "test_input_required_result_multi_round", json!({})).await;
    assert!(!err && t.contains("blue"), "{t}");
    // rmcp's client drives a resource's round too (the sixth answer).
    let r = c
        .read_resource(ReadResourceRequestParams::new(INPUT_RESOURCE))
        .await
        .expect("resources/read");
    assert!(format!("{:?}", r.contents).contains("ctx"));
    assert_eq!(a.asked.load(Ordering::SeqCst), 6);
    // The client's own capabilities reach the upstream: without them, -32021.
    let (bare, _) = rig.stateless(false).await;
    let e = bare
        .call_tool_once(params("test_missing_capability", json!({})))
        .await
        .expect_err("-32021");
    assert!(format!("{e:?}").contains("-32021"), "{e:?}");
    let _ = bare.cancel().await;
    let _ = c.cancel().await;
    rig.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_session_opened_before_the_gateway_still_asks_the_client() {
    let home = tempfile::tempdir().expect("tmp");
    let corral = common::unsandboxed(home.path());
    let argv = vec![
        fixture().display().to_string(),
        "--conformance".into(),
        "--legacy".into(),
    ];
    corral
        .add_server(ServerConfig::argv("fx", argv))
        .await
        .expect("add");
    // A direct call first: its session's handshake declares no input capabilities.
    let before = corral.session("fx").await.expect("session");
    let first = before.session_id().to_owned();
    drop(before);
    let gw = corral
        .start_gateway(GatewayOptions::default())
        .await
        .expect("gateway");
    assert!(gw.wait_settled(std::time::Duration::from_secs(60)).await);
    let rig = Rig {
        corral,
        gw,
        _home: home,
    };
    let (c, a) = rig.legacy(true).await;
    let (t, err) = call(&c, "test_sampling", json!({"prompt": "capital of France?"})).await;
    assert!(!err, "{t}");
    assert_eq!(a.asked.load(Ordering::SeqCst), 1);
    let now = rig.corral.session("fx").await.expect("session");
    assert_ne!(now.session_id(), first, "restarted once to declare them");
    let _ = c.cancel().await;
    rig.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_upstream_asks_the_client_whose_call_is_in_flight() {
    let rig = Rig::with(&["--legacy"]).await;
    let upstream = rig.corral.session("fx").await.expect("session");
    assert_eq!(upstream.protocol_version(), "2025-11-25");
    let (c, a) = rig.legacy(true).await;
    // The upstream sends real server-to-client requests; the gateway relays them to this
    // client (the only call in flight) and the answers back.
    let (t, err) = call(&c, "test_sampling", json!({"prompt": "capital of France?"})).await;
    assert_eq!(
        (t.as_str(), err),
        ("LLM response: answer to: capital of France?", false)
    );
    call(&c, "test_elicitation_sep1034_defaults", json!({})).await;
    let schema = a.schema.lock().expect("lock").clone();
    assert_eq!(schema["properties"]["verified"]["default"], json!(true));
    let before = a.asked.load(Ordering::SeqCst);
    let (t, err) = call(&c, "test_input_required_result_multiple_inputs", json!({})).await;
    assert!(
        !err && t.contains("\"Alice\"") && t.contains("roots=1"),
        "{t}"
    );
    assert_eq!(a.asked.load(Ordering::SeqCst), before + 3);
    // A client that declared nothing is not asked: the upstream sees no capability.
    let (bare, b) = rig.legacy(false).await;
    let (t, err) = call(&bare, "test_sampling", json!({"prompt": "x"})).await;
    assert!(err && t.contains("does not support sampling"), "{t}");
    // An upstream that asks anyway is refused (-32021 to the upstream, a tool error here).
    let (t, err) = call(&bare, "test_input_required_result_elicitation", json!({})).await;
    assert!(err && t.contains("did not declare"), "{t}");
    assert_eq!(b.asked.load(Ordering::SeqCst), 0);
    // A 2026-07-28 client has no server-to-client requests: refused, no hang.
    let (new, n) = rig.stateless(true).await;
    let r = new
        .call_tool_once(params("test_input_required_result_elicitation", json!({})))
        .await
        .expect("tools/call");
    let CallToolResponse::Complete(r) = r else {
        panic!("expected a result, got {r:?}");
    };
    assert!(
        r.is_error == Some(true) && text(&r).contains("2026-07-28"),
        "{r:?}"
    );
    assert_eq!(n.asked.load(Ordering::SeqCst), 0);
    for client in [c, bare, new] {
        let _ = client.cancel().await;
    }
    drop(upstream);
    rig.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_gateway_a_tool_that_asks_is_refused_cleanly() {
    let rig = Rig::new().await;
    // The bindings' path (no gateway client to ask): a clean PROTOCOL error, and the server
    // keeps serving.
    let e = rig
        .corral
        .execute_tool("fx", "test_input_required_result_elicitation", json!({}))
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), corral_core::ErrorKind::Protocol);
    assert!(e.message().contains("only through its gateway"), "{e:?}");
    let ok = rig
        .corral
        .execute_tool("fx", "test_simple_text", json!({}))
        .await
        .expect("still serving");
    assert!(!ok.is_error);
    rig.close().await;
}
