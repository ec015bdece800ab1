//! The stdio transport: newline-delimited JSON-RPC over a server's stdin and stdout, written
//! by corral's writer, which writes every message that has gathered in one go, and read by
//! corral's reader, which decodes an answer as the result type its request expects.
//!
//! rmcp's own writer encodes each message on the task that sends it, which locks the stream
//! and flushes it: one `writev` (and one wake-up of the server) per message. Here `send`
//! serializes the message at once (as rmcp's codec does: the JSON text and a newline) onto an
//! outbox, and its send task writes the whole outbox unless another is writing it: with many
//! calls in flight, the messages queued before their tasks run go out in one write. A write
//! error breaks the stream: the send that hit it and every later one return it.
//!
//! rmcp decodes every incoming message as the union of everything a server may send: the
//! message is buffered, then each of some twenty `#[serde(untagged)]` result types is tried in
//! turn, and each miss builds a formatted error. For a `tools/call` answer that was about 53k
//! instructions, a third of a whole call made from Node (callgrind). Here the reader remembers
//! which requests are `tools/call` and `tools/list` and decodes their answers straight as
//! `CallToolResult` / `ListToolsResult`, which is what rmcp's decoding would give them. Every
//! other message, and an answer that is not of its expected type (an MRTR `input_required`,
//! say), is decoded as rmcp does.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
};

use rmcp::{
    RoleClient,
    model::{
        ClientNotification, ClientRequest, ErrorData, JsonRpcMessage, JsonRpcResponse,
        JsonRpcVersion2_0, RequestId, ServerResult,
    },
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::sync::lock;

/// Longest incoming line; longer ones are dropped, the session goes on (rmcp's limit).
const MAX_LINE: usize = 16 * 1024 * 1024;
/// The most answers remembered as awaited; past it the memory starts over (an answer it forgot
/// is decoded the general way, so nothing but speed depends on it).
const MAX_AWAITED: usize = 4096;

/// What an awaited answer decodes as.
#[derive(Clone, Copy)]
enum Expect {
    CallTool,
    ListTools,
}

/// An answer, its result not yet decoded. Nothing else may be in it: a message with more
/// members (`error` or `method` beside `result`) is left to rmcp's decoding.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer<'a> {
    jsonrpc: JsonRpcVersion2_0,
    id: RequestId,
    #[serde(borrow)]
    result: &'a RawValue,
}

/// The messages serialized and not yet written.
#[derive(Default)]
struct Outbox {
    bytes: Vec<u8>,
    /// `close` began: nothing more is queued.
    closed: bool,
    /// The write error that broke the stream.
    failed: Option<(std::io::ErrorKind, String)>,
}

type Stream = Box<dyn AsyncWrite + Send + Unpin>;

/// The sending half: the outbox, and the stream that whoever holds it writes the outbox to.
struct Writer {
    outbox: Arc<Mutex<Outbox>>,
    stream: Arc<tokio::sync::Mutex<Stream>>,
}

impl Writer {
    fn new<W: AsyncWrite + Send + Unpin + 'static>(stream: W) -> Self {
        Self {
            outbox: Arc::default(),
            stream: Arc::new(tokio::sync::Mutex::new(Box::new(stream))),
        }
    }

    /// Puts one message on the outbox (its JSON text and a newline, as rmcp's codec writes it).
    fn queue(&self, message: &impl Serialize) -> std::io::Result<()> {
        let mut outbox = lock(&self.outbox);
        if let Some((kind, text)) = &outbox.failed {
            return Err(std::io::Error::new(*kind, text.clone()));
        }
        if outbox.closed {
            return Err(std::io::ErrorKind::NotConnected.into());
        }
        let start = outbox.bytes.len();
        if let Err(e) = serde_json::to_writer(&mut outbox.bytes, message) {
            outbox.bytes.truncate(start);
            return Err(e.into());
        }
        outbox.bytes.push(b'\n');
        Ok(())
    }

    /// Writes the outbox unless a write is under way, which then writes it: the future of a
    /// `send`. With many messages queued before their sends run, the first writes them all.
    fn flush(&self) -> impl Future<Output = std::io::Result<()>> + Send + 'static {
        let (outbox, stream) = (Arc::clone(&self.outbox), Arc::clone(&self.stream));
        async move {
            loop {
                let Ok(mut held) = stream.try_lock() else {
                    return Ok(());
                };
                write_all_queued(&outbox, &mut held).await?;
                drop(held);
                // A message queued after the last take, whose send found the stream held.
                if lock(&outbox).bytes.is_empty() {
                    return Ok(());
                }
            }
        }
    }
}

