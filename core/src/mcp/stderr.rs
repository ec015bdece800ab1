//! Keeps the tail of a server's stderr (a bounded ring) to attach to start and crash errors.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::sync::lock;

/// Bytes of stderr kept per server.
const KEEP: usize = 16 * 1024;
/// Lines of stderr quoted in an error message.
const QUOTE_LINES: usize = 20;

/// The last bytes a server wrote to stderr.
#[derive(Debug, Clone, Default)]
pub struct StderrTail(Arc<Mutex<VecDeque<u8>>>);

impl StderrTail {
    /// The kept text.
    pub fn text(&self) -> String {
        let buf = lock(&self.0);
        let (a, b) = buf.as_slices();
        let mut bytes = Vec::with_capacity(a.len() + b.len());
        bytes.extend_from_slice(a);
        bytes.extend_from_slice(b);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The last lines, formatted to follow an error message (empty if there are none).
    pub fn for_message(&self) -> String {
        let text = self.text();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            return String::new();
        }
        let tail = &lines[lines.len().saturating_sub(QUOTE_LINES)..];
        // bubblewrap found no such program: say what to do about it.
        let missing = lines.iter().find_map(|l| {
            l.strip_prefix("bwrap: execvp ")?
                .strip_suffix(": No such file or directory")
        });
        // (A container command gets its own hint: installing it would not help.)
        let missing = missing.filter(|cmd| !matches!(*cmd, "docker" | "podman"));
        let hint = missing.map_or(String::new(), |cmd| {
            format!(
                "\n`{cmd}` is not installed in the sandbox, which sees the host's system dirs and \
                 the runtimes on the host's PATH: install it on the host{} or in the server's \
                 install_commands",
                if cmd == "uvx" || cmd == "uv" {
                    " (`pip install uv`)"
                } else {
                    ""
                }
            )
        });
        format!(
            "{hint}\n--- server stderr (last lines) ---\n{}",
            tail.join("\n")
        )
    }

    fn push(&self, bytes: &[u8]) {
        let mut buf = lock(&self.0);
        buf.extend(bytes);
        let excess = buf.len().saturating_sub(KEEP);
        buf.drain(..excess);
    }
}

/// Reads `stderr` until it closes, keeping its tail.
pub(crate) fn spawn_stderr_reader(
    mut stderr: Box<dyn AsyncRead + Send + Unpin>,
    server: String,
) -> StderrTail {
    let tail = StderrTail::default();
    let keep = tail.clone();
    tokio::spawn(async move {
        let mut chunk = vec![0u8; 4096];
        loop {
            match stderr.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    tracing::debug!(server = %server, "stderr: {}", String::from_utf8_lossy(&chunk[..n]).trim_end());
                    keep.push(&chunk[..n]);
                }
            }
        }
    });
    tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_tail() {
        let t = StderrTail::default();
        t.push(&vec![b'x'; KEEP]);
        t.push(b"\nlast line\n");
        assert_eq!(t.text().len(), KEEP);
        assert!(t.for_message().ends_with("last line"));
    }

    #[test]
    fn a_missing_program_gets_a_hint() {
        let t = StderrTail::default();
        t.push(b"bwrap: execvp uvx: No such file or directory\n");
        let m = t.for_message();
        assert!(
            m.starts_with("\n`uvx` is not installed in the sandbox"),
            "{m}"
        );
        assert!(
            m.contains("pip install uv") && m.ends_with("No such file or directory"),
            "{m}"
        );
        let other = StderrTail::default();
        other.push(b"Traceback: boom\n");
        assert!(!other.for_message().contains("not installed"));
    }
}
