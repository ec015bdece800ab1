//! [`SandboxHandle`]: a sandbox of the caller's own, made by [`Corral::sandbox`].
//!
//! [`Corral::sandbox`]: super::Corral::sandbox

use std::sync::Arc;

use crate::{
    error::Result,
    sandbox::{Command, ExecOutput, Sandbox},
};

/// A sandbox made by [`Corral::sandbox`](super::Corral::sandbox); killed on
/// [`SandboxHandle::close`], on drop (with or without an async runtime), or when the corral
/// closes.
#[derive(Clone)]
pub struct SandboxHandle {
    sandbox: Arc<dyn Sandbox>,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("id", &self.sandbox.id())
            .finish()
    }
}

impl SandboxHandle {
    pub(super) fn new(sandbox: Arc<dyn Sandbox>) -> Self {
        Self { sandbox }
    }

    /// Its id.
    pub fn id(&self) -> &str {
        self.sandbox.id()
    }

    /// Runs a shell command (`sh -c`) to completion.
    pub async fn exec(&self, script: &str) -> Result<ExecOutput> {
        self.sandbox.exec(Command::shell(script)).await
    }

    /// Runs a command to completion.
    pub async fn exec_command(&self, command: Command) -> Result<ExecOutput> {
        self.sandbox.exec(command).await
    }

    /// Reads a file as the sandbox sees it.
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        self.sandbox.read_file(path).await
    }

    /// Writes a file as the sandbox sees it.
    pub async fn write_file(&self, path: &str, data: &[u8]) -> Result<()> {
        self.sandbox.write_file(path, data).await
    }

    /// Kills everything in it. Idempotent.
    pub async fn close(&self) -> Result<()> {
        self.sandbox.kill().await
    }

    /// The underlying sandbox.
    pub fn inner(&self) -> &Arc<dyn Sandbox> {
        &self.sandbox
    }
}
