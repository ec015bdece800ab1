//! The `io.modelcontextprotocol/tasks` extension (SEP-2663) through the gateway: two real
//! sandboxed fixture servers (`corral-test-server --conformance`, which serve tasks with rmcp's
//! TaskManager) behind the real gateway, driven by rmcp's own client over HTTP on 127.0.0.1.

#![allow(clippy::expect_used)] // test helpers

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use corral_core::{Corral, GatewayOptions, ServerConfig};
use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient,
    model::{
        CallToolRequestParams, CallToolResponse, CancelTaskParams, ClientCapabilities,
        ClientConfig, GetTaskParams, Implementation, ProtocolVersion, TaskPayload, TaskStatus,
    },
    service::{RunningService, ServiceError},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Value, json};

mod common;
use common::fixture;

#[derive(Clone)]
struct Client {
    tasks: bool,
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        let caps = if self.tasks {
            ClientCapabilities::builder().enable_tasks().build()
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(caps, Implementation::new("gateway-tasks-test", "0"))
    }
}

type Running = RunningService<RoleClient, Client>;

fn tag() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "gwt-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

async fn rig(servers: &[&str]) -> (Corral, tempfile::TempDir, corral_core::Gateway) {
    let fx = fixture();
    assert!(
        fx.is_file(),
        "build corral-test-server first ({})",
        fx.display()
    );
    let home = tempfile::tempdir().expect("tmp");
    let corral = common::unsandboxed(home.path());
    let t = tag();
    for name in servers {
        let mut config = ServerConfig::argv(
            *name,
            vec![fx.display().to_string(), "--conformance".into()],
        );
        config.env.insert("CORRAL_SCENARIO_TAG".into(), t.clone());
        corral.add_server(config).await.expect("add");
    }
    let gw = corral
        .start_gateway(GatewayOptions::default())
        .await
        .expect("gateway");
    assert!(
        gw.wait_settled(Duration::from_secs(60)).await,
        "servers settled"
    );
    (corral, home, gw)
}

async fn connect(gw: &corral_core::Gateway, tasks: bool) -> Running {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = StreamableHttpClientTransportConfig::with_uri(gw.url().to_owned())
        .auth_header(gw.token().to_owned());
    Client { tasks }
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_config(cfg),
            ClientLifecycleMode::Auto {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                legacy_version: None,
            },
        )
        .await
        .expect("discover")
}

fn params(name: &str, args: Value) -> CallToolRequestParams {
    let mut p = CallToolRequestParams::new(name.to_owned());
    if let Value::Object(m) = args {
        p = p.with_arguments(m);
    }
    p
}

