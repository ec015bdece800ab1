//! `Sandbox`: a sandbox of your own (`corral.sandbox(config)`) for `exec` and files.

use corral_core as core;
use napi::{Either, Env, bindgen_prelude::Buffer};
use napi_derive::napi;
use serde_json::Value;

use crate::{
    runtime::{Owned, Promise, run},
    types::json,
};

/// What a sandbox is made of; every key is optional (the server config's names and forms).
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // only its TypeScript declaration is used
pub struct SandboxOptions {
    /// A label for ids and logs.
    pub name: Option<String>,
    /// Environment of every process in it.
    pub env: Option<std::collections::HashMap<String, String>>,
    /// `all` (default) or `none`.
    #[napi(ts_type = "'all' | 'none'")]
    pub network: Option<String>,
    /// Extra host directories: `host:target[:ro|rw]`.
    pub mounts: Option<Vec<String>>,
    /// `{memory_mb, max_processes, disk_mb}` (MiB, processes, MiB of writable layer).
    #[napi(ts_type = "{ memory_mb?: number; max_processes?: number; disk_mb?: number }")]
    pub limits: Option<Value>,
    /// Start from this template (`corral.buildTemplate()`): its layer is mounted, not copied.
    pub template: Option<String>,
}

/// A sandbox made by `corral.sandbox()`; killed by `close()`, when the corral closes, or when
/// it is garbage-collected.
#[napi]
pub struct Sandbox {
    inner: Owned<core::SandboxHandle>,
}

impl Sandbox {
    pub(crate) fn new(h: core::SandboxHandle) -> Self {
        Self {
            inner: Owned::new(h),
        }
    }
}

#[napi]
impl Sandbox {
    /// Its id.
    #[napi(catch_unwind, getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }

    /// Runs a shell command (`sh -c`) to completion, in the sandbox's home.
    #[napi(catch_unwind, ts_return_type = "Promise<ExecOutput>")]
    pub fn exec<'env>(&self, env: &'env Env, script: String) -> Promise<'env, Value> {
        let h = (*self.inner).clone();
        run(env, async move { h.exec(&script).await }, |o| json(&o))
    }

    /// Reads a file as the sandbox sees it.
    #[napi(catch_unwind, ts_return_type = "Promise<Buffer>")]
    pub fn read_file<'env>(&self, env: &'env Env, path: String) -> Promise<'env, Buffer> {
        let h = (*self.inner).clone();
        run(env, async move { h.read_file(&path).await }, Buffer::from)
    }

    /// Writes a file (a string is written as UTF-8) as the sandbox sees it.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn write_file<'env>(
        &self,
        env: &'env Env,
        path: String,
        data: Either<String, Buffer>,
    ) -> Promise<'env, ()> {
        let data: Vec<u8> = match data {
            Either::A(s) => s.into_bytes(),
            Either::B(b) => b.to_vec(),
        };
        let h = (*self.inner).clone();
        run(env, async move { h.write_file(&path, &data).await }, drop)
    }

    /// Kills everything in it. Idempotent.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Promise<'env, ()> {
        let h = (*self.inner).clone();
        run(env, async move { h.close().await }, drop)
    }

    /// `await using sb = await corral.sandbox()` kills it at the end of the scope.
    #[napi(
        catch_unwind,
        well_known_symbol = "asyncDispose",
        ts_return_type = "Promise<void>"
    )]
    pub fn async_dispose<'env>(&self, env: &'env Env) -> Promise<'env, ()> {
        self.close(env)
    }
}
