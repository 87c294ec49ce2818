//! Several nodes on one PostgreSQL database: any node answers any request, one node at a time
//! owns the state.
//!
//! The unit of ownership is the whole server state (every workspace of the account lives in
//! one [`Center`](switchboard_center::Center)): one owner at a time for the account's state.
//! It is held through a lease in PostgreSQL with a fencing token
//! ([`switchboard_store::PostgresLease`]); the owner's store is a fenced writer bound to that
//! token, so a former owner that was paused or cut off can never write once another node took
//! the lease ([`switchboard_store::StoreError::Fenced`]).
//!
//! Every node runs a *front* on its public address ([`forward`]): a thin router that sends each
//! request, desktop WebSockets included, to the node that owns the state: to its own server
//! (bound on a loopback port of its own) when it is the owner, else to the owner's advertised
//! URL as the lease row names it. While nobody owns the state (a takeover), requests wait up to
//! [`ClusterConfig::takeover_wait`] for an owner instead of failing.
//!
//! The lease ([`lease`]): a node that does not hold it tries to take it every `lease / 3`; the
//! owner renews it as often, and stops serving as soon as it could not renew for `lease × 0.8`
//! by its own monotonic clock (before the lease can expire by the database's), or when its
//! store refused a commit. When it takes the lease, a node opens the fenced writer, rebuilds
//! the state from the log (the usual start: calls do not survive, so their tasks are ended,
//! assigned ones to wrapping) and serves. Media (UDP) is not forwarded: a desktop's SDP answer
//! names the owner's relay, so its audio goes straight to the owner, and calls in progress on
//! an owner that dies end with it.

pub mod forward;
pub mod lease;
mod node;

pub use node::{ClusterConfig, OwnerHook, OwnerStart, Role, LEASE_NAME};

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{watch, Notify};

use crate::{Config, StartError};
use node::Shared;

/// Runs a cluster node until `shutdown` completes: the front on `config.listen`, and the lease
/// loop that makes this node the owner or a follower. `config.database` must be a PostgreSQL
/// URL; `config.public_url` (the URL clients use, a load balancer's) defaults to the node's
/// advertised URL.
pub async fn run(
    config: Config,
    cluster: ClusterConfig,
    on_owner: Option<OwnerHook>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    if !switchboard_store::is_postgres(&config.database) {
        return Err(StartError::Store(switchboard_store::StoreError::NoLeases));
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(
        node = cluster.node_id,
        listen = %listener.local_addr().map_or(config.listen, |a| a),
        advertised = cluster.advertise_url,
        "cluster node started"
    );
    let (role, _) = watch::channel(Role::Electing);
    let shared = Arc::new(Shared {
        config: cluster,
        role,
        poke: Notify::new(),
    });
    let (down_tx, down_rx) = watch::channel(false);
    let front = tokio::spawn(forward::serve(
        listener,
        shared.clone(),
        config.limits.clone(),
        down_rx.clone(),
    ));
    let terms = tokio::spawn(lease::run(shared.clone(), config, on_owner, down_rx));
    shutdown.await;
    tracing::info!("cluster node stopping");
    let _ = down_tx.send(true);
    let _ = terms.await;
    let _ = front.await;
    Ok(())
}
