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

/// The builtin exception a kind's class also derives from (the one per-kind choice of the
/// binding; names, docs and retryability come from the core's table).
fn builtin(py: Python<'_>, kind: ErrorKind) -> Option<Bound<'_, PyType>> {
    Some(match kind {
        ErrorKind::ConfigInvalid | ErrorKind::InvalidArgument => py.get_type::<PyValueError>(),
        ErrorKind::ServerNotFound | ErrorKind::ToolNotFound => py.get_type::<PyLookupError>(),
        ErrorKind::Timeout => py.get_type::<PyTimeoutError>(),
        ErrorKind::Transport => py.get_type::<PyConnectionError>(),
        ErrorKind::Io => py.get_type::<PyOSError>(),
        _ => return None,
    })
}

/// The class name of a kind, from its code: `SERVER_NOT_FOUND` → `ServerNotFoundError`,
/// `MCP_ERROR` → `McpError`, `E2B_API` → `E2bApiError`.
pub fn class_name(kind: ErrorKind) -> String {
    let mut name: String = kind
        .code()
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_string() + &chars.as_str().to_ascii_lowercase()
            })
        })
        .collect();
    if !name.ends_with("Error") {
        name.push_str("Error");
    }
    name
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
    namespace.set_item("code", kind.map(ErrorKind::code))?;
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
            let bases = match builtin(py, *kind) {
                Some(b) => PyTuple::new(py, [base.clone(), b])?,
                None => PyTuple::new(py, [base.clone()])?,
            };
            let class = new_class(py, &class_name(*kind), kind.doc(), bases, Some(*kind))?;
            by_kind.push((*kind, class.unbind()));
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
        m.add(class_name(*kind), class.bind(m.py()))?;
    }
    Ok(())
}

/// The Python exception of a core error (of the base `CorralError` for `kind: None`).
fn exception(py: Python<'_>, kind: Option<ErrorKind>, e: &Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let classes = classes(py)?;
        let class = classes.by_kind.iter().find(|(k, _)| Some(*k) == kind);
        let instance = class
            .map_or(&classes.base, |(_, c)| c)
            .bind(py)
            .call1((e.message(),))?;
        instance.setattr("message", e.message())?;
        if kind.is_some() {
            instance.setattr("kind", e.kind().code())?;
            instance.setattr("code", e.kind().code())?;
            instance.setattr("retryable", e.is_retryable())?;
            instance.setattr("field", e.field())?;
        }
        Ok(PyErr::from_value(instance))
    };
    build().unwrap_or_else(|err| err)
}

/// The Python exception of a core error.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    exception(py, Some(e.kind()), &e)
}

/// The Python exception of a core error, attaching to the interpreter.
pub fn from_core(e: Error) -> PyErr {
    Python::attach(|py| to_py(py, e))
}

/// A `ClosedError` with a message of the binding's own.
pub fn closed(message: &str) -> PyErr {
    from_core(Error::new(ErrorKind::Closed, message))
}

/// An `InvalidArgumentError` with a message of the binding's own.
pub fn invalid_argument(message: impl Into<String>) -> PyErr {
    from_core(Error::new(ErrorKind::InvalidArgument, message.into()))
}

/// A base `CorralError` (kind `None`) for a failure of the binding itself (a panic, a lost
/// runtime): never a bare `RuntimeError`.
pub fn internal(message: impl Into<String>) -> PyErr {
    let e = Error::new(ErrorKind::Io, message.into());
    Python::attach(|py| exception(py, None, &e))
}
