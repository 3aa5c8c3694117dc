//! The live, mutable view of one account: its model (users, roles, warehouses, integrations,
//! authentication policies) and the key ring derived from the users' registered RSA keys.
//!
//! Invariants:
//! - readers take an immutable snapshot ([`LiveCell::get`]: one uncontended read lock and an
//!   `Arc` clone), so the `SELECT 1` path never waits on a writer for longer than a pointer swap;
//! - writers ([`LiveCell::update`]) are serialised by the write lock, work on a private copy and
//!   publish it only when the whole change succeeded, so a failed statement changes nothing and a
//!   reader never sees half of an `ALTER`;
//! - `keys` always matches the users' `rsa_public_key`/`rsa_public_key_2` (the update helpers
//!   rebuild a user's entry whenever a key slot changes).

use std::sync::{Arc, RwLock};

use super::jwt::{KeyRing, RegisteredKey};
use super::model::{AccountModel, AuthPolicyModel, OAuthIntegrationModel, UserModel};
use super::state::ALWAYS_BLOCKED_ROLES;

/// An immutable snapshot of an account's model.
#[derive(Debug, Clone)]
pub struct LiveAccount {
    /// The model as it is now (configuration plus every admin statement since start).
    pub model: AccountModel,
    /// Registered RSA keys by user NAME.
    pub keys: KeyRing,
}

/// Holder of the current snapshot.
#[derive(Debug)]
pub struct LiveCell(RwLock<Arc<LiveAccount>>);

impl LiveCell {
    /// Wraps the initial snapshot.
    pub fn new(live: LiveAccount) -> Self {
        Self(RwLock::new(Arc::new(live)))
    }

    /// The current snapshot.
    pub fn get(&self) -> Arc<LiveAccount> {
        let guard = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(&guard)
    }

    /// Applies `change` to a copy of the current snapshot and publishes it when `change`
    /// succeeds. Writers are serialised; readers keep the snapshot they hold.
    pub fn update<T, E>(
        &self,
        change: impl FnOnce(&mut LiveAccount) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut guard = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next = LiveAccount::clone(&guard);
        let out = change(&mut next)?;
        *guard = Arc::new(next);
        Ok(out)
    }
}

impl LiveAccount {
    /// A user by NAME (exact).
    pub fn user(&self, name: &str) -> Option<&UserModel> {
        self.model.users.iter().find(|u| u.name == name)
    }

    /// A user by NAME for changing.
    pub fn user_mut(&mut self, name: &str) -> Option<&mut UserModel> {
        self.model.users.iter_mut().find(|u| u.name == name)
    }

    /// A user by login name as typed in the login form (case-insensitive, like Snowflake).
    pub fn user_by_login(&self, login: &str) -> Option<&UserModel> {
        self.model.users.iter().find(|u| {
            u.login_name
                .as_deref()
                .unwrap_or(&u.name)
                .eq_ignore_ascii_case(login)
        })
    }

    /// The integration with this client id.
    pub fn integration_by_client(&self, client_id: &str) -> Option<&OAuthIntegrationModel> {
        self.model
            .integrations
            .iter()
            .find(|i| i.client_id == client_id)
    }

    /// The integration with this name (exact).
    pub fn integration(&self, name: &str) -> Option<&OAuthIntegrationModel> {
        self.model.integrations.iter().find(|i| i.name == name)
    }

    /// The authentication policy with this name (exact).
    pub fn policy(&self, name: &str) -> Option<&AuthPolicyModel> {
        self.model
            .authentication_policies
            .iter()
            .find(|p| p.name == name)
    }

    /// The policy attached to `user`, if any.
    pub fn policy_of(&self, user: &UserModel) -> Option<&AuthPolicyModel> {
        user.authentication_policy
            .as_deref()
            .and_then(|p| self.policy(p))
    }

    /// Whether a role exists (role names are case-sensitive identifiers).
    pub fn role_exists(&self, role: &str) -> bool {
        role == "PUBLIC" || self.model.roles.iter().any(|r| r.name == role)
    }

