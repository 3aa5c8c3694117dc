//! End-to-end tests of the broker over real HTTP on loopback (one test binary).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod admin_browser;
mod admin_canary;
mod admin_keypair;
mod admin_support;
mod api_keys;
mod canary;
mod cli;
mod crash;
mod crash_broker;
mod errors;
mod health;
mod helpers;
mod keypair;
mod mcp;
mod mcp_client;
mod mcp_keys;
mod metrics;
mod oauth_canary;
mod oauth_flow;
mod oauth_proxy;
mod oauth_security;
mod oauth_support;
mod openapi;
mod proxy;
mod rate_limit;
mod shutdown;
mod sim;
mod sql_templates;
mod sql_templates_cli;
mod sql_templates_e2e;
mod startup;
mod stub;
mod tools;
mod tools_catalog;
mod tools_security;
