//! Python views of the core's data. Each class holds the core value; its attributes are the
//! fields of the value's canonical serde form (`core/src/boundary.rs`: the snake_case attribute
//! reads the camelCase key), converted by `pythonize`, and `to_dict()` is that whole form.
//! Only what the form cannot say (bytes, paths, content subclasses) is written out here.

use corral_core::{
    Content, ExecOutput, LogMessage, Progress, Prompt, PromptMessage, PromptResult, PruneReport,
    Resource, ResourceContents, ServerConfig, ServerHealth, StartEvent, TemplateInfo, Tool,
    ToolResult,
};
use pyo3::{
    prelude::*,
    sync::PyOnceLock,
    types::{PyBytes, PyDict, PyList},
};
use serde::Serialize;
use serde_json::Value;

use crate::{convert, errors};

/// `key` (snake_case, read as camelCase) of a value's canonical form; `None` when absent.
pub fn field<'py>(
    py: Python<'py>,
    value: &impl Serialize,
    key: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let mut camel = String::new();
    let mut upper = false;
    for c in key.trim_start_matches("r#").chars() {
        match c {
            '_' => upper = true,
            c if upper => (camel.push(c.to_ascii_uppercase()), upper = false).1,
            c => camel.push(c),
        }
    }
    let json = serde_json::to_value(value).unwrap_or(Value::Null);
    match json.get(&camel) {
        Some(v) => convert::to_py(py, v),
        None => Ok(py.None().into_bound(py)),
    }
}

/// `Class(key=repr, ...)` over the attributes `keys` that are not `None` (long values cut).
fn repr(obj: &Bound<'_, PyAny>, keys: &[&str]) -> PyResult<String> {
    let mut parts = Vec::new();
    for key in keys {
        let value = obj.getattr(*key)?;
        if !value.is_none() {
            let mut text = value.repr()?.to_string();
            if text.len() > 60 {
                text.truncate(text.floor_char_boundary(60));
                text.push('…');
            }
            parts.push(format!("{key}={text}"));
        }
    }
    Ok(format!("{}({})", obj.get_type().name()?, parts.join(", ")))
}

/// Frozen, comparable (`==`) classes over core values: `Class(core) = "Name" [attributes]
/// repr [attributes] { other methods }`, each attribute a field of the canonical form.
macro_rules! views {
    ($(
        $(#[$doc:meta])* $py:ident($core:ty) = $name:literal [$($f:ident $(or $empty:ident)?),*] repr [$($r:ident),*]
        $(new(name, * $(, $kw:ident)*))? { $($extra:tt)* }
    )*) => {
        pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
            $( m.add_class::<$py>()?; )*
            m.add_class::<PyContent>()?;
            register_content(m)
        }
        $(
            $(#[$doc])*
            #[pyclass(frozen, eq, module = "corral", name = $name)]
            #[derive(PartialEq)]
            pub struct $py(pub $core);

            impl From<$core> for $py {
                fn from(value: $core) -> Self {
                    Self(value)
                }
            }

            #[pymethods]
            impl $py {
                $(
                    #[getter]
                    fn $f<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                        let value = field(py, &self.0, stringify!($f));
                        $( let value = value.map(|v| if v.is_none() { $empty(py) } else { v }); )?
                        value
                    }
                )*
                /// The canonical camelCase JSON form.
                fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                    convert::to_py(py, &self.0)
                }
                fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
                    repr(slf.as_any(), &[$(stringify!($r)),*])
                }
                $(
                    #[new]
                    #[pyo3(signature = (name, * $(, $kw=None)*))]
                    #[allow(clippy::too_many_arguments)]
                    fn py_new(name: &str $(, $kw: Option<&Bound<'_, PyAny>>)*) -> PyResult<Self> {
                        let form = convert::kwargs(&[$((stringify!($kw), $kw)),*])?;
                        <$core>::from_value(name, &form)
                            .map(Self)
                            .map_err(errors::from_core)
                    }
                )?
                $($extra)*
            }
        )*
    };
}

