//! The `http` op: one raw HTTP/1.1 request to 127.0.0.1, made by the checker itself (no
//! binding involved), so scenarios can talk to what corral serves (the gateway) byte for byte.

use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

fn error(kind: &str, message: impl std::fmt::Display) -> Value {
    json!({"kind": kind, "message": message.to_string()})
}

/// `{method?, url, headers?, body?, timeout_ms?}` → `{status, headers, body, json}`: header
/// names lower-cased, `json` the body parsed (for an event stream: its last `data:` that is
/// JSON), else null. Failures: `INVALID_ARGUMENT` (not a 127.0.0.1 URL), `TRANSPORT`,
/// `TIMEOUT` (default 30 s), `PROTOCOL` (not an HTTP response).
pub(crate) async fn request(step: &Value) -> Result<Value, Value> {
    let url = step["url"].as_str().unwrap_or_default();
    let rest = url.strip_prefix("http://127.0.0.1:").ok_or_else(|| {
        error(
            "INVALID_ARGUMENT",
            format!("not an http://127.0.0.1:<port> URL: {url}"),
        )
    })?;
    let (port, path) = rest
        .split_once('/')
        .map_or((rest, String::from("/")), |(p, path)| {
            (p, format!("/{path}"))
        });
    let method = step["method"].as_str().unwrap_or("GET");
    let headers = step["headers"].as_object().cloned().unwrap_or_default();
    let body = match &step["body"] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    let json_body = step["body"].is_object() || step["body"].is_array();
    if json_body
        && !headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in &headers {
        head.push_str(&format!(
            "{k}: {}\r\n",
            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
        ));
    }
    head.push_str("\r\n");
    let exchange = async {
        let mut s = TcpStream::connect(format!("127.0.0.1:{port}")).await?;
        s.write_all(head.as_bytes()).await?;
        s.write_all(body.as_bytes()).await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let limit = Duration::from_millis(step["timeout_ms"].as_u64().unwrap_or(30_000));
    let raw = tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| {
            error(
                "TIMEOUT",
                format!("no complete response from {url} in {limit:?}"),
            )
        })?
        .map_err(|e| error("TRANSPORT", e))?;
    parse(&raw).ok_or_else(|| {
        error(
            "PROTOCOL",
            format!("not an HTTP response: {}", String::from_utf8_lossy(&raw)),
        )
    })
}

fn parse(raw: &[u8]) -> Option<Value> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Map<String, Value> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), json!(v.trim())))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.get("transfer-encoding").and_then(Value::as_str) == Some("chunked") {
        body = dechunk(&body)?;
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    let stream = headers
        .get("content-type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let parsed = if stream {
        body.lines()
            .rev()
            .find_map(|l| serde_json::from_str::<Value>(l.strip_prefix("data:")?.trim()).ok())
    } else {
        serde_json::from_str(&body).ok()
    };
    Some(json!({"status": status, "headers": headers, "body": body, "json": parsed}))
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&b[..eol])
            .ok()?
            .split(';')
            .next()?
            .trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}
