//! The driver: the one thread that owns the [`Center`] and the store, and carries out what the
//! center asks for. It is the only place that reads the clock for the center, writes the log,
//! and hands work to the webhook sender, the TwiML fetcher and the desktop sockets.
//!
//! HTTP handlers reach it through [`CoreHandle::run`]: a closure runs on the driver's thread
//! with `&mut Driver` and its answer comes back. Reads look at [`Driver::center`]; changes go
//! through [`Driver::handle`], which follows the center's drain contract: feed the input, take
//! every output, commit the [`Output::Persist`] first (one transaction), and only then act on
//! the rest. Between jobs the thread sleeps until the center's next deadline.
//!
//! # Group commit
//!
//! The thread takes every job waiting in its queue, up to [`GROUP_INPUTS`] jobs or
//! [`GROUP_BYTES`] of encoded changes, as one group ([`spawn`]). Each job runs against the
//! center in order, as alone; but inside a group the [`Output::Persist`] batches are only
//! collected, the other outputs are set aside, and every answer waits. Then the whole group is
//! committed in one store transaction (one fsync for all its changes), and only then are each
//! job's outputs acted on and its caller answered, in order ([`Driver::flush`]). Memory runs
//! ahead of the disk meanwhile, which the drain contract allows, since nobody sees the effect of
//! a change before it is stored: no reply, no webhook, no desktop push. If the group's commit
//! fails, nobody in it is answered with success (each gets "could not be stored") and the driver
//! stops accepting changes, as below.
//!
//! The commit itself runs on a thread of its own (`switchboard-commit`): the store goes there
//! with the group's batch and comes back with the result, while the core thread collects and
//! applies the next group, taking every job that comes until that commit is back. Memory is then
//! ahead of the disk by up to two groups; the next group is settled (acted on, answered) only
//! after the one before it, and if a commit fails, the group collected meanwhile (built on top of
//! it) is lost with it: nobody in either is acknowledged.
//!
//! Anything that needs the store itself (snapshots, pruning) waits for the commit in flight
//! first. A job that reads the store ([`Driver::store`]) first commits and answers what the group
//! holds so far, so the store it reads agrees with the center. A job that finds nothing
//! uncommitted (nothing in its group before it, no commit in flight) is answered at once, so
//! reads between changes never wait for a commit.
//!
//! Start-up loads the newest snapshot the store keeps, restores the center from it and replays
//! only the log entries after it ([`Driver::open`]); between jobs the driver snapshots the state
//! again when [`SnapshotPolicy`] says so, and then deletes the log entries every kept snapshot
//! covers, a small batch at a time ([`Driver::snapshot_if_due`]).
//!
//! # When the store refuses a commit
//!
//! If a commit fails (a full disk, a database gone away), memory is ahead of the disk: the driver
//! refuses every further change (and `/readyz` says not ready), closes the desktops' sessions and
//! answers reads from what it holds. A panic inside a job does the same. Then, every so often
//! (see [`Driver::set_recovery`]; the wait doubles after each failed try), it tries whether the
//! store takes a write again; once one goes through, it rebuilds the center from the store
//! exactly as a restart would, numbering what is transient after the old center (so a late
//! answer for one of its webhooks, sessions or audio peers reaches nothing of the new one), and
//! accepts changes again: nothing acknowledged is lost, nothing unacknowledged appears, and the
//! desktops sign in again by themselves. Without recovery (a cluster node, which hands over to
//! another instead) it refuses changes until restarted.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use switchboard_center::media::MediaSource;
use switchboard_center::protocol::{CloseReason, DesktopState, ServerMessage};
use switchboard_center::snapshot::{Snapshot, SNAPSHOT_FORMAT};
use switchboard_center::{Center, CenterConfig, Entry, Input, Output, Reply, SessionId};
use switchboard_routing::Timestamp;
use switchboard_sid::{Sid, Worker, Workspace as WorkspaceKind};
use switchboard_store::{Batch, LogEntry, SnapshotInfo, Store, StoreError};
use switchboard_twiml::Method;
use tokio::sync::{oneshot, watch};

use crate::config::SnapshotPolicy;
use crate::credentials::Credentials;
use crate::events::{self, Delivery};
use crate::http::ApiError;

pub use crate::clock::Clock;

/// Where a desktop session's messages go: its latest state (a slow browser skips to the
/// newest, never queues) and the few other messages the center sends it.
#[derive(Debug)]
pub struct SessionSink {
    /// The latest state.
    pub state: watch::Sender<Option<Arc<DesktopState>>>,
    /// Other messages (token expiring, closed); bounded, newest dropped when full.
    pub messages: tokio::sync::mpsc::Sender<ServerMessage>,
}

/// How many non-state messages may wait for one desktop.
pub const SESSION_MESSAGES: usize = 16;

/// Jobs in one group at most (see [Group commit](self#group-commit)): a job arriving behind a
/// full group waits for that group and its own, never longer.
pub const GROUP_INPUTS: usize = 512;

/// Bytes of encoded changes (log entries, events, finished tasks) after which a group takes no
/// more jobs, so one commit stays short even when each change is large.
pub const GROUP_BYTES: usize = 4 << 20;

/// How often the core thread looks whether the commit in flight is back, while it takes jobs
/// into the next group.
const COMMIT_POLL: Duration = Duration::from_millis(1);

/// The setting a recovery try writes (the time of the try), to see whether the store takes
/// writes again.
const RECOVERY_PROBE: &str = "write_probe_ms";

/// How often the driver reports, at debug level, how many commits it made and how many jobs they
/// carried.
const GROUP_REPORT_EVERY: Duration = Duration::from_secs(10);

/// How a job's caller is answered once its group is stored: `Ok` when it is, or the error every
/// job of a group that could not be stored gets.
type Answer = Box<dyn FnOnce(Result<(), ApiError>) + Send>;

/// The jobs of one group and what they changed, not committed yet.
#[derive(Default)]
struct Group {
    /// Every Persist batch of the group, in order, as one.
    batch: Batch,
    /// The other outputs, in order, to act on once `batch` is stored.
    outputs: Vec<Output>,
    /// The callers to answer, each after the outputs before `.0` are acted on.
    answers: Vec<(usize, Answer)>,
    /// Jobs run in this group.
    jobs: usize,
    /// Encoded bytes in `batch`.
    bytes: usize,
    /// Whether it changed anything (its batch may have gone to the committer).
    changed: bool,
}

impl Group {
    /// Whether nothing in it waits for a commit.
    fn is_idle(&self) -> bool {
        self.batch.is_empty() && self.outputs.is_empty() && self.answers.is_empty()
    }
}

