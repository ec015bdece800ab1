//! Sandboxes: the [`Provider`] / [`Sandbox`] / [`Process`] contracts every provider keeps.
//!
//! The shapes fit both a local child process and a remote process API (E2B's envd streams
//! stdout in chunks and takes stdin by RPC): a [`Process`] is just byte streams plus control.
//! Killing a sandbox kills every process in it; dropping the last handle kills it too.

mod cgroup;
pub mod e2b;
pub mod local;
pub mod machine;
pub mod unsandboxed;

use std::{
    collections::BTreeMap,
    fmt,
    future::Future,
    path::PathBuf,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::{oneshot, watch},
};

pub use self::{local::LocalProvider, unsandboxed::UnsandboxedProvider};
use crate::{
    config::{Limits, Mount, NetworkPolicy, RawSandbox, deserialize_at},
    error::{Error, ErrorKind, Result},
    sync::lock,
};

/// A boxed, sendable future (the traits are object-safe so providers can be chosen at run time).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a sandbox is made of. Serde gives the canonical form
/// `{"name", "env"?, "network", "mounts"?, "limits"?}` (the server config's names and forms);
/// `state_dir` and `programs` are set by corral itself and are not part of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawSandbox")]
pub struct SandboxConfig {
    /// A label for ids and logs (the server's name).
    pub name: String,
    /// Persistent state directory (its `home/` is the sandbox's home). `None`: a temporary one,
    /// removed when the sandbox is killed.
    pub state_dir: Option<PathBuf>,
    /// Environment given to every process (on top of PATH, HOME, LANG).
    pub env: BTreeMap<String, String>,
    /// Network access of processes (install commands may override it per command).
    pub network: NetworkPolicy,
    /// Extra host directories.
    pub mounts: Vec<Mount>,
    /// Memory and process limits.
    pub limits: Limits,
    /// Programs whose runtime (install prefix on the host's PATH) must be visible inside, for
    /// example the server command's `argv[0]`. Well-known runtimes (node, python, uv, ...) are
    /// always added.
    pub programs: Vec<String>,
    /// Start from this template (built with `corral template build`): its layer is mounted
    /// under the sandbox's own.
    pub template: Option<String>,
    /// Where the sandbox's own writable layer lives (default: `<state_dir>/layer`).
    pub layer_dir: Option<PathBuf>,

    /// A reuse key (the hash of a server's config): remote providers tag the sandbox with it
    /// so another corral with the same home can find and share it. `None`: never shared.
    pub reuse_key: Option<String>,
}

impl SandboxConfig {
    /// Reads `{"name", "env", "network", "mounts", "limits", "template"}`; every key is optional (`null`
    /// is the default config). Errors name the offending field under `sandbox.`.
    pub fn from_value(value: &serde_json::Value) -> Result<Self> {
        if value.is_null() {
            return Ok(Self::default());
        }
        let raw: RawSandbox = deserialize_at(value).map_err(|e| e.under("sandbox"))?;
        Self::try_from(raw).map_err(|e| e.under("sandbox"))
    }
}

impl TryFrom<RawSandbox> for SandboxConfig {
    type Error = Error;

    fn try_from(mut raw: RawSandbox) -> Result<Self> {
        let template = raw.template.take();
        let (name, env, network, mounts, limits) = raw.build()?;
        Ok(Self {
            name: name.unwrap_or_else(|| "sandbox".to_owned()),
            state_dir: None,
            env,
            network,
            mounts,
            limits,
            programs: Vec::new(),
            template,
            layer_dir: None,
            reuse_key: None,
        })
    }
}

impl Serialize for SandboxConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Canonical<'a> {
            name: &'a str,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            env: &'a BTreeMap<String, String>,
            network: NetworkPolicy,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            mounts: &'a [Mount],
            #[serde(skip_serializing_if = "Option::is_none")]
            limits: Option<&'a Limits>,
            #[serde(skip_serializing_if = "Option::is_none")]
            template: Option<&'a str>,
        }
        Canonical {
            name: &self.name,
            env: &self.env,
            network: self.network,
            mounts: &self.mounts,
            limits: Some(&self.limits).filter(|l| **l != Limits::default()),
            template: self.template.as_deref(),
        }
        .serialize(s)
    }
}

