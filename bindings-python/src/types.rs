//! Python views of the core's data: server configs, tools, tool results and their content
//! items, resources, prompts, progress, log messages and command output. Each wraps the core
//! value; JSON fields come out as Python objects.

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
use serde_json::{Map, Value};

use crate::{convert, errors};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyServerConfig>()?;
    m.add_class::<PyTool>()?;
    m.add_class::<PyToolResult>()?;
    m.add_class::<PyContent>()?;
    m.add_class::<TextContent>()?;
    m.add_class::<ImageContent>()?;
    m.add_class::<AudioContent>()?;
    m.add_class::<EmbeddedResource>()?;
    m.add_class::<ResourceLink>()?;
    m.add_class::<PyResource>()?;
    m.add_class::<PyResourceContents>()?;
    m.add_class::<PyPrompt>()?;
    m.add_class::<PyPromptMessage>()?;
    m.add_class::<PyPromptResult>()?;
    m.add_class::<PyProgress>()?;
    m.add_class::<PyLogMessage>()?;
    m.add_class::<PyExecOutput>()?;
    m.add_class::<PyStartEvent>()?;
    m.add_class::<PyTemplateInfo>()?;
    m.add_class::<PyPruneReport>()?;
    m.add_class::<PyServerHealth>()?;
    Ok(())
}

fn serialized<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let json = serde_json::to_value(value).unwrap_or(Value::Null);
    Ok(convert::to_py(py, &json)?.unbind())
}

// ---------------------------------------------------------------------------------------------
// ServerConfig

/// One MCP server: a `command` run in a sandbox, or a remote `url`. Keyword arguments are the
/// fields of corral's config form (see the README); the config is validated at once.
#[pyclass(frozen, eq, module = "corral", name = "ServerConfig")]
#[derive(PartialEq)]
pub struct PyServerConfig {
    pub config: ServerConfig,
    form: Value,
}

impl PyServerConfig {
    pub fn new(config: ServerConfig) -> Self {
        let form = config.to_value();
        Self { config, form }
    }

    fn field(&self, py: Python<'_>, key: &str) -> PyResult<Py<PyAny>> {
        convert::opt_to_py(py, self.form.get(key))
    }
}

