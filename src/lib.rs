//! icebroker library.
pub mod snowsim;
