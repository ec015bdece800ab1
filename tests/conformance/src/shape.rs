//! Every observation a runner answers is also checked against the core's JSON Schema of its
//! form (`corral_core::boundary::json_schema`): a binding whose `to_dict()`/`toJSON()`/
//! `toJson()` drifts from the canonical form (a snake_case key, a key the form does not have, a
//! missing field, a wrong type) fails every scenario that sees it, in that language.

use corral_core::boundary::conforms;
use serde_json::Value;

/// Checks an op's observation against the schema of its form (ops without one pass).
pub(crate) fn check(op: &str, obs: &Value) -> Result<(), String> {
    let each = |name: &str, v: &Value| match v.as_array() {
        Some(items) => items.iter().try_for_each(|item| conforms(name, item)),
        None => Err(format!("a list of {name} expected, got {v}")),
    };
    let checked = match op {
        "execute_tool" => {
            conforms("ToolResult", &obs["result"]).and(each("Progress", &obs["progress"]))
        }
        "quick" | "session_execute" => conforms("ToolResult", obs),
        "discover_tools" => each("Tool", obs),
        "list_resources" => each("Resource", obs),
        "read_resource" => each("ResourceContents", obs),
        "list_prompts" => each("Prompt", obs),
        "get_prompt" => conforms("PromptResult", obs),
        "sandbox_exec" => conforms("ExecOutput", obs),
        "build_template" => conforms("TemplateInfo", obs),
        "list_templates" => each("TemplateInfo", obs),
        "start_events" => each("StartEvent", obs),
        _ => Ok(()),
    };
    checked.map_err(|e| format!("the observation is not the canonical form: {e}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn drifted_observations_fail() {
        let ok = json!({"content": [{"type": "text", "text": "5"}], "isError": false});
        assert_eq!(check("quick", &ok), Ok(()));
        let e = check("quick", &json!({"content": [], "is_error": false})).expect_err("snake");
        assert!(e.contains("`is_error` is not a key"), "{e}");
        let progress = json!({"result": ok, "progress": [{"progress": 1, "totl": 2}]});
        assert!(check("execute_tool", &progress).is_err());
    }
}
