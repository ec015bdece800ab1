//! `ServerSession`: a handle on one server's warm session (resources, prompts, repeated calls).
//! Opened by `async with corral.session(name) as s`, `with ...`, or `await corral.session(name)`.

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicBool, Ordering},
};

use corral_core::{Corral, ServerSession};
use pyo3::prelude::*;

use crate::{
    convert, errors,
    runner::CallArgs,
    runtime::{self, Call, CancelToken, Job, Owned, with},
    types::{PyPrompt, PyPromptResult, PyResource, PyResourceContents, PyTool, PyToolResult, all},
};

/// A handle on a server's warm session; the session stays running after the handle goes.
/// Closing the handle (`close()`, leaving `async with`/`with`) ends the handle only: calls on
/// it fail with `ClosedError` afterwards, the server stays warm for other callers.
#[pyclass(frozen, module = "corral", name = "ServerSession")]
pub struct PyServerSession {
    corral: Owned<Corral>,
    server: String,
    open: OnceLock<Owned<Arc<ServerSession>>>,
    ended: AtomicBool,
}

impl PyServerSession {
    pub fn new(corral: Corral, server: String) -> Self {
        Self {
            corral: Owned::new(corral),
            server,
            open: OnceLock::new(),
            ended: AtomicBool::new(false),
        }
    }

    fn handle(&self) -> PyResult<Arc<ServerSession>> {
        let server = &self.server;
        if self.ended.load(Ordering::SeqCst) {
            return Err(errors::closed(&format!(
                "this session handle of `{server}` was closed; open a new one with corral.session(...)"
            )));
        }
        match self.open.get() {
            Some(s) => s.get().cloned(),
            None => Err(errors::closed(&format!(
                "the session of `{server}` is not open: use `async with corral.session(...) as s` (or `with`, or `await`)"
            ))),
        }
    }

    fn open_job(slf: Py<Self>) -> PyResult<Job> {
        let this = slf.get();
        if this.ended.load(Ordering::SeqCst) {
            this.handle()?;
        }
        let (corral, server) = (this.corral.get()?.clone(), this.server.clone());
        with(Ok(slf), move |slf, _| async move {
            if slf.get().open.get().is_none() {
                let session = corral.session(&server).await?;
                let _ = slf.get().open.set(Owned::new(Arc::new(session)));
            }
            Ok(slf)
        })
    }
}

runtime::pymethods_with_jobs! {
impl PyServerSession {
    context(Self::open_job);
    plain {
        fn __await__(slf: Py<Self>) -> PyResult<Call> {
            Ok(Call::new(Self::open_job(slf)?))
        }

        /// The server's name.
        #[getter]
        fn server(&self) -> &str {
            &self.server
        }

        /// This server instance's id (it changes when the server restarts).
        #[getter]
        fn session_id(&self) -> PyResult<String> {
            Ok(self.handle()?.session_id().to_owned())
        }

        /// The sandbox's id (`None` for a remote server).
        #[getter]
        fn sandbox_id(&self) -> PyResult<Option<String>> {
            Ok(self.handle()?.sandbox_id().map(str::to_owned))
        }

        /// The negotiated MCP protocol version, e.g. `2025-11-25` or `2026-07-28`.
        #[getter]
        fn protocol_version(&self) -> PyResult<String> {
            Ok(self.handle()?.protocol_version().to_owned())
        }

        /// Whether this handle was closed.
        #[getter]
        fn closed(&self) -> bool {
            self.ended.load(Ordering::SeqCst)
        }

        /// The last lines the server wrote to stderr.
        fn stderr_tail(&self) -> PyResult<String> {
            Ok(self.handle()?.stderr_tail())
        }

        fn __repr__(&self) -> String {
            match self.open.get().and_then(|s| s.get().ok()) {
                Some(_) if self.closed() => format!("ServerSession(server={:?}, closed)", self.server),
                Some(s) => format!("ServerSession(server={:?}, session_id={:?})", self.server, s.session_id()),
                None => format!("ServerSession(server={:?}, not open)", self.server),
            }
        }
    }
    jobs {
        /// Ends this handle (idempotent); the server stays warm for other callers.
        fn close | close_sync(&self) => {
            self.ended.store(true, Ordering::SeqCst);
            if let Some(session) = self.open.get().and_then(|s| s.get().ok()) {
                session.close();
            }
            runtime::ready(())?
        };

        /// The server's tools.
        fn list_tools | list_tools_sync(&self) =>
            with(self.handle(), |s, _| async move { s.list_tools().await.map(all::<_, PyTool>) })?;

        /// Calls a tool on this session (same options as `Corral.execute_tool`).
        #[pyo3(signature = (tool, params=None, *, timeout=None, max_total=None, on_progress=None, cancel=None))]
        #[allow(clippy::too_many_arguments)]
        fn call_tool | call_tool_sync(
            &self,
            tool: String,
            params: Option<&Bound<'_, PyAny>>,
            timeout: Option<f64>,
            max_total: Option<f64>,
            on_progress: Option<Py<PyAny>>,
            cancel: Option<&Bound<'_, CancelToken>>,
        ) => {
            let (args, call) = (convert::opt_to_json(params)?, CallArgs::new(timeout, max_total, on_progress, cancel)?);
            with(self.handle(), |s, ctx| async move {
                s.call_tool_with(&tool, args, call.options(&ctx)).await.map(PyToolResult::from)
            })?
        };

        /// The server's resources.
        fn list_resources | list_resources_sync(&self) =>
            with(self.handle(), |s, _| async move { s.list_resources().await.map(all::<_, PyResource>) })?;

        /// The contents of one resource.
        fn read_resource | read_resource_sync(&self, uri: String) =>
            with(self.handle(), |s, _| async move { s.read_resource(&uri).await.map(all::<_, PyResourceContents>) })?;

        /// The server's prompts.
        fn list_prompts | list_prompts_sync(&self) =>
            with(self.handle(), |s, _| async move { s.list_prompts().await.map(all::<_, PyPrompt>) })?;

        /// One prompt, rendered with `args`.
        #[pyo3(signature = (name, args=None))]
        fn get_prompt | get_prompt_sync(&self, name: String, args: Option<&Bound<'_, PyAny>>) => {
            let args = convert::opt_to_json(args)?;
            with(self.handle(), |s, _| async move { s.get_prompt(&name, args).await.map(PyPromptResult) })?
        };
    }
}
}
