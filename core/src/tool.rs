//! What servers offer and return: [`Tool`], [`ToolResult`] and its [`Content`] items, plus the
//! resource and prompt types. Plain data with schema exports for LLM APIs. Serde gives each its
//! canonical form, MCP's own camelCase shapes (see [`crate::boundary`]); snake_case spellings
//! (`input_schema`, `is_error`, ...) are accepted on input.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// A tool a server offers: `{name, title?, description?, inputSchema, outputSchema?, annotations?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    /// The tool's name, unique within its server.
    pub name: String,
    /// Human-readable title, if the server gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of its arguments (an object schema).
    #[serde(alias = "input_schema")]
    #[schemars(with = "Map<String, Value>")]
    pub input_schema: Value,
    /// JSON Schema of its structured content, if it declares one.
    #[serde(
        default,
        alias = "output_schema",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<Map<String, Value>>")]
    pub output_schema: Option<Value>,
    /// Hints such as `readOnlyHint`, as the server sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Map<String, Value>>")]
    pub annotations: Option<Value>,
}

impl Tool {
    /// The OpenAI Chat Completions / Responses function-tool form:
    /// `{"type": "function", "function": {"name", "description", "parameters"}}`.
    pub fn to_openai(&self) -> Value {
        json!({
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description.clone().unwrap_or_default(),
                "parameters": self.object_schema(),
            }
        })
    }

    /// The Anthropic Messages API tool form: `{"name", "description", "input_schema"}`.
    pub fn to_anthropic(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description.clone().unwrap_or_default(),
            "input_schema": self.object_schema(),
        })
    }

    /// Checks `arguments` against the input schema's top level: it must be an object, every
    /// `required` property present, each known property of its declared JSON type, and no
    /// unknown property where `additionalProperties` is `false`. `INVALID_ARGUMENT` says what
    /// the tool expects.
    pub fn check_arguments(&self, arguments: &Value) -> crate::Result<()> {
        use crate::error::{Error, ErrorKind};
        let fail = |msg: String| {
            Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{msg}; `{}` takes {}",
                    self.name,
                    self.describe_parameters()
                ),
            ))
        };
        let args = match arguments {
            Value::Object(m) => m.clone(),
            Value::Null => Map::new(),
            _ => return fail("arguments must be a JSON object".into()),
        };
        let schema = self.object_schema();
        let props = schema.get("properties").and_then(Value::as_object);
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !args.contains_key(req) {
                return fail(format!("missing required parameter `{req}`"));
            }
        }
        for (key, value) in &args {
            match props.and_then(|p| p.get(key)) {
                Some(prop) => {
                    if let Some(want) = prop.get("type")
                        && !type_matches(want, value)
                    {
                        return fail(format!(
                            "parameter `{key}` must be of type {want}, got {value}"
                        ));
                    }
                }
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return fail(format!("unknown parameter `{key}`"));
                }
                None => {}
            }
        }
        Ok(())
    }

    /// `name: type (required), ...` of the input schema, for messages and help.
    pub fn describe_parameters(&self) -> String {
        let schema = self.object_schema();
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let parts: Vec<String> = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| {
                p.iter()
                    .map(|(k, v)| {
                        let ty = type_name(v, 0);
                        let req = if required.contains(&k.as_str()) {
                            " (required)"
                        } else {
                            ""
                        };
                        format!("{k}: {ty}{req}")
                    })
                    .collect()
            })
            .unwrap_or_default();
        if parts.is_empty() {
            "no parameters".into()
        } else {
            parts.join(", ")
        }
    }

    /// The input schema, guaranteed to be an object schema with `properties` (both APIs need it).
    fn object_schema(&self) -> Value {
        let mut schema = match &self.input_schema {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        schema
            .entry("type")
            .or_insert_with(|| Value::from("object"));
        schema
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        Value::Object(schema)
    }

    pub(crate) fn from_mcp(t: rmcp::model::Tool) -> Self {
        Self {
            name: t.name.into_owned(),
            title: t.title,
            description: t.description.map(|d| d.into_owned()),
            input_schema: Value::Object((*t.input_schema).clone()),
            output_schema: t.output_schema.map(|s| Value::Object((*s).clone())),
            annotations: t
                .annotations
                .and_then(|a| serde_json::to_value(a).ok())
                .filter(|v| v.as_object().is_some_and(|m| !m.is_empty())),
        }
    }
}

