//! A step's expectations, checked against the observation a runner answered (canonical JSON).
//! The keys are listed in the README; all are optional and all must hold.

use serde_json::{Value, json};

const KEYS: &str = "error field text text_contains text_not_contains text_length is_error \
    allow_is_error structured structured_max progress_min names_include names_exclude count \
    count_min json json_contains json_differs json_at stdout_contains exit_code status";

/// `kind: message` of an error observation.
pub(crate) fn describe(error: &Value) -> String {
    format!(
        "{}: {}",
        error["kind"].as_str().unwrap_or("?"),
        error["message"].as_str().unwrap_or("")
    )
}

/// What the checks of one op look at: the JSON they compare, its text, its names, and for tool
/// calls the result and how many progress reports came with it.
struct View {
    subject: Value,
    text: Option<String>,
    names: Option<Vec<String>>,
    tool: Option<usize>,
}

fn joined<'a>(texts: impl Iterator<Item = Option<&'a str>>) -> String {
    texts.flatten().collect::<Vec<_>>().join("\n")
}

/// The text of a content item: a text item's, or an embedded text resource's.
fn content_text(c: &Value) -> Option<&str> {
    c["text"]
        .as_str()
        .or_else(|| c["resource"]["text"].as_str())
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

impl View {
    fn of(op: &str, obs: &Value) -> Self {
        let plain = |subject: Value| Self {
            subject,
            text: None,
            names: None,
            tool: None,
        };
        let names = |key: &str| {
            let names = list(obs).iter().filter_map(|x| {
                if key.is_empty() {
                    x.as_str()
                } else {
                    x[key].as_str()
                }
            });
            Self {
                names: Some(names.map(str::to_owned).collect()),
                ..plain(obs.clone())
            }
        };
        let text = |t: String| Self {
            text: Some(t),
            ..plain(obs.clone())
        };
        let tool = |r: &Value, progress: usize| Self {
            text: Some(joined(list(&r["content"]).iter().map(content_text))),
            tool: Some(progress),
            ..plain(r.clone())
        };
        match op {
            "execute_tool" => tool(&obs["result"], list(&obs["progress"]).len()),
            "quick" | "session_execute" => tool(obs, 0),
            "start_events" => names("type"),
            "discover_tools" | "list_prompts" => names("name"),
            "list_resources" => names("uri"),
            "list_servers" | "load_mcp_servers" => names(""),
            "list_templates" => names("name"),
            "read_resource" => text(joined(list(obs).iter().map(|c| c["text"].as_str()))),
            "get_prompt" => text(joined(
                list(&obs["messages"])
                    .iter()
                    .map(|m| content_text(&m["content"])),
            )),
            "sandbox_read" => text(obs.as_str().unwrap_or_default().to_owned()),
            "http" => text(obs["body"].as_str().unwrap_or_default().to_owned()),
            _ => plain(obs.clone()),
        }
    }
}

/// Checks `expect` against a step's result; the observation `save_as` reads from.
pub(crate) fn check(
    op: &str,
    expect: &Value,
    result: &Result<Value, Value>,
) -> Result<Value, String> {
    if let Some(bad) = expect
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| !KEYS.split_whitespace().any(|key| key == k.as_str()))
    {
        return Err(format!("unknown expectation `{bad}`"));
    }
    let obs = match result {
        Err(e) => return check_error(expect, e).map(|()| json!(null)),
        Ok(obs) => obs,
    };
    crate::shape::check(op, obs)?;
    if let Some(kind) = expect["error"].as_str() {
        return Err(format!("expected error {kind}, but the step succeeded"));
    }
    let view = View::of(op, obs);
    if let Some(text) = &view.text {
        check_text(expect, text)?;
    } else if let Some(k) = ["text", "text_contains", "text_not_contains", "text_length"]
        .iter()
        .find(|k| expect.get(**k).is_some())
    {
        return Err(format!("`{k}`: op {op} has no text"));
    }
    if let Some(progress) = view.tool {
        check_tool(
            expect,
            &view.subject,
            view.text.as_deref().unwrap_or_default(),
            progress,
        )?;
    }
    if let Some(names) = &view.names {
        check_names(expect, names)?;
    }
    check_json(expect, &view.subject)?;
    Ok(view.subject)
}

fn check_error(expect: &Value, error: &Value) -> Result<(), String> {
    let kind = error["kind"].as_str().unwrap_or_default();
    match expect["error"].as_str() {
        None => return Err(format!("unexpected error {}", describe(error))),
        Some(want) if want != kind => {
            return Err(format!("expected error {want}, got {}", describe(error)));
        }
        Some(_) => {}
    }
    match expect.get("field") {
        Some(want) if error.get("field") != Some(want) => Err(format!(
            "error field is {}, expected {want}",
            error.get("field").unwrap_or(&Value::Null)
        )),
        _ => Ok(()),
    }
}