views! {
    /// One MCP server: a `command` run in a sandbox, or a remote `url`. Keyword arguments are
    /// the fields of corral's config form (see the README); the config is validated at once.
    /// `to_dict()` holds `env` and `headers` values: treat it as secret.
    PyServerConfig(ServerConfig) = "ServerConfig"
        [name, command, url, cwd, description, timeout_minutes, call_timeout_seconds, network,
         allow_tools, template, headers or dict, env or dict, files or dict, limits or dict,
         mounts or list, install_commands or list, deny_tools or list, tags or list]
        repr [name, command, url] // never env or headers: they hold secrets
        new(name, *, command, args, url, headers, env, install_commands, cwd, description,
            timeout_minutes, call_timeout_seconds, network, mounts, limits, allow_tools,
            deny_tools, tags, template, files)
    {
        /// Parses any accepted form: corral's own, the e2b-mcp dict, or one `mcpServers` entry.
        #[staticmethod]
        fn from_dict(name: &str, config: &Bound<'_, PyAny>) -> PyResult<Self> {
            ServerConfig::from_value(name, &convert::to_json(config)?)
                .map(Self)
                .map_err(errors::from_core)
        }
        /// Whether this is a remote (URL) server.
        #[getter]
        fn is_remote(&self) -> bool {
            self.0.is_remote()
        }
    }

    /// A tool a server offers.
    PyTool(Tool) = "Tool" [name, title, description, input_schema, output_schema, annotations]
        repr [name]
    {
        /// The OpenAI function-tool form: `{"type": "function", "function": {...}}`.
        fn to_openai<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            convert::to_py(py, &self.0.to_openai())
        }
        /// The Anthropic Messages API tool form: `{"name", "description", "input_schema"}`.
        fn to_anthropic<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            convert::to_py(py, &self.0.to_anthropic())
        }
    }

    /// The result of a tool call. A tool that ran and reported failure is a result with
    /// `is_error=True`, not an exception.
    PyToolResult(Cached) = "ToolResult" [structured_content, is_error] repr [is_error, text] {
        /// The content items (`TextContent`, `ImageContent`, ...), one list per result.
        #[getter]
        fn content(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
            let items = || self.0.0.content.iter().map(|c| content_to_py(py, c.clone()));
            let list = self.0.1.get_or_try_init(py, || PyList::new(py, items().collect::<PyResult<Vec<_>>>()?).map(Bound::unbind))?;
            Ok(list.clone_ref(py))
        }
        /// All text items joined with newlines.
        #[getter]
        fn text(&self) -> String {
            self.0.0.text()
        }
    }

    /// A resource a server offers.
    PyResource(Resource) = "Resource" [uri, name, description, mime_type] repr [uri, name] {}

    /// One piece of a read resource: `text`, or `blob` (base64).
    PyResourceContents(ResourceContents) = "ResourceContents" [uri, mime_type, text, blob]
        repr [uri] {}

    /// A prompt template a server offers; `arguments` are `{"name", "description",
    /// "required"}` dicts.
    PyPrompt(Prompt) = "Prompt" [name, description, arguments] repr [name] {}

    /// One message of a rendered prompt (`role`: `user` or `assistant`).
    PyPromptMessage(PromptMessage) = "PromptMessage" [role] repr [role] {
        #[getter]
        fn content(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            content_to_py(py, self.0.content.clone())
        }
    }

    /// A rendered prompt.
    PyPromptResult(PromptResult) = "PromptResult" [description] repr [description] {
        #[getter]
        fn messages(&self) -> Vec<PyPromptMessage> {
            all(self.0.messages.clone())
        }
    }

    /// A progress report of a running call.
    PyProgress(Progress) = "Progress" [progress, total, message]
        repr [progress, total, message] {}

    /// A log message a server sent (`level`: `debug`, `info`, `warning`, `error`, ...).
    PyLogMessage(LogMessage) = "LogMessage" [server, level, logger, data]
        repr [server, level] {}

    /// How a command in a sandbox ended (`exit_code` is `None` when the `signal` killed it),
    /// and what it wrote (`stdout`/`stderr` decoded as UTF-8, invalid bytes replaced).
    PyExecOutput(ExecOutput) = "ExecOutput" [exit_code, signal, stdout, stderr]
        repr [exit_code, signal] {
        /// Exited with code 0.
        #[getter]
        fn ok(&self) -> bool {
            self.0.status.success()
        }
        #[getter]
        fn stdout_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
            PyBytes::new(py, &self.0.stdout)
        }
        #[getter]
        fn stderr_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
            PyBytes::new(py, &self.0.stderr)
        }
    }

    /// What happens while a server starts (`set_start_callback`): `type` is `installStarted`,
    /// `installFinished`, `serverStarting` or `serverReady`; the other fields are `None` where
    /// they do not apply. `to_dict()` is the canonical tagged form.
    PyStartEvent(StartEvent) = "StartEvent"
        [r#type, server, index, total, command, status, output, protocol_version]
        repr [r#type, server] {}

    /// A built template (`build_template`, `list_templates`): `id` is the content id (hash of
    /// the base's id and the install commands), `size_bytes` its layer's size on disk.
    PyTemplateInfo(TemplateInfo) = "TemplateInfo" [name, id, base, install_commands, size_bytes]
        repr [name, id] {}

    /// What `prune()` removed.
    PyPruneReport(PruneReport) = "PruneReport" [freed_bytes] repr [freed_bytes] {
        #[getter]
        fn removed(&self) -> Vec<std::path::PathBuf> {
            self.0.removed.clone()
        }
    }

    /// One gateway server's health (`Gateway.servers()`): `state` is `starting`, `ready`,
    /// `failed` or `restarting`; `restart_in_ms` the time to the next restart when failed.
    PyServerHealth(ServerHealth) = "ServerHealth"
        [name, state, tool_count, last_error, restart_in_ms, restarts]
        repr [name, state, tool_count] {}
}

/// A tool result with its content list, made once.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Cached(ToolResult, #[serde(skip)] PyOnceLock<Py<PyList>>);

impl PartialEq for Cached {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

/// The views of a list of core values.
pub fn all<T, V: From<T>>(items: Vec<T>) -> Vec<V> {
    items.into_iter().map(V::from).collect()
}

impl From<ToolResult> for PyToolResult {
    fn from(result: ToolResult) -> Self {
        Self(Cached(result, PyOnceLock::new()))
    }
}

fn dict(py: Python<'_>) -> Bound<'_, PyAny> {
    PyDict::new(py).into_any()
}

fn list(py: Python<'_>) -> Bound<'_, PyAny> {
    PyList::empty(py).into_any()
}

// ---------------------------------------------------------------------------------------------
// Content items: one base class, a subclass per kind

/// One item of a tool result or prompt message. The concrete classes are `TextContent`,
/// `ImageContent`, `AudioContent`, `EmbeddedResource` and `ResourceLink`.
#[pyclass(frozen, eq, subclass, module = "corral", name = "Content")]
#[derive(PartialEq)]
pub struct PyContent(pub Content);

#[pymethods]
impl PyContent {
    /// `text`, `image`, `audio`, `resource` or `resource_link`.
    #[getter]
    fn r#type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        field(py, &self.0, "type")
    }
    /// The text of a text item or embedded text resource, else `None`.
    #[getter]
    fn text(&self) -> Option<&str> {
        self.0.as_text()
    }
    /// The MCP JSON form of the item.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &self.0)
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let keys: &[&str] = match slf.get().0 {
            Content::Text { .. } => &["text"],
            Content::Image { .. } | Content::Audio { .. } => &["mime_type"],
            Content::Resource { .. } => &["resource"],
            Content::ResourceLink { .. } => &["uri"],
        };
        repr(slf.as_any(), keys)
    }
}

/// The content subclasses: `Class = "Name" [attributes of the item's MCP form]`.
macro_rules! content_kinds {
    ($($(#[$doc:meta])* $class:ident = $name:literal [$($f:ident),*];)*) => {
        fn register_content(m: &Bound<'_, PyModule>) -> PyResult<()> {
            $( m.add_class::<$class>()?; )*
            Ok(())
        }
        $(
            $(#[$doc])*
            #[pyclass(frozen, extends = PyContent, module = "corral", name = $name)]
            pub struct $class;

            #[pymethods]
            impl $class {
                $(
                    #[getter]
                    fn $f<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
                        field(slf.py(), &slf.as_super().get().0, stringify!($f))
                    }
                )*
            }
        )*
    };
}

content_kinds! {
    /// A text item.
    TextContent = "TextContent" [];
    /// A base64 image.
    ImageContent = "ImageContent" [data, mime_type];
    /// Base64 audio.
    AudioContent = "AudioContent" [data, mime_type];
    /// An embedded resource: `resource` is `{"uri", "mimeType", "text" | "blob"}`.
    EmbeddedResource = "EmbeddedResource" [resource];
    /// A link to a resource the client may read.
    ResourceLink = "ResourceLink" [uri, name, mime_type, description];
}

/// A content item as an instance of its concrete class.
pub fn content_to_py(py: Python<'_>, c: Content) -> PyResult<Py<PyAny>> {
    let base = PyClassInitializer::from(PyContent(c.clone()));
    Ok(match c {
        Content::Text { .. } => Py::new(py, base.add_subclass(TextContent))?.into_any(),
        Content::Image { .. } => Py::new(py, base.add_subclass(ImageContent))?.into_any(),
        Content::Audio { .. } => Py::new(py, base.add_subclass(AudioContent))?.into_any(),
        Content::Resource { .. } => Py::new(py, base.add_subclass(EmbeddedResource))?.into_any(),
        Content::ResourceLink { .. } => Py::new(py, base.add_subclass(ResourceLink))?.into_any(),
    })
}
