//! envd, the agent inside every E2B sandbox: Connect-protocol RPCs with the JSON codec (unary
//! and server-streaming, enveloped, end-of-stream trailers), the `/files` endpoints and
//! `/health`. Wire facts: `../shared/reference/e2b-protocol.md` §2.

use std::time::Duration;

use base64::Engine as _;
use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::error::{Error, ErrorKind, Result};

/// envd's port.
pub const ENVD_PORT: u16 = 49983;
/// The keepalive interval we ask streaming calls for (`Keepalive-Ping-Interval`, seconds).
pub const KEEPALIVE_SECS: u64 = 50;

/// A failed RPC: the Connect code (`not_found`, `unavailable`, ...) or, for a plain HTTP error
/// from outside connect-go (401 from the token check, 502 from the edge), the code its status
/// maps to (protocol §2.3).
#[derive(Debug, Clone)]
pub struct RpcError {
    /// The Connect code.
    pub code: String,
    /// The message.
    pub message: String,
    /// The HTTP status, when the error came as a plain HTTP answer.
    pub http_status: Option<u16>,
    /// Whether the transport broke (the request may or may not have been delivered).
    pub transport: bool,
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl RpcError {
    fn transport(message: impl Into<String>) -> Self {
        Self {
            code: "unavailable".into(),
            message: message.into(),
            http_status: None,
            transport: true,
        }
    }

    /// As a corral error (`kind` for anything but auth failures).
    pub fn into_error(self, what: &str, kind: ErrorKind) -> Error {
        let kind = if self.code == "unauthenticated" {
            ErrorKind::Auth
        } else {
            kind
        };
        Error::new(kind, format!("envd {what}: {self}"))
    }
}

/// What `/health` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// 204: envd is up.
    Up,
    /// 502 (or the edge saying the sandbox is not found): the sandbox is gone.
    Gone,
    /// Anything else: a network problem, not a verdict.
    Unknown,
}

/// A client of one sandbox's envd.
#[derive(Debug, Clone)]
pub struct Envd {
    http: reqwest::Client,
    base: String,
    sandbox_id: String,
    token: Option<String>,
    user: Option<String>,
    request_timeout: Duration,
}

