//! icebroker: a self-hosted OAuth-brokering reverse proxy for Snowflake.
//!
//! Layers point one way: `routes`/`http` → services (`api_keys`, …) → `vault` → `store`.
//! See `README.md` and `../shared/DESIGN.md` for the map.

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connections;
pub mod demo;
pub mod error;
pub mod http;
pub mod keypair;
pub mod keysource;
pub mod mcp;
pub mod metrics;
pub mod oauth;
pub mod proxy;
pub mod ratelimit;
pub mod routes;
pub mod snowflake;
pub mod snowsim;
pub mod sqltpl;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tools;
pub mod vault;
