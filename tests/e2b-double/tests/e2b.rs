//! corral's E2B provider against the E2B double on 127.0.0.1: fault scenarios (429 retry, split
//! stdout, a dropped stream re-attached, a vanished sandbox, a slow create), lifetime, and
//! scale-out (two corral processes, one home id). Every request stays on 127.0.0.1.
//!
//! Needs the fixture server (`cargo build -p corral-test-server`; `CORRAL_TEST_SERVER`) and,
//! for `corral e2b gc` and the double's stand-in for E2B's gateway, the CLI (`cargo build -p
//! corral-cli`; `CORRAL_CLI`).

#![allow(clippy::expect_used)] // test helpers: a failed setup step is a failed test

use std::{
    io::{BufRead, BufReader, Read, Write},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, ChildStdout, Stdio},
    sync::Arc,
    time::Duration,
};

use corral_core::{
    Corral, ErrorKind, ServerConfig,
    sandbox::e2b::{E2bConfig, E2bProvider},
};
use serde_json::{Value, json};

const KEY: &str = "e2b_tests_0123456789abcdef";

fn target_bin(name: &str, var: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return p.into();
    }
    // target/<profile>/deps/e2b-<hash> → target/<profile>/<name>
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent()?.parent().map(|d| d.join(name)))
        .unwrap_or_default()
}

fn fixture() -> PathBuf {
    let p = target_bin("corral-test-server", "CORRAL_TEST_SERVER");
    assert!(
        p.is_file(),
        "the fixture server {} is missing: cargo build -p corral-test-server",
        p.display()
    );
    p
}

struct Double {
    child: Child,
    api: String,
    envd: String,
}

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli() -> PathBuf {
    let cli = target_bin("corral", "CORRAL_CLI");
    assert!(
        cli.is_file(),
        "{} is missing: cargo build -p corral-cli",
        cli.display()
    );
    cli
}

fn start_double() -> Double {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_corral-e2b-double"))
        .args(["--api-key", KEY, "--expose"])
        .arg(fixture())
        .arg("--corral")
        .arg(cli())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the double starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no {k} in {line:?}"))
    };
    Double {
        api: field("api="),
        envd: field("envd="),
        child,
    }
}

impl Double {
    /// One admin request (`/_double/...`), plain HTTP/1.1 over a fresh connection.
    fn admin(&self, method: &str, path: &str, body: &Value) -> Value {
        let addr = self.api.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).expect("connect to the double");
        let body = body.to_string();
        write!(
            s,
            "{method} /_double/{path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read");
        let payload = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or_default();
        serde_json::from_str(payload).unwrap_or(Value::Null)
    }

    fn faults(&self, f: Value) {
        self.admin("POST", "faults", &f);
    }

    fn stats(&self) -> Value {
        self.admin("GET", "stats", &json!({}))
    }

    fn config(&self, home_id: &str) -> E2bConfig {
        E2bConfig {
            api_key: KEY.into(),
            api_url: self.api.clone(),
            domain: "e2b.invalid".into(),
            sandbox_url: Some(self.envd.clone()),
            template: "base".into(),
            timeout: Duration::from_secs(60),
            keepalive: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            home_id: home_id.into(),
            user: None,
        }
    }

    fn corral(&self, home: &Path, tweak: impl FnOnce(&mut E2bConfig)) -> Corral {
        let mut config = self.config(&format!("test-{}", std::process::id()));
        tweak(&mut config);
        let provider = E2bProvider::new(config).expect("provider");
        Corral::with_provider(home.to_owned(), Arc::new(provider))
    }
}

fn live_sandboxes(d: &Double) -> usize {
    d.stats()["sandboxes"].as_array().map_or(0, Vec::len)
}