/// One command to run inside a sandbox.
#[derive(Debug, Clone, Default)]
pub struct Command {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Extra environment for this command only.
    pub env: BTreeMap<String, String>,
    /// Working directory inside the sandbox (default: the sandbox's home).
    pub cwd: Option<String>,
    /// Overrides the sandbox's network policy for this command.
    pub network: Option<NetworkPolicy>,
    /// Bytes written to the command's stdin (for [`Sandbox::exec`]).
    pub stdin: Option<Vec<u8>>,
    /// Kill the command after this long (for [`Sandbox::exec`]).
    pub timeout: Option<Duration>,
}

impl Command {
    /// `sh -c <script>`.
    pub fn shell(script: impl Into<String>) -> Self {
        Self::new(["sh".to_owned(), "-c".to_owned(), script.into()])
    }

    /// A program and its arguments.
    pub fn new(argv: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

/// How a process ended: `{"code", "signal"}` (each `null` when it does not apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExitStatus {
    /// The exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
}

impl ExitStatus {
    /// Exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(c), _) => write!(f, "exit code {c}"),
            (None, Some(9)) => write!(f, "killed (SIGKILL)"),
            (None, Some(s)) => write!(f, "killed by signal {s}"),
            (None, None) => write!(f, "unknown status"),
        }
    }
}

/// The result of [`Sandbox::exec`]. Canonical form `{"exitCode", "signal"?, "stdout", "stderr"}`:
/// `exitCode` is `null` when a signal killed the command; stdout and stderr are decoded as
/// UTF-8 (invalid bytes replaced), so only valid UTF-8 output round-trips exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// How the command ended.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
}

/// The old name of [`ExecOutput`].
#[deprecated(note = "renamed to ExecOutput")]
pub type Output = ExecOutput;

impl ExecOutput {
    /// The exit code, or `None` when a signal killed the command.
    pub fn exit_code(&self) -> Option<i32> {
        self.status.code
    }

    /// stdout, decoded as UTF-8 (invalid bytes replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr, decoded as UTF-8 (invalid bytes replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// How a command in a sandbox ended, and what it wrote.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ExecOutput")]
struct CanonicalExec {
    /// The exit code (`null` if a signal killed it).
    exit_code: Option<i32>,
    /// The signal that killed it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signal: Option<i32>,
    /// stdout, decoded as UTF-8 (invalid sequences replaced).
    stdout: String,
    /// stderr, decoded as UTF-8 (invalid sequences replaced).
    stderr: String,
}

crate::boundary::schema_as!(ExecOutput = CanonicalExec);

impl Serialize for ExecOutput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        CanonicalExec {
            exit_code: self.status.code,
            signal: self.status.signal,
            stdout: self.stdout_text(),
            stderr: self.stderr_text(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ExecOutput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let c = CanonicalExec::deserialize(d)?;
        Ok(Self {
            status: ExitStatus {
                code: c.exit_code,
                signal: c.signal,
            },
            stdout: c.stdout.into_bytes(),
            stderr: c.stderr.into_bytes(),
        })
    }
}

/// Control of a running process.
pub trait ProcessControl: Send + Sync {
    /// The host pid, where there is one.
    fn id(&self) -> Option<u32>;
    /// Waits for the process to end.
    fn wait(&self) -> BoxFuture<'_, ExitStatus>;
    /// The exit status if it has ended.
    fn try_status(&self) -> Option<ExitStatus>;
    /// Kills the process (and, in a sandbox, everything it started).
    fn kill(&self);
    /// Why the process is gone when its sandbox failed under it (a vanished remote sandbox),
    /// as the error in-flight calls should get (`SANDBOX_FAILED`).
    fn failure(&self) -> Option<Error> {
        None
    }
}

/// A process running in a sandbox: byte streams plus control.
pub struct Process {
    /// Its stdin.
    pub stdin: Box<dyn AsyncWrite + Send + Unpin>,
    /// Its stdout.
    pub stdout: Box<dyn AsyncRead + Send + Unpin>,
    /// Its stderr.
    pub stderr: Box<dyn AsyncRead + Send + Unpin>,
    /// Wait / kill.
    pub control: Arc<dyn ProcessControl>,
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("id", &self.control.id())
            .finish_non_exhaustive()
    }
}

