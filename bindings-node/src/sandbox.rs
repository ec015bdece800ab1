//! `Sandbox`: a sandbox of your own (`corral.sandbox(config)`) for `exec` and files.

use corral_core as core;
use napi::{Either, bindgen_prelude::Buffer};
use napi_derive::napi;
use serde_json::Value;

use crate::{runtime, types::json};

/// A sandbox made by `corral.sandbox()`; killed by `close()`, when the corral closes, or when
/// it is garbage-collected.
#[napi]
pub struct Sandbox {
    inner: core::SandboxHandle,
}

impl From<core::SandboxHandle> for Sandbox {
    fn from(h: core::SandboxHandle) -> Self {
        Self { inner: h }
    }
}

#[napi]
impl Sandbox {
    /// Its id.
    #[napi(catch_unwind, getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }
}

impl Sandbox {
    fn core(&self) -> core::SandboxHandle {
        self.inner.clone()
    }
}

runtime::promises! { Sandbox |h| {
    #[doc = "Runs a shell command (`sh -c`) to completion, in the sandbox's home."]
    fn exec(script: String) -> Value as "Promise<ExecOutput>" = async move { h.exec(&script).await }, |o| json(&o);

    #[doc = "Reads a file as the sandbox sees it."]
    fn read_file(path: String) -> Buffer as "Promise<Buffer>" =
        async move { h.read_file(&path).await }, Buffer::from;

    #[doc = "Writes a file (a string is written as UTF-8) as the sandbox sees it."]
    fn write_file(path: String, data: Either<String, Buffer>) -> () as "Promise<void>" = {
        let data: Vec<u8> = match data {
            Either::A(s) => s.into_bytes(),
            Either::B(b) => b.to_vec(),
        };
        async move { h.write_file(&path, &data).await }
    }, drop;

    #[doc = "Kills everything in it. Idempotent."]
    fn close() -> () as "Promise<void>" = async move { h.close().await }, drop;
} }

runtime::dispose!(
    Sandbox,
    "`await using sb = await corral.sandbox()` kills it at the end of the scope."
);
