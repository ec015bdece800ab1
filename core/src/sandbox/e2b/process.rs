//! A process in an E2B sandbox as a [`Process`]: envd's `Start` stream turned into byte
//! streams. stdout chunks (arbitrary ≤32-KiB slices, protocol §2.4 "Output delivery") are
//! re-assembled into one byte stream, stdin writes become `SendInput` calls one at a time in
//! order (§2.4 "Ordering"), a dropped stream is re-attached with `Connect` by pid after a
//! `/health` probe (§2.7 step 6), and a vanished sandbox (health 502) ends the process with a
//! `SANDBOX_FAILED` failure (§2.7 step 7).

use std::{
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncRead, AsyncReadExt, ReadBuf},
    sync::{mpsc, watch},
};

use super::envd::{self, Envd, EventStream, Health, KEEPALIVE_SECS, ProcessEvent, RpcError};
use crate::{
    error::{Error, ErrorKind, Result},
    sandbox::{BoxFuture, Command, ExitStatus, Process, ProcessControl},
    sync::lock,
};

/// How long a stream may stay silent before it counts as dead (2× the keepalive + slack).
fn idle_limit() -> Duration {
    let secs = std::env::var("CORRAL_E2B_STREAM_IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(KEEPALIVE_SECS * 2 + 10);
    Duration::from_secs(secs)
}

/// Re-attach attempts after a drop before giving up on the sandbox.
const REATTACH_ATTEMPTS: u32 = 6;

/// Every time this many more bytes of a server's stdout file were received, the received part
/// is freed from the file (see [`reclaim`]).
const RECLAIM_EVERY: u64 = 1 << 20;

/// State shared by a process's pump, writer and control.
pub(super) struct ProcShared {
    envd: Envd,
    pid: u32,
    status: watch::Sender<Option<ExitStatus>>,
    failure: Mutex<Option<String>>,
    killed: AtomicBool,
    runtime: tokio::runtime::Handle,
}

impl ProcShared {
    fn finish(&self, status: ExitStatus) {
        self.status.send_if_modified(|s| {
            if s.is_none() {
                *s = Some(status);
                true
            } else {
                false
            }
        });
    }

    fn fail(&self, message: String) {
        lock(&self.failure).get_or_insert(message);
        self.finish(ExitStatus {
            code: None,
            signal: None,
        });
    }

    /// Sends SIGKILL (best effort, in the background).
    pub(super) fn kill(self: &Arc<Self>) {
        if self.killed.swap(true, Ordering::SeqCst) || self.status.borrow().is_some() {
            return;
        }
        let me = self.clone();
        self.runtime
            .spawn(async move { signal_kill(&me.envd, me.pid).await });
    }

    /// Marks the process as lost with its sandbox.
    pub(super) fn sandbox_gone(&self, message: &str) {
        self.fail(message.to_owned());
    }

    pub(super) fn is_running(&self) -> bool {
        self.status.borrow().is_none()
    }
}

/// Starts `command` (stdin piped when `stdin`), returns the process and its shared state.
///
/// With `durable`, the server's stdout goes to a file in the sandbox and a `tail` process
/// streams it: envd discards output while no stream is attached (§2.4 "Output delivery"), so
/// after a dropped stream a new `tail` resumes at the first byte not yet received and no MCP
/// message is lost. What was received is freed from the file as the session goes on (every
/// [`RECLAIM_EVERY`] bytes), so the file takes at most about that much of the sandbox's disk.
/// Without `durable` (short commands) the process's own stream carries stdout.
pub(super) async fn start(
    envd: Envd,
    command: &Command,
    stdin: bool,
    tag: &str,
    durable: bool,
) -> Result<(Process, Arc<ProcShared>)> {
    let cmd = command
        .argv
        .first()
        .ok_or_else(|| Error::sandbox("empty command"))?;
    let out_file = format!("/tmp/.{tag}.out");
    let argv: Vec<&str> = if durable {
        [
            "/bin/sh",
            "-c",
            "f=$1; shift; exec \"$@\" >>\"$f\"",
            "sh",
            &out_file,
        ]
        .into_iter()
        .chain(command.argv.iter().map(String::as_str))
        .collect()
    } else {
        command.argv.iter().map(String::as_str).collect()
    };
    let mut process = json!({ "cmd": argv[0], "args": argv[1..], "envs": command.env });
    if let Some(cwd) = &command.cwd {
        process["cwd"] = Value::String(cwd.clone());
    }
    let body = json!({ "process": process, "stdin": stdin, "tag": tag });
    let (pid, stream) = open(&envd, &body, cmd).await?;
    let (status_tx, status_rx) = watch::channel(None);
    let shared = Arc::new(ProcShared {
        envd: envd.clone(),
        pid,
        status: status_tx,
        failure: Mutex::new(None),
        killed: AtomicBool::new(false),
        runtime: tokio::runtime::Handle::current(),
    });
    let (out_tx, out_rx) = mpsc::channel::<Vec<u8>>(64);
    let (err_tx, err_rx) = mpsc::channel::<Vec<u8>>(64);
    if durable {
        let reader = open(&envd, &tail_body(&out_file, 0, tag), "tail").await;
        let reader = match reader {
            Ok(r) => r,
            Err(e) => {
                shared.kill();
                return Err(e);
            }
        };
        tokio::spawn(pump(shared.clone(), stream, None, err_tx));
        tokio::spawn(pump_output(
            shared.clone(),
            out_file,
            tag.to_owned(),
            reader,
            out_tx,
        ));
    } else {
        tokio::spawn(pump(shared.clone(), stream, Some(out_tx), err_tx));
    }
    let stdin_half: Box<dyn tokio::io::AsyncWrite + Send + Unpin> = if stdin {
        let (writer, reader) = tokio::io::duplex(64 * 1024);
        tokio::spawn(write_stdin(shared.clone(), reader));
        Box::new(writer)
    } else {
        Box::new(tokio::io::sink())
    };
    let control = Arc::new(E2bControl {
        shared: shared.clone(),
        status: status_rx,
    });
    Ok((
        Process {
            stdin: stdin_half,
            stdout: Box::new(ChannelReader::new(out_rx)),
            stderr: Box::new(ChannelReader::new(err_rx)),
            control,
        },
        shared,
    ))
}

/// `Start`s a process and waits for its `start` event: its pid and event stream.
async fn open(envd: &Envd, body: &Value, cmd: &str) -> Result<(u32, EventStream)> {
    let mut stream = match envd.stream("process.Process/Start", body).await {
        Ok(s) => s,
        Err(e) => return Err(start_error(e, cmd)),
    };
    // The first event must be `start` (compat §2.3 "How strict the SDKs are").
    let first = tokio::time::timeout(Duration::from_secs(60), stream.next())
        .await
        .map_err(|_| Error::sandbox(format!("envd sent no start event for `{cmd}` within 60 s")))?;
    match first.map(|m| m.map(|v| envd::parse_event(&v))) {
        Ok(Some(ProcessEvent::Start { pid })) => Ok((pid, stream)),
        Ok(other) => Err(Error::sandbox(format!(
            "envd did not start `{cmd}`: expected a start event, got {other:?}"
        ))),
        Err(e) => Err(start_error(e, cmd)),
    }
}

fn start_error(e: RpcError, cmd: &str) -> Error {
    if e.transport || e.http_status == Some(502) {
        Error::sandbox(format!(
            "cannot reach the E2B sandbox to start `{cmd}`: {e}"
        ))
    } else {
        e.into_error(&format!("cannot start `{cmd}`"), ErrorKind::SandboxFailed)
    }
}

/// Reads the event stream until the process ends, re-attaching after drops.
async fn pump(
    shared: Arc<ProcShared>,
    mut stream: EventStream,
    out: Option<mpsc::Sender<Vec<u8>>>,
    err: mpsc::Sender<Vec<u8>>,
) {
    let idle = idle_limit();
    loop {
        let next = tokio::time::timeout(idle, stream.next()).await;
        let broken = match next {
            Ok(Ok(Some(msg))) => {
                match envd::parse_event(&msg) {
                    ProcessEvent::Stdout(b) => {
                        // A reader that went away (session closed) just stops consuming.
                        if let Some(out) = &out {
                            let _ = out.send(b).await;
                        }
                    }
                    ProcessEvent::Stderr(b) => {
                        let _ = err.send(b).await;
                    }
                    ProcessEvent::End {
                        exit_code,
                        exited,
                        status,
                    } => {
                        shared.finish(end_status(exit_code, exited, &status));
                        return;
                    }
                    ProcessEvent::Start { .. } | ProcessEvent::Keepalive | ProcessEvent::Other => {}
                }
                continue;
            }
            // A clean trailer without an `end` event, a trailer error, a broken body, or
            // silence past the keepalive bound: re-attach.
            Ok(Ok(None)) => "the stream ended without an end event".to_owned(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no event (not even a keepalive) for {idle:?}"),
        };
        if shared.killed.load(Ordering::SeqCst) {
            shared.finish(ExitStatus {
                code: None,
                signal: Some(9),
            });
            return;
        }
        tracing::debug!(pid = shared.pid, reason = %broken, "envd stream dropped; re-attaching");
        match reattach(&shared).await {
            Ok(Some(s)) => stream = s,
            Ok(None) => return,
            Err(message) => {
                shared.fail(message);
                return;
            }
        }
    }
}

/// `Connect` by pid after checking `/health`; `Ok(None)` when the process is known to be over.
async fn reattach(shared: &Arc<ProcShared>) -> Result<Option<EventStream>, String> {
    let sandbox = shared.envd.sandbox_id().to_owned();
    let mut last = String::new();
    for attempt in 0..REATTACH_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 << attempt.min(5))).await;
        }
        match shared.envd.health().await {
            Health::Gone => {
                return Err(format!(
                    "the E2B sandbox {sandbox} is gone (killed, timed out or paused)"
                ));
            }
            Health::Up | Health::Unknown => {}
        }
        let body = json!({ "process": envd::by_pid(shared.pid) });
        match shared.envd.stream("process.Process/Connect", &body).await {
            Ok(s) => return Ok(Some(s)),
            Err(e) if e.code == "not_found" => {
                // Exited more than 30 s ago (§2.4 "Exit retention"): the status is lost.
                shared.finish(ExitStatus {
                    code: None,
                    signal: None,
                });
                return Ok(None);
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!(
        "lost the output stream of process {} in E2B sandbox {sandbox} and could not re-attach: {last}",
        shared.pid
    ))
}

