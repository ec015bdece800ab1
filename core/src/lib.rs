//! # corral-core
//!
//! Run any MCP server inside a sandbox and talk MCP to it. This crate is the one place with
//! logic; the Python, Node and UniFFI bindings only translate types.
//!
//! Every type that crosses into another language has one canonical JSON form, its serde form:
//! see [`boundary`] for the shapes, with an example of each. Errors carry a stable
//! [`ErrorKind`], the config [`field`](Error::field) they concern, and their source chain.
//!
//! ```no_run
//! # async fn demo() -> corral_core::Result<()> {
//! use corral_core::{Corral, ServerConfig};
//! let corral = Corral::new()?; // local bubblewrap sandboxes
//! corral
//!     .add_server(ServerConfig::command("time", "uvx mcp-server-time")?)
//!     .await?;
//! for tool in corral.discover_tools("time").await? {
//!     println!("{}: {}", tool.name, tool.description.unwrap_or_default());
//! }
//! let result = corral
//!     .execute_tool("time", "get_current_time", serde_json::json!({"timezone": "UTC"}))
//!     .await?;
//! println!("{}", result.text());
//! corral.close().await;
//! # Ok(()) }
//! ```

pub mod boundary;
pub mod catalog;
pub mod config;
pub mod error;
pub mod gateway;
pub mod install;
pub mod mcp;
pub mod runner;
pub mod sandbox;
pub mod store;
pub mod sync;
pub mod tool;

pub use self::{
    config::{Limits, LoadOptions, Mount, NetworkPolicy, ServerConfig, ToolFilter, Transport},
    error::{Error, ErrorKind, Result},
    gateway::{Gateway, GatewayOptions, ServerHealth, ServerState, start_gateway},
    install::{PruneReport, TemplateInfo},
    mcp::{CallOptions, LogCallback, ProgressCallback, Session, SessionOptions},
    runner::{
        Corral, CorralOptions, SandboxHandle, ServerSession, StartCallback, StartEvent,
        default_home,
    },
    sandbox::{Command, ExecOutput, ExitStatus, Provider, Sandbox, SandboxConfig},
    store::Store,
    tool::{
        Content, LogMessage, Progress, Prompt, PromptMessage, PromptResult, Resource,
        ResourceContents, Tool, ToolResult,
    },
};

/// The old name of [`ExecOutput`].
#[deprecated(note = "renamed to ExecOutput")]
pub type Output = ExecOutput;
