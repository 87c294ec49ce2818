//! The lease loop: follower beats (try the lease, else learn who holds it) and owner terms
//! (open the fenced writer, rebuild, serve, renew; stop serving the moment the lease cannot be
//! kept).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_store::{Fence, Lease, PostgresLease, PostgresStore, StoreError};
use tokio::sync::watch;

use super::node::{OwnerHook, OwnerStart, Role, Shared, LEASE_NAME};
use crate::Config;

/// Runs `f` on the lease (a blocking call) off the async threads, and gives the lease back.
async fn on_lease<R: Send + 'static>(
    lease: Box<PostgresLease>,
    f: impl FnOnce(&mut PostgresLease) -> R + Send + 'static,
) -> Option<(Box<PostgresLease>, R)> {
    tokio::task::spawn_blocking(move || {
        let mut lease = lease;
        let r = f(&mut lease);
        (lease, r)
    })
    .await
    .ok()
}

/// Sleeps one beat, or less when poked; `true` when the node is stopping.
async fn pause(shared: &Shared, down: &mut watch::Receiver<bool>, beat: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(beat) => {}
        () = shared.poke.notified() => {}
        _ = down.changed() => {}
    }
    *down.borrow()
}

/// The loop of a node: until it stops, be a follower or serve a term as the owner.
pub(crate) async fn run(
    shared: Arc<Shared>,
    config: Config,
    on_owner: Option<OwnerHook>,
    mut down: watch::Receiver<bool>,
) {
    let c = shared.config.clone();
    let beat = c.beat();
    let mut lease: Option<Box<PostgresLease>> = None;
    loop {
        if *down.borrow() {
            break;
        }
        let Some(l) = lease.take() else {
            let (url, id, adv) = (
                config.database.clone(),
                c.node_id.clone(),
                c.advertise_url.clone(),
            );
            match tokio::task::spawn_blocking(move || {
                PostgresLease::open(&url, LEASE_NAME, &id, &adv)
            })
            .await
            {
                Ok(Ok(l)) => lease = Some(Box::new(l)),
                Ok(Err(e)) => tracing::warn!("cannot reach the lease: {e}"),
                Err(e) => tracing::warn!("the lease's thread failed: {e}"),
            }
            if lease.is_none() && pause(&shared, &mut down, beat).await {
                break;
            }
            continue;
        };
        let sent = Instant::now();
        let ttl = c.lease;
        let Some((l, tried)) = on_lease(l, move |l| {
            let token = l.acquire(ttl)?;
            let holder = match token {
                Some(_) => None,
                None => Some(l.holder()?),
            };
            Ok::<_, StoreError>((token, holder))
        })
        .await
        else {
            continue;
        };
        lease = Some(l);
        match tried {
            Ok((Some(token), _)) => {
                let l = lease.take();
                lease = term(
                    &shared,
                    &config,
                    on_owner.as_ref(),
                    l,
                    token,
                    sent,
                    &mut down,
                )
                .await;
                continue;
            }
            Ok((None, Some(h))) => {
                let role = if h.live && h.holder != c.node_id {
                    Role::Follower {
                        holder: h.holder,
                        url: h.url,
                        token: h.token,
                    }
                } else {
                    Role::Electing
                };
                shared.role.send_if_modified(|r| {
                    let changed = *r != role;
                    if changed {
                        tracing::info!(?role, "following");
                        *r = role;
                    }
                    changed
                });
            }
            Ok((None, None)) => {}
            Err(e) => {
                // The database is unreachable: keep following the owner we know (it may well be
                // serving); a forward that fails waits for news.
                tracing::warn!("cannot read the lease: {e}");
            }
        }
        if pause(&shared, &mut down, beat).await {
            break;
        }
    }
    shared.role.send_replace(Role::Electing);
}

/// Why a term ended.
#[derive(Debug)]
enum End {
    /// Another node has the lease, or it could not be renewed in time.
    Lost,
    /// The server cannot store changes (a failed commit): hand over.
    Unhealthy,
    /// The node is stopping.
    Stopping,
}

