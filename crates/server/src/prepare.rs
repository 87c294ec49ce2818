//! Starting a server: open the store and replay the log through a fresh core, start the audio
//! relay, the recorder, the webhook sender and the TwiML fetcher, then serve HTTP until told to
//! stop ([`prepare`], [`Prepared::serve`]). A cluster node runs the same start for each of its
//! terms as the owner (`cluster::lease`).

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use switchboard_sid::{Account, Sid};
use switchboard_store::Batch;

use crate::config::Config;
use crate::credentials::Credentials;
use crate::driver::{CoreHandle, Driver, Outlets};
use crate::reader::Readers;
use crate::{api, app, conn, driver, events, fetcher, ids, recordings};

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
    /// The audio relay.
    #[error("{0}")]
    Media(#[from] switchboard_media::io::RelayError),
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
    readers: Option<Readers>,
    relay: Option<switchboard_media::io::Relay>,
    webhooks: tokio::sync::mpsc::Receiver<events::Delivery>,
    fetches: tokio::sync::mpsc::UnboundedReceiver<driver::FetchJob>,
    token_key: Arc<[u8]>,
    config: Config,
    recordings: Arc<recordings::Recordings>,
}

impl Prepared {
    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where the audio relay receives (bound, advertised), when it runs.
    pub fn media_addrs(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.relay.as_ref().map(|r| {
            let h = r.handle();
            (h.local_addr(), h.advertised())
        })
    }

    /// Whether the audio relay offers browsers its UDP socket.
    pub fn media_offers_udp(&self) -> bool {
        self.relay.as_ref().is_some_and(|r| r.handle().offers_udp())
    }

    /// Where the audio relay's ICE-TCP listener accepts (bound, advertised), when it has one.
    pub fn media_tcp_addrs(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.relay.as_ref().and_then(|r| r.handle().tcp_addrs())
    }

    /// The recordings service (for the `Record` options of conferences and TwiML).
    pub fn recordings(&self) -> Arc<recordings::Recordings> {
        self.recordings.clone()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and stops.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // Long-lived connections (desktop WebSockets) close when this turns true; without it a
        // graceful shutdown would wait for every agent to leave.
        let (down_tx, down_rx) = tokio::sync::watch::channel(false);
        let app = app::App {
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
            readers: self.readers.clone(),
            clock: self.config.clock.clone(),
            relay: self
                .relay
                .as_ref()
                .map(switchboard_media::io::Relay::handle),
        };
        let relay = self
            .relay
            .map(|r| tokio::spawn(media_events(r, self.core.clone())));
        let fetcher = tokio::spawn(fetcher::fetcher(
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
        let recorder = tokio::spawn(self.recordings.clone().run(self.core.clone()));
        let router = api::router(app).layer(axum::Extension(self.recordings.clone()));
        conn::serve(self.listener, router, &self.config.limits, async move {
            shutdown.await;
            let _ = down_tx.send(true);
        })
        .await;
        recorder.abort();
        let _ = recorder.await;
        // Every running recording is finished (file and sidecar) before the relay stops.
        self.recordings.stop_all().await;
        let _ = self.core.run(|d| d.stop()).await;
        drop(self.core);
        if let Some(relay) = relay {
            relay.abort();
            let _ = relay.await;
        }
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
    let store = switchboard_store::open(&config.database)?;
    prepare_with_store(config, store).await
}

/// [`prepare`] on a store opened already (a cluster node's fenced writer); `config.database`
/// still names the database, for the readers beside it.
pub async fn prepare_with_store(
    config: Config,
    mut store: Box<dyn switchboard_store::Store>,
) -> Result<Prepared, StartError> {
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
    let relay = match &config.media {
        Some(m) => {
            let mut rc = switchboard_media::io::RelayConfig::new(m.listen);
            rc.advertised = m.advertised;
            rc.udp = m.udp;
            rc.tcp = m.tcp;
            rc.shortcut = m.shortcut;
            Some(switchboard_media::io::Relay::spawn(rc)?)
        }
        None => None,
    };
    let media = switchboard_center::protocol::MediaSettings {
        enabled: relay.is_some(),
        ice_servers: config
            .media
            .as_ref()
            .map(|m| m.ice_servers.clone())
            .unwrap_or_default(),
    };
    let recordings = tokio::task::block_in_place(|| {
        recordings::Recordings::open(
            config
                .media
                .as_ref()
                .and_then(|m| m.data_dir.clone())
                .unwrap_or_else(|| recordings::data_dir(&config.database)),
            relay.as_ref().map(switchboard_media::io::Relay::handle),
            Some(tx.clone()),
            config.clock.clone(),
            account_sid,
            base.clone(),
        )
    })?;
    let outlets = Outlets {
        webhooks: Some(tx),
        fetches: Some(fetch_tx),
        relay: relay.as_ref().map(switchboard_media::io::Relay::handle),
        calls_changed: Some(recordings.changed()),
    };
    let clock = config.clock.clone();
    let driver = tokio::task::block_in_place(|| {
        Driver::open(
            store,
            credentials.clone(),
            clock,
            ids::random_u128(),
            outlets,
            base,
            media,
        )
    })
    .map_err(StartError::Replay)?;
    let mut driver = driver;
    driver.set_retention(config.limits.retention);
    driver.set_snapshots(config.limits.snapshots);
    driver.set_recovery(config.limits.recovery, crate::config::RECOVERY_MAX);
    let readers = Readers::open(&config.database)?;
    let (handle, thread) = driver::spawn(driver)?;
    Ok(Prepared {
        core: handle,
        account_sid,
        auth_token,
        credentials_created: created,
        credentials,
        thread,
        listener,
        public_url: config.public_url.clone(),
        readers,
        relay,
        webhooks: rx,
        fetches: fetch_rx,
        token_key,
        config,
        recordings: Arc::new(recordings),
    })
}

/// Hands the relay's reports to the center, until the server stops (the relay stops with it).
async fn media_events(mut relay: switchboard_media::io::Relay, core: CoreHandle) {
    use switchboard_center::media::{MediaEvent as Event, MediaPeer};
    use switchboard_media::MediaEvent;
    while let Some(e) = relay.events().recv().await {
        let (peer, event) = match e {
            MediaEvent::Connected(p) => (p, Event::Connected),
            MediaEvent::Disconnected { peer, why } if !why.is_final() => (peer, Event::Lost),
            MediaEvent::Disconnected { peer, why } => (peer, Event::Gone(describe(&why))),
            MediaEvent::StoppedSending(p) => (p, Event::NotSending),
            MediaEvent::ResumedSending(p) => (p, Event::Sending),
            // Recorded audio goes to the recorder thread inside the relay, never here.
            MediaEvent::RecordingAudio { .. } => continue,
        };
        let input = switchboard_center::Input::Media(switchboard_center::MediaInput::Event {
            peer: MediaPeer(peer.0),
            event,
        });
        if core.run(move |d| d.handle(input)).await.is_err() {
            break;
        }
    }
    let _ = tokio::task::spawn_blocking(move || relay.shutdown()).await;
}

fn describe(why: &switchboard_media::Disconnect) -> String {
    match why {
        switchboard_media::Disconnect::IceLost => "the connection was lost".into(),
        switchboard_media::Disconnect::Closed => "the connection was closed".into(),
        switchboard_media::Disconnect::NeverConnected => {
            "the browser never reached the server's media port (blocked UDP? configure a TURN server)".into()
        }
        switchboard_media::Disconnect::Failed(e) => format!("the connection failed: {e}"),
    }
}
