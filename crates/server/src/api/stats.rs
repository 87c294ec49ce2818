//! Statistics and Events (being written).

use axum::Router;

use super::App;

/// The routes.
pub fn routes() -> Router<App> {
    Router::new()
}
