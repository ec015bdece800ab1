//! Timeouts from the API cannot panic the core: a call with a zero or absurd (`Duration::MAX`)
//! timeout is refused with `INVALID_ARGUMENT` naming the argument, the longest allowed one
//! runs normally (the deadlines are capped), and a config with an out-of-range timeout is
//! refused with `CONFIG_INVALID` naming the field.

// Test code: helpers outside `#[test]` functions may `expect` too.
#![allow(clippy::expect_used)]

use std::time::Duration;

use corral_core::{CallOptions, ErrorKind, ServerConfig, config::MAX_TIMEOUT};

mod common;
use common::fixture;

#[tokio::test]
async fn huge_timeouts_are_capped_or_refused() {
    let home = tempfile::tempdir().expect("tmp");
    let corral = common::unsandboxed(home.path());
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
    for (timeout, max_total, field) in [
        (Some(Duration::MAX), None, "timeout"),
        (Some(Duration::ZERO), None, "timeout"),
        (None, Some(Duration::ZERO), "maxTotal"),
        (None, Some(Duration::MAX), "maxTotal"),
    ] {
        let options = CallOptions {
            timeout,
            max_total,
            ..CallOptions::default()
        };
        let e = corral
            .execute_tool_with("fx", "echo", serde_json::json!({"text": "x"}), options)
            .await
            .expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.field(), Some(field));
    }
    let options = CallOptions {
        timeout: Some(MAX_TIMEOUT),
        max_total: Some(MAX_TIMEOUT),
        ..CallOptions::default()
    };
    let r = corral
        .execute_tool_with("fx", "echo", serde_json::json!({"text": "ok"}), options)
        .await
        .expect("call");
    assert_eq!(r.text(), "ok");
    corral.close().await;
}
