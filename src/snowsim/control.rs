//! Control of a running sim, off Snowflake's paths: fault injection, token expiry and revocation,
//! token lifetimes, the synchronous window, and counters. The same operations are methods of
//! [`SimControl`] (in-process tests) and JSON endpoints under `/_snowsim/` (other processes):
//!
//! | method + path | body | effect |
//! | --- | --- | --- |
//! | `GET /_snowsim/counters` | | counters as JSON |
//! | `POST /_snowsim/counters/reset` | | zero them |
//! | `POST /_snowsim/faults` | [`FaultSpec`] | add a fault → `{"id": n}` |
//! | `DELETE /_snowsim/faults[/{id}]` | | remove all / one |
//! | `POST /_snowsim/tokens/expire-access` | | every access token expires now |
//! | `POST /_snowsim/tokens/expire-codes` | | every authorization code expires now |
//! | `POST /_snowsim/users/{user}/revoke-refresh-tokens` | | that user's refresh tokens die |
//! | `POST /_snowsim/token-lifetimes` | `{"access_token_secs"?, "refresh_token_secs"?}` | new tokens get these lifetimes |
//! | `POST /_snowsim/sync-window` | `{"millis": n}` | synchronous wait before 202 |
//! | `POST /_snowsim/tokens/mint` | `{"user", "role"?}` | an access token without the browser flow |
//!
//! The control API has no authentication: snowsim is a test double bound to loopback.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::counters::CountersSnapshot;
use super::faults::FaultSpec;
use super::state::SimState;
use super::tokens::Grant;
use super::util::lock;

/// Handle to control a running sim from the same process.
#[derive(Clone)]
pub struct SimControl {
    pub(crate) state: Arc<SimState>,
}

impl SimControl {
    /// Every counter.
    pub fn counters(&self) -> CountersSnapshot {
        self.state.counters.snapshot()
    }

    /// Zeroes every counter.
    pub fn reset_counters(&self) {
        self.state.counters.reset();
    }

    /// Adds a fault; returns its id.
    pub fn inject_fault(&self, spec: FaultSpec) -> u64 {
        self.state.faults.add(spec)
    }

    /// Removes one fault.
    pub fn remove_fault(&self, id: u64) -> bool {
        self.state.faults.remove(id)
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.state.faults.clear();
    }

    /// Turns the SQL API of every account off (403) or on.
    pub fn set_sql_api_enabled(&self, enabled: bool) {
        for acc in &self.state.accounts {
            acc.sql_api_enabled.store(enabled, Ordering::Relaxed);
        }
    }

    /// Expires every access token now; returns how many there were.
    pub fn expire_access_tokens(&self) -> usize {
        lock(&self.state.tokens).expire_all_access()
    }

    /// Expires every authorization code now.
    pub fn expire_codes(&self) {
        lock(&self.state.tokens).expire_all_codes();
    }

    /// Revokes the refresh tokens of `user` (NAME) in the first account; returns how many died.
    pub fn revoke_refresh_tokens(&self, user: &str) -> usize {
        lock(&self.state.tokens).revoke_refresh(0, user)
    }

    /// Whether Snowflake would still accept `refresh_token` (known, unused, unexpired), without
    /// spending it: crash tests check that the broker holds no dead token.
    pub fn refresh_token_usable(&self, refresh_token: &str) -> bool {
        lock(&self.state.tokens).refresh_usable(refresh_token)
    }

    /// Lifetimes of tokens issued from now on (`None` leaves a value unchanged; the refresh
    /// lifetime overrides every integration's validity).
    pub fn set_token_lifetimes(&self, access_secs: Option<u64>, refresh_secs: Option<u64>) {
        let mut tokens = lock(&self.state.tokens);
        if let Some(a) = access_secs {
            tokens.lifetimes.access_secs = a;
        }
        if refresh_secs.is_some() {
            tokens.lifetimes.refresh_override_secs = refresh_secs;
        }
    }

    /// How long a synchronous submission waits before answering 202.
    pub fn set_sync_window(&self, window: Duration) {
        let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        self.state.sync_window_ms.store(ms, Ordering::Relaxed);
    }

    /// Issues an access token for `user` (NAME) of the first account through its first
    /// integration, with `role` or the user's default role. For benchmarks and tests that are not
    /// about the browser flow.
    pub fn mint_access_token(&self, user: &str, role: Option<&str>) -> Result<String, String> {
        self.mint_in(0, user, role)
    }

