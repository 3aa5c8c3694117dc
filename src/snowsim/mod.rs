//! snowsim: a local double of Snowflake (OAuth server, SQL API v2, keypair JWT) used by every
//! end-to-end test, the benchmarks and `icebroker demo`.
//!
//! Start one with [`SnowSim::start`] (port 0 in tests) from a [`SimConfig`] ([`SimConfig::demo`]
//! or [`SimConfig::load`] for TOML); control it through [`RunningSnowSim`] / [`SimControl`] or the
//! `/_snowsim/` HTTP endpoints.

pub mod admin;
pub mod auth;
pub mod compat;
pub mod control;
pub mod counters;
pub mod delegations;
pub mod demo;
pub mod engine;
pub mod execute;
pub mod faults;
pub mod generated;
pub mod jwt;
pub mod live;
pub mod model;
pub mod oauth_authorize;
pub mod oauth_token;
pub mod pages;
pub mod pending;
pub mod responses;
pub mod server;
pub mod session;
pub mod sqlapi;
pub mod state;
pub mod statements;
pub mod tls;
pub mod token_types;
pub mod tokens;
pub mod util;

pub use control::SimControl;
pub use counters::CountersSnapshot;
pub use faults::{FaultKind, FaultSpec};
pub use model::SimConfig;
pub use server::{serve, RunningSnowSim, SimError, SnowSim};