/// An isolated place to run processes.
pub trait Sandbox: Send + Sync {
    /// Unique id.
    fn id(&self) -> &str;
    /// Runs a command to completion and collects its output.
    fn exec(&self, command: Command) -> BoxFuture<'_, Result<ExecOutput>>;
    /// Starts a long-running process with piped stdio.
    fn spawn(&self, command: Command) -> BoxFuture<'_, Result<Process>>;
    /// Writes a file inside the sandbox (as the sandbox sees its filesystem).
    fn write_file<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut cmd = Command::new(["sh", "-c", "cat > \"$1\"", "sh", path]);
            cmd.stdin = Some(data.to_vec());
            let out = self.exec(cmd).await?;
            file_op_result(out, "write", path).map(|_| ())
        })
    }
    /// Reads a file inside the sandbox.
    fn read_file<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move {
            let out = self.exec(Command::new(["cat", "--", path])).await?;
            file_op_result(out, "read", path)
        })
    }
    /// Sets the sandbox's lifetime (remote providers stop it after this; local ones ignore it).
    fn set_timeout(&self, _timeout: Duration) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
    /// Kills every process in the sandbox and releases it. Idempotent.
    fn kill(&self) -> BoxFuture<'_, Result<()>>;
    /// Why a process of this sandbox may have died (e.g. its memory limit), if known.
    fn diagnose(&self) -> Option<String> {
        None
    }
    /// Whether the sandbox's state lives on this machine (so markers such as "install commands
    /// done" may be kept on the host). Remote sandboxes keep them inside.
    fn state_is_local(&self) -> bool {
        true
    }
}

pub(crate) fn file_op_result(out: ExecOutput, op: &str, path: &str) -> Result<Vec<u8>> {
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(Error::new(
            ErrorKind::Io,
            format!(
                "cannot {op} {path}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ))
    }
}

/// Makes sandboxes.
pub trait Provider: Send + Sync {
    /// `local`, `unsandboxed`, `e2b`, ...
    fn name(&self) -> &'static str;
    /// Creates a sandbox.
    fn create(&self, config: SandboxConfig) -> BoxFuture<'_, Result<Arc<dyn Sandbox>>>;
    /// This provider as the E2B provider, when it is one (for E2B's own gateway).
    fn as_e2b(&self) -> Option<&e2b::E2bProvider> {
        None
    }
}

/// The provider of a name: `local` (bubblewrap), `unsandboxed` (asked for by name only) or
/// `e2b` (E2B cloud sandboxes; the key comes from `E2B_API_KEY`).
pub fn provider_by_name(name: &str, home: &std::path::Path) -> Result<Arc<dyn Provider>> {
    provider_with_key(name, home, None)
}

/// Like [`provider_by_name`], with an explicit API key for remote providers.
pub fn provider_with_key(
    name: &str,
    home: &std::path::Path,
    api_key: Option<String>,
) -> Result<Arc<dyn Provider>> {
    match name {
        "local" => Ok(Arc::new(LocalProvider::new(home)?)),
        "unsandboxed" => Ok(Arc::new(UnsandboxedProvider::new(home))),
        "e2b" => Ok(Arc::new(e2b::E2bProvider::from_env(home, api_key)?)),
        other => Err(Error::new(
            ErrorKind::ConfigInvalid,
            format!("provider: unknown provider `{other}` (expected local, unsandboxed or e2b)"),
        )),
    }
}

/// A child process driven by one waiter task: `wait` and `kill` from any thread, no pid reuse.
pub(crate) struct ChildControl {
    pid: Option<u32>,
    status: watch::Receiver<Option<ExitStatus>>,
    kill_tx: Mutex<Option<oneshot::Sender<()>>>,
    on_kill: Box<dyn Fn() + Send + Sync>,
}

impl ChildControl {
    /// Takes ownership of `child`; `on_kill` runs on kill (e.g. killing the whole group).
    pub(crate) fn new(
        mut child: tokio::process::Child,
        on_kill: Box<dyn Fn() + Send + Sync>,
    ) -> Arc<Self> {
        let pid = child.id();
        let (status_tx, status) = watch::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let status = status.map(convert_status).unwrap_or(ExitStatus {
                code: None,
                signal: None,
            });
            let _ = status_tx.send(Some(status));
        });
        Arc::new(Self {
            pid,
            status,
            kill_tx: Mutex::new(Some(kill_tx)),
            on_kill,
        })
    }
}

