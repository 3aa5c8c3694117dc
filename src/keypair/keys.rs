//! RSA key material for keypair connections: generation, import and the public forms Snowflake
//! needs. Keys are kept as PKCS#8 v1 DER in zeroizing buffers and sealed by the vault.
//!
//! Per SECURITY.md SC-2 the `rsa` crate only parses keys (PKCS#1 import, size checks, public
//! key); generation uses aws-lc-rs, and signing happens in [`super::jwt`] through jsonwebtoken's
//! aws-lc-rs backend. Nothing here signs or decrypts with `rsa`.

use aws_lc_rs::encoding::AsDer;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pkcs8::der::Decode;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Smallest accepted modulus (Snowflake's minimum).
pub const MIN_BITS: usize = 2048;

/// Why a key could not be generated or imported. Each variant has its own error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not a PEM private key at all.
    #[error("private_key_pem is not a PEM private key; paste the whole file including the -----BEGIN … PRIVATE KEY----- lines")]
    NotAKey,
    /// A public key (or certificate) was pasted instead of the private key.
    #[error("private_key_pem holds a public key; icebroker needs the private key (the .p8 file), Snowflake gets the public one")]
    PublicKeyGiven,
    /// The key is encrypted and no passphrase was given.
    #[error("the private key is encrypted; send private_key_passphrase as well")]
    PassphraseRequired,
    /// The passphrase does not decrypt the key.
    #[error("private_key_passphrase does not decrypt this key")]
    WrongPassphrase,
    /// Not RSA, or malformed inside.
    #[error("the private key is not a valid RSA key: {0}")]
    Invalid(String),
    /// Below 2048 bits.
    #[error("the RSA key has {0} bits; Snowflake requires at least 2048 (generate one with `openssl genrsa 2048`)")]
    TooSmall(usize),
    /// Key generation failed.
    #[error("RSA key generation failed")]
    Generation,
}

impl KeyError {
    /// The stable API error code for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAKey => "invalid_private_key",
            Self::PublicKeyGiven => "public_key_given",
            Self::PassphraseRequired => "private_key_passphrase_required",
            Self::WrongPassphrase => "wrong_private_key_passphrase",
            Self::Invalid(_) => "invalid_private_key",
            Self::TooSmall(_) => "private_key_too_small",
            Self::Generation => "internal",
        }
    }
}

/// A private key as PKCS#8 v1 DER with its public forms precomputed.
pub struct KeyMaterial {
    pkcs8_der: Zeroizing<Vec<u8>>,
    /// Base64 of the SubjectPublicKeyInfo DER (what `RSA_PUBLIC_KEY` takes).
    pub public_key_b64: String,
    /// `SHA256:` + base64(SHA-256(SPKI DER)), equal to Snowflake's `RSA_PUBLIC_KEY_FP`.
    pub fingerprint: String,
    /// Modulus size in bits.
    pub bits: usize,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("fingerprint", &self.fingerprint)
            .field("bits", &self.bits)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl KeyMaterial {
    /// Generates a fresh RSA-2048 key (CPU-heavy: call off the async workers).
    pub fn generate() -> Result<Self, KeyError> {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| KeyError::Generation)?;
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
            .map_err(|_| KeyError::Generation)?;
        Self::from_pkcs8_der(Zeroizing::new(der.as_ref().to_vec()))
    }