fn end_status(exit_code: i32, exited: bool, status: &str) -> ExitStatus {
    if exited {
        return ExitStatus {
            code: Some(exit_code),
            signal: None,
        };
    }
    let signal = match status.strip_prefix("signal: ") {
        Some("killed") => Some(9),
        Some("terminated") => Some(15),
        Some("interrupt") => Some(2),
        Some("hangup") => Some(1),
        Some(_) => Some(0),
        None => None,
    };
    ExitStatus {
        code: if signal.is_none() {
            Some(exit_code)
        } else {
            None
        },
        signal,
    }
}

/// The `tail` that streams `file` from byte `skip` on. The file is created first: GNU tail
/// polls once a second, instead of using inotify, when its only file is missing at start.
fn tail_body(file: &str, skip: u64, tag: &str) -> Value {
    let script = ": >>\"$1\" && exec tail -c \"+$2\" -s 0.05 -F \"$1\"";
    json!({
        "process": {
            "cmd": "/bin/sh",
            "args": ["-c", script, "sh", file, (skip + 1).to_string()],
        },
        "stdin": false,
        "tag": format!("{tag}-out"),
    })
}

/// Streams the server's stdout from its file, restarting the `tail` where the last one
/// stopped after a dropped stream. Once the server has ended, it reads up to the file's final
/// size, then stops the `tail` and ends (EOF).
async fn pump_output(
    shared: Arc<ProcShared>,
    file: String,
    tag: String,
    (mut pid, mut stream): (u32, EventStream),
    out: mpsc::Sender<Vec<u8>>,
) {
    let idle = idle_limit();
    let mut status = shared.status.subscribe();
    let mut received = 0u64;
    let mut reclaimed = 0u64;
    let mut reclaiming: Option<tokio::task::JoinHandle<()>> = None;
    let mut total: Option<u64> = None;
    loop {
        if shared.killed.load(Ordering::SeqCst) || total.is_some_and(|t| received >= t) {
            signal_kill(&shared.envd, pid).await;
            return;
        }
        let next = tokio::select! {
            next = tokio::time::timeout(idle, stream.next()) => next,
            _ = async { status.wait_for(Option::is_some).await.is_ok() }, if total.is_none() => {
                // The server ended: what is left to stream is the rest of its file.
                total = Some(file_size(&shared.envd, &file, &tag).await.unwrap_or(0));
                continue;
            }
        };
        let broken = match next {
            Ok(Ok(Some(msg))) => {
                match envd::parse_event(&msg) {
                    ProcessEvent::Stdout(b) => {
                        received += b.len() as u64;
                        let _ = out.send(b).await;
                        if received - reclaimed >= RECLAIM_EVERY
                            && reclaiming.as_ref().is_none_or(|h| h.is_finished())
                        {
                            reclaimed = received;
                            reclaiming = Some(tokio::spawn(reclaim(
                                shared.envd.clone(),
                                file.clone(),
                                tag.clone(),
                                received,
                            )));
                        }
                    }
                    ProcessEvent::End { .. } => return,
                    _ => {}
                }
                continue;
            }
            Ok(Ok(None)) => "the stream ended without an end event".to_owned(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no event (not even a keepalive) for {idle:?}"),
        };
        if shared.killed.load(Ordering::SeqCst) {
            return;
        }
        tracing::debug!(pid, reason = %broken, "envd output stream dropped; resuming at byte {received}");
        signal_kill(&shared.envd, pid).await;
        let mut last = String::new();
        let mut resumed = None;
        for attempt in 0..REATTACH_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt.min(5))).await;
            }
            if shared.envd.health().await == Health::Gone {
                break;
            }
            match open(&shared.envd, &tail_body(&file, received, &tag), "tail").await {
                Ok(r) => {
                    resumed = Some(r);
                    break;
                }
                Err(e) => last = e.to_string(),
            }
        }
        match resumed {
            Some(r) => (pid, stream) = r,
            None => {
                shared.fail(format!(
                    "lost the output stream of process {} in E2B sandbox {} and could not \
                     resume it: {last}",
                    shared.pid,
                    shared.envd.sandbox_id()
                ));
                return;
            }
        }
    }
}

