//! Timeouts from the API cannot panic the core: a call with `Duration::MAX` as its timeout and
//! cap runs normally (the deadlines are capped), and a config with an out-of-range timeout is
//! refused with `CONFIG_INVALID` naming the field.

// Test code: helpers outside `#[test]` functions may `expect` too.
#![allow(clippy::expect_used)]

use std::{path::PathBuf, time::Duration};

use corral_core::{CallOptions, Corral, CorralOptions, ErrorKind, ServerConfig};

fn fixture() -> PathBuf {
    std::env::var_os("CORRAL_TEST_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().expect("exe");
            let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
            dir.join("corral-test-server")
        })
}

#[tokio::test]
async fn huge_timeouts_are_capped_or_refused() {
    let home = tempfile::tempdir().expect("tmp");
    let corral = Corral::with_options(CorralOptions {
        provider: None,
        home: Some(home.path().to_owned()),
        ..CorralOptions::default()
    })
    .expect("corral");
    let fx = fixture().display().to_string();
    let e = corral
        .add_server(ServerConfig::argv("big", [fx.clone()]).call_timeout(Duration::MAX))
        .await
        .expect_err("out of range");
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
    assert_eq!(e.field(), Some("servers.big.callTimeoutSeconds"));

    corral
        .add_server(ServerConfig::argv("fx", [fx]))
        .await
        .expect("add");
    let options = CallOptions {
        timeout: Some(Duration::MAX),
        max_total: Some(Duration::MAX),
        ..CallOptions::default()
    };
    let r = corral
        .execute_tool_with("fx", "echo", serde_json::json!({"text": "ok"}), options)
        .await
        .expect("call");
    assert_eq!(r.text(), "ok");
    corral.close().await;
}
