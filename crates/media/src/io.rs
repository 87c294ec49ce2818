//! The thin shell around [`Engine`]: one UDP socket, the clock, and channels.
//!
//! # Thread model
//! [`Relay::spawn`] binds the socket and starts one dedicated thread, `switchboard-media`, that
//! runs a single-threaded tokio runtime owning the socket and the engine. Why this shape:
//! - The engine is one mutable state machine; one owner thread needs no locks, and the loop
//!   is "wait for the socket, a command or the next deadline, then drain": exactly what
//!   `tokio::select!` expresses, without polling or a self-pipe to wake a blocking `recv`.
//! - A thread of its own keeps packet timing away from the server's worker pool: an HTTP burst
//!   or a database commit never delays a 20 ms frame. Sharding later means more such threads,
//!   each with its own socket.
//! - tokio is already in the server's tree, so this adds nothing to the build.
//!
//! # Batching
//! Receiving goes through `quinn-udp`: `recvmmsg` (up to [`quinn_udp::BATCH_SIZE`] datagrams
//! per system call) and GRO where the kernel offers it, so one wake-up handles a whole burst.
//! Sending drains the engine after every batch, groups datagrams by destination and sends runs
//! of equal-sized datagrams to one destination as one GSO `sendmsg` where available (one
//! system call per datagram otherwise).
//!
//! # Channels
//! Commands ([`RelayHandle`]) go over a bounded channel and are answered through oneshots;
//! events go out over a bounded channel and are dropped (and logged) when nobody reads them,
//! so a slow consumer can never stall the media loop.

use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use quinn_udp::{RecvMeta, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::engine::{Counters, Engine, EngineConfig, MediaEvent, Transmit};
use crate::error::MediaError;
use crate::graph::{Graph, PeerId};

/// Commands waiting for the media thread.
const COMMAND_QUEUE: usize = 256;
/// Events waiting for the consumer.
const EVENT_CHANNEL: usize = 1_024;
/// Receive batches handled per wake-up before timers and commands get a turn.
const BATCHES_PER_WAKE: usize = 8;
/// Bytes of receive buffer per datagram slot without GRO.
const SLOT_BYTES: usize = 2_048;

/// How the relay is set up.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Where to bind the socket (the server's `--media-listen`), e.g. `0.0.0.0:3478`, or
    /// `127.0.0.1:0` in tests.
    pub listen: SocketAddr,
    /// What peers are told to send to: the answer's only host candidate. `None` means the
    /// bound address (which must then not be unspecified, like `0.0.0.0`); a port of 0 means
    /// the bound port.
    pub advertised: Option<SocketAddr>,
    /// See [`EngineConfig::silence_after`].
    pub silence_after: Duration,
    /// See [`EngineConfig::connect_timeout`].
    pub connect_timeout: Duration,
    /// See [`EngineConfig::mix_complexity`].
    pub mix_complexity: i32,
}

impl RelayConfig {
    /// Binds `listen` and advertises the bound address, with the engine's defaults.
    pub fn new(listen: SocketAddr) -> RelayConfig {
        let defaults = EngineConfig::new(listen);
        RelayConfig {
            listen,
            advertised: None,
            silence_after: defaults.silence_after,
            connect_timeout: defaults.connect_timeout,
            mix_complexity: defaults.mix_complexity,
        }
    }
}

/// Why the relay could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The socket could not be set up.
    #[error("media socket: {0}")]
    Io(#[from] io::Error),
    /// The advertised address is unusable.
    #[error("cannot advertise {0}: say which address peers reach")]
    Unadvertisable(SocketAddr),
    /// The engine refused.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The media thread is gone.
    #[error("the media relay has stopped")]
    Stopped,
}

enum Command {
    AddPeer {
        id: PeerId,
        offer: String,
        reply: oneshot::Sender<Result<String, MediaError>>,
    },
    RestartPeer {
        id: PeerId,
        offer: String,
        reply: oneshot::Sender<Result<String, MediaError>>,
    },
    RemovePeer {
        id: PeerId,
        reply: oneshot::Sender<bool>,
    },
    SetGraph(Graph),
    Counters(oneshot::Sender<Counters>),
    Shutdown,
}

/// Sends commands to the media thread; cheap to clone.
#[derive(Debug, Clone)]
pub struct RelayHandle {
    commands: mpsc::Sender<Command>,
    local_addr: SocketAddr,
    advertised: SocketAddr,
}

