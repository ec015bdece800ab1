//! `Gateway`: the corral's servers behind one authenticated Streamable-HTTP MCP endpoint
//! (`corral.startGateway(options)`). The options cross as the core's serde JSON
//! (`GatewayOptions`, camelCase or snake_case keys), so a key the core adds needs no change here.

use std::sync::{Arc, Mutex};

use corral_core as core;
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

use crate::{
    runtime::{self, Owned, Promise, ok, run},
    types::json,
};

/// Reads the options of `startGateway` (`CONFIG_INVALID` naming the field, under `gateway.`).
pub(crate) fn options(value: Option<Value>) -> core::Result<core::GatewayOptions> {
    match value {
        None | Some(Value::Null) => Ok(core::GatewayOptions::default()),
        Some(v) => core::config::from_value_under(&v, "gateway"),
    }
}

/// The gateways a `Corral` started and has not seen closed: it closes them when it closes.
pub(crate) type Registry = Arc<Mutex<Vec<Arc<core::Gateway>>>>;

/// Starts a gateway on `corral` and registers it; if the corral closed meanwhile, the gateway
/// is closed again and the call fails with `CLOSED`.
pub(crate) async fn start(
    corral: core::Corral,
    registry: Registry,
    options: core::Result<core::GatewayOptions>,
) -> core::Result<(Arc<core::Gateway>, Registry)> {
    let closed = || core::Error::new(core::ErrorKind::Closed, "this corral is closed");
    if corral.is_closed() {
        return Err(closed());
    }
    let g = Arc::new(corral.start_gateway(options?).await?);
    if let Ok(mut list) = registry.lock() {
        list.push(Arc::clone(&g));
    }
    if corral.is_closed() {
        close_all(&registry).await;
        return Err(closed());
    }
    Ok((g, registry))
}

/// Closes and forgets every gateway of `registry`.
pub(crate) async fn close_all(registry: &Registry) {
    let gateways = registry
        .lock()
        .map(|mut list| std::mem::take(&mut *list))
        .unwrap_or_default();
    for g in gateways {
        g.close().await;
    }
}

/// A running gateway, from `corral.startGateway()`. Hand `url` and `token` to any MCP client
/// (`Authorization: Bearer <token>`). Stopped by `close()`, when its corral closes, or when the
/// corral is garbage-collected. It never keeps Node alive on its own.
#[napi]
pub struct Gateway {
    inner: Owned<Arc<core::Gateway>>,
    registry: Registry,
}

impl Gateway {
    pub(crate) fn new((g, registry): (Arc<core::Gateway>, Registry)) -> Self {
        Self {
            inner: Owned::new(g),
            registry,
        }
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

    /// Stops serving (the corral's servers keep running until it closes). Idempotent.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Promise<'env, ()> {
        let g = self.core();
        if let Ok(mut list) = self.registry.lock() {
            list.retain(|other| !Arc::ptr_eq(other, &g));
        }
        run(env, ok(async move { g.close().await }), drop)
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