    /// Imports a PEM key: PKCS#8 (plain or passphrase-encrypted) or PKCS#1.
    pub fn from_pem(pem: &str, passphrase: Option<&str>) -> Result<Self, KeyError> {
        let pem = pem.trim();
        let label = pem
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("-----BEGIN "))
            .and_then(|l| l.strip_suffix("-----"))
            .ok_or(KeyError::NotAKey)?;
        match label {
            "PRIVATE KEY" => {
                let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
                    .map_err(|e| KeyError::Invalid(e.to_string()))?;
                Self::from_rsa(&key)
            }
            "ENCRYPTED PRIVATE KEY" => {
                let passphrase = passphrase
                    .filter(|p| !p.is_empty())
                    .ok_or(KeyError::PassphraseRequired)?;
                let (_, doc) = pkcs8::SecretDocument::from_pem(pem)
                    .map_err(|e| KeyError::Invalid(e.to_string()))?;
                let encrypted = pkcs8::EncryptedPrivateKeyInfo::from_der(doc.as_bytes())
                    .map_err(|e| KeyError::Invalid(e.to_string()))?;
                let decrypted = encrypted
                    .decrypt(passphrase)
                    .map_err(|_| KeyError::WrongPassphrase)?;
                let key = rsa::RsaPrivateKey::from_pkcs8_der(decrypted.as_bytes())
                    .map_err(|e| KeyError::Invalid(e.to_string()))?;
                Self::from_rsa(&key)
            }
            "RSA PRIVATE KEY" => {
                if pem.contains("Proc-Type: 4,ENCRYPTED") {
                    return Err(KeyError::Invalid(
                        "legacy OpenSSL-encrypted PKCS#1 is not supported; convert it with \
                         `openssl pkcs8 -topk8 -in key.pem -out key.p8`"
                            .into(),
                    ));
                }
                let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem)
                    .map_err(|e| KeyError::Invalid(e.to_string()))?;
                Self::from_rsa(&key)
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => Err(KeyError::PublicKeyGiven),
            _ => Err(KeyError::NotAKey),
        }
    }

    /// Re-creates key material from sealed PKCS#8 DER.
    pub fn from_pkcs8_der(der: Zeroizing<Vec<u8>>) -> Result<Self, KeyError> {
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&der)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let mut material = Self::from_rsa(&key)?;
        material.pkcs8_der = der;
        Ok(material)
    }

    fn from_rsa(key: &rsa::RsaPrivateKey) -> Result<Self, KeyError> {
        let bits = key.size() * 8;
        if bits < MIN_BITS {
            return Err(KeyError::TooSmall(bits));
        }
        let pkcs8 = key
            .to_pkcs8_der()
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let spki = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        Ok(Self {
            pkcs8_der: Zeroizing::new(pkcs8.as_bytes().to_vec()),
            public_key_b64: STANDARD.encode(spki.as_bytes()),
            fingerprint: fingerprint_of_spki(spki.as_bytes()),
            bits,
        })
    }

    /// The PKCS#8 DER, for sealing and for the signer.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8_der
    }

    /// PKCS#8 PEM (zeroizing), the form jsonwebtoken loads.
    pub fn pkcs8_pem(&self) -> Zeroizing<String> {
        let body = Zeroizing::new(STANDARD.encode(self.pkcs8_der.as_slice()));
        let mut pem = String::with_capacity(body.len() + 80);
        pem.push_str("-----BEGIN PRIVATE KEY-----\n");
        for chunk in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        Zeroizing::new(pem)
    }
}

/// `SHA256:` + standard base64 of SHA-256 over SubjectPublicKeyInfo DER.
pub fn fingerprint_of_spki(spki_der: &[u8]) -> String {
    format!("SHA256:{}", STANDARD.encode(Sha256::digest(spki_der)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_2048_bit_and_reload_from_their_der() {
        let key = KeyMaterial::generate().unwrap();
        assert_eq!(key.bits, 2048);
        let again = KeyMaterial::from_pkcs8_der(Zeroizing::new(key.pkcs8_der().to_vec())).unwrap();
        assert_eq!(again.fingerprint, key.fingerprint);
        assert!(key.fingerprint.starts_with("SHA256:") && key.fingerprint.len() == 51);
        assert!(format!("{key:?}").contains("<redacted>"));
    }

    #[test]
    fn pem_round_trip_keeps_the_fingerprint() {
        let key = KeyMaterial::generate().unwrap();
        let again = KeyMaterial::from_pem(&key.pkcs8_pem(), None).unwrap();
        assert_eq!(again.fingerprint, key.fingerprint);
    }

    #[test]
    fn bad_inputs_have_distinct_errors() {
        assert_eq!(
            KeyMaterial::from_pem("hello", None).unwrap_err(),
            KeyError::NotAKey
        );
        let key = KeyMaterial::generate().unwrap();
        let public = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
            key.public_key_b64
        );
        assert_eq!(
            KeyMaterial::from_pem(&public, None).unwrap_err(),
            KeyError::PublicKeyGiven
        );
        let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----";
        assert!(matches!(
            KeyMaterial::from_pem(garbage, None).unwrap_err(),
            KeyError::Invalid(_)
        ));
    }
}
