//! `corral-e2b-peer <fixture>`: one corral process with the e2b provider (configured from the
//! environment) and one server, driven line by line on stdin: `call` answers
//! `ok <sandbox id>`, `quit` closes corral and answers `closed`. Used by the scale-out test.

use std::io::{BufRead as _, Write as _};

use corral_core::{Corral, CorralOptions, ServerConfig};

#[tokio::main]
async fn main() {
    let fixture = std::env::args().nth(1).unwrap_or_default();
    let corral = match Corral::with_options(CorralOptions {
        provider: Some("e2b".into()),
        ..CorralOptions::default()
    }) {
        Ok(c) => c,
        Err(e) => {
            println!("error {e}");
            return;
        }
    };
    if let Err(e) = corral
        .add_server(ServerConfig::argv("fx", [fixture.as_str()]))
        .await
    {
        println!("error {e}");
        return;
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(4);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        let answer = match line.trim() {
            "call" => {
                let result = corral
                    .execute_tool("fx", "echo", serde_json::json!({"text": "peer"}))
                    .await;
                match (result, corral.session("fx").await) {
                    (Ok(r), Ok(s)) if r.text() == "peer" => {
                        format!("ok {}", s.sandbox_id().unwrap_or_default())
                    }
                    (Err(e), _) | (_, Err(e)) => format!("error {e}"),
                    (Ok(r), _) => format!("error unexpected answer {}", r.text()),
                }
            }
            "quit" => {
                corral.close().await;
                "closed".to_owned()
            }
            other => format!("error unknown command {other}"),
        };
        println!("{answer}");
        let _ = std::io::stdout().flush();
        if answer == "closed" {
            break;
        }
    }
}
