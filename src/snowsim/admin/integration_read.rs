//! The read side of OAuth security integrations: `DESC[RIBE] [SECURITY] INTEGRATION <name>`
//! (endpoints built from the URL the statement came in on), `SHOW [SECURITY] INTEGRATIONS
//! [LIKE '…']` and `SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('<NAME>')`. All need ACCOUNTADMIN
//! (snowsim records no integration owner).

use super::super::engine::{QueryResult, SqlError};
use super::super::state::ALWAYS_BLOCKED_ROLES;
use super::integration::may_manage;
use super::parse::{Parser, Tok};
use super::{insufficient, like_clause, not_found, table, ts_cell, Cx};

fn flag(b: bool) -> String {
    if b { "true" } else { "false" }.to_owned()
}

/// `DESC[RIBE] [SECURITY] INTEGRATION <name>`: rows `property, property_type, property_value,
/// property_default`; endpoints are built from the URL the statement came in on.
pub fn describe(p: &mut Parser<'_>, cx: &Cx<'_>) -> Result<QueryResult, SqlError> {
    let name = p.ident()?;
    p.end()?;
    let live = cx.acc.live();
    let i = live
        .integration(&name)
        .ok_or_else(|| not_found("Integration", &name))?;
    if !may_manage(cx) {
        return Err(insufficient("integration", &name));
    }
    let base = cx.base_url.trim_end_matches('/');
    let authorize = format!("{base}/oauth/authorize");
    let token = format!("{base}/oauth/token-request");
    let rows: Vec<(&str, &str, String, &str)> = vec![
        ("ENABLED", "Boolean", flag(i.enabled), "true"),
        ("OAUTH_REDIRECT_URI", "String", i.redirect_uri.clone(), ""),
        (
            "OAUTH_CLIENT_TYPE",
            "String",
            i.client_type.clone(),
            "CONFIDENTIAL",
        ),
        (
            "OAUTH_ISSUE_REFRESH_TOKENS",
            "Boolean",
            flag(i.issue_refresh_tokens),
            "true",
        ),
        (
            "OAUTH_REFRESH_TOKEN_VALIDITY",
            "Integer",
            i.refresh_token_validity_secs.to_string(),
            "7776000",
        ),
        ("OAUTH_USE_SECONDARY_ROLES", "String", "NONE".into(), "NONE"),
        (
            "OAUTH_ALLOW_NON_TLS_REDIRECT_URI",
            "Boolean",
            flag(i.allow_non_tls_redirect_uri),
            "false",
        ),
        (
            "OAUTH_ENFORCE_PKCE",
            "Boolean",
            flag(i.enforce_pkce),
            "false",
        ),
        (
            "OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED",
            "Boolean",
            flag(i.single_use_refresh_tokens),
            "false",
        ),
        (
            "PRE_AUTHORIZED_ROLES_LIST",
            "List",
            i.pre_authorized_roles.join(","),
            "[]",
        ),
        (
            "BLOCKED_ROLES_LIST",
            "List",
            blocked_list(&i.blocked_roles),
            "ACCOUNTADMIN,SECURITYADMIN",
        ),
        ("NETWORK_POLICY", "String", String::new(), ""),
        (
            "OAUTH_CLIENT_RSA_PUBLIC_KEY_FP",
            "String",
            String::new(),
            "",
        ),
        (
            "OAUTH_CLIENT_RSA_PUBLIC_KEY_2_FP",
            "String",
            String::new(),
            "",
        ),
        (
            "COMMENT",
            "String",
            i.comment.clone().unwrap_or_default(),
            "",
        ),
        ("OAUTH_CLIENT_ID", "String", i.client_id.clone(), ""),
        (
            "OAUTH_AUTHORIZATION_ENDPOINT",
            "String",
            authorize.clone(),
            "",
        ),
        ("OAUTH_TOKEN_ENDPOINT", "String", token.clone(), ""),
        (
            "OAUTH_ALLOWED_AUTHORIZATION_ENDPOINTS",
            "List",
            authorize,
            "[]",
        ),
        ("OAUTH_ALLOWED_TOKEN_ENDPOINTS", "List", token, "[]"),
    ];
    let rows = rows
        .into_iter()
        .map(|(prop, kind, value, default)| {
            vec![
                Some(prop.to_owned()),
                Some(kind.to_owned()),
                Some(value),
                Some(default.to_owned()),
            ]
        })
        .collect();
    Ok(table(
        &[
            "property",
            "property_type",
            "property_value",
            "property_default",
        ],
        &[],
        rows,
    ))
}

