//! The Rust runner of corral's shared conformance suite.
//!
//! Scenarios are data (`tests/conformance/scenarios/*.json`, format in the README next to
//! them); this crate loads them, fills in `${VAR}` placeholders from the [`Env`], executes
//! each step against a real [`Corral`] and checks the expectations. `tests/conformance.rs`
//! turns every scenario into one test.

mod env;
mod expect;
mod gateway;

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use corral_core::{
    CallOptions, Corral, CorralOptions, Error, Mount, NetworkPolicy, Progress, SandboxConfig,
    SandboxHandle, ToolResult,
};
use serde::Deserialize;
use serde_json::{Value, json};

pub use self::env::{Capabilities, Env};
use self::expect::{Check, check_tool_result, check_value};

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique name (the file's stem).
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Capabilities it needs; a runner without one skips the scenario.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Servers configured before the first step (any accepted config form).
    #[serde(default)]
    pub servers: BTreeMap<String, Value>,
    /// The steps, in order.
    pub steps: Vec<Value>,
}

/// Loads every `*.json` scenario in `dir`, sorted by name.
pub fn load_scenarios(dir: &Path) -> Result<Vec<Scenario>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            let s: Scenario =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?;
            let stem = f.file_stem().map(|s| s.to_string_lossy().into_owned());
            if stem.as_deref() != Some(s.name.as_str()) {
                return Err(format!("{}: name must equal the file name", f.display()));
            }
            Ok(s)
        })
        .collect()
}

