//! Authentication policies: `CREATE [OR REPLACE] AUTHENTICATION POLICY [IF NOT EXISTS] <name>
//! [AUTHENTICATION_METHODS = (…)] [CLIENT_TYPES = (…)] [SECURITY_INTEGRATIONS = (…)] [COMMENT = '…']`,
//! `ALTER AUTHENTICATION POLICY [IF EXISTS] <name> SET …|UNSET …`, `DROP AUTHENTICATION POLICY
//! [IF EXISTS] <name>`, `DESC[RIBE] AUTHENTICATION POLICY <name>`, `SHOW AUTHENTICATION POLICIES
//! [LIKE '…']`.
//!
//! Policies are schema objects in Snowflake; snowsim keeps one namespace per account and uses the
//! last part of a qualified name. The methods are enforced where snowsim authenticates: the SQL
//! API (`KEYPAIR`, `OAUTH` + `SECURITY_INTEGRATIONS`) and the OAuth login form (`PASSWORD`).
//! MFA and client-type properties are accepted and shown but not enforced.
//! Privilege: ACCOUNTADMIN or SECURITYADMIN.

use super::super::engine::{QueryResult, SqlError};
use super::super::model::AuthPolicyModel;
use super::parse::Parser;
use super::user::POLICY_ADMINS;
use super::{
    already_exists, desc_value, executed, insufficient, invalid_property, invalid_value,
    like_clause, not_found, status, table, Cx,
};

const METHODS: [&str; 7] = [
    "ALL",
    "SAML",
    "PASSWORD",
    "OAUTH",
    "KEYPAIR",
    "PROGRAMMATIC_ACCESS_TOKEN",
    "WORKLOAD_IDENTITY",
];

fn upper(list: Vec<String>) -> Vec<String> {
    list.into_iter().map(|s| s.to_ascii_uppercase()).collect()
}

/// Parses `PROP = value …` into `policy` (also used by ALTER … SET).
fn parse_props(p: &mut Parser<'_>, policy: &mut AuthPolicyModel) -> Result<(), SqlError> {
    while !p.at_end() {
        let prop = p.word()?;
        p.expect_sym('=')?;
        match prop.as_str() {
            "AUTHENTICATION_METHODS" => {
                let methods = upper(p.list()?);
                if let Some(bad) = methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
                    return Err(invalid_value(format!(
                        "Invalid value ['{bad}'] for property 'AUTHENTICATION_METHODS'."
                    )));
                }
                policy.authentication_methods = methods;
            }
            "CLIENT_TYPES" => policy.client_types = upper(p.list()?),
            // Integration names are identifiers stored upper case unless quoted at creation.
            "SECURITY_INTEGRATIONS" => policy.security_integrations = upper(p.list()?),
            "COMMENT" => policy.comment = Some(p.string()?),
            "MFA_ENROLLMENT"
            | "MFA_AUTHENTICATION_METHODS"
            | "MFA_POLICY"
            | "CLIENT_POLICY"
            | "PAT_POLICY"
            | "WORKLOAD_IDENTITY_POLICY" => p.skip_value()?,
            other => return Err(invalid_property(other, "AUTHENTICATION POLICY")),
        }
        p.sym(',');
    }
    Ok(())
}

fn name(p: &mut Parser<'_>) -> Result<String, SqlError> {
    Ok(p.dotted()?.pop().unwrap_or_default())
}

fn check_privilege(cx: &Cx<'_>, name: &str) -> Result<(), SqlError> {
    if cx.role_holds(&cx.acc.live(), &POLICY_ADMINS) {
        Ok(())
    } else {
        Err(insufficient("authentication policy", name))
    }
}

/// `CREATE [OR REPLACE] AUTHENTICATION POLICY …` (after the keywords).
pub fn create(p: &mut Parser<'_>, cx: &Cx<'_>, or_replace: bool) -> Result<QueryResult, SqlError> {
    let if_not_exists = p.kws(&["IF", "NOT", "EXISTS"]);
    let name = name(p)?;
    let mut policy = AuthPolicyModel {
        name: name.clone(),
        authentication_methods: vec!["ALL".into()],
        client_types: vec!["ALL".into()],
        security_integrations: vec!["ALL".into()],
        comment: None,
    };
    parse_props(p, &mut policy)?;
    check_privilege(cx, &name)?;
    cx.acc.live.update(|next| {
        let list = &mut next.model.authentication_policies;
        match list.iter().position(|x| x.name == name) {
            Some(_) if if_not_exists => {}
            Some(i) if or_replace => list[i] = policy,
            Some(_) => return Err(already_exists(&name)),
            None => list.push(policy),
        }
        Ok(status(format!(
            "Authentication policy {name} successfully created."
        )))
    })
}