/// Commits made and jobs they carried, since the last report.
#[derive(Default)]
struct GroupCounts {
    commits: u64,
    jobs: u64,
    log_entries: u64,
    largest: usize,
    /// Time spent inside the store's commits (writing the rows, then the WAL's fsync).
    commit_time: Duration,
    since: Option<Instant>,
}

/// What the driver hands work to.
#[derive(Debug, Default)]
pub struct Outlets {
    /// Event webhooks (bounded; when full, the event is stored but not posted).
    pub webhooks: Option<tokio::sync::mpsc::Sender<Delivery>>,
    /// TwiML fetches for the voice layer.
    pub fetches: Option<tokio::sync::mpsc::UnboundedSender<FetchJob>>,
    /// The audio relay.
    pub relay: Option<switchboard_media::io::RelayHandle>,
    /// Told whenever the calls' media graph changed (the recorder follows it).
    pub calls_changed: Option<Arc<tokio::sync::Notify>>,
}

/// A webhook for the fetcher to request.
#[derive(Debug, Clone)]
pub struct FetchJob {
    /// The voice layer's request id.
    pub id: u64,
    /// Where.
    pub url: String,
    /// How.
    pub method: Method,
    /// Form parameters.
    pub params: Vec<(String, String)>,
}

/// The state the driver thread owns.
pub struct Driver {
    center: Center,
    /// Away (`None`) while the committer thread commits a group ([`Driver::settle`] brings it
    /// back).
    store: Option<Box<dyn Store>>,
    clock: Clock,
    last_now: i64,
    failed: Option<String>,
    credentials: Arc<RwLock<Credentials>>,
    outlets: Outlets,
    sinks: BTreeMap<SessionId, SessionSink>,
    /// The server's own base URL (for the built-in functions).
    pub public_url: String,
    stopping: bool,
    retention: Option<Retention>,
    snapshots: Snapshots,
    /// The group being collected (`None`: every change is committed as it is drained).
    group: Option<Group>,
    /// The group whose batch the committer thread is committing (its outputs and answers wait).
    in_flight: Option<Group>,
    /// The thread that commits a group while the next one is collected ([`spawn`] starts it).
    committer: Option<Committer>,
    counts: GroupCounts,
    /// What the center was made with: a recovery rebuilds it with the same.
    config: CenterConfig,
    recovery: Recovery,
}

/// Trying a store that refused a commit again, until it takes writes.
struct Recovery {
    /// The first wait after a failure (`None`: no tries; changes are refused until restarted).
    first: Option<Duration>,
    /// The longest wait between tries.
    max: Duration,
    /// The wait before the next try.
    wait: Duration,
    /// When the next try is due, by the server's clock.
    next_at_ms: i64,
    /// Tries since the failure.
    tries: u32,
    /// Whether the store is still there to try (not when the committer thread lost it).
    possible: bool,
}

impl Recovery {
    fn off() -> Recovery {
        Recovery {
            first: None,
            max: Duration::ZERO,
            wait: Duration::ZERO,
            next_at_ms: i64::MAX,
            tries: 0,
            possible: true,
        }
    }

    /// Whether a try will be made.
    fn on(&self) -> bool {
        self.first.is_some() && self.possible
    }

    /// A failure happened at `now`: the first try is due after the first wait.
    fn failed_at(&mut self, now: i64) {
        let Some(first) = self.first else {
            return;
        };
        self.wait = first;
        self.tries = 0;
        self.next_at_ms = now.saturating_add(millis(first));
    }

