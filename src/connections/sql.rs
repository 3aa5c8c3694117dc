//! The statements the connection API returns for an admin to run in Snowflake, rendered from
//! the `sql/` templates through [`crate::sqltpl`], so the API, `icebroker sql …` and the admin UI
//! show the same text. Values come from validated connection records; should a template still
//! refuse one, the caller gets an SQL comment naming the problem (never broken SQL) and the
//! error is logged.

use crate::oauth::OAuthSettings;
use crate::sqltpl::{self, values, Values};

pub use crate::sqltpl::kind::quote_ident;

/// The statements of `template` (without the header comment), or a one-line SQL comment saying
/// why they could not be rendered.
pub fn statements(template: &str, values: &Values) -> String {
    match sqltpl::render_parts(template, values) {
        Ok(rendered) => rendered.sql(),
        Err(e) => {
            tracing::error!(
                template,
                code = e.code(),
                "an SQL template refused a stored value"
            );
            // Debug formatting keeps the message on one line, so it stays inside the comment.
            format!(
                "-- icebroker could not render {template}: {:?}",
                e.to_string()
            )
        }
    }
}

fn user_values(user_name: &str) -> Values {
    let mut v = Values::new();
    v.set_exact_ident("user", user_name);
    v
}

/// `ALTER USER "<NAME>" SET RSA_PUBLIC_KEY[_2]='…';`
pub fn set_public_key(user_name: &str, slot: u8, public_key_b64: &str) -> String {
    let mut v = user_values(user_name);
    v.set("property", values::slot_property(slot));
    v.set("public_key", public_key_b64);
    statements("keypair_set_public_key", &v)
}

/// `ALTER USER "<NAME>" UNSET RSA_PUBLIC_KEY[_2];`
pub fn unset_public_key(user_name: &str, slot: u8) -> String {
    let mut v = user_values(user_name);
    v.set("retired_property", values::slot_property(slot));
    statements("keypair_unset_public_key", &v)
}

/// `DESC USER "<NAME>";` (to compare fingerprints and LOGIN_NAME).
pub fn desc_user(user_name: &str) -> String {
    statements("keypair_desc_user", &user_values(user_name))
}

fn integration_values(settings: &OAuthSettings) -> Values {
    let mut v = Values::new();
    v.set("integration", settings.integration.as_str());
    v
}

/// `CREATE SECURITY INTEGRATION … TYPE = OAUTH … OAUTH_CLIENT = CUSTOM …;` for `settings`.
pub fn create_security_integration(settings: &OAuthSettings) -> String {
    let mut v = integration_values(settings);
    let non_tls = settings.redirect_uri.starts_with("http://");
    v.set("redirect_uri", settings.redirect_uri.as_str())
        .set("allow_non_tls", if non_tls { "TRUE" } else { "FALSE" })
        .set(
            "refresh_token_validity",
            settings.refresh_token_validity_secs.to_string(),
        )
        .set(
            "single_use",
            if settings.single_use_refresh_tokens {
                "TRUE"
            } else {
                "FALSE"
            },
        );
    statements("oauth_create_security_integration", &v)
}

/// `SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('<NAME>');`
pub fn show_client_secrets(settings: &OAuthSettings) -> String {
    statements("oauth_show_client_secrets", &integration_values(settings))
}

/// `ALTER USER "<user>" REMOVE DELEGATED AUTHORIZATIONS FROM SECURITY INTEGRATION <NAME>;`
pub fn remove_delegated_authorizations(user: &str, settings: &OAuthSettings) -> String {
    let mut v = integration_values(settings);
    v.set_exact_ident("oauth_user", user);
    statements("oauth_remove_delegated_authorizations", &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_quote_the_user_and_name_the_slot() {
        assert_eq!(
            set_public_key("JSMITH", 1, "MIIBIj=="),
            "ALTER USER \"JSMITH\" SET RSA_PUBLIC_KEY='MIIBIj==';"
        );
        assert_eq!(
            set_public_key("a\"b", 2, "K"),
            "ALTER USER \"a\"\"b\" SET RSA_PUBLIC_KEY_2='K';"
        );
        assert_eq!(
            unset_public_key("JSMITH", 1),
            "ALTER USER \"JSMITH\" UNSET RSA_PUBLIC_KEY;"
        );
        assert_eq!(desc_user("JSMITH"), "DESC USER \"JSMITH\";");
        // An exact lower-case name stays exact (no folding of names Snowflake reported).
        assert_eq!(desc_user("jsmith"), "DESC USER \"jsmith\";");
    }

    #[test]
    fn a_refused_value_becomes_a_one_line_comment_not_sql() {
        let out = desc_user("a\nb; DROP USER x");
        assert!(
            out.starts_with("-- icebroker could not render keypair_desc_user"),
            "{out}"
        );
        assert!(!out.contains('\n'), "{out}");
    }
}
