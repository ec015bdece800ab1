//! `Gateway`: the corral's servers behind one authenticated Streamable-HTTP MCP endpoint
//! (`corral.startGateway(options)`). The options cross as the core's serde JSON
//! (`GatewayOptions`, camelCase or snake_case keys), so a key the core adds needs no change here.

use std::sync::{Arc, Mutex};

use corral_core as core;
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

use crate::{
    runtime::{Owned, Promise, run},
    types::json,
};

/// Options of `corral.startGateway()`; every key is optional (the core's `GatewayOptions`,
/// camelCase; the snake_case spellings are accepted too). An unknown key is `CONFIG_INVALID`.
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // only its TypeScript declaration is used
pub struct GatewayOptions {
    /// The servers to publish (configured names); default: all of them.
    pub servers: Option<Vec<String>>,
    /// Address to bind. Default `127.0.0.1`.
    pub host: Option<String>,
    /// Port to bind; 0 (the default) picks a free one.
    pub port: Option<u32>,
    /// The bearer token (at least 16 printable ASCII characters); default: a random one.
    pub token: Option<String>,
    /// `false` serves without a token (loopback addresses only). Default `true`.
    pub auth: Option<bool>,
    /// Above this many published tools, `search_tools` + `call_tool` are published instead
    /// (default 64).
    pub tool_budget: Option<u32>,
    /// How long `tools/list` waits for servers still starting, in ms (default 3000).
    pub discovery_deadline_ms: Option<f64>,
    /// Start every server when the gateway starts (default) rather than at the first request.
    pub eager: Option<bool>,
    /// Extra `Host` values accepted (loopback names always are).
    pub allowed_hosts: Option<Vec<String>>,
    /// Extra `Origin` values accepted (loopback origins always are).
    pub allowed_origins: Option<Vec<String>>,
    /// Largest request body in bytes (default 4 MiB; larger ones get 413).
    pub max_body_bytes: Option<f64>,
    /// First restart delay after a failure, in ms (default 500; doubles up to the cap).
    pub restart_backoff_ms: Option<f64>,
    /// Longest restart delay, in ms (default 30000).
    pub restart_backoff_max_ms: Option<f64>,
    /// Servers to add and publish, E2B style: catalog names with their keys
    /// (`{filesystem: {paths: ['/data']}}`), `github/<owner>/<repo>` with `installCmd`/`runCmd`,
    /// plain server configs, an `mcpServers` document (`corral catalog list` shows the catalog).
    #[napi(ts_type = "Record<string, Record<string, unknown>>")]
    pub mcp: Option<serde_json::Value>,
    /// Where the `github/<owner>/<repo>` servers of `mcp` are cloned from (default
    /// `CORRAL_GIT_BASE`, else https://github.com).
    pub git_base: Option<String>,
}

/// One published server's health, as `gateway.servers()` and the resource
/// `corral://gateway/servers` report it.
#[napi(object, object_from_js = false)]
#[allow(dead_code)] // only its TypeScript declaration is used: values cross as serde JSON
pub struct ServerHealth {
    /// The server's name.
    pub name: String,
    #[napi(ts_type = "'starting' | 'ready' | 'failed' | 'restarting'")]
    pub state: String,
    /// How many of its tools are published (0 unless ready).
    pub tool_count: u32,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// When failed: milliseconds until the next restart attempt.
    pub restart_in_ms: Option<f64>,
    /// How many times it was restarted after the first start.
    pub restarts: u32,
}

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

    /// Resolves `true` once no server is starting any more (each is ready or failed), or
    /// `false` when `timeoutMs` passes first.
    #[napi(catch_unwind, ts_return_type = "Promise<boolean>")]
    pub fn wait_settled<'env>(&self, env: &'env Env, timeout_ms: f64) -> Promise<'env, bool> {
        let g = Arc::clone(&self.inner);
        let wait = async move {
            let timeout = core::config::duration_from_millis(timeout_ms, "timeoutMs")?;
            Ok(g.wait_settled(timeout).await)
        };
        run(env, wait, |settled| settled)
    }

    /// Stops serving (the corral's servers keep running until it closes). Idempotent.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Promise<'env, ()> {
        let g = Arc::clone(&self.inner);
        if let Ok(mut list) = self.registry.lock() {
            list.retain(|other| !Arc::ptr_eq(other, &g));
        }
        let close = async move {
            g.close().await;
            Ok(())
        };
        run(env, close, drop)
    }

    /// `await using gw = await corral.startGateway()` closes it at the end of the scope.
    #[napi(
        catch_unwind,
        well_known_symbol = "asyncDispose",
        ts_return_type = "Promise<void>"
    )]
    pub fn async_dispose<'env>(&self, env: &'env Env) -> Promise<'env, ()> {
        self.close(env)
    }

    /// `Gateway(<url>)`: never the token.
    #[napi(catch_unwind, js_name = "toString")]
    pub fn to_string_js(&self) -> String {
        format!("Gateway({})", self.inner.url())
    }
}