/// Writes what the outbox holds until it is empty; a failure is kept for later sends. The
/// buffer written last goes back to the outbox, so the next messages are serialized into
/// memory that is already there.
async fn write_all_queued(outbox: &Mutex<Outbox>, stream: &mut Stream) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    loop {
        {
            let mut queued = lock(outbox);
            if queued.bytes.is_empty() {
                if queued.bytes.capacity() < bytes.capacity() {
                    bytes.clear();
                    queued.bytes = bytes;
                }
                return Ok(());
            }
            bytes.clear();
            std::mem::swap(&mut queued.bytes, &mut bytes);
        }
        let written = async {
            stream.write_all(&bytes).await?;
            stream.flush().await
        };
        if let Err(e) = written.await {
            lock(outbox).failed = Some((e.kind(), e.to_string()));
            return Err(e);
        }
    }
}

pub(super) struct Stdio<R> {
    write: Writer,
    read: BufReader<R>,
    /// The line being read; it survives a cancelled `receive` (rmcp polls it in a `select!`).
    line: Vec<u8>,
    /// Dropping the rest of a line longer than [`MAX_LINE`].
    discarding: bool,
    awaited: HashMap<RequestId, Expect>,
}

impl<R: AsyncRead + Send + Unpin> Stdio<R> {
    /// The transport over a server's stdout (`read`) and stdin (`write`).
    pub(super) fn new<W: AsyncWrite + Send + Unpin + 'static>(read: R, write: W) -> Self {
        Self {
            write: Writer::new(write),
            read: BufReader::new(read),
            line: Vec::new(),
            discarding: false,
            awaited: HashMap::new(),
        }
    }

    /// Reads up to the next newline into `self.line`; `false` at the end of the stream.
    async fn read_line(&mut self) -> std::io::Result<bool> {
        loop {
            let room = (MAX_LINE + 1).saturating_sub(self.line.len()) as u64;
            let n = (&mut self.read)
                .take(room)
                .read_until(b'\n', &mut self.line)
                .await?;
            if self.line.last() == Some(&b'\n') {
                if !std::mem::take(&mut self.discarding) {
                    return Ok(true);
                }
                self.line.clear();
            } else if n == 0 {
                return Ok(false);
            } else if self.line.len() > MAX_LINE {
                self.line.clear();
                if !std::mem::replace(&mut self.discarding, true) {
                    tracing::error!(
                        max_line_length = MAX_LINE,
                        "Incoming message exceeded the maximum line length, discarding it"
                    );
                }
            }
        }
    }

    /// The message of one line: `Ok(None)` for a line to skip, `Err` for well-formed JSON that
    /// is no message (answered with Invalid Request, as rmcp does).
    fn decode(&mut self, line: &[u8]) -> Result<Option<RxJsonRpcMessage<RoleClient>>, ()> {
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Ok(None);
        }
        if !self.awaited.is_empty()
            && let Ok(answer) = serde_json::from_slice::<Answer<'_>>(line)
            && let Some(expect) = self.awaited.remove(&answer.id)
        {
            let text = answer.result.get();
            let result = match expect {
                Expect::CallTool => serde_json::from_str(text).map(ServerResult::CallToolResult),
                Expect::ListTools => serde_json::from_str(text).map(ServerResult::ListToolsResult),
            };
            if let Ok(result) = result {
                return Ok(Some(JsonRpcMessage::Response(JsonRpcResponse {
                    jsonrpc: answer.jsonrpc,
                    id: answer.id,
                    result,
                })));
            }
        }
        match serde_json::from_slice(line) {
            Ok(message) => Ok(Some(message)),
            Err(e) if e.is_data() && !is_notification(line) => {
                tracing::debug!("Protocol error on incoming message: {e}");
                Err(())
            }
            // Not JSON, or a notification rmcp does not know (other protocols' messages,
            // non-standard MCP ones): skipped, never answered.
            Err(e) => {
                tracing::debug!("Ignoring incoming message: {e}");
                Ok(None)
            }
        }
    }
}