/// The type of a property schema for [`Tool::describe_parameters`]: `string`, `string | null`
/// (a list of types, `anyOf`, `oneOf`), `string[]`, else `any`.
fn type_name(schema: &Value, depth: usize) -> String {
    let of = |options: &[Value]| {
        let mut names: Vec<String> = Vec::new();
        for name in options.iter().map(|o| match o {
            Value::String(t) => t.clone(),
            schema => type_name(schema, depth + 1),
        }) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names.join(" | ")
    };
    match schema.get("type") {
        _ if depth > 4 => "any".into(),
        Some(Value::String(t)) if t == "array" => {
            match schema.get("items").map(|items| type_name(items, depth + 1)) {
                None => "array".into(),
                Some(t) if t == "any" => "array".into(),
                Some(t) if t.contains(' ') => format!("({t})[]"),
                Some(t) => format!("{t}[]"),
            }
        }
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(types)) => of(types),
        _ => match ["anyOf", "oneOf"]
            .iter()
            .find_map(|k| schema.get(*k)?.as_array())
        {
            Some(options) if !options.is_empty() => of(options),
            _ => "any".into(),
        },
    }
}

fn type_matches(want: &Value, value: &Value) -> bool {
    let one = |t: &str| match t {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => true,
    };
    match want {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(one),
        _ => true,
    }
}

/// One item of a tool result, prompt message or resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, base64-encoded.
    Image {
        /// Base64 data.
        data: String,
        /// e.g. `image/png`.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// Audio, base64-encoded.
    Audio {
        /// Base64 data.
        data: String,
        /// e.g. `audio/wav`.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// An embedded resource (its `text` or base64 `blob`).
    Resource {
        /// The resource, as sent (`uri`, `mimeType`, `text` or `blob`).
        #[schemars(with = "ResourceContents")]
        resource: Value,
    },
    /// A link to a resource the client may read.
    ResourceLink {
        /// Its URI.
        uri: String,
        /// Its name.
        #[serde(default)]
        name: String,
        /// Its MIME type.
        #[serde(default, rename = "mimeType", skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// Its description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
}

impl Content {
    /// The text of a text item (or of an embedded text resource).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Content::Text { text } => Some(text),
            Content::Resource { resource } => resource.get("text").and_then(Value::as_str),
            _ => None,
        }
    }

    pub(crate) fn from_mcp(c: rmcp::model::ContentBlock) -> Self {
        use rmcp::model::ContentBlock as C;
        match c {
            C::Text(t) => Content::Text { text: t.text },
            C::Image(i) => Content::Image {
                data: i.data,
                mime_type: i.mime_type,
            },
            other => serde_json::to_value(&other)
                .ok()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_else(|| Content::Text {
                    text: String::new(),
                }),
        }
    }
}

/// The result of a tool call: `{content, structuredContent?, isError}` (`isError` always
/// present). A tool that runs and reports failure is a result with `isError` true, not an
/// [`Error`](crate::Error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    /// The content items.
    #[serde(default)]
    pub content: Vec<Content>,
    /// Structured output (matches the tool's output schema when it declares one).
    #[serde(
        default,
        alias = "structured_content",
        skip_serializing_if = "Option::is_none"
    )]
    pub structured_content: Option<Value>,
    /// Whether the tool reported failure.
    #[serde(default, alias = "is_error")]
    pub is_error: bool,
}

impl ToolResult {
    /// All text items joined with newlines.
    pub fn text(&self) -> String {
        let mut parts = self.content.iter().filter_map(Content::as_text);
        let Some(first) = parts.next() else {
            return String::new();
        };
        let mut out = first.to_owned();
        for p in parts {
            out.push('\n');
            out.push_str(p);
        }
        out
    }

    /// The canonical (MCP) JSON form, `{content, structuredContent?, isError}`: its
    /// `Serialize` output.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    pub(crate) fn from_mcp(r: rmcp::model::CallToolResult) -> Self {
        Self {
            content: r.content.into_iter().map(Content::from_mcp).collect(),
            structured_content: r.structured_content,
            is_error: r.is_error.unwrap_or(false),
        }
    }
}

/// A resource a server offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// Its URI.
    pub uri: String,
    /// Its name.
    pub name: String,
    /// What it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// One piece of a read resource: text or a base64 blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceContents {
    /// Its URI.
    pub uri: String,
    /// Its MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Text content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Base64 content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
}

/// A prompt template a server offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Prompt {
    /// Its name.
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its arguments: `{"name", "description", "required"}` objects.
    #[serde(default)]
    #[schemars(with = "Vec<PromptArgument>")]
    pub arguments: Vec<Value>,
}

/// One argument of a prompt (the shape of a [`Prompt`]'s `arguments` items, as sent).
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // only its schema is used
struct PromptArgument {
    /// Its name.
    name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// Whether the prompt needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    required: Option<bool>,
}

/// One message of a rendered prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptMessage {
    /// `user` or `assistant`.
    pub role: String,
    /// The message content.
    pub content: Content,
}

/// A rendered prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptResult {
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its messages.
    pub messages: Vec<PromptMessage>,
}

