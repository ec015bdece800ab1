//! `Corral`: the runner. Every I/O method is async (it returns an awaitable [`Call`]) and has a
//! `_sync` twin that blocks with the GIL released; both run the same core call.

use std::{path::PathBuf, sync::Arc, time::Duration};

use corral_core::{CallOptions, Corral, CorralOptions, SandboxConfig, ServerConfig};
use pyo3::{prelude::*, types::PyString};
use serde_json::{Map, Value};

use crate::{
    convert, errors,
    runtime::{self, Call, CancelToken, Ctx, Job, Owned, job},
    sandbox::PySandbox,
    session::PyServerSession,
    types::{PyLogMessage, PyProgress, PyServerConfig, PyTool, PyToolResult},
};

/// Per-call options as Python passes them (`timeout=`, `max_total=`, `on_progress=`, `cancel=`).
pub struct CallArgs {
    timeout: Option<Duration>,
    max_total: Option<Duration>,
    on_progress: Option<Arc<Py<PyAny>>>,
    cancel: Option<tokio_util::sync::CancellationToken>,
}

fn seconds(name: &str, value: Option<f64>) -> PyResult<Option<Duration>> {
    value
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    errors::invalid_argument(format!("{name} must be a positive number of seconds"))
                })
        })
        .transpose()
}

impl CallArgs {
    pub fn new(
        timeout: Option<f64>,
        max_total: Option<f64>,
        on_progress: Option<Py<PyAny>>,
        cancel: Option<&Bound<'_, CancelToken>>,
    ) -> PyResult<Self> {
        Ok(Self {
            timeout: seconds("timeout", timeout)?,
            max_total: seconds("max_total", max_total)?,
            on_progress: on_progress.map(Arc::new),
            cancel: CancelToken::extract_token(cancel),
        })
    }

    /// The core's options; progress reaches the callback on the waiting thread.
    pub fn options(self, ctx: &Ctx) -> CallOptions {
        let on_progress = self.on_progress.map(|callback| {
            let ctx = ctx.clone();
            Arc::new(move |p| {
                let callback = callback.clone();
                ctx.post(Box::new(move |py| {
                    runtime::call_user(py, &callback, PyProgress(p))
                }));
            }) as corral_core::ProgressCallback
        });
        CallOptions {
            timeout: self.timeout,
            max_total: self.max_total,
            on_progress,
            cancel: Some(self.cancel.unwrap_or_else(|| ctx.cancel.clone())),
        }
    }
}

/// Runs MCP servers in sandboxes and calls their tools.
#[pyclass(frozen, module = "corral", name = "Corral")]
pub struct PyCorral {
    inner: Owned<Corral>,
}

impl PyCorral {
    fn corral(&self) -> PyResult<Corral> {
        self.inner.get().cloned()
    }

    fn execute_job(
        &self,
        server: String,
        tool: String,
        params: Option<&Bound<'_, PyAny>>,
        call: CallArgs,
    ) -> PyResult<Job> {
        let corral = self.corral()?;
        let args = convert::opt_to_json(params)?;
        Ok(job(move |ctx| async move {
            corral
                .execute_tool_with(&server, &tool, args, call.options(&ctx))
                .await
                .map(PyToolResult::from)
        }))
    }

    fn discover_job(&self, server: String) -> PyResult<Job> {
        let corral = self.corral()?;
        Ok(job(move |_| async move {
            let tools = corral.discover_tools(&server).await?;
            Ok(tools.into_iter().map(PyTool::from).collect::<Vec<_>>())
        }))
    }

    fn quick_job(
        &self,
        command: &Bound<'_, PyAny>,
        tool: String,
        params: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Job> {
        let corral = self.corral()?;
        let args = convert::opt_to_json(params)?;
        let config = match command.cast::<PyServerConfig>() {
            Ok(c) => c.get().config.clone(),
            Err(_) => {
                let line: String = command.extract()?;
                ServerConfig::command("quick", &line).map_err(|e| errors::to_py(command.py(), e))?
            }
        };
        Ok(job(move |_| async move {
            corral
                .quick_with(config, &tool, args)
                .await
                .map(PyToolResult::from)
        }))
    }

    fn close_job(&self) -> PyResult<Job> {
        let corral = self.corral()?;
        Ok(job(move |_| async move {
            corral.close().await;
            Ok(())
        }))
    }
}

#[pymethods]
impl PyCorral {
    /// `provider`: `"local"` (bubblewrap sandboxes, the default), `"unsandboxed"` or `"e2b"`
    /// (E2B cloud sandboxes); default `$CORRAL_PROVIDER`, else `"local"`.
    /// `api_key`: the E2B API key (default `$E2B_API_KEY`).
    /// `home`: corral's state directory (default `$CORRAL_HOME`, else the user data dir).
    /// `on_log`: receives every server's log messages (called on a corral thread).
    #[new]
    #[pyo3(signature = (provider=None, *, home=None, api_key=None, on_log=None))]
    fn new(
        provider: Option<String>,
        home: Option<PathBuf>,
        api_key: Option<String>,
        on_log: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let corral = Corral::with_options(CorralOptions {
            provider,
            home,
            api_key,
        })
        .map_err(|e| Python::attach(|py| errors::to_py(py, e)))?;
        let this = Self {
            inner: Owned::new(corral),
        };
        this.set_log_callback(on_log)?;
        Ok(this)
    }