    /// A try at `now` did not get through: the next after twice the wait (at most `max`).
    fn retry_later(&mut self, now: i64) {
        self.tries += 1;
        self.wait = (self.wait * 2).min(self.max);
        self.next_at_ms = now.saturating_add(millis(self.wait));
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What the committer thread is handed: the store and a group's batch.
type ToCommit = (Box<dyn Store>, Batch);

/// What it hands back: the store, the batch, the `seq` of its first entry or why not, and how
/// long the commit took.
type Committed = (Box<dyn Store>, Batch, Result<i64, String>, Duration);

/// The thread that commits one group's batch at a time, so that the core thread collects (and
/// applies) the next group meanwhile: the store goes to it with the batch and comes back with
/// the result. Memory is then ahead of the disk by up to two groups; nothing of either is seen
/// before it is stored.
struct Committer {
    tx: Option<mpsc::Sender<ToCommit>>,
    done: mpsc::Receiver<Committed>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Stands in for the store if the committer thread ever failed to hand it back (the driver
    /// is poisoned then: it only serves reads of what it holds in memory).
    stand_in: Option<Box<dyn Store>>,
}

impl Committer {
    fn spawn() -> std::io::Result<Committer> {
        let stand_in = switchboard_store::SqliteStore::open_in_memory()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let (tx, rx) = mpsc::channel::<ToCommit>();
        let (done_tx, done) = mpsc::channel::<Committed>();
        let thread = std::thread::Builder::new()
            .name("switchboard-commit".into())
            .spawn(move || {
                for (mut store, batch) in rx {
                    let started = Instant::now();
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        store.commit(&batch)
                    }));
                    let result = match result {
                        Ok(Ok(first)) => Ok(first),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("the commit panicked".to_owned()),
                    };
                    let took = started.elapsed();
                    if done_tx.send((store, batch, result, took)).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Committer {
            tx: Some(tx),
            done,
            thread: Some(thread),
            stand_in: Some(Box::new(stand_in)),
        })
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Log entries deleted per store call once a snapshot covers them: a short transaction, so a
/// change waits for at most one.
pub const LOG_PRUNE_BATCH: usize = 2_000;

/// How long the driver waits before it tries again after a snapshot could not be stored.
pub const SNAPSHOT_RETRY: Duration = Duration::from_secs(60);

/// Where the log and the snapshots stand.
struct Snapshots {
    policy: SnapshotPolicy,
    /// The `seq` of the last log entry committed (or replayed).
    last_seq: i64,
    /// The `seq` the state was last snapshotted at (or restored from; 0: never).
    taken_seq: i64,
    /// The newest snapshot the store keeps (a new one must be past it).
    stored_seq: i64,
    /// When the last snapshot was taken (or the driver opened), by the server's clock.
    taken_at_ms: i64,
    /// No snapshot is tried before this (after a failure).
    retry_at_ms: i64,
    /// Whether log entries covered by every kept snapshot may be left to delete.
    prune_pending: bool,
}

/// What a start rebuilt the state from.
struct Rebuilt {
    center: Center,
    /// The snapshot's `seq` (0: none, the whole log).
    from_seq: i64,
    /// The newest snapshot stored (0: none).
    stored_seq: i64,
    /// The last `seq` replayed (or the snapshot's).
    last_seq: i64,
    /// Whether a snapshot was passed over as unusable.
    passed_over: bool,
}

/// Rows pruned per store call: a short transaction, so a change waits for at most one.
pub const PRUNE_BATCH: usize = 1_000;

/// How often retention looks for old rows once none are left.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(300);

/// When old events and finished tasks are deleted, by the server's clock.
struct Retention {
    window_ms: i64,
    next_at_ms: i64,
}

impl Driver {
    /// Opens the driver over a store: replays the log through a fresh center, then starts it
    /// (which ends the tasks of calls that did not survive and fires what fell due).
    pub fn open(
        mut store: Box<dyn Store>,
        credentials: Arc<RwLock<Credentials>>,
        clock: Clock,
        seed: u128,
        outlets: Outlets,
        public_url: String,
        media: switchboard_center::protocol::MediaSettings,
    ) -> Result<Driver, String> {
        let account = read(&credentials).account_sid;
        let config = CenterConfig {
            account,
            seed,
            media,
        };
        let rebuilt = rebuild(store.as_mut(), &config)?;
        let mut driver = Driver {
            center: rebuilt.center,
            store: Some(store),
            clock,
            last_now: i64::MIN,
            failed: None,
            credentials,
            outlets,
            sinks: BTreeMap::new(),
            public_url,
            stopping: false,
            retention: None,
            snapshots: Snapshots {
                policy: SnapshotPolicy::never(),
                last_seq: rebuilt.last_seq,
                taken_seq: rebuilt.from_seq,
                stored_seq: rebuilt.stored_seq,
                taken_at_ms: 0,
                retry_at_ms: i64::MIN,
                // A crash may have come between a snapshot and the pruning after it. Not after
                // passing over a snapshot, though: the log it would delete is what this start
                // needed; it waits for a new snapshot.
                prune_pending: rebuilt.stored_seq > 0 && !rebuilt.passed_over,
            },
            group: None,
            in_flight: None,
            committer: None,
            counts: GroupCounts::default(),
            config,
            recovery: Recovery::off(),
        };
        driver.refresh_keys();
        let now = driver.now();
        driver.snapshots.taken_at_ms = now.0;
        driver.center.start(now);
        driver.drain();
        Ok(driver)
    }

    /// The center, to read.
    pub fn center(&self) -> &Center {
        &self.center
    }

    /// A workspace, or 404.
    pub fn workspace(
        &self,
        sid: Sid<WorkspaceKind>,
    ) -> Result<&switchboard_center::model::WorkspaceState, ApiError> {
        self.center
            .model()
            .workspace(sid)
            .ok_or_else(|| ApiError::not_found(format!("Workspace {sid}")))
    }

    /// Calls and conferences.
    pub fn voice(&self) -> &switchboard_voice::Voice {
        self.center.voice()
    }

    /// The account.
    pub fn account(&self) -> switchboard_sid::Sid<switchboard_sid::Account> {
        self.center.model().account()
    }

    /// A new SID from the center's generator.
    pub fn new_sid<K: switchboard_sid::SidKind>(&mut self) -> Sid<K> {
        self.center.new_sid()
    }

    /// The current time, never earlier than a time already used.
    pub fn now(&mut self) -> Timestamp {
        self.last_now = self.last_now.max(self.clock.now_ms());
        Timestamp(self.last_now)
    }

    /// The store, for reads that must see the latest commit at once. Inside a group, what the
    /// group holds so far is committed (and its callers answered) first, so the store agrees
    /// with the center.
    pub fn store(&mut self) -> &mut dyn Store {
        self.flush();
        self.home()
    }

    /// The store, back from the committer thread (waiting for its commit, if one is in flight).
    fn home(&mut self) -> &mut dyn Store {
        self.settle();
        if self.store.is_none() {
            // The stand-in holds nothing: there is no store left to recover with.
            self.recovery.possible = false;
            self.poison("the store did not come back from the committer thread");
            self.store = self.committer.as_mut().and_then(|c| c.stand_in.take());
        }
        match &mut self.store {
            Some(s) => s.as_mut(),
            // Only a committer's stand-in could fill the gap, and it is used once: a second loss
            // cannot happen, since a poisoned driver sends nothing to commit. Inside a job the
            // panic is caught (and the driver is poisoned already).
            None => panic!("the store is gone and nothing stands in for it"),
        }
    }

    /// Whether the driver can still accept changes.
    pub fn healthy(&self) -> Result<(), String> {
        match &self.failed {
            Some(reason) => Err(reason.clone()),
            None => Ok(()),
        }
    }

    /// Carries out an input now and everything it causes.
    pub fn handle(&mut self, input: Input) -> Result<Reply, ApiError> {
        if self.failed.is_some() {
            return Err(self.refusal());
        }
        let now = self.now();
        let result = self.center.handle(now, input);
        self.drain();
        if self.failed.is_some() {
            return Err(ApiError::internal("the change could not be stored"));
        }
        result.map_err(ApiError::from)
    }

    /// Applies durable changes in order, stopping at the first refused one (those before it
    /// stay applied).
    pub fn execute_many(&mut self, entries: Vec<Entry>) -> Result<(), ApiError> {
        self.handle(Input::Changes(entries)).map(|_| ())
    }

    /// Applies one durable change.
    pub fn execute(&mut self, entry: Entry) -> Result<(), ApiError> {
        self.execute_many(vec![entry])
    }

    /// Opens a desktop session whose messages go to `sink`.
    pub fn connect(
        &mut self,
        workspace: Sid<WorkspaceKind>,
        worker: Sid<Worker>,
        expires_at: Timestamp,
        sink: SessionSink,
    ) -> Result<SessionId, ApiError> {
        if self.failed.is_some() {
            return Err(self.refusal());
        }
        let now = self.now();
        let reply = self.center.handle(
            now,
            Input::Connect {
                workspace,
                worker,
                expires_at,
            },
        );
        // The sink is registered before the outputs are taken: the first state is among them.
        let result = match reply {
            Ok(Reply::Session(id)) => {
                self.sinks.insert(id, sink);
                Ok(id)
            }
            Ok(other) => Err(ApiError::internal(format!("unexpected reply {other:?}"))),
            Err(e) => Err(ApiError::from(e)),
        };
        self.drain();
        result
    }

    /// What a change is refused with while the driver cannot store changes.
    fn refusal(&self) -> ApiError {
        ApiError::unavailable(if self.recovery.on() {
            "the server cannot store changes at the moment (see its log); it tries again by \
             itself and accepts changes once the store takes them"
        } else {
            "the server cannot store changes (see its log); restart it"
        })
    }

    /// After the store refused a commit, try whether it takes writes again after `first`, then
    /// after twice as long each time, up to `max`; `None`: never (refuse changes until
    /// restarted). Off until set.
    pub fn set_recovery(&mut self, first: Option<Duration>, max: Duration) {
        self.recovery.first = first;
        // Never shorter than the first wait.
        self.recovery.max = first.map_or(max, |f| max.max(f));
    }

    /// Between jobs, while the driver cannot store changes and a try is due: writes a probe to
    /// the store and, if it goes through, rebuilds the center from the store (as a restart
    /// would) and accepts changes again. If the probe or the rebuild fails, tries again later.
    pub fn recover_if_due(&mut self) {
        if self.failed.is_none() || !self.recovery.on() || self.stopping {
            return;
        }
        let now = self.now();
        if now.0 < self.recovery.next_at_ms {
            return;
        }
        // Nothing of the old center may still be on its way to the store.
        self.flush();
        if self.store.is_none() || self.in_flight.is_some() {
            self.recovery.possible = false;
            return;
        }
        let probe = Batch {
            settings: vec![(RECOVERY_PROBE.into(), now.0.to_string())],
            ..Default::default()
        };
        if let Err(e) = self.home().commit(&probe) {
            self.recovery.retry_later(now.0);
            tracing::warn!(
                tries = self.recovery.tries,
                next_try_in_ms = self.recovery.wait.as_millis(),
                "the store still refuses writes: {e}"
            );
            return;
        }
        let config = self.config.clone();
        let rebuilt = match rebuild(self.home(), &config) {
            Ok(r) => r,
            Err(e) => {
                self.recovery.retry_later(now.0);
                tracing::error!(
                    "the store takes writes again, but the state cannot be rebuilt from it: {e}"
                );
                return;
            }
        };
        let mut center = rebuilt.center;
        center.continue_numbering_after(&self.center);
        let old = std::mem::replace(&mut self.center, center);
        // The old center's audio peers end with it (their desktops were closed at the failure).
        if let Some(relay) = &self.outlets.relay {
            for peer in old.media().peers() {
                let _ = relay.remove_peer_blocking(switchboard_media::PeerId(peer.0));
            }
        }
        drop(old);
        self.snapshots.last_seq = rebuilt.last_seq;
        self.snapshots.taken_seq = rebuilt.from_seq;
        self.snapshots.stored_seq = rebuilt.stored_seq;
        self.snapshots.taken_at_ms = now.0;
        self.snapshots.retry_at_ms = i64::MIN;
        self.snapshots.prune_pending = rebuilt.stored_seq > 0 && !rebuilt.passed_over;
        let was = self.failed.take();
        tracing::warn!(
            tries = self.recovery.tries + 1,
            failure = was.as_deref().unwrap_or_default(),
            last_seq = rebuilt.last_seq,
            "the store takes writes again: state rebuilt from it, accepting changes"
        );
        self.refresh_keys();
        self.center.start(now);
        self.drain();
        if let Some(n) = &self.outlets.calls_changed {
            n.notify_one();
        }
    }

    /// Ends the driver's thread after this job (its handles then answer "shutting down").
    pub fn stop(&mut self) {
        self.stopping = true;
    }

    /// A desktop session's socket closed.
    pub fn disconnect(&mut self, session: SessionId) {
        self.sinks.remove(&session);
        let _ = self.handle(Input::Disconnect { session });
    }

    /// Fires what is due and carries out what it causes.
    pub fn tick(&mut self) {
        let now = self.now();
        if self.center.poll_timeout().is_some_and(|t| t <= now) {
            self.center.handle_timeout(now);
            self.drain();
        }
    }

    /// How long to sleep before the next deadline (or the next prune).
    fn wait(&mut self) -> Duration {
        let now = self.now();
        let deadline = self
            .center
            .poll_timeout()
            .map_or(Duration::from_secs(3600), |t| {
                Duration::from_millis(u64::try_from(t.0.saturating_sub(now.0)).unwrap_or(0))
            });
        let recovery = if self.failed.is_some() && self.recovery.on() {
            Duration::from_millis(
                u64::try_from(self.recovery.next_at_ms.saturating_sub(now.0)).unwrap_or(0),
            )
        } else {
            Duration::MAX
        };
        deadline
            .min(self.prune_wait(now))
            .min(self.snapshot_wait(now))
            .min(recovery)
    }

    /// Snapshots the state by `policy` from now on (see [`SnapshotPolicy`]).
    pub fn set_snapshots(&mut self, policy: SnapshotPolicy) {
        if !policy.test_pause_inside_write.is_zero() {
            tracing::warn!(
                pause = ?policy.test_pause_inside_write,
                "TEST ONLY: every snapshot write pauses inside its transaction"
            );
            self.home()
                .set_test_pause_inside_snapshot_writes(policy.test_pause_inside_write);
        }
        self.snapshots.policy = policy;
    }

    /// How long until a snapshot falls due by time, or the log's pruning goes on.
    fn snapshot_wait(&self, now: Timestamp) -> Duration {
        let s = &self.snapshots;
        if s.prune_pending {
            return Duration::ZERO;
        }
        match s.policy.every {
            Some(every) if s.last_seq > s.taken_seq => {
                let every = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
                let due = s.taken_at_ms.saturating_add(every).max(s.retry_at_ms);
                Duration::from_millis(u64::try_from(due.saturating_sub(now.0)).unwrap_or(0))
            }
            _ => Duration::MAX,
        }
    }

    /// Between jobs: snapshots the state when the policy says it is due (so many entries, or so
    /// long, since the last one), then deletes one batch of the log entries every kept snapshot
    /// covers, if any may be left.
    pub fn snapshot_if_due(&mut self) {
        if self.failed.is_some() {
            return;
        }
        let now = self.now().0;
        let s = &self.snapshots;
        let behind = s.last_seq - s.taken_seq;
        let by_count = s
            .policy
            .every_entries
            .is_some_and(|n| u64::try_from(behind).unwrap_or(0) >= n.max(1));
        let by_time = s.policy.every.is_some_and(|every| {
            behind > 0
                && now.saturating_sub(s.taken_at_ms)
                    >= i64::try_from(every.as_millis()).unwrap_or(i64::MAX)
        });
        if (by_count || by_time) && now >= s.retry_at_ms && s.last_seq > s.stored_seq {
            self.take_snapshot(now);
        }
        if self.snapshots.prune_pending {
            match self.home().prune_log(LOG_PRUNE_BATCH) {
                Ok(n) => {
                    if n > 0 {
                        tracing::debug!(entries = n, "deleted log entries the snapshots cover");
                    }
                    self.snapshots.prune_pending = n >= LOG_PRUNE_BATCH;
                }
                Err(e) => {
                    tracing::warn!("deleting log entries the snapshots cover failed: {e}");
                    self.snapshots.prune_pending = false;
                }
            }
        }
    }

    /// Snapshots the state through the last committed entry and stores it.
    fn take_snapshot(&mut self, now: i64) {
        // The state is the committed one only once the group in flight is stored, and whatever
        // settling it caused (a fetch failing at once) too.
        self.flush();
        if self.failed.is_some() {
            return;
        }
        let seq = self.snapshots.last_seq;
        let started = Instant::now();
        let bytes = match self.center.model().snapshot(self.center.now()).to_bytes() {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(seq, "the state could not be snapshotted: {e}");
                self.snapshots.retry_at_ms = now.saturating_add(retry_ms());
                return;
            }
        };
        let encoded = started.elapsed();
        tracing::debug!(seq, bytes = bytes.len(), "writing a snapshot");
        match self
            .home()
            .write_snapshot(seq, i64::from(SNAPSHOT_FORMAT), &bytes)
        {
            Ok(()) => {
                tracing::info!(
                    seq,
                    bytes = bytes.len(),
                    encode_ms = encoded.as_secs_f64() * 1e3,
                    total_ms = started.elapsed().as_secs_f64() * 1e3,
                    "snapshot written"
                );
                let s = &mut self.snapshots;
                s.taken_seq = seq;
                s.stored_seq = seq;
                s.taken_at_ms = now;
                s.prune_pending = true;
            }
            Err(e) => {
                tracing::warn!(
                    seq,
                    "a snapshot could not be stored (the log keeps every entry until one is): {e}"
                );
                self.snapshots.retry_at_ms = now.saturating_add(retry_ms());
            }
        }
    }

    /// Keeps events and finished tasks for `window` (`None`: forever), pruning the older ones
    /// from now on in batches of [`PRUNE_BATCH`] between jobs, then every [`PRUNE_INTERVAL`].
    pub fn set_retention(&mut self, window: Option<Duration>) {
        let now = self.now();
        self.retention = window.map(|w| Retention {
            window_ms: i64::try_from(w.as_millis()).unwrap_or(i64::MAX),
            next_at_ms: now.0,
        });
    }

    /// How long until the next prune is due.
    fn prune_wait(&self, now: Timestamp) -> Duration {
        self.retention.as_ref().map_or(Duration::MAX, |r| {
            Duration::from_millis(u64::try_from(r.next_at_ms.saturating_sub(now.0)).unwrap_or(0))
        })
    }

    /// Deletes one batch of events and finished tasks older than the window, when due. A full
    /// batch means more are left: the next one follows after the jobs already waiting, so
    /// changes never wait behind more than one batch.
    pub fn prune_if_due(&mut self) {
        let now = self.now();
        let Some(r) = &self.retention else {
            return;
        };
        if r.next_at_ms > now.0 || self.failed.is_some() {
            return;
        }
        let before = now.0.saturating_sub(r.window_ms);
        let interval = i64::try_from(PRUNE_INTERVAL.as_millis()).unwrap_or(i64::MAX);
        let next_at_ms = match self.home().prune(before, PRUNE_BATCH) {
            Ok(report) => {
                if report.total() > 0 {
                    tracing::debug!(
                        events = report.events,
                        finished_tasks = report.finished_tasks,
                        before_ms = before,
                        "pruned what is past the retention window"
                    );
                }
                if report.total() >= PRUNE_BATCH {
                    now.0
                } else {
                    now.0.saturating_add(interval)
                }
            }
            Err(e) => {
                tracing::warn!("pruning old events and finished tasks failed: {e}");
                now.0.saturating_add(interval)
            }
        };
        if let Some(r) = &mut self.retention {
            r.next_at_ms = next_at_ms;
        }
    }

    /// Takes every output of the center: commits first, then acts on the others. Inside a
    /// group, the Persist batches join the group's and the other outputs wait for its commit.
    fn drain(&mut self) {
        while let Some(output) = self.center.poll_output() {
            if self.failed.is_some() {
                // Memory is ahead of the disk: nobody may see what was not stored.
                continue;
            }
            match output {
                Output::Persist(commit) => {
                    let mut group = self.group.take();
                    match &mut group {
                        Some(g) => {
                            if let Some(bytes) = self.encode(&commit, &mut g.batch) {
                                g.bytes += bytes;
                            }
                        }
                        None => {
                            let mut batch = Batch::default();
                            if self.encode(&commit, &mut batch).is_some() {
                                self.commit(&batch, 1);
                            }
                        }
                    }
                    self.group = group;
                }
                other => match &mut self.group {
                    Some(g) => g.outputs.push(other),
                    None => self.act(other),
                },
            }
        }
    }

    /// Acts on one output other than [`Output::Persist`] (its changes are stored).
    fn act(&mut self, output: Output) {
        match output {
            Output::Persist(_) => {
                tracing::error!("a Persist output reached act; it is not stored");
            }
            Output::Fetch {
                id,
                url,
                method,
                params,
            } => self.fetch(FetchJob {
                id,
                url,
                method,
                params,
            }),
            Output::Webhook { url, event } => {
                let account = self.center.model().account();
                let params = events::webhook_params(
                    account,
                    event.workspace,
                    &event.workspace_name,
                    event.sid,
                    &event.event,
                );
                if let Some(tx) = &self.outlets.webhooks {
                    // Never wait for webhooks: when the queue is full (the receiver is far
                    // behind), the event is still stored and listed, but not posted.
                    if tx.try_send(Delivery { url, params }).is_err() {
                        tracing::warn!("event webhook queue is full; an event is not posted");
                    }
                }
            }
            Output::Push { session, state } => {
                if let Some(sink) = self.sinks.get(&session) {
                    sink.state.send_replace(Some(state));
                }
            }
            Output::Send { session, message } => {
                if let Some(sink) = self.sinks.get(&session) {
                    let _ = sink.messages.try_send(message);
                }
            }
            Output::Close { session, reason } => {
                if let Some(sink) = self.sinks.remove(&session) {
                    let _ = sink.messages.try_send(ServerMessage::Closed { reason });
                }
            }
            Output::ApiKeysChanged => self.refresh_keys(),
            Output::MediaGraph(g) => {
                if let Some(n) = &self.outlets.calls_changed {
                    n.notify_one();
                }
                if let Some(relay) = &self.outlets.relay {
                    let mut graph = switchboard_media::Graph::new();
                    for (peer, sources) in g {
                        graph.set(
                            switchboard_media::PeerId(peer.0),
                            sources.into_iter().map(|s| match s {
                                MediaSource::Peer(p) => {
                                    switchboard_media::Source::Peer(switchboard_media::PeerId(p.0))
                                }
                                MediaSource::HoldMusic => switchboard_media::Source::HoldMusic,
                            }),
                        );
                    }
                    if relay.set_graph_blocking(graph).is_err() {
                        tracing::error!("the media relay has stopped; calls carry no audio");
                    }
                }
            }
            Output::MediaRemove(peer) => {
                if let Some(relay) = &self.outlets.relay {
                    let _ = relay.remove_peer_blocking(switchboard_media::PeerId(peer.0));
                }
            }
        }
    }

    /// Encodes one input's changes onto `batch` and returns how many bytes they take; `None`
    /// (and the driver poisoned) if one cannot be encoded.
    fn encode(&mut self, commit: &switchboard_center::Commit, batch: &mut Batch) -> Option<usize> {
        let account = self.center.model().account();
        let mut bytes = 0;
        for (at, entry) in &commit.log {
            match serde_json::to_string(entry) {
                Ok(body) => {
                    bytes += body.len();
                    batch.log.push(LogEntry {
                        seq: 0,
                        at_ms: at.0,
                        body,
                    });
                }
                Err(e) => {
                    self.poison(&format!("a change could not be encoded: {e}"));
                    return None;
                }
            }
        }
        for e in &commit.events {
            let row = events::event_row(account, e.workspace, &e.workspace_name, e.sid, &e.event);
            bytes += row.data.len();
            batch.events.push(row);
        }
        // Finished rows are rendered now, from the engine as this input left it: a later input
        // of the same group may change it.
        let model = self.center.model();
        for (ws, f) in &commit.finished {
            if let Some(w) = model.workspace(*ws) {
                let row = events::finished_row(*ws, &w.engine, f);
                bytes += row.data.len();
                batch.finished.push(row);
            }
        }
        batch
            .deleted_tasks
            .extend(commit.deleted_tasks.iter().map(ToString::to_string));
        Some(bytes)
    }

    /// Commits `batch` (the changes of `jobs` jobs) in one transaction; poisons the driver if
    /// the store refuses it.
    fn commit(&mut self, batch: &Batch, jobs: usize) {
        if batch.is_empty() {
            return;
        }
        let started = Instant::now();
        let result = self.home().commit(batch).map_err(|e| e.to_string());
        self.counts.commit_time += started.elapsed();
        self.committed(batch, jobs, result);
    }

    /// Takes note of a commit's result: where the log ends, or the driver poisoned.
    fn committed(&mut self, batch: &Batch, jobs: usize, result: Result<i64, String>) {
        match result {
            Ok(first) => {
                if !batch.log.is_empty() {
                    let n = i64::try_from(batch.log.len()).unwrap_or(i64::MAX);
                    self.snapshots.last_seq = first.saturating_add(n - 1);
                }
                self.count_commit(batch, jobs);
            }
            Err(e) => self.poison(&format!("the store refused a commit: {e}")),
        }
    }

    /// Counts a commit and, every [`GROUP_REPORT_EVERY`], reports the counts at debug level.
    fn count_commit(&mut self, batch: &Batch, jobs: usize) {
        let c = &mut self.counts;
        c.commits += 1;
        c.jobs += u64::try_from(jobs).unwrap_or(u64::MAX);
        c.log_entries += u64::try_from(batch.log.len()).unwrap_or(u64::MAX);
        c.largest = c.largest.max(jobs);
        let since = *c.since.get_or_insert_with(Instant::now);
        let elapsed = since.elapsed();
        if elapsed >= GROUP_REPORT_EVERY {
            let secs = elapsed.as_secs_f64();
            #[allow(clippy::cast_precision_loss)]
            let (commits, jobs) = (c.commits as f64, c.jobs as f64);
            tracing::debug!(
                commits = c.commits,
                jobs = c.jobs,
                log_entries = c.log_entries,
                commits_per_s = commits / secs,
                jobs_per_commit = jobs / commits.max(1.0),
                largest_group = c.largest,
                commit_ms_mean = c.commit_time.as_secs_f64() * 1e3 / commits.max(1.0),
                committing_share = c.commit_time.as_secs_f64() / secs,
                "group commits in the last {secs:.1} s"
            );
            *c = GroupCounts {
                since: Some(Instant::now()),
                ..GroupCounts::default()
            };
        }
    }

    /// Starts collecting a group: from now on changes wait for [`Driver::flush`].
    fn begin_group(&mut self) {
        if self.group.is_none() {
            self.group = Some(Group::default());
        }
    }

    /// Whether the group may take another job.
    fn group_has_room(&self) -> bool {
        self.group
            .as_ref()
            .is_some_and(|g| g.jobs < GROUP_INPUTS && g.bytes < GROUP_BYTES)
    }

    /// Answers a job's caller: at once outside a group or when nothing before it waits for a
    /// commit; otherwise once the group is stored.
    fn answer(&mut self, answer: Answer) {
        let waiting = self.in_flight.is_some();
        match &mut self.group {
            Some(g) if waiting || !g.is_idle() => g.answers.push((g.outputs.len(), answer)),
            Some(_) => answer(Ok(())),
            None => {
                self.settle();
                answer(Ok(()));
            }
        }
    }

    /// Commits what the group holds in one transaction, then, in order, acts on each job's
    /// outputs and answers it. If the commit fails (or the driver failed while the group was
    /// collected), nobody in the group is answered with success. The group goes on, empty.
    pub fn flush(&mut self) {
        self.settle();
        let Some(group) = self.group.take() else {
            return;
        };
        if self.failed.is_none() {
            self.commit(&group.batch, group.jobs.max(1));
        }
        self.finish(group);
        self.group = Some(Group::default());
    }

    /// Hands the group's batch to the committer thread and keeps its outputs and answers until
    /// the commit is back ([`Driver::settle`]), after settling the group before it; without a
    /// committer, as [`Driver::flush`]. The group goes on, empty.
    fn launch(&mut self) {
        if self.committer.is_none() {
            self.flush();
            return;
        }
        self.settle();
        let Some(mut group) = self.group.take() else {
            return;
        };
        if self.failed.is_some() || group.batch.is_empty() {
            self.finish(group);
            self.group = Some(Group::default());
            return;
        }
        group.changed = true;
        let batch = std::mem::take(&mut group.batch);
        let sender = self.committer.as_ref().and_then(|c| c.tx.clone());
        match (self.store.take(), sender) {
            (Some(store), Some(tx)) => match tx.send((store, batch)) {
                Ok(()) => self.in_flight = Some(group),
                Err(mpsc::SendError((store, _))) => {
                    self.store = Some(store);
                    self.poison("the committer thread has stopped");
                    self.finish(group);
                }
            },
            (store, _) => {
                self.store = store;
                self.poison("no store or no committer to commit with");
                self.finish(group);
            }
        }
        self.group = Some(Group::default());
    }

    /// Waits for the group in flight to be committed, then acts on its outputs and answers its
    /// callers (or, if the commit failed, answers each with the error and poisons the driver).
    fn settle(&mut self) {
        if self.in_flight.is_none() {
            return;
        }
        let back = self.committer.as_ref().and_then(|c| c.done.recv().ok());
        self.settle_with(back);
    }

    /// Settles the group in flight if its commit is back already; whether none is in flight now.
    fn try_settle(&mut self) -> bool {
        if self.in_flight.is_none() {
            return true;
        }
        match self.committer.as_ref().map(|c| c.done.try_recv()) {
            Some(Ok(back)) => self.settle_with(Some(back)),
            Some(Err(mpsc::TryRecvError::Empty)) => return false,
            _ => self.settle_with(None),
        }
        true
    }

    /// Settles the group in flight with what came back (`None`: the committer is gone).
    fn settle_with(&mut self, back: Option<Committed>) {
        let Some(group) = self.in_flight.take() else {
            return;
        };
        match back {
            Some((store, batch, result, took)) => {
                self.store = Some(store);
                self.counts.commit_time += took;
                self.committed(&batch, group.jobs.max(1), result);
            }
            _ => self.poison("the committer thread stopped during a commit"),
        }
        self.finish(group);
    }

    /// After a group's commit: in order, acts on each job's outputs and answers it. If the
    /// driver failed (the commit, or while the group was collected) and the group changed
    /// anything, nobody in it is answered with success.
    fn finish(&mut self, group: Group) {
        let had_changes = group.changed || !group.batch.is_empty() || !group.outputs.is_empty();
        let lost = had_changes && self.failed.is_some();
        // Outside the group now: what acting on an output causes (a fetch failing at once) is
        // committed as it is drained, before the callers are answered, as outside a group.
        let mut outputs = group.outputs.into_iter();
        let mut acted = 0;
        for (until, answer) in group.answers {
            while acted < until && !lost {
                if let Some(o) = outputs.next() {
                    self.act(o);
                    self.drain();
                }
                acted += 1;
            }
            if had_changes && self.failed.is_some() {
                answer(Err(ApiError::internal("the change could not be stored")));
            } else {
                answer(Ok(()));
            }
        }
        if !lost {
            for o in outputs {
                if self.failed.is_some() {
                    break;
                }
                self.act(o);
                self.drain();
            }
        }
    }

    /// Commits and answers the group, and stops grouping.
    fn end_group(&mut self) {
        self.flush();
        self.group = None;
    }

    fn fetch(&mut self, job: FetchJob) {
        let id = job.id;
        let sent = self
            .outlets
            .fetches
            .as_ref()
            .is_some_and(|tx| tx.send(job).is_ok());
        if !sent {
            // No fetcher (a test, or shutting down): the fetch fails at once.
            let now = self.now();
            let _ = self.center.handle(
                now,
                Input::Fetched {
                    id,
                    result: Err(switchboard_voice::FetchFailure {
                        code: 11200,
                        message: "webhooks are disabled".into(),
                    }),
                },
            );
        }
    }

    fn refresh_keys(&mut self) {
        let keys = self.center.model().api_keys().clone();
        write(&self.credentials).api_keys = keys;
    }

    /// After a failed commit or a panic, memory may be ahead of what is stored: refuse every
    /// further change until the state is rebuilt from the store (by a recovery, or a restart).
    fn poison(&mut self, what: &str) {
        if self.failed.is_none() {
            let now = self.now().0;
            self.recovery.failed_at(now);
        }
        if self.recovery.on() {
            tracing::error!(
                first_try_in_ms = self.recovery.wait.as_millis(),
                "{what}; refusing changes until the store takes writes again"
            );
            self.failed = Some(format!("{what}; retrying the store"));
        } else {
            tracing::error!("{what}; refusing further changes until restarted");
            self.failed = Some(format!("{what}; restart the server"));
        }
        for (_, sink) in std::mem::take(&mut self.sinks) {
            let _ = sink.messages.try_send(ServerMessage::Closed {
                reason: CloseReason::Shutdown,
            });
        }
    }
}

fn retry_ms() -> i64 {
    i64::try_from(SNAPSHOT_RETRY.as_millis()).unwrap_or(i64::MAX)
}

/// Rebuilds the center: from the newest snapshot that can be used and the log after it, or
/// from the whole log when none can and the log still starts at its first entry. A snapshot
/// that cannot be used (damaged, or in a newer format) is passed over for the one before it
/// (the log keeps every entry after that one); when none is left and the log's front is gone,
/// the start is refused, naming each snapshot and why.
fn rebuild(store: &mut dyn Store, config: &CenterConfig) -> Result<Rebuilt, String> {
    let started = Instant::now();
    let snapshots = store
        .snapshots()
        .map_err(|e| format!("reading the snapshots: {e}"))?;
    let bounds = store
        .log_bounds()
        .map_err(|e| format!("reading the log: {e}"))?;
    let stored_seq = snapshots.first().map_or(0, |s| s.seq);
    // Whether the log still holds every entry after `after`.
    let whole_after = |after: i64| match bounds {
        Some((first, _)) => first <= after.saturating_add(1),
        None => after >= stored_seq,
    };
    let mut passed_over: Vec<(i64, String)> = Vec::new();
    let mut chosen = None;
    for info in &snapshots {
        if !whole_after(info.seq) {
            passed_over.push((info.seq, "the log after it is incomplete".into()));
            continue;
        }
        match restore(store, info, config) {
            Ok(center) => {
                chosen = Some((center, info.seq));
                break;
            }
            Err(why) => {
                tracing::warn!(seq = info.seq, "a snapshot cannot be used: {why}");
                passed_over.push((info.seq, why));
            }
        }
    }
    let (mut center, from_seq) = match chosen {
        Some(c) => c,
        None if whole_after(0) => {
            if !passed_over.is_empty() {
                tracing::warn!("no snapshot can be used: replaying the whole log");
            }
            (Center::new(config.clone()), 0)
        }
        None => {
            let why = passed_over
                .iter()
                .map(|(seq, why)| {
                    format!("the snapshot through log entry {seq} cannot be used: {why}")
                })
                .collect::<Vec<_>>()
                .join("; ");
            let first = bounds.map_or_else(
                || "holds no entry".to_owned(),
                |(f, _)| format!("starts at entry {f}"),
            );
            return Err(format!(
                "cannot rebuild the state: {why}; and the log before it has been deleted (it {first}), \
                 so it cannot be replayed from the start. Start a release that reads the snapshot, \
                 or restore the database from a backup"
            ));
        }
    };
    let mut tail = 0usize;
    let mut last_seq = from_seq;
    let mut replay_error = None;
    store
        .read_log_after(from_seq, &mut |LogEntry { seq, at_ms, body }| {
            let entry: Entry = serde_json::from_str(&body)
                .map_err(|e| format!("log entry {seq} is not readable: {e}"))?;
            if let Err(e) = center.replay(Timestamp(at_ms), &entry) {
                replay_error = Some(format!("log entry {seq} no longer applies: {e}"));
                return Err(String::new());
            }
            tail += 1;
            last_seq = seq;
            Ok(())
        })
        .map_err(|e| match (replay_error.clone(), e) {
            (Some(why), _) => why,
            (None, StoreError::Visit(why)) => why,
            (None, e) => format!("reading the log: {e}"),
        })?;
    tracing::info!(
        snapshot_seq = from_seq,
        tail_entries = tail,
        last_seq,
        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
        "state rebuilt from {}",
        if from_seq > 0 {
            "a snapshot and the log after it"
        } else {
            "the log"
        }
    );
    Ok(Rebuilt {
        center,
        from_seq,
        stored_seq,
        last_seq,
        passed_over: !passed_over.is_empty(),
    })
}

/// A center restored from one stored snapshot, or why it cannot be.
fn restore(
    store: &mut dyn Store,
    info: &SnapshotInfo,
    config: &CenterConfig,
) -> Result<Center, String> {
    if info.format > i64::from(SNAPSHOT_FORMAT) {
        return Err(format!(
            "it is in format {}, newer than this program reads ({SNAPSHOT_FORMAT})",
            info.format
        ));
    }
    let stored = store
        .read_snapshot(info.seq)
        .map_err(|e| format!("reading it: {e}"))?
        .ok_or_else(|| "it is gone".to_owned())?;
    let snapshot = Snapshot::from_bytes(&stored.bytes).map_err(|e| e.to_string())?;
    Center::restore(config.clone(), snapshot).map_err(|e| e.to_string())
}

type Job = Box<dyn FnOnce(&mut Driver) + Send>;

/// A way to reach the driver from async code.
#[derive(Clone)]
pub struct CoreHandle {
    tx: mpsc::Sender<Job>,
}

impl CoreHandle {
    /// Runs `f` on the driver's thread and returns its result, once what it changed (and what
    /// the jobs of its group changed) is stored. If that cannot be stored, the result is lost
    /// and an error comes back instead.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Driver) -> R + Send + 'static,
    ) -> Result<R, ApiError> {
        let (tx, rx) = oneshot::channel::<Result<R, ApiError>>();
        let job: Job = Box::new(move |d| {
            let result = f(d);
            d.answer(Box::new(move |stored| {
                let _ = tx.send(stored.map(|()| result));
            }));
        });
        self.tx
            .send(job)
            .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
        rx.await
            .map_err(|_| ApiError::internal("the request failed inside the server"))?
    }
}

/// Runs one job; a panic poisons the driver (its caller's answer is dropped: an error).
fn run_job(driver: &mut Driver, job: Job) {
    if let Some(g) = &mut driver.group {
        g.jobs += 1;
    }
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(driver)));
    if caught.is_err() {
        driver.poison("a request panicked inside the core");
    }
}