impl RelayHandle {
    /// See [`Engine::add_peer`].
    pub async fn add_peer(&self, id: PeerId, offer: String) -> Result<String, RelayError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::AddPeer { id, offer, reply }).await?;
        Ok(answer.await.map_err(|_| RelayError::Stopped)??)
    }

    /// See [`Engine::restart_peer`].
    pub async fn restart_peer(&self, id: PeerId, offer: String) -> Result<String, RelayError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::RestartPeer { id, offer, reply }).await?;
        Ok(answer.await.map_err(|_| RelayError::Stopped)??)
    }

    /// See [`Engine::remove_peer`].
    pub async fn remove_peer(&self, id: PeerId) -> Result<bool, RelayError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::RemovePeer { id, reply }).await?;
        answer.await.map_err(|_| RelayError::Stopped)
    }

    /// See [`Engine::set_graph`].
    pub async fn set_graph(&self, graph: Graph) -> Result<(), RelayError> {
        self.send(Command::SetGraph(graph)).await
    }

    /// [`RelayHandle::set_graph`] from a thread that is not async (the server's core), without
    /// waiting for the relay to take it.
    pub fn set_graph_blocking(&self, graph: Graph) -> Result<(), RelayError> {
        self.commands
            .blocking_send(Command::SetGraph(graph))
            .map_err(|_| RelayError::Stopped)
    }

    /// [`RelayHandle::remove_peer`] from a thread that is not async, not waiting for the answer.
    pub fn remove_peer_blocking(&self, id: PeerId) -> Result<(), RelayError> {
        let (reply, _) = oneshot::channel();
        self.commands
            .blocking_send(Command::RemovePeer { id, reply })
            .map_err(|_| RelayError::Stopped)
    }

    /// See [`Engine::counters`].
    pub async fn counters(&self) -> Result<Counters, RelayError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Counters(reply)).await?;
        answer.await.map_err(|_| RelayError::Stopped)
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address peers are told to send to.
    pub fn advertised(&self) -> SocketAddr {
        self.advertised
    }

    async fn send(&self, c: Command) -> Result<(), RelayError> {
        self.commands.send(c).await.map_err(|_| RelayError::Stopped)
    }
}

/// The running relay: its handle, its events, its thread.
pub struct Relay {
    handle: RelayHandle,
    events: mpsc::Receiver<MediaEvent>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Relay {
    /// Binds the socket, builds the engine and starts the media thread.
    pub fn spawn(config: RelayConfig) -> Result<Relay, RelayError> {
        let socket = StdUdpSocket::bind(config.listen)?;
        socket.set_nonblocking(true)?;
        let local_addr = socket.local_addr()?;
        let mut advertised = config.advertised.unwrap_or(local_addr);
        if advertised.port() == 0 {
            advertised.set_port(local_addr.port());
        }
        if advertised.ip().is_unspecified() {
            return Err(RelayError::Unadvertisable(advertised));
        }
        let mut engine_config = EngineConfig::new(advertised);
        engine_config.silence_after = config.silence_after;
        engine_config.connect_timeout = config.connect_timeout;
        engine_config.mix_complexity = config.mix_complexity;
        let engine = Engine::new(engine_config)?;
        let state = UdpSocketState::new((&socket).into())?;
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (event_tx, events) = mpsc::channel(EVENT_CHANNEL);
        let thread = std::thread::Builder::new()
            .name("switchboard-media".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()?;
                runtime.block_on(async move {
                    let socket = UdpSocket::from_std(socket)?;
                    Shell {
                        socket,
                        state,
                        engine,
                        advertised,
                        events: event_tx,
                        dropped_events: 0,
                    }
                    .run(command_rx)
                    .await
                })
            })?;
        info!(%local_addr, %advertised, "media relay started");
        Ok(Relay {
            handle: RelayHandle {
                commands,
                local_addr,
                advertised,
            },
            events,
            thread: Some(thread),
        })
    }

    /// A handle for commands.
    pub fn handle(&self) -> RelayHandle {
        self.handle.clone()
    }

    /// The events (connected, disconnected, stopped or resumed sending).
    pub fn events(&mut self) -> &mut mpsc::Receiver<MediaEvent> {
        &mut self.events
    }

    /// Stops the media thread and waits for it.
    pub fn shutdown(mut self) -> Result<(), RelayError> {
        // The thread also stops when every handle is dropped; this does not wait for that.
        let _ = self.handle.commands.try_send(Command::Shutdown);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => Ok(r?),
            Some(Err(_)) => Err(RelayError::Stopped),
            None => Ok(()),
        }
    }
}

struct Shell {
    socket: UdpSocket,
    state: UdpSocketState,
    engine: Engine,
    advertised: SocketAddr,
    events: mpsc::Sender<MediaEvent>,
    dropped_events: u64,
}