/// Frees the first `upto` bytes of the server's stdout file, all received already: `fallocate
/// --punch-hole` (Linux ≥ 3.5 on ext4, xfs, btrfs, tmpfs) drops their blocks and keeps the
/// size, so the server's appends (`>>`) and a resumed `tail -c +N` see the same offsets. Best
/// effort: without `fallocate`, or on a file system that cannot punch holes, the file keeps
/// growing as before.
async fn reclaim(envd: Envd, file: String, tag: String, upto: u64) {
    let body = json!({
        "process": {
            "cmd": "fallocate",
            "args": ["--punch-hole", "--offset", "0", "--length", upto.to_string(), file],
        },
        "stdin": false,
        "tag": format!("{tag}-reclaim"),
    });
    let Ok((_, mut stream)) = open(&envd, &body, "fallocate").await else {
        return;
    };
    loop {
        match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
            Ok(Ok(Some(msg))) => {
                if let ProcessEvent::End { exit_code, .. } = envd::parse_event(&msg) {
                    if exit_code != 0 {
                        tracing::debug!(
                            exit_code,
                            "fallocate --punch-hole failed; the output file keeps its blocks"
                        );
                    }
                    return;
                }
            }
            _ => return,
        }
    }
}

/// SIGKILL to `pid`, best effort.
async fn signal_kill(envd: &Envd, pid: u32) {
    let body = json!({"process": envd::by_pid(pid), "signal": "SIGNAL_SIGKILL"});
    let _ = envd.unary("process.Process/SendSignal", &body).await;
}