/// A progress report of a running call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Progress so far (increases).
    pub progress: f64,
    /// The total, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    /// A message, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A log message a server sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogMessage {
    /// The server it came from.
    pub server: String,
    /// `debug`, `info`, `warning`, `error`, ...
    pub level: String,
    /// The logger name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<String>,
    /// The data (often a string).
    pub data: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_exports() {
        let t = Tool {
            name: "add".into(),
            title: None,
            description: Some("Adds".into()),
            input_schema: json!({"type": "object", "properties": {"a": {"type": "number"}}}),
            output_schema: None,
            annotations: None,
        };
        assert_eq!(
            t.to_openai()["function"]["parameters"]["properties"]["a"]["type"],
            "number"
        );
        assert_eq!(t.to_openai()["type"], "function");
        assert_eq!(t.to_anthropic()["input_schema"]["type"], "object");
        let bare = Tool {
            input_schema: json!({}),
            ..t
        };
        assert_eq!(
            bare.to_anthropic()["input_schema"],
            json!({"type": "object", "properties": {}})
        );
    }

    #[test]
    fn parameters_are_described_with_their_types() {
        let t = Tool {
            name: "git_branch".into(),
            title: None,
            description: None,
            input_schema: json!({"type": "object", "required": ["repo"], "properties": {
                "repo": {"type": "string"},
                "base": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null},
                "flag": {"type": ["boolean", "string"]},
                "paths": {"type": "array", "items": {"type": "string"}},
                "ids": {"type": "array", "items": {"oneOf": [{"type": "integer"}, {"type": "string"}]}},
                "free": {},
            }}),
            output_schema: None,
            annotations: None,
        };
        assert_eq!(
            t.describe_parameters(),
            "base: string | null, flag: boolean | string, free: any, ids: (integer | string)[], \
             paths: string[], repo: string (required)"
        );
    }

    #[test]
    fn argument_check() {
        let t = Tool {
            name: "add".into(),
            title: None,
            description: None,
            input_schema: json!({"type": "object", "required": ["a"], "additionalProperties": false,
                                 "properties": {"a": {"type": "integer"}, "b": {"type": ["string", "null"]}}}),
            output_schema: None,
            annotations: None,
        };
        assert!(t.check_arguments(&json!({"a": 1, "b": "x"})).is_ok());
        assert!(t.check_arguments(&json!({"a": 1, "b": null})).is_ok());
        for bad in [
            json!({}),
            json!({"a": "1"}),
            json!({"a": 1.5}),
            json!({"a": 1, "c": 2}),
            json!([1]),
        ] {
            let e = t.check_arguments(&bad).expect_err("invalid");
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        }
    }

    #[test]
    fn text_joins_items() {
        let r = ToolResult {
            content: vec![
                Content::Text { text: "a".into() },
                Content::Image {
                    data: String::new(),
                    mime_type: "image/png".into(),
                },
                Content::Text { text: "b".into() },
            ],
            structured_content: None,
            is_error: false,
        };
        assert_eq!(r.text(), "a\nb");
        assert_eq!(r.to_value()["content"][1]["mimeType"], "image/png");
        assert_eq!(r.to_value()["isError"], false);
        let back: ToolResult = serde_json::from_value(r.to_value()).expect("parses");
        assert_eq!(back, r);
    }

    #[test]
    fn canonical_forms_are_camel_case_and_round_trip() {
        let t = Tool {
            name: "add".into(),
            title: None,
            description: None,
            input_schema: json!({"type": "object"}),
            output_schema: Some(json!({"type": "object"})),
            annotations: None,
        };
        let v = serde_json::to_value(&t).expect("serializes");
        assert_eq!(
            v,
            json!({"name": "add", "inputSchema": {"type": "object"}, "outputSchema": {"type": "object"}})
        );
        assert_eq!(serde_json::from_value::<Tool>(v).expect("parses"), t);
        let snake: Tool =
            serde_json::from_value(json!({"name": "add", "input_schema": {"type": "object"},
                                          "output_schema": {"type": "object"}}))
            .expect("parses");
        assert_eq!(snake, t);
        let r: ToolResult = serde_json::from_value(
            json!({"content": [{"type": "resource_link", "uri": "u", "name": "n", "mimeType": "m"}],
                   "structured_content": {"a": 1}, "is_error": true}),
        )
        .expect("parses");
        assert!(r.is_error);
        let v = r.to_value();
        assert_eq!(v["structuredContent"], json!({"a": 1}));
        assert_eq!(serde_json::from_value::<ToolResult>(v).expect("parses"), r);
        let p = Progress {
            progress: 1.0,
            total: Some(2.0),
            message: None,
        };
        let v = serde_json::to_value(&p).expect("serializes");
        assert_eq!(v, json!({"progress": 1.0, "total": 2.0}));
        assert_eq!(serde_json::from_value::<Progress>(v).expect("parses"), p);
    }
}
