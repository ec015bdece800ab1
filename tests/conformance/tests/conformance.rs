//! `cargo test` runs every scenario of the shared conformance suite as one test.
//!
//! Environment: `CORRAL_TEST_SERVER` (the fixture binary; default: next to this test's
//! target dir), `CORRAL_TEST_PROVIDER` (default `local`), `CORRAL_TEST_REQUIRE_ALL=1` (a
//! missing capability fails instead of skipping; CI sets it), `CORRAL_TEST_OFFLINE=1` (skip
//! scenarios that install from npm/PyPI).

use std::path::{Path, PathBuf};

use corral_conformance::{Env, load_expected_failures, load_scenarios, run_scenario};
use libtest_mimic::{Arguments, Completion, Failed, Trial};

fn fixture_server() -> PathBuf {
    if let Some(p) = std::env::var_os("CORRAL_TEST_SERVER") {
        return p.into();
    }
    // target/<profile>/deps/conformance-<hash> → target/<profile>/corral-test-server
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("corral-test-server"))
        .unwrap_or_default()
}

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = fixture_server();
    if !server.is_file() {
        eprintln!(
            "the fixture server {} is missing: run `cargo build -p corral-test-server` first \
             (or set CORRAL_TEST_SERVER)",
            server.display()
        );
        std::process::exit(2);
    }
    let env = match Env::new(server) {
        Ok(env) => std::sync::Arc::new(env),
        Err(e) => {
            eprintln!("cannot set up the conformance environment: {e}");
            std::process::exit(2);
        }
    };
    let scenarios = match load_scenarios(&root.join("scenarios")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let expected = load_expected_failures(&root.join("expected-failures").join("rust.txt"));
    let require_all = std::env::var_os("CORRAL_TEST_REQUIRE_ALL").is_some();
    let trials = scenarios
        .into_iter()
        .map(|scenario| {
            let env = env.clone();
            let expected_failure = expected.contains(&scenario.name);
            Trial::ignorable_test(scenario.name.clone(), move || {
                let missing = env.capabilities.missing(&scenario.requires);
                if !missing.is_empty() {
                    if require_all {
                        return Err(Failed::from(format!("missing capabilities: {missing:?}")));
                    }
                    return Ok(Completion::ignored_with(format!("needs {missing:?}")));
                }
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| Failed::from(e.to_string()))?;
                let outcome = rt.block_on(run_scenario(&scenario, &env));
                rt.shutdown_timeout(std::time::Duration::from_secs(5));
                match (outcome, expected_failure) {
                    (Ok(()), false) => Ok(Completion::Completed),
                    (Err(e), false) => Err(Failed::from(e)),
                    (Err(_), true) => Ok(Completion::ignored_with("expected failure")),
                    (Ok(()), true) => Err(Failed::from(
                        "listed in expected-failures/rust.txt but passes: remove it from the list",
                    )),
                }
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    drop(env);
    conclusion.exit();
}