/// The size of `file` in the sandbox (`stat`), `None` if it cannot be told.
async fn file_size(envd: &Envd, file: &str, tag: &str) -> Option<u64> {
    let body = json!({
        "process": { "cmd": "stat", "args": ["-c", "%s", file] },
        "stdin": false,
        "tag": format!("{tag}-size"),
    });
    let (_, mut stream) = open(envd, &body, "stat").await.ok()?;
    let mut text = Vec::new();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .ok()?
            .ok()??;
        match envd::parse_event(&msg) {
            ProcessEvent::Stdout(b) => text.extend_from_slice(&b),
            ProcessEvent::End { .. } => break,
            _ => {}
        }
    }
    String::from_utf8_lossy(&text).trim().parse().ok()
}

/// Forwards stdin bytes as `SendInput` calls, one at a time, in order; EOF is `CloseStdin`.
async fn write_stdin(shared: Arc<ProcShared>, mut reader: tokio::io::DuplexStream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => {
                if shared.is_running() {
                    let _ = shared
                        .envd
                        .unary(
                            "process.Process/CloseStdin",
                            &json!({"process": envd::by_pid(shared.pid)}),
                        )
                        .await;
                }
                return;
            }
            Ok(n) => n,
        };
        let body = json!({
            "process": envd::by_pid(shared.pid),
            "input": { "stdin": envd::b64(&buf[..n]) },
        });
        if let Err(e) = shared.envd.unary("process.Process/SendInput", &body).await {
            tracing::debug!(pid = shared.pid, error = %e, "SendInput failed; stdin is closed");
            if e.transport && shared.envd.health().await == Health::Gone {
                shared.sandbox_gone(&format!(
                    "the E2B sandbox {} is gone (killed, timed out or paused)",
                    shared.envd.sandbox_id()
                ));
            }
            return;
        }
    }
}

