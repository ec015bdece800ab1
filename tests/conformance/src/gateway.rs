//! The checker's gateway ops: after a runner's `start_gateway` answered `{url, token}`, the
//! checker opens one MCP session on the gateway (rmcp's client over real HTTP on 127.0.0.1) and
//! drives it as a client would, or with raw HTTP. See the README's "Gateway ops".

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    model::{
        CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, ProtocolVersion,
        ReadResourceRequestParams,
    },
    service::{NotificationContext, RunningService},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The checker-side ops (`start_gateway` and `gateway_close` are the runner's).
pub(crate) const OPS: &str = "gateway_list_tools gateway_call_tool gateway_read_resource \
    gateway_wait_list_changed gateway_http host_write kill_tagged";

fn error(kind: &str, message: impl std::fmt::Display) -> Value {
    json!({"kind": kind, "message": message.to_string()})
}

/// A started gateway (its URL and token) and the checker's MCP session on it.
pub(crate) struct Live {
    url: String,
    token: String,
    addr: String,
    client: Option<RunningService<RoleClient, Recorder>>,
    recorder: Recorder,
    seen: usize,
}

#[derive(Clone, Default)]
struct Recorder {
    list_changed: Arc<AtomicUsize>,
    notify: Arc<tokio::sync::Notify>,
}

impl ClientHandler for Recorder {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("corral-conformance", "0"),
        )
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.list_changed.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
}

fn transport(
    url: &str,
    token: &str,
    budget: Option<u64>,
) -> StreamableHttpClientTransport<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut cfg = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if !token.is_empty() {
        cfg = cfg.auth_header(token.to_owned());
    }
    if let Some(b) = budget {
        let mut h = std::collections::HashMap::new();
        if let Ok(v) = http::HeaderValue::from_str(&b.to_string()) {
            h.insert(http::HeaderName::from_static("corral-tool-budget"), v);
        }
        cfg = cfg.custom_headers(h);
    }
    StreamableHttpClientTransport::from_config(cfg)
}

impl Live {
    /// Connects (unless `connect` is false) to the gateway a runner's `start_gateway` reported.
    pub(crate) async fn open(observation: &Value, connect: bool) -> Result<Self, String> {
        let url = observation["url"].as_str().unwrap_or_default().to_owned();
        let token = observation["token"].as_str().unwrap_or_default().to_owned();
        let addr = url
            .strip_prefix("http://")
            .and_then(|r| r.split('/').next())
            .ok_or(format!("start_gateway answered no http URL: {observation}"))?
            .to_owned();
        let recorder = Recorder::default();
        let client = if connect {
            Some(
                recorder
                    .clone()
                    .serve(transport(&url, &token, None))
                    .await
                    .map_err(|e| format!("cannot connect to the gateway: {e}"))?,
            )
        } else {
            None
        };
        Ok(Self {
            url,
            token,
            addr,
            client,
            recorder,
            seen: 0,
        })
    }

    pub(crate) async fn close(self) {
        if let Some(c) = self.client {
            let _ = c.cancel().await;
        }
    }

    fn client(&self) -> Result<&RunningService<RoleClient, Recorder>, Value> {
        self.client
            .as_ref()
            .ok_or_else(|| error("INVALID_ARGUMENT", "start_gateway had connect: false"))
    }
}

fn transport_err(e: impl std::fmt::Display) -> Value {
    error("TRANSPORT", e)
}

/// Runs one checker-side gateway op; the observation is checked as the op named second.
pub(crate) async fn step(
    live: &mut Option<Live>,
    op: &str,
    step: &Value,
) -> (&'static str, Result<Value, Value>) {
    match op {
        "host_write" => {
            let path = step["path"].as_str().unwrap_or_default();
            let data = step["data"].as_str().unwrap_or_default();
            let r = std::fs::write(path, data)
                .map(|()| Value::Null)
                .map_err(|e| error("IO", format!("{path}: {e}")));
            return ("host_write", r);
        }
        "kill_tagged" => {
            let needle = step["env"].as_str().unwrap_or_default();
            let pids = crate::env::processes_with_env(needle);
            if pids.is_empty() {
                return (
                    "kill_tagged",
                    Err(error(
                        "INVALID_ARGUMENT",
                        format!("no process carries {needle}"),
                    )),
                );
            }
            for pid in pids {
                // SAFETY: kill(2) on a pid read from /proc; no memory is involved.
                unsafe {
                    libc::kill(pid as libc::pid_t, libc::SIGKILL);
                }
            }
            return ("kill_tagged", Ok(Value::Null));
        }
        _ => {}
    }
    let Some(l) = live.as_mut() else {
        return (
            op_static(op),
            Err(error(
                "INVALID_ARGUMENT",
                "no gateway started (start_gateway first)",
            )),
        );
    };
    match op {
        "gateway_list_tools" => ("discover_tools", list_tools(l, step).await),
        "gateway_call_tool" => ("execute_tool", call_tool(l, step).await),
        "gateway_read_resource" => {
            let r = read_resource(l, step).await;
            if step["as_json"].as_bool() == Some(true) {
                let v = r.and_then(|contents| {
                    let text = contents[0]["text"].as_str().unwrap_or_default().to_owned();
                    serde_json::from_str::<Value>(&text).map_err(|e| error("PROTOCOL", e))
                });
                ("gateway_read_resource", v)
            } else {
                ("read_resource", r)
            }
        }
        "gateway_wait_list_changed" => (
            "gateway_wait_list_changed",
            wait_list_changed(l, step).await,
        ),
        "gateway_http" => ("gateway_http", http(l, step).await),
        _ => (
            "?",
            Err(error("INVALID_ARGUMENT", format!("unknown op {op}"))),
        ),
    }
}

