//! OAuth security integrations (PROTOCOL.md B.1): `CREATE [OR REPLACE] SECURITY INTEGRATION
//! [IF NOT EXISTS] <name> TYPE = OAUTH OAUTH_CLIENT = CUSTOM OAUTH_CLIENT_TYPE = '…'
//! OAUTH_REDIRECT_URI = '…' […]`, `ALTER [SECURITY] INTEGRATION [IF EXISTS] <name> SET|UNSET …`,
//! `DROP [SECURITY] INTEGRATION [IF EXISTS] <name>`, `DESC[RIBE] [SECURITY] INTEGRATION <name>`,
//! and, in [`super::integration_read`], `DESC`, `SHOW [SECURITY] INTEGRATIONS` and
//! `SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('<NAME>')`.
//!
//! A created integration gets a random client id and two random secrets (standard base64, so
//! `+`, `/` and `=` occur as in Snowflake's) and works for `/oauth/authorize` and
//! `/oauth/token-request` on the next request. Replacing or dropping an integration revokes every
//! code and token issued through it and its consents. Privilege: ACCOUNTADMIN, or a role granted
//! CREATE INTEGRATION on the account (create only).

use super::super::engine::{QueryResult, SqlError};
use super::super::model::OAuthIntegrationModel;
use super::super::state::ALWAYS_BLOCKED_ROLES;
use super::super::util::{b64, lock, now_secs, random_bytes};
use super::parse::Parser;
use super::{
    already_exists, executed, insufficient, invalid_property, invalid_value, not_found, status, Cx,
};

const MIN_VALIDITY: u64 = 86_400;
const MAX_VALIDITY: u64 = 7_776_000;

/// Parses `PROP = value …` into `i`; `create` allows the creation-only properties.
fn parse_props(
    p: &mut Parser<'_>,
    i: &mut OAuthIntegrationModel,
    create: bool,
) -> Result<Vec<String>, SqlError> {
    let mut seen = Vec::new();
    while !p.at_end() {
        let prop = p.word()?;
        p.expect_sym('=')?;
        match prop.as_str() {
            "TYPE" if create => {
                if p.word()? != "OAUTH" {
                    return Err(invalid_value(
                        "Only TYPE = OAUTH integrations are simulated.".into(),
                    ));
                }
            }
            "OAUTH_CLIENT" if create => {
                if p.word()? != "CUSTOM" {
                    return Err(invalid_value(
                        "Only OAUTH_CLIENT = CUSTOM is simulated.".into(),
                    ));
                }
            }
            "OAUTH_CLIENT_TYPE" => {
                let t = p.name_or_string()?.to_ascii_uppercase();
                if t != "CONFIDENTIAL" && t != "PUBLIC" {
                    return Err(invalid_value(format!(
                        "Invalid value ['{t}'] for property 'OAUTH_CLIENT_TYPE'."
                    )));
                }
                i.client_type = t;
            }
            "OAUTH_REDIRECT_URI" => i.redirect_uri = p.string()?,
            "ENABLED" => i.enabled = p.boolean()?,
            "OAUTH_ALLOW_NON_TLS_REDIRECT_URI" => i.allow_non_tls_redirect_uri = p.boolean()?,
            "OAUTH_ENFORCE_PKCE" => i.enforce_pkce = p.boolean()?,
            "OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED" => {
                i.single_use_refresh_tokens = p.boolean()?;
            }
            "OAUTH_ISSUE_REFRESH_TOKENS" => i.issue_refresh_tokens = p.boolean()?,
            "OAUTH_REFRESH_TOKEN_VALIDITY" => {
                let v = p.number()?;
                if !(MIN_VALIDITY..=MAX_VALIDITY).contains(&v) {
                    return Err(invalid_value(format!(
                        "Invalid value [{v}] for property 'OAUTH_REFRESH_TOKEN_VALIDITY'. The value must be between {MIN_VALIDITY} and {MAX_VALIDITY}."
                    )));
                }
                i.refresh_token_validity_secs = v;
            }
            "BLOCKED_ROLES_LIST" => i.blocked_roles = p.list()?,
            "PRE_AUTHORIZED_ROLES_LIST" => i.pre_authorized_roles = p.list()?,
            "COMMENT" => i.comment = Some(p.string()?),
            // Accepted and not modelled.
            "OAUTH_USE_SECONDARY_ROLES"
            | "NETWORK_POLICY"
            | "OAUTH_CLIENT_RSA_PUBLIC_KEY"
            | "OAUTH_CLIENT_RSA_PUBLIC_KEY_2"
            | "USE_PRIVATELINK_FOR_AUTHORIZATION_ENDPOINT" => p.skip_value()?,
            other => return Err(invalid_property(other, "INTEGRATION")),
        }
        seen.push(prop);
        p.sym(',');
    }
    Ok(seen)
}

/// Checks Snowflake's rules on a whole integration after a CREATE or ALTER.
fn validate(i: &OAuthIntegrationModel) -> Result<(), SqlError> {
    let uri = url::Url::parse(&i.redirect_uri).map_err(|_| {
        invalid_value(format!(
            "Invalid value ['{}'] for property 'OAUTH_REDIRECT_URI'.",
            i.redirect_uri
        ))
    })?;
    if uri.scheme() != "https" && !i.allow_non_tls_redirect_uri {
        return Err(invalid_value(
            "OAUTH_REDIRECT_URI must use https unless OAUTH_ALLOW_NON_TLS_REDIRECT_URI = TRUE."
                .into(),
        ));
    }
    if let Some(r) = i
        .pre_authorized_roles
        .iter()
        .find(|r| ALWAYS_BLOCKED_ROLES.contains(&r.as_str()))
    {
        return Err(invalid_value(format!(
            "Role '{r}' is blocked by default and cannot be added to PRE_AUTHORIZED_ROLES_LIST."
        )));
    }
    Ok(())
}