impl Envd {
    /// envd at `base` (e.g. `https://49983-<id>.e2b.app`, or a shared host routed by the
    /// `E2b-Sandbox-Id` header).
    pub fn new(
        http: reqwest::Client,
        base: &str,
        sandbox_id: &str,
        token: Option<String>,
        request_timeout: Duration,
    ) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            sandbox_id: sandbox_id.to_owned(),
            token,
            user: None,
            request_timeout,
        }
    }

    /// Runs processes and file operations as `user` (envd's `Authorization: Basic
    /// base64("<user>:")` header, and `username=` on `/files`, §2.2/§2.6); `None`: the
    /// sandbox's default user.
    pub fn with_user(mut self, user: Option<String>) -> Self {
        self.user = user.filter(|u| !u.is_empty());
        self
    }

    /// The sandbox id.
    pub fn sandbox_id(&self) -> &str {
        &self.sandbox_id
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        // §2.2: the routing headers always, the token when the sandbox is secured; the API key
        // never goes to envd.
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("E2b-Sandbox-Id", &self.sandbox_id)
            .header("E2b-Sandbox-Port", ENVD_PORT.to_string());
        if let Some(t) = &self.token {
            r = r.header("X-Access-Token", t);
        }
        if let Some(u) = &self.user {
            r = r.header(
                "Authorization",
                format!("Basic {}", b64(format!("{u}:").as_bytes())),
            );
        }
        r
    }

    /// A unary Connect call: bare JSON in, bare JSON out (§2.3 "Unary RPC").
    pub async fn unary(&self, method: &str, body: &Value) -> Result<Value, RpcError> {
        let resp = self
            .request(reqwest::Method::POST, &format!("/{method}"))
            .header("Content-Type", "application/json")
            .header("Connect-Protocol-Version", "1")
            .timeout(self.request_timeout)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| RpcError::transport(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| RpcError::transport(e.to_string()))?;
        if status == 200 {
            return serde_json::from_slice(&bytes)
                .map_err(|e| RpcError::transport(format!("bad JSON from envd: {e}")));
        }
        Err(error_body(status, &bytes))
    }

    /// Opens a server-streaming Connect call (§2.3 "Server-streaming RPC"): one enveloped
    /// request, never a `Connect-Timeout-Ms` (on `Start` it would kill the process).
    pub async fn stream(&self, method: &str, body: &Value) -> Result<EventStream, RpcError> {
        let payload = body.to_string().into_bytes();
        let mut framed = Vec::with_capacity(payload.len() + 5);
        framed.push(0u8);
        framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        framed.extend_from_slice(&payload);
        let resp = self
            .request(reqwest::Method::POST, &format!("/{method}"))
            .header("Content-Type", "application/connect+json")
            .header("Connect-Protocol-Version", "1")
            .header("Keepalive-Ping-Interval", KEEPALIVE_SECS.to_string())
            .body(framed)
            .send()
            .await
            .map_err(|e| RpcError::transport(e.to_string()))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(error_body(status, &bytes));
        }
        Ok(EventStream {
            body: Box::pin(resp.bytes_stream()),
            buf: Vec::new(),
            done: false,
        })
    }

    /// `process.Process/List`: the running processes (`{config, pid, tag?}` each, §2.4).
    pub async fn list_processes(&self) -> Result<Vec<Value>, RpcError> {
        let v = self.unary("process.Process/List", &json!({})).await?;
        Ok(v.get("processes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// `GET /health` with a 5-s bound (§2.6).
    pub async fn health(&self) -> Health {
        let resp = self
            .request(reqwest::Method::GET, "/health")
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match resp.map(|r| r.status().as_u16()) {
            Ok(204) | Ok(200) => Health::Up,
            Ok(502) | Ok(404) => Health::Gone,
            _ => Health::Unknown,
        }
    }

    /// `POST /files?path=` as multipart (works on every envd version): creates parent dirs,
    /// overwrites.
    pub async fn upload(&self, path: &str, data: &[u8]) -> Result<()> {
        let boundary = format!("corral-{:016x}", super::random_u64());
        let mut body = Vec::with_capacity(data.len() + 256);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n",
                path.replace(['"', '\r', '\n'], "_")
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let resp = self
            .request(reqwest::Method::POST, &self.files_path(path))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .timeout(self.request_timeout.max(Duration::from_secs(60)))
            .body(body)
            .send()
            .await
            .map_err(|e| Error::new(ErrorKind::Transport, format!("envd upload {path}: {e}")))?;
        let status = resp.status().as_u16();
        if status == 200 || status == 204 {
            return Ok(());
        }
        let bytes = resp.bytes().await.unwrap_or_default();
        Err(file_error("write", path, status, &bytes))
    }

    /// `GET /files?path=`.
    pub async fn download(&self, path: &str) -> Result<Vec<u8>> {
        let resp = self
            .request(reqwest::Method::GET, &self.files_path(path))
            .timeout(self.request_timeout.max(Duration::from_secs(60)))
            .send()
            .await
            .map_err(|e| Error::new(ErrorKind::Transport, format!("envd download {path}: {e}")))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Error::new(ErrorKind::Transport, format!("envd download {path}: {e}")))?;
        if status == 200 {
            Ok(bytes.to_vec())
        } else {
            Err(file_error("read", path, status, &bytes))
        }
    }
}

impl Envd {
    fn files_path(&self, path: &str) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("path", path);
        if let Some(u) = &self.user {
            q.append_pair("username", u);
        }
        format!("/files?{}", q.finish())
    }
}

fn file_error(op: &str, path: &str, status: u16, body: &[u8]) -> Error {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
    let kind = match status {
        401 | 403 => ErrorKind::Auth,
        502 => ErrorKind::SandboxFailed,
        _ => ErrorKind::Io,
    };
    Error::new(
        kind,
        format!("cannot {op} {path}: HTTP {status}: {message}"),
    )
}

/// The Connect code a plain HTTP status maps to (§2.3, the SDK's `PLAIN_HTTP_ERROR_CODES`).
fn code_of_status(status: u16) -> &'static str {
    match status {
        400 => "invalid_argument",
        401 => "unauthenticated",
        403 => "permission_denied",
        404 => "not_found",
        409 => "already_exists",
        413 | 429 => "resource_exhausted",
        499 => "canceled",
        501 => "unimplemented",
        502 | 503 => "unavailable",
        504 => "deadline_exceeded",
        _ => "internal",
    }
}

/// An error answer: Connect's `{"code":"not_found","message"}` or a plain `{"code":401,...}`.
fn error_body(status: u16, bytes: &[u8]) -> RpcError {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let message = v
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).chars().take(300).collect());
    let code = match v.get("code") {
        Some(Value::String(s)) => s.clone(),
        _ => code_of_status(status).to_owned(),
    };
    RpcError {
        code,
        message,
        http_status: Some(status),
        transport: false,
    }
}

/// The messages of a server stream, envelope by envelope.
pub struct EventStream {
    body: std::pin::Pin<
        Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static>,
    >,
    buf: Vec<u8>,
    done: bool,
}

