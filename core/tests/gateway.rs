//! The gateway with real sandboxed fixture servers and rmcp's own client over real HTTP on
//! 127.0.0.1: naming, long names, fail open and heal, a killed upstream, auth, the tool budget,
//! health, and the stateless era.

#![allow(clippy::expect_used)] // test helpers

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use corral_core::{Corral, CorralOptions, ErrorKind, GatewayOptions, Mount, ServerConfig};
use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt,
    model::{
        CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, ProtocolVersion,
        ReadResourceRequestParams,
    },
    service::{NotificationContext, RunningService},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;
use common::fixture;

struct Rig {
    corral: Corral,
    _home: tempfile::TempDir,
    tag: String,
}

fn tag() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "gw-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

impl Rig {
    fn new() -> Self {
        let fx = fixture();
        assert!(
            fx.is_file(),
            "build corral-test-server first ({})",
            fx.display()
        );
        let home = tempfile::tempdir().expect("tmp");
        let corral = common::unsandboxed(home.path());
        Self {
            corral,
            _home: home,
            tag: tag(),
        }
    }

    async fn add(&self, name: &str, args: &[&str]) {
        let fx = fixture().display().to_string();
        let mut argv = vec![fx];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        let mut config = ServerConfig::argv(name, argv);
        config
            .env
            .insert("CORRAL_SCENARIO_TAG".into(), self.tag.clone());
        self.corral.add_server(config).await.expect("add");
    }
}

#[derive(Clone, Default)]
struct Recorder {
    list_changed: Arc<AtomicUsize>,
    prompts_changed: Arc<AtomicUsize>,
    notify: Arc<tokio::sync::Notify>,
    legacy: bool,
}

impl ClientHandler for Recorder {
    fn get_info(&self) -> ClientConfig {
        let c = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("gateway-test", "0"),
        );
        if self.legacy {
            c.with_protocol_version(ProtocolVersion::V_2025_11_25)
        } else {
            c
        }
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.list_changed.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.prompts_changed.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
}

impl Recorder {
    /// Waits (bounded) until more than `seen` list_changed notifications arrived.
    async fn wait_beyond(&self, seen: usize, limit: Duration) -> bool {
        Self::wait_count(&self.list_changed, &self.notify, seen, limit).await
    }

    /// Waits (bounded) until more than `seen` prompts list_changed notifications arrived.
    async fn wait_prompts_beyond(&self, seen: usize, limit: Duration) -> bool {
        Self::wait_count(&self.prompts_changed, &self.notify, seen, limit).await
    }

    async fn wait_count(
        count: &AtomicUsize,
        notify: &tokio::sync::Notify,
        seen: usize,
        limit: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let n = notify.notified();
            if count.load(Ordering::SeqCst) > seen {
                return true;
            }
            if tokio::time::timeout_at(deadline, n).await.is_err() {
                return count.load(Ordering::SeqCst) > seen;
            }
        }
    }
}

type Client = RunningService<RoleClient, Recorder>;

fn transport(url: &str, token: &str) -> StreamableHttpClientTransport<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut cfg = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if !token.is_empty() {
        cfg = cfg.auth_header(token.to_owned());
    }
    StreamableHttpClientTransport::from_config(cfg)
}

async fn connect(gw: &corral_core::Gateway) -> (Client, Recorder) {
    let rec = Recorder {
        legacy: true,
        ..Recorder::default()
    };
    let client = rec
        .clone()
        .serve(transport(gw.url(), gw.token()))
        .await
        .expect("connect");
    (client, rec)
}