/// `ALTER AUTHENTICATION POLICY [IF EXISTS] <name> SET …|UNSET …` (after the keywords).
pub fn alter(p: &mut Parser<'_>, cx: &Cx<'_>) -> Result<QueryResult, SqlError> {
    let if_exists = p.kws(&["IF", "EXISTS"]);
    let name = name(p)?;
    let set = if p.kw("SET") {
        true
    } else {
        p.expect("UNSET")?;
        false
    };
    let Some(mut policy) = cx.acc.live().policy(&name).cloned() else {
        return if if_exists {
            Ok(executed())
        } else {
            Err(not_found("Authentication policy", &name))
        };
    };
    check_privilege(cx, &name)?;
    if set {
        parse_props(p, &mut policy)?;
    } else {
        loop {
            match p.word()?.as_str() {
                "AUTHENTICATION_METHODS" => policy.authentication_methods = vec!["ALL".into()],
                "CLIENT_TYPES" => policy.client_types = vec!["ALL".into()],
                "SECURITY_INTEGRATIONS" => policy.security_integrations = vec!["ALL".into()],
                "COMMENT" => policy.comment = None,
                "MFA_ENROLLMENT" | "MFA_AUTHENTICATION_METHODS" | "MFA_POLICY" => {}
                other => return Err(invalid_property(other, "AUTHENTICATION POLICY")),
            }
            if !p.sym(',') {
                break;
            }
        }
        p.end()?;
    }
    cx.acc.live.update(|next| {
        let slot = next
            .model
            .authentication_policies
            .iter_mut()
            .find(|x| x.name == name)
            .ok_or_else(|| not_found("Authentication policy", &name))?;
        *slot = policy;
        Ok(executed())
    })
}

/// `DROP AUTHENTICATION POLICY [IF EXISTS] <name>` (after the keywords). A policy still attached
/// to a user cannot be dropped (Snowflake refuses too; the wording is ours).
pub fn drop(p: &mut Parser<'_>, cx: &Cx<'_>) -> Result<QueryResult, SqlError> {
    let if_exists = p.kws(&["IF", "EXISTS"]);
    let name = name(p)?;
    p.end()?;
    if cx.acc.live().policy(&name).is_none() {
        return if if_exists {
            Ok(status(format!(
                "Drop statement executed successfully ({name} already dropped)."
            )))
        } else {
            Err(not_found("Authentication policy", &name))
        };
    }
    check_privilege(cx, &name)?;
    cx.acc.live.update(|next| {
        if let Some(u) = next
            .model
            .users
            .iter()
            .find(|u| u.authentication_policy.as_deref() == Some(name.as_str()))
        {
            return Err(invalid_value(format!(
                "Policy {name} cannot be dropped because it is attached to user {}.",
                u.name
            )));
        }
        next.model
            .authentication_policies
            .retain(|x| x.name != name);
        Ok(status(format!("{name} successfully dropped.")))
    })
}

fn list_text(list: &[String]) -> String {
    format!("[{}]", list.join(", "))
}

/// `DESC[RIBE] AUTHENTICATION POLICY <name>`.
pub fn describe(p: &mut Parser<'_>, cx: &Cx<'_>) -> Result<QueryResult, SqlError> {
    let name = name(p)?;
    p.end()?;
    let live = cx.acc.live();
    let policy = live
        .policy(&name)
        .ok_or_else(|| not_found("Authentication policy", &name))?;
    check_privilege(cx, &name)?;
    let rows = [
        ("NAME", Some(policy.name.clone()), None),
        ("OWNER", Some("SECURITYADMIN".to_owned()), None),
        ("COMMENT", policy.comment.clone(), None),
        (
            "AUTHENTICATION_METHODS",
            Some(list_text(&policy.authentication_methods)),
            Some("[ALL]"),
        ),
        (
            "CLIENT_TYPES",
            Some(list_text(&policy.client_types)),
            Some("[ALL]"),
        ),
        (
            "SECURITY_INTEGRATIONS",
            Some(list_text(&policy.security_integrations)),
            Some("[ALL]"),
        ),
    ]
    .into_iter()
    .map(|(prop, value, default)| {
        vec![
            Some(prop.to_owned()),
            desc_value(value.as_deref()),
            desc_value(default),
            Some(String::new()),
        ]
    })
    .collect();
    Ok(table(
        &["property", "value", "default", "description"],
        &[],
        rows,
    ))
}

/// `SHOW AUTHENTICATION POLICIES [LIKE '…']`.
pub fn show(p: &mut Parser<'_>, cx: &Cx<'_>) -> Result<QueryResult, SqlError> {
    let pattern = like_clause(p)?;
    p.end()?;
    let live = cx.acc.live();
    let visible = cx.role_holds(&live, &POLICY_ADMINS);
    let rows = live
        .model
        .authentication_policies
        .iter()
        .filter(|_| visible)
        .filter(|x| {
            pattern
                .as_deref()
                .is_none_or(|pat| super::super::engine::like(pat, &x.name))
        })
        .map(|x| {
            vec![
                super::ts_cell(0),
                Some(x.name.clone()),
                Some(x.comment.clone().unwrap_or_default()),
                Some("SECURITYADMIN".to_owned()),
                Some("ROLE".to_owned()),
                Some(String::new()),
            ]
        })
        .collect();
    Ok(table(
        &[
            "created_on",
            "name",
            "comment",
            "owner",
            "owner_role_type",
            "options",
        ],
        &["created_on"],
        rows,
    ))
}
