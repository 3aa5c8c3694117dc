//! MCP (Model Context Protocol) over Streamable HTTP at `/mcp`: agents list and call the same
//! tools as `/v1/tools`. The protocol types are rmcp's (`rmcp::model`, the official Rust SDK,
//! default features off: no runtime, transport or macros); the transport is our own actix
//! route (`routes::mcp`), because rmcp's HTTP server is a tower service for axum/hyper.
//!
//! Invariants: every POST is authenticated by an API key (stateless, no sessions); `Origin`
//! is checked before anything else; protocol errors are JSON-RPC errors, tool failures are
//! tool results with `isError: true` and the icebroker error code.

pub mod catalog;
pub mod host;
pub mod jsonrpc;
pub mod origin;
pub mod server;
pub mod version;

#[cfg(test)]
mod tests;
