//! Which connection a caller may use. Shared by the SQL API proxy routes and the tools, so both
//! apply the same rule: the API key must be allowed the connection, and the connection must
//! exist and be enabled.

use std::sync::Arc;

use crate::api_keys::ApiKeyRecord;
use crate::connections::Connection;
use crate::error::{AppError, ErrorCode};
use crate::routes::connections::map_error;
use crate::state::AppState;

/// The connection `name`, if `caller`'s key may use it and it exists and is enabled
/// (403 `forbidden`, 404 `connection_not_found`, 403 `connection_disabled` otherwise).
pub fn usable_connection(
    state: &AppState,
    caller: &ApiKeyRecord,
    name: &str,
) -> Result<Arc<Connection>, AppError> {
    if !caller.allows_connection(name) {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            format!("this API key may not use connection {name:?}"),
        ));
    }
    state.connections.usable(name).map_err(map_error)
}