async fn with_fixture(corral: &Corral) {
    corral
        .add_server(ServerConfig::argv("fx", [fixture().display().to_string()]))
        .await
        .expect("add server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_retried_honouring_retry_after() {
    let d = start_double();
    let home = tempfile::tempdir().expect("tmp");
    let corral = d.corral(home.path(), |_| {});
    with_fixture(&corral).await;
    d.faults(json!({"rate_limit": 2, "retry_after": 1}));
    let r = corral
        .execute_tool("fx", "echo", json!({"text": "after 429"}))
        .await
        .expect("the create is retried after each 429");
    assert_eq!(r.text(), "after 429");
    assert_eq!(d.stats()["rate_limited"], 2);
    corral.close().await;
    assert_eq!(live_sandboxes(&d), 0, "close kills the sandbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_split_at_random_boundaries_is_reassembled() {
    let d = start_double();
    d.faults(json!({"split": true}));
    let home = tempfile::tempdir().expect("tmp");
    let corral = d.corral(home.path(), |_| {});
    with_fixture(&corral).await;
    let big = corral
        .execute_tool("fx", "big", json!({"bytes": 300_000}))
        .await
        .expect("big");
    assert_eq!(big.text().len(), 300_000);
    let mut calls = Vec::new();
    for i in 0..32 {
        let c = corral.clone();
        calls.push(tokio::spawn(async move {
            c.execute_tool("fx", "echo", json!({"text": format!("é{i}ü")}))
                .await
                .map(|r| r.text())
        }));
    }
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.expect("join").expect("echo"), format!("é{i}ü"));
    }
    corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_is_reattached_transparently() {
    let d = start_double();
    let home = tempfile::tempdir().expect("tmp");
    let corral = d.corral(home.path(), |_| {});
    with_fixture(&corral).await;
    let before = corral.session("fx").await.expect("session");
    // The double cuts every stream right after it delivers the next stdin write. envd drops
    // output while no stream is attached, and this answer comes at once, before any re-attach:
    // the client resumes the server's stdout file at the first byte it did not get.
    d.faults(json!({"drop_on_input": 1}));
    let r = corral
        .execute_tool("fx", "echo", json!({"text": "while detached"}))
        .await
        .expect("the call survives the drop");
    assert_eq!(r.text(), "while detached");
    // And one that answers later, on the re-attached stream.
    d.faults(json!({"drop_on_input": 1}));
    let r = corral
        .execute_tool("fx", "sleep", json!({"ms": 300, "progress": false}))
        .await
        .expect("the call survives the drop");
    assert_eq!(r.text(), "slept 300");
    assert!(d.stats()["reattaches"].as_u64() >= Some(2), "{}", d.stats());
    let after = corral.session("fx").await.expect("session");
    assert_eq!(
        before.session_id(),
        after.session_id(),
        "same server instance"
    );
    corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_sandbox_fails_in_flight_calls_and_restarts_on_the_next() {
    let d = start_double();
    let home = tempfile::tempdir().expect("tmp");
    let corral = d.corral(home.path(), |_| {});
    with_fixture(&corral).await;
    let first = corral.session("fx").await.expect("session");
    let id = first.sandbox_id().expect("sandbox").to_owned();
    let inputs = d.stats()["send_inputs"].as_u64().unwrap_or(0);
    let c = corral.clone();
    let call = tokio::spawn(async move {
        c.execute_tool("fx", "sleep", json!({"ms": 20_000, "progress": false}))
            .await
    });
    // Wait until the call reached the server, then make the sandbox disappear.
    for _ in 0..200 {
        if d.stats()["send_inputs"].as_u64().unwrap_or(0) > inputs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    d.admin("POST", &format!("vanish/{id}"), &json!({}));
    let err = call
        .await
        .expect("join")
        .expect_err("the in-flight call fails");
    assert_eq!(err.kind(), ErrorKind::SandboxFailed, "{err}");
    let r = corral
        .execute_tool("fx", "echo", json!({"text": "again"}))
        .await
        .expect("the next call restarts the server in a new sandbox");
    assert_eq!(r.text(), "again");
    let second = corral.session("fx").await.expect("session");
    assert_ne!(second.sandbox_id(), Some(id.as_str()));
    corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_create_past_the_timeout_is_a_clear_error() {
    let d = start_double();
    d.faults(json!({"slow_create_ms": 3000}));
    let home = tempfile::tempdir().expect("tmp");
    let corral = d.corral(home.path(), |c| c.request_timeout = Duration::from_secs(1));
    with_fixture(&corral).await;
    let err = corral
        .execute_tool("fx", "echo", json!({"text": "x"}))
        .await
        .expect_err("create times out");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(d.stats()["creates"], 1, "a create is never replayed");
    corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_carry_kind_status_and_never_leak_the_key_to_envd() {
    let d = start_double();
    let home = tempfile::tempdir().expect("tmp");
    let corral = d.corral(home.path(), |c| c.api_key = "e2b_wrong".into());
    with_fixture(&corral).await;
    let err = corral
        .execute_tool("fx", "echo", json!({"text": "x"}))
        .await
        .expect_err("bad key");
    assert_eq!(err.kind(), ErrorKind::E2bApi, "{err}");
    assert_eq!(corral_core::sandbox::e2b::api::status_of(&err), Some(401));
    corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keepalive_extends_a_sandbox_in_use_and_close_kills_it() {
    let d = start_double();
    let home = tempfile::tempdir().expect("tmp");
    // A 2-s lifetime re-set every 0.3 s: the sandbox outlives its first timeout while in use.
    let corral = d.corral(home.path(), |c| {
        c.timeout = Duration::from_secs(2);
        c.keepalive = Duration::from_millis(300);
    });
    with_fixture(&corral).await;
    corral
        .execute_tool("fx", "echo", json!({"text": "x"}))
        .await
        .expect("echo");
    let id = corral
        .session("fx")
        .await
        .expect("session")
        .sandbox_id()
        .map(str::to_owned);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let r = corral
        .execute_tool("fx", "echo", json!({"text": "still here"}))
        .await
        .expect("the sandbox is still alive");
    assert_eq!(r.text(), "still here");
    assert_eq!(
        corral
            .session("fx")
            .await
            .expect("session")
            .sandbox_id()
            .map(str::to_owned),
        id,
        "the same sandbox"
    );
    assert!(d.stats()["set_timeouts"].as_u64() >= Some(3));
    corral.close().await;
    assert_eq!(live_sandboxes(&d), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_sandboxes_exec_and_files_through_envd() {
    let d = start_double();
    let home = tempfile::tempdir().expect("tmp");
    let corral = d.corral(home.path(), |_| {});
    let sb = corral
        .sandbox(corral_core::SandboxConfig::default())
        .await
        .expect("sandbox");
    sb.write_file("dir/a.txt", b"bytes \x00\xff")
        .await
        .expect("write");
    assert_eq!(
        sb.read_file("dir/a.txt").await.expect("read"),
        b"bytes \x00\xff"
    );
    let out = sb
        .exec("cat dir/a.txt | wc -c; exit 4")
        .await
        .expect("exec");
    assert_eq!(out.status.code, Some(4));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "8");
    let missing = sb.read_file("nope").await.expect_err("missing");
    assert_eq!(missing.kind(), ErrorKind::Io);
    sb.close().await.expect("close");
    assert_eq!(live_sandboxes(&d), 0);
    corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_header_picks_the_linux_user() {
    let d = start_double();
    let home = tempfile::tempdir().expect("tmp");
    let ok = d.corral(home.path(), |c| c.user = Some("user".into()));
    let sb = ok
        .sandbox(corral_core::SandboxConfig::default())
        .await
        .expect("sandbox");
    assert!(sb.exec("true").await.expect("exec").status.success());
    sb.write_file("f", b"x").await.expect("write as user");
    assert!(
        sb.inner().id().starts_with('i'),
        "E2B sandbox ids are `i` + 20 alphanumerics"
    );
    ok.close().await;
    let bad = d.corral(home.path(), |c| c.user = Some("nobody".into()));
    let sb = bad
        .sandbox(corral_core::SandboxConfig::default())
        .await
        .expect("sandbox");
    let err = sb.exec("true").await.expect_err("unknown user");
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    bad.close().await;
}

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start(d: &Double, home_id: &str, home: &Path) -> Self {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_corral-e2b-peer"))
            .arg(fixture())
            .env("E2B_API_URL", &d.api)
            .env("E2B_SANDBOX_URL", &d.envd)
            .env("E2B_API_KEY", KEY)
            .env("CORRAL_E2B_HOME_ID", home_id)
            .env("CORRAL_E2B_KEEPALIVE_SECS", "0.5")
            .env("CORRAL_HOME", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("peer");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").expect("write");
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("read");
        answer.trim().to_owned()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_corral_processes_with_one_home_id_share_one_sandbox_and_gc_cleans_up() {
    let d = start_double();
    let home_id = format!("shared-{}", std::process::id());
    let (home_a, home_b) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let mut a = Peer::start(&d, &home_id, home_a.path());
    let sandbox = a.ask("call");
    assert!(sandbox.starts_with("ok i"), "{sandbox}");
    let mut b = Peer::start(&d, &home_id, home_b.path());
    assert_eq!(
        b.ask("call"),
        sandbox,
        "the second corral reuses the sandbox"
    );
    assert_eq!(d.stats()["creates"], 1, "{}", d.stats());
    // Killing one process leaves the other working.
    let _ = a.child.kill();
    let _ = a.child.wait();
    assert_eq!(b.ask("call"), sandbox);
    assert_eq!(b.ask("quit"), "closed");
    // What neither uses any more goes with `corral e2b gc` once the dead one's lease lapsed.
    let cli = cli();
    let mut remaining = live_sandboxes(&d);
    for _ in 0..60 {
        if remaining == 0 {
            break;
        }
        let out = std::process::Command::new(&cli)
            .args(["e2b", "gc", "--json"])
            .env("E2B_API_URL", &d.api)
            .env("E2B_SANDBOX_URL", &d.envd)
            .env("E2B_API_KEY", KEY)
            .env("CORRAL_E2B_HOME_ID", &home_id)
            .env("CORRAL_E2B_KEEPALIVE_SECS", "0.5")
            .env("CORRAL_HOME", home_b.path())
            .output()
            .expect("corral e2b gc");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        remaining = live_sandboxes(&d);
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(remaining, 0, "corral e2b gc removed the orphan");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_install_commands_reach_the_sandbox_before_the_server_starts() {
    let d = start_double();
    let home = tempfile::tempdir().expect("tmp");
    let corral = d.corral(home.path(), |_| {});
    let uploads = d.stats()["uploads"].as_u64().unwrap_or(0);
    corral
        .add_server_from_dict(
            "fx",
            &json!({
                "command": fixture().display().to_string(),
                "installCommands": ["mkdir -p /tmp/app && echo installed > /tmp/app/install.txt"],
                "files": {"/tmp/app/notes.txt": "written by config"},
            }),
        )
        .await
        .expect("add server");
    for (path, text) in [
        ("/tmp/app/notes.txt", "written by config"),
        ("/tmp/app/install.txt", "installed\n"),
    ] {
        let r = corral
            .execute_tool("fx", "read_file", json!({ "path": path }))
            .await
            .expect("read_file");
        assert_eq!(r.text(), text, "{path}");
    }
    assert!(
        d.stats()["uploads"].as_u64().unwrap_or(0) > uploads,
        "files go through envd's file upload: {}",
        d.stats()
    );
    corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_follows_every_page() {
    let d = start_double();
    let home = tempfile::tempdir().expect("tmp");
    let config = d.config(&format!("pages-{}", std::process::id()));
    let provider = Arc::new(E2bProvider::new(config).expect("provider"));
    let corral = Corral::with_provider(home.path().to_owned(), provider.clone());
    let mut sandboxes = Vec::new();
    for _ in 0..3 {
        let sb = corral
            .sandbox(corral_core::SandboxConfig::default())
            .await
            .expect("sandbox");
        sandboxes.push(sb);
    }
    // The double serves one sandbox a page (P§1.4 `X-Next-Token`).
    d.faults(json!({"page_size": 1}));
    let lists = d.stats()["lists"].as_u64().unwrap_or(0);
    let mine = provider.list_own().await.expect("list");
    let mut ids: Vec<&str> = mine.iter().map(|s| s.sandbox_id.as_str()).collect();
    ids.sort_unstable();
    let mut want: Vec<&str> = sandboxes.iter().map(|s| s.id()).collect();
    want.sort_unstable();
    assert_eq!(ids, want);
    assert!(
        d.stats()["lists"].as_u64().unwrap_or(0) >= lists + 3,
        "{}",
        d.stats()
    );
    corral.close().await;
}

/// A real MCP client (rmcp, Streamable HTTP) of a gateway, with the headers it asks for.
async fn mcp_client(
    gw: &corral_core::Gateway,
    token: &str,
) -> Result<rmcp::service::RunningService<rmcp::RoleClient, ()>, String> {
    use rmcp::{
        ServiceExt as _,
        transport::{
            StreamableHttpClientTransport,
            streamable_http_client::StreamableHttpClientTransportConfig,
        },
    };
    let mut cfg =
        StreamableHttpClientTransportConfig::with_uri(gw.url().to_owned()).auth_header(token);
    let mut headers = std::collections::HashMap::new();
    for (k, v) in gw.headers() {
        headers.insert(
            reqwest::header::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
            reqwest::header::HeaderValue::from_str(v).expect("header value"),
        );
    }
    cfg = cfg.custom_headers(headers);
    ().serve(StreamableHttpClientTransport::from_config(cfg))
        .await
        .map_err(|e| e.to_string())
}

fn e2b_gateway_options(mcp: Value) -> corral_core::GatewayOptions {
    serde_json::from_value(json!({"e2bGateway": true, "mcp": mcp})).expect("options")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2b_own_gateway_serves_mcp_from_one_mcp_gateway_sandbox() {
    use corral_core::sandbox::e2b::{TOKEN_FILE, api::ApiClient, envd::Envd};
    let d = start_double();
    let home = tempfile::tempdir().expect("tmp");
    let corral = d.corral(home.path(), |_| {});
    let gw = corral
        .start_gateway(e2b_gateway_options(
            json!({"fx": {"command": fixture().display().to_string()}}),
        ))
        .await
        .expect("E2B's gateway starts");
    // Mode B (one E2B_SANDBOX_URL): the URL is that base + /mcp, routed by E2B's headers.
    assert_eq!(gw.url(), format!("{}/mcp", d.envd));
    let route: std::collections::BTreeMap<_, _> = gw.headers().iter().cloned().collect();
    assert_eq!(
        route.get("E2b-Sandbox-Port").map(String::as_str),
        Some("50005")
    );
    let id = route.get("E2b-Sandbox-Id").expect("routing header").clone();
    assert!(gw.servers().is_empty());
    // A UUIDv4, as the SDKs' token.
    assert_eq!(gw.token().len(), 36, "{}", gw.token());
    // One sandbox, of E2B's gateway template, created with the mcp config.
    assert_eq!(d.stats()["sandboxes"], json!([id.clone()]));
    let api = ApiClient::new(&d.api, KEY, Duration::from_secs(10)).expect("api");
    let info = api
        .info(&id)
        .await
        .expect("info")
        .expect("the sandbox exists");
    assert_eq!(info.template_id, "mcp-gateway");
    // The gateway keeps its token where the SDKs' get_mcp_token() reads it after a connect.
    let again = api
        .connect(&id, Duration::from_secs(60))
        .await
        .expect("connect");
    let envd = Envd::new(
        reqwest::Client::new(),
        &d.envd,
        &id,
        again.envd_access_token,
        Duration::from_secs(10),
    )
    .with_user(Some("root".into()));
    assert_eq!(
        envd.download(TOKEN_FILE).await.expect("token file"),
        gw.token().as_bytes()
    );

    // A real MCP client, through the sandbox's port 50005.
    let client = mcp_client(&gw, gw.token()).await.expect("connect");
    let tools: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(tools.iter().any(|t| t == "echo"), "{tools:?}");
    let r = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("echo").with_arguments(
                json!({"text": "through E2B's gateway"})
                    .as_object()
                    .cloned()
                    .expect("object"),
            ),
        )
        .await
        .expect("tools/call");
    let text: Vec<String> = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect();
    assert_eq!(text, ["through E2B's gateway"]);
    let _ = client.cancel().await;
    assert!(
        mcp_client(&gw, "not-the-token-of-this-gateway")
            .await
            .is_err(),
        "a wrong token is refused"
    );
    // E2B's direct host form routes too (P§2.1), and a port nothing listens on is the edge's 502.
    let http = reqwest::Client::new();
    let host = format!("50005-{id}.e2b.invalid");
    let status = http
        .post(gw.url())
        .header("Host", &host)
        .header("Authorization", "Bearer wrong-token-wrong-token")
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("post")
        .status();
    assert_eq!(status, 401, "the gateway itself answered");
    let closed = http
        .get(format!("{}/health", d.envd))
        .header("Host", format!("50006-{id}.e2b.invalid"))
        .send()
        .await
        .expect("get");
    assert_eq!(closed.status(), 502);
    let body: Value = closed.json().await.expect("json");
    assert_eq!(
        body["message"],
        "The sandbox is running but port is not open"
    );

    gw.close().await;
    assert_eq!(
        live_sandboxes(&d),
        0,
        "closing the gateway kills its sandbox"
    );
    corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2b_own_gateway_refuses_what_it_cannot_do() {
    let d = start_double();
    let home = tempfile::tempdir().expect("tmp");
    // Not the e2b provider.
    let local = Corral::with_options(corral_core::CorralOptions {
        home: Some(home.path().join("local")),
        provider: Some("unsandboxed".into()),
        ..corral_core::CorralOptions::default()
    })
    .expect("corral");
    let err = local
        .start_gateway(e2b_gateway_options(json!({"memory": {}})))
        .await
        .expect_err("needs provider e2b");
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
    assert!(err.message().contains("provider `e2b`"), "{err}");
    local.close().await;
    let corral = d.corral(home.path(), |_| {});
    // No mcp; options E2B's gateway has no use for.
    let err = corral
        .start_gateway(serde_json::from_value(json!({"e2bGateway": true})).expect("options"))
        .await
        .expect_err("needs mcp");
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
    let err = corral
        .start_gateway(
            serde_json::from_value(json!({"e2bGateway": true, "mcp": {"memory": {}},
                                          "port": 8080, "toolBudget": 5}))
            .expect("options"),
        )
        .await
        .expect_err("port and toolBudget do not apply");
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
    assert!(err.message().contains("port, toolBudget"), "{err}");
    assert_eq!(d.stats()["creates"], 0, "nothing was created");
    // A config the gateway rejects: its start fails, the sandbox is killed, the reason shown.
    let err = corral
        .start_gateway(e2b_gateway_options(json!({"no-such-server-anywhere": {}})))
        .await
        .expect_err("the gateway does not start");
    assert_eq!(err.kind(), ErrorKind::ServerStartFailed, "{err}");
    assert!(err.message().contains("no-such-server-anywhere"), "{err}");
    assert_eq!(d.stats()["creates"], 1);
    assert_eq!(
        live_sandboxes(&d),
        0,
        "the failed gateway's sandbox is killed"
    );
    corral.close().await;
}

/// Runs `script` with `sh -c` in sandbox `id` through envd, as a plain envd client: its stdout.
async fn sandbox_sh(d: &Double, id: &str, script: &str) -> String {
    use corral_core::sandbox::e2b::{
        api::ApiClient,
        envd::{self, Envd, ProcessEvent},
    };
    let api = ApiClient::new(&d.api, KEY, Duration::from_secs(10)).expect("api");
    let info = api
        .connect(id, Duration::from_secs(60))
        .await
        .expect("connect");
    let envd = Envd::new(
        reqwest::Client::new(),
        &d.envd,
        id,
        info.envd_access_token,
        Duration::from_secs(10),
    );
    let mut stream = envd
        .stream(
            "process.Process/Start",
            &json!({"process": {"cmd": "sh", "args": ["-c", script]}, "stdin": false}),
        )
        .await
        .expect("start");
    let mut out = Vec::new();
    while let Some(msg) = stream.next().await.expect("event") {
        match envd::parse_event(&msg) {
            ProcessEvent::Stdout(b) => out.extend(b),
            ProcessEvent::End { .. } => break,
            _ => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stdout_file_gives_back_what_was_received() {
    let d = start_double();
    let home = tempfile::tempdir().expect("tmp");
    let corral = d.corral(home.path(), |_| {});
    with_fixture(&corral).await;
    // 10 × 300 kB answers: 3 MB of stdout through the server's output file.
    for _ in 0..10 {
        let big = corral
            .execute_tool("fx", "big", json!({"bytes": 300_000}))
            .await
            .expect("big");
        assert_eq!(big.text().len(), 300_000);
    }
    let id = corral
        .session("fx")
        .await
        .expect("session")
        .sandbox_id()
        .expect("sandbox")
        .to_owned();
    // Its size stays (offsets for a resumed `tail`), its blocks go: at most about 1 MiB of it
    // is still on disk (the reclaim runs in the background: allow it a moment).
    let mut last = String::new();
    for _ in 0..50 {
        last = sandbox_sh(
            &d,
            &id,
            "for f in /tmp/.corral-*.out; do stat -c '%s %b %B' \"$f\"; done",
        )
        .await;
        let (size, allocated) = last
            .lines()
            .filter_map(|l| {
                let v: Vec<u64> = l.split(' ').filter_map(|x| x.parse().ok()).collect();
                (v.len() == 3).then(|| (v[0], v[1] * v[2]))
            })
            .max()
            .unwrap_or_default();
        if size >= 3_000_000 && allocated <= 3 << 19 {
            corral.close().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the output file kept its blocks: size, blocks, block size = {last}");
}