/// `message`, with the gateway's `corral://gateway/servers` (each server's state and last
/// error) when a session is open.
pub(crate) async fn with_health(live: &Option<Live>, message: String) -> String {
    let Some(client) = live.as_ref().and_then(|l| l.client.as_ref()) else {
        return message;
    };
    let read = client.read_resource(ReadResourceRequestParams::new("corral://gateway/servers"));
    match tokio::time::timeout(Duration::from_secs(5), read).await {
        Ok(Ok(r)) => {
            let v = serde_json::to_value(&r).unwrap_or(Value::Null);
            let text = v["contents"][0]["text"].as_str().unwrap_or_default();
            format!("{message}\n  gateway servers: {text}")
        }
        Ok(Err(e)) => format!("{message}\n  gateway servers: unreadable ({e})"),
        Err(_) => format!("{message}\n  gateway servers: no answer within 5 s"),
    }
}

fn op_static(op: &str) -> &'static str {
    match op {
        "gateway_call_tool" => "execute_tool",
        "gateway_list_tools" => "discover_tools",
        "gateway_read_resource" => "read_resource",
        _ => "gateway",
    }
}

async fn list_tools(l: &Live, step: &Value) -> Result<Value, Value> {
    let tools = if let Some(b) = step["budget"].as_u64() {
        let c = ().serve(transport(&l.url, &l.token, Some(b))).await.map_err(transport_err)?;
        let r = c.list_all_tools().await;
        let _ = c.cancel().await;
        r.map_err(transport_err)?
    } else {
        l.client()?.list_all_tools().await.map_err(transport_err)?
    };
    Ok(serde_json::to_value(tools).unwrap_or(Value::Null))
}

async fn call_tool(l: &Live, step: &Value) -> Result<Value, Value> {
    let mut p = CallToolRequestParams::new(step["tool"].as_str().unwrap_or_default().to_owned());
    if let Value::Object(m) = &step["args"] {
        p = p.with_arguments(m.clone());
    }
    let r = l.client()?.call_tool(p).await.map_err(transport_err)?;
    let mut v = serde_json::to_value(&r).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("isError".into(), json!(r.is_error.unwrap_or(false)));
    }
    Ok(json!({"result": v, "progress": []}))
}

async fn read_resource(l: &Live, step: &Value) -> Result<Value, Value> {
    let uri = step["uri"].as_str().unwrap_or_default();
    let r = l
        .client()?
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .map_err(transport_err)?;
    let v = serde_json::to_value(&r).unwrap_or(Value::Null);
    Ok(v["contents"].clone())
}

async fn wait_list_changed(l: &mut Live, step: &Value) -> Result<Value, Value> {
    let ms = step["timeout_ms"].as_u64().unwrap_or(20_000);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    loop {
        let notified = l.recorder.notify.notified();
        let n = l.recorder.list_changed.load(Ordering::SeqCst);
        if n > l.seen {
            l.seen += 1;
            return Ok(Value::Null);
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Err(error(
                "TIMEOUT",
                format!("no tools/list_changed within {ms} ms"),
            ));
        }
    }
}

/// A raw HTTP/1.1 request to the gateway: `method`, `path`, `headers`, `body` (a string or
/// JSON), `body_bytes` (a JSON body padded to that size), `auth` (`true`: the right bearer
/// token, `false`: none, a string: that token). Observation: `{status, www_authenticate}`, and
/// `body` (parsed when JSON) with `read_body: true`.
async fn http(l: &Live, step: &Value) -> Result<Value, Value> {
    let method = step["method"].as_str().unwrap_or("POST");
    let path = step["path"].as_str().unwrap_or("/mcp");
    let mut body = match &step["body"] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    if let Some(n) = step["body_bytes"].as_u64() {
        let pad = (n as usize).saturating_sub(64);
        body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
            "x".repeat(pad)
        );
    }
    let mut headers = String::new();
    let mut has_host = false;
    if let Some(h) = step["headers"].as_object() {
        for (k, v) in h {
            has_host |= k.eq_ignore_ascii_case("host");
            headers.push_str(&format!("{k}: {}\r\n", v.as_str().unwrap_or_default()));
        }
    }
    if !has_host {
        headers.push_str("Host: 127.0.0.1\r\n");
    }
    match &step["auth"] {
        Value::Bool(false) => {}
        Value::String(t) => headers.push_str(&format!("Authorization: Bearer {t}\r\n")),
        _ => headers.push_str(&format!("Authorization: Bearer {}\r\n", l.token)),
    }
    if !body.is_empty() {
        headers.push_str(
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n",
        );
    }
    let request = format!(
        "{method} {path} HTTP/1.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(&l.addr)
        .await
        .map_err(|e| transport_err(format!("connect: {e}")))?;
    let _ = s.write_all(request.as_bytes()).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let status: u64 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let www = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("www-authenticate")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    let mut obs = json!({"status": status, "www_authenticate": www});
    // `read_body: true` adds the response body (parsed when it is JSON).
    if step["read_body"].as_bool() == Some(true) {
        let raw = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        obs["body"] = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
    }
    Ok(obs)
}
