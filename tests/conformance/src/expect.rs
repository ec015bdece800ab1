//! Expectations of a step, checked against what corral returned.
//!
//! Keys (all optional, all must hold): `error` (an error kind code; the step must fail with it),
//! `ok` (true: the step must not fail), `text`, `text_contains`, `text_not_contains`,
//! `text_length`, `is_error`, `structured` (exact JSON), `structured_max` (each key's number at
//! most the given one), `progress_min`, `names_include`, `names_exclude`, `count`, `count_min`,
//! `json` (exact JSON), `json_contains` (a JSON object whose keys must match), and
//! `stdout_contains` / `exit_code` for sandbox commands.

use corral_core::{Error, Progress, ToolResult};
use serde_json::{Value, json};

/// What kind of value a plain check looks at.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Check {
    /// A list of names.
    Names,
    /// A string.
    Text,
    /// Any JSON.
    Json,
}

pub(crate) fn check_error(expect: &Value, error: &Error) -> Result<(), String> {
    match expect.get("error").and_then(Value::as_str) {
        Some(kind) if kind == error.kind().code() => Ok(()),
        Some(kind) => Err(format!("expected error {kind}, got {error}")),
        None => Err(format!("unexpected error: {error}")),
    }
}

fn expects_error(expect: &Value, got_ok: bool) -> Result<(), String> {
    match expect.get("error").and_then(Value::as_str) {
        Some(kind) if got_ok => Err(format!("expected error {kind}, but the step succeeded")),
        _ => Ok(()),
    }
}

pub(crate) fn check_tool_result(
    expect: &Value,
    result: &Result<ToolResult, Error>,
    progress: &[Progress],
) -> Result<(), String> {
    let r = match result {
        Err(e) => return check_error(expect, e),
        Ok(r) => r,
    };
    expects_error(expect, true)?;
    let text = r.text();
    check_text(expect, &text)?;
    if let Some(want) = expect.get("is_error").and_then(Value::as_bool)
        && r.is_error != want
    {
        return Err(format!(
            "is_error is {}, expected {want} (text: {})",
            r.is_error,
            clip(&text)
        ));
    }
    if expect.get("is_error").is_none() && r.is_error && expect.get("allow_is_error").is_none() {
        return Err(format!("the tool reported an error: {}", clip(&text)));
    }
    if let Some(want) = expect.get("structured")
        && r.structured_content.as_ref() != Some(want)
    {
        return Err(format!(
            "structured_content is {:?}, expected {want}",
            r.structured_content
        ));
    }
    if let Some(max) = expect.get("structured_max").and_then(Value::as_object) {
        let got = r.structured_content.clone().unwrap_or(json!({}));
        for (k, limit) in max {
            let v = got
                .get(k)
                .and_then(Value::as_f64)
                .ok_or(format!("no number at {k}"))?;
            if v > limit.as_f64().unwrap_or(f64::MAX) {
                return Err(format!("{k} is {v}, more than {limit}"));
            }
        }
    }
    if let Some(min) = expect.get("progress_min").and_then(Value::as_u64)
        && (progress.len() as u64) < min
    {
        return Err(format!(
            "saw {} progress notifications, expected at least {min}",
            progress.len()
        ));
    }
    Ok(())
}

fn check_text(expect: &Value, text: &str) -> Result<(), String> {
    if let Some(want) = expect.get("text").and_then(Value::as_str)
        && text != want
    {
        return Err(format!("text is {:?}, expected {want:?}", clip(text)));
    }
    if let Some(want) = expect.get("text_contains").and_then(Value::as_str)
        && !text.contains(want)
    {
        return Err(format!("text {:?} does not contain {want:?}", clip(text)));
    }
    if let Some(bad) = expect.get("text_not_contains").and_then(Value::as_str)
        && text.contains(bad)
    {
        return Err(format!("text {:?} contains {bad:?}", clip(text)));
    }
    if let Some(len) = expect.get("text_length").and_then(Value::as_u64)
        && text.len() as u64 != len
    {
        return Err(format!("text has {} bytes, expected {len}", text.len()));
    }
    Ok(())
}

pub(crate) fn check_value(
    expect: &Value,
    result: &Result<Value, Error>,
    kind: Check,
) -> Result<(), String> {
    let v = match result {
        Err(e) => return check_error(expect, e),
        Ok(v) => v,
    };
    expects_error(expect, true)?;
    match kind {
        Check::Text => check_text(expect, v.as_str().unwrap_or_default())?,
        Check::Names => {
            let names: Vec<&str> = v
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for n in expect
                .get("names_include")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let n = n.as_str().unwrap_or_default();
                if !names.contains(&n) {
                    return Err(format!("{n:?} missing from {names:?}"));
                }
            }
            for n in expect
                .get("names_exclude")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let n = n.as_str().unwrap_or_default();
                if names.contains(&n) {
                    return Err(format!("{n:?} should not be in {names:?}"));
                }
            }
            if let Some(c) = expect.get("count").and_then(Value::as_u64)
                && names.len() as u64 != c
            {
                return Err(format!("{} names, expected {c}: {names:?}", names.len()));
            }
            if let Some(c) = expect.get("count_min").and_then(Value::as_u64)
                && (names.len() as u64) < c
            {
                return Err(format!("{} names, expected at least {c}", names.len()));
            }
        }
        Check::Json => {}
    }
    if let Some(want) = expect.get("json")
        && v != want
    {
        return Err(format!("got {v}, expected {want}"));
    }
    if let Some(want) = expect.get("json_contains").and_then(Value::as_object) {
        for (k, w) in want {
            if v.get(k) != Some(w) {
                return Err(format!("{k} is {:?}, expected {w}", v.get(k)));
            }
        }
    }
    if let Some(want) = expect.get("stdout_contains").and_then(Value::as_str) {
        let out = v.get("stdout").and_then(Value::as_str).unwrap_or_default();
        if !out.contains(want) {
            return Err(format!("stdout {out:?} does not contain {want:?}"));
        }
    }
    if let Some(want) = expect.get("exit_code")
        && v.get("exit_code") != Some(want)
    {
        return Err(format!(
            "exit code {:?}, expected {want} ({v})",
            v.get("exit_code")
        ));
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
