//! The Rust runner: every scenario of the shared suite as one `cargo test` test. The checker
//! (this crate's library) drives each scenario in process; [`Rust`] performs its ops on a real
//! `corral_core::Corral` and answers with the observation (the core's serde JSON).
//!
//! Environment: `CORRAL_TEST_SERVER` (default: next to this test's target dir),
//! `CORRAL_TEST_PROVIDER`, `CORRAL_TEST_REQUIRE_ALL=1`, `CORRAL_TEST_OFFLINE=1` (README).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use corral_conformance::{CANARY_VALUE, CANARY_VAR, Checker, Executor, Outcome};
use corral_core::{
    CallOptions, Corral, CorralOptions, Error, ErrorKind, LoadOptions, Mount, NetworkPolicy,
    Progress, SandboxConfig, SandboxHandle, ServerConfig, ServerSession,
};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use serde_json::{Value, json};

#[derive(Default)]
struct Rust {
    corral: Option<Corral>,
    sandboxes: HashMap<String, SandboxHandle>,
    sessions: HashMap<String, ServerSession>,
    gateway: Option<corral_core::Gateway>,
    /// Every start event since `open`, in canonical JSON.
    start_events: Arc<Mutex<Vec<Value>>>,
}

impl Executor for Rust {
    async fn call(&mut self, request: Value) -> Result<Value, Value> {
        self.op(&request).await.map_err(
            |e| json!({"kind": e.kind().code(), "message": e.to_string(), "field": e.field()}),
        )
    }
}

fn str_of<'a>(r: &'a Value, key: &str) -> &'a str {
    r[key].as_str().unwrap_or_default()
}