struct E2bControl {
    shared: Arc<ProcShared>,
    status: watch::Receiver<Option<ExitStatus>>,
}

impl ProcessControl for E2bControl {
    fn id(&self) -> Option<u32> {
        Some(self.shared.pid)
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
        self.shared.kill();
    }

    fn failure(&self) -> Option<Error> {
        let message = lock(&self.shared.failure).clone()?;
        Some(Error::new(ErrorKind::SandboxFailed, message))
    }
}

impl Drop for E2bControl {
    fn drop(&mut self) {
        self.shared.kill();
    }
}

/// An [`AsyncRead`] over chunks arriving on a channel.
struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<Vec<u8>>) -> Self {
        Self {
            rx,
            chunk: Vec::new(),
            pos: 0,
        }
    }
}

impl AsyncRead for ChannelReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            if self.pos < self.chunk.len() {
                let n = buf.remaining().min(self.chunk.len() - self.pos);
                let start = self.pos;
                buf.put_slice(&self.chunk[start..start + n]);
                self.pos += n;
                return Poll::Ready(Ok(()));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_events_map_to_statuses() {
        assert_eq!(end_status(0, true, "exit status 0").code, Some(0));
        assert_eq!(end_status(3, true, "exit status 3").code, Some(3));
        let killed = end_status(-1, false, "signal: killed");
        assert_eq!((killed.code, killed.signal), (None, Some(9)));
    }

    #[tokio::test]
    async fn chunks_read_as_one_stream() {
        let (tx, rx) = mpsc::channel(4);
        let mut r = ChannelReader::new(rx);
        tokio::spawn(async move {
            for part in [&b"{\"a\""[..], b":1}\n{", b"\"b\":2}\n"] {
                let _ = tx.send(part.to_vec()).await;
            }
        });
        let mut all = String::new();
        r.read_to_string(&mut all).await.expect("reads");
        assert_eq!(all, "{\"a\":1}\n{\"b\":2}\n");
    }
}