#[pymethods]
impl PyServerConfig {
    #[new]
    #[pyo3(signature = (
        name, *, command=None, args=None, url=None, headers=None, env=None, install_commands=None,
        cwd=None, description=None, timeout_minutes=None, call_timeout_seconds=None, network=None,
        mounts=None, limits=None, allow_tools=None, deny_tools=None, tags=None, template=None,
        files=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        py: Python<'_>,
        name: &str,
        command: Option<&Bound<'_, PyAny>>,
        args: Option<&Bound<'_, PyAny>>,
        url: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
        env: Option<&Bound<'_, PyAny>>,
        install_commands: Option<&Bound<'_, PyAny>>,
        cwd: Option<&Bound<'_, PyAny>>,
        description: Option<&Bound<'_, PyAny>>,
        timeout_minutes: Option<&Bound<'_, PyAny>>,
        call_timeout_seconds: Option<&Bound<'_, PyAny>>,
        network: Option<&Bound<'_, PyAny>>,
        mounts: Option<&Bound<'_, PyAny>>,
        limits: Option<&Bound<'_, PyAny>>,
        allow_tools: Option<&Bound<'_, PyAny>>,
        deny_tools: Option<&Bound<'_, PyAny>>,
        tags: Option<&Bound<'_, PyAny>>,
        template: Option<&Bound<'_, PyAny>>,
        files: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let fields = [
            ("command", command),
            ("args", args),
            ("url", url),
            ("headers", headers),
            ("env", env),
            ("install_commands", install_commands),
            ("cwd", cwd),
            ("description", description),
            ("timeout_minutes", timeout_minutes),
            ("call_timeout_seconds", call_timeout_seconds),
            ("network", network),
            ("mounts", mounts),
            ("limits", limits),
            ("allow_tools", allow_tools),
            ("deny_tools", deny_tools),
            ("tags", tags),
            ("template", template),
            ("files", files),
        ];
        let mut form = Map::new();
        for (key, value) in fields {
            if let Some(v) = value.filter(|v| !v.is_none()) {
                form.insert(key.to_owned(), convert::to_json(v)?);
            }
        }
        ServerConfig::from_value(name, &Value::Object(form))
            .map(Self::new)
            .map_err(|e| errors::to_py(py, e))
    }

    /// Parses any accepted form: corral's own, the e2b-mcp dict, or one `mcpServers` entry.
    #[staticmethod]
    fn from_dict(name: &str, config: &Bound<'_, PyAny>) -> PyResult<Self> {
        let value = convert::to_json(config)?;
        ServerConfig::from_value(name, &value)
            .map(Self::new)
            .map_err(|e| errors::to_py(config.py(), e))
    }

    /// This config in the canonical camelCase form (what `from_dict` reads back). It holds
    /// `env` and `headers` values: treat it as secret.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(convert::to_py(py, &self.form)?.unbind())
    }

    #[getter]
    fn name(&self) -> &str {
        &self.config.name
    }
    /// Program and arguments (`None` for a remote server).
    #[getter]
    fn command(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.field(py, "command")
    }
    #[getter]
    fn url(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.field(py, "url")
    }
    #[getter]
    fn headers(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.form.get("headers").map_or_else(
            || Ok(PyDict::new(py).into_any().unbind()),
            |v| Ok(convert::to_py(py, v)?.unbind()),
        )
    }
    #[getter]
    fn env(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.form.get("env").map_or_else(
            || Ok(PyDict::new(py).into_any().unbind()),
            |v| Ok(convert::to_py(py, v)?.unbind()),
        )
    }
    #[getter]
    fn install_commands(&self) -> Vec<String> {
        self.config.install_commands.clone()
    }
    #[getter]
    fn cwd(&self) -> Option<&str> {
        self.config.cwd.as_deref()
    }
    #[getter]
    fn description(&self) -> Option<&str> {
        self.config.description.as_deref()
    }
    #[getter]
    fn timeout_minutes(&self) -> f64 {
        self.config.idle_timeout.as_secs_f64() / 60.0
    }
    #[getter]
    fn call_timeout_seconds(&self) -> f64 {
        self.config.call_timeout.as_secs_f64()
    }
    #[getter]
    fn network(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.field(py, "network")
    }
    #[getter]
    fn mounts(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.form.get("mounts").map_or_else(
            || Ok(PyList::empty(py).into_any().unbind()),
            |v| Ok(convert::to_py(py, v)?.unbind()),
        )
    }
    #[getter]
    fn limits(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialized(py, &self.config.limits)
    }
    #[getter]
    fn allow_tools(&self) -> Option<Vec<String>> {
        self.config.tools.allow.clone()
    }
    #[getter]
    fn deny_tools(&self) -> Vec<String> {
        self.config.tools.deny.clone()
    }
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.config.tags.clone()
    }
    /// The template it starts from, if any.
    #[getter]
    fn template(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.field(py, "template")
    }
    /// Files written into the sandbox before the server starts (`{path: text}`).
    #[getter]
    fn files(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.form.get("files").map_or_else(
            || Ok(PyDict::new(py).into_any().unbind()),
            |v| Ok(convert::to_py(py, v)?.unbind()),
        )
    }
    /// Whether this is a remote (URL) server.
    #[getter]
    fn is_remote(&self) -> bool {
        self.config.is_remote()
    }

    fn __repr__(&self) -> String {
        // Never env or headers: they hold secrets.
        match (self.form.get("command"), self.form.get("url")) {
            (Some(c), _) => format!("ServerConfig(name={:?}, command={c})", self.config.name),
            (_, Some(u)) => format!("ServerConfig(name={:?}, url={u})", self.config.name),
            _ => format!("ServerConfig(name={:?})", self.config.name),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tool

/// A tool a server offers.
#[pyclass(frozen, eq, module = "corral", name = "Tool")]
#[derive(PartialEq)]
pub struct PyTool(pub Tool);

#[pymethods]
impl PyTool {
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    #[getter]
    fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    #[getter]
    fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// JSON Schema of the arguments.
    #[getter]
    fn input_schema(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(convert::to_py(py, &self.0.input_schema)?.unbind())
    }
    /// JSON Schema of `structured_content`, if the tool declares one.
    #[getter]
    fn output_schema(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        convert::opt_to_py(py, self.0.output_schema.as_ref())
    }
    /// Hints such as `readOnlyHint`, as the server sent them.
    #[getter]
    fn annotations(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        convert::opt_to_py(py, self.0.annotations.as_ref())
    }
    /// The OpenAI function-tool form: `{"type": "function", "function": {...}}`.
    fn to_openai(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(convert::to_py(py, &self.0.to_openai())?.unbind())
    }
    /// The Anthropic Messages API tool form: `{"name", "description", "input_schema"}`.
    fn to_anthropic(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(convert::to_py(py, &self.0.to_anthropic())?.unbind())
    }
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialized(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!("Tool(name={:?})", self.0.name)
    }
}

// ---------------------------------------------------------------------------------------------
// Content items

/// One item of a tool result or prompt message. The concrete classes are `TextContent`,
/// `ImageContent`, `AudioContent`, `EmbeddedResource` and `ResourceLink`.
#[pyclass(frozen, eq, subclass, module = "corral", name = "Content")]
#[derive(PartialEq)]
pub struct PyContent(pub Content);

#[pymethods]
impl PyContent {
    /// `text`, `image`, `audio`, `resource` or `resource_link`.
    #[getter]
    fn r#type(&self) -> &'static str {
        match self.0 {
            Content::Text { .. } => "text",
            Content::Image { .. } => "image",
            Content::Audio { .. } => "audio",
            Content::Resource { .. } => "resource",
            Content::ResourceLink { .. } => "resource_link",
        }
    }
    /// The text of a text item or embedded text resource, else `None`.
    #[getter]
    fn text(&self) -> Option<&str> {
        self.0.as_text()
    }
    /// The MCP JSON form of the item.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialized(py, &self.0)
    }
    fn __repr__(&self) -> String {
        match &self.0 {
            Content::Text { text } => format!("TextContent(text={text:?})"),
            Content::Image { mime_type, data } => format!(
                "ImageContent(mime_type={mime_type:?}, {} base64 chars)",
                data.len()
            ),
            Content::Audio { mime_type, data } => format!(
                "AudioContent(mime_type={mime_type:?}, {} base64 chars)",
                data.len()
            ),
            Content::Resource { resource } => format!(
                "EmbeddedResource(uri={})",
                resource.get("uri").unwrap_or(&Value::Null)
            ),
            Content::ResourceLink { uri, .. } => format!("ResourceLink(uri={uri:?})"),
        }
    }
}