pub(crate) fn convert_status(s: std::process::ExitStatus) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    ExitStatus {
        code: s.code(),
        signal: s.signal(),
    }
}

impl ProcessControl for ChildControl {
    fn id(&self) -> Option<u32> {
        self.pid
    }

    fn wait(&self) -> BoxFuture<'_, ExitStatus> {
        let mut rx = self.status.clone();
        Box::pin(async move {
            match rx.wait_for(Option::is_some).await {
                Ok(s) => s.unwrap_or(ExitStatus {
                    code: None,
                    signal: None,
                }),
                Err(_) => ExitStatus {
                    code: None,
                    signal: None,
                },
            }
        })
    }

    fn try_status(&self) -> Option<ExitStatus> {
        *self.status.borrow()
    }

    fn kill(&self) {
        (self.on_kill)();
        if let Some(tx) = lock(&self.kill_tx).take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for ChildControl {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            self.kill();
        }
    }
}

/// Starts a sandbox child from one long-lived thread.
///
/// `--die-with-parent` (and `PR_SET_PDEATHSIG` in general) fires when the *thread* that forked
/// the child exits, not the process. Forking from a caller's short-lived thread (or tokio's
/// blocking pool, whose threads retire when idle) would kill its servers with that thread, so
/// every child is forked by the process-wide `corral-spawner` thread, inside the caller's
/// runtime (whose reactor drives the pipes).
/// Kills `child` and reaps it on the runtime, so no zombie stays behind: tokio reaps a
/// dropped child only on a later SIGCHLD, which may never come in an idle process.
pub(crate) fn kill_and_reap(mut child: tokio::process::Child) {
    let _ = child.start_kill();
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            let _ = child.wait().await;
        });
    }
}

pub(crate) async fn spawn_child(
    mut command: tokio::process::Command,
) -> std::io::Result<tokio::process::Child> {
    type Job = Box<dyn FnOnce() + Send>;
    // The spawner of this process: after fork() the child has no spawner thread, so the
    // sender is keyed by pid and a child starts its own.
    static SPAWNER: Mutex<Option<(u32, std::sync::mpsc::Sender<Job>)>> = Mutex::new(None);
    let handle = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
    let pid = std::process::id();
    let spawner = {
        let mut slot = lock(&SPAWNER);
        match slot.as_ref() {
            Some((owner, tx)) if *owner == pid => Some(tx.clone()),
            _ => {
                let (tx, rx) = std::sync::mpsc::channel::<Job>();
                let started = std::thread::Builder::new()
                    .name("corral-spawner".into())
                    .spawn(move || {
                        for job in rx {
                            job();
                        }
                    })
                    .is_ok();
                *slot = started.then(|| (pid, tx.clone()));
                started.then_some(tx)
            }
        }
    };
    let Some(spawner) = spawner else {
        // No thread could be started: fork here rather than not at all.
        return command.spawn();
    };
    // Awaited, not blocked on: a fork under memory pressure must not hold a runtime thread.
    let (tx, rx) = oneshot::channel();
    spawner
        .send(Box::new(move || {
            let _runtime = handle.enter();
            let _ = tx.send(command.spawn());
        }))
        .map_err(|_| std::io::Error::other("the corral-spawner thread is gone"))?;
    rx.await
        .map_err(|_| std::io::Error::other("the corral-spawner thread is gone"))?
}

