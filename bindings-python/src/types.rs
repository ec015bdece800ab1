//! Python views of the core's data: server configs, tools, tool results and their content
//! items, resources, prompts, progress, log messages and command output. Each wraps the core
//! value; JSON fields come out as Python objects.

use corral_core::{
    Content, ExecOutput, LogMessage, Progress, Prompt, PromptMessage, PromptResult, Resource,
    ResourceContents, ServerConfig, Tool, ToolResult,
};
use pyo3::{
    basic::CompareOp,
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
    m.add_class::<PyCommandResult>()?;
    Ok(())
}

fn serialized<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let json = serde_json::to_value(value).unwrap_or(Value::Null);
    Ok(convert::to_py(py, &json)?.unbind())
}

fn eq<T: PartialEq>(a: &T, b: Option<&T>, op: CompareOp) -> Option<bool> {
    let b = b?;
    match op {
        CompareOp::Eq => Some(a == b),
        CompareOp::Ne => Some(a != b),
        _ => None,
    }
}

/// `==` / `!=` between two wrappers of the same core value.
fn richcmp<T: PartialEq>(py: Python<'_>, a: &T, b: Option<&T>, op: CompareOp) -> Py<PyAny> {
    match eq(a, b, op) {
        Some(true) => true
            .into_pyobject(py)
            .map(|b| b.to_owned().into_any().unbind()),
        Some(false) => false
            .into_pyobject(py)
            .map(|b| b.to_owned().into_any().unbind()),
        None => Ok(py.NotImplemented()),
    }
    .unwrap_or_else(|_: std::convert::Infallible| py.NotImplemented())
}

// ---------------------------------------------------------------------------------------------
// ServerConfig

/// One MCP server: a `command` run in a sandbox, or a remote `url`. Keyword arguments are the
/// fields of corral's config form (see the README); the config is validated at once.
#[pyclass(frozen, module = "corral", name = "ServerConfig")]
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
        mounts=None, limits=None, allow_tools=None, deny_tools=None, tags=None
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

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp, py: Python<'_>) -> Py<PyAny> {
        richcmp(
            py,
            &self.config,
            other.cast::<Self>().ok().map(|o| &o.get().config),
            op,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Tool

/// A tool a server offers.
#[pyclass(frozen, module = "corral", name = "Tool")]
pub struct PyTool(pub Tool);

impl From<Tool> for PyTool {
    fn from(t: Tool) -> Self {
        Self(t)
    }
}

#[pymethods]
impl PyTool {
    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp, py: Python<'_>) -> Py<PyAny> {
        richcmp(
            py,
            &self.0,
            other.cast::<Self>().ok().map(|o| &o.get().0),
            op,
        )
    }
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
#[pyclass(frozen, subclass, module = "corral", name = "Content")]
pub struct PyContent(pub Content);

#[pymethods]
impl PyContent {
    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp, py: Python<'_>) -> Py<PyAny> {
        richcmp(
            py,
            &self.0,
            other.cast::<Self>().ok().map(|o| &o.get().0),
            op,
        )
    }
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
#[pyclass(frozen, module = "corral", name = "ToolResult")]
pub struct PyToolResult {
    pub result: ToolResult,
    content: PyOnceLock<Py<PyList>>,
    structured: PyOnceLock<Py<PyAny>>,
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
    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp, py: Python<'_>) -> Py<PyAny> {
        richcmp(
            py,
            &self.result,
            other.cast::<Self>().ok().map(|o| &o.get().result),
            op,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Resources and prompts

/// A resource a server offers.
#[pyclass(frozen, module = "corral", name = "Resource")]
pub struct PyResource(pub Resource);

impl From<Resource> for PyResource {
    fn from(r: Resource) -> Self {
        Self(r)
    }
}

#[pymethods]
impl PyResource {
    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp, py: Python<'_>) -> Py<PyAny> {
        richcmp(
            py,
            &self.0,
            other.cast::<Self>().ok().map(|o| &o.get().0),
            op,
        )
    }
    #[getter]
    fn uri(&self) -> &str {
        &self.0.uri
    }
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    #[getter]
    fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    #[getter]
    fn mime_type(&self) -> Option<&str> {
        self.0.mime_type.as_deref()
    }
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialized(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!("Resource(uri={:?}, name={:?})", self.0.uri, self.0.name)
    }
}

/// One piece of a read resource: `text`, or `blob` (base64).
#[pyclass(frozen, module = "corral", name = "ResourceContents")]
pub struct PyResourceContents(pub ResourceContents);

impl From<ResourceContents> for PyResourceContents {
    fn from(r: ResourceContents) -> Self {
        Self(r)
    }
}

#[pymethods]
impl PyResourceContents {
    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp, py: Python<'_>) -> Py<PyAny> {
        richcmp(
            py,
            &self.0,
            other.cast::<Self>().ok().map(|o| &o.get().0),
            op,
        )
    }
    #[getter]
    fn uri(&self) -> &str {
        &self.0.uri
    }
    #[getter]
    fn mime_type(&self) -> Option<&str> {
        self.0.mime_type.as_deref()
    }
    #[getter]
    fn text(&self) -> Option<&str> {
        self.0.text.as_deref()
    }
    #[getter]
    fn blob(&self) -> Option<&str> {
        self.0.blob.as_deref()
    }
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialized(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!("ResourceContents(uri={:?})", self.0.uri)
    }
}

/// A prompt template a server offers.
#[pyclass(frozen, module = "corral", name = "Prompt")]
pub struct PyPrompt(pub Prompt);

impl From<Prompt> for PyPrompt {
    fn from(p: Prompt) -> Self {
        Self(p)
    }
}

#[pymethods]
impl PyPrompt {
    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp, py: Python<'_>) -> Py<PyAny> {
        richcmp(
            py,
            &self.0,
            other.cast::<Self>().ok().map(|o| &o.get().0),
            op,
        )
    }
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    #[getter]
    fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// `{"name", "description", "required"}` dicts.
    #[getter]
    fn arguments(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialized(py, &self.0.arguments)
    }
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialized(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!("Prompt(name={:?})", self.0.name)
    }
}

