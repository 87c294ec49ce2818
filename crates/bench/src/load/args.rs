//! The options of `switchboard load`.

use std::path::PathBuf;

/// Options of `switchboard load`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// A running server to load (base URL, e.g. http://127.0.0.1:3000). Without it, a server is
    /// started from --bin on 127.0.0.1 with a fresh temporary database and the demo workspace,
    /// and stopped at the end.
    #[arg(long)]
    pub url: Option<String>,
    /// The server binary to start when --url is not given (default: this program).
    #[arg(long)]
    pub bin: Option<String>,
    /// The account SID for REST requests (default: the started server's; required with --url).
    #[arg(long, env = "TWILIO_ACCOUNT_SID", hide_env_values = true)]
    pub account_sid: Option<String>,
    /// The account's auth token (default: the started server's; required with --url).
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// The workspace to work in (default: the one named "Flex Task Assignment"; it needs the
    /// Internal Call application, workflow and Flex flags that `demo` or `provision` set up).
    #[arg(long)]
    pub workspace_sid: Option<String>,
    /// Simulated agent desktops (workers created for the run). Ignored with --steps.
    #[arg(long, default_value_t = 100)]
    pub agents: usize,
    /// New internal calls per second.
    #[arg(long, default_value_t = 5.0)]
    pub call_rate: f64,
    /// Fraction of the calls placed to the queue instead of to an agent (0 to 1); also the
    /// fraction of agents that are the queue's members.
    #[arg(long, default_value_t = 0.2)]
    pub queue_share: f64,
    /// The queue calls go to (`callToQueue`); its members need the skill named like it, in
    /// lower case (the demo's Sales and Support queues).
    #[arg(long, default_value = "Sales")]
    pub queue: String,
    /// How long a connected call lasts before one side (caller or callee, at random) hangs up,
    /// in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub talk_ms: u64,
    /// Seconds of load per step (calls and REST requests are started during this time; the
    /// calls in progress then finish).
    #[arg(long, default_value_t = 10.0)]
    pub duration_s: f64,
    /// REST requests per second (task create, update, list in turn; 0: none).
    #[arg(long, default_value_t = 0.0)]
    pub rest_rate: f64,
    /// Which REST requests, taken in turn: create, update (cancels a task created earlier),
    /// list.
    #[arg(long, value_delimiter = ',', default_value = "create,update,list")]
    pub rest_ops: Vec<String>,
    /// A sweep: the numbers of agents to measure at, in order, on the same server (agents are
    /// added between steps), e.g. 1000,2000,5000. Default: --agents alone.
    #[arg(long, value_delimiter = ',')]
    pub steps: Vec<usize>,
    /// Write the figures to this JSON file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Draw latency against load into this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Seed of the choices of callers, callees, call kinds and who hangs up.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The server's process id, to report its CPU and memory when it runs elsewhere (--url);
    /// ignored when this command starts the server.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Real audio on every connected call: once a desktop sees its call connected it opens a
    /// WebRTC connection to the server's relay (a str0m peer on its own UDP socket, offered
    /// with `media_offer` on its desktop socket, as the browser does), sends an 80-byte frame
    /// every 20 ms (an Opus TOC byte, then the sender, a sequence number and the send time; the
    /// relay forwards it without decoding), and closes it (`media_close`) when the call ends.
    /// Reported per step: the most calls at once whose two sides both receive the other's
    /// frames, loss, one-way delay, peers that never connected. Cost: two peers per call in this
    /// process (a UDP socket, DTLS and 50 packets a second each way per peer) on
    /// --media-threads threads, about a seventh of a core per 100 calls (docs/benchmarks.md),
    /// and the relay's forwarding in the server, about a tenth to a fifth of a core per 100
    /// calls. A started
    /// server gets a relay on 127.0.0.1; a --url server needs one.
    #[arg(long)]
    pub media: bool,
    /// Client threads the --media peers run on (each one loop over its peers' sockets).
    #[arg(long, default_value_t = 1)]
    pub media_threads: usize,
    /// Desktops signing in at once while they connect.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// A fault run instead of a measurement (needs a server started here, so not --url):
    /// `kill-server` places calls at --call-rate until --fault-calls are connected at once,
    /// kills the server with SIGKILL, starts it again on the same database and port, and checks
    /// that every desktop signs in again, no task is left pending, reserved, assigned or
    /// wrapping, no task was accepted twice (the Events API), and new calls to a sample of
    /// agents ring. Prints what it found (also with --json) and fails when a check fails.
    /// `slow-webhook` (answers after 2 s) and `webhook-down` (connection refused) set the
    /// workspace's EventCallbackUrl to such a receiver and then measure as usual (compare with
    /// a run without --fault); the report adds how many webhooks arrived and events were stored.
    /// `disk-full` fills the filesystem of the started server's database (run with TMPDIR on a
    /// small tmpfs; at most 256 MiB are written), makes changes, frees the space, restarts the
    /// server if changes are still refused, and checks: a clear refusal, nothing acknowledged
    /// lost, service back, new calls ring.
    #[arg(long, value_enum)]
    pub fault: Option<Fault>,
    /// Calls connected at once when a fault is injected.
    #[arg(long, default_value_t = 1000)]
    pub fault_calls: usize,
    /// Calls placed after the fault to check that agents are routable again.
    #[arg(long, default_value_t = 50)]
    pub fault_sample: usize,
}

/// Which fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// SIGKILL the server during the calls and start it again on the same database.
    KillServer,
    /// The workspace's EventCallbackUrl answers every webhook after 2 s; the steps are measured
    /// as usual (compare with a run without it).
    SlowWebhook,
    /// The workspace's EventCallbackUrl refuses connections (nothing listens); measured as usual.
    WebhookDown,
    /// Fills the filesystem the database is on (it must be a small one: run with TMPDIR on a
    /// small tmpfs), tries changes, frees the space, and checks what was acknowledged.
    DiskFull,
}
