//! `ALTER USER` and `DESC[RIBE] USER`.
//!
//! Privilege: ACCOUNTADMIN, SECURITYADMIN or USERADMIN (directly or through the role hierarchy);
//! attaching an authentication policy needs ACCOUNTADMIN or SECURITYADMIN (Snowflake's APPLY
//! AUTHENTICATION POLICY). `DESC USER` is also allowed on oneself. A key is validated (RSA
//! SubjectPublicKeyInfo, ≥ 2048 bits) before anything changes, and the key ring entry of the
//! user is rebuilt in the same update, so a JWT signed with a new key works on the next request
//! and one signed with a removed key fails.

use sha2::{Digest, Sha256};

use super::super::engine::{QueryResult, SqlError};
use super::super::jwt::RegisteredKey;
use super::super::live::LiveAccount;
use super::super::model::UserModel;
use super::super::util::b64;
use super::parse::Parser;
use super::{
    delegated, desc_value, executed, insufficient, invalid_property, invalid_value, not_found,
    table, Cx,
};

/// Roles that may alter users.
pub const USER_ADMINS: [&str; 3] = ["ACCOUNTADMIN", "SECURITYADMIN", "USERADMIN"];
/// Roles that may attach or detach authentication policies.
pub const POLICY_ADMINS: [&str; 2] = ["ACCOUNTADMIN", "SECURITYADMIN"];

enum Value {
    Text(String),
    Flag(bool),
}

enum Action {
    Set(Vec<(String, Value)>),
    Unset(Vec<String>),
    SetPolicy(String),
    UnsetPolicy,
    Delegation(delegated::Change),
}

fn parse_set(p: &mut Parser<'_>) -> Result<Action, SqlError> {
    if p.kws(&["AUTHENTICATION", "POLICY"]) {
        let name = p.dotted()?.pop().unwrap_or_default();
        p.kw("FORCE");
        return Ok(Action::SetPolicy(name));
    }
    let mut props = Vec::new();
    loop {
        let prop = p.word()?;
        p.expect_sym('=')?;
        let value = match prop.as_str() {
            "DISABLED" | "MUST_CHANGE_PASSWORD" => Value::Flag(p.boolean()?),
            "DEFAULT_ROLE" | "DEFAULT_WAREHOUSE" | "DEFAULT_NAMESPACE" | "LOGIN_NAME" => {
                Value::Text(p.name_or_string()?)
            }
            "RSA_PUBLIC_KEY" | "RSA_PUBLIC_KEY_2" | "PASSWORD" | "COMMENT" | "DISPLAY_NAME"
            | "EMAIL" => Value::Text(p.string()?),
            other => return Err(invalid_property(other, "USER")),
        };
        props.push((prop, value));
        p.sym(',');
        if p.at_end() {
            return Ok(Action::Set(props));
        }
    }
}

fn parse_action(p: &mut Parser<'_>) -> Result<Action, SqlError> {
    if p.kw("SET") {
        return parse_set(p);
    }
    if p.kw("UNSET") {
        if p.kws(&["AUTHENTICATION", "POLICY"]) {
            return Ok(Action::UnsetPolicy);
        }
        let mut props = vec![p.word()?];
        while p.sym(',') {
            props.push(p.word()?);
        }
        return Ok(Action::Unset(props));
    }
    if let Some(change) = delegated::parse_change(p)? {
        return Ok(Action::Delegation(change));
    }
    Err(p.error())
}

/// Normalises `RSA_PUBLIC_KEY` text (PEM armour and whitespace dropped, as Snowflake stores it)
/// and validates it.
fn checked_key(text: &str) -> Result<String, SqlError> {
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    RegisteredKey::parse(&body).map_err(|e| {
        // Snowflake's wording for a refused key; the reason text is ours.
        let reason = if e.contains("2048") {
            "RSA public keys must be at least 2048 bits"
        } else {
            "Invalid public key"
        };
        invalid_value(format!(
            "New public key rejected by current policy. Reason: '{reason}'."
        ))
    })?;
    Ok(body)
}

fn apply_set(user: &mut UserModel, props: Vec<(String, Value)>) -> Result<(), SqlError> {
    for (prop, value) in props {
        match (prop.as_str(), value) {
            ("DISABLED", Value::Flag(b)) => user.disabled = b,
            ("MUST_CHANGE_PASSWORD", Value::Flag(_)) => {}
            ("DEFAULT_ROLE", Value::Text(v)) => user.default_role = Some(v),
            ("DEFAULT_WAREHOUSE", Value::Text(v)) => user.default_warehouse = Some(v),
            ("DEFAULT_NAMESPACE", Value::Text(v)) => user.default_namespace = Some(v),
            ("LOGIN_NAME", Value::Text(v)) => user.login_name = Some(v),
            ("PASSWORD", Value::Text(v)) => user.password = Some(v),
            ("RSA_PUBLIC_KEY", Value::Text(v)) => user.rsa_public_key = Some(checked_key(&v)?),
            ("RSA_PUBLIC_KEY_2", Value::Text(v)) => user.rsa_public_key_2 = Some(checked_key(&v)?),
            // Accepted and not modelled: they change nothing snowsim serves.
            ("COMMENT" | "DISPLAY_NAME" | "EMAIL", _) => {}
            (other, _) => return Err(invalid_property(other, "USER")),
        }
    }
    Ok(())
}

