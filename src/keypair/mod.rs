//! Keypair (JWT) connections' cryptography: key material and JWT signing.

pub mod jwt;
pub mod keys;

pub use jwt::{Claims, Identity, JwtCache, JwtError, SignedJwt};
pub use keys::{fingerprint_of_spki, KeyError, KeyMaterial};
