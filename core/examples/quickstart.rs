//! corral's main job in one program: install the official MCP "everything" server from npm
//! inside a bubblewrap sandbox, start it, list its tools and call one.
//!
//! Run it with `make demo` (which installs bubblewrap if needed), or
//! `cargo run -p corral-core --example quickstart`. The first run downloads the server into the
//! sandbox's private home under corral's home (`$CORRAL_HOME`, default `~/.local/share/corral`);
//! later runs reuse it.

use corral_core::{Corral, ServerConfig};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let corral = Corral::new()?;
    let server = ServerConfig::command(
        "everything",
        "node node_modules/@modelcontextprotocol/server-everything/dist/index.js stdio",
    )?
    .install(
        "npm install --no-audit --no-fund --loglevel=error \
         @modelcontextprotocol/server-everything@2026.8.31",
    );
    corral.add_server(server).await?;

    println!(
        "starting `everything` in a {} sandbox…",
        corral.provider_name()
    );
    let tools = corral.discover_tools("everything").await?;
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    println!("{} tools: {}", tools.len(), names.join(", "));

    let result = corral
        .execute_tool(
            "everything",
            "echo",
            json!({"message": "hello from a sandbox"}),
        )
        .await?;
    println!("echo → {}", result.text());

    let session = corral.session("everything").await?;
    println!(
        "sandbox {} · MCP {}",
        session.sandbox_id().unwrap_or("-"),
        session.protocol_version()
    );
    corral.close().await;
    Ok(())
}
