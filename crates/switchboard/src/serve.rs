//! `switchboard serve` and `switchboard demo`: run the server.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use switchboard_media::io::TcpListen;
use switchboard_server::{demo, Config};

/// Options shared by `serve` and `demo`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Database URL: sqlite://PATH (a file, created if missing), sqlite::memory:, or
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (postgresql:// too; its tables are
    /// created or migrated at start, in the schema `options=-csearch_path%3DNAME` names, else
    /// public).
    #[arg(
        long,
        env = "SWITCHBOARD_DATABASE",
        default_value = "sqlite://switchboard.db"
    )]
    pub database: String,
    /// The URL clients reach this server at, when it differs from the Host they send (behind a
    /// proxy). Used for links in responses and for webhook signatures.
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The account SID clients authenticate as (created and stored on first start if unset).
    #[arg(long, env = "TWILIO_ACCOUNT_SID", hide_env_values = true)]
    pub account_sid: Option<String>,
    /// The account's auth token (created and stored on first start if unset).
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// The workflow the built-in internal-call enqueue function routes calls with (default: the
    /// workflow named "Internal Call").
    #[arg(long, env = "TWILIO_FLEX_INTERNAL_CALL_WORKFLOW_SID")]
    pub internal_call_workflow_sid: Option<String>,
    /// Seconds an internal call to a queue rings before the caller is told nobody answered.
    #[arg(long, env = "SWITCHBOARD_QUEUE_CALL_TIMEOUT", default_value_t = 120)]
    pub queue_call_timeout: u64,
    /// Where the audio relay's UDP socket listens (default: the HTTP address, port + 1).
    #[arg(long, env = "SWITCHBOARD_MEDIA_LISTEN")]
    pub media_listen: Option<SocketAddr>,
    /// The address browsers send audio to, when it is not the one the relay listens on (behind
    /// NAT, or listening on 0.0.0.0).
    #[arg(long, env = "SWITCHBOARD_MEDIA_ADDRESS")]
    pub media_address: Option<SocketAddr>,
    /// How desktops may reach the relay: `udp`, `tcp` (ICE-TCP on the same port number, for
    /// networks that let no UDP out; ranked below UDP) or both, comma-separated. Named here,
    /// each is required; by default UDP, and TCP when the port is free on TCP.
    #[arg(long, env = "SWITCHBOARD_MEDIA_TRANSPORTS", value_parser = parse_transports)]
    pub media_transports: Option<Transports>,
    /// STUN/TURN servers for desktops, as JSON RTCIceServer objects:
    /// `[{"urls": ["turn:turn.example:3478"], "username": "u", "credential": "p"}]`.
    #[arg(long, env = "SWITCHBOARD_ICE_SERVERS", value_parser = parse_ice_servers)]
    pub ice_servers: Option<IceServers>,
    /// Where recordings are kept (`RE….wav` and a metadata sidecar each; default: `recordings/`
    /// beside the SQLite file, `./data` for a database in memory or PostgreSQL).
    #[arg(long, env = "SWITCHBOARD_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// Relay no audio (calls connect at the signalling level only).
    #[arg(long)]
    pub no_media: bool,
    /// Leave every RTP packet to str0m instead of the relay's own SRTP for connected desktops
    /// (the forwarding shortcut, on by default): the path to compare against, or to fall back
    /// to.
    #[arg(long)]
    pub no_media_shortcut: bool,
    /// Open connections at most (desktop WebSockets included); more are closed at once.
    #[arg(long, env = "SWITCHBOARD_MAX_CONNECTIONS", default_value_t = switchboard_server::Limits::default().max_connections)]
    pub max_connections: usize,
    /// Days events and finished tasks are kept (Twilio keeps Events 30 days); older ones are
    /// deleted in the background. 0 keeps them forever.
    #[arg(long, env = "SWITCHBOARD_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u64,
    /// Snapshot the state after this many logged changes (0: not by count). A start loads the
    /// newest snapshot and replays only the changes after it; the log behind the snapshots is
    /// deleted.
    #[arg(long, env = "SWITCHBOARD_SNAPSHOT_EVERY", default_value_t = switchboard_server::config::DEFAULT_SNAPSHOT_EVERY)]
    pub snapshot_every: u64,
    /// Snapshot the state at least this often, in minutes, when anything changed (0: not by
    /// time).
    #[arg(long, env = "SWITCHBOARD_SNAPSHOT_MINUTES", default_value_t = 10)]
    pub snapshot_minutes: u64,
    /// Run as one node of several on one PostgreSQL database, with this id (unique among the
    /// nodes): the node holding the lease serves, the others forward to it.
    #[arg(long, env = "SWITCHBOARD_NODE_ID")]
    pub node_id: Option<String>,
    /// Where the other nodes reach this node (default: http://LISTEN); with --node-id.
    #[arg(long, env = "SWITCHBOARD_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// How long the owner's lease lasts without renewal, in milliseconds; with --node-id.
    #[arg(long, env = "SWITCHBOARD_LEASE_MS", default_value_t = 3000)]
    pub lease_ms: u64,
}

