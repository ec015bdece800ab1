//! `corral-conformance <language>`: the checker as a child process of a language's runner,
//! speaking JSON lines on stdin/stdout (protocol in the README). It prints
//! `{"scenarios": [names]}`, then for each `{"run": name, "variant"?}` it drives the
//! scenario with `{"seq", "op", …}` requests, reads each `{"seq", "ok"}` / `{"seq", "error"}`
//! answer, and ends with `{"done": name, "outcome", "message"}`. It exits when stdin closes.

use std::io::{BufRead, Write};

use corral_conformance::{Checker, Executor};
use serde_json::{Value, json};

/// The runner at the other end of stdin/stdout. Blocking reads are fine: the checker does one
/// thing at a time, and the runner does the concurrency of a `concurrent` step itself.
struct Wire {
    next_id: u64,
}

fn send(message: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{message}").and_then(|()| out.flush());
}

fn receive() -> Option<Value> {
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(
            serde_json::from_str(&line).unwrap_or_else(|e| json!({"bad": format!("{e}: {line}")})),
        ),
    }
}

impl Executor for Wire {
    async fn call(&mut self, mut request: Value) -> Result<Value, Value> {
        self.next_id += 1;
        request["seq"] = json!(self.next_id);
        send(&request);
        let answer =
            receive().ok_or_else(|| json!({"kind": "RUNNER_GONE", "message": "stdin closed"}))?;
        if answer["seq"] != json!(self.next_id) {
            return Err(
                json!({"kind": "RUNNER_PROTOCOL", "message": format!("answer {answer} to {request}")}),
            );
        }
        match answer.get("error") {
            Some(e) => Err(e.clone()),
            None => Ok(answer.get("ok").cloned().unwrap_or(Value::Null)),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(language) = std::env::args().nth(1) else {
        eprintln!("usage: corral-conformance <language>  (reads expected-failures/<language>.txt)");
        std::process::exit(2);
    };
    let checker = match Checker::new(&language) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("corral-conformance: {e}");
            std::process::exit(2);
        }
    };
    let names: Vec<&str> = checker.scenarios.iter().map(|s| s.name.as_str()).collect();
    send(&json!({"scenarios": names}));
    let mut wire = Wire { next_id: 0 };
    while let Some(message) = receive() {
        let Some(name) = message["run"].as_str() else {
            eprintln!("corral-conformance: expected {{\"run\": name}}, got {message}");
            std::process::exit(2);
        };
        let outcome = checker
            .run(
                name,
                message["variant"].as_str().unwrap_or_default(),
                &mut wire,
            )
            .await;
        send(&outcome.to_json(name));
    }
}