impl EventStream {
    /// The next message; `Ok(None)` after a clean end-of-stream trailer; an error for a trailer
    /// carrying one, a broken transport or a body that ends without the trailer.
    pub async fn next(&mut self) -> Result<Option<Value>, RpcError> {
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some((flags, payload)) = take_envelope(&mut self.buf) {
                if flags & 0x01 != 0 {
                    return Err(RpcError::transport(
                        "compressed envelope (none was asked for)",
                    ));
                }
                let v: Value = serde_json::from_slice(&payload)
                    .map_err(|e| RpcError::transport(format!("bad envelope JSON: {e}")))?;
                if flags & 0x02 != 0 {
                    self.done = true;
                    if let Some(err) = v.get("error") {
                        return Err(RpcError {
                            code: err
                                .get("code")
                                .and_then(Value::as_str)
                                .unwrap_or("unknown")
                                .to_owned(),
                            message: err
                                .get("message")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                            http_status: None,
                            transport: false,
                        });
                    }
                    return Ok(None);
                }
                return Ok(Some(v));
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buf.extend_from_slice(&chunk),
                Some(Err(e)) => return Err(RpcError::transport(e.to_string())),
                None => {
                    return Err(RpcError::transport(
                        "the stream ended without an EndStreamResponse",
                    ));
                }
            }
        }
    }
}

/// Takes one whole envelope (flags, payload) off the front of `buf`, if one is there; a header
/// or payload split across chunks waits for more bytes.
fn take_envelope(buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    let header = buf.get(..5)?;
    let flags = header[0];
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if buf.len() < 5 + len {
        return None;
    }
    let payload = buf[5..5 + len].to_vec();
    buf.drain(..5 + len);
    Some((flags, payload))
}

/// One `ProcessEvent` (§2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessEvent {
    /// The process started (or a re-attached stream begins).
    Start {
        /// envd's pid.
        pid: u32,
    },
    /// stdout bytes.
    Stdout(Vec<u8>),
    /// stderr bytes.
    Stderr(Vec<u8>),
    /// The process ended.
    End {
        /// `exitCode` (absent = 0).
        exit_code: i32,
        /// `exited` (absent = false: killed by a signal).
        exited: bool,
        /// Go's status text, e.g. `signal: killed`.
        status: String,
    },
    /// Nothing happened for a while.
    Keepalive,
    /// Something newer than this client knows.
    Other,
}

/// Reads a `StartResponse`/`ConnectResponse` message.
pub fn parse_event(msg: &Value) -> ProcessEvent {
    let Some(ev) = msg.get("event") else {
        return ProcessEvent::Other;
    };
    let b64 = |v: &Value| {
        v.as_str()
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .unwrap_or_default()
    };
    if let Some(s) = ev.get("start") {
        ProcessEvent::Start {
            pid: s.get("pid").and_then(Value::as_u64).unwrap_or(0) as u32,
        }
    } else if let Some(d) = ev.get("data") {
        if let Some(o) = d.get("stdout") {
            ProcessEvent::Stdout(b64(o))
        } else if let Some(o) = d.get("stderr").or_else(|| d.get("pty")) {
            ProcessEvent::Stderr(b64(o))
        } else {
            ProcessEvent::Other
        }
    } else if let Some(e) = ev.get("end") {
        ProcessEvent::End {
            exit_code: e.get("exitCode").and_then(Value::as_i64).unwrap_or(0) as i32,
            exited: e.get("exited").and_then(Value::as_bool).unwrap_or(false),
            status: e
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }
    } else if ev.get("keepalive").is_some() {
        ProcessEvent::Keepalive
    } else {
        ProcessEvent::Other
    }
}

/// A `ProcessSelector` by pid.
pub fn by_pid(pid: u32) -> Value {
    json!({ "pid": pid })
}

/// base64 of bytes, as ProtoJSON writes `bytes`.
pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_split_anywhere() {
        let mut wire = Vec::new();
        for (flags, body) in [(0u8, "{\"a\":1}"), (2u8, "{}")] {
            wire.push(flags);
            wire.extend_from_slice(&(body.len() as u32).to_be_bytes());
            wire.extend_from_slice(body.as_bytes());
        }
        for cut in 0..wire.len() {
            let mut buf = wire[..cut].to_vec();
            let mut got = Vec::new();
            while let Some(e) = take_envelope(&mut buf) {
                got.push(e);
            }
            buf.extend_from_slice(&wire[cut..]);
            while let Some(e) = take_envelope(&mut buf) {
                got.push(e);
            }
            assert_eq!(got.len(), 2, "cut at {cut}");
            assert_eq!(got[1].0, 2);
        }
    }

    #[test]
    fn events_follow_protojson() {
        let end = parse_event(&json!({"event":{"end":{"exited":true,"status":"exit status 0"}}}));
        assert_eq!(
            end,
            ProcessEvent::End {
                exit_code: 0,
                exited: true,
                status: "exit status 0".into()
            }
        );
        let out = parse_event(&json!({"event":{"data":{"stdout":"aGkK"}}}));
        assert_eq!(out, ProcessEvent::Stdout(b"hi\n".to_vec()));
        assert_eq!(
            error_body(401, br#"{"code":401,"message":"unauthorized"}"#).code,
            "unauthenticated"
        );
        assert_eq!(
            error_body(404, br#"{"code":"not_found","message":"x"}"#).code,
            "not_found"
        );
    }
}