/// Commits and answers the group; a panic on the way poisons the driver.
fn end_group(driver: &mut Driver) {
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| driver.end_group()));
    if caught.is_err() {
        driver.group = None;
        driver.poison("storing a group of changes panicked inside the core");
    }
}

/// Starts the driver's thread. It stops when every [`CoreHandle`] is dropped, or after a job
/// that calls [`Driver::stop`].
///
/// Each turn takes the jobs waiting, as one group (see [Group commit](self#group-commit)),
/// fires what fell due, commits, answers, and then snapshots and prunes when due.
pub fn spawn(mut driver: Driver) -> std::io::Result<(CoreHandle, std::thread::JoinHandle<()>)> {
    match Committer::spawn() {
        Ok(c) => driver.committer = Some(c),
        Err(e) => tracing::warn!("no committer thread (groups are committed in turn): {e}"),
    }
    let (tx, rx) = mpsc::channel::<Job>();
    let thread = std::thread::Builder::new()
        .name("switchboard-core".into())
        .spawn(move || {
            loop {
                driver.begin_group();
                let mut disconnected = false;
                if driver.in_flight.is_none() {
                    // Nothing being committed: sleep until a job or the next deadline.
                    match rx.recv_timeout(driver.wait()) {
                        Ok(job) => run_job(&mut driver, job),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                } else {
                    // While the group before is being committed, this one takes every job that
                    // comes, until that commit is back (then it is settled) or this one is full.
                    while !driver.stopping && driver.group_has_room() && !driver.try_settle() {
                        match rx.recv_timeout(COMMIT_POLL) {
                            Ok(job) => run_job(&mut driver, job),
                            Err(RecvTimeoutError::Timeout) => {}
                            Err(RecvTimeoutError::Disconnected) => {
                                disconnected = true;
                                break;
                            }
                        }
                    }
                }
                // Then every job waiting, up to the group's bound.
                while !disconnected && !driver.stopping && driver.group_has_room() {
                    match rx.try_recv() {
                        Ok(job) => run_job(&mut driver, job),
                        Err(mpsc::TryRecvError::Empty) => break,
                        Err(mpsc::TryRecvError::Disconnected) => disconnected = true,
                    }
                }
                if driver.stopping || disconnected {
                    break;
                }
                let caught =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| driver.tick()));
                if caught.is_err() {
                    driver.poison("firing deadlines panicked inside the core");
                }
                let caught =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| driver.launch()));
                if caught.is_err() {
                    driver.group = None;
                    driver.poison("storing a group of changes panicked inside the core");
                }
                driver.prune_if_due();
                driver.snapshot_if_due();
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    driver.recover_if_due();
                }));
                if caught.is_err() {
                    driver.recovery.possible = false;
                    driver.poison("rebuilding the state after a failed commit panicked");
                }
            }
            end_group(&mut driver);
        })?;
    Ok((CoreHandle { tx }, thread))
}

fn write(lock: &RwLock<Credentials>) -> std::sync::RwLockWriteGuard<'_, Credentials> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads shared credentials (a poisoned lock still holds valid data: writers replace fields).
pub fn read(lock: &RwLock<Credentials>) -> std::sync::RwLockReadGuard<'_, Credentials> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
