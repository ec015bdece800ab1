//! Watches a server's stdout: every line must be a JSON-RPC message (starting with `{` or `[`).
//! At the first line that is not, it records what it saw and ends the stream, so the session
//! stops with a `PROTOCOL` error instead of silently skipping output or waiting forever.

use std::{
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, ReadBuf};

/// Longest sample of offending output kept for the error message.
const SAMPLE: usize = 120;

pub(crate) struct StdoutGuard<R> {
    inner: R,
    at_line_start: bool,
    ended: bool,
    violation: Arc<Mutex<Option<String>>>,
}

impl<R> StdoutGuard<R> {
    pub(crate) fn new(inner: R, violation: Arc<Mutex<Option<String>>>) -> Self {
        Self {
            inner,
            at_line_start: true,
            ended: false,
            violation,
        }
    }

    /// Scans new bytes; returns the offset of the first offending line, if any.
    fn scan(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < bytes.len() {
            if self.at_line_start {
                match bytes[i] {
                    b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                    b'{' | b'[' | 0xEF => {
                        self.at_line_start = false;
                        i += 1;
                    }
                    _ => {
                        // Find the start of the offending line within this chunk.
                        let start = bytes[..i]
                            .iter()
                            .rposition(|&b| b == b'\n')
                            .map_or(0, |p| p + 1);
                        return Some(start);
                    }
                }
            } else {
                match bytes[i..].iter().position(|&b| b == b'\n') {
                    Some(p) => {
                        i += p + 1;
                        self.at_line_start = true;
                    }
                    None => return None,
                }
            }
        }
        None
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for StdoutGuard<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = &buf.filled()[before..];
                if let Some(offset) = this.scan(new) {
                    let sample_end = new.len().min(offset + SAMPLE);
                    let sample = String::from_utf8_lossy(&new[offset..sample_end])
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    crate::sync::lock(&this.violation).get_or_insert(sample);
                    this.ended = true;
                    buf.set_filled(before + offset);
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    async fn run(input: &[u8]) -> (Vec<u8>, Option<String>) {
        let violation = Arc::new(Mutex::new(None));
        let mut g = StdoutGuard::new(input, violation.clone());
        let mut out = Vec::new();
        g.read_to_end(&mut out).await.expect("read");
        let v = violation.lock().expect("lock").clone();
        (out, v)
    }

    #[tokio::test]
    async fn passes_json_lines_and_stops_at_garbage() {
        let (out, v) = run(b"{\"a\":1}\n\n  {\"b\":2}\n").await;
        assert_eq!(out, b"{\"a\":1}\n\n  {\"b\":2}\n");
        assert!(v.is_none());
        let (out, v) = run(b"{\"a\":1}\nnot json {\n{\"b\":2}\n").await;
        assert_eq!(out, b"{\"a\":1}\n");
        assert_eq!(v.as_deref(), Some("not json {"));
    }
}
