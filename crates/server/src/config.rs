//! How a server is configured.

use std::net::SocketAddr;
use std::time::Duration;

use crate::clock::Clock;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// `sqlite://PATH`, `sqlite::memory:`, or `postgres://USER@HOST[:PORT]/DATABASE`
    /// (`postgresql://` too): what `switchboard_store::open` takes.
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
    /// Where the server takes its time from (the system clock unless a test pins it).
    pub clock: Clock,
    /// The audio relay; `None` relays no audio (calls connect at the signalling level only).
    pub media: Option<MediaConfig>,
}

/// The audio relay: one UDP socket for every desktop's WebRTC connection.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Where to bind it (`--media-listen`).
    pub listen: SocketAddr,
    /// The address browsers are told to send to, when it differs from the bound one (behind
    /// NAT; `SWITCHBOARD_MEDIA_ADDRESS`). A port of 0 means the bound port.
    pub advertised: Option<SocketAddr>,
    /// Whether browsers are offered the UDP socket (`--media-transports`; normally yes).
    pub udp: bool,
    /// Whether the relay also listens on TCP for ICE-TCP, on the same port number
    /// (`--media-transports`; normally when the port is free): desktops on networks that let no
    /// UDP out reach it without a TURN server.
    pub tcp: switchboard_media::io::TcpListen,
    /// STUN/TURN servers handed to desktops, for networks that cannot reach the socket directly.
    pub ice_servers: Vec<switchboard_center::protocol::IceServer>,
    /// Where recordings are kept (`--data-dir`); `None`: beside the database (see
    /// `recordings::data_dir`).
    pub data_dir: Option<std::path::PathBuf>,
    /// Whether the relay opens and seals connected desktops' RTP itself
    /// (`switchboard_media::srtp`; normally yes, `--no-media-shortcut` to leave all of it to
    /// str0m).
    pub shortcut: bool,
}

/// Limits on connections, requests and what is kept; `Limits::default()` holds the production
/// values.
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
    /// How long events and finished tasks are kept (30 days, Twilio's Events window;
    /// `--retention-days`); `None` keeps them forever. Older ones are deleted in the background,
    /// in small batches between changes. The log is not affected.
    pub retention: Option<Duration>,
    /// When the core's state is snapshotted (and the log behind it let go).
    pub snapshots: SnapshotPolicy,
    /// After the store refused a commit (a full disk, say), how long the driver waits before it
    /// first tries whether the store takes writes again; each failed try doubles the wait, up
    /// to [`RECOVERY_MAX`]. Once a write goes through, the state is rebuilt from the store and
    /// changes are accepted again, without a restart. `None`: refuse changes until restarted
    /// (a cluster node hands over to another instead).
    pub recovery: Option<Duration>,
}

/// The longest wait between two tries of a store that refused a commit.
pub const RECOVERY_MAX: Duration = Duration::from_secs(10);

/// When the driver snapshots the core's state: after `every_entries` log entries or `every`
/// of time since the last snapshot, whichever comes first (time only counts when the log has
/// grown). A snapshot is taken on the core's thread between changes and stored in one
/// transaction; then the log entries both kept snapshots cover are deleted in small batches.
/// A start loads the newest snapshot and replays only the entries after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Log entries between snapshots at most (`--snapshot-every`, 100,000); `None`: not by
    /// count.
    pub every_entries: Option<u64>,
    /// Time between snapshots at most, if the log grew (`--snapshot-minutes`, 10 minutes);
    /// `None`: not by time.
    pub every: Option<Duration>,
    /// For tests of crashes only: how long each snapshot write sleeps inside its transaction
    /// (zero: not at all). No flag or environment variable sets it; only a program that builds
    /// its [`Config`] itself can.
    #[doc(hidden)]
    pub test_pause_inside_write: Duration,
}

/// Log entries between snapshots by default.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 100_000;

/// Time between snapshots by default (when the log grew).
pub const DEFAULT_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(10 * 60);

impl Default for SnapshotPolicy {
    fn default() -> SnapshotPolicy {
        SnapshotPolicy {
            every_entries: Some(DEFAULT_SNAPSHOT_EVERY),
            every: Some(DEFAULT_SNAPSHOT_INTERVAL),
            test_pause_inside_write: Duration::ZERO,
        }
    }
}

impl SnapshotPolicy {
    /// No snapshots: every start replays the whole log.
    pub fn never() -> SnapshotPolicy {
        SnapshotPolicy {
            every_entries: None,
            every: None,
            test_pause_inside_write: Duration::ZERO,
        }
    }
}

/// How long events and finished tasks are kept by default: 30 days, as Twilio keeps Events.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

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
            retention: Some(DEFAULT_RETENTION),
            snapshots: SnapshotPolicy::default(),
            recovery: Some(Duration::from_secs(1)),
        }
    }
}

/// Where recordings are kept for a database URL when no data directory is given
/// (`--data-dir`, `SWITCHBOARD_DATA_DIR`): `recordings` beside the SQLite database file, or
/// `./data` for a database in memory.
pub fn data_dir_for(database: &str) -> std::path::PathBuf {
    match switchboard_store::sqlite_path(database) {
        Some(file) => std::path::Path::new(file)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."))
            .join("recordings"),
        None => std::path::PathBuf::from("./data"),
    }
}