/// The retention window for a number of days (0: keep forever).
fn retention(days: u64) -> Option<Duration> {
    (days > 0).then(|| Duration::from_secs(days.saturating_mul(24 * 3600)))
}

/// Options of `demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Delete the database first and start from a freshly seeded demo.
    #[arg(long)]
    pub fresh: bool,
}

/// Which transports the relay offers (`--media-transports`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports {
    pub udp: bool,
    pub tcp: bool,
}

fn parse_transports(text: &str) -> Result<Transports, String> {
    let mut t = Transports {
        udp: false,
        tcp: false,
    };
    for word in text.split(',').map(str::trim) {
        match word.to_ascii_lowercase().as_str() {
            "udp" => t.udp = true,
            "tcp" => t.tcp = true,
            other => {
                return Err(format!(
                    "expected udp, tcp or udp,tcp; {other:?} is not a transport"
                ))
            }
        }
    }
    Ok(t)
}

/// STUN/TURN servers, parsed from JSON.
#[derive(Debug, Clone)]
pub struct IceServers(pub Vec<switchboard_center::protocol::IceServer>);

fn parse_ice_servers(text: &str) -> Result<IceServers, String> {
    serde_json::from_str(text).map(IceServers).map_err(|e| {
        format!("expected a JSON list of {{\"urls\": [...], \"username\", \"credential\"}}: {e}")
    })
}

/// The relay's address by default: the HTTP one with the next port (0 stays 0).
fn default_media_listen(http: SocketAddr) -> SocketAddr {
    let mut a = http;
    if a.port() != 0 {
        a.set_port(a.port().wrapping_add(1));
    }
    a
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

fn config(args: &ServeArgs, demo: bool) -> Config {
    Config {
        listen: args.listen,
        database: args.database.clone(),
        public_url: args.public_url.clone(),
        account_sid: args.account_sid.clone(),
        auth_token: args.auth_token.clone(),
        webhook_attempts: 5,
        webhook_backoff: Duration::from_secs(1),
        fetch_timeout: Duration::from_secs(15),
        internal_call_workflow_sid: args.internal_call_workflow_sid.clone(),
        demo,
        queue_call_timeout: Duration::from_secs(args.queue_call_timeout),
        limits: switchboard_server::Limits {
            max_connections: args.max_connections,
            retention: retention(args.retention_days),
            snapshots: switchboard_server::SnapshotPolicy {
                every_entries: (args.snapshot_every > 0).then_some(args.snapshot_every),
                every: (args.snapshot_minutes > 0)
                    .then(|| Duration::from_secs(args.snapshot_minutes.saturating_mul(60))),
                ..switchboard_server::SnapshotPolicy::default()
            },
            ..switchboard_server::Limits::default()
        },
        clock: Default::default(),
        media: (!args.no_media).then(|| switchboard_server::MediaConfig {
            listen: args
                .media_listen
                .unwrap_or_else(|| default_media_listen(args.listen)),
            advertised: args.media_address,
            udp: args.media_transports.is_none_or(|t| t.udp),
            tcp: match args.media_transports {
                None => TcpListen::IfFree,
                Some(Transports { tcp: true, .. }) => TcpListen::Required,
                Some(_) => TcpListen::Off,
            },
            ice_servers: args.ice_servers.clone().map(|i| i.0).unwrap_or_default(),
            data_dir: args.data_dir.clone(),
            shortcut: !args.no_media_shortcut,
        }),
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    run(args, false, false)
}

/// Runs the server with the demo workspace seeded.
pub fn demo(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    if args.fresh {
        if switchboard_store::is_postgres(&args.serve.database) {
            anyhow::bail!(
                "demo --fresh deletes a SQLite file; to start a PostgreSQL database afresh, drop \
                 its schema (or use another one) and start without --fresh"
            );
        }
        if let Some(path) = switchboard_store::sqlite_path(&args.serve.database) {
            for suffix in ["", "-wal", "-shm"] {
                let file = format!("{path}{suffix}");
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).with_context(|| format!("removing {file}")),
                }
            }
        }
    }
    run(&args.serve, true, args.fresh)
}

/// Open files a server needs beyond one per desktop connection: its database, recordings,
/// listeners, the media socket and a margin.
const OTHER_FILES: u64 = 1_024;

/// Raises the soft open-files limit to the hard one: every desktop WebSocket and ICE-TCP
/// connection is a file descriptor, and service managers often leave the soft limit at 1,024,
/// far below `--max-connections`. Says so when even the hard limit is short.
fn raise_open_files_limit(max_connections: usize) {
    let wanted = (max_connections as u64).saturating_add(OTHER_FILES);
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < wanted => tracing::warn!(
            limit,
            wanted,
            "the open-files limit is below what --max-connections desktops and their audio \
             may need; raise it (ulimit -n, or LimitNOFILE= for a systemd service)"
        ),
        Ok(limit) => tracing::debug!(limit, "open-files limit"),
        Err(e) => tracing::warn!(error = %e, "the open-files limit could not be read or raised"),
    }
}

