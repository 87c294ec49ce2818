//! What a node is: how it takes part in a cluster ([`ClusterConfig`]), what it is right now
//! ([`Role`]), and what its front and its lease loop share.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

use crate::driver::CoreHandle;

/// The name of the lease row of the server state.
pub const LEASE_NAME: &str = "switchboard";

/// What a node that has just become the owner hands its [`OwnerHook`].
#[derive(Clone)]
pub struct OwnerStart {
    /// The owner's core.
    pub core: CoreHandle,
    /// The account SID and auth token this start created and stored, because neither the
    /// configuration nor the database had any. Shown to the administrator once: no later start,
    /// on this node or another, creates them again.
    pub created_credentials: Option<(String, String)>,
}

/// Runs when a node has taken the lease and its server is ready, before it serves (the command
/// line prints created credentials here, and the demo seeds its workspace).
pub type OwnerHook =
    Arc<dyn Fn(OwnerStart) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// How a node takes part in a cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// This node's id: unique among the nodes (`--node-id`).
    pub node_id: String,
    /// Where the other nodes reach this node's public address (`--advertise-url`).
    pub advertise_url: String,
    /// How long a lease lasts without renewal (`--lease-ms`; 3 s by default).
    pub lease: Duration,
    /// How long a request waits for an owner before it is answered 503.
    pub takeover_wait: Duration,
}

impl ClusterConfig {
    /// A node with the default lease (3 s; requests wait up to 10 s for an owner).
    pub fn new(node_id: impl Into<String>, advertise_url: impl Into<String>) -> ClusterConfig {
        ClusterConfig {
            node_id: node_id.into(),
            advertise_url: advertise_url.into().trim_end_matches('/').to_owned(),
            lease: Duration::from_secs(3),
            takeover_wait: Duration::from_secs(10),
        }
    }

    /// How often the lease is tried or renewed.
    pub fn beat(&self) -> Duration {
        self.lease / 3
    }
}

/// What a node is right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Nobody is known to own the state (starting, or a takeover under way).
    Electing,
    /// This node owns the state: its server listens on `internal`; it may serve until
    /// `valid_until` (its monotonic clock) unless it renews the lease.
    Owner {
        /// The loopback address of this node's own server.
        internal: SocketAddr,
        /// The fencing token of this term.
        token: i64,
        /// Until when this node may serve.
        valid_until: Instant,
    },
    /// Another node owns the state.
    Follower {
        /// Its node id.
        holder: String,
        /// Its advertised URL.
        url: String,
        /// Its token.
        token: i64,
    },
}

/// What the front and the lease loop share.
pub(crate) struct Shared {
    pub(crate) config: ClusterConfig,
    pub(crate) role: watch::Sender<Role>,
    /// Asks the lease loop to look at the lease now (a forward found the owner unreachable).
    pub(crate) poke: Notify,
}