/// Whether a line is a JSON-RPC notification (a `method` and no `id`).
fn is_notification(line: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Shape<'a> {
        #[serde(borrow)]
        method: Option<&'a RawValue>,
        #[serde(borrow)]
        id: Option<&'a RawValue>,
    }
    serde_json::from_slice::<Shape<'_>>(line).is_ok_and(|s| s.method.is_some() && s.id.is_none())
}

impl<R: AsyncRead + Send + Unpin> Transport<RoleClient> for Stdio<R> {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        match &item {
            JsonRpcMessage::Request(r) => {
                let expect = match r.request {
                    ClientRequest::CallToolRequest(_) => Some(Expect::CallTool),
                    ClientRequest::ListToolsRequest(_) => Some(Expect::ListTools),
                    _ => None,
                };
                if let Some(expect) = expect {
                    if self.awaited.len() >= MAX_AWAITED {
                        self.awaited.clear();
                    }
                    self.awaited.insert(r.id.clone(), expect);
                }
            }
            JsonRpcMessage::Notification(n) => {
                if let ClientNotification::CancelledNotification(c) = &n.notification
                    && let Some(id) = &c.params.request_id
                {
                    self.awaited.remove(id);
                }
            }
            _ => {}
        }
        let queued = self.write.queue(&item);
        let flush = self.write.flush();
        async move {
            queued?;
            flush.await
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            match self.read_line().await {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    tracing::error!("Error reading from stream: {e}");
                    return None;
                }
            }
            let line = std::mem::take(&mut self.line);
            let decoded = self.decode(&line);
            self.line = line;
            self.line.clear();
            match decoded {
                Ok(Some(message)) => return Some(message),
                Ok(None) => {}
                Err(()) => {
                    let invalid = ErrorData::invalid_request("Invalid request", None);
                    let reply = TxJsonRpcMessage::<RoleClient>::error(invalid, None);
                    // Written on its own task: `receive` may be cancelled at any await.
                    match self.write.queue(&reply) {
                        Ok(()) => drop(tokio::spawn(self.write.flush())),
                        Err(e) => tracing::debug!("Error answering an invalid message: {e}"),
                    }
                }
            }
        }
    }

    /// Writes what is queued, then shuts the server's stdin.
    async fn close(&mut self) -> Result<(), Self::Error> {
        lock(&self.write.outbox).closed = true;
        let mut stream = self.write.stream.lock().await;
        write_all_queued(&self.write.outbox, &mut stream).await?;
        stream.shutdown().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rmcp::model::{CallToolRequestParams, JsonRpcRequest, Request};
    use tokio::io::{AsyncWriteExt, duplex};

    use super::*;

    type Message = RxJsonRpcMessage<RoleClient>;

    fn call(id: i64) -> TxJsonRpcMessage<RoleClient> {
        let request =
            ClientRequest::CallToolRequest(Request::new(CallToolRequestParams::new("echo")));
        JsonRpcMessage::Request(JsonRpcRequest::new(RequestId::Number(id), request))
    }

    /// What rmcp's own decoding makes of a line.
    fn rmcp(line: &str) -> Message {
        serde_json::from_str(line).expect("rmcp decodes it")
    }

    /// The messages' variants and values (rmcp's results have no `PartialEq`).
    fn shown(messages: &[Message]) -> Vec<String> {
        messages.iter().map(|m| format!("{m:?}")).collect()
    }

    /// Sends `sent`, feeds `lines` as the server's stdout; returns what `receive` gives and
    /// what the server read from its stdin after the sent messages.
    async fn exchange(
        sent: Vec<TxJsonRpcMessage<RoleClient>>,
        lines: &[&str],
    ) -> (Vec<Message>, String) {
        let (mut server_out, client_in) = duplex(1 << 20);
        let (client_out, mut server_in) = duplex(1 << 20);
        let mut stdio = Stdio::new(client_in, client_out);
        let count = sent.len();
        for item in sent {
            stdio.send(item).await.expect("sent");
        }
        let lines: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        tokio::spawn(async move {
            for line in lines {
                server_out
                    .write_all(line.as_bytes())
                    .await
                    .expect("written");
            }
        });
        let mut got = Vec::new();
        while let Some(m) = stdio.receive().await {
            got.push(m);
        }
        tokio::task::yield_now().await;
        stdio.close().await.expect("closed");
        let mut read = String::new();
        let _ = server_in.read_to_string(&mut read).await;
        let replies = read.lines().skip(count).collect::<Vec<_>>().join("\n");
        (got, replies)
    }

    #[tokio::test]
    async fn answers_decode_as_rmcp_decodes_them() {
        let ok = r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi"}],"isError":false}}"#;
        let structured =
            r#"{"jsonrpc":"2.0","id":2,"result":{"content":[],"structuredContent":null}}"#;
        // Not a tool result: decoded the general way (an MRTR answer, here).
        let input = r#"{"jsonrpc":"2.0","id":3,"result":{"resultType":"input_required","inputRequests":{}}}"#;
        let progress = r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}"#;
        let lines = [ok, "\n", structured, "\r\n", input, "\n", progress, "\n"].concat();
        let (got, _) = exchange(vec![call(1), call(2), call(3)], &[&lines]).await;
        let want: Vec<Message> = [ok, structured, input, progress].map(rmcp).into();
        assert_eq!(shown(&got), shown(&want));
        assert!(matches!(
            &got[0],
            JsonRpcMessage::Response(JsonRpcResponse { result: ServerResult::CallToolResult(r), .. })
                if r.is_error == Some(false)
        ));
        // An answer to a request it did not remember is rmcp's too.
        let (got, _) = exchange(vec![], &[ok, "\n"]).await;
        assert_eq!(shown(&got), shown(&[rmcp(ok)]));
        // So is one with more than an answer's members: whatever rmcp makes of it.
        let both =
            r#"{"jsonrpc":"2.0","id":4,"result":{"content":[]},"error":{"code":1,"message":"x"}}"#;
        let (got, _) = exchange(vec![call(4)], &[both, "\n"]).await;
        let want: Vec<Message> = serde_json::from_str(both).into_iter().collect();
        assert_eq!(shown(&got), shown(&want));
    }

    /// Counts the writes that reach the stream.
    struct Counted<W>(W, Arc<std::sync::atomic::AtomicUsize>);

    impl<W: AsyncWrite + Unpin> AsyncWrite for Counted<W> {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.0).poll_flush(cx)
        }
        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }

    #[tokio::test]
    async fn messages_queued_together_are_written_together_in_order() {
        let (client_out, mut server_in) = duplex(1 << 20);
        let writes = Arc::default();
        let mut stdio = Stdio::new(tokio::io::empty(), Counted(client_out, Arc::clone(&writes)));
        // As rmcp sends: each message's send runs on a task spawned when it is queued.
        let mut sends = Vec::new();
        for id in 0..100 {
            sends.push(tokio::spawn(stdio.send(call(id))));
        }
        for send in sends {
            send.await.expect("joined").expect("sent");
        }
        stdio.close().await.expect("closed");
        let mut read = String::new();
        server_in.read_to_string(&mut read).await.expect("read");
        let ids: Vec<i64> = read
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["id"].as_i64())
            .map(|id| id.expect("an id"))
            .collect();
        assert_eq!(ids, (0..100).collect::<Vec<_>>());
        assert_eq!(writes.load(std::sync::atomic::Ordering::Relaxed), 1);
        // Once the server's stdin is gone, a send says so.
        let (client_out, server_in) = duplex(64);
        let mut stdio = Stdio::new(tokio::io::empty(), client_out);
        drop(server_in);
        tokio::time::timeout(Duration::from_secs(5), async {
            while stdio.send(call(2)).await.is_ok() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the write error comes back");
    }

    #[tokio::test]
    async fn skips_what_rmcp_skips_and_survives_long_lines() {
        let ok = r#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#;
        let long = format!("{{\"x\":\"{}\"}}\n", "y".repeat(MAX_LINE));
        // JSON that is no message is answered with Invalid Request; what is not JSON, and a
        // line over the limit, are dropped.
        let lines = ["\u{feff}\n", "{\"x\":1}\n", "{not json\n", &long, ok, "\n"];
        let (got, replies) = exchange(vec![call(1)], &lines).await;
        assert_eq!(shown(&got), shown(&[rmcp(ok)]));
        let reply: serde_json::Value = serde_json::from_str(&replies).expect("one reply");
        assert_eq!(reply["error"]["code"], -32600);
    }
}