fn run(args: &ServeArgs, seed_demo: bool, fresh: bool) -> anyhow::Result<ExitCode> {
    init_logging();
    raise_open_files_limit(args.max_connections);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if let Some(node_id) = &args.node_id {
        return runtime.block_on(run_node(args, node_id, seed_demo));
    }
    runtime.block_on(async {
        let prepared = switchboard_server::prepare(config(args, seed_demo))
            .await
            .map_err(|e| {
                let hint = matches!(
                    e,
                    switchboard_server::StartError::Media(
                        switchboard_media::io::RelayError::Tcp(..)
                    )
                )
                .then_some(" (--media-transports udp runs the relay without its TCP listener)")
                .unwrap_or_default();
                anyhow::anyhow!("{e}{hint}")
            })
            .with_context(|| format!("starting the server on {}", args.listen))?;
        let addr = prepared.local_addr()?;
        let url = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        if seed_demo {
            let (workspace, created) = demo::seed(&prepared.core)
                .await
                .map_err(|e| anyhow::anyhow!("seeding the demo: {}", e.message))?;
            println!();
            println!("Switchboard demo is running at {url}");
            if created {
                println!("  Seeded the workspace \"{}\" ({workspace}).", demo::WORKSPACE_NAME);
            } else {
                println!("  Using the workspace \"{}\" ({workspace}) from the last run (--fresh starts over).", demo::WORKSPACE_NAME);
            }
            print_relay(&prepared);
            println!("  Account SID: {}", prepared.account_sid);
            println!("  Auth token:  {}", prepared.auth_token);
            println!();
            println!("  Agent desktop: open {url}/ in two browser windows, sign in as two agents");
            println!("  (e.g. alice and bob), and call one from the other with Call Agent.");
            println!();
            println!("  REST:  curl -u {}:{} {url}/v1/Workspaces/{workspace}/Workers", prepared.account_sid, prepared.auth_token);
            println!("  The official Twilio helper libraries work against it too (see docs/api.md).");
            println!();
            if fresh {
                tracing::info!("started from a fresh database");
            }
        } else {
            println!("Switchboard is listening at {url}");
            print_relay(&prepared);
            if prepared.credentials_created {
                println!("Created credentials (stored; shown this once):");
                println!("  Account SID: {}", prepared.account_sid);
                println!("  Auth token:  {}", prepared.auth_token);
            }
        }
        prepared.serve(shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// The banner's line about the audio relay: where it listens, or that it is off.
fn print_relay(prepared: &switchboard_server::Prepared) {
    let tcp = prepared.media_tcp_addrs().map(|(bound, advertised)| {
        if bound == advertised {
            format!("tcp {bound}")
        } else {
            format!("tcp {bound} (browsers connect to {advertised})")
        }
    });
    match (prepared.media_addrs(), tcp) {
        (Some((bound, advertised)), tcp) if prepared.media_offers_udp() => {
            let tcp = tcp.map(|t| format!(", {t}")).unwrap_or_default();
            println!("  Audio relay: udp {bound} (browsers send to {advertised}){tcp}")
        }
        (Some(_), Some(tcp)) => println!("  Audio relay: {tcp} only (--media-transports tcp)"),
        (Some(_), None) | (None, _) => println!("  Audio relay: off (--no-media)"),
    }
}

/// One node of a cluster on PostgreSQL (`--node-id`): serves until SIGINT or SIGTERM.
async fn run_node(args: &ServeArgs, node_id: &str, seed_demo: bool) -> anyhow::Result<ExitCode> {
    use switchboard_server::cluster::{self, ClusterConfig};
    let advertise = args
        .advertise_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let mut cluster = ClusterConfig::new(node_id, advertise);
    cluster.lease = Duration::from_millis(args.lease_ms.max(300));
    cluster.takeover_wait = (cluster.lease * 3).max(Duration::from_secs(10));
    let hook: cluster::OwnerHook = std::sync::Arc::new(move |owner| {
        Box::pin(async move {
            if let Some((sid, token)) = &owner.created_credentials {
                println!("Created credentials (stored; shown this once):");
                println!("  Account SID: {sid}");
                println!("  Auth token:  {token}");
            }
            if seed_demo {
                if let Err(e) = demo::seed(&owner.core).await {
                    tracing::error!("seeding the demo: {}", e.message);
                }
            }
        })
    });
    println!(
        "Switchboard node {node_id} is listening at http://{}",
        args.listen
    );
    cluster::run(
        config(args, seed_demo),
        cluster,
        Some(hook),
        shutdown_signal(),
    )
    .await
    .with_context(|| format!("running node {node_id} on {}", args.listen))?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