fn to_json(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl Rust {
    async fn op(&mut self, r: &Value) -> Result<Value, Error> {
        let op = str_of(r, "op");
        if op == "setenv" {
            // main() set it before any thread existed; setting it here would race.
            let ok = std::env::var(str_of(r, "name")).ok().as_deref() == r["value"].as_str();
            return if ok {
                Ok(Value::Null)
            } else {
                Err(Error::new(ErrorKind::InvalidArgument, "unexpected setenv"))
            };
        }
        if op == "open" {
            let options = CorralOptions {
                provider: Some(str_of(r, "provider").into()),
                home: Some(str_of(r, "home").into()),
                ..CorralOptions::default()
            };
            let corral = Corral::with_options(options)?;
            let events = self.start_events.clone();
            if let Ok(mut e) = events.lock() {
                e.clear();
            }
            corral.set_start_callback(Some(Arc::new(move |event| {
                if let Ok(mut e) = events.lock() {
                    e.push(to_json(event));
                }
            })));
            self.corral = Some(corral);
            return Ok(Value::Null);
        }
        if op == "drop" {
            // Every reference goes, without close(): the core's Drop stops everything.
            self.sessions.clear();
            self.sandboxes.clear();
            self.gateway = None;
            self.corral = None;
            return Ok(Value::Null);
        }
        if op == "close" && self.corral.is_none() {
            return Ok(Value::Null); // after `drop`
        }
        let c = self
            .corral
            .clone()
            .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "no open Corral"))?;
        let session = || c.session(str_of(r, "server"));
        let sandbox = || {
            self.sandboxes
                .get(str_of(r, "id"))
                .cloned()
                .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "no such sandbox"))
        };
        Ok(match op {
            "close" => {
                if let Some(g) = self.gateway.take() {
                    g.close().await;
                }
                c.close().await;
                Value::Null
            }
            "start_gateway" => {
                let options: corral_core::GatewayOptions =
                    serde_json::from_value(r.get("options").cloned().unwrap_or(json!({})))
                        .map_err(|e| Error::new(ErrorKind::ConfigInvalid, e.to_string()))?;
                let g = c.start_gateway(options).await?;
                let out = json!({"url": g.url(), "token": g.token()});
                if let Some(old) = self.gateway.replace(g) {
                    old.close().await;
                }
                out
            }
            "gateway_close" => {
                if let Some(g) = self.gateway.take() {
                    g.close().await;
                }
                Value::Null
            }
            "add_server" => to_json(
                c.add_server_from_dict(str_of(r, "name"), &r["config"])
                    .await?,
            ),
            "remove_server" => to_json(c.remove_server(str_of(r, "server")).await?),
            "restart_server" => to_json(c.add_server(c.server(str_of(r, "server"))?).await?),
            "list_servers" => json!(
                c.list_servers()
                    .into_iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
            ),
            "load_mcp_servers" => {
                let flag = |key: &str| r[key].as_bool().unwrap_or(false);
                let options = LoadOptions::new(flag("mount_args"), flag("expand_env"));
                match &r["document"] {
                    Value::String(text) => to_json(c.load_mcp_servers(text, options).await?),
                    doc => to_json(c.load_mcp_servers_value(doc, options).await?),
                }
            }
            "discover_tools" => to_json(c.discover_tools(str_of(r, "server")).await?),
            "tool_schema" => {
                let tools = c.discover_tools(str_of(r, "server")).await?;
                let tool = tools
                    .iter()
                    .find(|t| t.name == str_of(r, "tool"))
                    .ok_or_else(|| Error::new(ErrorKind::ToolNotFound, "no such tool"))?;
                let mut v = to_json(tool);
                v["openai"] = tool.to_openai();
                v["anthropic"] = tool.to_anthropic();
                v
            }
            "execute_tool" => execute(&c, r).await?,
            "concurrent" => {
                let calls: Vec<_> = r["calls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
                let tasks: Vec<_> = calls
                    .into_iter()
                    .map(|call| {
                        let c = c.clone();
                        tokio::spawn(async move { execute(&c, &call).await })
                    })
                    .collect();
                let mut answers = Vec::new();
                for t in tasks {
                    answers.push(match t.await.map_err(|e| Error::new(ErrorKind::InvalidArgument, e.to_string()))? {
                        Ok(v) => json!({"ok": v}),
                        Err(e) => json!({"error": {"kind": e.kind().code(), "message": e.to_string()}}),
                    });
                }
                Value::Array(answers)
            }
            "quick" => {
                let config = match r.get("config") {
                    Some(config) => ServerConfig::from_value("quick", config)?,
                    None => ServerConfig::command("quick", str_of(r, "command"))?,
                };
                c.quick_with(config, str_of(r, "tool"), r["args"].clone())
                    .await?
                    .to_value()
            }
            "session_open" => {
                let s = session().await?;
                self.sessions.insert(str_of(r, "id").to_owned(), s);
                Value::Null
            }
            "session_execute" => {
                let s = self
                    .sessions
                    .get(str_of(r, "id"))
                    .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "no such session"))?;
                s.call_tool(str_of(r, "tool"), r["args"].clone())
                    .await?
                    .to_value()
            }
            "session_close" => {
                if let Some(s) = self.sessions.get(str_of(r, "id")) {
                    s.close();
                }
                Value::Null
            }
            "start_events" => Value::Array(
                self.start_events
                    .lock()
                    .map(|e| e.clone())
                    .unwrap_or_default(),
            ),
            "session_info" => {
                let s = session().await?;
                json!({"sessionId": s.session_id(), "sandboxId": s.sandbox_id(), "protocolVersion": s.protocol_version()})
            }
            "list_resources" => to_json(session().await?.list_resources().await?),
            "read_resource" => to_json(session().await?.read_resource(str_of(r, "uri")).await?),
            "list_prompts" => to_json(session().await?.list_prompts().await?),
            "get_prompt" => to_json(
                session()
                    .await?
                    .get_prompt(str_of(r, "name"), r["args"].clone())
                    .await?,
            ),
            "sandbox_open" => {
                let handle = c.sandbox(sandbox_config(&r["config"])?).await?;
                self.sandboxes.insert(str_of(r, "id").to_owned(), handle);
                Value::Null
            }
            "sandbox_exec" => to_json(sandbox()?.exec(str_of(r, "script")).await?),
            "sandbox_write" => to_json(
                sandbox()?
                    .write_file(str_of(r, "path"), str_of(r, "data").as_bytes())
                    .await?,
            ),
            "sandbox_read" => json!(String::from_utf8_lossy(
                &sandbox()?.read_file(str_of(r, "path")).await?
            )),
            "sandbox_close" => to_json(sandbox()?.close().await?),
            "build_template" => {
                let commands: Vec<String> = r["install_commands"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
                to_json(
                    c.build_template(str_of(r, "name"), &commands, r["base"].as_str())
                        .await?,
                )
            }
            "list_templates" => to_json(c.list_templates()),
            "remove_template" => to_json(c.remove_template(str_of(r, "name"))?),
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("unknown op {other}"),
                ));
            }
        })
    }
}

