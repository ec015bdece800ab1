//! `Sandbox`: a sandbox of your own for commands and files. Created by `async with
//! corral.sandbox(...) as sb`, `with ...`, or `await corral.sandbox(...)`; killed on exit, on
//! `close()`, or when its corral closes.

use std::{collections::BTreeMap, sync::OnceLock};

use corral_core::{Command, Corral, SandboxConfig, SandboxHandle};
use pyo3::{
    prelude::*,
    types::{PyBytes, PyString, PyTuple},
};

use crate::{
    errors,
    runtime::{self, Call, Job, Owned, job},
    types::PyExecOutput,
};

#[pyclass(frozen, module = "corral", name = "Sandbox")]
pub struct PySandbox {
    corral: Owned<Corral>,
    config: SandboxConfig,
    /// Written into the sandbox when it opens.
    files: Vec<(String, Vec<u8>)>,
    open: OnceLock<Owned<SandboxHandle>>,
}

/// A file's content as Python gives it: bytes, or str as UTF-8.
pub fn bytes_of(data: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    match data.cast::<PyString>() {
        Ok(s) => Ok(s.to_str()?.as_bytes().to_vec()),
        Err(_) => data.extract(),
    }
}

/// Bytes as a Python `bytes` object (for `read_file`).
struct Data(Vec<u8>);

impl<'py> IntoPyObject<'py> for Data {
    type Target = PyBytes;
    type Output = Bound<'py, PyBytes>;
    type Error = std::convert::Infallible;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(PyBytes::new(py, &self.0))
    }
}

impl PySandbox {
    pub fn new(corral: Corral, config: SandboxConfig, files: Vec<(String, Vec<u8>)>) -> Self {
        Self {
            corral: Owned::new(corral),
            config,
            files,
            open: OnceLock::new(),
        }
    }

    fn handle(&self) -> PyResult<SandboxHandle> {
        match self.open.get() {
            Some(h) => h.get().cloned(),
            None => Err(errors::closed(
                "the sandbox is not open: use `async with corral.sandbox() as sb` (or `with`, or `await`)",
            )),
        }
    }

    fn open_job(slf: Py<Self>) -> PyResult<Job> {
        let this = slf.get();
        let (corral, config) = (this.corral.get()?.clone(), this.config.clone());
        let files = this.files.clone();
        Ok(job(move |_| async move {
            if slf.get().open.get().is_none() {
                let handle = corral.sandbox(config).await?;
                for (path, data) in &files {
                    if let Err(e) = handle.write_file(path, data).await {
                        let _ = handle.close().await;
                        return Err(e);
                    }
                }
                if let Err(extra) = slf.get().open.set(Owned::new(handle)) {
                    // Opened twice concurrently: keep the first, kill the other.
                    if let Ok(h) = extra.get() {
                        let _ = h.close().await;
                    }
                }
            }
            Ok(slf)
        }))
    }

    fn exec_job(
        &self,
        command: &Bound<'_, PyAny>,
        env: Option<BTreeMap<String, String>>,
        cwd: Option<String>,
        stdin: Option<Vec<u8>>,
        timeout: Option<f64>,
    ) -> PyResult<Job> {
        let handle = self.handle()?;
        let mut command = if command.is_instance_of::<PyString>() {
            Command::shell(command.extract::<String>()?)
        } else {
            Command::new(command.extract::<Vec<String>>()?)
        };
        command.env = env.unwrap_or_default();
        command.cwd = cwd;
        command.stdin = stdin;
        command.timeout = crate::runner::seconds("timeout", timeout)?;
        Ok(job(move |_| async move {
            handle.exec_command(command).await.map(PyExecOutput)
        }))
    }

    fn read_job(&self, path: String) -> PyResult<Job> {
        let handle = self.handle()?;
        Ok(job(move |_| async move {
            handle.read_file(&path).await.map(Data)
        }))
    }

    fn write_job(&self, path: String, data: &Bound<'_, PyAny>) -> PyResult<Job> {
        let handle = self.handle()?;
        let data = bytes_of(data)?;
        Ok(job(move |_| async move {
            handle.write_file(&path, &data).await
        }))
    }

    fn close_job(&self) -> Job {
        let handle = self.open.get().and_then(|h| h.get().ok().cloned());
        job(move |_| async move {
            match handle {
                Some(h) => h.close().await,
                None => Ok(()),
            }
        })
    }
}

runtime::pymethods_with_jobs! {
impl PySandbox {
    plain {
        /// The sandbox's id.
        #[getter]
        fn id(&self) -> PyResult<String> {
            Ok(self.handle()?.id().to_owned())
        }

        fn __await__(slf: Py<Self>) -> PyResult<Call> {
            Ok(Call::new(Self::open_job(slf)?))
        }

        fn __aenter__(slf: Py<Self>) -> PyResult<Call> {
            Ok(Call::new(Self::open_job(slf)?))
        }

        #[pyo3(signature = (*_exc))]
        fn __aexit__(&self, _exc: &Bound<'_, PyTuple>) -> PyResult<Call> {
            self.close()
        }

        fn __enter__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
            runtime::block_on(py, Self::open_job(slf)?)
        }

        #[pyo3(signature = (*_exc))]
        fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<()> {
            self.close_sync(py)?;
            Ok(())
        }

        fn __repr__(&self) -> String {
            match self.open.get().and_then(|h| h.get().ok()) {
                Some(h) => format!("Sandbox(id={:?})", h.id()),
                None => format!("Sandbox(name={:?}, not open)", self.config.name),
            }
        }
    }
    jobs {
        /// Runs a command to completion: a string runs with `sh -c`, a list as program and
        /// arguments. `timeout` is in seconds.
        #[pyo3(signature = (command, *, env=None, cwd=None, stdin=None, timeout=None))]
        #[allow(clippy::too_many_arguments)]
        fn exec | exec_sync(
            &self,
            command: &Bound<'_, PyAny>,
            env: Option<BTreeMap<String, String>>,
            cwd: Option<String>,
            stdin: Option<Vec<u8>>,
            timeout: Option<f64>,
        ) => self.exec_job(command, env, cwd, stdin, timeout)?;

        /// Reads a file as the sandbox sees it.
        fn read_file | read_file_sync(&self, path: String) => self.read_job(path)?;

        /// Writes a file (bytes, or str as UTF-8) as the sandbox sees it.
        fn write_file | write_file_sync(&self, path: String, data: &Bound<'_, PyAny>) =>
            self.write_job(path, data)?;

        /// Kills everything in the sandbox. Idempotent.
        fn close | close_sync(&self) => self.close_job();
    }
}
}
