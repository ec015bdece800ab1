//! `Sandbox`: a sandbox of your own for `exec`, `readFile` and `writeFile`.

use std::sync::Arc;

use corral_core as core;

use crate::{
    runner::Result,
    runtime as rt,
    types::{Command, ExecOutput},
};

/// A sandbox made by `Corral.sandbox`; killed by `close()` (Swift) / `shutdown()` (Kotlin),
/// when freed, or when its corral closes.
#[derive(uniffi::Object)]
pub struct Sandbox {
    core: core::SandboxHandle,
}

impl Sandbox {
    pub(crate) fn new(sandbox: core::SandboxHandle) -> Arc<Self> {
        Arc::new(Self { core: sandbox })
    }
}

#[uniffi::export]
impl Sandbox {
    /// Its id.
    pub fn id(&self) -> String {
        self.core.id().to_owned()
    }

    /// Runs a shell script (`sh -c`) to completion.
    pub async fn exec(&self, script: String) -> Result<ExecOutput> {
        let core = self.core.clone();
        rt::run(async move { Ok(core.exec(&script).await?.into()) }).await
    }

    /// Runs a command to completion.
    pub async fn exec_command(&self, command: Command) -> Result<ExecOutput> {
        let core = self.core.clone();
        rt::run(async move { Ok(core.exec_command(command).await?.into()) }).await
    }

    /// Reads a file as the sandbox sees it.
    pub async fn read_file(&self, path: String) -> Result<Vec<u8>> {
        let core = self.core.clone();
        rt::run(async move { Ok(core.read_file(&path).await?) }).await
    }

    /// Writes a file as the sandbox sees it.
    pub async fn write_file(&self, path: String, data: Vec<u8>) -> Result<()> {
        let core = self.core.clone();
        rt::run(async move { Ok(core.write_file(&path, &data).await?) }).await
    }

    /// Kills everything in it. Idempotent. (`shutdown()` in Kotlin.)
    pub async fn close(&self) -> Result<()> {
        let core = self.core.clone();
        rt::run_detached(async move { Ok(core.close().await?) }).await
    }
}
