//! `ALTER WAREHOUSE [IF EXISTS] <name> RESUME [IF SUSPENDED] | SUSPEND | SET …`.
//!
//! Privilege: ACCOUNTADMIN or SYSADMIN (through the hierarchy), or OWNERSHIP of the warehouse;
//! OPERATE also allows RESUME/SUSPEND and MODIFY allows SET. The new state is what
//! `SHOW WAREHOUSES` reports and what decides whether a statement needing compute runs
//! (`000606` on a suspended warehouse without AUTO_RESUME).

use super::super::engine::{QueryResult, SqlError};
use super::super::live::LiveAccount;
use super::parse::Parser;
use super::{executed, insufficient, invalid_property, not_found, Cx};

enum Action {
    Resume { if_suspended: bool },
    Suspend,
    Set(Vec<(String, Option<bool>, Option<String>)>),
}

fn parse_action(p: &mut Parser<'_>) -> Result<Action, SqlError> {
    if p.kw("RESUME") {
        let if_suspended = p.kws(&["IF", "SUSPENDED"]);
        return Ok(Action::Resume { if_suspended });
    }
    if p.kw("SUSPEND") {
        return Ok(Action::Suspend);
    }
    p.expect("SET")?;
    let mut props = Vec::new();
    loop {
        let prop = p.word()?;
        p.expect_sym('=')?;
        match prop.as_str() {
            "AUTO_RESUME" => props.push((prop, Some(p.boolean()?), None)),
            "WAREHOUSE_SIZE" => props.push((prop, None, Some(p.name_or_string()?))),
            // Accepted and not modelled (snowsim has no credits or clusters).
            "AUTO_SUSPEND"
            | "COMMENT"
            | "MAX_CLUSTER_COUNT"
            | "MIN_CLUSTER_COUNT"
            | "SCALING_POLICY"
            | "RESOURCE_MONITOR"
            | "STATEMENT_TIMEOUT_IN_SECONDS" => {
                p.skip_value()?;
            }
            other => return Err(invalid_property(other, "WAREHOUSE")),
        }
        p.sym(',');
        if p.at_end() {
            return Ok(Action::Set(props));
        }
    }
}

fn invalid_state(name: &str, verb: &str) -> SqlError {
    // Snowflake answers RESUME of a running / SUSPEND of a suspended warehouse with an "Invalid
    // state" error; the code is not in PROTOCOL.md (090064 is what clients commonly report).
    SqlError {
        code: "090064".into(),
        sql_state: "22000".into(),
        message: format!("Invalid state. Warehouse '{name}' cannot be {verb}."),
    }
}

fn allowed(cx: &Cx<'_>, live: &LiveAccount, name: &str, action: &Action) -> bool {
    let extra = match action {
        Action::Resume { .. } | Action::Suspend => "OPERATE",
        Action::Set(_) => "MODIFY",
    };
    cx.role_holds(live, &["ACCOUNTADMIN", "SYSADMIN"])
        || cx.has_grant(live, &["OWNERSHIP", extra], "WAREHOUSE", name)
}

/// `ALTER WAREHOUSE …` (after `ALTER WAREHOUSE`).
pub fn alter(p: &mut Parser<'_>, cx: &Cx<'_>) -> Result<QueryResult, SqlError> {
    let if_exists = p.kws(&["IF", "EXISTS"]);
    let name = p.ident()?;
    let action = parse_action(p)?;
    p.end()?;
    let live = cx.acc.live();
    if !live.model.warehouses.iter().any(|w| w.name == name) {
        return if if_exists {
            Ok(executed())
        } else {
            Err(not_found("Warehouse", &name))
        };
    }
    if !allowed(cx, &live, &name, &action) {
        return Err(insufficient("warehouse", &name));
    }
    cx.acc.live.update(|next| {
        let wh = next
            .model
            .warehouses
            .iter_mut()
            .find(|w| w.name == name)
            .ok_or_else(|| not_found("Warehouse", &name))?;
        match action {
            Action::Resume { if_suspended } => {
                if !wh.suspended && !if_suspended {
                    return Err(invalid_state(&name, "resumed because it is not suspended"));
                }
                wh.suspended = false;
            }
            Action::Suspend => {
                if wh.suspended {
                    return Err(invalid_state(&name, "suspended"));
                }
                wh.suspended = true;
            }
            Action::Set(props) => {
                for (prop, flag, text) in props {
                    match (prop.as_str(), flag, text) {
                        ("AUTO_RESUME", Some(b), _) => wh.auto_resume = b,
                        ("WAREHOUSE_SIZE", _, Some(size)) => wh.size = size,
                        _ => {}
                    }
                }
            }
        }
        Ok(executed())
    })
}
