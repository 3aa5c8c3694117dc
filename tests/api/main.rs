//! End-to-end tests of the broker over real HTTP on loopback (one test binary).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_keys;
mod canary;
mod cli;
mod errors;
mod health;
mod helpers;
mod keypair;
mod openapi;
mod proxy;
mod sim;
mod startup;
mod stub;
