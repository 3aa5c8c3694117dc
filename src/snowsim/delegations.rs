//! Delegated authorizations: the consents users gave an OAuth integration for a role (what
//! `SHOW DELEGATED AUTHORIZATIONS` lists and `ALTER USER … REMOVE DELEGATED AUTHORIZATIONS`
//! removes). A consent is recorded when the user clicks *Allow* (or an admin pre-authorizes with
//! `ADD DELEGATED AUTHORIZATION`); removing it also revokes the tokens issued under it, which is
//! the token store's job ([`super::tokens::TokenStore::revoke_where`]).

use super::util::now_secs;

/// One consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// Account index.
    pub account: usize,
    /// User NAME.
    pub user: String,
    /// Role consented to.
    pub role: String,
    /// Integration name.
    pub integration: String,
    /// When it was first given (epoch seconds).
    pub created_on: u64,
}

/// Every consent of the sim.
#[derive(Debug, Default)]
pub struct Consents {
    items: Vec<Consent>,
}

impl Consents {
    /// Records a consent (idempotent: the first time is kept).
    pub fn record(&mut self, account: usize, user: &str, role: &str, integration: &str) {
        let known = self.items.iter().any(|c| {
            c.account == account && c.user == user && c.role == role && c.integration == integration
        });
        if !known {
            self.items.push(Consent {
                account,
                user: user.to_owned(),
                role: role.to_owned(),
                integration: integration.to_owned(),
                created_on: now_secs(),
            });
        }
    }

    /// Removes the consents `hit` selects; returns how many.
    pub fn remove_where(&mut self, hit: impl Fn(&Consent) -> bool) -> usize {
        let before = self.items.len();
        self.items.retain(|c| !hit(c));
        before - self.items.len()
    }

    /// The consents of one account, oldest first.
    pub fn of_account(&self, account: usize) -> Vec<Consent> {
        self.items
            .iter()
            .filter(|c| c.account == account)
            .cloned()
            .collect()
    }
}