    fn mint_in(&self, account: usize, user: &str, role: Option<&str>) -> Result<String, String> {
        let acc = self.state.accounts.get(account).ok_or("no such account")?;
        let live = acc.live();
        let model = live.user(user).ok_or_else(|| format!("no user {user}"))?;
        let integration = live
            .model
            .integrations
            .first()
            .ok_or("the account has no OAuth integration")?;
        let role = role.map_or_else(|| live.default_role(model), str::to_owned);
        if !live.effective_roles(model).contains(&role) {
            return Err(format!("role {role} is not granted to {user}"));
        }
        let grant = Grant {
            account,
            user: model.name.clone(),
            integration: integration.name.clone(),
            role,
            offline: false,
        };
        Ok(lock(&self.state.tokens).mint_access_for(grant))
    }
}

fn control(state: &web::Data<SimState>) -> SimControl {
    SimControl {
        state: state.clone().into_inner(),
    }
}

fn account_index(state: &SimState, req: &HttpRequest) -> usize {
    let host = req.headers().get("host").and_then(|h| h.to_str().ok());
    state.account_for_host(host).map_or(0, |a| a.index)
}

async fn get_counters(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(control(&state).counters())
}

async fn post_reset_counters(state: web::Data<SimState>) -> HttpResponse {
    control(&state).reset_counters();
    HttpResponse::NoContent().finish()
}

async fn post_fault(state: web::Data<SimState>, spec: web::Json<FaultSpec>) -> HttpResponse {
    let id = control(&state).inject_fault(spec.into_inner());
    HttpResponse::Ok().json(json!({ "id": id }))
}

async fn delete_faults(state: web::Data<SimState>) -> HttpResponse {
    control(&state).clear_faults();
    HttpResponse::NoContent().finish()
}

async fn delete_fault(state: web::Data<SimState>, id: web::Path<u64>) -> HttpResponse {
    if control(&state).remove_fault(id.into_inner()) {
        HttpResponse::NoContent().finish()
    } else {
        HttpResponse::NotFound().finish()
    }
}

async fn post_expire_access(state: web::Data<SimState>) -> HttpResponse {
    let n = control(&state).expire_access_tokens();
    HttpResponse::Ok().json(json!({ "expired": n }))
}

async fn post_expire_codes(state: web::Data<SimState>) -> HttpResponse {
    control(&state).expire_codes();
    HttpResponse::NoContent().finish()
}

async fn post_revoke_refresh(
    req: HttpRequest,
    state: web::Data<SimState>,
    user: web::Path<String>,
) -> HttpResponse {
    let account = account_index(&state, &req);
    let n = lock(&state.tokens).revoke_refresh(account, &user);
    HttpResponse::Ok().json(json!({ "revoked": n }))
}

#[derive(Deserialize)]
struct Lifetimes {
    access_token_secs: Option<u64>,
    refresh_token_secs: Option<u64>,
}

async fn post_lifetimes(state: web::Data<SimState>, body: web::Json<Lifetimes>) -> HttpResponse {
    control(&state).set_token_lifetimes(body.access_token_secs, body.refresh_token_secs);
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct SyncWindow {
    millis: u64,
}

async fn post_sync_window(state: web::Data<SimState>, body: web::Json<SyncWindow>) -> HttpResponse {
    control(&state).set_sync_window(Duration::from_millis(body.millis));
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct Mint {
    user: String,
    role: Option<String>,
}

async fn post_mint(
    req: HttpRequest,
    state: web::Data<SimState>,
    body: web::Json<Mint>,
) -> HttpResponse {
    let account = account_index(&state, &req);
    match control(&state).mint_in(account, &body.user, body.role.as_deref()) {
        Ok(token) => HttpResponse::Ok().json(json!({ "access_token": token })),
        Err(e) => HttpResponse::BadRequest().json(json!({ "error": e })),
    }
}

/// Registers the `/_snowsim/` routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/_snowsim")
            .route("/counters", web::get().to(get_counters))
            .route("/counters/reset", web::post().to(post_reset_counters))
            .route("/faults", web::post().to(post_fault))
            .route("/faults", web::delete().to(delete_faults))
            .route("/faults/{id}", web::delete().to(delete_fault))
            .route("/tokens/expire-access", web::post().to(post_expire_access))
            .route("/tokens/expire-codes", web::post().to(post_expire_codes))
            .route("/tokens/mint", web::post().to(post_mint))
            .route(
                "/users/{user}/revoke-refresh-tokens",
                web::post().to(post_revoke_refresh),
            )
            .route("/token-lifetimes", web::post().to(post_lifetimes))
            .route("/sync-window", web::post().to(post_sync_window)),
    );
}
