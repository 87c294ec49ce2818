//! API keys: `/2010-04-01/Accounts/{AccountSid}/Keys.json` and `/Keys/{Sid}.json`.
//! The secret is shown once, when the key is created; only its hash is kept.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use switchboard_sid::{ApiKey, Sid};

use crate::app::App;
use crate::credentials::{sha256_hex, ApiKeyRecord};
use crate::driver::read;
use crate::http::{created, list, no_content, ok, page_of, ApiError, ApiResult, Ctx, Form, Paging};
use crate::ids::{new_secret, new_sid};
use crate::render::iso;
use switchboard_center::Entry;

/// The routes.
pub fn routes() -> Router<App> {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Keys.json",
            get(list_keys).post(create_key),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Keys/{key}",
            get(fetch_key).post(update_key).delete(delete_key),
        )
}

fn check_account(app: &App, account: &str) -> Result<(), ApiError> {
    if account == app.account.to_string() {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("Account {account}")))
    }
}

fn key_sid(segment: &str) -> Result<Sid<ApiKey>, ApiError> {
    segment
        .strip_suffix(".json")
        .unwrap_or(segment)
        .parse()
        .map_err(|_| ApiError::not_found(format!("Key {segment}")))
}

fn render(k: &ApiKeyRecord) -> Value {
    json!({
        "sid": k.sid.to_string(),
        "friendly_name": k.friendly_name,
        "date_created": iso(k.date_created.0),
        "date_updated": iso(k.date_updated.0),
    })
}

async fn create_key(State(app): State<App>, Path(account): Path<String>, body: Bytes) -> ApiResult {
    check_account(&app, &account)?;
    let form = Form::parse(&body)?;
    let friendly_name = form.string("FriendlyName").unwrap_or_default();
    let sid: Sid<ApiKey> = new_sid();
    let secret = new_secret();
    let hash = sha256_hex(&secret);
    app.core
        .run(move |core| {
            let now = core.now();
            core.execute(Entry::CreateApiKey {
                sid,
                friendly_name,
                secret_sha256: hash,
                date_created: now.0,
            })?;
            let key = core
                .center()
                .model()
                .api_keys()
                .get(&sid)
                .ok_or_else(|| ApiError::internal("key vanished"))?;
            let mut v = render(key);
            v["secret"] = json!(secret);
            Ok(created(v))
        })
        .await?
}

async fn list_keys(State(app): State<App>, ctx: Ctx, Path(account): Path<String>) -> ApiResult {
    check_account(&app, &account)?;
    let paging = Paging::from(&ctx.query)?;
    let all: Vec<Value> = read(&app.credentials)
        .api_keys
        .values()
        .map(render)
        .collect();
    let (items, more) = page_of(all, paging);
    Ok(list(&ctx, "keys", paging, items, more))
}

async fn fetch_key(
    State(app): State<App>,
    Path((account, key)): Path<(String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let sid = key_sid(&key)?;
    read(&app.credentials)
        .api_keys
        .get(&sid)
        .map(|k| ok(render(k)))
        .ok_or_else(|| ApiError::not_found(format!("Key {sid}")))
}

async fn update_key(
    State(app): State<App>,
    Path((account, key)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    check_account(&app, &account)?;
    let sid = key_sid(&key)?;
    let friendly_name = Form::parse(&body)?
        .string("FriendlyName")
        .unwrap_or_default();
    app.core
        .run(move |core| {
            core.execute(Entry::UpdateApiKey { sid, friendly_name })?;
            core.center()
                .model()
                .api_keys()
                .get(&sid)
                .map(|k| ok(render(k)))
                .ok_or_else(|| ApiError::not_found(format!("Key {sid}")))
        })
        .await?
}

async fn delete_key(
    State(app): State<App>,
    Path((account, key)): Path<(String, String)>,
) -> ApiResult {
    check_account(&app, &account)?;
    let sid = key_sid(&key)?;
    app.core
        .run(move |core| {
            core.execute(Entry::DeleteApiKey { sid })?;
            Ok(no_content())
        })
        .await?
}
