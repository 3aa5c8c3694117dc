//! snowsim's own test suite, over real HTTP on 127.0.0.1: OAuth server, SQL API v2 status paths
//! (bodies validated against ../shared/specs/sqlapi.yaml), keypair JWT, TPC-H seed queries,
//! partitions, faults, counters, TLS and configuration.

mod control;
mod helpers;
mod jwt;
mod oauth;
mod schema;
mod sqlapi;
mod tpch;
