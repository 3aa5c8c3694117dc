//! Delegated authorizations (PROTOCOL.md B.4): `ALTER USER u REMOVE DELEGATED AUTHORIZATIONS FROM
//! SECURITY INTEGRATION i`, `… REMOVE DELEGATED AUTHORIZATION OF ROLE r FROM SECURITY INTEGRATION
//! i`, `… ADD DELEGATED AUTHORIZATION OF ROLE r TO SECURITY INTEGRATION i`, and
//! `SHOW DELEGATED AUTHORIZATIONS [BY USER u] [TO SECURITY INTEGRATION i]`.
//!
//! Removing a consent revokes, in the same token-store lock, every authorization code, access
//! token and refresh token issued under it: the next refresh answers `invalid_grant` and the next
//! SQL API call with an access token answers 401 `390303`.

use super::super::engine::{QueryResult, SqlError};
use super::super::live::LiveAccount;
use super::super::util::lock;
use super::parse::Parser;
use super::user::USER_ADMINS;
use super::{executed, insufficient, not_found, table, ts_cell, Cx};

/// A parsed `ADD`/`REMOVE DELEGATED AUTHORIZATION(S)` clause.
pub struct Change {
    add: bool,
    role: Option<String>,
    integration: String,
}

fn integration_name(p: &mut Parser<'_>) -> Result<String, SqlError> {
    p.expect("SECURITY")?;
    p.expect("INTEGRATION")?;
    p.ident()
}

/// Parses the clause after `ALTER USER <name>`; `None` when it is not one.
pub fn parse_change(p: &mut Parser<'_>) -> Result<Option<Change>, SqlError> {
    if p.kws(&["REMOVE", "DELEGATED", "AUTHORIZATIONS"]) {
        p.expect("FROM")?;
        return Ok(Some(Change {
            add: false,
            role: None,
            integration: integration_name(p)?,
        }));
    }
    let add = if p.kws(&["ADD", "DELEGATED", "AUTHORIZATION"]) {
        true
    } else if p.kws(&["REMOVE", "DELEGATED", "AUTHORIZATION"]) {
        false
    } else {
        return Ok(None);
    };
    p.expect("OF")?;
    p.expect("ROLE")?;
    let role = p.ident()?;
    p.expect(if add { "TO" } else { "FROM" })?;
    Ok(Some(Change {
        add,
        role: Some(role),
        integration: integration_name(p)?,
    }))
}

/// Applies a change for `user` (existence and privilege already checked).
pub fn apply(
    cx: &Cx<'_>,
    live: &LiveAccount,
    user: &str,
    change: Change,
) -> Result<QueryResult, SqlError> {
    if live.integration(&change.integration).is_none() {
        return Err(not_found("Integration", &change.integration));
    }
    let account = cx.acc.index;
    let mut tokens = lock(&cx.state.tokens);
    if change.add {
        let role = change.role.unwrap_or_default();
        if !live.role_exists(&role) {
            return Err(not_found("Role", &role));
        }
        tokens
            .consents
            .record(account, user, &role, &change.integration);
        return Ok(executed());
    }
    let role = change.role.as_deref();
    let integration = change.integration.as_str();
    tokens.consents.remove_where(|c| {
        c.account == account
            && c.user == user
            && c.integration == integration
            && role.is_none_or(|r| c.role == r)
    });
    tokens.revoke_where(|g| {
        g.account == account
            && g.user == user
            && g.integration == integration
            && role.is_none_or(|r| g.role == r)
    });
    Ok(executed())
}

/// `SHOW DELEGATED AUTHORIZATIONS [BY USER u] [TO SECURITY INTEGRATION i]` (after the keywords).
/// Administrators see every consent; other roles only their own user's.
pub fn show(p: &mut Parser<'_>, cx: &Cx<'_>) -> Result<QueryResult, SqlError> {
    let mut by_user = None;
    let mut to_integration = None;
    if p.kws(&["BY", "USER"]) {
        by_user = Some(p.ident()?);
    }
    if p.kw("TO") {
        to_integration = Some(integration_name(p)?);
    }
    p.end()?;
    let live = cx.acc.live();
    if let Some(u) = &by_user {
        if live.user(u).is_none() {
            return Err(not_found("User", u));
        }
    }
    if let Some(i) = &to_integration {
        if live.integration(i).is_none() {
            return Err(not_found("Integration", i));
        }
    }
    let admin = cx.role_holds(&live, &USER_ADMINS);
    if !admin && by_user.as_ref().is_some_and(|u| *u != cx.ctx.user) {
        return Err(insufficient("user", by_user.as_deref().unwrap_or_default()));
    }
    let consents = lock(&cx.state.tokens).consents.of_account(cx.acc.index);
    let rows = consents
        .into_iter()
        .filter(|c| admin || c.user == cx.ctx.user)
        .filter(|c| by_user.as_ref().is_none_or(|u| &c.user == u))
        .filter(|c| to_integration.as_ref().is_none_or(|i| &c.integration == i))
        .map(|c| {
            vec![
                ts_cell(c.created_on),
                Some(c.user),
                Some(c.role),
                Some(c.integration),
            ]
        })
        .collect();
    Ok(table(
        &["created_on", "user_name", "role_name", "integration_name"],
        &["created_on"],
        rows,
    ))
}
