//! The legacy HTTP+SSE transport (protocol 2024-11-05), for remote servers that predate
//! Streamable HTTP: many configs still say `"url": "http://…/sse"` (`"type": "sse"`).
//!
//! As the MCP specification's backwards-compatibility section tells clients to, corral tries
//! Streamable HTTP first and, when that fails, GETs the URL: a legacy server answers with an
//! event stream whose first event is `endpoint` (the URL to POST messages to, often relative,
//! with the session in its query). Each message to the server is then a POST there (answered
//! 202); everything from the server arrives as `message` events on the stream. The endpoint
//! must have the URL's origin, so the config's headers (its token) go nowhere else.

use std::{future::Future, pin::Pin, time::Duration};

use futures::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, header};
use rmcp::{
    RoleClient,
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};
use sse_stream::{Sse, SseStream};

type Events = Pin<Box<dyn Stream<Item = Result<Sse, sse_stream::Error>> + Send>>;

/// The longest line of the event stream (one message's `data:`), as for Streamable HTTP.
const MAX_LINE: usize = 64 * 1024 * 1024;

/// A session over the legacy transport: the open event stream and where to POST.
pub(crate) struct LegacySse {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    headers: HeaderMap,
    events: Events,
    /// Ends when the last message's POST has been answered: rmcp sends each message on a
    /// task of its own, and the POSTs must reach the server in order (`initialized` before the
    /// first request), as the SDKs' one writer sends them.
    previous: Option<tokio::sync::oneshot::Receiver<()>>,
}

fn io(message: impl Into<String>) -> std::io::Error {
    std::io::Error::other(message.into())
}

impl LegacySse {
    /// Opens the event stream at `url` and waits at most `wait` for its `endpoint` event.
    pub(crate) async fn connect(
        url: &str,
        headers: HeaderMap,
        wait: Duration,
    ) -> std::io::Result<Self> {
        let base = reqwest::Url::parse(url).map_err(|e| io(format!("invalid URL: {e}")))?;
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| io(format!("cannot make an HTTP client: {e}")))?;
        let response = http
            .get(base.clone())
            .headers(headers.clone())
            .header(
                header::ACCEPT,
                HeaderValue::from_static("text/event-stream"),
            )
            .send()
            .await
            .map_err(|e| io(format!("GET failed: {e}")))?;
        let status = response.status();
        let is_stream = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !status.is_success() || !is_stream {
            return Err(io(format!("GET answered {status}, not an event stream")));
        }
        // A line longer than any message may be (a server that never ends one) ends the stream
        // rather than growing the parser's buffer without bound.
        let bytes = response.bytes_stream().scan(0usize, |line, chunk| {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => return futures::future::ready(Some(Err(e))),
            };
            *line = match chunk.iter().rposition(|&b| b == b'\n') {
                Some(i) => chunk.len() - i - 1,
                None => *line + chunk.len(),
            };
            futures::future::ready((*line <= MAX_LINE).then_some(Ok(chunk)))
        });
        let mut events: Events = Box::pin(SseStream::from_bytes_stream(bytes));
        let endpoint = tokio::time::timeout(wait, async {
            while let Some(event) = events.next().await {
                let event = event.map_err(|e| io(format!("event stream: {e}")))?;
                if event.event.as_deref() == Some("endpoint") {
                    return Ok(event.data.unwrap_or_default());
                }
            }
            Err(io("the event stream ended before its `endpoint` event"))
        })
        .await
        .map_err(|_| io(format!("no `endpoint` event within {wait:?}")))??;
        let endpoint = base
            .join(endpoint.trim())
            .map_err(|e| io(format!("invalid endpoint {endpoint:?}: {e}")))?;
        if endpoint.origin() != base.origin() {
            return Err(io(format!(
                "the endpoint {endpoint} is not on the server's origin"
            )));
        }
        Ok(Self {
            http,
            endpoint,
            headers,
            events,
            previous: None,
        })
    }
}

impl Transport<RoleClient> for LegacySse {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let request = self
            .http
            .post(self.endpoint.clone())
            .headers(self.headers.clone())
            .json(&item);
        let previous = self.previous.take();
        let (done, next) = tokio::sync::oneshot::channel();
        self.previous = Some(next);
        async move {
            if let Some(previous) = previous {
                let _ = previous.await; // answered, failed or dropped: this one goes next
            }
            let response = request
                .send()
                .await
                .map_err(|e| io(format!("POST failed: {e}")))?;
            let _ = done.send(());
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(io(format!("POST answered {status}")))
            }
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            let event = self.events.next().await?.ok()?;
            if !matches!(event.event.as_deref(), None | Some("message")) {
                continue;
            }
            match serde_json::from_str(event.data.as_deref().unwrap_or_default()) {
                Ok(message) => return Some(message),
                Err(e) => tracing::debug!("skipping an event that is no JSON-RPC message: {e}"),
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        // Dropping the stream ends the session on the server's side.
        self.events = Box::pin(futures::stream::empty());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves `GET /sse` with one `endpoint` event of `data`; returns the URL.
    async fn legacy_server(data: &'static str) -> String {
        use axum::response::sse::{Event, Sse as Events};
        let app = axum::Router::new().route(
            "/sse",
            axum::routing::get(move || async move {
                let first = Event::default().event("endpoint").data(data);
                let stream =
                    futures::stream::once(async move { Ok::<_, std::convert::Infallible>(first) })
                        .chain(futures::stream::pending());
                Events::new(stream)
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/sse")
    }

    #[tokio::test]
    async fn the_endpoint_resolves_against_the_url_and_keeps_its_origin() {
        crate::mcp::ensure_crypto_provider();
        let wait = Duration::from_secs(5);
        let url = legacy_server("/messages?sessionId=7").await;
        let legacy = LegacySse::connect(&url, HeaderMap::new(), wait)
            .await
            .expect("connect");
        assert_eq!(
            legacy.endpoint.as_str(),
            url.replace("/sse", "/messages?sessionId=7")
        );
        // A server that names another origin gets no message (nor the config's headers).
        let url = legacy_server("http://127.0.0.2:9/messages").await;
        let err = LegacySse::connect(&url, HeaderMap::new(), wait)
            .await
            .err()
            .expect("refused");
        assert!(
            err.to_string().contains("not on the server's origin"),
            "{err}"
        );
        // A URL that is no event stream is no legacy server.
        let err = LegacySse::connect(&url.replace("/sse", "/nothing"), HeaderMap::new(), wait)
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("not an event stream"), "{err}");
    }
}
