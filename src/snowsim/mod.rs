//! snowsim: a local double of Snowflake (OAuth server, SQL API v2, keypair JWT) used by every
//! end-to-end test, the benchmarks and `icebroker demo`.

pub mod engine;
pub mod model;
