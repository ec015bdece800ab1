//! A server that takes longer than rmcp's 10 s `server/discover` probe to start (as a server
//! that `npx` is still downloading does) must still connect: the late answer to the probe is
//! dropped instead of breaking the `initialize` fallback, and a server of the new era only is
//! started again with `server/discover` alone.

// Test code: helpers outside `#[test]` functions may `expect` too (clippy.toml allows it
// only inside them).
#![allow(clippy::expect_used)]

use corral_core::{Corral, Mount, ServerConfig};

mod common;
use common::fixture;

/// The fixture (with `args`), started 11 s late: longer than rmcp's discover probe waits.
fn slow_fixture(name: &str, args: &str) -> ServerConfig {
    let fx = fixture();
    assert!(
        fx.is_file(),
        "build corral-test-server first ({})",
        fx.display()
    );
    let script = format!("sleep 11; exec '{}' {args}", fx.display());
    let mut config = ServerConfig::argv(name, ["sh", "-c", &script]);
    // argv[0] is `sh`, so the fixture's directory is not found automatically: mount it.
    let dir = fx.parent().expect("dir").to_owned();
    config.mounts.push(Mount {
        host: dir.clone(),
        target: dir,
        read_only: true,
    });
    config
}

#[tokio::test]
async fn a_server_slower_than_the_discover_probe_still_connects() {
    let home = tempfile::tempdir().expect("tmp");
    let corral = common::unsandboxed(home.path());
    corral
        .add_server(slow_fixture("slow", ""))
        .await
        .expect("add");
    let result = corral
        .execute_tool("slow", "echo", serde_json::json!({"text": "late but fine"}))
        .await
        .expect("call");
    assert_eq!(result.text(), "late but fine");
    let session = corral.session("slow").await.expect("session");
    // The probe timed out, so the session fell back to the legacy handshake.
    assert_eq!(session.protocol_version(), "2025-11-25");
    corral.close().await;
}

/// A slow server of the 2026-07-28 era only (the Python SDK 2.x's, while `uvx` downloads it)
/// answers the 10 s probe late and refuses the `initialize` fallback: the runner starts it
/// again with `server/discover` alone, which waits as long as the start timeout, and it
/// connects in the new era.
#[tokio::test]
async fn a_slow_server_of_the_new_era_only_still_connects() {
    let home = tempfile::tempdir().expect("tmp");
    let corral = common::unsandboxed(home.path());
    corral
        .add_server(slow_fixture("modern", "--modern-only"))
        .await
        .expect("add");
    let result = corral
        .execute_tool("modern", "echo", serde_json::json!({"text": "new era"}))
        .await
        .expect("call");
    assert_eq!(result.text(), "new era");
    let session = corral.session("modern").await.expect("session");
    assert_eq!(session.protocol_version(), "2026-07-28");
    corral.close().await;
}

/// `--die-with-parent` is per thread: a server first started from a thread that then exits
/// must keep running (same session afterwards, not a restarted one).
#[test]
fn servers_outlive_the_thread_that_started_them() {
    let fx = fixture();
    let home = tempfile::tempdir().expect("tmp");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let corral = common::unsandboxed(home.path());
    rt.block_on(corral.add_server(ServerConfig::argv("fx", [fx.display().to_string()])))
        .expect("add");
    let session_id = |c: Corral| async move {
        let r = c
            .execute_tool("fx", "echo", serde_json::json!({"text": "x"}))
            .await
            .expect("call");
        assert_eq!(r.text(), "x");
        c.session("fx")
            .await
            .expect("session")
            .session_id()
            .to_owned()
    };
    // The first call (which starts the server) is polled on a short-lived thread.
    let (c, handle) = (corral.clone(), rt.handle().clone());
    let first = std::thread::spawn(move || handle.block_on(session_id(c)))
        .join()
        .expect("thread");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let second = rt.block_on(session_id(corral.clone()));
    assert_eq!(
        first, second,
        "the server died with the thread that started it"
    );
    rt.block_on(corral.close());
}
