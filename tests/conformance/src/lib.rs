//! corral's conformance checker: the one implementation of the shared suite's meaning.
//!
//! Scenarios are data (`scenarios/*.json`, format in the README next to them). This crate loads
//! them, sets up the environment they refer to ([`Env`]), expands `${VAR}` placeholders, drives
//! each step and checks the expectations against the observations, and applies the language's
//! strict expected-failures baseline. A language runner only performs ops through its binding:
//! it implements [`Executor`] — in process (the Rust runner, `tests/conformance.rs`) or over JSON
//! lines on the stdin/stdout of the `corral-conformance` binary (every other language).

mod env;
mod expect;
mod gateway;
mod http;
mod shape;

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;
use serde_json::{Value, json};

pub use self::env::{CANARY_VALUE, CANARY_VAR, Env};

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique name (the file's stem).
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Capabilities it needs; without one the scenario is skipped (failed with REQUIRE_ALL).
    #[serde(default)]
    pub requires: Vec<String>,
    /// Servers configured before the first step (any accepted config form).
    #[serde(default)]
    pub servers: BTreeMap<String, Value>,
    /// The steps, in order.
    pub steps: Vec<Value>,
}

/// Performs ops through one binding. `request` is `{"op", …args}`; the answer is the
/// observation (canonical camelCase JSON) or the error as `{kind, message, field?}`.
pub trait Executor {
    /// Performs one op.
    fn call(&mut self, request: Value) -> impl Future<Output = Result<Value, Value>>;
}

/// The ops a runner performs through its binding; the checker does every other op itself.
const RUNNER_OPS: &str = "add_server remove_server restart_server list_servers load_mcp_servers \
    discover_tools tool_schema execute_tool quick session_info list_resources read_resource \
    list_prompts get_prompt sandbox_open sandbox_exec sandbox_write sandbox_read sandbox_close \
    build_template list_templates remove_template start_gateway gateway_close session_open \
    session_execute session_close start_events drop";

/// How one scenario ended, with the baseline applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and held.
    Passed,
    /// A step failed (not listed), or a listed scenario passed, or a capability is missing
    /// under `CORRAL_TEST_REQUIRE_ALL`.
    Failed(String),
    /// A capability is missing.
    Skipped(String),
    /// It failed and the language's baseline lists it.
    ExpectedFailure(String),
}

impl Outcome {
    /// The wire form: `{"done", "outcome": passed|failed|skipped|expected_failure, "message"}`.
    pub fn to_json(&self, name: &str) -> Value {
        let (outcome, message) = match self {
            Self::Passed => ("passed", ""),
            Self::Failed(m) => ("failed", m.as_str()),
            Self::Skipped(m) => ("skipped", m.as_str()),
            Self::ExpectedFailure(m) => ("expected_failure", m.as_str()),
        };
        json!({"done": name, "outcome": outcome, "message": message})
    }
}

/// The suite for one language: scenarios, baseline and environment.
pub struct Checker {
    /// The environment the scenarios refer to.
    pub env: Env,
    /// Every scenario, sorted by name.
    pub scenarios: Vec<Scenario>,
    language: String,
    expected: Vec<String>,
    require_all: bool,
}

impl Checker {
    /// Loads the suite and its `expected-failures/<language>.txt` and sets up the environment.
    /// The fixture server is `CORRAL_TEST_SERVER`, else `corral-test-server` in the target dir
    /// this binary was built into.
    pub fn new(language: &str) -> Result<Self, String> {
        let root = suite_dir();
        let scenarios = load_scenarios(&root.join("scenarios"))?;
        let baseline = root.join(format!("expected-failures/{language}.txt"));
        let expected: Vec<String> = std::fs::read_to_string(&baseline)
            .map_err(|e| format!("{}: {e}", baseline.display()))?
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default().trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        if let Some(bad) = expected
            .iter()
            .find(|n| !scenarios.iter().any(|s| &s.name == *n))
        {
            return Err(format!("{}: no scenario named {bad}", baseline.display()));
        }
        let server = fixture_server();
        if !server.is_file() {
            return Err(format!(
                "the fixture server {} is missing: run `cargo build -p corral-test-server` \
                 (or set CORRAL_TEST_SERVER)",
                server.display()
            ));
        }
        Ok(Self {
            env: Env::new(server)?,
            scenarios,
            language: language.to_owned(),
            expected,
            require_all: std::env::var_os("CORRAL_TEST_REQUIRE_ALL").is_some(),
        })
    }