/// One term as the owner, from taking the lease with `token` (asked for at `sent`) until it is
/// lost, the server fails or the node stops. Gives the lease connection back.
async fn term(
    shared: &Shared,
    config: &Config,
    on_owner: Option<&OwnerHook>,
    lease: Option<Box<PostgresLease>>,
    token: i64,
    sent: Instant,
    down: &mut watch::Receiver<bool>,
) -> Option<Box<PostgresLease>> {
    let lease = lease?;
    let c = &shared.config;
    // The database's expiry is at least `lease` after `sent`; stop well before it.
    let margin = c.lease / 5;
    let mut valid_until = sent + c.lease - margin;
    let started = Instant::now();
    tracing::info!(
        token,
        node = c.node_id,
        "took the lease: starting as the owner"
    );
    let prepared = match start(config, c, token).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(token, "cannot serve as the owner: {e}");
            let (l, _) = on_lease(lease, move |l| l.release(token)).await?;
            return Some(l);
        }
    };
    let internal = match prepared.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("the owner's server has no address: {e}");
            let (l, _) = on_lease(lease, move |l| l.release(token)).await?;
            return Some(l);
        }
    };
    let core = prepared.core.clone();
    if let Some(hook) = on_owner {
        hook(OwnerStart {
            core: core.clone(),
            created_credentials: prepared.credentials_created.then(|| {
                (
                    prepared.account_sid.to_string(),
                    prepared.auth_token.clone(),
                )
            }),
        })
        .await;
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(prepared.serve(async move {
        let _ = stop_rx.await;
    }));
    set_owner(shared, internal, token, valid_until);
    tracing::info!(
        token,
        ready_ms = started.elapsed().as_millis() as u64,
        "serving as the owner"
    );
    let beat = c.beat();
    let ttl = c.lease;
    let mut lease = Some(lease);
    let end = loop {
        tokio::select! {
            () = tokio::time::sleep(beat) => {}
            _ = down.changed() => {}
        }
        if *down.borrow() {
            break End::Stopping;
        }
        if Instant::now() >= valid_until {
            break End::Lost;
        }
        let sent = Instant::now();
        let Some(l) = lease.take() else {
            break End::Lost;
        };
        let Some((l, renewed)) = on_lease(l, move |l| l.renew(token, ttl)).await else {
            // The lease's thread failed: stop serving now (a new connection is made later).
            break End::Lost;
        };
        lease = Some(l);
        match renewed {
            Ok(true) => {
                valid_until = sent + ttl - margin;
                set_owner(shared, internal, token, valid_until);
            }
            Ok(false) => {
                tracing::warn!(token, "the lease has passed to another node");
                break End::Lost;
            }
            Err(e) => tracing::warn!(token, "cannot renew the lease: {e}"),
        }
        if Instant::now() >= valid_until {
            tracing::warn!(token, "the lease could not be renewed in time");
            break End::Lost;
        }
        let health = tokio::time::timeout(beat, core.run(|d| d.healthy())).await;
        if let Ok(Ok(Err(why))) = health {
            tracing::error!(
                token,
                "the owner cannot store changes ({why}): handing over"
            );
            break End::Unhealthy;
        }
    };
    // From here on nothing new reaches this server; what is in flight finishes (or is fenced).
    shared.role.send_replace(Role::Electing);
    let _ = stop_tx.send(());
    if tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .is_err()
    {
        tracing::warn!("the owner's server did not stop within 10 s");
    }
    tracing::info!(token, why = ?end, "the term is over");
    let lease = lease?;
    if matches!(end, End::Unhealthy | End::Stopping) {
        let (l, released) = on_lease(lease, move |l| l.release(token)).await?;
        if let Err(e) = released {
            tracing::warn!("cannot release the lease (it expires on its own): {e}");
        }
        return Some(l);
    }
    Some(lease)
}

fn set_owner(shared: &Shared, internal: SocketAddr, token: i64, valid_until: Instant) {
    shared.role.send_replace(Role::Owner {
        internal,
        token,
        valid_until,
    });
}

/// The owner's server: the fenced writer, the state rebuilt from the log, a loopback listener.
async fn start(
    config: &Config,
    c: &super::ClusterConfig,
    token: i64,
) -> Result<crate::Prepared, crate::StartError> {
    let url = config.database.clone();
    let store = tokio::task::spawn_blocking(move || {
        PostgresStore::open_fenced(
            &url,
            Fence {
                lease: LEASE_NAME.into(),
                token,
            },
        )
    })
    .await
    .map_err(|e| crate::StartError::Replay(format!("opening the store: {e}")))??;
    let mut config = config.clone();
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    // An owner that cannot store changes hands over to another node (below) rather than
    // recovering in place.
    config.limits.recovery = None;
    if config.public_url.is_none() {
        config.public_url = Some(c.advertise_url.clone());
    }
    crate::prepare_with_store(config, Box::new(store)).await
}
