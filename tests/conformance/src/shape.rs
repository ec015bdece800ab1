//! Every observation a runner answers is also checked against the core's JSON Schema of its
//! form (`corral_core::boundary::json_schema`): a binding whose `to_dict()`/`toJSON()`/
//! `toJson()` drifts from the canonical form (a snake_case key, a key the form does not have, a
//! missing field, a wrong type) fails every scenario that sees it, in that language.

use std::sync::OnceLock;

use serde_json::Value;

/// The schema document, built once.
fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(corral_core::boundary::json_schema)
}

/// Checks an op's observation against the schema of its form (ops without one pass).
pub(crate) fn check(op: &str, obs: &Value) -> Result<(), String> {
    let one = |name: &str, v: &Value| conforms(&reference(name), v, name);
    let each = |name: &str, v: &Value| match v.as_array() {
        Some(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| conforms(&reference(name), item, &format!("{name}[{i}]"))),
        None => Err(format!("a list of {name} expected, got {v}")),
    };
    let checked = match op {
        "execute_tool" => one("ToolResult", &obs["result"]).and(each("Progress", &obs["progress"])),
        "quick" | "session_execute" => one("ToolResult", obs),
        "discover_tools" => each("Tool", obs),
        "list_resources" => each("Resource", obs),
        "read_resource" => each("ResourceContents", obs),
        "list_prompts" => each("Prompt", obs),
        "get_prompt" => one("PromptResult", obs),
        "sandbox_exec" => one("ExecOutput", obs),
        "build_template" => one("TemplateInfo", obs),
        "list_templates" => each("TemplateInfo", obs),
        "start_events" => each("StartEvent", obs),
        _ => Ok(()),
    };
    checked.map_err(|e| format!("the observation is not the canonical form: {e}"))
}

fn reference(name: &str) -> Value {
    serde_json::json!({"$ref": format!("#/$defs/{name}")})
}

/// Whether `v` conforms to `s` (the subset of JSON Schema the core's schemas use); the error
/// names the path (`ToolResult.content[0].mimeType`).
fn conforms(s: &Value, v: &Value, path: &str) -> Result<(), String> {
    if let Some(name) = s["$ref"].as_str() {
        let name = name.trim_start_matches("#/$defs/");
        return conforms(&schema()["$defs"][name], v, path);
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return Err(format!("{path}: {c} expected, got {v}"));
    }
    if let Some(values) = s["enum"].as_array()
        && !values.contains(v)
    {
        return Err(format!("{path}: one of {values:?} expected, got {v}"));
    }
    if let Some(alternatives) = s["oneOf"].as_array().or(s["anyOf"].as_array()) {
        let errors: Vec<String> = alternatives
            .iter()
            .filter_map(|alt| conforms(alt, v, path).err())
            .collect();
        if errors.len() == alternatives.len() {
            return Err(errors.join("; or "));
        }
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            t => t.as_str().into_iter().collect(),
        };
        if !types.iter().any(|t| of_type(t, v)) {
            return Err(format!("{path}: {} expected, got {v}", types.join(" or ")));
        }
    }
    if let (Some(object), Some(properties)) = (v.as_object(), s["properties"].as_object()) {
        if let Some(key) = object.keys().find(|k| !properties.contains_key(*k)) {
            return Err(format!("{path}: `{key}` is not a key of the form"));
        }
        for key in s["required"].as_array().into_iter().flatten() {
            let key = key.as_str().unwrap_or_default();
            if !object.contains_key(key) {
                return Err(format!("{path}: `{key}` is missing"));
            }
        }
        for (key, value) in object {
            conforms(&properties[key], value, &format!("{path}.{key}"))?;
        }
    } else if let (Some(object), Some(values)) = (v.as_object(), s.get("additionalProperties")) {
        for (key, value) in object {
            conforms(values, value, &format!("{path}.{key}"))?;
        }
    }
    if let (Some(items), Some(item)) = (v.as_array(), s.get("items")) {
        for (i, value) in items.iter().enumerate() {
            conforms(item, value, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn of_type(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        // JavaScript and Python may write an integral number as `1.0`.
        "integer" => v.as_f64().is_some_and(|n| n.fract() == 0.0),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn drifted_forms_fail_and_canonical_ones_pass() {
        let ok = json!({"content": [{"type": "text", "text": "5"}], "isError": false});
        assert_eq!(check("quick", &ok), Ok(()));
        let snake = json!({"content": [], "is_error": false});
        let e = check("quick", &snake).expect_err("snake_case");
        assert!(e.contains("`is_error` is not a key"), "{e}");
        let wrong = json!({"content": [{"type": "image", "data": "x"}], "isError": false});
        let e = check("quick", &wrong).expect_err("no mimeType");
        assert!(e.contains("`mimeType` is missing"), "{e}");
        let exec = json!({"exitCode": null, "signal": 9, "stdout": "", "stderr": ""});
        assert_eq!(check("sandbox_exec", &exec), Ok(()));
        let exec = json!({"exit_code": 0, "stdout": "", "stderr": ""});
        assert!(check("sandbox_exec", &exec).is_err());
    }
}
