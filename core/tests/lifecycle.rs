//! The lifecycle of a server's instance, with real sandboxes (the local provider):
//! - `close()` and `remove_server()` cancel a start in progress: an install command that would
//!   sleep for 30 s is killed at once (they return within 5 s, not after the install), the calls waiting for the start fail with `CLOSED`, and
//!   no process of the sandbox is left;
//! - a `Corral` (and a sandbox handle) dropped on a thread without any async runtime kills its
//!   servers and sandboxes without panicking;
//! - the idle reaper leaves an instance alone while a session handle holds it, and stops it
//!   once nobody does.
//!
//! Processes are found by a marker in their environment (`/proc/<pid>/environ`), which every
//! process of a sandbox inherits from the server's `env`.

// Test code: helpers outside `#[test]` functions may `expect` too.
#![allow(clippy::expect_used)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use corral_core::{Command, Corral, CorralOptions, ErrorKind, SandboxConfig, ServerConfig};
use serde_json::json;

mod common;
use common::fixture;

/// A marker unique to this test process and call.
fn marker(label: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "core-lifecycle-{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

const MARKER_VAR: &str = "CORRAL_LIFECYCLE_MARKER";

/// Live (not zombie) processes whose environment carries `marker`, with their command lines.
fn processes_with(marker: &str) -> Vec<(u32, String)> {
    let needle = format!("{MARKER_VAR}={marker}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if !environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            continue;
        }
        let state = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = state
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if zombie {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        found.push((pid, cmdline));
    }
    found
}

/// Waits until `done` holds, for at most `limit`.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn corral(home: &tempfile::TempDir) -> Corral {
    Corral::with_options(CorralOptions {
        provider: Some("local".into()),
        home: Some(home.path().to_owned()),
        ..CorralOptions::default()
    })
    .expect("corral")
}

/// A server whose install command sleeps 30 s before the fixture would start.
fn slow_install(name: &str, marker: &str) -> ServerConfig {
    ServerConfig::argv(name, [fixture().display().to_string()])
        .install("sleep 30")
        .env(MARKER_VAR, marker)
}

/// Starts two calls on `name` (one starts the server, one waits for that start) and waits
/// until the install command's `sleep` runs.
async fn two_calls_waiting_on_the_install(
    corral: &Corral,
    name: &str,
    marker: &str,
) -> Vec<tokio::task::JoinHandle<corral_core::Result<corral_core::ToolResult>>> {
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let (c, name) = (corral.clone(), name.to_owned());
            tokio::spawn(async move { c.execute_tool(&name, "echo", json!({"text": "x"})).await })
        })
        .collect();
    let m = marker.to_owned();
    let sleeping = tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(60), || {
            processes_with(&m)
                .iter()
                .any(|(_, cmd)| cmd.starts_with("sleep 30"))
        })
    })
    .await
    .expect("scan");
    assert!(sleeping, "the install command never started");
    calls
}

async fn assert_cancelled(
    calls: Vec<tokio::task::JoinHandle<corral_core::Result<corral_core::ToolResult>>>,
    marker: &str,
) {
    for call in calls {
        let result = tokio::time::timeout(Duration::from_secs(2), call)
            .await
            .expect("the waiting call still waits")
            .expect("task");
        let e = result.expect_err("the start was cancelled");
        assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    }
    let m = marker.to_owned();
    let gone = tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(2), || processes_with(&m).is_empty())
    })
    .await
    .expect("scan");
    assert!(gone, "processes left behind: {:?}", processes_with(marker));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_cancels_a_start_in_progress() {
    let home = tempfile::tempdir().expect("tmp");
    let corral = corral(&home);
    let marker = marker("close");
    corral
        .add_server(slow_install("slow", &marker))
        .await
        .expect("add");
    let calls = two_calls_waiting_on_the_install(&corral, "slow", &marker).await;

    let t0 = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), corral.close())
        .await
        .expect("close() waited behind the install");
    eprintln!("close() during the install took {:?}", t0.elapsed());
    assert_cancelled(calls, &marker).await;
    let e = corral
        .execute_tool("slow", "echo", json!({}))
        .await
        .expect_err("closed");
    assert_eq!(e.kind(), ErrorKind::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_server_cancels_a_start_in_progress() {
    let home = tempfile::tempdir().expect("tmp");
    let corral = corral(&home);
    let marker = marker("remove");
    corral
        .add_server(slow_install("slow", &marker))
        .await
        .expect("add");
    let calls = two_calls_waiting_on_the_install(&corral, "slow", &marker).await;

    let t0 = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), corral.remove_server("slow"))
        .await
        .expect("remove_server() waited behind the install")
        .expect("removed");
    eprintln!("remove_server() during the install took {:?}", t0.elapsed());
    assert_cancelled(calls, &marker).await;
    let e = corral
        .execute_tool("slow", "echo", json!({}))
        .await
        .expect_err("removed");
    assert_eq!(e.kind(), ErrorKind::ServerNotFound);

    // The corral itself still works: the same server, added again without the install.
    let fx = ServerConfig::argv("slow", [fixture().display().to_string()]);
    corral.add_server(fx).await.expect("add again");
    let r = corral
        .execute_tool("slow", "echo", json!({"text": "back"}))
        .await
        .expect("call");
    assert_eq!(r.text(), "back");
    corral.close().await;
}