/// Runs a spawned process to completion: feeds stdin, collects stdout/stderr, honours a timeout.
pub(crate) async fn collect_output(
    mut process: Process,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
) -> Result<ExecOutput> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let writer = async move {
        if let Some(data) = stdin {
            let _ = process.stdin.write_all(&data).await;
        }
        let _ = process.stdin.shutdown().await;
        drop(process.stdin);
    };
    let mut stdout = process.stdout;
    let mut stderr = process.stderr;
    let control = process.control;
    let run = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (_, r1, r2) = tokio::join!(
            writer,
            stdout.read_to_end(&mut out),
            stderr.read_to_end(&mut err)
        );
        r1.map_err(|e| Error::io("reading stdout", e))?;
        r2.map_err(|e| Error::io("reading stderr", e))?;
        let status = control.wait().await;
        Ok::<_, Error>(ExecOutput {
            status,
            stdout: out,
            stderr: err,
        })
    };
    match timeout {
        None => run.await,
        Some(t) => match tokio::time::timeout(t, run).await {
            Ok(r) => r,
            Err(_) => {
                control.kill();
                Err(Error::new(
                    ErrorKind::Timeout,
                    format!("command did not finish within {t:?}"),
                ))
            }
        },
    }
}

/// A unique id: a label plus a random-enough suffix.
pub(crate) fn new_id(label: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{label}-{:x}{:04x}{n:x}",
        std::process::id(),
        nanos & 0xffff
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sandbox_config_from_value() {
        let c = SandboxConfig::from_value(&json!({"network": "none", "env": {"A": "1"},
                                                  "limits": {"memory_mb": 64}}))
        .expect("valid");
        assert_eq!(c.network, NetworkPolicy::None);
        assert_eq!(c.env["A"], "1");
        assert_eq!(c.limits.memory_mb, Some(64));
        assert_eq!(c.name, "sandbox");
        let v = serde_json::to_value(&c).expect("serializes");
        assert_eq!(
            v,
            json!({"name": "sandbox", "env": {"A": "1"}, "network": "none", "limits": {"memoryMb": 64}})
        );
        assert_eq!(
            serde_json::from_value::<SandboxConfig>(v).expect("valid"),
            c
        );
        let t = SandboxConfig::from_value(&json!({"template": "tools", "limits": {"disk_mb": 16}}))
            .expect("valid");
        assert_eq!(t.template.as_deref(), Some("tools"));
        assert_eq!(t.limits.disk_mb, Some(16));
        let v = serde_json::to_value(&t).expect("serializes");
        assert_eq!(v["template"], "tools");
        assert_eq!(
            serde_json::from_value::<SandboxConfig>(v).expect("valid"),
            t
        );
        for (v, field) in [
            (json!({"env": {"1X": "v"}}), "sandbox.env.1X"),
            (json!({"nope": 1}), "sandbox.nope"),
            (
                json!({"limits": {"maxProcesses": 0}}),
                "sandbox.limits.maxProcesses",
            ),
            (json!({"mounts": "relative"}), "sandbox.mounts"),
            (json!(3), "sandbox"),
        ] {
            let e = SandboxConfig::from_value(&v).expect_err("invalid");
            assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
            assert_eq!(e.field(), Some(field), "{v}");
        }
    }

    #[test]
    fn exec_output_round_trips() {
        let out = ExecOutput {
            status: ExitStatus {
                code: None,
                signal: Some(9),
            },
            stdout: b"hi".to_vec(),
            stderr: Vec::new(),
        };
        let v = serde_json::to_value(&out).expect("serializes");
        assert_eq!(
            v,
            json!({"exitCode": null, "signal": 9, "stdout": "hi", "stderr": ""})
        );
        assert_eq!(
            serde_json::from_value::<ExecOutput>(v).expect("parses"),
            out
        );
    }
}