fn check_text(expect: &Value, text: &str) -> Result<(), String> {
    if let Some(want) = expect["text"].as_str()
        && text != want
    {
        return Err(format!("text is {:?}, expected {want:?}", clip(text)));
    }
    if let Some(want) = expect["text_contains"].as_str()
        && !text.contains(want)
    {
        return Err(format!("text {:?} does not contain {want:?}", clip(text)));
    }
    if let Some(bad) = expect["text_not_contains"].as_str()
        && text.contains(bad)
    {
        return Err(format!("text {:?} contains {bad:?}", clip(text)));
    }
    if let Some(len) = expect["text_length"].as_u64()
        && text.len() as u64 != len
    {
        return Err(format!("text has {} bytes, expected {len}", text.len()));
    }
    Ok(())
}

fn check_tool(expect: &Value, r: &Value, text: &str, progress: usize) -> Result<(), String> {
    let is_error = r["isError"]
        .as_bool()
        .ok_or(format!("a tool result without `isError`: {r}"))?;
    match expect["is_error"].as_bool() {
        Some(want) if want != is_error => {
            return Err(format!(
                "isError is {is_error}, expected {want} (text: {})",
                clip(text)
            ));
        }
        None if is_error && expect.get("allow_is_error").is_none() => {
            return Err(format!("the tool reported an error: {}", clip(text)));
        }
        _ => {}
    }
    if let Some(want) = expect.get("structured")
        && r.get("structuredContent") != Some(want)
    {
        return Err(format!(
            "structuredContent is {}, expected {want}",
            r["structuredContent"]
        ));
    }
    for (k, limit) in expect["structured_max"].as_object().into_iter().flatten() {
        let v = r["structuredContent"][k]
            .as_f64()
            .ok_or(format!("no number at {k}"))?;
        if v > limit.as_f64().unwrap_or(f64::MAX) {
            return Err(format!("{k} is {v}, more than {limit}"));
        }
    }
    if let Some(min) = expect["progress_min"].as_u64()
        && (progress as u64) < min
    {
        return Err(format!(
            "saw {progress} progress notifications, expected at least {min}"
        ));
    }
    Ok(())
}

fn check_names(expect: &Value, names: &[String]) -> Result<(), String> {
    let has = |n: &Value| names.iter().any(|x| Some(x.as_str()) == n.as_str());
    if let Some(n) = list(&expect["names_include"]).iter().find(|n| !has(n)) {
        return Err(format!("{n} missing from {names:?}"));
    }
    if let Some(n) = list(&expect["names_exclude"]).iter().find(|n| has(n)) {
        return Err(format!("{n} should not be in {names:?}"));
    }
    if let Some(c) = expect["count"].as_u64()
        && names.len() as u64 != c
    {
        return Err(format!("{} names, expected {c}: {names:?}", names.len()));
    }
    if let Some(c) = expect["count_min"].as_u64()
        && (names.len() as u64) < c
    {
        return Err(format!("{} names, expected at least {c}", names.len()));
    }
    Ok(())
}

fn check_json(expect: &Value, v: &Value) -> Result<(), String> {
    if let Some(want) = expect.get("json")
        && v != want
    {
        return Err(format!("got {v}, expected {want}"));
    }
    for (k, w) in expect["json_contains"].as_object().into_iter().flatten() {
        if v.get(k) != Some(w) {
            return Err(format!(
                "{k} is {}, expected {w}",
                v.get(k).unwrap_or(&Value::Null)
            ));
        }
    }
    for (k, w) in expect["json_differs"].as_object().into_iter().flatten() {
        if v.get(k) == Some(w) {
            return Err(format!("{k} is still {w}"));
        }
    }
    for (pointer, w) in expect["json_at"].as_object().into_iter().flatten() {
        if v.pointer(pointer) != Some(w) {
            return Err(format!(
                "{pointer} is {}, expected {w}",
                v.pointer(pointer).unwrap_or(&Value::Null)
            ));
        }
    }
    let keyed = [
        ("stdout_contains", "stdout"),
        ("exit_code", "exitCode"),
        ("status", "status"),
    ];
    for (key, field) in keyed {
        let (Some(want), got) = (expect.get(key), &v[field]) else {
            continue;
        };
        let holds = match want.as_str() {
            Some(part) if key == "stdout_contains" => {
                got.as_str().is_some_and(|s| s.contains(part))
            }
            _ => got == want,
        };
        if !holds {
            return Err(format!(
                "{field} is {got}, expected {key} {want} ({})",
                clip(&v.to_string())
            ));
        }
    }
    Ok(())
}

fn clip(s: &str) -> String {
    if s.len() > 300 {
        format!("{}… ({} bytes)", &s[..s.floor_char_boundary(300)], s.len())
    } else {
        s.to_owned()
    }
}