/// Polls `tasks/get` until the task is terminal (bounded by a generous limit, not a timing
/// assertion).
async fn settle(c: &Running, id: &str) -> rmcp::model::GetTaskResult {
    for _ in 0..600 {
        let r = c
            .peer()
            .get_task(GetTaskParams::new(id))
            .await
            .expect("tasks/get");
        assert_eq!(
            r.task.task.task_id, id,
            "tasks/get answers for the id asked"
        );
        if r.task.status().is_terminal() {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("task {id} never settled");
}

fn result_text(r: &rmcp::model::GetTaskResult) -> String {
    match &r.task.payload {
        TaskPayload::Completed { result } => result
            .get("content")
            .and_then(|c| c.pointer("/0/text"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        other => panic!("not completed: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_pass_through_with_namespaced_ids() {
    let (corral, _home, gw) = rig(&["alpha", "beta"]).await;
    let c = connect(&gw, true).await;
    let caps = c.peer_info().map(|i| i.capabilities.clone()).expect("info");
    assert!(
        caps.supports_tasks(),
        "the gateway advertises the tasks extension"
    );

    // A sync-only tool stays sync.
    match c
        .call_tool_once(params("alpha__greet", json!({"name": "World"})))
        .await
        .expect("greet")
    {
        CallToolResponse::Complete(r) => {
            assert_eq!(
                r.content[0].as_text().map(|t| t.text.as_str()),
                Some("Hello, World!")
            );
        }
        other => panic!("greet: {other:?}"),
    }

    // A task-supporting tool creates a task upstream; its id names the server.
    let created = match c
        .call_tool_once(params(
            "beta__slow_compute",
            json!({"seconds": 0.2, "label": "x"}),
        ))
        .await
        .expect("slow_compute")
    {
        CallToolResponse::Task(t) => t,
        other => panic!("slow_compute: {other:?}"),
    };
    let id = created.task.task_id.clone();
    assert!(id.starts_with("beta__"), "namespaced task id: {id}");
    assert!(created.task.ttl_ms.is_some_and(|t| t > 0));
    let done = settle(&c, &id).await;
    assert_eq!(done.task.status(), TaskStatus::Completed);
    assert!(
        result_text(&done).contains("computed x"),
        "{:?}",
        done.task.payload
    );

    // A tool error is a completed task with isError; a protocol error a failed one.
    let CallToolResponse::Task(t) = c
        .call_tool_once(params("alpha__failing_job", json!({})))
        .await
        .expect("failing_job")
    else {
        panic!("failing_job made no task");
    };
    let done = settle(&c, &t.task.task_id).await;
    match &done.task.payload {
        TaskPayload::Completed { result } => assert_eq!(result.get("isError"), Some(&json!(true))),
        other => panic!("failing_job: {other:?}"),
    }
    let CallToolResponse::Task(t) = c
        .call_tool_once(params("alpha__protocol_error_job", json!({})))
        .await
        .expect("protocol_error_job")
    else {
        panic!("protocol_error_job made no task");
    };
    assert_eq!(
        settle(&c, &t.task.task_id).await.task.status(),
        TaskStatus::Failed
    );

    // Cancellation reaches the upstream that owns the task.
    let CallToolResponse::Task(t) = c
        .call_tool_once(params("beta__slow_compute", json!({"seconds": 60})))
        .await
        .expect("slow_compute 60")
    else {
        panic!("no task");
    };
    c.peer()
        .cancel_task(CancelTaskParams::new(t.task.task_id.clone()))
        .await
        .expect("tasks/cancel");
    assert_eq!(
        settle(&c, &t.task.task_id).await.task.status(),
        TaskStatus::Cancelled
    );

    // Unknown ids: -32602.
    for bad in ["gamma__1", "alpha__no-such-task", "plain"] {
        match c.peer().get_task(GetTaskParams::new(bad)).await {
            Err(ServiceError::McpError(e)) => assert_eq!(e.code.0, -32602, "{bad}: {e:?}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let _ = c.cancel().await;
    gw.close().await;
    corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_the_extension_gets_sync_results() {
    let (corral, _home, gw) = rig(&["solo"]).await;
    let c = connect(&gw, false).await;
    match c
        .call_tool_once(params(
            "slow_compute",
            json!({"seconds": 0, "label": "sync"}),
        ))
        .await
        .expect("slow_compute")
    {
        CallToolResponse::Complete(r) => {
            let text = r.content[0]
                .as_text()
                .map(|t| t.text.clone())
                .unwrap_or_default();
            assert!(text.contains("computed sync"), "{text}");
        }
        other => panic!("slow_compute without tasks: {other:?}"),
    }
    match c.peer().get_task(GetTaskParams::new("x")).await {
        Err(ServiceError::McpError(e)) => assert_eq!(e.code.0, -32021, "{e:?}"),
        other => panic!("tasks/get without the extension: {other:?}"),
    }
    // One server: task ids pass through unchanged.
    let t = connect(&gw, true).await;
    let CallToolResponse::Task(created) = t
        .call_tool_once(params("slow_compute", json!({"seconds": 0.1})))
        .await
        .expect("slow_compute")
    else {
        panic!("no task");
    };
    assert!(
        !created.task.task_id.contains("__"),
        "{}",
        created.task.task_id
    );
    assert_eq!(
        settle(&t, &created.task.task_id).await.task.status(),
        TaskStatus::Completed
    );
    let _ = t.cancel().await;
    let _ = c.cancel().await;
    gw.close().await;
    corral.close().await;
}