/// The bindings drop core objects from foreign threads (a GC finalizer, `deinit`), with no
/// runtime entered: that must neither panic nor leave a process behind.
#[test]
fn a_corral_dropped_outside_any_runtime_kills_everything() {
    let home = tempfile::tempdir().expect("tmp");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let marker = marker("drop");
    let corral = corral(&home);
    let fx = ServerConfig::argv("fx", [fixture().display().to_string()]).env(MARKER_VAR, &marker);
    let (session, sandbox, process) = rt.block_on(async {
        corral.add_server(fx).await.expect("add");
        let r = corral
            .execute_tool("fx", "echo", json!({"text": "hi"}))
            .await
            .expect("call");
        assert_eq!(r.text(), "hi");
        let session = corral.session("fx").await.expect("session");
        let mut env = serde_json::Map::new();
        env.insert(MARKER_VAR.to_owned(), marker.clone().into());
        let mut config = SandboxConfig::from_value(&json!({ "env": env })).expect("sandbox config");
        config.name = "direct".into();
        let sandbox = corral.sandbox(config).await.expect("sandbox");
        // A long-running process in it, whose handle the test keeps: only killing the
        // sandbox ends it.
        let process = sandbox
            .inner()
            .spawn(Command::shell("sleep 30"))
            .await
            .expect("spawn");
        (session, sandbox, process)
    });
    assert!(
        wait_until(Duration::from_secs(5), || {
            let p = processes_with(&marker);
            p.iter().any(|(_, c)| c.contains("corral-test-server"))
                && p.iter().any(|(_, c)| c.starts_with("sleep 30"))
        }),
        "the server and the sandbox's sleep should run: {:?}",
        processes_with(&marker)
    );
    assert!(tokio::runtime::Handle::try_current().is_err());
    // No close(), no runtime entered: plain drops on this thread.
    drop(session);
    drop(sandbox);
    drop(corral);
    assert!(
        wait_until(Duration::from_secs(3), || processes_with(&marker)
            .is_empty()),
        "processes left behind: {:?}",
        processes_with(&marker)
    );
    drop(process);
    drop(rt);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reaper_spares_a_held_instance_and_stops_an_idle_one() {
    let home = tempfile::tempdir().expect("tmp");
    let corral = corral(&home);
    let mut fx = ServerConfig::argv("fx", [fixture().display().to_string()]);
    fx.idle_timeout = Duration::from_millis(600);
    corral.add_server(fx).await.expect("add");
    let held = corral.session("fx").await.expect("session");
    let first = held.session_id().to_owned();
    tokio::time::sleep(Duration::from_millis(1800)).await;
    // Held by a session handle: not reaped, however idle.
    let r = held
        .call_tool("echo", json!({"text": "still here"}))
        .await
        .expect("call");
    assert_eq!(r.text(), "still here");
    let again = corral.session("fx").await.expect("session");
    assert_eq!(again.session_id(), first, "a held instance was reaped");
    drop(again);
    drop(held);
    // Nobody holds it: stopped after its idle timeout, so the next use starts a new one.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let fresh = corral.session("fx").await.expect("session");
    assert_ne!(fresh.session_id(), first, "an idle instance was not reaped");
    drop(fresh);
    corral.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_share_one_start() {
    let home = tempfile::tempdir().expect("tmp");
    let corral = corral(&home);
    let ready = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = ready.clone();
    corral.set_start_callback(Some(std::sync::Arc::new(move |e| {
        if matches!(e, corral_core::StartEvent::ServerReady { .. }) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    })));
    let fx = ServerConfig::argv("fx", [fixture().display().to_string()]);
    corral.add_server(fx).await.expect("add");
    let calls: Vec<_> = (0..4)
        .map(|i| {
            let c = corral.clone();
            tokio::spawn(async move {
                c.execute_tool("fx", "echo", json!({"text": format!("call {i}")}))
                    .await
                    .map(|r| r.text())
            })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(
            call.await.expect("task").expect("call"),
            format!("call {i}")
        );
    }
    assert_eq!(
        ready.load(Ordering::SeqCst),
        1,
        "one start for every caller"
    );
    corral.close().await;
}

/// A document loaded from its file expands `${workspaceFolder}` to its project, as the CLI's
/// import does (a `.vscode/mcp.json`'s folder's parent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loaded_file_knows_its_workspace_folder() {
    let home = tempfile::tempdir().expect("tmp");
    let project = tempfile::tempdir().expect("tmp");
    let vscode = project.path().join(".vscode");
    std::fs::create_dir_all(&vscode).expect("mkdir");
    let file = vscode.join("mcp.json");
    std::fs::write(
        &file,
        r#"{"servers": {"w": {"command": "srv", "args": ["${workspaceFolder}/data"]}}}"#,
    )
    .expect("write");
    let c = Corral::with_options(CorralOptions {
        provider: Some("unsandboxed".into()),
        home: Some(home.path().to_owned()),
        ..CorralOptions::default()
    })
    .expect("corral");
    c.load_mcp_servers_file(&file, corral_core::LoadOptions::new(false, true))
        .await
        .expect("load");
    let corral_core::Transport::Stdio { argv } = c.server("w").expect("added").transport else {
        panic!("stdio");
    };
    assert_eq!(argv[1], format!("{}/data", project.path().display()));
    // Text given where a path goes says so (rather than "no such file" for the whole text).
    let text = "{\"mcpServers\": {}}";
    let e = c
        .load_mcp_servers_file(
            std::path::Path::new(text),
            corral_core::LoadOptions::default(),
        )
        .await
        .expect_err("not a path");
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
    assert!(e.to_string().contains("not the path of a file"), "{e}");
    c.close().await;
}

/// A server whose install commands are exactly those of a pulled catalog template
/// (`catalog-*`, as `corral pull` builds them; a Docker entry run without its container has
/// them) starts from that template rather than installing again. Another template of the same
/// commands is only used when named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pulled_catalog_template_replaces_the_same_install() {
    let home = tempfile::tempdir().expect("tmp");
    let c = corral(&home);
    let installs = vec!["mkdir -p /opt/p && date +%s%N > /opt/p/stamp".to_owned()];
    for name in ["catalog-fx", "mine"] {
        c.build_template(name, &installs, None)
            .await
            .expect("built");
    }
    let installed = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&installed);
    c.set_start_callback(Some(Arc::new(move |e| {
        if matches!(e, corral_core::StartEvent::InstallStarted { .. }) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    })));
    let stamp = |server: &'static str| {
        let c = c.clone();
        async move {
            c.execute_tool(server, "read_file", json!({"path": "/opt/p/stamp"}))
                .await
                .expect("read")
                .text()
        }
    };
    let mut fx = ServerConfig::argv("fx", [fixture().display().to_string()]);
    fx.install_commands = installs.clone();
    c.add_server(fx.clone()).await.expect("add");
    let from_template = stamp("fx").await;
    assert_eq!(installed.load(Ordering::SeqCst), 0, "nothing installed");
    let sb = c
        .sandbox(SandboxConfig {
            template: Some("catalog-fx".into()),
            ..SandboxConfig::default()
        })
        .await
        .expect("sandbox");
    let out = sb.exec("cat /opt/p/stamp").await.expect("exec");
    assert_eq!(String::from_utf8_lossy(&out.stdout), from_template);
    sb.close().await.expect("close");
    // Other install commands: installed as written.
    let mut other = fx;
    other.name = "other".into();
    other.install_commands[0].push_str(" && true");
    c.add_server(other).await.expect("add");
    assert_ne!(stamp("other").await, from_template);
    assert_eq!(installed.load(Ordering::SeqCst), 1);
    c.close().await;
}