    /// Runs scenario `name` through `exec`; `variant` tells runs of one language apart (Python's
    /// `async` and `sync`).
    pub async fn run(&self, name: &str, variant: &str, exec: &mut impl Executor) -> Outcome {
        let Some(scenario) = self.scenarios.iter().find(|s| s.name == name) else {
            return Outcome::Failed(format!("no scenario named {name}"));
        };
        let missing: Vec<&String> = scenario
            .requires
            .iter()
            .filter(|r| !self.env.capabilities.contains(r))
            .collect();
        if !missing.is_empty() {
            let why = format!("missing capabilities: {missing:?}");
            return if self.require_all {
                Outcome::Failed(why)
            } else {
                Outcome::Skipped(why)
            };
        }
        let result = self.drive(scenario, variant, exec).await;
        let listed = self.expected.contains(&scenario.name);
        match (result, listed) {
            (Ok(()), false) => Outcome::Passed,
            (Err(e), false) => Outcome::Failed(e),
            (Err(e), true) => Outcome::ExpectedFailure(e),
            (Ok(()), true) => Outcome::Failed(format!(
                "listed in expected-failures/{}.txt but passes: remove it from the list",
                self.language
            )),
        }
    }

    async fn drive(
        &self,
        s: &Scenario,
        variant: &str,
        exec: &mut impl Executor,
    ) -> Result<(), String> {
        let pid = std::process::id();
        let tag = if variant.is_empty() {
            format!("{}-{pid}", s.name)
        } else {
            format!("{}-{variant}-{pid}", s.name)
        };
        let mut vars = self.env.vars(&tag);
        let home = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        // `open` and the servers: at the start, and again for `reopen` (same home, so what
        // corral keeps on disk must persist).
        let open = |vars: &HashMap<String, String>| {
            let open = json!({"op": "open", "provider": self.env.provider, "home": home.path()});
            let servers = s.servers.iter().map(|(name, config)| {
                json!({"op": "add_server", "name": name, "config": substitute(config, vars)})
            });
            std::iter::once(open).chain(servers).collect::<Vec<_>>()
        };
        let mut setenvs = vec![json!({"op": "setenv", "name": CANARY_VAR, "value": CANARY_VALUE})];
        // Provider e2b: where the E2B service (the double, or the live one) is, for runners in
        // another process.
        if self.env.provider == "e2b" {
            for name in ["E2B_API_URL", "E2B_SANDBOX_URL", "E2B_API_KEY"] {
                if let Ok(value) = std::env::var(name) {
                    setenvs.push(json!({"op": "setenv", "name": name, "value": value}));
                }
            }
        }
        // The checker's MCP session on a gateway the runner started (see gateway.rs).
        let mut gw: Option<gateway::Live> = None;
        let result = async {
            for (i, step) in std::iter::once(&json!({"op": "start"}))
                .chain(&s.steps)
                .enumerate()
            {
                let step = substitute(step, &vars);
                let op = step["op"].as_str().unwrap_or("?").to_owned();
                let fail = |e: String| format!("step {i} ({op}): {e}");
                let setup = match op.as_str() {
                    "start" => setenvs.iter().cloned().chain(open(&vars)).collect(),
                    "reopen" => std::iter::once(json!({"op": "close"}))
                        .chain(open(&vars))
                        .collect(),
                    _ => Vec::new(),
                };
                if setup.is_empty() {
                    self.step(exec, &tag, &mut vars, &mut gw, &step)
                        .await
                        .map_err(fail)?;
                }
                for request in setup {
                    let what = [&request["op"], &request["name"]]
                        .map(|v| v.as_str().unwrap_or_default())
                        .join(" ");
                    let done = exec.call(request).await;
                    done.map_err(|e| fail(format!("{what}: {}", expect::describe(&e))))?;
                }
            }
            Ok(())
        }
        .await;
        if let Some(l) = gw.take() {
            l.close().await;
        }
        let closed = exec.call(json!({"op": "close"})).await;
        result.and(
            closed
                .map(drop)
                .map_err(|e| format!("close: {}", expect::describe(&e))),
        )
    }

