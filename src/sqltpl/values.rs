//! Values for template placeholders, given by a person (`--set`, a form) or derived from a
//! connection's record. Values are plain text; each placeholder's kind checks and quotes them
//! at render time, so nothing here needs to escape anything.

use std::collections::BTreeMap;

use crate::connections::Connection;

/// Placeholder values. Keys set with [`Values::set`] must exist in the template rendered;
/// keys from [`Values::set_derived`] (a connection's record) may be unused by it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    given: BTreeMap<String, String>,
    derived: BTreeMap<String, String>,
}

impl Values {
    /// No values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` (an explicit choice: rendering fails if the template has no such placeholder).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.given.insert(key.into(), value.into());
        self
    }

    /// Sets `key` as a derived value (ignored by templates without that placeholder).
    pub fn set_derived(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.derived.insert(key.into(), value.into());
        self
    }

    /// Sets an identifier to exactly `name` (no upper-case folding), e.g. a user's NAME as
    /// Snowflake reports it.
    pub fn set_exact_ident(&mut self, key: impl Into<String>, name: &str) -> &mut Self {
        self.set(key, format!("\"{}\"", name.replace('"', "\"\"")))
    }

    /// The value for `key` (explicit values win over derived ones).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.given
            .get(key)
            .or_else(|| self.derived.get(key))
            .map(String::as_str)
    }

    /// Parses `key=value` (the CLI's `--set`).
    pub fn set_pair(&mut self, pair: &str) -> Result<&mut Self, String> {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("--set {pair:?}: expected NAME=VALUE"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("--set {pair:?}: the name is empty"));
        }
        Ok(self.set(key, value))
    }

    /// Keys that must be placeholders of the template.
    pub(super) fn strict_keys(&self) -> impl Iterator<Item = &String> {
        self.given.keys()
    }

    /// All keys and values, explicit ones winning (for display).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut all: BTreeMap<&str, &str> = self
            .derived
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        all.extend(self.given.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        all.into_iter()
    }
}

/// `RSA_PUBLIC_KEY` for slot 1, `RSA_PUBLIC_KEY_2` for slot 2.
pub fn slot_property(slot: u8) -> &'static str {
    if slot == 2 {
        "RSA_PUBLIC_KEY_2"
    } else {
        "RSA_PUBLIC_KEY"
    }
}

/// The Snowflake user NAME a keypair connection's statements address (its user, upper case,
/// as the connection API has always written it), in exact identifier form.
pub fn keypair_user_ident(user: &str) -> String {
    format!("\"{}\"", user.to_uppercase().replace('"', "\"\""))
}

/// Values derived from a connection's record (and the broker's public URL), for every template
/// at once: `connection`, `account`, `snowflake_host`, `role`, `warehouse`, `database`,
/// `schema`, keypair `user`/`property`/`public_key`/`retired_property` and, during a rotation,
/// `next_property`/`next_public_key`; OAuth `integration`/`redirect_uri`/`allow_non_tls`/
/// `refresh_token_validity`/`single_use`; `public_url`.
pub fn for_connection(connection: &Connection, public_url: Option<&str>) -> Values {
    let mut v = Values::new();
    v.set_derived("connection", connection.name.as_str());
    v.set_derived("account", connection.account_claim.as_str());
    if let Some(host) = url::Url::parse(&connection.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
    {
        v.set_derived("snowflake_host", host);
    }
    let d = &connection.defaults;
    for (key, value) in [
        ("role", &d.role),
        ("warehouse", &d.warehouse),
        ("database", &d.database),
        ("schema", &d.schema),
    ] {
        // Stored exactly as Snowflake stores the name, so written exactly (no case folding).
        if let Some(value) = value {
            v.set_derived(key, format!("\"{}\"", value.replace('"', "\"\"")));
        }
    }
    if let Some(k) = &connection.keypair {
        v.set_derived("user", keypair_user_ident(&k.user));
        v.set_derived("property", slot_property(k.active.slot));
        v.set_derived("public_key", k.active.public_key.as_str());
        let other = if k.active.slot == 2 { 1 } else { 2 };
        v.set_derived("retired_property", slot_property(other));
        if let Some(next) = &k.next {
            v.set_derived("next_property", slot_property(next.slot));
            v.set_derived("next_public_key", next.public_key.as_str());
        }
    }
    if let Some(o) = &connection.oauth {
        v.set_derived("integration", o.integration.as_str());
        v.set_derived("redirect_uri", o.redirect_uri.as_str());
        let non_tls = o.redirect_uri.starts_with("http://");
        v.set_derived("allow_non_tls", if non_tls { "TRUE" } else { "FALSE" });
        v.set_derived(
            "refresh_token_validity",
            o.refresh_token_validity_secs.to_string(),
        );
        v.set_derived(
            "single_use",
            if o.single_use_refresh_tokens {
                "TRUE"
            } else {
                "FALSE"
            },
        );
    }
    if let Some(url) = public_url {
        v.set_derived("public_url", url);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_values_win_and_pairs_parse() {
        let mut v = Values::new();
        v.set_derived("role", "A");
        v.set_pair("role=B=C").unwrap();
        assert_eq!(v.get("role"), Some("B=C"));
        assert!(v.set_pair("novalue").is_err());
        assert!(v.set_pair("=x").is_err());
        v.set_exact_ident("user", "a\"b");
        assert_eq!(v.get("user"), Some("\"a\"\"b\""));
        assert_eq!(v.iter().count(), 2);
    }
}
