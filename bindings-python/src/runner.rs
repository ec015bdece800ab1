//! `Corral`: the runner. Every I/O method is async (it returns an awaitable [`Call`]) and has a
//! `_sync` twin that blocks with the GIL released; both run the same core call.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc, time::Duration};

use corral_core::{CallOptions, Corral, CorralOptions, LoadOptions, SandboxConfig, ServerConfig};
use pyo3::{
    prelude::*,
    types::{PyDict, PyString},
};

use crate::{
    convert, errors,
    gateway::PyGateway,
    runtime::{self, Call, CancelToken, Ctx, Job, Owned},
    sandbox::PySandbox,
    session::PyServerSession,
    types::{
        PyLogMessage, PyProgress, PyPruneReport, PyServerConfig, PyStartEvent, PyTemplateInfo,
        PyTool, PyToolResult, all,
    },
};

/// Per-call options as Python passes them (`timeout=`, `max_total=`, `on_progress=`, `cancel=`).
pub struct CallArgs {
    timeout: Option<Duration>,
    max_total: Option<Duration>,
    on_progress: Option<Arc<Py<PyAny>>>,
    cancel: Option<tokio_util::sync::CancellationToken>,
}

/// Seconds as the core checks every API timeout (finite, > 0, bounded; `INVALID_ARGUMENT`
/// with `field` = the argument name otherwise).
pub fn seconds(name: &str, value: Option<f64>) -> PyResult<Option<Duration>> {
    value
        .map(|s| corral_core::config::duration_from_secs(s, name).map_err(errors::from_core))
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

/// A core callback (log messages, start events) calling `callback` with the value's view, on
/// a corral thread.
fn user_callback<T, V>(callback: Option<Py<PyAny>>) -> Option<Arc<dyn Fn(T) + Send + Sync>>
where
    V: From<T> + for<'py> IntoPyObject<'py>,
{
    let callback = Arc::new(callback?);
    Some(Arc::new(move |value| {
        runtime::with_python(|py| runtime::call_user(py, &callback, V::from(value)))
    }))
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

    /// A job of the core's `corral`.
    fn with<F, Fut, T>(&self, f: F) -> PyResult<Job>
    where
        F: FnOnce(Corral, Ctx) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = corral_core::Result<T>> + Send + 'static,
        T: for<'py> IntoPyObject<'py> + Send + 'static,
    {
        runtime::with(self.corral(), f)
    }

    fn gateway_job(
        &self,
        servers: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Job> {
        let options = crate::gateway::options(options, "servers", servers)?;
        self.with(|corral, _| async move {
            Ok(PyGateway::new(Arc::new(
                corral.start_gateway(options).await?,
            )))
        })
    }
}

runtime::pymethods_with_jobs! {
impl PyCorral {
    context(runtime::ready);
    plain {
        /// `provider`: `"local"` (bubblewrap sandboxes, the default), `"unsandboxed"` or
        /// `"e2b"` (E2B cloud sandboxes); default `$CORRAL_PROVIDER`, else `"local"`.
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
            .map_err(errors::from_core)?;
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

        /// Receives the log messages of every server started from now on (`None` to stop). It
        /// is called on a corral thread, not the event loop's.
        fn set_log_callback(&self, on_log: Option<Py<PyAny>>) -> PyResult<()> {
            self.inner.get()?.set_log_callback(user_callback::<_, PyLogMessage>(on_log));
            Ok(())
        }

        /// Receives the start-up events (`StartEvent`: install commands, server start, ready)
        /// of every server (`None` to stop). It is called on a corral thread.
        fn set_start_callback(&self, on_start: Option<Py<PyAny>>) -> PyResult<()> {
            self.inner.get()?.set_start_callback(user_callback::<_, PyStartEvent>(on_start));
            Ok(())
        }

        /// The configured servers.
        fn list_servers(&self) -> PyResult<Vec<PyServerConfig>> {
            Ok(all(self.inner.get()?.list_servers()))
        }

        /// The config of one server.
        fn get_server(&self, name: &str) -> PyResult<PyServerConfig> {
            self.inner
                .get()?
                .server(name)
                .map(PyServerConfig)
                .map_err(errors::from_core)
        }

        /// The server's warm session: `async with corral.session(name) as s` (or `with`, or
        /// `s = await corral.session(name)`), for resources, prompts and repeated calls.
        fn session(&self, server: String) -> PyResult<PyServerSession> {
            Ok(PyServerSession::new(self.corral()?, server))
        }

        /// A sandbox of your own for `exec`, `read_file` and `write_file`: `async with
        /// corral.sandbox() as sb` (or `with`, or `sb = await corral.sandbox()`). It is killed
        /// on exit, on `close()`, or when the corral closes.
        /// `template`: start from a built template; `files` (`{path: str | bytes}`) are
        /// written into it when it opens.
        #[pyo3(signature = (*, name=None, env=None, network=None, mounts=None, limits=None, template=None, files=None))]
        #[allow(clippy::too_many_arguments)]
        fn sandbox(
            &self,
            name: Option<&Bound<'_, PyAny>>,
            env: Option<&Bound<'_, PyAny>>,
            network: Option<&Bound<'_, PyAny>>,
            mounts: Option<&Bound<'_, PyAny>>,
            limits: Option<&Bound<'_, PyAny>>,
            template: Option<&Bound<'_, PyAny>>,
            files: Option<BTreeMap<String, Bound<'_, PyAny>>>,
        ) -> PyResult<PySandbox> {
            let form = convert::kwargs(&[("name", name), ("env", env), ("network", network), ("mounts", mounts), ("limits", limits), ("template", template)])?;
            let config = SandboxConfig::from_value(&form).map_err(errors::from_core)?;
            let files = files
                .unwrap_or_default()
                .iter()
                .map(|(path, data)| Ok((path.clone(), crate::sandbox::bytes_of(data)?)))
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PySandbox::new(self.corral()?, config, files))
        }

        /// Publishes the servers (all, or those named in `servers`) behind one authenticated
        /// Streamable-HTTP MCP endpoint on 127.0.0.1. `options` are the gateway's (`host`,
        /// `port`, `token`, `auth`, `tool_budget`, `discovery_deadline_ms`, `eager`,
        /// `allowed_hosts`, `allowed_origins`, `max_body_bytes`, `restart_backoff_ms`,
        /// `restart_backoff_max_ms`; camelCase works too). Returns a `Gateway`.
        /// (`**options` cannot go through the jobs macro: pyo3 must see its `Option` type.)
        #[pyo3(signature = (servers=None, **options))]
        fn start_gateway(
            &self,
            servers: Option<&Bound<'_, PyAny>>,
            options: Option<&Bound<'_, PyDict>>,
        ) -> PyResult<Call> {
            Ok(Call::new(self.gateway_job(servers, options)?))
        }

        /// Like `start_gateway`, blocking.
        #[pyo3(signature = (servers=None, **options))]
        fn start_gateway_sync(
            &self,
            py: Python<'_>,
            servers: Option<&Bound<'_, PyAny>>,
            options: Option<&Bound<'_, PyDict>>,
        ) -> PyResult<Py<PyAny>> {
            runtime::block_on(py, self.gateway_job(servers, options)?)
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
    jobs {
        /// Adds (or replaces) a server. A replaced server's running instance is stopped.
        fn add_server | add_server_sync(&self, config: &Bound<'_, PyServerConfig>) =>
            { let config = config.get().0.clone(); self.with(|c, _| async move { c.add_server(config).await })? };

        /// Adds a server from a dict in any accepted form (corral's, e2b-mcp's, an
        /// `mcpServers` entry).
        fn add_server_from_dict | add_server_from_dict_sync(&self, name: String, config: &Bound<'_, PyAny>) =>
            { let config = convert::to_json(config)?; self.with(|c, _| async move { c.add_server_from_dict(&name, &config).await })? };

        /// Adds every server of an MCP client's document (`mcpServers`, `servers`, …: Claude
        /// Desktop, Cursor, VS Code, Codex, … — the README's table) or a corral document: a
        /// dict, or the path of a JSON/TOML file. Returns their names.
        /// For documents you trust: `mount_args=True` mounts the existing host paths each
        /// entry's arguments name, read-write at the same path (a `filesystem` server's
        /// directories); `expand_env=True` expands `${VAR}` and `${VAR:-default}` in its
        /// command, args, env, url and headers from this process's environment, as Claude Code.
        #[pyo3(signature = (path_or_dict, *, mount_args=false, expand_env=false))]
        fn load_mcp_servers | load_mcp_servers_sync(&self, path_or_dict: &Bound<'_, PyAny>, mount_args: bool, expand_env: bool) => {
            let options = LoadOptions::new(mount_args, expand_env);
            if path_or_dict.is_instance_of::<PyString>() || path_or_dict.hasattr("__fspath__")? {
                let path: PathBuf = path_or_dict.extract()?;
                self.with(move |c, _| async move { c.load_mcp_servers_file(&path, options).await })?
            } else {
                let document = convert::to_json(path_or_dict)?;
                self.with(move |c, _| async move { c.load_mcp_servers_value(&document, options).await })?
            }
        };

        /// Like `load_mcp_servers`, reading the document from a file (as in the other
        /// languages; `load_mcp_servers` takes a path too).
        #[pyo3(signature = (path, *, mount_args=false, expand_env=false))]
        fn load_mcp_servers_file | load_mcp_servers_file_sync(&self, path: PathBuf, mount_args: bool, expand_env: bool) => {
            let options = LoadOptions::new(mount_args, expand_env);
            self.with(move |c, _| async move { c.load_mcp_servers_file(&path, options).await })?
        };

        /// Like `load_mcp_servers`, for the document's text (JSON or TOML).
        #[pyo3(signature = (text, *, mount_args=false, expand_env=false))]
        fn load_mcp_servers_text | load_mcp_servers_text_sync(&self, text: String, mount_args: bool, expand_env: bool) => {
            let options = LoadOptions::new(mount_args, expand_env);
            self.with(move |c, _| async move { c.load_mcp_servers(&text, options).await })?
        };

        /// Removes a server, stopping it if it runs.
        fn remove_server | remove_server_sync(&self, name: String) =>
            self.with(|c, _| async move { c.remove_server(&name).await })?;

        /// The server's tools (all pages, filtered by its config; cached).
        fn discover_tools | discover_tools_sync(&self, server: String) => self.with(|c, _| async move {
            c.discover_tools(&server).await.map(all::<_, PyTool>)
        })?;

        /// Calls a tool. `timeout` and `max_total` are seconds; `on_progress` receives
        /// `Progress` reports (on the event loop's thread); `cancel` is a `CancelToken`.
        #[pyo3(signature = (server, tool, params=None, *, timeout=None, max_total=None, on_progress=None, cancel=None))]
        #[allow(clippy::too_many_arguments)]
        fn execute_tool | execute_tool_sync(
            &self,
            server: String,
            tool: String,
            params: Option<&Bound<'_, PyAny>>,
            timeout: Option<f64>,
            max_total: Option<f64>,
            on_progress: Option<Py<PyAny>>,
            cancel: Option<&Bound<'_, CancelToken>>,
        ) => {
            let (args, call) = (convert::opt_to_json(params)?, CallArgs::new(timeout, max_total, on_progress, cancel)?);
            self.with(|c, ctx| async move {
                c.execute_tool_with(&server, &tool, args, call.options(&ctx)).await.map(PyToolResult::from)
            })?
        };

        /// One-shot: starts `command` (a command line or a `ServerConfig`) in a fresh sandbox,
        /// calls `tool` (`timeout` in seconds), stops it.
        #[pyo3(signature = (command, tool, params=None, *, timeout=None))]
        fn quick | quick_sync(
            &self,
            command: &Bound<'_, PyAny>,
            tool: String,
            params: Option<&Bound<'_, PyAny>>,
            timeout: Option<f64>,
        ) => {
            let args = convert::opt_to_json(params)?;
            let mut config = match command.cast::<PyServerConfig>() {
                Ok(c) => c.get().0.clone(),
                Err(_) => ServerConfig::command("quick", &command.extract::<String>()?).map_err(errors::from_core)?,
            };
            if let Some(timeout) = seconds("timeout", timeout)? {
                config.call_timeout = timeout;
            }
            self.with(|c, _| async move { c.quick_with(config, &tool, args).await.map(PyToolResult::from) })?
        };

        /// Builds template `name` from install commands (on top of template `base`): a
        /// content-addressed layer that servers and sandboxes start from (`template=name`).
        /// Building the same content again reuses it. Returns its `TemplateInfo`.
        #[pyo3(signature = (name, install_commands, *, base=None))]
        fn build_template | build_template_sync(&self, name: String, install_commands: Vec<String>, base: Option<String>) =>
            self.with(|c, _| async move {
                c.build_template(&name, &install_commands, base.as_deref()).await.map(PyTemplateInfo)
            })?;

        /// The built templates (`TemplateInfo`, with their size on disk).
        fn list_templates | list_templates_sync(&self) => self.with(|c, _| async move {
            Ok(all::<_, PyTemplateInfo>(c.list_templates()))
        })?;

        /// Removes a template (sandboxes running from it keep it until they stop).
        fn remove_template | remove_template_sync(&self, name: String) =>
            self.with(|c, _| async move { c.remove_template(&name) })?;

        /// Removes server layers that no configured server uses any more. Returns a
        /// `PruneReport`.
        fn prune | prune_sync(&self) => self.with(|c, _| async move {
            c.prune().map(PyPruneReport)
        })?;

        /// Stops every gateway, server and sandbox. Idempotent; later calls fail with
        /// `ClosedError`.
        fn close | close_sync(&self) => self.with(|c, _| async move {
            c.close().await;
            Ok(())
        })?;
    }
}
}