fn sandbox_config(cfg: &Value) -> Result<SandboxConfig, Error> {
    let mut out = SandboxConfig {
        name: "scenario".into(),
        ..SandboxConfig::default()
    };
    for (k, v) in cfg["env"].as_object().into_iter().flatten() {
        out.env
            .insert(k.clone(), v.as_str().unwrap_or_default().to_owned());
    }
    if cfg["network"] == "none" {
        out.network = NetworkPolicy::None;
    }
    for m in cfg["mounts"].as_array().into_iter().flatten() {
        let mount = Mount::parse(m.as_str().unwrap_or_default())
            .map_err(|e| Error::new(ErrorKind::ConfigInvalid, e))?;
        out.mounts.push(mount);
    }
    out.template = cfg["template"].as_str().map(str::to_owned);
    if !cfg["limits"].is_null() {
        out.limits = serde_json::from_value(cfg["limits"].clone())
            .map_err(|e| Error::new(ErrorKind::ConfigInvalid, e.to_string()))?;
    }
    Ok(out)
}

/// `{result, progress}` of one `execute_tool` request.
async fn execute(c: &Corral, r: &Value) -> Result<Value, Error> {
    let progress: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let seen = progress.clone();
    let ms = |key: &str| r[key].as_u64().map(Duration::from_millis);
    let cancel = ms("cancel_after_ms").map(|after| {
        let token = tokio_util::sync::CancellationToken::new();
        let trigger = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            trigger.cancel();
        });
        token
    });
    let options = CallOptions {
        timeout: ms("timeout_ms"),
        max_total: ms("max_total_ms"),
        on_progress: Some(Arc::new(move |p| {
            seen.lock().map(|mut v| v.push(p)).unwrap_or_default()
        })),
        cancel,
    };
    let args = r.get("args").cloned().unwrap_or_else(|| json!({}));
    let result = c
        .execute_tool_with(str_of(r, "server"), str_of(r, "tool"), args, options)
        .await?;
    let progress = progress.lock().map(|v| to_json(&*v)).unwrap_or_default();
    Ok(json!({"result": result.to_value(), "progress": progress}))
}

fn main() {
    let args = Arguments::from_args();
    // SAFETY: before any other thread exists. The checker's `setenv` op only verifies it.
    unsafe { std::env::set_var(CANARY_VAR, CANARY_VALUE) };
    let checker = match Checker::new("rust") {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let trials = checker
        .scenarios
        .iter()
        .map(|s| {
            let (checker, name) = (checker.clone(), s.name.clone());
            Trial::ignorable_test(s.name.clone(), move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| Failed::from(e.to_string()))?;
                let outcome = rt.block_on(checker.run(&name, "", &mut Rust::default()));
                rt.shutdown_timeout(Duration::from_secs(5));
                match outcome {
                    Outcome::Passed => Ok(Completion::Completed),
                    Outcome::Failed(e) => Err(Failed::from(e)),
                    Outcome::Skipped(why) => Ok(Completion::ignored_with(why)),
                    Outcome::ExpectedFailure(e) => {
                        Ok(Completion::ignored_with(format!("expected failure: {e}")))
                    }
                }
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    drop(checker);
    conclusion.exit();
}
