//! Optional TLS for clients that insist on `https`: a throwaway CA and a leaf certificate for
//! `localhost` and `127.0.0.1`, generated at start. The CA certificate is written as PEM to
//! `<dir>/snowsim-ca.pem` for clients to trust; no private key ever touches the disk.
//!
//! A separate CA (rather than trusting the self-signed leaf) keeps clients' verifiers on their
//! normal path: webpki rejects CA certificates used as end-entity certificates.

use std::io;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

fn tls_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("snowsim TLS: {e}"))
}

/// Generates the certificates, writes the CA PEM into `dir` and returns the rustls server
/// configuration with the CA file's path.
pub fn server_config(dir: &Path) -> io::Result<(rustls::ServerConfig, PathBuf)> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "snowsim test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().map_err(tls_err)?;
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(tls_err)?;

    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(tls_err)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "snowsim");
    let leaf_key = KeyPair::generate().map_err(tls_err)?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(tls_err)?;

    std::fs::create_dir_all(dir)?;
    let ca_path = dir.join("snowsim-ca.pem");
    std::fs::write(&ca_path, ca.pem())?;

    let chain = vec![CertificateDer::from(leaf.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(tls_err)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((config, ca_path))
}