/// A text item.
#[pyclass(frozen, extends = PyContent, module = "corral", name = "TextContent")]
pub struct TextContent;

/// A base64 image.
#[pyclass(frozen, extends = PyContent, module = "corral", name = "ImageContent")]
pub struct ImageContent;

#[pymethods]
impl ImageContent {
    #[getter]
    fn data(slf: &Bound<'_, Self>) -> String {
        match &slf.as_super().get().0 {
            Content::Image { data, .. } => data.clone(),
            _ => String::new(),
        }
    }
    #[getter]
    fn mime_type(slf: &Bound<'_, Self>) -> String {
        match &slf.as_super().get().0 {
            Content::Image { mime_type, .. } => mime_type.clone(),
            _ => String::new(),
        }
    }
}

/// Base64 audio.
#[pyclass(frozen, extends = PyContent, module = "corral", name = "AudioContent")]
pub struct AudioContent;

#[pymethods]
impl AudioContent {
    #[getter]
    fn data(slf: &Bound<'_, Self>) -> String {
        match &slf.as_super().get().0 {
            Content::Audio { data, .. } => data.clone(),
            _ => String::new(),
        }
    }
    #[getter]
    fn mime_type(slf: &Bound<'_, Self>) -> String {
        match &slf.as_super().get().0 {
            Content::Audio { mime_type, .. } => mime_type.clone(),
            _ => String::new(),
        }
    }
}

/// An embedded resource: `resource` is `{"uri", "mimeType", "text" | "blob"}`.
#[pyclass(frozen, extends = PyContent, module = "corral", name = "EmbeddedResource")]
pub struct EmbeddedResource;

