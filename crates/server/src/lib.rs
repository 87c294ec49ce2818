//! Switchboard's server: one process that serves Twilio-compatible REST APIs over the routing
//! engine, keeps everything durable, and posts event webhooks.
//!
//! Layout:
//! - `core`: the thread that owns all state (engines, Flex configuration, credentials), applies
//!   changes one at a time, writes them to the store before answering, replays them at start, and
//!   fires routing deadlines.
//! - `api`: HTTP routes (TaskRouter v1, Flex Configuration, API keys), Twilio's error body, form
//!   parameters, paging, authentication.
//! - `render`: resources as Twilio's JSON shapes.
//! - `events`: events as stored rows and webhook parameters; the webhook sender.
//! - `signature`: `X-Twilio-Signature`.
//! - `demo`: the seeded demo workspace.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod core;
pub mod credentials;
pub mod demo;
pub mod events;
pub mod ids;
pub mod render;
pub mod signature;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use switchboard_sid::{Account, Sid};
use switchboard_store::Batch;

use crate::core::{Core, CoreHandle};
use crate::credentials::Credentials;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `sqlite::memory:`.
    pub database: String,
    /// The URL clients use to reach us (for links and signatures behind a proxy).
    pub public_url: Option<String>,
    /// The account SID, when given (`TWILIO_ACCOUNT_SID`).
    pub account_sid: Option<String>,
    /// The auth token, when given (`TWILIO_AUTH_TOKEN`).
    pub auth_token: Option<String>,
    /// How many times an event webhook is tried.
    pub webhook_attempts: u32,
    /// The wait before the first retry (doubling after).
    pub webhook_backoff: Duration,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store.
    #[error("{0}")]
    Store(#[from] switchboard_store::StoreError),
    /// Replaying the log.
    #[error("could not rebuild the state: {0}")]
    Replay(String),
    /// Credentials given in the environment are malformed.
    #[error("{0}")]
    Credentials(String),
    /// Sockets and threads.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A server that is ready: its address, credentials, and a way to talk to its core.
pub struct Prepared {
    /// The core thread's handle.
    pub core: CoreHandle,
    /// The account SID.
    pub account_sid: Sid<Account>,
    /// The auth token.
    pub auth_token: String,
    /// Whether the credentials were created just now (print them once).
    pub credentials_created: bool,
    credentials: Arc<RwLock<Credentials>>,
    thread: std::thread::JoinHandle<()>,
    listener: tokio::net::TcpListener,
    public_url: Option<String>,
    webhooks: tokio::sync::mpsc::UnboundedReceiver<events::Delivery>,
    config: Config,
}

impl Prepared {
    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and stops.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = api::App {
            core: self.core.clone(),
            credentials: self.credentials.clone(),
            account: self.account_sid,
            public_url: self.public_url.clone(),
        };
        let sender = tokio::spawn(events::sender(
            self.webhooks,
            self.auth_token.clone(),
            self.config.webhook_attempts,
            self.config.webhook_backoff,
        ));
        let router = api::router(app);
        let result = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        drop(self.core);
        sender.abort();
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        result
    }
}

/// Opens the store, settles the credentials, rebuilds the state and binds the listener.
pub async fn prepare(config: Config) -> Result<Prepared, StartError> {
    let mut store = switchboard_store::open(&config.database)?;
    let (account_sid, auth_token, created) = match (&config.account_sid, &config.auth_token) {
        (Some(sid), Some(token)) => {
            let sid: Sid<Account> = sid
                .parse()
                .map_err(|e| StartError::Credentials(format!("TWILIO_ACCOUNT_SID: {e}")))?;
            if token.is_empty() {
                return Err(StartError::Credentials("TWILIO_AUTH_TOKEN is empty".into()));
            }
            (sid, token.clone(), false)
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(StartError::Credentials(
                "set both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or neither".into(),
            ))
        }
        (None, None) => match (store.setting("account_sid")?, store.setting("auth_token")?) {
            (Some(sid), Some(token)) => (
                sid.parse()
                    .map_err(|e| StartError::Credentials(format!("stored account SID: {e}")))?,
                token,
                false,
            ),
            _ => {
                let sid: Sid<Account> = ids::new_sid();
                let token = ids::new_secret();
                store.commit(&Batch {
                    settings: vec![
                        ("account_sid".into(), sid.to_string()),
                        ("auth_token".into(), token.clone()),
                    ],
                    ..Default::default()
                })?;
                (sid, token, true)
            }
        },
    };
    let credentials = Arc::new(RwLock::new(Credentials {
        account_sid,
        auth_token: auth_token.clone(),
        api_keys: BTreeMap::new(),
    }));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let core = tokio::task::block_in_place(|| Core::open(store, credentials.clone(), Some(tx)))
        .map_err(StartError::Replay)?;
    let (handle, thread) = core::spawn(core)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    Ok(Prepared {
        core: handle,
        account_sid,
        auth_token,
        credentials_created: created,
        credentials,
        thread,
        listener,
        public_url: config.public_url.clone(),
        webhooks: rx,
        config,
    })
}