fn apply_unset(user: &mut UserModel, props: &[String]) -> Result<(), SqlError> {
    for prop in props {
        match prop.as_str() {
            "RSA_PUBLIC_KEY" => user.rsa_public_key = None,
            "RSA_PUBLIC_KEY_2" => user.rsa_public_key_2 = None,
            "DEFAULT_ROLE" => user.default_role = None,
            "DEFAULT_WAREHOUSE" => user.default_warehouse = None,
            "DEFAULT_NAMESPACE" => user.default_namespace = None,
            "LOGIN_NAME" => user.login_name = None,
            "PASSWORD" => user.password = None,
            "DISABLED" => user.disabled = false,
            "COMMENT" | "DISPLAY_NAME" | "EMAIL" | "MUST_CHANGE_PASSWORD" => {}
            other => return Err(invalid_property(other, "USER")),
        }
    }
    Ok(())
}

/// `ALTER USER [IF EXISTS] <name> …` (after `ALTER USER`).
pub fn alter(p: &mut Parser<'_>, cx: &Cx<'_>) -> Result<QueryResult, SqlError> {
    let if_exists = p.kws(&["IF", "EXISTS"]);
    let name = p.ident()?;
    let action = parse_action(p)?;
    p.end()?;
    let live = cx.acc.live();
    if live.user(&name).is_none() {
        return if if_exists {
            Ok(executed())
        } else {
            Err(not_found("User", &name))
        };
    }
    let admins: &[&str] = match action {
        Action::SetPolicy(_) | Action::UnsetPolicy => &POLICY_ADMINS,
        _ => &USER_ADMINS,
    };
    if !cx.role_holds(&live, admins) {
        return Err(insufficient("user", &name));
    }
    if let Action::Delegation(change) = action {
        return delegated::apply(cx, &live, &name, change);
    }
    cx.acc.live.update(|next: &mut LiveAccount| {
        if let Action::SetPolicy(policy) = &action {
            if next.policy(policy).is_none() {
                return Err(not_found("Authentication policy", policy));
            }
        }
        let user = next
            .user_mut(&name)
            .ok_or_else(|| not_found("User", &name))?;
        match action {
            Action::Set(props) => apply_set(user, props)?,
            Action::Unset(props) => apply_unset(user, &props)?,
            Action::SetPolicy(policy) => user.authentication_policy = Some(policy),
            Action::UnsetPolicy => user.authentication_policy = None,
            Action::Delegation(_) => {}
        }
        next.rekey(&name).map_err(invalid_value)?;
        Ok(executed())
    })
}

/// `SHA256:` + base64 SHA-256 of the SPKI DER, as the JWT check computes it.
pub fn fingerprint(key: Option<&str>) -> Option<String> {
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, key?).ok()?;
    Some(format!("SHA256:{}", b64(&Sha256::digest(der))))
}

/// `DESC[RIBE] USER <name>`: rows `property, value, default, description`.
pub fn describe(p: &mut Parser<'_>, cx: &Cx<'_>) -> Result<QueryResult, SqlError> {
    let name = p.ident()?;
    p.end()?;
    let live = cx.acc.live();
    let user = live.user(&name).ok_or_else(|| not_found("User", &name))?;
    if user.name != cx.ctx.user && !cx.role_holds(&live, &USER_ADMINS) {
        return Err(insufficient("user", &name));
    }
    let flag = |b: bool| Some(if b { "true" } else { "false" });
    let fp1 = fingerprint(user.rsa_public_key.as_deref());
    let fp2 = fingerprint(user.rsa_public_key_2.as_deref());
    let rows: Vec<(&str, Option<&str>, Option<&str>, &str)> = vec![
        ("NAME", Some(user.name.as_str()), None, "Name"),
        (
            "COMMENT",
            None,
            None,
            "user comment associated to an object in the dictionary",
        ),
        (
            "DISPLAY_NAME",
            Some(user.name.as_str()),
            None,
            "Display name of the associated object",
        ),
        (
            "LOGIN_NAME",
            Some(user.login_name.as_deref().unwrap_or(&user.name)),
            None,
            "Login name of the user",
        ),
        (
            "PASSWORD",
            user.password.as_ref().map(|_| "********"),
            None,
            "Password of the user",
        ),
        (
            "DISABLED",
            flag(user.disabled),
            Some("false"),
            "Whether the user is disabled",
        ),
        (
            "DEFAULT_WAREHOUSE",
            user.default_warehouse.as_deref(),
            None,
            "Default warehouse for the user",
        ),
        (
            "DEFAULT_NAMESPACE",
            user.default_namespace.as_deref(),
            None,
            "Default database namespace prefix for the user",
        ),
        (
            "DEFAULT_ROLE",
            user.default_role.as_deref(),
            None,
            "Primary principal of user session will be set to this role",
        ),
        (
            "RSA_PUBLIC_KEY",
            user.rsa_public_key.as_deref(),
            None,
            "RSA public key of the user",
        ),
        (
            "RSA_PUBLIC_KEY_FP",
            fp1.as_deref(),
            None,
            "Fingerprint of user's RSA public key.",
        ),
        (
            "RSA_PUBLIC_KEY_2",
            user.rsa_public_key_2.as_deref(),
            None,
            "Second RSA public key of the user",
        ),
        (
            "RSA_PUBLIC_KEY_2_FP",
            fp2.as_deref(),
            None,
            "Fingerprint of user's second RSA public key.",
        ),
        (
            "HAS_MFA",
            Some("false"),
            Some("false"),
            "Whether the user is enrolled in MFA",
        ),
    ];
    let rows = rows
        .into_iter()
        .map(|(prop, value, default, description)| {
            vec![
                Some(prop.to_owned()),
                desc_value(value),
                desc_value(default),
                Some(description.to_owned()),
            ]
        })
        .collect();
    Ok(table(
        &["property", "value", "default", "description"],
        &[],
        rows,
    ))
}
