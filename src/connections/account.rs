//! Snowflake account identifiers as people paste them, normalised into the two forms the broker
//! needs: the account part of keypair-JWT claims (PROTOCOL.md §C.2, following Snowflake's own
//! connectors) and the host name of the account's URL.
//!
//! Accepted inputs (any case, optionally as a full `https://…snowflakecomputing.com` URL):
//! - account locator: `xy12345`
//! - locator with region and optional cloud: `xy12345.us-east-2.aws`, `xy12345.ap-southeast-2`
//! - organization-account name: `myorg-myaccount`, `myorg-my_account`
//! - the `.global` replication form: `myacct-abcdef.global`

/// A normalised account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Account part of JWT `iss`/`sub`: upper case, region and cloud cut, org-account kept.
    pub claim: String,
    /// Host of the account URL, e.g. `xy12345.us-east-2.aws.snowflakecomputing.com`.
    pub host: String,
}

/// Why an account string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account {input:?} is not a Snowflake account identifier: {reason}")]
pub struct AccountError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

const DOMAIN: &str = ".snowflakecomputing.com";

/// Parses an account identifier into its claim and host forms.
pub fn parse(input: &str) -> Result<Account, AccountError> {
    let fail = |reason| AccountError {
        input: input.to_owned(),
        reason,
    };
    let mut text = input.trim().to_ascii_lowercase();
    if let Some(rest) = text.strip_prefix("https://") {
        text = rest.trim_end_matches('/').to_owned();
    }
    if let Some(rest) = text.strip_suffix(DOMAIN) {
        text = rest.to_owned();
    }
    if text.is_empty() || text.len() > 255 {
        return Err(fail("it is empty or too long"));
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(fail("only letters, digits, '-', '_' and '.' may appear"));
    }
    let parts: Vec<&str> = text.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(fail("it has an empty part between dots"));
    }
    let first = parts[0];
    if !first.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(fail("it must start with a letter or digit"));
    }
    let claim = if parts.len() > 1 && parts[1] == "global" {
        // Replication form `<account>-<suffix>.global`: the account is everything before the
        // last '-' (snowflake-connector-python `parse_account`).
        match first.rfind('-') {
            Some(cut) if cut > 0 => first[..cut].to_owned(),
            _ => {
                return Err(fail(
                    "a .global account needs the form <account>-<suffix>.global",
                ))
            }
        }
    } else {
        if parts.len() > 3 {
            return Err(fail(
                "expected <locator>[.<region>[.<cloud>]] or <org>-<account>",
            ));
        }
        first.to_owned()
    };
    // Host names cannot carry '_': Snowflake serves `myorg-my_account` as `myorg-my-account`.
    let host_first = first.replace('_', "-");
    let host = std::iter::once(host_first.as_str())
        .chain(parts[1..].iter().copied())
        .collect::<Vec<_>>()
        .join(".")
        + DOMAIN;
    Ok(Account {
        claim: claim.to_ascii_uppercase(),
        host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_forms_map_to_claim_and_host() {
        let table = [
            ("xy12345", "XY12345", "xy12345.snowflakecomputing.com"),
            ("XY12345", "XY12345", "xy12345.snowflakecomputing.com"),
            (
                "xy12345.us-east-2.aws",
                "XY12345",
                "xy12345.us-east-2.aws.snowflakecomputing.com",
            ),
            (
                "XY12345.us-east-1",
                "XY12345",
                "xy12345.us-east-1.snowflakecomputing.com",
            ),
            (
                "xy12345.ap-southeast-2",
                "XY12345",
                "xy12345.ap-southeast-2.snowflakecomputing.com",
            ),
            (
                "xy12345.east-us-2.azure",
                "XY12345",
                "xy12345.east-us-2.azure.snowflakecomputing.com",
            ),
            (
                "myorg-myaccount",
                "MYORG-MYACCOUNT",
                "myorg-myaccount.snowflakecomputing.com",
            ),
            (
                "MyOrg-MyAccount",
                "MYORG-MYACCOUNT",
                "myorg-myaccount.snowflakecomputing.com",
            ),
            (
                "myorg-my_account",
                "MYORG-MY_ACCOUNT",
                "myorg-my-account.snowflakecomputing.com",
            ),
            (
                "myacct-abcdef.global",
                "MYACCT",
                "myacct-abcdef.global.snowflakecomputing.com",
            ),
            (
                "https://xy12345.us-east-2.aws.snowflakecomputing.com/",
                "XY12345",
                "xy12345.us-east-2.aws.snowflakecomputing.com",
            ),
            (
                "  myorg-myaccount.snowflakecomputing.com ",
                "MYORG-MYACCOUNT",
                "myorg-myaccount.snowflakecomputing.com",
            ),
        ];
        for (input, claim, host) in table {
            let account = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(account.claim, claim, "claim of {input}");
            assert_eq!(account.host, host, "host of {input}");
        }
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        for bad in [
            "",
            "evil.com/x",
            "a..b",
            "-abc",
            "xy12345.us-east-2.aws.extra",
            "global.global",
            "x y",
            "xy12345@evil",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