async fn tool_names(c: &Client) -> Vec<String> {
    c.list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

async fn call(c: &Client, name: &str, args: Value) -> (String, bool) {
    let mut p = CallToolRequestParams::new(name.to_owned());
    if let Value::Object(m) = args {
        p = p.with_arguments(m);
    }
    let r = c.call_tool(p).await.expect("tools/call");
    let text = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    (text, r.is_error.unwrap_or(false))
}

fn opts() -> GatewayOptions {
    GatewayOptions {
        restart_backoff_ms: 100,
        restart_backoff_max_ms: 400,
        ..GatewayOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_are_namespaced_and_healthy() {
    let rig = Rig::new();
    rig.add("alpha", &[]).await;
    rig.add("beta", &[]).await;
    let gw = rig.corral.start_gateway(opts()).await.expect("gateway");
    assert!(
        gw.wait_settled(Duration::from_secs(60)).await,
        "servers settled"
    );
    assert!(gw.url().starts_with("http://127.0.0.1:") && gw.url().ends_with("/mcp"));
    assert!(gw.token().len() >= 22, "at least 128 bits");
    let (c, _) = connect(&gw).await;
    let names = tool_names(&c).await;
    assert!(names.contains(&"alpha__echo".to_owned()), "{names:?}");
    assert!(names.contains(&"beta__echo".to_owned()), "{names:?}");
    let re = regex_ok(&names);
    assert!(re, "every name matches ^[a-zA-Z0-9_-]{{1,64}}$: {names:?}");
    assert_eq!(
        call(&c, "beta__echo", json!({"text": "hi"})).await,
        ("hi".into(), false)
    );
    // resources are namespaced, and the health resource is there
    let res = c.list_all_resources().await.expect("resources");
    let uris: Vec<String> = res.iter().map(|r| r.uri.clone()).collect();
    assert!(
        uris.contains(&"corral://gateway/servers".to_owned()),
        "{uris:?}"
    );
    assert!(
        uris.contains(&"corral://alpha/fixture://hello".to_owned()),
        "{uris:?}"
    );
    let read = c
        .read_resource(ReadResourceRequestParams::new(
            "corral://alpha/fixture://hello",
        ))
        .await
        .expect("read");
    let text = serde_json::to_value(&read).expect("json").to_string();
    assert!(text.contains("Hello from the fixture"), "{text}");
    let health = c
        .read_resource(ReadResourceRequestParams::new("corral://gateway/servers"))
        .await
        .expect("health");
    let hv = serde_json::to_value(&health).expect("json");
    let body: Value = serde_json::from_str(hv["contents"][0]["text"].as_str().expect("text"))
        .expect("health json");
    let servers = body["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 2);
    assert!(
        servers
            .iter()
            .all(|s| s["state"] == "ready" && s["toolCount"].as_u64() > Some(3))
    );
    // prompts are namespaced like tools
    let prompts = c.list_all_prompts().await.expect("prompts");
    assert!(prompts.iter().any(|p| p.name == "alpha__greet"));
    // /health: counts only, no auth
    let (status, body) = raw(
        &gw,
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("\"up\":2") && !body.contains("alpha"),
        "{body}"
    );
    // metrics need the token and count the calls
    let (status, body) = raw(
        &gw,
        &format!("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n", gw.token()),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("corral_gateway_calls_total{server=\"beta\"} 1"),
        "{body}"
    );
    assert!(body.contains("corral_gateway_servers_up 2"), "{body}");
    assert_eq!(gw.servers().len(), 2);
    let _ = c.cancel().await;
    gw.close().await;
    rig.corral.close().await;
}

fn regex_ok(names: &[String]) -> bool {
    names.iter().all(|n| {
        !n.is_empty()
            && n.len() <= 64
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_names_are_shortened_and_callable() {
    let rig = Rig::new();
    let server = "s".repeat(45);
    rig.add(&server, &[]).await;
    rig.add("other", &[]).await;
    let gw = rig.corral.start_gateway(opts()).await.expect("gateway");
    assert!(
        gw.wait_settled(Duration::from_secs(60)).await,
        "servers settled"
    );
    let (c, rec) = connect(&gw).await;
    let before = rec.list_changed.load(Ordering::SeqCst);
    let tool = "t".repeat(40);
    let (text, err) = call(&c, &format!("{server}__add_tool"), json!({"name": tool})).await;
    // `<45>__add_tool` is 55 characters: published as is
    assert!(!err, "{text}");
    assert!(
        rec.wait_beyond(before, Duration::from_secs(10)).await,
        "list_changed"
    );
    let mut names = tool_names(&c).await;
    for _ in 0..100 {
        if names
            .iter()
            .any(|n| n.starts_with(&server) && n.len() == 64)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        names = tool_names(&c).await;
    }
    assert!(regex_ok(&names), "{names:?}");
    let long: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(&server) && n.len() == 64)
        .collect();
    assert_eq!(long.len(), 1, "{names:?}");
    assert_eq!(
        call(&c, long[0], json!({"text": "long"})).await,
        ("long".into(), false)
    );
    // stable: the same name is computed again
    assert_eq!(
        corral_core::gateway::names::map_name(&server, &tool, true),
        *long[0]
    );
    let _ = c.cancel().await;
    gw.close().await;
    rig.corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_server_drops_out_and_comes_back() {
    let rig = Rig::new();
    let flags = tempfile::tempdir().expect("tmp");
    let flag = flags.path().join("ready");
    rig.add("good", &[]).await;
    let fx = fixture().display().to_string();
    let mut config = ServerConfig::argv(
        "flaky",
        [fx.as_str(), "--fail-unless", &flag.display().to_string()],
    );
    config.mounts.push(Mount {
        host: flags.path().to_owned(),
        target: flags.path().to_owned(),
        read_only: true,
    });
    config
        .env
        .insert("CORRAL_SCENARIO_TAG".into(), rig.tag.clone());
    rig.corral.add_server(config).await.expect("add");
    let gw = rig.corral.start_gateway(opts()).await.expect("gateway");
    assert!(
        gw.wait_settled(Duration::from_secs(60)).await,
        "servers settled"
    );
    let (c, rec) = connect(&gw).await;
    let names = tool_names(&c).await;
    assert!(names.contains(&"good__echo".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("flaky__")), "{names:?}");
    assert_eq!(
        call(&c, "good__echo", json!({"text": "up"})).await,
        ("up".into(), false)
    );
    let (text, err) = call(&c, "flaky__echo", json!({"text": "x"})).await;
    assert!(err && text.contains("flaky"), "{text}");
    let health = gw.servers();
    let flaky = health.iter().find(|h| h.name == "flaky").expect("flaky");
    assert_ne!(flaky.state, corral_core::ServerState::Ready);
    assert!(flaky.last_error.is_some());
    let seen = rec.list_changed.load(Ordering::SeqCst);
    std::fs::write(&flag, "ok").expect("flag");
    assert!(
        rec.wait_beyond(seen, Duration::from_secs(20)).await,
        "list_changed"
    );
    let mut ok = false;
    for _ in 0..100 {
        if tool_names(&c).await.contains(&"flaky__echo".to_owned()) {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "flaky came back");
    assert_eq!(
        call(&c, "flaky__echo", json!({"text": "back"})).await,
        ("back".into(), false)
    );
    let _ = c.cancel().await;
    gw.close().await;
    rig.corral.close().await;
}

/// The pids of processes whose environment carries `CORRAL_SCENARIO_TAG=<tag>`.
fn tagged(tag: &str) -> Vec<i32> {
    let needle = format!("CORRAL_SCENARIO_TAG={tag}");
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ"))
            && env.split(|b| *b == 0).any(|v| v == needle.as_bytes())
        {
            out.push(pid);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_upstream_restarts_within_the_session() {
    let rig = Rig::new();
    rig.add("fx", &[]).await;
    let gw = rig.corral.start_gateway(opts()).await.expect("gateway");
    assert!(
        gw.wait_settled(Duration::from_secs(60)).await,
        "servers settled"
    );
    let (c, rec) = connect(&gw).await;
    assert_eq!(
        call(&c, "echo", json!({"text": "one"})).await,
        ("one".into(), false)
    );
    let pids = tagged(&rig.tag);
    assert!(!pids.is_empty(), "the server runs");
    let seen = rec.list_changed.load(Ordering::SeqCst);
    for pid in pids {
        // SAFETY: plain kill(2) on a pid we found.
        unsafe { libc_kill(pid) };
    }
    assert!(
        rec.wait_beyond(seen, Duration::from_secs(20)).await,
        "list_changed"
    );
    let mut result = (String::new(), true);
    for _ in 0..100 {
        result = call(&c, "echo", json!({"text": "two"})).await;
        if !result.1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        result,
        ("two".into(), false),
        "same client session, no re-initialize"
    );
    let health = gw.servers();
    assert!(health[0].restarts >= 1, "{health:?}");
    let _ = c.cancel().await;
    gw.close().await;
    rig.corral.close().await;
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

unsafe fn libc_kill(pid: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        kill(pid, 9);
    }
}

async fn raw(gw: &corral_core::Gateway, request: &str) -> (u16, String) {
    raw_bytes(gw, request.as_bytes()).await
}

async fn raw_bytes(gw: &corral_core::Gateway, request: &[u8]) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(gw.local_addr())
        .await
        .expect("connect");
    let _ = s.write_all(request).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (
        status,
        text.clone()
            .lines()
            .next()
            .map(|_| body)
            .unwrap_or_default(),
    )
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;

fn post(token: Option<&str>, extra: &str, path: &str, body: &str) -> String {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}{extra}Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_host_origin_and_body_limits() {
    let rig = Rig::new();
    rig.add("fx", &[]).await;
    let gw = rig.corral.start_gateway(opts()).await.expect("gateway");
    assert!(
        gw.wait_settled(Duration::from_secs(60)).await,
        "servers settled"
    );
    let token = gw.token().to_owned();
    let check_401 = |text: String| {
        assert!(text.starts_with("HTTP/1.1 401"), "{text}");
        assert!(
            text.to_ascii_lowercase()
                .contains("www-authenticate: bearer"),
            "{text}"
        );
    };
    let full = |req: String| {
        let addr = gw.local_addr();
        async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let _ = s.write_all(req.as_bytes()).await;
            let mut buf = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
            String::from_utf8_lossy(&buf).into_owned()
        }
    };
    check_401(full(post(None, "", "/mcp", INIT)).await);
    check_401(full(post(Some("wrong-token-wrong-token"), "", "/mcp", INIT)).await);
    check_401(full(post(None, "", &format!("/mcp?token={token}"), INIT)).await);
    check_401(
        full(post(
            Some(&token),
            "",
            &format!("/mcp?access_token={token}"),
            INIT,
        ))
        .await,
    );
    let bad_origin = full(post(
        Some(&token),
        "Origin: https://evil.example\r\n",
        "/mcp",
        INIT,
    ))
    .await;
    assert!(bad_origin.starts_with("HTTP/1.1 403"), "{bad_origin}");
    let bad_host =
        full(post(Some(&token), "", "/mcp", INIT).replace("Host: 127.0.0.1", "Host: evil.example"))
            .await;
    assert!(bad_host.starts_with("HTTP/1.1 403"), "{bad_host}");
    let good_origin = full(post(
        Some(&token),
        "Origin: http://localhost:3000\r\n",
        "/mcp",
        INIT,
    ))
    .await;
    assert!(good_origin.starts_with("HTTP/1.1 200"), "{good_origin}");
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"pad":"{}"}}}}"#,
        "x".repeat(5 * 1024 * 1024)
    );
    let too_big = full(post(Some(&token), "", "/mcp", &huge)).await;
    assert!(
        too_big.starts_with("HTTP/1.1 413"),
        "{}",
        &too_big[..too_big.len().min(200)]
    );
    let ok = full(post(Some(&token), "", "/mcp", INIT)).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.to_ascii_lowercase().contains("mcp-session-id"), "{ok}");
    // metrics need the token
    let (status, _) = raw(
        &gw,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 401);
    // an rmcp client with a wrong token fails to connect
    let bad = Recorder::default()
        .serve(transport(gw.url(), "not-the-token-at-all"))
        .await;
    assert!(bad.is_err());
    gw.close().await;
    // non-loopback without a token is refused
    let e = rig
        .corral
        .start_gateway(GatewayOptions {
            host: "0.0.0.0".into(),
            auth: false,
            ..GatewayOptions::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
    rig.corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_budget_publishes_search_and_call() {
    let rig = Rig::new();
    rig.add("fx", &["--tools", "200"]).await;
    let gw = rig.corral.start_gateway(opts()).await.expect("gateway");
    assert!(
        gw.wait_settled(Duration::from_secs(60)).await,
        "servers settled"
    );
    let (c, _) = connect(&gw).await;
    let names = tool_names(&c).await;
    assert_eq!(names, ["search_tools", "call_tool"]);
    let mut p = CallToolRequestParams::new("search_tools");
    p = p.with_arguments(
        json!({"query": "tool_137", "limit": 3})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let r = c.call_tool(p).await.expect("search");
    let found = r.structured_content.expect("structured");
    assert_eq!(found["tools"][0]["name"], "tool_137", "{found}");
    assert!(found["tools"][0]["inputSchema"].is_object());
    assert_eq!(
        call(
            &c,
            "call_tool",
            json!({"name": "tool_137", "arguments": {"text": "meta"}})
        )
        .await,
        ("meta".into(), false)
    );
    // a client may ask for a bigger budget with a header
    let mut headers = std::collections::HashMap::new();
    headers.insert(
        http::HeaderName::from_static("corral-tool-budget"),
        http::HeaderValue::from_static("1000"),
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = StreamableHttpClientTransportConfig::with_uri(gw.url().to_owned())
        .auth_header(gw.token().to_owned())
        .custom_headers(headers);
    let big = Recorder {
        legacy: true,
        ..Recorder::default()
    }
    .serve(StreamableHttpClientTransport::from_config(cfg))
    .await
    .expect("connect");
    assert!(tool_names(&big).await.len() > 200);
    let _ = big.cancel().await;
    let _ = c.cancel().await;
    gw.close().await;
    rig.corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stateless_era_works_too() {
    let rig = Rig::new();
    rig.add("fx", &[]).await;
    let gw = rig.corral.start_gateway(opts()).await.expect("gateway");
    assert!(
        gw.wait_settled(Duration::from_secs(60)).await,
        "servers settled"
    );
    let client = Recorder::default()
        .serve_with_lifecycle(
            transport(gw.url(), gw.token()),
            ClientLifecycleMode::Auto {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                legacy_version: None,
            },
        )
        .await
        .expect("discover");
    let v = client.peer_info().map(|i| i.protocol_version.clone());
    assert_eq!(v, Some(ProtocolVersion::V_2026_07_28));
    assert!(tool_names(&client).await.contains(&"echo".to_owned()));
    assert_eq!(
        call(&client, "echo", json!({"text": "new era"})).await,
        ("new era".into(), false)
    );
    // GET and DELETE are not part of the stateless era
    let (status, _) = raw(
        &gw,
        &format!("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nMCP-Protocol-Version: 2026-07-28\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n", gw.token()),
    )
    .await;
    assert_eq!(status, 405);
    let _ = client.cancel().await;
    gw.close().await;
    rig.corral.close().await;
}

/// Waits (bounded) until `/health` no longer answers: the gateway stopped serving.
async fn stops_serving(gw: &corral_core::Gateway) -> bool {
    for _ in 0..100 {
        let answered = tokio::net::TcpStream::connect(gw.local_addr())
            .await
            .is_ok();
        if !answered {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_corral_closes_its_gateways() {
    let rig = Rig::new();
    rig.add("alpha", &[]).await;
    let gw = rig.corral.start_gateway(opts()).await.expect("gateway");
    assert!(gw.wait_settled(Duration::from_secs(60)).await);
    let (c, _) = connect(&gw).await;
    assert_eq!(
        call(&c, "echo", json!({"text": "hi"})).await,
        ("hi".into(), false)
    );
    rig.corral.close().await;
    assert!(stops_serving(&gw).await, "the gateway still serves");
    assert!(tagged(&rig.tag).is_empty(), "the server outlived close()");
    let err = rig
        .corral
        .start_gateway(opts())
        .await
        .expect_err("a closed corral starts no gateway");
    assert_eq!(err.kind(), ErrorKind::Closed);
    gw.close().await; // still idempotent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_of_its_own_closes_its_corral() {
    let home = tempfile::tempdir().expect("tmp");
    let tag = tag();
    let mcp = json!({"alpha": {"command": fixture().display().to_string(),
                               "env": {"CORRAL_SCENARIO_TAG": tag}}});
    let options = GatewayOptions {
        mcp: mcp.as_object().cloned(),
        ..opts()
    };
    let corral = CorralOptions {
        home: Some(home.path().to_owned()),
        ..CorralOptions::default()
    };
    let gw = corral_core::start_gateway(corral, options)
        .await
        .expect("gateway");
    assert!(gw.wait_settled(Duration::from_secs(60)).await);
    let (c, _) = connect(&gw).await;
    assert_eq!(
        call(&c, "echo", json!({"text": "own"})).await,
        ("own".into(), false)
    );
    assert!(!tagged(&tag).is_empty(), "the server runs");
    let _ = c.cancel().await;
    gw.close().await;
    assert!(stops_serving(&gw).await, "the gateway still serves");
    assert!(tagged(&tag).is_empty(), "the server outlived the gateway");
}

/// Every progress report and log line a server sends before its answer reaches its callback
/// before the call returns, in order. (rmcp hands each notification to a task of its own; the
/// session takes them off the wire and delivers them in order before the answer. Without that,
/// the last line often arrived after the call had returned, and the gateway, which stops
/// routing a call's notifications when it returns, lost it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_sent_before_an_answer_arrive_before_the_call_returns() {
    use std::sync::Mutex;
    let rig = Rig::new();
    let logs: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = logs.clone();
    rig.corral.set_log_callback(Some(Arc::new(move |m| {
        sink.lock().expect("logs").push(m.data);
    })));
    rig.add("fx", &["--conformance"]).await;
    let session = rig.corral.session("fx").await.expect("session");
    for i in 0..200 {
        let line = format!("line {i}");
        let r = session
            .call_tool("log", json!({ "message": line }))
            .await
            .expect("log");
        assert!(!r.is_error, "log call {i} failed");
        let got = logs.lock().expect("logs").clone();
        assert_eq!(
            got.len(),
            i + 1,
            "call {i}: lines before the answer: {got:?}"
        );
        assert_eq!(got.last(), Some(&json!(line)), "call {i}");
    }
    // Three reports, the last one just before the answer.
    for i in 0..20 {
        let seen: Arc<Mutex<Vec<f64>>> = Arc::default();
        let sink = seen.clone();
        let options = corral_core::CallOptions {
            on_progress: Some(Arc::new(move |p: corral_core::Progress| {
                sink.lock().expect("progress").push(p.progress);
            })),
            ..corral_core::CallOptions::default()
        };
        let r = session
            .call_tool_with("test_tool_with_progress", json!({}), options)
            .await
            .expect("progress tool");
        assert!(!r.is_error, "progress call {i} failed");
        assert_eq!(
            *seen.lock().expect("progress"),
            vec![0.0, 50.0, 100.0],
            "call {i}"
        );
    }
    rig.corral.close().await;
}

/// Through the gateway: a tools/call's progress reports precede its result on the response
/// stream, every time (stateless era, raw HTTP so that no client-side dispatch is involved).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_relays_every_report_before_the_result() {
    let rig = Rig::new();
    rig.add("fx", &["--conformance"]).await;
    let gw = rig.corral.start_gateway(opts()).await.expect("gateway");
    assert!(
        gw.wait_settled(Duration::from_secs(60)).await,
        "servers settled"
    );
    let meta = r#""io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"0"}"#;
    for i in 0..20 {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"test_tool_with_progress","arguments":{{}},"_meta":{{"progressToken":"p{i}",{meta}}}}}}}"#
        );
        let headers = "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: test_tool_with_progress\r\n";
        let request = post(Some(gw.token()), headers, "/mcp", &body);
        let mut s = tokio::net::TcpStream::connect(gw.local_addr())
            .await
            .expect("connect");
        s.write_all(request.as_bytes()).await.expect("send");
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf))
            .await
            .expect("answer in time")
            .expect("read");
        let text = String::from_utf8_lossy(&buf);
        assert!(text.starts_with("HTTP/1.1 200"), "call {i}: {text}");
        let reports = text.matches("notifications/progress").count();
        let result = text.find("Tool with progress executed successfully");
        let last = text.rfind("notifications/progress");
        assert_eq!(reports, 3, "call {i}: {text}");
        assert!(result.is_some() && last < result, "call {i}: {text}");
    }
    gw.close().await;
    rig.corral.close().await;
}

/// An upstream's prompts list_changed reaches the gateway's clients, whichever era the upstream
/// speaks (a 2026-07-28 upstream's listen stream, a legacy upstream's notification).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_prompt_changes_are_relayed() {
    let rig = Rig::new();
    rig.add("modern", &["--conformance"]).await;
    rig.add("legacy", &["--conformance", "--legacy"]).await;
    let gw = rig.corral.start_gateway(opts()).await.expect("gateway");
    assert!(
        gw.wait_settled(Duration::from_secs(60)).await,
        "servers settled"
    );
    let (c, rec) = connect(&gw).await;
    for server in ["modern", "legacy"] {
        let seen = rec.prompts_changed.load(Ordering::SeqCst);
        let (text, err) = call(
            &c,
            &format!("{server}__test_trigger_prompt_change"),
            json!({}),
        )
        .await;
        assert!(!err, "{text}");
        assert!(
            rec.wait_prompts_beyond(seen, Duration::from_secs(10)).await,
            "prompts list_changed from the {server} upstream"
        );
        let prompts = c.list_all_prompts().await.expect("prompts");
        assert!(
            prompts
                .iter()
                .any(|p| p.name == format!("{server}__dynamic_prompt_0")),
            "{:?}",
            prompts.iter().map(|p| &p.name).collect::<Vec<_>>()
        );
    }
}
