//! corral's error kinds as Python exceptions: one class per kind, all subclasses of
//! `CorralError`, each with `.kind` (the stable code), `.message`, `.field` (the config path,
//! or `None`) and `.retryable`.
//! `TimeoutError` is also a builtin `TimeoutError`; the config and argument errors are also
//! `ValueError`s; not-found errors are `LookupError`s; `TransportError` is a
//! `ConnectionError` and `IoError` an `OSError`.

use corral_core::{Error, ErrorKind};
use pyo3::{
    exceptions::{
        PyConnectionError, PyException, PyLookupError, PyOSError, PyTimeoutError, PyValueError,
    },
    prelude::*,
    sync::PyOnceLock,
    types::{PyDict, PyTuple, PyType},
};

/// The builtin exception a kind's class also derives from.
#[derive(Clone, Copy)]
enum Also {
    Value,
    Lookup,
    Timeout,
    Connection,
    Os,
}

impl Also {
    fn class(self, py: Python<'_>) -> Bound<'_, PyType> {
        match self {
            Also::Value => py.get_type::<PyValueError>(),
            Also::Lookup => py.get_type::<PyLookupError>(),
            Also::Timeout => py.get_type::<PyTimeoutError>(),
            Also::Connection => py.get_type::<PyConnectionError>(),
            Also::Os => py.get_type::<PyOSError>(),
        }
    }
}

/// The class name of each kind, its docstring, and the builtin it also derives from.
fn class_of(kind: ErrorKind) -> (&'static str, &'static str, Option<Also>) {
    use Also::*;
    match kind {
        ErrorKind::ConfigInvalid => (
            "ConfigInvalidError",
            "A server or sandbox configuration is malformed; the message names the field.",
            Some(Value),
        ),
        ErrorKind::InvalidArgument => (
            "InvalidArgumentError",
            "An argument is unusable (for example tool arguments that are not an object).",
            Some(Value),
        ),
        ErrorKind::ServerNotFound => (
            "ServerNotFoundError",
            "No server of that name is configured.",
            Some(Lookup),
        ),
        ErrorKind::ToolNotFound => (
            "ToolNotFoundError",
            "The server has no such tool (or its filter hides it).",
            Some(Lookup),
        ),
        ErrorKind::SandboxFailed => (
            "SandboxFailedError",
            "The sandbox could not be created or used.",
            None,
        ),
        ErrorKind::InstallFailed => (
            "InstallFailedError",
            "An install command failed (exit code and output tail in the message).",
            None,
        ),
        ErrorKind::ServerStartFailed => (
            "ServerStartFailedError",
            "The server did not start or did not complete the MCP handshake.",
            None,
        ),
        ErrorKind::ServerCrashed => (
            "ServerCrashedError",
            "The server exited or was killed during a call (retryable).",
            None,
        ),
        ErrorKind::Timeout => (
            "TimeoutError",
            "A call exceeded its timeout (retryable); also a builtin TimeoutError.",
            Some(Timeout),
        ),
        ErrorKind::Cancelled => (
            "CancelledError",
            "The call was cancelled through its CancelToken.",
            None,
        ),
        ErrorKind::Protocol => (
            "ProtocolError",
            "The server broke MCP (for example wrote non-JSON to stdout).",
            None,
        ),
        ErrorKind::McpError => (
            "McpError",
            "The server answered with a JSON-RPC error.",
            None,
        ),
        ErrorKind::Auth => (
            "AuthError",
            "A remote server refused the credentials.",
            None,
        ),
        ErrorKind::Transport => (
            "TransportError",
            "A remote server could not be reached (retryable).",
            Some(Connection),
        ),
        ErrorKind::Io => ("IoError", "A file operation failed.", Some(Os)),
        ErrorKind::E2bApi => ("E2bApiError", "The E2B cloud API failed.", None),
        ErrorKind::Closed => ("ClosedError", "The Corral was closed.", None),
        _ => ("CorralError", "", None),
    }
}

struct Classes {
    base: Py<PyType>,
    by_kind: Vec<(ErrorKind, Py<PyType>)>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn new_class<'py>(
    py: Python<'py>,
    name: &str,
    doc: &str,
    bases: Bound<'py, PyTuple>,
    kind: Option<ErrorKind>,
) -> PyResult<Bound<'py, PyType>> {
    let namespace = PyDict::new(py);
    namespace.set_item("__module__", "corral")?;
    namespace.set_item("__doc__", doc)?;
    namespace.set_item("kind", kind.map(ErrorKind::code))?;
    namespace.set_item("retryable", kind.is_some_and(ErrorKind::is_retryable))?;
    namespace.set_item("message", "")?;
    namespace.set_item("field", py.None())?;
    let class = py.get_type::<PyType>().call1((name, bases, namespace))?;
    Ok(class.cast_into::<PyType>()?)
}

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let base = new_class(
            py,
            "CorralError",
            "Base class of every corral error. `.kind` is the stable code (e.g. `SERVER_NOT_FOUND`); \
             match on it or on the subclass, never on the message.",
            PyTuple::new(py, [py.get_type::<PyException>()])?,
            None,
        )?;
        let mut by_kind = Vec::new();
        for kind in ErrorKind::ALL {
            let (name, doc, builtin) = class_of(*kind);
            let bases = match builtin {
                Some(b) => PyTuple::new(py, [base.clone(), b.class(py)])?,
                None => PyTuple::new(py, [base.clone()])?,
            };
            by_kind.push((*kind, new_class(py, name, doc, bases, Some(*kind))?.unbind()));
        }
        Ok(Classes {
            base: base.unbind(),
            by_kind,
        })
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let classes = classes(m.py())?;
    m.add("CorralError", classes.base.bind(m.py()))?;
    for (kind, class) in &classes.by_kind {
        m.add(class_of(*kind).0, class.bind(m.py()))?;
    }
    Ok(())
}

/// The Python exception of a core error.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let classes = classes(py)?;
        let class = classes
            .by_kind
            .iter()
            .find(|(k, _)| *k == e.kind())
            .map(|(_, c)| c)
            .unwrap_or(&classes.base)
            .bind(py);
        let instance = class.call1((e.message(),))?;
        instance.setattr("kind", e.kind().code())?;
        instance.setattr("message", e.message())?;
        instance.setattr("retryable", e.is_retryable())?;
        instance.setattr("field", e.field())?;
        Ok(PyErr::from_value(instance))
    };
    build().unwrap_or_else(|err| err)
}

/// A `ClosedError` with a message of the binding's own.
pub fn closed(message: &str) -> PyErr {
    Python::attach(|py| to_py(py, Error::new(ErrorKind::Closed, message)))
}

/// An `InvalidArgumentError` with a message of the binding's own.
pub fn invalid_argument(message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| to_py(py, Error::new(ErrorKind::InvalidArgument, message)))
}
