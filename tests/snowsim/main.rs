//! snowsim's own test suite, over real HTTP on 127.0.0.1: OAuth server, SQL API v2 status paths
//! (bodies validated against ../shared/specs/sqlapi.yaml), keypair JWT, TPC-H seed queries,
//! partitions, faults, counters, TLS and configuration, and the account-administration SQL admins
//! paste (keys, policies, warehouses, OAuth integrations, delegated authorizations).

// A test binary: failing loudly on unexpected input is the point (STYLE.md §9).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin_helpers;
mod admin_oauth;
mod admin_users;
mod control;
mod generator;
mod helpers;
mod jwt;
mod oauth;
mod oauth_tokens;
mod schema;
mod sqlapi;
mod tpch;