impl Shell {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) -> io::Result<()> {
        let slot = SLOT_BYTES
            .max(self.state.gro_segments() * 1_500)
            .min(64 * 1024);
        let mut bufs = vec![vec![0u8; slot]; quinn_udp::BATCH_SIZE];
        let mut metas = vec![RecvMeta::default(); quinn_udp::BATCH_SIZE];
        let mut outgoing = Vec::new();
        let mut scratch = Vec::new();
        loop {
            self.flush(&mut outgoing, &mut scratch).await?;
            let deadline = self.engine.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    None | Some(Command::Shutdown) => {
                        info!("media relay stopped");
                        return Ok(());
                    }
                    Some(c) => self.apply(c),
                },
                ready = self.socket.readable() => {
                    ready?;
                    self.receive(&mut bufs, &mut metas, &mut outgoing, &mut scratch).await?;
                }
                () = sleep => self.engine.handle_timeout(Instant::now()),
            }
        }
    }

    fn apply(&mut self, c: Command) {
        let now = Instant::now();
        match c {
            Command::AddPeer { id, offer, reply } => {
                let _ = reply.send(self.engine.add_peer(now, id, &offer));
            }
            Command::RestartPeer { id, offer, reply } => {
                let _ = reply.send(self.engine.restart_peer(now, id, &offer));
            }
            Command::RemovePeer { id, reply } => {
                let _ = reply.send(self.engine.remove_peer(id));
            }
            Command::SetGraph(g) => self.engine.set_graph(&g),
            Command::Counters(reply) => {
                let _ = reply.send(self.engine.counters());
            }
            Command::Shutdown => {}
        }
    }

    async fn receive(
        &mut self,
        bufs: &mut [Vec<u8>],
        metas: &mut [RecvMeta],
        outgoing: &mut Vec<Transmit>,
        scratch: &mut Vec<u8>,
    ) -> io::Result<()> {
        for _ in 0..BATCHES_PER_WAKE {
            let mut slices: Vec<IoSliceMut<'_>> =
                bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
            let received = self.socket.try_io(Interest::READABLE, || {
                self.state.recv((&self.socket).into(), &mut slices, metas)
            });
            let n = match received {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => {
                    // ICMP errors surface here on some systems; they concern one peer only.
                    debug!(error = %e, "receive failed");
                    return Ok(());
                }
            };
            let now = Instant::now();
            for (meta, buf) in metas.iter().zip(slices.iter()).take(n) {
                let from = SocketAddr::new(meta.addr.ip().to_canonical(), meta.addr.port());
                let data = buf.get(..meta.len).unwrap_or_default();
                for datagram in data.chunks(meta.stride.max(1)) {
                    self.engine
                        .handle_datagram(now, from, self.advertised, datagram);
                }
            }
            self.flush(outgoing, scratch).await?;
        }
        Ok(())
    }

    /// Sends what the engine queued and forwards its events (the drain contract).
    async fn flush(
        &mut self,
        outgoing: &mut Vec<Transmit>,
        scratch: &mut Vec<u8>,
    ) -> io::Result<()> {
        while let Some(e) = self.engine.poll_event() {
            if self.events.try_send(e).is_err() {
                self.dropped_events += 1;
                warn!(dropped = self.dropped_events, "media event dropped");
            }
        }
        outgoing.clear();
        while let Some(t) = self.engine.poll_transmit() {
            outgoing.push(t);
        }
        // Runs to one destination can go out as one GSO send; the order per destination is
        // kept.
        outgoing.sort_by_key(|t| t.destination);
        let max_segments = self.state.max_gso_segments().max(1);
        let mut i = 0;
        while let Some(first) = outgoing.get(i) {
            let size = first.contents.len();
            let mut end = i + 1;
            while end - i < max_segments {
                match outgoing.get(end) {
                    Some(t) if t.destination == first.destination && t.contents.len() == size => {
                        end += 1;
                    }
                    _ => break,
                }
            }
            let run = outgoing.get(i..end).unwrap_or_default();
            let (contents, segment_size) = if run.len() == 1 {
                (first.contents.as_slice(), None)
            } else {
                scratch.clear();
                for t in run {
                    scratch.extend_from_slice(&t.contents);
                }
                (scratch.as_slice(), Some(size))
            };
            let transmit = quinn_udp::Transmit {
                destination: first.destination,
                ecn: None,
                contents,
                segment_size,
                src_ip: None,
            };
            loop {
                let sent = self.socket.try_io(Interest::WRITABLE, || {
                    self.state.send((&self.socket).into(), &transmit)
                });
                match sent {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.socket.writable().await?;
                    }
                    Err(e) => {
                        debug!(error = %e, to = %transmit.destination, "send failed");
                        break;
                    }
                }
            }
            i = end;
        }
        Ok(())
    }
}
