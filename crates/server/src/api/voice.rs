//! Voice REST API under `/2010-04-01/Accounts/{AccountSid}/` (being written).

use axum::Router;

use super::App;

/// The routes.
pub fn routes() -> Router<App> {
    Router::new()
}
