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
//! - `conn`: accepting connections (the cap, timeouts, graceful shutdown).
//! - `signature`: `X-Twilio-Signature`.
//! - `demo`: the seeded demo workspace.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod calls;
mod conn;
pub mod core;
pub mod credentials;
pub mod demo;
pub mod desktop;
pub mod events;
pub mod ids;
pub mod render;
pub mod signature;
pub mod tokens;

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
    /// How long a TwiML webhook may take to answer.
    pub fetch_timeout: Duration,
    /// The workflow of the built-in internal-call enqueue function
    /// (`TWILIO_FLEX_INTERNAL_CALL_WORKFLOW_SID`; default: the workflow named "Internal Call").
    pub internal_call_workflow_sid: Option<String>,
    /// Demo mode: agents of the demo workspace may sign in without credentials.
    pub demo: bool,
    /// How long an internal call to a queue waits for an agent before the caller is told nobody
    /// answered (the `<Task timeout>` the built-in enqueue function sets).
    pub queue_call_timeout: Duration,
    /// Limits on connections and requests.
    pub limits: Limits,
}

/// Limits on connections and requests; `Limits::default()` holds the production values.
///
/// Each accepted connection holds one of `max_connections` places until it closes, an upgraded
/// desktop WebSocket included; a connection beyond the cap is closed at once, unanswered.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections at most (10,000).
    pub max_connections: usize,
    /// How long a client may take to send a whole request head (request line and headers),
    /// counted from when the connection opens or from the end of the previous response; this is
    /// also how long an idle keep-alive connection stays open, since hyper has one timer for
    /// both (10 s).
    pub header_read_timeout: Duration,
    /// How long a request may take from its head until the answer is ready, reading the body
    /// included (30 s); a request that takes longer is answered `408`.
    pub request_timeout: Duration,
    /// The longest request target (path and query) in bytes (8 KiB); longer is `414`.
    pub max_uri_bytes: usize,
    /// The most bytes of request headers, names and values (32 KiB); more is `431`.
    pub max_header_bytes: usize,
    /// The most request header fields (100); more is `431`.
    pub max_header_count: usize,
    /// The largest request body in bytes (2 MiB); larger is `413`.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 32 * 1024,
            max_header_count: 100,
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
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
    webhooks: tokio::sync::mpsc::Receiver<events::Delivery>,
    fetches: tokio::sync::mpsc::UnboundedReceiver<calls::FetchJob>,
    token_key: Arc<[u8]>,
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
        // Long-lived connections (desktop WebSockets) close when this turns true; without it a
        // graceful shutdown would wait for every agent to leave.
        let (down_tx, down_rx) = tokio::sync::watch::channel(false);
        let app = api::App {
            core: self.core.clone(),
            credentials: self.credentials.clone(),
            account: self.account_sid,
            public_url: self.public_url.clone(),
            token_key: self.token_key.clone(),
            internal_call_workflow: self.config.internal_call_workflow_sid.clone(),
            demo: self.config.demo,
            queue_call_timeout: self.config.queue_call_timeout,
            shutdown: down_rx,
            limits: self.config.limits.clone(),
        };
        let fetcher = tokio::spawn(calls::fetcher(
            self.fetches,
            self.core.clone(),
            self.auth_token.clone(),
            self.config.fetch_timeout,
        ));
        let sender = tokio::spawn(events::sender(
            self.webhooks,
            self.auth_token.clone(),
            self.config.webhook_attempts,
            self.config.webhook_backoff,
        ));
        let router = api::router(app);
        conn::serve(self.listener, router, &self.config.limits, async move {
            shutdown.await;
            let _ = down_tx.send(true);
        })
        .await;
        drop(self.core);
        sender.abort();
        fetcher.abort();
        let _ = fetcher.await;
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        Ok(())
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
    let token_key: Arc<[u8]> = match store.setting("desktop_token_key")? {
        Some(k) => Arc::from(k.into_bytes()),
        None => {
            let k = format!("{}{}", ids::new_secret(), ids::new_secret());
            store.commit(&Batch {
                settings: vec![("desktop_token_key".into(), k.clone())],
                ..Default::default()
            })?;
            Arc::from(k.into_bytes())
        }
    };
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let base = config
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| {
            format!(
                "http://{}",
                listener.local_addr().map_or(config.listen, |a| a)
            )
        });
    let (tx, rx) = tokio::sync::mpsc::channel(events::WEBHOOK_QUEUE);
    let (fetch_tx, fetch_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut core = tokio::task::block_in_place(|| Core::open(store, credentials.clone(), Some(tx)))
        .map_err(StartError::Replay)?;
    core.fetches = Some(fetch_tx);
    core.public_url = base;
    let (handle, thread) = core::spawn(core)?;
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
        fetches: fetch_rx,
        token_key,
        config,
    })
}