    async fn step(
        &self,
        exec: &mut impl Executor,
        tag: &str,
        vars: &mut HashMap<String, String>,
        gw: &mut Option<gateway::Live>,
        step: &Value,
    ) -> Result<(), String> {
        let op = step["op"].as_str().unwrap_or_default();
        let expect = step.get("expect").cloned().unwrap_or_else(|| json!({}));
        let result = match op {
            "start_gateway" => {
                let mut request = request_of(step);
                let connect = step["connect"].as_bool() != Some(false);
                if let Some(m) = request.as_object_mut() {
                    m.remove("connect");
                }
                let r = exec.call(request).await;
                if let Ok(obs) = &r {
                    for (var, key) in [("GATEWAY_URL", "url"), ("GATEWAY_TOKEN", "token")] {
                        vars.insert(var.into(), obs[key].as_str().unwrap_or_default().into());
                    }
                    *gw = Some(gateway::Live::open(obs, connect).await?);
                }
                r
            }
            "gateway_close" => {
                if let Some(l) = gw.take() {
                    l.close().await;
                }
                exec.call(request_of(step)).await
            }
            op if gateway::OPS.split_whitespace().any(|o| o == op) => {
                let (as_op, r) = gateway::step(gw, op, step).await;
                let view = match expect::check(as_op, &expect, &r) {
                    Ok(view) => view,
                    // What the gateway says of its servers explains most failures.
                    Err(e) => return Err(gateway::with_health(gw, e).await),
                };
                return save(step.get("save_as"), &view, vars);
            }
            "sleep" => {
                tokio::time::sleep(Duration::from_millis(step["ms"].as_u64().unwrap_or(0))).await;
                Ok(Value::Null)
            }
            "expect_no_processes" => return expect_no_processes(tag).await,
            "http" => http::request(step).await,
            "close" => {
                // Twice: closing must be idempotent.
                exec.call(json!({"op": "close"}))
                    .await
                    .map_err(|e| expect::describe(&e))?;
                exec.call(json!({"op": "close"})).await
            }
            "concurrent" => {
                let inner = step.get("step").ok_or("missing `step`")?;
                let calls: Vec<Value> = (0..step["count"].as_u64().unwrap_or(1))
                    .map(|i| substitute(inner, &HashMap::from([("i".into(), i.to_string())])))
                    .collect();
                let request = json!({"op": "concurrent", "calls": calls.iter().map(request_of).collect::<Vec<_>>()});
                let replies = exec.call(request).await.map_err(|e| expect::describe(&e))?;
                let replies = replies.as_array().ok_or("`concurrent` answered no list")?;
                if replies.len() != calls.len() {
                    return Err(format!(
                        "{} answers to {} calls",
                        replies.len(),
                        calls.len()
                    ));
                }
                for (i, (call, reply)) in calls.iter().zip(replies).enumerate() {
                    let outcome = reply
                        .get("error")
                        .cloned()
                        .map_or_else(|| Ok(reply["ok"].clone()), Err);
                    let want = call.get("expect").cloned().unwrap_or_else(|| json!({}));
                    expect::check("execute_tool", &want, &outcome)
                        .map_err(|e| format!("call {i}: {e}"))?;
                }
                return Ok(());
            }
            op if RUNNER_OPS.split_whitespace().any(|o| o == op) => {
                exec.call(request_of(step)).await
            }
            other => return Err(format!("unknown op `{other}`")),
        };
        let view = expect::check(op, &expect, &result)?;
        save(step.get("save_as"), &view, vars)
    }
}

/// The request a runner gets for a step: the step without the checker's own keys.
fn request_of(step: &Value) -> Value {
    let mut request = step.clone();
    if let Some(m) = request.as_object_mut() {
        m.remove("expect");
        m.remove("save_as");
    }
    request
}

/// `save_as`: `"NAME"` saves the whole observation, `{"NAME": "/json/pointer", …}` parts of it,
/// as `${NAME}` for later steps (a string as it is, other JSON as its text).
fn save(
    spec: Option<&Value>,
    view: &Value,
    vars: &mut HashMap<String, String>,
) -> Result<(), String> {
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    match spec {
        None => {}
        Some(Value::String(name)) => {
            vars.insert(name.clone(), text(view));
        }
        Some(Value::Object(m)) => {
            for (name, pointer) in m {
                let pointer = pointer.as_str().unwrap_or_default();
                let v = view
                    .pointer(pointer)
                    .ok_or(format!("save_as {name}: nothing at {pointer} in {view}"))?;
                vars.insert(name.clone(), text(v));
            }
        }
        Some(other) => return Err(format!("save_as must be a name or an object, not {other}")),
    }
    Ok(())
}

async fn expect_no_processes(tag: &str) -> Result<(), String> {
    let needle = format!("CORRAL_SCENARIO_TAG={tag}");
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

/// The suite's directory: `CORRAL_CONFORMANCE_DIR`, else `tests/conformance` of the checkout
/// the caller runs in (found from the working directory upwards), else the one this binary
/// was built from. Looked up at run time: a shared target dir may hold a checker built from
/// another clone, whose compile-time path is gone or holds older scenarios.
fn suite_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CORRAL_CONFORMANCE_DIR") {
        return PathBuf::from(dir);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cwd = std::env::current_dir().unwrap_or_default();
    cwd.ancestors()
        .flat_map(|a| [a.to_path_buf(), a.join("tests/conformance")])
        .find(|d| d.join("scenarios").is_dir() && d.join("expected-failures").is_dir())
        .unwrap_or_else(|| built.to_path_buf())
}