/// The effective blocked list: the privileged roles Snowflake always blocks, then the
/// integration's own.
fn blocked_list(own: &[String]) -> String {
    let mut all: Vec<&str> = ALWAYS_BLOCKED_ROLES[..2].to_vec();
    for r in own {
        if !all.contains(&r.as_str()) {
            all.push(r);
        }
    }
    all.join(",")
}

/// `SHOW [SECURITY] INTEGRATIONS [LIKE '…']`: administrators see every integration, other roles
/// none (Snowflake lists those the role has a privilege on; snowsim grants none on integrations).
pub fn show(p: &mut Parser<'_>, cx: &Cx<'_>) -> Result<QueryResult, SqlError> {
    let pattern = like_clause(p)?;
    p.end()?;
    let live = cx.acc.live();
    let visible = may_manage(cx);
    let rows = live
        .model
        .integrations
        .iter()
        .filter(|_| visible)
        .filter(|i| {
            pattern
                .as_deref()
                .is_none_or(|pat| super::super::engine::like(pat, &i.name))
        })
        .map(|i| {
            vec![
                Some(i.name.clone()),
                Some("OAUTH - CUSTOM".to_owned()),
                Some("SECURITY".to_owned()),
                Some(flag(i.enabled)),
                i.comment.clone(),
                ts_cell(i.created_on),
            ]
        })
        .collect();
    Ok(table(
        &[
            "name",
            "type",
            "category",
            "enabled",
            "comment",
            "created_on",
        ],
        &["created_on"],
        rows,
    ))
}

/// `SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('<NAME>') [[AS] alias]` (after `SELECT`); `None` when
/// the SELECT has any other shape (the engine answers it). The name is matched exactly, so it
/// must be given in upper case as Snowflake's docs say.
pub fn show_secrets(p: &mut Parser<'_>, cx: &Cx<'_>) -> Option<Result<QueryResult, SqlError>> {
    let start = p.peek()?.start;
    if !p.kw("SYSTEM$SHOW_OAUTH_CLIENT_SECRETS") || !p.sym('(') {
        return None;
    }
    let name = p.string().ok()?;
    let end = p.peek()?.end;
    if !p.sym(')') {
        return None;
    }
    let mut column = p.text(start, end).to_uppercase();
    if p.kw("AS")
        || matches!(
            p.peek().map(|t| &t.tok),
            Some(Tok::Word(_) | Tok::Quoted(_))
        )
    {
        column = p.ident().ok()?;
    }
    if !p.at_end() {
        return None;
    }
    let live = cx.acc.live();
    let Some(i) = live.integration(&name) else {
        return Some(Err(not_found("Integration", &name)));
    };
    if !may_manage(cx) {
        return Some(Err(insufficient("integration", &name)));
    }
    let json = serde_json::json!({
        "OAUTH_CLIENT_SECRET_2": i.client_secret_2.clone().unwrap_or_default(),
        "OAUTH_CLIENT_SECRET": i.client_secret,
        "OAUTH_CLIENT_ID": i.client_id,
    });
    // serde_json orders keys alphabetically; Snowflake's order is SECRET_2, SECRET, ID.
    let text = format!(
        "{{\"OAUTH_CLIENT_SECRET_2\":{},\"OAUTH_CLIENT_SECRET\":{},\"OAUTH_CLIENT_ID\":{}}}",
        json["OAUTH_CLIENT_SECRET_2"], json["OAUTH_CLIENT_SECRET"], json["OAUTH_CLIENT_ID"]
    );
    Some(Ok(table(&[column.as_str()], &[], vec![vec![Some(text)]])))
}
