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
