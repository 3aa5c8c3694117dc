//! icebroker library.
pub mod snowsim;
pub mod store;
pub mod vault;
