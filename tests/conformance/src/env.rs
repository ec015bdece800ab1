//! What a scenario may refer to: `${VAR}` values and the fixtures around a run (a canary file in
//! the host home, a canary variable the runner sets in its own env, a TCP listener, the fixture
//! over HTTP), plus the capabilities this machine has.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    net::TcpListener,
    path::PathBuf,
    process::{Child, Stdio},
};

/// The name of the canary variable the runner sets in its own environment (told by `setenv`).
pub const CANARY_VAR: &str = "CORRAL_CANARY_SECRET";
/// Its value: no sandbox may see it.
pub const CANARY_VALUE: &str = "the-runner-secret-must-not-leak";

/// The runner's environment, shared by all scenarios.
pub struct Env {
    /// The provider under test (`CORRAL_TEST_PROVIDER`, default `local`).
    pub provider: String,
    /// What this machine can do; scenarios name what they need in `requires`.
    pub capabilities: Vec<String>,
    server: PathBuf,
    canary_file: PathBuf,
    listener_port: u16,
    http: Option<(Child, String)>,
    sse: Option<(Child, String)>,
    double: Option<Child>,
    work_dir: tempfile::TempDir,
    _listener: TcpListener,
}

const HTTP_TOKEN: &str = "conformance-token";

impl Env {
    /// Sets up the fixtures.
    pub fn new(server: PathBuf) -> Result<Self, String> {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or("/tmp".into());
        let canary_file = home.join(format!(".corral-canary-{}", std::process::id()));
        std::fs::write(&canary_file, "canary").map_err(|e| format!("canary file: {e}"))?;
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let listener_port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let accept = listener.try_clone().map_err(|e| e.to_string())?;
        std::thread::spawn(move || {
            for conn in accept.incoming() {
                drop(conn);
            }
        });
        let provider = std::env::var("CORRAL_TEST_PROVIDER").unwrap_or_else(|_| "local".into());
        let mut present = vec!["fixture".to_owned()];
        // `sandbox`: stdio servers run in sandboxes of the provider (local bwrap, or E2B — here
        // the E2B double on 127.0.0.1). `local-sandbox`: isolation only a local sandbox shows.
        if provider == "local" || provider == "e2b" {
            present.push("sandbox".into());
        }
        let double = if provider == "e2b" {
            start_e2b_double(&server)?
        } else {
            None
        };
        if provider == "local" {
            present.push("local-sandbox".into());
            if cgroups_writable() {
                present.push("limits".into());
            }
        }
        if std::env::var_os("CORRAL_TEST_OFFLINE").is_none() {
            present.push("registry".into());
        }
        let http = start_http_fixture(&server, &[]).ok();
        if http.is_some() {
            present.push("http-fixture".into());
        }
        let sse = start_http_fixture(&server, &["--sse"]).ok();
        if sse.is_some() {
            present.push("sse-fixture".into());
        }
        Ok(Self {
            provider,
            capabilities: present,
            server,
            canary_file,
            listener_port,
            http,
            sse,
            double,
            work_dir: tempfile::tempdir().map_err(|e| e.to_string())?,
            _listener: listener,
        })
    }

    /// The `${VAR}` values of one scenario run.
    pub fn vars(&self, tag: &str) -> HashMap<String, String> {
        let path =
            |p: Option<&std::path::Path>| p.map(|p| p.display().to_string()).unwrap_or_default();
        let mut v = HashMap::from([
            ("CORRAL_TEST_SERVER", path(Some(&self.server))),
            ("SCENARIO_TAG", tag.to_owned()),
            ("CANARY_FILE", path(Some(&self.canary_file))),
            (
                "CANARY_NAME",
                path(self.canary_file.file_name().map(std::path::Path::new)),
            ),
            ("HOST_HOME", path(self.canary_file.parent())),
            ("CANARY_VAR", CANARY_VAR.to_owned()),
            ("CANARY_VALUE", CANARY_VALUE.to_owned()),
            ("LISTENER_PORT", self.listener_port.to_string()),
            ("WORK_DIR", path(Some(self.work_dir.path()))),
            ("HTTP_FIXTURE_TOKEN", HTTP_TOKEN.to_owned()),
        ]);
        if let Some((_, url)) = &self.http {
            v.insert("HTTP_FIXTURE_URL", url.clone());
        }
        if let Some((_, url)) = &self.sse {
            v.insert("SSE_FIXTURE_URL", url.clone());
        }
        v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.canary_file);
        for (child, _) in self.http.iter_mut().chain(self.sse.iter_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(child) = &mut self.double {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The fixture over HTTP (`--sse`: the legacy HTTP+SSE transport), with the bearer token.
fn start_http_fixture(server: &PathBuf, extra: &[&str]) -> Result<(Child, String), String> {
    let mut child = std::process::Command::new(server)
        .args(["--http", "127.0.0.1:0", "--bearer", HTTP_TOKEN])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let url = line
        .trim()
        .strip_prefix("listening ")
        .ok_or(format!("unexpected first line {line:?}"))?
        .to_owned();
    Ok((child, url))
}

/// With `CORRAL_TEST_PROVIDER=e2b` and no `E2B_API_URL` (the live service), starts the E2B
/// double (`CORRAL_E2B_DOUBLE`, default next to the fixture binary) and points the provider at
/// it. Called before any other thread exists (it sets this process's environment).
fn start_e2b_double(server: &std::path::Path) -> Result<Option<Child>, String> {
    if std::env::var_os("E2B_API_URL").is_some() {
        return Ok(None);
    }
    let bin = std::env::var_os("CORRAL_E2B_DOUBLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| server.with_file_name("corral-e2b-double"));
    let key = "e2b_conformance_0123456789";
    let mut child = std::process::Command::new(&bin)
        .args(["--api-key", key, "--expose"])
        .arg(server)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start the E2B double {}: {e} (cargo build -p corral-e2b-double)",
                bin.display()
            )
        })?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let mut api = None;
    let mut envd = None;
    for word in line.split_whitespace() {
        if let Some(v) = word.strip_prefix("api=") {
            api = Some(v.to_owned());
        } else if let Some(v) = word.strip_prefix("envd=") {
            envd = Some(v.to_owned());
        }
    }
    let (Some(api), Some(envd)) = (api, envd) else {
        let _ = child.kill();
        return Err(format!("unexpected first line of the E2B double: {line:?}"));
    };
    // SAFETY: called from Env::new, before the test threads exist.
    unsafe {
        std::env::set_var("E2B_API_URL", api);
        std::env::set_var("E2B_SANDBOX_URL", envd);
        std::env::set_var("E2B_API_KEY", key);
    }
    Ok(Some(child))
}

fn cgroups_writable() -> bool {
    let probe = |dir: &str| {
        let p = PathBuf::from(dir).join(format!("corral-probe-{}", std::process::id()));
        let ok = std::fs::create_dir(&p).is_ok();
        let _ = std::fs::remove_dir(&p);
        ok
    };
    probe("/sys/fs/cgroup/pids") || probe("/sys/fs/cgroup")
}

/// Pids of processes whose environment contains `needle` (`KEY=VALUE`).
pub(crate) fn processes_with_env(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            // Zombies keep no environment; only live processes count.
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = state
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'));
            !zombie
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .map(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
                    .unwrap_or(false)
        })
        .collect()
}
