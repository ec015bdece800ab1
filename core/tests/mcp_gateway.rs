//! `start_gateway(mcp={…})`: credential-free catalog servers from npm and PyPI started for real
//! and called through the official Python MCP SDK; a `github/<owner>/<repo>` server cloned from
//! a local bare repository (installCmd, envs, `#ref`) beside one whose `runCmd` fails; the plain
//! HTTP routes with curl-like requests, and `openapi.json` checked by `openapi-spec-validator`.
//!
//! Needs: the Python SDK venv of `tests/gateway/setup.sh` (run by the first test that needs it),
//! the registries for the catalog test and the validator (skipped with `CORRAL_TEST_OFFLINE=1`;
//! a missing capability fails under `CORRAL_TEST_REQUIRE_ALL=1`). The catalog test keeps its
//! corral home (the per-server install cache) under `~/.cache/corral/catalog-test-home`.

#![allow(clippy::expect_used)] // test helpers

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use corral_core::{Corral, CorralOptions, ErrorKind, GatewayOptions, ServerState};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_owned()
}

mod common;
use common::fixture;

fn cache() -> PathBuf {
    dirs::home_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join(".cache/corral")
}

/// A missing capability: skip, or fail under `CORRAL_TEST_REQUIRE_ALL`.
fn missing(what: &str) {
    assert!(
        std::env::var_os("CORRAL_TEST_REQUIRE_ALL").is_none(),
        "missing capability: {what}"
    );
    eprintln!("skipped: missing capability: {what}");
}

fn online() -> bool {
    if std::env::var_os("CORRAL_TEST_OFFLINE").is_some() {
        missing("registry (CORRAL_TEST_OFFLINE is set)");
        return false;
    }
    true
}

