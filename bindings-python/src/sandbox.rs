//! `Sandbox`: a sandbox of your own for commands and files. Created by `async with
//! corral.sandbox(...) as sb`, `with ...`, or `await corral.sandbox(...)`; killed on exit, on
//! `close()`, or when its corral closes.

use std::{borrow::Cow, collections::BTreeMap, sync::OnceLock};

use corral_core::{Command, Corral, SandboxConfig, SandboxHandle};
use pyo3::{prelude::*, types::PyString};

use crate::{
    errors,
    runtime::{self, Call, Job, Owned, with},
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
        with(Ok(slf), move |slf, _| async move {
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
        })
    }
}

runtime::pymethods_with_jobs! {
impl PySandbox {
    context(Self::open_job);
    plain {
        fn __await__(slf: Py<Self>) -> PyResult<Call> {
            Ok(Call::new(Self::open_job(slf)?))
        }

        /// The sandbox's id.
        #[getter]
        fn id(&self) -> PyResult<String> {
            Ok(self.handle()?.id().to_owned())
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
        ) => {
            let mut command = match command.extract::<String>() {
                Ok(line) => Command::shell(line),
                Err(_) => Command::new(command.extract::<Vec<String>>()?),
            };
            (command.env, command.cwd, command.stdin) = (env.unwrap_or_default(), cwd, stdin);
            command.timeout = crate::runner::seconds("timeout", timeout)?;
            with(self.handle(), |h, _| async move { h.exec_command(command).await.map(PyExecOutput) })?
        };

        /// Reads a file as the sandbox sees it.
        fn read_file | read_file_sync(&self, path: String) => with(self.handle(), |h, _| async move {
            h.read_file(&path).await.map(Cow::<[u8]>::Owned)
        })?;

        /// Writes a file (bytes, or str as UTF-8) as the sandbox sees it.
        fn write_file | write_file_sync(&self, path: String, data: &Bound<'_, PyAny>) =>
            with(Ok((self.handle()?, bytes_of(data)?)), |(h, data), _| async move {
                h.write_file(&path, &data).await
            })?;

        /// Kills everything in the sandbox. Idempotent.
        fn close | close_sync(&self) => {
            with(Ok(self.open.get().and_then(|h| h.get().ok().cloned())), |h, _| async move {
                match h {
                    Some(h) => h.close().await,
                    None => Ok(()),
                }
            })?
        };
    }
}
}
