//! `Gateway`: the corral's servers behind one authenticated Streamable-HTTP MCP endpoint.
//! Created by `await corral.start_gateway(...)` (or `start_gateway_sync`); stops serving on
//! `close()`, on `async with`/`with` exit, when its corral closes, or when garbage-collected.

use std::sync::Arc;

use corral_core::Gateway;
use pyo3::prelude::*;

use crate::{
    runtime::{self, Owned, job},
    types::PyServerHealth,
};

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
            Ok(self.inner.get()?.servers().into_iter().map(PyServerHealth).collect())
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
