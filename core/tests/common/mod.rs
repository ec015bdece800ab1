//! Helpers shared by the core's integration tests (each test file includes this module).

#![allow(clippy::expect_used, dead_code)] // test helpers

use std::path::PathBuf;

/// The fixture server: `CORRAL_TEST_SERVER`, else `corral-test-server` in this test's target dir.
pub fn fixture() -> PathBuf {
    std::env::var_os("CORRAL_TEST_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().expect("exe");
            let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
            dir.join("corral-test-server")
        })
}

/// A corral of the `unsandboxed` provider (`provider: None`) whose home is `home`.
pub fn unsandboxed(home: &std::path::Path) -> corral_core::Corral {
    corral_core::Corral::with_options(corral_core::CorralOptions {
        provider: None,
        home: Some(home.to_owned()),
        ..corral_core::CorralOptions::default()
    })
    .expect("corral")
}
