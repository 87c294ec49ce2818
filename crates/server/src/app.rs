//! What every HTTP handler can reach: the driver, the readers, the credentials and the settings
//! of this server.

use std::sync::{Arc, RwLock};

use switchboard_sid::{Account, Sid};

use crate::clock::Clock;
use crate::config::Limits;
use crate::credentials::Credentials;
use crate::driver::CoreHandle;
use crate::reader::Readers;

/// What every handler can reach.
#[derive(Clone)]
pub struct App {
    /// The core thread.
    pub core: CoreHandle,
    /// The credentials (read here for authentication, written by the core).
    pub credentials: Arc<RwLock<Credentials>>,
    /// The account SID.
    pub account: Sid<Account>,
    /// The public base URL, when configured (else taken from each request's Host header).
    pub public_url: Option<String>,
    /// The key that signs desktop access tokens.
    pub token_key: Arc<[u8]>,
    /// The workflow the built-in enqueue function uses (else the one named "Internal Call").
    pub internal_call_workflow: Option<String>,
    /// Demo mode: agents may sign in without credentials.
    pub demo: bool,
    /// How long a call to a queue waits for an agent before the caller is told nobody answered.
    pub queue_call_timeout: std::time::Duration,
    /// Becomes true when the server shuts down (desktop sessions close then).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Limits on requests (sizes, time).
    pub limits: Limits,
    /// Read-only connections for slow reads, off the core thread (none for a database in
    /// memory).
    pub readers: Option<Readers>,
    /// Where the server takes its time from.
    pub clock: Clock,
    /// The audio relay, when the server relays audio.
    pub relay: Option<switchboard_media::io::RelayHandle>,
}

impl App {
    /// Runs a read that may be slow off the core thread when the database allows it.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn switchboard_store::Reads) -> R + Send + 'static,
    ) -> Result<R, crate::http::ApiError> {
        crate::reader::read(self.readers.as_ref(), &self.core, f).await
    }
}

impl crate::http::Site for App {
    fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    fn account(&self) -> Sid<Account> {
        self.account
    }
}
