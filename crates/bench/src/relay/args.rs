//! The options of `switchboard-bench relay`.

/// Options of `relay`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The server binary.
    #[arg(long, default_value = "target/release/switchboard")]
    pub bin: String,
    /// Concurrent two-party calls, ramped up in this order.
    #[arg(long, value_delimiter = ',', default_value = "100,250,500,1000")]
    pub calls: Vec<usize>,
    /// Mixed participants, ramped up in this order (empty: no mixing runs).
    #[arg(long, value_delimiter = ',', default_value = "50,100,150,200")]
    pub participants: Vec<usize>,
    /// Participants per mixed room.
    #[arg(long, default_value_t = 3)]
    pub room: usize,
    /// libopus complexity of our relay's mix encoders (0..=10; the relay's default is 5).
    #[arg(long, default_value_t = 5)]
    pub mix_complexity: i32,
    /// Seconds of the measurement window at every size.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Seconds between the last peer connecting and the window.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// Calls (or participants) being set up at once.
    #[arg(long, default_value_t = 4)]
    pub setup_concurrency: usize,
    /// Client threads the peers run on (each one loop over its peers' sockets).
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// CPUs for the server, Janus and the in-process media thread (a `taskset` list; empty:
    /// no pinning).
    #[arg(long, default_value = "0")]
    pub server_cpus: String,
    /// CPUs for the bench itself, the simulated agents (a `taskset` list; empty: no pinning).
    #[arg(long, default_value = "1")]
    pub client_cpus: String,
    /// Run Janus on the same loads: `auto` (when `--janus-bin` exists), `on` or `off`.
    #[arg(long, default_value = "auto")]
    pub janus: String,
    /// The Janus binary.
    #[arg(long, default_value = "/usr/bin/janus")]
    pub janus_bin: String,
    /// The local address Janus gathers on and its peers bind to (default: this host's first
    /// global IPv4 address; Janus gathers no loopback candidates).
    #[arg(long)]
    pub janus_ip: Option<String>,
    /// How our simulated agents reach our relay when forwarding: `udp`, or `tcp` (ICE-TCP: one
    /// connection each to the relay's TCP listener; the server then runs with
    /// `--media-transports tcp`). Janus's peers use UDP either way.
    #[arg(long, default_value = "udp", value_parser = ["udp", "tcp"])]
    pub transport: String,
    /// Only these parts: `forward`, `mix` (default both).
    #[arg(long, value_delimiter = ',', default_value = "forward,mix")]
    pub only: Vec<String>,
    /// Draw server CPU against load into this SVG file.
    #[arg(long)]
    pub plot: Option<String>,
}