/// Reads an expected-failures file: one scenario name per line, `#` comments.
pub fn load_expected_failures(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Replaces `${VAR}` in every string of `value`.
/// A string that is exactly `${VAR:int}` becomes a JSON number.
pub fn substitute(value: &Value, vars: &HashMap<String, String>) -> Value {
    match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix("${").and_then(|r| r.strip_suffix(":int}"))
                && let Some(n) = vars.get(name).and_then(|v| v.parse::<i64>().ok())
            {
                return Value::from(n);
            }
            Value::String(substitute_str(s, vars))
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| substitute(v, vars)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (substitute_str(k, vars), substitute(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn substitute_str(s: &str, vars: &HashMap<String, String>) -> String {
    let mut out = s.to_owned();
    for (k, v) in vars {
        let pattern = format!("${{{k}}}");
        if out.contains(&pattern) {
            out = out.replace(&pattern, v);
        }
    }
    out
}

/// Runs one scenario to the end; `Err` describes the first failed step.
pub async fn run_scenario(scenario: &Scenario, env: &Env) -> Result<(), String> {
    let tag = format!("{}-{}", scenario.name, std::process::id());
    let vars = env.vars(&tag);
    let home = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let corral = Corral::with_options(CorralOptions {
        provider: Some(env.provider.clone()),
        home: Some(home.path().to_owned()),
    })
    .map_err(|e| format!("cannot create Corral: {e}"))?;
    let mut state = State {
        corral: corral.clone(),
        tag,
        vars,
        sandboxes: HashMap::new(),
        saved: HashMap::new(),
        gateway: None,
    };
    let result = async {
        for (name, server) in &scenario.servers {
            let server = substitute(server, &state.vars);
            corral
                .add_server_from_dict(name, &server)
                .await
                .map_err(|e| format!("server {name}: {e}"))?;
        }
        for (i, step) in scenario.steps.iter().enumerate() {
            let step = substitute(step, &state.vars);
            run_step(&mut state, &step)
                .await
                .map_err(|e| format!("step {} ({}): {e}", i + 1, op_of(&step)))?;
        }
        Ok(())
    }
    .await;
    if let Some(gw) = state.gateway.take() {
        gw.close().await;
    }
    corral.close().await;
    result
}

struct State {
    corral: Corral,
    tag: String,
    vars: HashMap<String, String>,
    sandboxes: HashMap<String, SandboxHandle>,
    saved: HashMap<String, String>,
    /// The gateway of `start_gateway` (see `gateway.rs`).
    gateway: Option<gateway::Live>,
}

fn op_of(step: &Value) -> String {
    step.get("op")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

fn str_field<'a>(step: &'a Value, key: &str) -> Result<&'a str, String> {
    step.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string field `{key}`"))
}

fn expect_of(step: &Value) -> Value {
    step.get("expect").cloned().unwrap_or(json!({}))
}

async fn run_step(state: &mut State, step: &Value) -> Result<(), String> {
    let expect = expect_of(step);
    let corral = state.corral.clone();
    if let Some(r) = gateway::step(state, &op_of(step), step).await {
        return r;
    }
    match op_of(step).as_str() {
        "execute_tool" => {
            let (result, progress) = execute(&corral, step).await;
            check_tool_result(&expect, &result, &progress)
        }
        "concurrent" => {
            let count = step.get("count").and_then(Value::as_u64).unwrap_or(1);
            let inner = step.get("step").cloned().ok_or("missing `step`")?;
            let mut tasks = Vec::new();
            for i in 0..count {
                let mut vars = HashMap::new();
                vars.insert("i".to_owned(), i.to_string());
                let inner = substitute(&inner, &vars);
                let corral = corral.clone();
                tasks.push(tokio::spawn(async move {
                    let (result, progress) = execute(&corral, &inner).await;
                    check_tool_result(&expect_of(&inner), &result, &progress)
                        .map_err(|e| format!("call {i}: {e}"))
                }));
            }
            for t in tasks {
                t.await.map_err(|e| format!("task failed: {e}"))??;
            }
            Ok(())
        }
        "discover_tools" => {
            let r = corral.discover_tools(str_field(step, "server")?).await;
            let names =
                r.map(|tools| json!(tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>()));
            check_value(&expect, &names, Check::Names)
        }
        "tool_schema" => {
            let tools = corral
                .discover_tools(str_field(step, "server")?)
                .await
                .map_err(|e| e.to_string())?;
            let name = str_field(step, "tool")?;
            let tool = tools
                .iter()
                .find(|t| t.name == name)
                .ok_or(format!("no tool {name}"))?;
            let exported = json!({"openai": tool.to_openai(), "anthropic": tool.to_anthropic(),
                                  "input_schema": tool.input_schema, "output_schema": tool.output_schema});
            check_value(&expect, &Ok(exported), Check::Json)
        }
        "add_server" => {
            let name = str_field(step, "name")?;
            let config = step.get("config").cloned().unwrap_or(Value::Null);
            let r = corral.add_server_from_dict(name, &config).await;
            check_value(&expect, &r.map(|()| Value::Null), Check::Json)
        }
        "remove_server" => {
            let r = corral.remove_server(str_field(step, "server")?).await;
            check_value(&expect, &r.map(|()| Value::Null), Check::Json)
        }
        "list_servers" => {
            let names: Vec<String> = corral.list_servers().into_iter().map(|s| s.name).collect();
            check_value(&expect, &Ok(json!(names)), Check::Names)
        }
        "load_mcp_servers" => {
            let doc = step.get("document").cloned().unwrap_or(Value::Null);
            let r = match &doc {
                Value::String(text) => corral.load_mcp_servers(text).await,
                other => corral.load_mcp_servers_value(other).await,
            };
            check_value(&expect, &r.map(|n| json!(n)), Check::Names)
        }
        "restart_server" => {
            let name = str_field(step, "server")?;
            let config = corral.server(name).map_err(|e| e.to_string())?;
            corral.add_server(config).await.map_err(|e| e.to_string())
        }
        "session_info" => {
            let r = corral.session(str_field(step, "server")?).await;
            let info = r.map(|s| {
                json!({"session_id": s.session_id(), "sandbox_id": s.sandbox_id(),
                       "protocol_version": s.protocol_version()})
            });
            if let (Some(save), Ok(info)) = (step.get("save_as").and_then(Value::as_str), &info) {
                state.saved.insert(
                    save.to_owned(),
                    info["session_id"].as_str().unwrap_or_default().to_owned(),
                );
            }
            if let (Some(other), Ok(info)) = (
                expect.get("session_differs_from").and_then(Value::as_str),
                &info,
            ) {
                let before = state
                    .saved
                    .get(other)
                    .ok_or(format!("nothing saved as {other}"))?;
                if info["session_id"].as_str() == Some(before.as_str()) {
                    return Err(format!("session id is still {before}"));
                }
            }
            if let (Some(other), Ok(info)) =
                (expect.get("session_same_as").and_then(Value::as_str), &info)
            {
                let before = state
                    .saved
                    .get(other)
                    .ok_or(format!("nothing saved as {other}"))?;
                if info["session_id"].as_str() != Some(before.as_str()) {
                    return Err(format!("session id changed from {before}"));
                }
            }
            check_value(&expect, &info, Check::Json)
        }
        "list_resources" => {
            let r = async {
                let s = corral
                    .session(str_field(step, "server").map_err(err_cfg)?)
                    .await?;
                s.list_resources().await
            }
            .await;
            check_value(
                &expect,
                &r.map(|v| json!(v.iter().map(|r| r.uri.clone()).collect::<Vec<_>>())),
                Check::Names,
            )
        }
        "read_resource" => {
            let r = async {
                let s = corral
                    .session(str_field(step, "server").map_err(err_cfg)?)
                    .await?;
                s.read_resource(str_field(step, "uri").map_err(err_cfg)?)
                    .await
            }
            .await;
            let text = r.map(|c| {
                json!(
                    c.iter()
                        .filter_map(|c| c.text.clone())
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            });
            check_value(&expect, &text, Check::Text)
        }
        "list_prompts" => {
            let r = async {
                let s = corral
                    .session(str_field(step, "server").map_err(err_cfg)?)
                    .await?;
                s.list_prompts().await
            }
            .await;
            check_value(
                &expect,
                &r.map(|v| json!(v.iter().map(|p| p.name.clone()).collect::<Vec<_>>())),
                Check::Names,
            )
        }
        "get_prompt" => {
            let r = async {
                let s = corral
                    .session(str_field(step, "server").map_err(err_cfg)?)
                    .await?;
                s.get_prompt(
                    str_field(step, "name").map_err(err_cfg)?,
                    step.get("args").cloned().unwrap_or(Value::Null),
                )
                .await
            }
            .await;
            let text = r.map(|p| {
                json!(
                    p.messages
                        .iter()
                        .filter_map(|m| m.content.as_text().map(str::to_owned))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            });
            check_value(&expect, &text, Check::Text)
        }
        "quick" => {
            let r = corral
                .quick(
                    str_field(step, "command")?,
                    str_field(step, "tool")?,
                    step.get("args").cloned().unwrap_or(json!({})),
                )
                .await;
            check_tool_result(&expect, &r, &[])
        }
        "sandbox_open" => {
            let id = str_field(step, "id")?.to_owned();
            let cfg = step.get("config").cloned().unwrap_or(json!({}));
            let r = corral.sandbox(sandbox_config(&cfg)?).await;
            match r {
                Ok(h) => {
                    state.sandboxes.insert(id, h);
                    check_value(&expect, &Ok(Value::Null), Check::Json)
                }
                Err(e) => check_value(&expect, &Err(e), Check::Json),
            }
        }
        "sandbox_exec" => {
            let sb = sandbox_of(state, step)?;
            let r = sb.exec(str_field(step, "script")?).await.map(|o| {
                json!({"exit_code": o.status.code, "stdout": String::from_utf8_lossy(&o.stdout),
                       "stderr": String::from_utf8_lossy(&o.stderr)})
            });
            check_value(&expect, &r, Check::Json)
        }
        "sandbox_write" => {
            let sb = sandbox_of(state, step)?;
            let r = sb
                .write_file(
                    str_field(step, "path")?,
                    str_field(step, "data")?.as_bytes(),
                )
                .await;
            check_value(&expect, &r.map(|()| Value::Null), Check::Json)
        }
        "sandbox_read" => {
            let sb = sandbox_of(state, step)?;
            let r = sb
                .read_file(str_field(step, "path")?)
                .await
                .map(|d| json!(String::from_utf8_lossy(&d)));
            check_value(&expect, &r, Check::Text)
        }
        "sandbox_close" => {
            let sb = sandbox_of(state, step)?;
            sb.close().await.map_err(|e| e.to_string())
        }
        "sleep" => {
            let ms = step.get("ms").and_then(Value::as_u64).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(())
        }
        "close" => {
            corral.close().await;
            corral.close().await; // idempotent
            Ok(())
        }
        "expect_no_processes" => {
            let needle = format!("CORRAL_SCENARIO_TAG={}", state.tag);
            for _ in 0..100 {
                if env::processes_with_env(&needle).is_empty() {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(format!(
                "processes of the scenario survived: {:?}",
                env::processes_with_env(&needle)
            ))
        }
        other => Err(format!("unknown op `{other}`")),
    }
}

fn err_cfg(msg: String) -> Error {
    Error::new(corral_core::ErrorKind::InvalidArgument, msg)
}

fn sandbox_of(state: &State, step: &Value) -> Result<SandboxHandle, String> {
    let id = str_field(step, "id")?;
    state
        .sandboxes
        .get(id)
        .cloned()
        .ok_or_else(|| format!("no sandbox `{id}` opened"))
}

fn sandbox_config(cfg: &Value) -> Result<SandboxConfig, String> {
    let mut out = SandboxConfig {
        name: "scenario".into(),
        ..SandboxConfig::default()
    };
    if let Some(env) = cfg.get("env").and_then(Value::as_object) {
        for (k, v) in env {
            out.env
                .insert(k.clone(), v.as_str().unwrap_or_default().to_owned());
        }
    }
    if cfg.get("network").and_then(Value::as_str) == Some("none") {
        out.network = NetworkPolicy::None;
    }
    if let Some(mounts) = cfg.get("mounts").and_then(Value::as_array) {
        for m in mounts {
            out.mounts
                .push(Mount::parse(m.as_str().unwrap_or_default())?);
        }
    }
    Ok(out)
}

/// Runs an `execute_tool` step; returns the result and the progress seen.
async fn execute(corral: &Corral, step: &Value) -> (Result<ToolResult, Error>, Vec<Progress>) {
    let progress: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let seen = progress.clone();
    let options = CallOptions {
        timeout: step
            .get("timeout_ms")
            .and_then(Value::as_u64)
            .map(Duration::from_millis),
        max_total: step
            .get("max_total_ms")
            .and_then(Value::as_u64)
            .map(Duration::from_millis),
        on_progress: Some(Arc::new(move |p| {
            if let Ok(mut v) = seen.lock() {
                v.push(p);
            }
        })),
        cancel: step
            .get("cancel_after_ms")
            .and_then(Value::as_u64)
            .map(|ms| {
                let token = tokio_util::sync::CancellationToken::new();
                let trigger = token.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    trigger.cancel();
                });
                token
            }),
    };
    let server = step
        .get("server")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let tool = step.get("tool").and_then(Value::as_str).unwrap_or_default();
    let args = step.get("args").cloned().unwrap_or(json!({}));
    let result = corral.execute_tool_with(server, tool, args, options).await;
    let progress = progress.lock().map(|v| v.clone()).unwrap_or_default();
    (result, progress)
}