/// One message of a rendered prompt.
#[pyclass(frozen, module = "corral", name = "PromptMessage")]
pub struct PyPromptMessage(pub PromptMessage);

#[pymethods]
impl PyPromptMessage {
    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp, py: Python<'_>) -> Py<PyAny> {
        richcmp(
            py,
            &self.0,
            other.cast::<Self>().ok().map(|o| &o.get().0),
            op,
        )
    }
    /// `user` or `assistant`.
    #[getter]
    fn role(&self) -> &str {
        &self.0.role
    }
    #[getter]
    fn content(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        content_to_py(py, self.0.content.clone())
    }
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialized(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!("PromptMessage(role={:?})", self.0.role)
    }
}

/// A rendered prompt.
#[pyclass(frozen, module = "corral", name = "PromptResult")]
pub struct PyPromptResult(pub PromptResult);

impl From<PromptResult> for PyPromptResult {
    fn from(p: PromptResult) -> Self {
        Self(p)
    }
}

#[pymethods]
impl PyPromptResult {
    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp, py: Python<'_>) -> Py<PyAny> {
        richcmp(
            py,
            &self.0,
            other.cast::<Self>().ok().map(|o| &o.get().0),
            op,
        )
    }
    #[getter]
    fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    #[getter]
    fn messages(&self) -> Vec<PyPromptMessage> {
        self.0
            .messages
            .iter()
            .cloned()
            .map(PyPromptMessage)
            .collect()
    }
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialized(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!("PromptResult({} messages)", self.0.messages.len())
    }
}

// ---------------------------------------------------------------------------------------------
// Progress, log messages, command output

/// A progress report of a running call.
#[pyclass(frozen, module = "corral", name = "Progress")]
pub struct PyProgress(pub Progress);

#[pymethods]
impl PyProgress {
    #[getter]
    fn progress(&self) -> f64 {
        self.0.progress
    }
    #[getter]
    fn total(&self) -> Option<f64> {
        self.0.total
    }
    #[getter]
    fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }
    fn __repr__(&self) -> String {
        format!(
            "Progress(progress={}, total={}, message={})",
            self.0.progress,
            self.0.total.map_or("None".to_owned(), |t| t.to_string()),
            self.0
                .message
                .as_ref()
                .map_or("None".to_owned(), |m| format!("{m:?}"))
        )
    }
}

/// A log message a server sent.
#[pyclass(frozen, module = "corral", name = "LogMessage")]
pub struct PyLogMessage(pub LogMessage);

#[pymethods]
impl PyLogMessage {
    #[getter]
    fn server(&self) -> &str {
        &self.0.server
    }
    /// `debug`, `info`, `warning`, `error`, ...
    #[getter]
    fn level(&self) -> &str {
        &self.0.level
    }
    #[getter]
    fn logger(&self) -> Option<&str> {
        self.0.logger.as_deref()
    }
    #[getter]
    fn data(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(convert::to_py(py, &self.0.data)?.unbind())
    }
    fn __repr__(&self) -> String {
        format!(
            "LogMessage(server={:?}, level={:?})",
            self.0.server, self.0.level
        )
    }
}

/// How a command in a sandbox ended, and what it wrote.
#[pyclass(frozen, module = "corral", name = "CommandResult")]
pub struct PyCommandResult(pub ExecOutput);

impl From<ExecOutput> for PyCommandResult {
    fn from(o: ExecOutput) -> Self {
        Self(o)
    }
}

#[pymethods]
impl PyCommandResult {
    /// The exit code, or `None` when a signal killed it.
    #[getter]
    fn exit_code(&self) -> Option<i32> {
        self.0.status.code
    }
    /// The signal that killed it, if one did.
    #[getter]
    fn signal(&self) -> Option<i32> {
        self.0.status.signal
    }
    /// Exited with code 0.
    #[getter]
    fn ok(&self) -> bool {
        self.0.status.success()
    }
    /// stdout, decoded as UTF-8 (invalid bytes replaced).
    #[getter]
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    /// stderr, decoded as UTF-8 (invalid bytes replaced).
    #[getter]
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    #[getter]
    fn stdout_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.stdout)
    }
    #[getter]
    fn stderr_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.stderr)
    }
    fn __repr__(&self) -> String {
        format!(
            "CommandResult(exit_code={}, {} bytes of stdout)",
            self.0
                .status
                .code
                .map_or("None".to_owned(), |c| c.to_string()),
            self.0.stdout.len()
        )
    }
}
