//! The agent desktop: the built web app (`web/dist`), embedded in the binary at compile time, so
//! running Switchboard needs nothing else. `/` and any path that is not a file serve `index.html`
//! (the app routes in the browser); files are served with their content type and long caching for
//! the fingerprinted `assets/`.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use include_dir::{include_dir, Dir};

use crate::app::App;

static DIST: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../web/dist");

/// The routes (no credentials: the app signs agents in itself).
pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(|| async { file("index.html") }))
        .route(
            "/assets/{*path}",
            get(|Path(path): Path<String>| async move { file(&format!("assets/{path}")) }),
        )
        .route("/desktop", get(|| async { file("index.html") }))
        .route("/desktop/{*path}", get(|| async { file("index.html") }))
        .route("/favicon.svg", get(|| async { file("favicon.svg") }))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

fn file(path: &str) -> Response {
    let Some(f) = DIST.get_file(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, content_type(path)),
            (header::CACHE_CONTROL, cache),
        ],
        f.contents(),
    )
        .into_response()
}
