//! `Gateway`: the corral's servers behind one authenticated Streamable-HTTP MCP endpoint.
//! Created by `await corral.start_gateway(...)` (or `start_gateway_sync`); stops serving on
//! `close()`, on `async with`/`with` exit, when its corral closes, or when garbage-collected.

use std::{path::PathBuf, sync::Arc};

use corral_core::{CorralOptions, Gateway, GatewayOptions};
use pyo3::{prelude::*, types::PyDict};
use serde_json::{Map, Value};

use crate::{
    convert, errors,
    runtime::{self, Call, Job, Owned, job},
    types::PyServerHealth,
};

/// The gateway's options: `**options` (snake_case or camelCase) and `key` = `value` if given.
pub fn options(
    options: Option<&Bound<'_, PyDict>>,
    key: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<GatewayOptions> {
    let mut form = options.map_or(Ok(Value::Object(Map::new())), |o| {
        convert::to_json(o.as_any())
    })?;
    if let (Some(v), Some(map)) = (value.filter(|v| !v.is_none()), form.as_object_mut()) {
        map.insert(key.into(), convert::to_json(v)?);
    }
    corral_core::config::from_value_under(&form, "gateway").map_err(errors::from_core)
}

/// A gateway on a corral of its own: the `mcp` servers (`{name: config}`) behind one endpoint;
/// closing the gateway closes that corral. `provider`, `api_key` and `home` are `Corral`'s,
/// `options` `Corral.start_gateway`'s.
fn own_gateway(
    mcp: Option<&Bound<'_, PyAny>>,
    provider: Option<String>,
    api_key: Option<String>,
    home: Option<PathBuf>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Job> {
    let options = self::options(options, "mcp", mcp)?;
    let corral = CorralOptions {
        provider,
        home,
        api_key,
    };
    runtime::with(Ok(()), |(), _| async move {
        let gateway = corral_core::start_gateway(corral, options).await?;
        Ok(PyGateway::new(Arc::new(gateway)))
    })
}

#[pyfunction]
#[pyo3(signature = (mcp=None, *, provider=None, api_key=None, home=None, **options))]
pub fn start_gateway(
    mcp: Option<&Bound<'_, PyAny>>,
    provider: Option<String>,
    api_key: Option<String>,
    home: Option<PathBuf>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Call> {
    Ok(Call::new(own_gateway(
        mcp, provider, api_key, home, options,
    )?))
}

/// Like `start_gateway`, blocking.
#[pyfunction]
#[pyo3(signature = (mcp=None, *, provider=None, api_key=None, home=None, **options))]
pub fn start_gateway_sync(
    py: Python<'_>,
    mcp: Option<&Bound<'_, PyAny>>,
    provider: Option<String>,
    api_key: Option<String>,
    home: Option<PathBuf>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    runtime::block_on(py, own_gateway(mcp, provider, api_key, home, options)?)
}

#[pyclass(frozen, module = "corral", name = "Gateway")]
pub struct PyGateway {
    inner: Owned<Arc<Gateway>>,
}

impl PyGateway {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        Self {
            inner: Owned::new(gateway),
        }
    }

    fn gateway(&self) -> PyResult<Arc<Gateway>> {
        self.inner.get().cloned()
    }
}

runtime::pymethods_with_jobs! {
impl PyGateway {
    context(runtime::ready);
    plain {
        /// The MCP endpoint, e.g. `http://127.0.0.1:41234/mcp`.
        #[getter]
        fn url(&self) -> PyResult<String> {
            Ok(self.inner.get()?.url().to_owned())
        }

        /// The bearer token (`""` when auth is off). Treat it as a secret.
        #[getter]
        fn token(&self) -> PyResult<String> {
            Ok(self.inner.get()?.token().to_owned())
        }

        /// The bound `(host, port)`.
        #[getter]
        fn local_addr(&self) -> PyResult<(String, u16)> {
            let addr = self.inner.get()?.local_addr();
            Ok((addr.ip().to_string(), addr.port()))
        }

        /// The MCP endpoint (E2B's name for `url`).
        fn get_mcp_url(&self) -> PyResult<String> {
            self.url()
        }

        /// The bearer token (E2B's name for `token`).
        fn get_mcp_token(&self) -> PyResult<String> {
            self.token()
        }

        /// Each published server's health.
        fn servers(&self) -> PyResult<Vec<PyServerHealth>> {
            Ok(crate::types::all(self.inner.get()?.servers()))
        }

        fn __repr__(&self) -> String {
            // Never the token.
            match self.inner.get() {
                Ok(g) => {
                    let names: Vec<String> = g.servers().into_iter().map(|s| s.name).collect();
                    format!("Gateway(url={:?}, servers={names:?})", g.url())
                }
                Err(_) => "Gateway(<from another process>)".to_owned(),
            }
        }
    }
    jobs {
        /// Waits until no server is still starting (each is ready or failed), at most
        /// `timeout` seconds; returns whether that happened.
        #[pyo3(signature = (timeout=30.0))]
        fn wait_settled | wait_settled_sync(&self, timeout: f64) => {
            let (gateway, timeout) = (self.gateway()?, crate::runner::seconds("timeout", Some(timeout))?);
            job(move |_| async move {
                Ok(gateway.wait_settled(timeout.unwrap_or_default()).await)
            })
        };

        /// Stops serving (the corral's servers keep running until it closes). Idempotent.
        fn close | close_sync(&self) => {
            let gateway = self.gateway()?;
            job(move |_| async move {
                gateway.close().await;
                Ok(())
            })
        };
    }
}
}