fn fixture_server() -> PathBuf {
    if let Some(p) = std::env::var_os("CORRAL_TEST_SERVER") {
        return p.into();
    }
    // target/<profile>/corral-conformance, or target/<profile>/deps/conformance-<hash>.
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|d| d.join("corral-test-server"))
        .find(|p| p.is_file())
        .unwrap_or_default()
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
            if f.file_stem().is_none_or(|stem| *stem != *s.name) {
                return Err(format!("{}: name must equal the file name", f.display()));
            }
            Ok(s)
        })
        .collect()
}

/// Replaces `${VAR}` in every string of `value`; a string that is exactly `${VAR:int}` becomes
/// a JSON number. Unknown names stay as they are.
pub fn substitute(value: &Value, vars: &HashMap<String, String>) -> Value {
    let text = |s: &str| {
        vars.iter()
            .fold(s.to_owned(), |s, (k, v)| s.replace(&format!("${{{k}}}"), v))
    };
    match value {
        Value::String(s) => s
            .strip_prefix("${")
            .and_then(|r| r.strip_suffix(":int}"))
            .and_then(|name| vars.get(name)?.parse::<i64>().ok())
            .map_or_else(|| Value::String(text(s)), Value::from),
        Value::Array(a) => Value::Array(a.iter().map(|v| substitute(v, vars)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (text(k), substitute(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(op: &str, expect: Value, result: Result<Value, Value>) -> Result<Value, String> {
        expect::check(op, &expect, &result)
    }

    #[test]
    fn the_matcher_fails_what_does_not_hold() {
        let tool = json!({"result": {"content": [{"type": "text", "text": "hi"}], "isError": false}, "progress": [{"progress": 1.0}]});
        assert!(
            check(
                "execute_tool",
                json!({"text": "hi", "progress_min": 1}),
                Ok(tool.clone())
            )
            .is_ok()
        );
        assert!(check("execute_tool", json!({"text": "ho"}), Ok(tool.clone())).is_err());
        assert!(check("execute_tool", json!({"progress_min": 2}), Ok(tool.clone())).is_err());
        assert!(
            check("execute_tool", json!({"txet": "hi"}), Ok(tool)).is_err(),
            "unknown key"
        );
        let error = json!({"kind": "TIMEOUT", "message": "slow", "field": null});
        assert!(
            check(
                "execute_tool",
                json!({"error": "TIMEOUT"}),
                Err(error.clone())
            )
            .is_ok()
        );
        assert!(
            check(
                "execute_tool",
                json!({"error": "CANCELLED"}),
                Err(error.clone())
            )
            .is_err()
        );
        assert!(check("execute_tool", json!({}), Err(error)).is_err());
        assert!(
            check(
                "list_servers",
                json!({"names_include": ["a"], "count": 1}),
                Ok(json!(["a"]))
            )
            .is_ok()
        );
        assert!(
            check(
                "list_servers",
                json!({"names_exclude": ["a"]}),
                Ok(json!(["a"]))
            )
            .is_err()
        );
        let info = json!({"sessionId": "s1", "protocolVersion": "v"});
        assert!(
            check(
                "session_info",
                json!({"json_differs": {"sessionId": "s1"}}),
                Ok(info.clone())
            )
            .is_err()
        );
        assert!(
            check(
                "session_info",
                json!({"json_at": {"/protocolVersion": "v"}}),
                Ok(info)
            )
            .is_ok()
        );
        let http = json!({"status": 401, "headers": {}, "body": "no", "json": null});
        assert!(check("http", json!({"status": 200}), Ok(http.clone())).is_err());
        assert!(check("http", json!({"status": 401, "text": "no"}), Ok(http)).is_ok());
    }

    #[test]
    fn saved_values_become_placeholders() {
        let mut vars = HashMap::new();
        let obs = json!({"sessionId": "s1", "n": 3});
        save(
            Some(&json!({"ID": "/sessionId", "N": "/n"})),
            &obs,
            &mut vars,
        )
        .unwrap_or_default();
        save(Some(&json!("ALL")), &obs, &mut vars).unwrap_or_default();
        assert!(save(Some(&json!({"X": "/missing"})), &obs, &mut vars).is_err());
        let step = json!({"a": "${ID}", "b": "${N:int}", "c": "${ALL}", "d": "${UNKNOWN}"});
        let want = json!({"a": "s1", "b": 3, "c": obs.to_string(), "d": "${UNKNOWN}"});
        assert_eq!(substitute(&step, &vars), want);
    }
}