/// The official Python SDK's interpreter (tests/gateway/setup.sh installs it, pinned).
fn python_sdk() -> Option<PathBuf> {
    let tools = std::env::var_os("GATEWAY_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("gateway-tools"));
    let py = tools.join("py/bin/python");
    let ok = |p: &Path| {
        Command::new(p)
            .args(["-c", "import mcp"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if ok(&py) {
        return Some(py);
    }
    if std::env::var_os("CORRAL_TEST_OFFLINE").is_none() {
        let _ = Command::new("bash")
            .arg(root().join("tests/gateway/setup.sh"))
            .status();
        if ok(&py) {
            return Some(py);
        }
    }
    missing("the official Python MCP SDK (tests/gateway/setup.sh)");
    None
}

/// openapi-spec-validator, pinned, in a venv under ~/.cache/corral/openapi-tools.
fn openapi_validator() -> Option<PathBuf> {
    const VERSION: &str = "0.9.0";
    let dir = cache().join("openapi-tools");
    let py = dir.join("venv/bin/python");
    let stamp = dir.join("venv.ok");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == VERSION) && py.is_file() {
        return Some(py);
    }
    if !online() {
        return None;
    }
    let _ = std::fs::create_dir_all(&dir);
    let venv = Command::new("python3")
        .args(["-m", "venv"])
        .arg(dir.join("venv"))
        .status()
        .is_ok_and(|s| s.success());
    let pip = venv
        && Command::new(dir.join("venv/bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("openapi-spec-validator=={VERSION}"),
            ])
            .status()
            .is_ok_and(|s| s.success());
    if pip {
        let _ = std::fs::write(&stamp, VERSION);
        return Some(py);
    }
    missing("openapi-spec-validator from PyPI");
    None
}

/// Runs `client.py` (the official Python SDK) against the gateway.
fn sdk_client(py: &Path, url: &str, token: &str, spec: &Value) -> Value {
    let out = Command::new(py)
        .arg(root().join("core/tests/mcp_gateway/client.py"))
        .args([url, token, &spec.to_string()])
        .output()
        .expect("run the Python SDK client");
    assert!(
        out.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("client output")
}

fn corral_at(home: &Path) -> Corral {
    Corral::with_options(CorralOptions {
        provider: None,
        home: Some(home.to_owned()),
        ..CorralOptions::default()
    })
    .expect("corral")
}

fn options(mcp: Value) -> GatewayOptions {
    serde_json::from_value(json!({
        "mcp": mcp,
        "discoveryDeadlineMs": 1000,
        "restartBackoffMs": 200,
        "restartBackoffMaxMs": 1000,
    }))
    .expect("options")
}

/// A Claude Desktop document's Docker entries (the official servers' READMEs give one each)
/// run as the catalog servers their images package, installed in the sandbox: no container
/// daemon is reached, the entry's bind mount is at its container path, its arguments carry over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_entries_run_without_a_container() {
    if !online() {
        return;
    }
    let home = cache().join("catalog-test-home");
    std::fs::create_dir_all(&home).expect("home");
    let data = tempfile::tempdir().expect("tempdir");
    std::fs::write(data.path().join("note.txt"), "from the host").expect("write");
    let bind = format!("type=bind,src={},dst=/projects/data", data.path().display());
    let document = json!({"mcpServers": {
        "docker-time": {"command": "docker", "args": ["run", "-i", "--rm", "mcp/time"]},
        "docker-files": {"command": "docker", "args":
            ["run", "-i", "--rm", "--mount", bind, "mcp/filesystem", "/projects"]},
    }});
    let corral = corral_at(&home);
    let names = corral
        .load_mcp_servers_value(&document, Default::default())
        .await
        .expect("loaded");
    assert_eq!(names, ["docker-files", "docker-time"]);
    let time = corral
        .execute_tool(
            "docker-time",
            "get_current_time",
            json!({"timezone": "UTC"}),
        )
        .await
        .expect("time");
    assert!(
        !time.is_error && time.text().contains("UTC"),
        "{}",
        time.text()
    );
    let note = corral
        .execute_tool(
            "docker-files",
            "read_text_file",
            json!({"path": "/projects/data/note.txt"}),
        )
        .await
        .expect("read");
    assert_eq!(note.text(), "from the host");
    corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_servers_start_and_answer_the_python_sdk() {
    if !online() {
        return;
    }
    let Some(py) = python_sdk() else { return };
    let home = std::env::var_os("CORRAL_CATALOG_TEST_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("catalog-test-home"));
    std::fs::create_dir_all(&home).expect("home");
    let corral = corral_at(&home);
    let gw = corral
        .start_gateway(options(json!({
            "filesystem": {"paths": ["/tmp"]},
            "memory": {"memoryFilePath": "/tmp/memory.jsonl"},
            "everything": {},
            "time": {"localTimezone": "UTC"},
            "fetch": {"network": "none"},
            "git": {},
            "sqlite": {"dbPath": "/tmp/test.db"},
            "sequential-thinking": {},
        })))
        .await
        .expect("gateway");
    assert!(
        gw.wait_settled(Duration::from_secs(900)).await,
        "servers settle"
    );
    let failed: Vec<_> = gw
        .servers()
        .into_iter()
        .filter(|s| s.state != ServerState::Ready)
        .collect();
    assert!(failed.is_empty(), "not ready: {failed:?}");
    let spec = json!({
        "expect_tools": ["memory__read_graph", "time__get_current_time", "everything__echo",
                         "filesystem__list_allowed_directories", "fetch__fetch", "git__git_status",
                         "sqlite__list_tables", "sequential-thinking__sequentialthinking"],
        "wait_s": 30,
        "calls": [
            {"tool": "time__get_current_time", "args": {"timezone": "UTC"}},
            {"tool": "memory__create_entities", "args": {"entities": [
                {"name": "corral", "entityType": "project", "observations": ["runs MCP servers"]}]}},
            {"tool": "memory__read_graph", "args": {}},
            {"tool": "everything__echo", "args": {"message": "hello"}},
            {"tool": "filesystem__list_allowed_directories", "args": {}},
            {"tool": "sqlite__list_tables", "args": {}},
            {"tool": "sequential-thinking__sequentialthinking", "args": {
                "thought": "one", "nextThoughtNeeded": false, "thoughtNumber": 1, "totalThoughts": 1}},
            {"tool": "fetch__fetch", "args": {"url": "https://example.com"}},
            {"tool": "git__git_status", "args": {"repo_path": "/nonexistent"}}
        ]
    });
    let out = sdk_client(&py, gw.url(), gw.token(), &spec);
    let calls = out["calls"].as_array().expect("calls");
    let text = |i: usize| calls[i]["text"].as_str().unwrap_or_default().to_owned();
    assert!(text(0).contains("UTC"), "{}", text(0));
    assert!(!calls[1]["is_error"].as_bool().unwrap_or(true));
    assert!(text(2).contains("runs MCP servers"), "{}", text(2));
    assert!(text(3).contains("hello"), "{}", text(3));
    assert!(text(4).contains("/tmp"), "{}", text(4));
    assert!(
        !calls[5]["is_error"].as_bool().unwrap_or(true),
        "{}",
        text(5)
    );
    assert!(
        !calls[6]["is_error"].as_bool().unwrap_or(true),
        "{}",
        text(6)
    );
    // No network: fetch reports a clear tool error, not a protocol failure.
    assert!(
        calls[7]["is_error"].as_bool().unwrap_or(false),
        "{}",
        text(7)
    );
    assert!(!text(7).is_empty());
    assert!(
        calls[8]["is_error"].as_bool().unwrap_or(false),
        "{}",
        text(8)
    );
    gw.close().await;
    corral.close().await;
}

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .status()
        .expect("git");
    assert!(st.success(), "git {args:?}");
}

/// A bare repository at `<base>/acme/<repo>` holding `server.py`, with tag `v1` (VERSION one)
/// and a later commit on the default branch (VERSION two).
fn bare_repo(base: &Path, repo: &str) {
    let work = base.join(format!("work-{repo}"));
    std::fs::create_dir_all(&work).expect("work");
    git(&work, &["init", "--quiet"]);
    std::fs::copy(
        root().join("core/tests/mcp_gateway/server.py"),
        work.join("server.py"),
    )
    .expect("copy server");
    std::fs::write(work.join("VERSION"), "one\n").expect("write");
    git(&work, &["add", "."]);
    git(&work, &["commit", "--quiet", "-m", "one"]);
    git(&work, &["tag", "v1"]);
    std::fs::write(work.join("VERSION"), "two\n").expect("write");
    git(&work, &["commit", "--quiet", "-am", "two"]);
    let dest = base.join("acme").join(repo);
    std::fs::create_dir_all(base.join("acme")).expect("dir");
    let st = Command::new("git")
        .args(["clone", "--quiet", "--bare"])
        .arg(&work)
        .arg(&dest)
        .status()
        .expect("git clone --bare");
    assert!(st.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_servers_clone_install_and_fail_alone() {
    let Some(py) = python_sdk() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let base = tmp.path().join("git");
    bare_repo(&base, "tiny");
    bare_repo(&base, "broken");
    let base_url = format!("file://{}", base.display());
    let corral = corral_at(&tmp.path().join("home"));
    let mut opts = options(json!({
        "github/acme/tiny#v1": {
            "installCmd": "echo built-in-root > BUILT",
            "runCmd": "python3 server.py",
            "envs": {"GREETING": "hi from envs"}
        },
        "github/acme/tiny-head": null,
        "github/acme/broken": {"run_cmd": "./no-such-server --stdio"},
    }));
    // A github server needs an object with runCmd: the whole mcp object is refused.
    let bad = corral
        .start_gateway(opts.clone())
        .await
        .expect_err("a github server without runCmd");
    assert_eq!(bad.kind(), ErrorKind::ConfigInvalid);
    assert_eq!(bad.field(), Some("mcp.github/acme/tiny-head"));
    if let Some(m) = opts.mcp.as_mut() {
        m.remove("github/acme/tiny-head");
    }
    opts.git_base = Some(base_url);
    let gw = corral.start_gateway(opts).await.expect("gateway");
    assert!(gw.wait_settled(Duration::from_secs(120)).await);
    let health = gw.servers();
    let broken = health.iter().find(|s| s.name == "broken").expect("broken");
    assert_eq!(broken.state, ServerState::Failed, "{health:?}");
    assert!(
        broken
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("broken"),
        "{broken:?}"
    );
    let out = sdk_client(
        &py,
        gw.url(),
        gw.token(),
        &json!({"expect_tools": ["tiny__info"], "wait_s": 30,
                "calls": [{"tool": "tiny__info", "args": {}},
                          {"tool": "broken__info", "args": {}}]}),
    );
    let first = out["calls"][0]["text"].as_str().expect("text");
    let info: Value = serde_json::from_str(first).unwrap_or_else(|_| panic!("info: {out}"));
    assert_eq!(info["built"], "built-in-root");
    assert_eq!(info["version"], "one", "the #v1 ref is checked out");
    assert_eq!(info["greeting"], "hi from envs");
    assert!(out["calls"][1]["is_error"].as_bool().unwrap_or(false));
    assert!(
        out["calls"][1]["text"]
            .as_str()
            .unwrap_or("")
            .contains("broken")
    );
    gw.close().await;
    corral.close().await;
}

fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn post(url: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let client = http_client();
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_beside_mcp_and_a_valid_openapi_document() {
    let fx = fixture();
    assert!(fx.is_file(), "build corral-test-server first");
    let tmp = tempfile::tempdir().expect("tmp");
    let corral = corral_at(&tmp.path().join("home"));
    let fx = fx.display().to_string();
    let gw = corral
        .start_gateway(options(json!({
            "alpha": {"command": fx},
            "mcpServers": {"beta": {"command": fx, "args": []}},
        })))
        .await
        .expect("gateway");
    let url = gw.url().to_owned();
    let token = gw.token().to_owned();
    let (status, _) = post(&format!("{url}/list_tools"), None, "").await;
    assert_eq!(status, 401);
    let (status, _) = post(
        &format!("{url}/call_tool"),
        Some("wrong-token-of-length"),
        "{}",
    )
    .await;
    assert_eq!(status, 401);
    assert!(gw.wait_settled(Duration::from_secs(60)).await);
    let (status, body) = post(&format!("{url}/list_tools"), Some(&token), "").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"alpha__echo") && names.contains(&"beta__add"),
        "{names:?}"
    );
    let (status, body) = post(
        &format!("{url}/call_tool"),
        Some(&token),
        r#"{"name": "alpha__echo", "arguments": {"text": "plain"}}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["content"][0]["text"], "plain", "{body}");
    assert!(body.get("resultType").is_none());
    let (status, body) = post(
        &format!("{url}/call_tool/beta__add"),
        Some(&token),
        r#"{"a": 2, "b": 3}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["content"][0]["text"], "5", "{body}");
    let (status, _) = post(
        &format!("{url}/call_tool"),
        Some(&token),
        r#"{"name": "nope"}"#,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = post(&format!("{url}/call_tool"), Some(&token), "not json").await;
    assert_eq!(status, 400);
    let (status, _) = post(
        &format!("{url}/call_tool"),
        Some(&token),
        r#"{"arguments": {}}"#,
    )
    .await;
    assert_eq!(status, 400);
    // The OpenAPI document: one operation per tool, checked by a real validator.
    let r = http_client()
        .get(format!("{url}/openapi.json"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("openapi");
    assert_eq!(r.status().as_u16(), 200);
    let doc: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    for n in &names {
        let op = &paths[&format!("/call_tool/{n}")]["post"];
        assert_eq!(op["operationId"], *n);
        assert!(op["requestBody"]["content"]["application/json"]["schema"].is_object());
    }
    let status = http_client()
        .get(format!("{url}/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .status()
        .as_u16();
    assert_eq!(status, 401);
    if let Some(py) = openapi_validator() {
        let file = tmp.path().join("openapi.json");
        std::fs::write(&file, doc.to_string()).expect("write");
        let out = Command::new(py)
            .arg(root().join("core/tests/mcp_gateway/validate_openapi.py"))
            .arg(&file)
            .output()
            .expect("validator");
        assert!(
            out.status.success(),
            "openapi-spec-validator: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    gw.close().await;
    corral.close().await;
}

#[tokio::test]
async fn bad_mcp_input_is_config_invalid_naming_the_field() {
    let tmp = tempfile::tempdir().expect("tmp");
    let corral = corral_at(tmp.path());
    for (mcp, field) in [
        (json!({"no-such-server": {}}), "mcp.no-such-server"),
        (json!({"slack": {"botToken": "x"}}), "mcp.slack.teamId"),
        (json!({"memory": {"apiKey": "x"}}), "mcp.memory.apiKey"),
    ] {
        let e = corral
            .start_gateway(options(mcp))
            .await
            .expect_err("invalid");
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
        assert_eq!(e.field(), Some(field));
    }
    assert!(corral.list_servers().is_empty(), "nothing was added");
    corral.close().await;
}

/// Measures `start_gateway(mcp={filesystem, memory, time})` → first successful `tools/list`
/// showing all three, cold (fresh home) and after `pull` (templates). Run by hand:
/// `cargo test -p corral-core --test mcp_gateway -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: installs from the registries into fresh homes"]
async fn measure_cold_and_pulled_start() {
    let Some(py) = python_sdk() else { return };
    let mcp = json!({"filesystem": {"paths": ["/tmp"]}, "memory": {}, "time": {}});
    let spec = json!({"expect_tools": ["filesystem__list_allowed_directories",
                                       "memory__read_graph", "time__get_current_time"],
                      "wait_s": 900});
    for pulled in [false, true] {
        let tmp = tempfile::tempdir().expect("tmp");
        let corral = corral_at(tmp.path());
        if pulled {
            let t = Instant::now();
            let names = ["filesystem", "memory", "time"].map(String::from);
            corral.pull(&names).await.expect("pull");
            eprintln!("pull (3 servers): {:.1}s", t.elapsed().as_secs_f64());
        }
        let t = Instant::now();
        let gw = corral
            .start_gateway(options(mcp.clone()))
            .await
            .expect("gateway");
        let out = sdk_client(&py, gw.url(), gw.token(), &spec);
        let secs = t.elapsed().as_secs_f64();
        assert!(out["tools"].as_array().map(Vec::len).unwrap_or(0) >= 25);
        eprintln!(
            "start_gateway → tools/list with all three ({}): {secs:.1}s",
            if pulled { "after pull" } else { "cold" }
        );
        gw.close().await;
        corral.close().await;
    }
}