    /// The provider's name.
    #[getter]
    fn provider(&self) -> PyResult<&'static str> {
        Ok(self.inner.get()?.provider_name())
    }

    /// corral's home directory.
    #[getter]
    fn home(&self) -> PyResult<PathBuf> {
        Ok(self.inner.get()?.home().to_owned())
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> PyResult<bool> {
        Ok(self.inner.get()?.is_closed())
    }

    /// Receives the log messages of every server started from now on (`None` to stop). It is
    /// called on a corral thread, not the event loop's.
    fn set_log_callback(&self, on_log: Option<Py<PyAny>>) -> PyResult<()> {
        let callback = on_log.map(|cb| {
            let cb = Arc::new(cb);
            Arc::new(move |m| {
                runtime::with_python(|py| runtime::call_user(py, &cb, PyLogMessage(m)))
            }) as corral_core::LogCallback
        });
        self.inner.get()?.set_log_callback(callback);
        Ok(())
    }

    /// Adds (or replaces) a server. A replaced server's running instance is stopped.
    fn add_server(&self, py: Python<'_>, config: &Bound<'_, PyServerConfig>) -> PyResult<()> {
        let (corral, config) = (self.corral()?, config.get().config.clone());
        runtime::block_on(
            py,
            job(move |_| async move { corral.add_server(config).await }),
        )?;
        Ok(())
    }

    /// Adds a server from a dict in any accepted form (corral's, e2b-mcp's, an `mcpServers`
    /// entry).
    fn add_server_from_dict(
        &self,
        py: Python<'_>,
        name: String,
        config: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (corral, config) = (self.corral()?, convert::to_json(config)?);
        runtime::block_on(
            py,
            job(move |_| async move { corral.add_server_from_dict(&name, &config).await }),
        )?;
        Ok(())
    }

    /// Adds every server of an `mcpServers` document (Claude Desktop, Cursor, Claude Code) or
    /// corral document: a dict, or the path of a JSON/TOML file. Returns their names.
    fn load_mcp_servers(
        &self,
        py: Python<'_>,
        path_or_dict: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let corral = self.corral()?;
        if path_or_dict.is_instance_of::<PyString>() || path_or_dict.hasattr("__fspath__")? {
            let path: PathBuf = path_or_dict.extract()?;
            return runtime::block_on(
                py,
                job(move |_| async move { corral.load_mcp_servers_file(&path).await }),
            );
        }
        let document = convert::to_json(path_or_dict)?;
        runtime::block_on(
            py,
            job(move |_| async move { corral.load_mcp_servers_value(&document).await }),
        )
    }

    /// Like `load_mcp_servers`, for the document's text (JSON or TOML).
    fn load_mcp_servers_text(&self, py: Python<'_>, text: String) -> PyResult<Py<PyAny>> {
        let corral = self.corral()?;
        runtime::block_on(
            py,
            job(move |_| async move { corral.load_mcp_servers(&text).await }),
        )
    }

    /// Removes a server, stopping it if it runs.
    fn remove_server(&self, py: Python<'_>, name: String) -> PyResult<()> {
        let corral = self.corral()?;
        runtime::block_on(
            py,
            job(move |_| async move { corral.remove_server(&name).await }),
        )?;
        Ok(())
    }

    /// The configured servers.
    fn list_servers(&self) -> PyResult<Vec<PyServerConfig>> {
        Ok(self
            .inner
            .get()?
            .list_servers()
            .into_iter()
            .map(PyServerConfig::new)
            .collect())
    }

    /// The config of one server.
    fn get_server(&self, py: Python<'_>, name: &str) -> PyResult<PyServerConfig> {
        self.inner
            .get()?
            .server(name)
            .map(PyServerConfig::new)
            .map_err(|e| errors::to_py(py, e))
    }

    /// The server's tools (all pages, filtered by its config; cached).
    fn discover_tools(&self, server: String) -> PyResult<Call> {
        Ok(Call::new(self.discover_job(server)?))
    }

    fn discover_tools_sync(&self, py: Python<'_>, server: String) -> PyResult<Py<PyAny>> {
        runtime::block_on(py, self.discover_job(server)?)
    }

    /// Calls a tool. `timeout` and `max_total` are seconds; `on_progress` receives `Progress`
    /// reports (on the event loop's thread); `cancel` is a `CancelToken`.
    #[pyo3(signature = (server, tool, params=None, *, timeout=None, max_total=None, on_progress=None, cancel=None))]
    #[allow(clippy::too_many_arguments)]
    fn execute_tool(
        &self,
        server: String,
        tool: String,
        params: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        max_total: Option<f64>,
        on_progress: Option<Py<PyAny>>,
        cancel: Option<&Bound<'_, CancelToken>>,
    ) -> PyResult<Call> {
        let call = CallArgs::new(timeout, max_total, on_progress, cancel)?;
        Ok(Call::new(self.execute_job(server, tool, params, call)?))
    }

    #[pyo3(signature = (server, tool, params=None, *, timeout=None, max_total=None, on_progress=None, cancel=None))]
    #[allow(clippy::too_many_arguments)]
    fn execute_tool_sync(
        &self,
        py: Python<'_>,
        server: String,
        tool: String,
        params: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        max_total: Option<f64>,
        on_progress: Option<Py<PyAny>>,
        cancel: Option<&Bound<'_, CancelToken>>,
    ) -> PyResult<Py<PyAny>> {
        let call = CallArgs::new(timeout, max_total, on_progress, cancel)?;
        runtime::block_on(py, self.execute_job(server, tool, params, call)?)
    }

    /// The server's warm session: `async with corral.session(name) as s` (or `with`, or
    /// `s = await corral.session(name)`), for resources, prompts and repeated calls.
    fn session(&self, server: String) -> PyResult<PyServerSession> {
        Ok(PyServerSession::new(self.corral()?, server))
    }

    /// One-shot: starts `command` (a command line or a `ServerConfig`) in a fresh sandbox,
    /// calls `tool`, stops it.
    #[pyo3(signature = (command, tool, params=None))]
    fn quick(
        &self,
        command: &Bound<'_, PyAny>,
        tool: String,
        params: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Call> {
        Ok(Call::new(self.quick_job(command, tool, params)?))
    }

    #[pyo3(signature = (command, tool, params=None))]
    fn quick_sync(
        &self,
        py: Python<'_>,
        command: &Bound<'_, PyAny>,
        tool: String,
        params: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        runtime::block_on(py, self.quick_job(command, tool, params)?)
    }

    /// A sandbox of your own for `exec`, `read_file` and `write_file`: `async with
    /// corral.sandbox() as sb` (or `with`, or `sb = await corral.sandbox()`). It is killed on
    /// exit, on `close()`, or when the corral closes.
    #[pyo3(signature = (*, name=None, env=None, network=None, mounts=None, limits=None))]
    fn sandbox(
        &self,
        py: Python<'_>,
        name: Option<String>,
        env: Option<&Bound<'_, PyAny>>,
        network: Option<String>,
        mounts: Option<&Bound<'_, PyAny>>,
        limits: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySandbox> {
        let mut form = Map::new();
        if let Some(name) = name {
            form.insert("name".into(), Value::String(name));
        }
        if let Some(network) = network {
            form.insert("network".into(), Value::String(network));
        }
        for (key, value) in [("env", env), ("mounts", mounts), ("limits", limits)] {
            if let Some(v) = value.filter(|v| !v.is_none()) {
                form.insert(key.into(), convert::to_json(v)?);
            }
        }
        let config =
            SandboxConfig::from_value(&Value::Object(form)).map_err(|e| errors::to_py(py, e))?;
        Ok(PySandbox::new(self.corral()?, config))
    }

    /// Stops every server and sandbox. Idempotent; later calls fail with `ClosedError`.
    fn close(&self) -> PyResult<Call> {
        Ok(Call::new(self.close_job()?))
    }

    fn close_sync(&self, py: Python<'_>) -> PyResult<()> {
        runtime::block_on(py, self.close_job()?)?;
        Ok(())
    }

    fn __aenter__(slf: Py<Self>) -> Call {
        runtime::ready(slf)
    }

    #[pyo3(signature = (*_exc))]
    fn __aexit__(&self, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<Call> {
        self.close()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        self.close_sync(py)
    }

    fn __repr__(&self) -> String {
        match self.inner.get() {
            Ok(c) => format!(
                "Corral(provider={:?}, servers={}{})",
                c.provider_name(),
                c.list_servers().len(),
                if c.is_closed() { ", closed" } else { "" }
            ),
            Err(_) => "Corral(<from another process>)".to_owned(),
        }
    }
}