/// Whether the session may manage integrations (ACCOUNTADMIN through the hierarchy).
pub fn may_manage(cx: &Cx<'_>) -> bool {
    cx.role_holds(&cx.acc.live(), &["ACCOUNTADMIN"])
}

fn revoke(cx: &Cx<'_>, name: &str) {
    let account = cx.acc.index;
    let mut tokens = lock(&cx.state.tokens);
    tokens
        .consents
        .remove_where(|c| c.account == account && c.integration == name);
    tokens.revoke_where(|g| g.account == account && g.integration == name);
}

/// `CREATE [OR REPLACE] SECURITY INTEGRATION …` (after the keywords).
pub fn create(p: &mut Parser<'_>, cx: &Cx<'_>, or_replace: bool) -> Result<QueryResult, SqlError> {
    let if_not_exists = p.kws(&["IF", "NOT", "EXISTS"]);
    let name = p.ident()?;
    let mut i = OAuthIntegrationModel::new(&name, "", "", "");
    let seen = parse_props(p, &mut i, true)?;
    let missing: Vec<&str> = ["TYPE", "OAUTH_CLIENT", "OAUTH_REDIRECT_URI"]
        .into_iter()
        .filter(|m| !seen.iter().any(|s| s == m))
        .collect();
    if !missing.is_empty() {
        return Err(invalid_value(format!(
            "Missing option(s): [{}].",
            missing.join(", ")
        )));
    }
    validate(&i)?;
    let live = cx.acc.live();
    let account = live.model.locator.clone();
    if !may_manage(cx) && !cx.has_grant(&live, &["CREATE INTEGRATION"], "ACCOUNT", &account) {
        return Err(insufficient("account", &account));
    }
    i.client_id = b64(&random_bytes(20));
    i.client_secret = b64(&random_bytes(32));
    i.client_secret_2 = Some(b64(&random_bytes(32)));
    i.created_on = now_secs();
    let replaced = cx.acc.live.update(|next| {
        let list = &mut next.model.integrations;
        match list.iter().position(|x| x.name == name) {
            Some(_) if if_not_exists => Ok(false),
            Some(k) if or_replace => {
                list[k] = i;
                Ok(true)
            }
            Some(_) => Err(already_exists(&name)),
            None => {
                list.push(i);
                Ok(false)
            }
        }
    })?;
    if replaced {
        revoke(cx, &name);
    }
    Ok(status(format!("Integration {name} successfully created.")))
}

/// `ALTER [SECURITY] INTEGRATION [IF EXISTS] <name> SET …|UNSET …` (after the keywords).
pub fn alter(p: &mut Parser<'_>, cx: &Cx<'_>) -> Result<QueryResult, SqlError> {
    let if_exists = p.kws(&["IF", "EXISTS"]);
    let name = p.ident()?;
    let Some(mut i) = cx.acc.live().integration(&name).cloned() else {
        return if if_exists {
            Ok(executed())
        } else {
            Err(not_found("Integration", &name))
        };
    };
    if !may_manage(cx) {
        return Err(insufficient("integration", &name));
    }
    if p.kw("SET") {
        parse_props(p, &mut i, false)?;
    } else {
        p.expect("UNSET")?;
        let defaults = OAuthIntegrationModel::new(&name, "", "", "");
        loop {
            match p.word()?.as_str() {
                "ENABLED" => i.enabled = defaults.enabled,
                "OAUTH_ENFORCE_PKCE" => i.enforce_pkce = defaults.enforce_pkce,
                "OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED" => {
                    i.single_use_refresh_tokens = defaults.single_use_refresh_tokens;
                }
                "OAUTH_ISSUE_REFRESH_TOKENS" => i.issue_refresh_tokens = true,
                "OAUTH_REFRESH_TOKEN_VALIDITY" => {
                    i.refresh_token_validity_secs = defaults.refresh_token_validity_secs;
                }
                "BLOCKED_ROLES_LIST" => i.blocked_roles.clear(),
                "PRE_AUTHORIZED_ROLES_LIST" => i.pre_authorized_roles.clear(),
                "COMMENT" => i.comment = None,
                "OAUTH_ALLOW_NON_TLS_REDIRECT_URI" => i.allow_non_tls_redirect_uri = false,
                other => return Err(invalid_property(other, "INTEGRATION")),
            }
            if !p.sym(',') {
                break;
            }
        }
        p.end()?;
    }
    validate(&i)?;
    cx.acc.live.update(|next| {
        let slot = next
            .model
            .integrations
            .iter_mut()
            .find(|x| x.name == name)
            .ok_or_else(|| not_found("Integration", &name))?;
        *slot = i;
        Ok(executed())
    })
}

/// `DROP [SECURITY] INTEGRATION [IF EXISTS] <name>` (after the keywords).
pub fn drop(p: &mut Parser<'_>, cx: &Cx<'_>) -> Result<QueryResult, SqlError> {
    let if_exists = p.kws(&["IF", "EXISTS"]);
    let name = p.ident()?;
    p.end()?;
    if cx.acc.live().integration(&name).is_none() {
        return if if_exists {
            Ok(status(format!(
                "Drop statement executed successfully ({name} already dropped)."
            )))
        } else {
            Err(not_found("Integration", &name))
        };
    }
    if !may_manage(cx) {
        return Err(insufficient("integration", &name));
    }
    cx.acc.live.update(|next| {
        next.model.integrations.retain(|x| x.name != name);
        Ok::<_, SqlError>(())
    })?;
    revoke(cx, &name);
    Ok(status(format!("{name} successfully dropped.")))
}