#[pymethods]
impl EmbeddedResource {
    #[getter]
    fn resource(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        match &slf.as_super().get().0 {
            Content::Resource { resource } => Ok(convert::to_py(slf.py(), resource)?.unbind()),
            _ => Ok(slf.py().None()),
        }
    }
}

/// A link to a resource the client may read.
#[pyclass(frozen, extends = PyContent, module = "corral", name = "ResourceLink")]
pub struct ResourceLink;

#[pymethods]
impl ResourceLink {
    #[getter]
    fn uri(slf: &Bound<'_, Self>) -> String {
        match &slf.as_super().get().0 {
            Content::ResourceLink { uri, .. } => uri.clone(),
            _ => String::new(),
        }
    }
    #[getter]
    fn name(slf: &Bound<'_, Self>) -> String {
        match &slf.as_super().get().0 {
            Content::ResourceLink { name, .. } => name.clone(),
            _ => String::new(),
        }
    }
    #[getter]
    fn mime_type(slf: &Bound<'_, Self>) -> Option<String> {
        match &slf.as_super().get().0 {
            Content::ResourceLink { mime_type, .. } => mime_type.clone(),
            _ => None,
        }
    }
    #[getter]
    fn description(slf: &Bound<'_, Self>) -> Option<String> {
        match &slf.as_super().get().0 {
            Content::ResourceLink { description, .. } => description.clone(),
            _ => None,
        }
    }
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

// ---------------------------------------------------------------------------------------------
// ToolResult

/// The result of a tool call. A tool that ran and reported failure is a result with
/// `is_error=True`, not an exception.
#[pyclass(frozen, eq, module = "corral", name = "ToolResult")]
pub struct PyToolResult {
    pub result: ToolResult,
    content: PyOnceLock<Py<PyList>>,
    structured: PyOnceLock<Py<PyAny>>,
}

impl PartialEq for PyToolResult {
    fn eq(&self, other: &Self) -> bool {
        self.result == other.result
    }
}

impl From<ToolResult> for PyToolResult {
    fn from(result: ToolResult) -> Self {
        Self {
            result,
            content: PyOnceLock::new(),
            structured: PyOnceLock::new(),
        }
    }
}

#[pymethods]
impl PyToolResult {
    /// The content items (`TextContent`, `ImageContent`, ...).
    #[getter]
    fn content(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        self.content
            .get_or_try_init(py, || {
                let items = self
                    .result
                    .content
                    .iter()
                    .map(|c| content_to_py(py, c.clone()))
                    .collect::<PyResult<Vec<_>>>()?;
                Ok::<_, PyErr>(PyList::new(py, items)?.unbind())
            })
            .map(|l| l.clone_ref(py))
    }
    /// Structured output (matches the tool's output schema when it declares one), or `None`.
    #[getter]
    fn structured_content(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.structured
            .get_or_try_init(py, || {
                convert::opt_to_py(py, self.result.structured_content.as_ref())
            })
            .map(|v| v.clone_ref(py))
    }
    /// Whether the tool reported failure.
    #[getter]
    fn is_error(&self) -> bool {
        self.result.is_error
    }
    /// All text items joined with newlines.
    #[getter]
    fn text(&self) -> String {
        self.result.text()
    }
    /// The MCP JSON form: `{"content", "structuredContent"?, "isError"}`.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(convert::to_py(py, &self.result.to_value())?.unbind())
    }
    fn __repr__(&self) -> String {
        let mut text = self.result.text();
        if text.len() > 60 {
            let cut = text.floor_char_boundary(60);
            text.truncate(cut);
            text.push('…');
        }
        format!(
            "ToolResult(is_error={}, text={text:?})",
            if self.result.is_error {
                "True"
            } else {
                "False"
            }
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Plain views: resources, prompts, progress, log messages, command output

/// A frozen, comparable (`==`) Python view of a core value with getters and `to_dict()` (the
/// canonical camelCase form). `field -> Type = |value, py| expression;` per getter.
macro_rules! view {
    (
        $(#[$doc:meta])* $py_ty:ident($core:ty) as $name:literal, repr |$r:ident| $repr:expr;
        $( $(#[$fdoc:meta])* $field:ident -> $ty:ty = |$v:ident, $p:ident| $body:expr; )*
    ) => {
        $(#[$doc])*
        #[pyclass(frozen, eq, module = "corral", name = $name)]
        #[derive(PartialEq)]
        pub struct $py_ty(pub $core);

        #[pymethods]
        impl $py_ty {
            $(
                $(#[$fdoc])*
                #[getter]
                #[allow(unused_variables)]
                fn $field(&self, $p: Python<'_>) -> $ty {
                    let $v = &self.0;
                    $body
                }
            )*
            /// The canonical camelCase JSON form.
            fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                serialized(py, &self.0)
            }
            fn __repr__(&self) -> String {
                let $r = &self.0;
                $repr
            }
        }
    };
}

view! {
    /// A resource a server offers.
    PyResource(Resource) as "Resource", repr |r| format!("Resource(uri={:?}, name={:?})", r.uri, r.name);
    uri -> &str = |r, py| &r.uri;
    name -> &str = |r, py| &r.name;
    description -> Option<&str> = |r, py| r.description.as_deref();
    mime_type -> Option<&str> = |r, py| r.mime_type.as_deref();
}

view! {
    /// One piece of a read resource: `text`, or `blob` (base64).
    PyResourceContents(ResourceContents) as "ResourceContents", repr |r| format!("ResourceContents(uri={:?})", r.uri);
    uri -> &str = |r, py| &r.uri;
    mime_type -> Option<&str> = |r, py| r.mime_type.as_deref();
    text -> Option<&str> = |r, py| r.text.as_deref();
    blob -> Option<&str> = |r, py| r.blob.as_deref();
}

view! {
    /// A prompt template a server offers.
    PyPrompt(Prompt) as "Prompt", repr |p| format!("Prompt(name={:?})", p.name);
    name -> &str = |p, py| &p.name;
    description -> Option<&str> = |p, py| p.description.as_deref();
    /// `{"name", "description", "required"}` dicts.
    arguments -> PyResult<Py<PyAny>> = |p, py| serialized(py, &p.arguments);
}

view! {
    /// One message of a rendered prompt.
    PyPromptMessage(PromptMessage) as "PromptMessage", repr |m| format!("PromptMessage(role={:?})", m.role);
    /// `user` or `assistant`.
    role -> &str = |m, py| &m.role;
    content -> PyResult<Py<PyAny>> = |m, py| content_to_py(py, m.content.clone());
}

view! {
    /// A rendered prompt.
    PyPromptResult(PromptResult) as "PromptResult", repr |p| format!("PromptResult({} messages)", p.messages.len());
    description -> Option<&str> = |p, py| p.description.as_deref();
    messages -> Vec<PyPromptMessage> = |p, py| p.messages.iter().cloned().map(PyPromptMessage).collect();
}

view! {
    /// A progress report of a running call.
    PyProgress(Progress) as "Progress", repr |p| format!("Progress(progress={}, total={:?}, message={:?})", p.progress, p.total, p.message);
    progress -> f64 = |p, py| p.progress;
    total -> Option<f64> = |p, py| p.total;
    message -> Option<&str> = |p, py| p.message.as_deref();
}

view! {
    /// A log message a server sent.
    PyLogMessage(LogMessage) as "LogMessage", repr |m| format!("LogMessage(server={:?}, level={:?})", m.server, m.level);
    server -> &str = |m, py| &m.server;
    /// `debug`, `info`, `warning`, `error`, ...
    level -> &str = |m, py| &m.level;
    logger -> Option<&str> = |m, py| m.logger.as_deref();
    data -> PyResult<Py<PyAny>> = |m, py| Ok(convert::to_py(py, &m.data)?.unbind());
}

view! {
    /// How a command in a sandbox ended, and what it wrote (`{exitCode, signal?, stdout,
    /// stderr}` as a dict).
    PyExecOutput(ExecOutput) as "ExecOutput", repr |o| format!("ExecOutput(exit_code={:?}, {} bytes of stdout)", o.status.code, o.stdout.len());
    /// The exit code, or `None` when a signal killed it.
    exit_code -> Option<i32> = |o, py| o.status.code;
    /// The signal that killed it, if one did.
    signal -> Option<i32> = |o, py| o.status.signal;
    /// Exited with code 0.
    ok -> bool = |o, py| o.status.success();
    /// stdout, decoded as UTF-8 (invalid bytes replaced).
    stdout -> String = |o, py| o.stdout_text();
    /// stderr, decoded as UTF-8 (invalid bytes replaced).
    stderr -> String = |o, py| o.stderr_text();
    stdout_bytes -> Py<PyBytes> = |o, py| PyBytes::new(py, &o.stdout).unbind();
    stderr_bytes -> Py<PyBytes> = |o, py| PyBytes::new(py, &o.stderr).unbind();
}

/// A field of a value's canonical JSON form (`None` when absent).
fn json_field(py: Python<'_>, value: &impl serde::Serialize, key: &str) -> PyResult<Py<PyAny>> {
    let json = serde_json::to_value(value).unwrap_or(Value::Null);
    convert::opt_to_py(py, json.get(key))
}

view! {
    /// What happens while a server starts (`set_start_callback`): `type` is `installStarted`,
    /// `installFinished`, `serverStarting` or `serverReady`; the other fields are `None` where
    /// they do not apply. `to_dict()` is the canonical tagged form.
    PyStartEvent(StartEvent) as "StartEvent", repr |e| {
        let v = serde_json::to_value(e).unwrap_or(Value::Null);
        format!("StartEvent(type={}, server={})", v["type"], v["server"])
    };
    r#type -> PyResult<Py<PyAny>> = |e, py| json_field(py, e, "type");
    server -> PyResult<Py<PyAny>> = |e, py| json_field(py, e, "server");
    /// The install command's 1-based position (install events).
    index -> PyResult<Py<PyAny>> = |e, py| json_field(py, e, "index");
    /// How many install commands there are (`installStarted`).
    total -> PyResult<Py<PyAny>> = |e, py| json_field(py, e, "total");
    /// The install command (`installStarted`).
    command -> PyResult<Py<PyAny>> = |e, py| json_field(py, e, "command");
    /// `{"code", "signal"}` of the finished install command (`installFinished`).
    status -> PyResult<Py<PyAny>> = |e, py| json_field(py, e, "status");
    /// What the install command printed (`installFinished`).
    output -> PyResult<Py<PyAny>> = |e, py| json_field(py, e, "output");
    /// The negotiated MCP version (`serverReady`).
    protocol_version -> PyResult<Py<PyAny>> = |e, py| json_field(py, e, "protocolVersion");
}

view! {
    /// A built template (`build_template`, `list_templates`).
    PyTemplateInfo(TemplateInfo) as "TemplateInfo", repr |t| format!("TemplateInfo(name={:?}, id={:?})", t.name, t.id);
    name -> &str = |t, py| &t.name;
    /// Content id (hash of the base's id and the install commands).
    id -> &str = |t, py| &t.id;
    /// The template it was built on.
    base -> Option<&str> = |t, py| t.base.as_deref();
    install_commands -> Vec<String> = |t, py| t.install_commands.clone();
    /// Size of its layer on disk (as `list_templates` measures it).
    size_bytes -> u64 = |t, py| t.size_bytes;
}

view! {
    /// What `prune()` removed.
    PyPruneReport(PruneReport) as "PruneReport", repr |r| format!("PruneReport({} removed, {} bytes freed)", r.removed.len(), r.freed_bytes);
    removed -> Vec<std::path::PathBuf> = |r, py| r.removed.clone();
    freed_bytes -> u64 = |r, py| r.freed_bytes;
}

view! {
    /// One gateway server's health (`Gateway.servers()`).
    PyServerHealth(ServerHealth) as "ServerHealth", repr |h| format!("ServerHealth(name={:?}, state={:?}, tool_count={})", h.name, h.state, h.tool_count);
    name -> &str = |h, py| &h.name;
    /// `starting`, `ready`, `failed` or `restarting`.
    state -> PyResult<Py<PyAny>> = |h, py| json_field(py, h, "state");
    /// How many of its tools are published (0 unless ready).
    tool_count -> usize = |h, py| h.tool_count;
    last_error -> Option<&str> = |h, py| h.last_error.as_deref();
    /// When failed: milliseconds until the next restart attempt.
    restart_in_ms -> Option<u64> = |h, py| h.restart_in_ms;
    /// How many times it was restarted after its first start.
    restarts -> u32 = |h, py| h.restarts;
}