    /// `roles` plus every role they inherit, plus PUBLIC.
    pub fn closure(&self, roles: &[String]) -> Vec<String> {
        let mut out: Vec<String> = vec!["PUBLIC".to_owned()];
        let mut todo: Vec<String> = roles.to_vec();
        while let Some(role) = todo.pop() {
            if out.contains(&role) {
                continue;
            }
            if let Some(model) = self.model.roles.iter().find(|r| r.name == role) {
                todo.extend(model.granted_roles.iter().cloned());
            }
            out.push(role);
        }
        out
    }

    /// Every role the user can activate: granted roles, the roles they inherit, and PUBLIC.
    pub fn effective_roles(&self, user: &UserModel) -> Vec<String> {
        self.closure(&user.roles)
    }

    /// Whether a session with `role` holds any of `wanted` (directly or through the hierarchy).
    pub fn role_holds_any(&self, role: &str, wanted: &[&str]) -> bool {
        self.closure(&[role.to_owned()])
            .iter()
            .any(|r| wanted.contains(&r.as_str()))
    }

    /// The role a session gets when none is asked for: the default role when it is still granted,
    /// else PUBLIC.
    pub fn default_role(&self, user: &UserModel) -> String {
        match &user.default_role {
            Some(r) if self.effective_roles(user).contains(r) => r.clone(),
            _ => "PUBLIC".to_owned(),
        }
    }

    /// Whether OAuth may grant `role` through `integration`.
    pub fn role_blocked(&self, integration: &OAuthIntegrationModel, role: &str) -> bool {
        ALWAYS_BLOCKED_ROLES.contains(&role) || integration.blocked_roles.iter().any(|r| r == role)
    }

    /// Rebuilds the key ring entry of `user` from its key slots (already validated).
    pub fn rekey(&mut self, user: &str) -> Result<(), String> {
        let Some(model) = self.user(user) else {
            self.keys.remove(user);
            return Ok(());
        };
        let mut keys = Vec::new();
        for text in [&model.rsa_public_key, &model.rsa_public_key_2]
            .into_iter()
            .flatten()
        {
            keys.push(RegisteredKey::parse(text)?);
        }
        self.keys.insert(user.to_owned(), keys);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::snowsim::model::{RoleModel, SimConfig};

    fn cell() -> LiveCell {
        let model = SimConfig::demo().accounts.remove(0);
        LiveCell::new(LiveAccount {
            keys: KeyRing::new(),
            model,
        })
    }

    #[test]
    fn concurrent_writers_lose_no_update_and_readers_see_whole_snapshots() {
        let cell = Arc::new(cell());
        let before = cell.get().model.roles.len();
        let writers: Vec<_> = (0..8)
            .map(|t| {
                let cell = Arc::clone(&cell);
                std::thread::spawn(move || {
                    for k in 0..50 {
                        cell.update(|live| {
                            // Two changes per update: a reader must see both or neither.
                            live.model.roles.push(RoleModel {
                                name: format!("R{t}_{k}"),
                                granted_roles: Vec::new(),
                            });
                            live.keys.insert(format!("R{t}_{k}"), Vec::new());
                            Ok::<_, ()>(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for _ in 0..2000 {
            let snap = cell.get();
            let added = snap.model.roles.len() - before;
            assert_eq!(added, snap.keys.len(), "a half-applied update was visible");
        }
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(cell.get().model.roles.len(), before + 400);
    }

    #[test]
    fn a_failed_update_changes_nothing() {
        let cell = cell();
        let out = cell.update(|live| {
            live.model.users.clear();
            Err::<(), _>("refused")
        });
        assert_eq!(out, Err("refused"));
        assert!(cell.get().user("BOB").is_some());
    }

    #[test]
    fn role_hierarchy_reaches_inherited_admin_roles() {
        let live = cell().get();
        assert!(live.role_holds_any("ACCOUNTADMIN", &["USERADMIN"]));
        assert!(!live.role_holds_any("SYSADMIN", &["USERADMIN", "SECURITYADMIN"]));
        assert!(!live.role_holds_any("REPORTER", &["ACCOUNTADMIN"]));
    }
}
