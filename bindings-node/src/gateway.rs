//! `Gateway`: the corral's servers behind one authenticated Streamable-HTTP MCP endpoint
//! (`corral.startGateway(options)`). The options cross as the core's serde JSON
//! (`GatewayOptions`, camelCase or snake_case keys), so a key the core adds needs no change here.

use std::sync::{Arc, Mutex};

use corral_core::{self as core, sync::lock};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

use crate::{
    runtime::{self, Promise, ok, run},
    types::{self, CorralOptions, json},
};

/// Reads the options of `startGateway` (`CONFIG_INVALID` naming the field, under `gateway.`).
pub(crate) fn options(value: Option<Value>) -> core::Result<core::GatewayOptions> {
    types::options(value, "gateway")
}

/// The gateways a `Corral` started: they live as long as it does, even when their JS objects
/// are collected (the core closes them when the corral closes).
pub(crate) type Kept = Arc<Mutex<Vec<Arc<core::Gateway>>>>;

/// Starts a gateway on a corral of its own (`corralOptions`, as for `new Corral`), with
/// `options.mcp` servers (E2B's `Sandbox.create({mcp})` in one call); closing the gateway, or
/// collecting it, closes that corral and every server it started.
#[napi(
    catch_unwind,
    ts_args_type = "options?: GatewayOptions, corralOptions?: CorralOptions",
    ts_return_type = "Promise<Gateway>"
)]
pub fn start_gateway<'env>(
    env: &'env Env,
    options: Option<Value>,
    corral_options: Option<CorralOptions>,
) -> Promise<'env, Gateway> {
    let (corral, options) = (
        corral_options.unwrap_or_default().into(),
        self::options(options),
    );
    let start = async move { core::start_gateway(corral, options?).await };
    run(env, None, start, |g| Gateway::new(Arc::new(g), None))
}

/// A running gateway, from `corral.startGateway()`. Hand `url` and `token` to any MCP client
/// (`Authorization: Bearer <token>`). Stopped by `close()`, when its corral closes, or when the
/// corral is garbage-collected. It never keeps Node alive on its own.
#[napi]
pub struct Gateway {
    inner: Arc<core::Gateway>,
    kept: Option<Kept>,
}

impl Gateway {
    pub(crate) fn new(g: Arc<core::Gateway>, kept: Option<Kept>) -> Self {
        let inner = g;
        Self { inner, kept }
    }
}

#[napi]
impl Gateway {
    /// The MCP endpoint, e.g. `http://127.0.0.1:41234/mcp`.
    #[napi(catch_unwind, getter)]
    pub fn url(&self) -> String {
        self.inner.url().to_owned()
    }

    /// The bearer token (empty when `auth: false`). Never shown by `toString()` or inspection.
    #[napi(catch_unwind, getter)]
    pub fn token(&self) -> String {
        self.inner.token().to_owned()
    }

    /// The bound address, `host:port`.
    #[napi(catch_unwind, getter)]
    pub fn local_addr(&self) -> String {
        self.inner.local_addr().to_string()
    }

    /// The MCP endpoint (E2B's name for `url`).
    #[napi(catch_unwind)]
    pub fn get_mcp_url(&self) -> String {
        self.url()
    }

    /// The bearer token (E2B's name for `token`).
    #[napi(catch_unwind)]
    pub fn get_mcp_token(&self) -> String {
        self.token()
    }

    /// Each published server's health.
    #[napi(catch_unwind, ts_return_type = "ServerHealth[]")]
    pub fn servers(&self) -> Value {
        json(&self.inner.servers())
    }

    /// Stops serving (the corral's servers keep running until it closes, unless the gateway
    /// owns its corral: top-level `startGateway()`). Idempotent.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Promise<'env, ()> {
        let g = self.core();
        if let Some(kept) = &self.kept {
            lock(kept).retain(|other| !Arc::ptr_eq(other, &g));
        }
        run(env, None, ok(async move { g.close().await }), drop)
    }

    /// `Gateway(<url>)`: never the token.
    #[napi(catch_unwind, js_name = "toString")]
    pub fn to_string_js(&self) -> String {
        format!("Gateway({})", self.inner.url())
    }
}

impl Gateway {
    fn core(&self) -> Arc<core::Gateway> {
        Arc::clone(&self.inner)
    }
}

runtime::promises! { Gateway |g| {
    #[doc = "Resolves `true` once no server is starting any more (each is ready or failed), or"]
    #[doc = "`false` when `timeoutMs` passes first."]
    fn wait_settled(timeout_ms: f64) -> bool as "Promise<boolean>" = {
        let timeout = core::config::duration_from_millis(timeout_ms, "timeoutMs");
        async move { Ok(g.wait_settled(timeout?).await) }
    }, |settled| settled;
} }

runtime::dispose!(
    Gateway,
    "`await using gw = await corral.startGateway()` closes it at the end of the scope."
);
