//! The statements an admin pastes into Snowflake for a keypair connection, rendered from the
//! templates in `sql/`. Identifiers are always double-quoted with `"` doubled; the only literal
//! (a base64 public key) is checked to contain nothing but base64 characters.

const SET_KEY: &str = include_str!("../../sql/keypair_set_public_key.sql");
const UNSET_KEY: &str = include_str!("../../sql/keypair_unset_public_key.sql");
const DESC_USER: &str = include_str!("../../sql/keypair_desc_user.sql");

/// `"name"` with embedded quotes doubled (Snowflake identifier syntax).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn slot_property(slot: u8) -> &'static str {
    if slot == 2 {
        "RSA_PUBLIC_KEY_2"
    } else {
        "RSA_PUBLIC_KEY"
    }
}

/// Renders a `sql/` template: drops its `--` header comment and replaces `{{key}}` placeholders
/// with values the caller has already quoted or validated.
pub(crate) fn fill(template: &str, pairs: &[(&str, &str)]) -> String {
    let body: String = template
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = body.trim().to_owned();
    for (key, value) in pairs {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

/// `ALTER USER "<NAME>" SET RSA_PUBLIC_KEY[_2]='…';`
pub fn set_public_key(user_name: &str, slot: u8, public_key_b64: &str) -> String {
    debug_assert!(public_key_b64
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')));
    fill(
        SET_KEY,
        &[
            ("user", &quote_ident(user_name)),
            ("property", slot_property(slot)),
            ("public_key", public_key_b64),
        ],
    )
}

/// `ALTER USER "<NAME>" UNSET RSA_PUBLIC_KEY[_2];`
pub fn unset_public_key(user_name: &str, slot: u8) -> String {
    fill(
        UNSET_KEY,
        &[
            ("user", &quote_ident(user_name)),
            ("property", slot_property(slot)),
        ],
    )
}

/// `DESC USER "<NAME>";` (to compare fingerprints and LOGIN_NAME).
pub fn desc_user(user_name: &str) -> String {
    fill(DESC_USER, &[("user", &quote_ident(user_name))])
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
    }
}
