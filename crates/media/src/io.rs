//! The thin shell around [`Engine`]: one UDP socket, a TCP listener for ICE-TCP, the clock,
//! and channels.
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
//! Sending drains the engine after every batch and groups datagrams by destination. Runs of
//! equal-sized datagrams to one destination go as one GSO `sendmsg` where available; the rest
//! (in forwarding nearly every datagram: each goes to a different receiver) go up to
//! 64 per `sendmmsg` on Linux, one system call each elsewhere. On the 2-core test
//! machine `sendmmsg` cut the system calls per forwarded datagram, not measurably the CPU: the
//! kernel's time is in its UDP and loopback path per datagram, not in the calls'
//! entries (`docs/benchmarks.md`).
//!
//! # ICE-TCP
//! Unless [`RelayConfig::tcp`] is off, the relay also listens on TCP (same address, same port
//! number) and every answer has a passive TCP candidate there, below UDP in priority: a
//! browser whose network lets no UDP out connects to it (RFC 6544) and sends its STUN, DTLS and
//! SRTP as RFC 4571 frames. Each accepted connection gets a reader task and a writer task on
//! the media thread's runtime. The reader splits the stream into datagrams ([`Deframer`]) and
//! hands them to the media loop over one bounded channel; the loop gives them to the engine as
//! [`Transport::Tcp`] datagrams from the connection's remote address. What the engine sends
//! over TCP goes, framed, to that connection's writer over a bounded queue (full: dropped and
//! counted, as a UDP socket would). A connection closes when the browser closes it, at a frame
//! longer than any datagram, when no ICE check has succeeded on it within
//! [`RelayConfig::tcp_admit_within`] of its accept, or once nothing from it has reached a peer
//! for [`RelayConfig::tcp_idle`] (30 s; its peer gone, say); one IP address holds at most
//! [`RelayConfig::max_unadmitted_tcp_per_ip`] connections not yet admitted; at most
//! [`RelayConfig::max_tcp_connections`] are open (Chromium opens one while it checks even when
//! UDP wins, so count one per desktop). ICE still decides: a connection is only a path once the
//! engine's ICE check on it succeeded.
//!
//! # Channels
//! Commands ([`RelayHandle`]) go over a bounded channel and are answered through oneshots;
//! events go out over a bounded channel and are dropped (and logged) when nobody reads them,
//! so a slow consumer can never stall the media loop.
//!
//! # Recordings
//! A second thread, `switchboard-recorder` (module `record`), owns the recordings' files. The
//! media thread keeps the recordings' specs and gives them to the engine; the engine's
//! [`MediaEvent::RecordingAudio`] frames go to the writer over a bounded channel
//! ([`RECORDING_QUEUE`](crate::RECORDING_QUEUE)) with `try_send`, never over the event
//! channel. A frame the writer cannot take is counted
//! ([`Counters::recording_frames_dropped`]) and written as silence once it can, so a file
//! keeps the call's length. Starting creates the file (never over an existing one) before the
//! engine records; stopping takes the recording out of the engine, passes every frame it made
//! to the writer, then has the writer finalize the header and fsync the file and its
//! directory: the [`RecordingSummary`] comes back only then.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use quinn_udp::{RecvMeta, UdpSocketState};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::engine::{Counters, Engine, EngineConfig, MediaEvent, Transmit, Transport};
use crate::error::MediaError;
use crate::framing::{self, Deframer};
use crate::graph::{Graph, PeerId, RecordingId, RecordingSpec};
use crate::record::{RecordingError, RecordingSummary, Writer, WriterMessage};

/// Commands waiting for the media thread.
const COMMAND_QUEUE: usize = 256;
/// Events waiting for the consumer.
const EVENT_CHANNEL: usize = 1_024;
/// Receive batches handled per wake-up before timers and commands get a turn.
const BATCHES_PER_WAKE: usize = 8;
/// Datagrams per `sendmmsg`.
#[cfg(target_os = "linux")]
const SEND_BATCH: usize = 64;
/// Bytes of receive buffer per datagram slot without GRO.
const SLOT_BYTES: usize = 2_048;
/// ICE-TCP connections open at once; more are closed as soon as they are accepted. As many as
/// the engine takes peers by default: Chromium opens one to the passive candidate while it
/// checks even when UDP wins, so every desktop may hold one. Each costs a few KiB here.
pub const MAX_TCP_CONNECTIONS: usize = 10_000;
/// The largest frame taken on an ICE-TCP connection: browsers keep datagrams under the path
/// MTU; a longer length means the stream is not ICE-TCP, and the connection is closed.
const MAX_TCP_FRAME: usize = 4_096;
/// Frames waiting to be written to one ICE-TCP connection (as
/// [`PEER_TRANSMIT_QUEUE`](crate::PEER_TRANSMIT_QUEUE); beyond this the newest are dropped and
/// counted).
const TCP_WRITE_QUEUE: usize = 64;
/// Frames read from all ICE-TCP connections waiting for the media loop; a full queue holds
/// the readers back (TCP's own flow control then slows the browsers).
const TCP_READ_QUEUE: usize = 1_024;
/// After a failed accept (out of file descriptors, say), the listener rests this long: the
/// failure would repeat at once and spin the media loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// An admitted ICE-TCP connection that carries nothing that reaches a peer for this long is
/// closed ([`RelayConfig::tcp_idle`] by default): a live one carries a consent check every few
/// seconds, and audio.
pub const TCP_IDLE: Duration = Duration::from_secs(30);
/// ICE-TCP connections from one IP address without a successful ICE check yet
/// ([`RelayConfig::max_unadmitted_tcp_per_ip`] by default). Each browser has one at a time,
/// for the few milliseconds before its first check.
pub const MAX_UNADMITTED_TCP_PER_IP: usize = 64;
/// An ICE-TCP connection on which no ICE check has succeeded this long after it was accepted
/// is closed ([`RelayConfig::tcp_admit_within`] by default). A browser sends its first check
/// as soon as the connection is up; a connection that never carries one only holds a slot.
pub const TCP_ADMIT_WITHIN: Duration = Duration::from_secs(10);

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
    /// See [`EngineConfig::shortcut`].
    pub shortcut: bool,
    /// The socket's receive and send buffers, in bytes ([`SOCKET_BUFFER`] by default). The
    /// kernel's default (about 208 KiB) holds a few milliseconds of a thousand calls' packets:
    /// whenever the media thread waits for a CPU that long, datagrams are dropped before it
    /// reads them. The kernel caps the size at `net.core.rmem_max` / `wmem_max`; the relay says
    /// so in its log when it got less than asked.
    pub socket_buffer: usize,
    /// Whether answers offer the UDP socket (`true` by default). The socket is bound either
    /// way; without it browsers must reach the relay over TCP.
    pub udp: bool,
    /// Whether the relay also listens on TCP (ICE-TCP, RFC 6544; [`TcpListen::IfFree`] by
    /// default), on the same address and port number as the UDP socket (any free port when
    /// that is taken and the UDP port was chosen by the system), for browsers on networks that
    /// let no UDP through. Its passive candidate ranks below UDP, so browsers that can use UDP
    /// do.
    pub tcp: TcpListen,
    /// ICE-TCP connections open at once ([`MAX_TCP_CONNECTIONS`] by default); more are closed
    /// as soon as they are accepted.
    pub max_tcp_connections: usize,
    /// How long an ICE-TCP connection may stay open before an ICE check on it succeeds
    /// ([`TCP_ADMIT_WITHIN`] by default): connections that carry nothing a peer accepts cannot
    /// keep slots of [`RelayConfig::max_tcp_connections`] for long.
    pub tcp_admit_within: Duration,
    /// How long an admitted ICE-TCP connection stays open with nothing from it reaching a peer
    /// ([`TCP_IDLE`] by default): a live one carries a consent check every few seconds, and
    /// audio; one whose peer is gone, or that only repeats junk, is closed.
    pub tcp_idle: Duration,
    /// ICE-TCP connections from one IP address open at once without a successful ICE check
    /// yet ([`MAX_UNADMITTED_TCP_PER_IP`] by default; more are closed as soon as they are
    /// accepted). Admitted ones do not count: a contact center's desktops behind one NAT hold
    /// as many as they need, while one host cannot fill the relay's slots with connections
    /// that never check.
    pub max_unadmitted_tcp_per_ip: usize,
}

/// Whether the relay listens on TCP for ICE-TCP ([`RelayConfig::tcp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpListen {
    /// No listener: browsers reach the relay over UDP, or through a TURN server.
    Off,
    /// A listener when its port is free on TCP; when it is taken, the relay starts without one
    /// and says so in its log.
    IfFree,
    /// A listener, or the relay does not start ([`RelayError::Tcp`]).
    Required,
}

/// The default size of the media socket's buffers: 4 MiB each way, about 40 ms of 1,000
/// two-party calls' packets as the kernel counts them.
pub const SOCKET_BUFFER: usize = 4 << 20;

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
            shortcut: defaults.shortcut,
            socket_buffer: SOCKET_BUFFER,
            udp: true,
            tcp: TcpListen::IfFree,
            max_tcp_connections: MAX_TCP_CONNECTIONS,
            tcp_admit_within: TCP_ADMIT_WITHIN,
            tcp_idle: TCP_IDLE,
            max_unadmitted_tcp_per_ip: MAX_UNADMITTED_TCP_PER_IP,
        }
    }
}

/// Why the relay could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The socket could not be set up.
    #[error("media socket: {0}")]
    Io(#[from] io::Error),
    /// The TCP listener could not be set up.
    #[error("media TCP listener on {0}: {1}")]
    Tcp(SocketAddr, io::Error),
    /// The advertised address is unusable.
    #[error("cannot advertise {0}: say which address peers reach")]
    Unadvertisable(SocketAddr),
    /// The engine refused.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// A recording could not be started, changed or finished.
    #[error(transparent)]
    Recording(#[from] RecordingError),
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
    StartRecording {
        id: RecordingId,
        spec: RecordingSpec,
    },
    UpdateRecording {
        id: RecordingId,
        spec: RecordingSpec,
        reply: Option<oneshot::Sender<Result<(), RecordingError>>>,
    },
    /// Answers with the frames dropped since the last one the writer took (to be written as
    /// silence), or `None` when the engine had no such recording.
    StopRecording {
        id: RecordingId,
        reply: oneshot::Sender<Option<u32>>,
    },
    Counters(oneshot::Sender<Counters>),
    Shutdown,
}

/// Sends commands to the media thread; cheap to clone.
#[derive(Debug, Clone)]
pub struct RelayHandle {
    commands: mpsc::Sender<Command>,
    writer: mpsc::Sender<WriterMessage>,
    local_addr: SocketAddr,
    advertised: SocketAddr,
    udp: bool,
    tcp: Option<(SocketAddr, SocketAddr)>,
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

    /// Starts recording `spec` into a new WAV file at `path` (16-bit PCM, 2 channels, 16 kHz).
    /// Returns once the file exists with its header, synced to disk, and the engine records;
    /// fails if the file cannot be created (its directory is missing, it already exists: a
    /// recording never overwrites a file) or `id` is already recording. The first frame
    /// follows within 20 ms.
    pub async fn start_recording(
        &self,
        id: RecordingId,
        path: PathBuf,
        spec: RecordingSpec,
    ) -> Result<(), RelayError> {
        let (reply, opened) = oneshot::channel();
        self.writer
            .send(WriterMessage::Open { id, path, reply })
            .await
            .map_err(|_| RelayError::Stopped)?;
        opened.await.map_err(|_| RelayError::Stopped)??;
        self.send(Command::StartRecording { id, spec }).await
    }

    /// Changes what a running recording records (its sources, or paused). See
    /// [`Engine::set_recordings`].
    pub async fn update_recording(
        &self,
        id: RecordingId,
        spec: RecordingSpec,
    ) -> Result<(), RelayError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::UpdateRecording {
            id,
            spec,
            reply: Some(reply),
        })
        .await?;
        Ok(answer.await.map_err(|_| RelayError::Stopped)??)
    }

    /// Stops a recording and returns its summary once the file is complete: every frame the
    /// engine made is written, the WAV header is final, and the file and its directory are
    /// fsynced, so a crash after this returns loses nothing of it. If the media thread is gone,
    /// the writer still finalizes what it has.
    pub async fn stop_recording(&self, id: RecordingId) -> Result<RecordingSummary, RelayError> {
        let (reply, gap) = oneshot::channel();
        let silent_before = match self.send(Command::StopRecording { id, reply }).await {
            Ok(()) => gap.await.ok().flatten().unwrap_or(0),
            Err(_) => 0,
        };
        let (reply, done) = oneshot::channel();
        self.writer
            .send(WriterMessage::Stop {
                id,
                silent_before,
                reply,
            })
            .await
            .map_err(|_| RelayError::Stopped)?;
        Ok(done.await.map_err(|_| RelayError::Stopped)??)
    }

    /// [`RelayHandle::start_recording`] from a thread that is not async (not from inside a
    /// tokio runtime): it waits for the file to be created (and synced), then for the relay
    /// to take the command.
    pub fn start_recording_blocking(
        &self,
        id: RecordingId,
        path: PathBuf,
        spec: RecordingSpec,
    ) -> Result<(), RelayError> {
        let (reply, opened) = oneshot::channel();
        self.writer
            .blocking_send(WriterMessage::Open { id, path, reply })
            .map_err(|_| RelayError::Stopped)?;
        opened.blocking_recv().map_err(|_| RelayError::Stopped)??;
        self.commands
            .blocking_send(Command::StartRecording { id, spec })
            .map_err(|_| RelayError::Stopped)
    }

    /// [`RelayHandle::update_recording`] from a thread that is not async, without waiting for
    /// the relay to take it (an unknown `id` is then only logged).
    pub fn update_recording_blocking(
        &self,
        id: RecordingId,
        spec: RecordingSpec,
    ) -> Result<(), RelayError> {
        self.commands
            .blocking_send(Command::UpdateRecording {
                id,
                spec,
                reply: None,
            })
            .map_err(|_| RelayError::Stopped)
    }

    /// [`RelayHandle::stop_recording`] from a thread that is not async (not from inside a
    /// tokio runtime). It waits for the fsyncs: milliseconds on an SSD, more on a busy disk.
    pub fn stop_recording_blocking(&self, id: RecordingId) -> Result<RecordingSummary, RelayError> {
        let (reply, gap) = oneshot::channel();
        let silent_before = match self
            .commands
            .blocking_send(Command::StopRecording { id, reply })
        {
            Ok(()) => gap.blocking_recv().ok().flatten().unwrap_or(0),
            Err(_) => 0,
        };
        let (reply, done) = oneshot::channel();
        self.writer
            .blocking_send(WriterMessage::Stop {
                id,
                silent_before,
                reply,
            })
            .map_err(|_| RelayError::Stopped)?;
        Ok(done.blocking_recv().map_err(|_| RelayError::Stopped)??)
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

    /// Whether answers offer the UDP socket ([`RelayConfig::udp`]).
    pub fn offers_udp(&self) -> bool {
        self.udp
    }

    /// The TCP listener's address and the one peers are told to connect to, when the relay
    /// listens on TCP.
    pub fn tcp_addrs(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.tcp
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
    writer: Option<JoinHandle<()>>,
    buffers: (Option<usize>, Option<usize>),
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
        let listener = match config.tcp {
            TcpListen::Off => None,
            mode => match bind_tcp(config.listen, local_addr) {
                Ok(listener) => Some(listener),
                Err(e) if mode == TcpListen::IfFree => {
                    warn!(
                        error = %e,
                        "ICE-TCP is off: browsers whose network lets no UDP through need a TURN \
                         server (free the port on TCP, or require the listener, to have it)"
                    );
                    None
                }
                Err(e) => return Err(e),
            },
        };
        let tcp = if let Some(listener) = listener {
            let tcp_local = listener
                .local_addr()
                .map_err(|e| RelayError::Tcp(config.listen, e))?;
            // The same port number as UDP is advertised as UDP's is; another one as bound.
            let port = if tcp_local.port() == local_addr.port() {
                advertised.port()
            } else {
                tcp_local.port()
            };
            Some((listener, tcp_local, SocketAddr::new(advertised.ip(), port)))
        } else {
            None
        };
        let mut engine_config = EngineConfig::new(advertised);
        engine_config.udp = config.udp;
        engine_config.advertised_tcp = tcp.as_ref().map(|t| t.2);
        engine_config.silence_after = config.silence_after;
        engine_config.connect_timeout = config.connect_timeout;
        engine_config.mix_complexity = config.mix_complexity;
        engine_config.shortcut = config.shortcut;
        let engine = Engine::new(engine_config)?;
        let state = UdpSocketState::new((&socket).into())?;
        let buffers = size_buffers(&state, &socket, config.socket_buffer);
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (event_tx, events) = mpsc::channel(EVENT_CHANNEL);
        let Writer {
            sender: writer,
            thread: writer_thread,
        } = Writer::spawn()?;
        let frames = writer.clone();
        let tcp_addrs = tcp.as_ref().map(|t| (t.1, t.2));
        let tcp_limits = TcpLimits::of(&config);
        let thread = std::thread::Builder::new()
            .name("switchboard-media".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()?;
                runtime.block_on(async move {
                    let socket = UdpSocket::from_std(socket)?;
                    let (tcp_tx, tcp_rx) = mpsc::channel(TCP_READ_QUEUE);
                    let tcp = match tcp {
                        Some((listener, _, advertised)) => Some(TcpSide::new(
                            TcpListener::from_std(listener)?,
                            advertised,
                            tcp_tx,
                            tcp_limits,
                        )),
                        None => None,
                    };
                    Shell {
                        socket,
                        state,
                        engine,
                        advertised,
                        events: event_tx,
                        dropped_events: 0,
                        writer: frames,
                        recordings: BTreeMap::new(),
                        gaps: HashMap::new(),
                        dropped_frames: 0,
                        tcp,
                    }
                    .run(command_rx, tcp_rx)
                    .await
                })
            })?;
        match tcp_addrs {
            Some((tcp_local, tcp_advertised)) => info!(
                %local_addr, %advertised, %tcp_local, %tcp_advertised, udp = config.udp,
                "media relay started"
            ),
            None => info!(%local_addr, %advertised, "media relay started"),
        }
        Ok(Relay {
            handle: RelayHandle {
                commands,
                writer,
                local_addr,
                advertised,
                udp: config.udp,
                tcp: tcp_addrs,
            },
            events,
            thread: Some(thread),
            writer: Some(writer_thread),
            buffers,
        })
    }

    /// The media socket's receive and send buffers as the kernel reports them (Linux counts
    /// twice what it grants), or `None` where it would not say.
    pub fn socket_buffers(&self) -> (Option<usize>, Option<usize>) {
        self.buffers
    }

    /// A handle for commands.
    pub fn handle(&self) -> RelayHandle {
        self.handle.clone()
    }

    /// The events (connected, disconnected, stopped or resumed sending).
    pub fn events(&mut self) -> &mut mpsc::Receiver<MediaEvent> {
        &mut self.events
    }

    /// Stops the media thread and waits for it, then has the writer finalize (and fsync) the
    /// recordings still open and waits for it too.
    pub fn shutdown(mut self) -> Result<(), RelayError> {
        // The thread also stops when every handle is dropped; this does not wait for that.
        let _ = self.handle.commands.try_send(Command::Shutdown);
        let media = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r.map_err(RelayError::from),
            Some(Err(_)) => Err(RelayError::Stopped),
            None => Ok(()),
        };
        // The writer drains its queue at disk speed: wait for room rather than block, so this
        // may also be called from async code.
        while let Err(TrySendError::Full(_)) = self.handle.writer.try_send(WriterMessage::Shutdown)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Some(Err(_)) = self.writer.take().map(JoinHandle::join) {
            warn!("the recording writer panicked");
        }
        media
    }
}

struct Shell {
    socket: UdpSocket,
    state: UdpSocketState,
    engine: Engine,
    advertised: SocketAddr,
    events: mpsc::Sender<MediaEvent>,
    dropped_events: u64,
    /// Recording frames go here, never to `events`.
    writer: mpsc::Sender<WriterMessage>,
    recordings: BTreeMap<RecordingId, RecordingSpec>,
    /// Per recording, frames dropped since the writer last took one.
    gaps: HashMap<RecordingId, u32>,
    dropped_frames: u64,
    tcp: Option<TcpSide>,
}

/// The ICE-TCP half of the shell: the listener and its connections. Each connection has a
/// reader task (frames to the media loop over `inputs`) and a writer task (fed by the media
/// loop over a bounded queue); both run on the media thread's runtime, so the engine stays
/// the media loop's alone, and both stop when the media loop forgets the connection.
struct TcpSide {
    listener: TcpListener,
    /// What answers name as the passive candidate (the destination of every frame read).
    advertised: SocketAddr,
    /// Each open connection, by the browser's address.
    connections: HashMap<SocketAddr, TcpConnection>,
    /// Connections not yet admitted, by the browser's IP address.
    unadmitted_by_ip: HashMap<IpAddr, usize>,
    /// See [`RelayConfig::tcp_admit_within`].
    admit_within: Duration,
    /// See [`RelayConfig::tcp_idle`].
    idle: Duration,
    /// See [`RelayConfig::max_unadmitted_tcp_per_ip`].
    max_unadmitted_per_ip: usize,
    /// When the connections are next checked for expiry.
    next_sweep: Instant,
    inputs: mpsc::Sender<TcpInput>,
    dropped: u64,
    /// Connections open at most.
    max_connections: usize,
    /// Connections closed at once for want of room (or of room for their IP address).
    refused: u64,
    /// Connections closed because no ICE check succeeded on them in time.
    not_admitted: u64,
    /// Admitted connections closed because nothing from them reached a peer for the idle time.
    expired: u64,
    /// No accepting before this (after a failed accept).
    resting_until: Option<Instant>,
}

/// The limits of [`RelayConfig`] that the ICE-TCP side applies.
#[derive(Debug, Clone, Copy)]
struct TcpLimits {
    max_connections: usize,
    admit_within: Duration,
    idle: Duration,
    max_unadmitted_per_ip: usize,
}

impl TcpLimits {
    fn of(config: &RelayConfig) -> TcpLimits {
        TcpLimits {
            max_connections: config.max_tcp_connections,
            admit_within: config.tcp_admit_within,
            idle: config.tcp_idle,
            max_unadmitted_per_ip: config.max_unadmitted_tcp_per_ip,
        }
    }
}

/// One open ICE-TCP connection, as the media loop holds it. Dropping it stops its reader and
/// writer, which closes the socket: a browser that stopped reading cannot keep a writer
/// blocked on a connection the relay has forgotten.
struct TcpConnection {
    /// Feeds its writer task.
    queue: mpsc::Sender<Vec<u8>>,
    reader: tokio::task::AbortHandle,
    writer: tokio::task::AbortHandle,
    /// Whether an ICE check on it has succeeded (the engine knows its address).
    admitted: bool,
    /// It is closed at this instant: its admission deadline until it is admitted, then the
    /// idle time after its last frame from an address the engine knows.
    expires: Instant,
}

impl Drop for TcpConnection {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

/// From a connection's reader to the media loop.
enum TcpInput {
    Frame(SocketAddr, Vec<u8>),
    /// The reader stopped; with the connection's writer queue, to tell it from a newer one.
    Closed(SocketAddr, mpsc::Sender<Vec<u8>>),
}

impl TcpSide {
    fn new(
        listener: TcpListener,
        advertised: SocketAddr,
        inputs: mpsc::Sender<TcpInput>,
        limits: TcpLimits,
    ) -> TcpSide {
        TcpSide {
            listener,
            advertised,
            connections: HashMap::new(),
            unadmitted_by_ip: HashMap::new(),
            admit_within: limits.admit_within,
            idle: limits.idle,
            max_unadmitted_per_ip: limits.max_unadmitted_per_ip,
            next_sweep: Instant::now(),
            inputs,
            dropped: 0,
            max_connections: limits.max_connections,
            refused: 0,
            not_admitted: 0,
            expired: 0,
            resting_until: None,
        }
    }

    fn accepted(&mut self, stream: TcpStream, from: SocketAddr) {
        let from = SocketAddr::new(from.ip().to_canonical(), from.port());
        // A connection from the address of one still open replaces it (the browser reused the
        // port of a connection whose close is still on its way).
        if self.forget(from).is_some() {
            debug!(%from, "ICE-TCP connection replaces one from the same address");
        }
        let unadmitted_here = self.unadmitted_by_ip.get(&from.ip()).copied().unwrap_or(0);
        let why = if self.connections.len() >= self.max_connections {
            Some("too many open")
        } else if unadmitted_here >= self.max_unadmitted_per_ip {
            Some("too many from its address without an ICE check")
        } else {
            None
        };
        if let Some(why) = why {
            self.refused += 1;
            // The first, then one in a thousand: a flood must not flood the log too.
            if self.refused % 1_000 == 1 {
                warn!(%from, max = self.max_connections, max_unadmitted_per_ip = self.max_unadmitted_per_ip, refused = self.refused, "ICE-TCP connection refused: {why}");
            }
            return;
        }
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let (queue, frames) = mpsc::channel(TCP_WRITE_QUEUE);
        let reader = tokio::spawn(read_frames(read, from, queue.clone(), self.inputs.clone()));
        let writer = tokio::spawn(write_frames(write, frames));
        *self.unadmitted_by_ip.entry(from.ip()).or_default() += 1;
        self.connections.insert(
            from,
            TcpConnection {
                queue,
                reader: reader.abort_handle(),
                writer: writer.abort_handle(),
                admitted: false,
                expires: Instant::now() + self.admit_within,
            },
        );
        debug!(%from, "ICE-TCP connection accepted");
    }

    /// Removes the connection from `from` (which stops its tasks once dropped), keeping the
    /// count of unadmitted connections per address right.
    fn forget(&mut self, from: SocketAddr) -> Option<TcpConnection> {
        let c = self.connections.remove(&from)?;
        if !c.admitted {
            self.unadmitted_leaves(from.ip());
        }
        Some(c)
    }

    fn unadmitted_leaves(&mut self, ip: IpAddr) {
        if let Some(n) = self.unadmitted_by_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.unadmitted_by_ip.remove(&ip);
            }
        }
    }

    /// A frame from `from` went to the engine, which now `knows` the address or not: the first
    /// frame it knows admits the connection, and each one it knows keeps it open for the idle
    /// time. Frames from an address the engine does not know (junk, or a path of a peer that
    /// is gone) keep nothing open.
    fn heard(&mut self, now: Instant, from: SocketAddr, knows: bool) {
        if !knows {
            return;
        }
        let idle = self.idle;
        let Some(c) = self.connections.get_mut(&from) else {
            return;
        };
        c.expires = now + idle;
        if !c.admitted {
            c.admitted = true;
            debug!(%from, "ICE-TCP connection admitted: an ICE check on it succeeded");
            self.unadmitted_leaves(from.ip());
        }
    }

    /// When the connections are next checked for expiry (never, without any).
    fn sweep_due(&self) -> Option<Instant> {
        (!self.connections.is_empty()).then_some(self.next_sweep)
    }

    /// Closes the connections that expired: not admitted in time, or admitted but with nothing
    /// reaching a peer for the idle time. Runs every quarter of the shorter of the two times.
    fn sweep(&mut self, now: Instant) {
        let expired: Vec<SocketAddr> = self
            .connections
            .iter()
            .filter(|(_, c)| c.expires <= now)
            .map(|(from, _)| *from)
            .collect();
        for from in expired {
            match self.forget(from) {
                Some(c) if c.admitted => {
                    self.expired += 1;
                    debug!(%from, "ICE-TCP connection closed: nothing from it reached a peer for the idle time");
                }
                Some(_) => {
                    self.not_admitted += 1;
                    debug!(%from, not_admitted = self.not_admitted, "ICE-TCP connection closed: no ICE check succeeded on it in time");
                }
                None => {}
            }
        }
        self.next_sweep = now + sweep_interval(self.admit_within, self.idle);
    }

    /// Queues a datagram for the connection from `to`; dropped (and counted) when that is gone
    /// or its queue is full.
    fn send(&mut self, to: SocketAddr, datagram: &[u8]) {
        let mut framed = Vec::with_capacity(datagram.len() + 2);
        let sent = match (
            framing::frame(datagram, &mut framed),
            self.connections.get(&to),
        ) {
            (Ok(()), Some(c)) => c.queue.try_send(framed).is_ok(),
            _ => false,
        };
        if !sent {
            self.dropped += 1;
            debug!(%to, dropped = self.dropped, "ICE-TCP frame dropped");
        }
    }

    /// A connection's reader stopped: forget the connection (which shuts it). Only if it is
    /// still the one registered: a newer connection from the same address stays.
    fn closed(&mut self, from: SocketAddr, queue: &mpsc::Sender<Vec<u8>>) {
        if self
            .connections
            .get(&from)
            .is_some_and(|c| c.queue.same_channel(queue))
        {
            self.forget(from);
        }
    }
}

/// How often the connections are checked for expiry: a quarter of the shorter of the
/// admission and idle times, between 10 ms and a second.
fn sweep_interval(admit_within: Duration, idle: Duration) -> Duration {
    (admit_within.min(idle) / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

/// Reads a connection's frames and hands them to the media loop until it closes or breaks the
/// framing. (Idle connections are the media loop's to close: see [`TcpSide::sweep`].)
async fn read_frames(
    mut read: OwnedReadHalf,
    from: SocketAddr,
    queue: mpsc::Sender<Vec<u8>>,
    inputs: mpsc::Sender<TcpInput>,
) {
    let mut deframer = Deframer::new(MAX_TCP_FRAME);
    let mut buf = vec![0u8; 2 * 1_024];
    let why = 'reading: loop {
        let n = match read.read(&mut buf).await {
            Ok(0) => break "closed by the browser",
            Ok(n) => n,
            Err(e) => {
                debug!(%from, error = %e, "ICE-TCP read failed");
                break "read failed";
            }
        };
        deframer.push(buf.get(..n).unwrap_or_default());
        loop {
            match deframer.next_frame() {
                Ok(Some(frame)) => {
                    let frame = TcpInput::Frame(from, frame.to_vec());
                    if inputs.send(frame).await.is_err() {
                        // The media loop is gone.
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    debug!(%from, error = %e, "ICE-TCP framing broken");
                    break 'reading "not ICE-TCP framing";
                }
            }
        }
    };
    debug!(%from, why, "ICE-TCP connection closed");
    let _ = inputs.send(TcpInput::Closed(from, queue)).await;
}

/// Writes the frames the media loop queues until the queue is dropped (the connection was
/// closed) or a write fails.
async fn write_frames(mut write: OwnedWriteHalf, mut frames: mpsc::Receiver<Vec<u8>>) {
    while let Some(framed) = frames.recv().await {
        if write.write_all(&framed).await.is_err() {
            return;
        }
    }
    let _ = write.shutdown().await;
}

/// Binds the TCP listener on the UDP socket's address (`udp`), or on any free port when that
/// one is taken and `listen` left the port to the system.
fn bind_tcp(listen: SocketAddr, udp: SocketAddr) -> Result<std::net::TcpListener, RelayError> {
    let same = SocketAddr::new(listen.ip(), udp.port());
    let listener = match std::net::TcpListener::bind(same) {
        Ok(l) => l,
        Err(_) if listen.port() == 0 => {
            std::net::TcpListener::bind(listen).map_err(|e| RelayError::Tcp(listen, e))?
        }
        Err(e) => return Err(RelayError::Tcp(same, e)),
    };
    listener
        .set_nonblocking(true)
        .map_err(|e| RelayError::Tcp(same, e))?;
    Ok(listener)
}

/// When the ICE-TCP connections are next checked for expiry (never, without any).
async fn tcp_sweep_due(tcp: &Option<TcpSide>) {
    match tcp.as_ref().and_then(TcpSide::sweep_due) {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The next connection of an optional listener (never, without one), once it has rested
/// after a failure.
async fn accept(tcp: &Option<TcpSide>) -> io::Result<(TcpStream, SocketAddr)> {
    match tcp {
        Some(t) => {
            if let Some(until) = t.resting_until {
                tokio::time::sleep_until(until.into()).await;
            }
            t.listener.accept().await
        }
        None => std::future::pending().await,
    }
}

impl Shell {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut tcp_inputs: mpsc::Receiver<TcpInput>,
    ) -> io::Result<()> {
        let slot = SLOT_BYTES
            .max(self.state.gro_segments() * 1_500)
            .min(64 * 1024);
        let mut bufs = vec![vec![0u8; slot]; quinn_udp::BATCH_SIZE];
        let mut metas = vec![RecvMeta::default(); quinn_udp::BATCH_SIZE];
        let mut outgoing = Vec::new();
        let mut scratch = Vec::new();
        loop {
            // Timers that are due run now, not only when nothing else is ready: under a steady
            // stream of datagrams the socket is ready at every turn, and the `sleep` branch
            // below would starve the mix clock, DTLS retransmissions and RTCP.
            let now = Instant::now();
            if self.engine.poll_timeout().is_some_and(|d| d <= now) {
                self.engine.handle_timeout(now);
            }
            self.flush(&mut outgoing, &mut scratch).await?;
            let deadline = self.engine.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            // Not `biased`: the branches ready at once take turns in a random order, so a busy
            // UDP socket cannot keep ICE-TCP browsers' frames, new connections or commands
            // waiting (each branch's work per turn is bounded: a few receive batches, one
            // command, one accept, up to a batch of TCP frames).
            tokio::select! {
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
                accepted = accept(&self.tcp) => match (accepted, self.tcp.as_mut()) {
                    (Ok((stream, from)), Some(tcp)) => {
                        tcp.resting_until = None;
                        tcp.accepted(stream, from);
                    }
                    // Out of descriptors, or the connection was reset before it was taken.
                    (Err(e), Some(tcp)) => {
                        warn!(error = %e, "ICE-TCP accept failed; the listener rests 100 ms");
                        tcp.resting_until = Some(Instant::now() + ACCEPT_BACKOFF);
                    }
                    (_, None) => {}
                },
                Some(input) = tcp_inputs.recv() => {
                    let now = Instant::now();
                    self.tcp_input(now, input);
                    // What else is waiting, as one batch.
                    for _ in 0..quinn_udp::BATCH_SIZE {
                        match tcp_inputs.try_recv() {
                            Ok(input) => self.tcp_input(now, input),
                            Err(_) => break,
                        }
                    }
                }
                () = tcp_sweep_due(&self.tcp) => {
                    if let Some(tcp) = self.tcp.as_mut() {
                        tcp.sweep(Instant::now());
                    }
                }
                () = sleep => self.engine.handle_timeout(Instant::now()),
            }
        }
    }

    fn tcp_input(&mut self, now: Instant, input: TcpInput) {
        let Some(tcp) = self.tcp.as_mut() else {
            return;
        };
        match input {
            TcpInput::Frame(from, frame) => {
                let to = tcp.advertised;
                self.engine
                    .handle_receive(now, Transport::Tcp, from, to, &frame);
                tcp.heard(now, from, self.engine.knows(Transport::Tcp, from));
            }
            TcpInput::Closed(from, queue) => tcp.closed(from, &queue),
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
            Command::StartRecording { id, spec } => {
                self.recordings.insert(id, spec);
                self.set_recordings(now);
            }
            Command::UpdateRecording { id, spec, reply } => {
                let result = match self.recordings.get_mut(&id) {
                    Some(s) => {
                        *s = spec;
                        Ok(())
                    }
                    None => Err(RecordingError::Unknown(id)),
                };
                if result.is_ok() {
                    self.set_recordings(now);
                }
                match reply {
                    Some(reply) => {
                        let _ = reply.send(result);
                    }
                    None => {
                        if let Err(e) = result {
                            warn!(error = %e, "recording not updated");
                        }
                    }
                }
            }
            Command::StopRecording { id, reply } => {
                let known = self.recordings.remove(&id).is_some();
                // Frames due up to now still belong to it, and reach the writer before the
                // stop does (the handle sends that after this answer).
                self.set_recordings(now);
                let gap = self.gaps.remove(&id).unwrap_or(0);
                let _ = reply.send(known.then_some(gap));
            }
            Command::Counters(reply) => {
                let mut c = self.engine.counters();
                c.recording_frames_dropped = self.dropped_frames;
                if let Some(tcp) = &self.tcp {
                    c.tcp_connections = tcp.connections.len() as u64;
                    c.tcp_frames_dropped = tcp.dropped;
                    c.tcp_not_admitted = tcp.not_admitted;
                    c.tcp_expired = tcp.expired;
                }
                let _ = reply.send(c);
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

    /// Brings the engine's clocks to `now` (so that frames due before the change are made
    /// under the old specs, and a new recording clock starts from the true time), hands the
    /// frames on, and gives the engine the recordings.
    fn set_recordings(&mut self, now: Instant) {
        self.engine.handle_timeout(now);
        self.forward_events();
        self.engine.set_recordings(&self.recordings);
        self.engine.handle_timeout(now);
        self.forward_events();
    }

    /// Forwards the engine's events: recording frames to the writer, the rest to the consumer.
    fn forward_events(&mut self) {
        while let Some(e) = self.engine.poll_event() {
            if let MediaEvent::RecordingAudio { id, pcm } = e {
                self.record(id, pcm);
            } else if self.events.try_send(e).is_err() {
                self.dropped_events += 1;
                warn!(dropped = self.dropped_events, "media event dropped");
            }
        }
    }

    fn record(&mut self, id: RecordingId, pcm: Vec<i16>) {
        let silent_before = self.gaps.get(&id).copied().unwrap_or(0);
        let frame = WriterMessage::Frame {
            id,
            pcm,
            silent_before,
        };
        match self.writer.try_send(frame) {
            Ok(()) => {
                self.gaps.remove(&id);
            }
            Err(e) => {
                *self.gaps.entry(id).or_default() += 1;
                self.dropped_frames += 1;
                // Once a second of audio while it lasts, not once a frame.
                if self.dropped_frames % 50 == 1 {
                    let full = matches!(e, TrySendError::Full(_));
                    warn!(%id, dropped = self.dropped_frames, full, "recording frame dropped");
                }
            }
        }
    }

    /// Sends what the engine queued and forwards its events (the drain contract).
    async fn flush(
        &mut self,
        outgoing: &mut Vec<Transmit>,
        scratch: &mut Vec<u8>,
    ) -> io::Result<()> {
        self.forward_events();
        outgoing.clear();
        while let Some(t) = self.engine.poll_transmit() {
            match (t.transport, self.tcp.as_mut()) {
                (Transport::Udp, _) => outgoing.push(t),
                (Transport::Tcp, Some(tcp)) => tcp.send(t.destination, &t.contents),
                (Transport::Tcp, None) => {}
            }
        }
        // Runs to one destination can go out as one GSO send; the other datagrams go out in
        // `sendmmsg` batches. The order per destination is kept: the sort is stable, and what
        // is batched is sent before a run.
        outgoing.sort_by_key(|t| t.destination);
        let max_segments = self.state.max_gso_segments().max(1);
        let mut singles: Vec<(SocketAddr, &[u8])> = Vec::new();
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
            i = end;
            if run.len() == 1 {
                singles.push((first.destination, first.contents.as_slice()));
                continue;
            }
            self.send_each(&singles).await?;
            singles.clear();
            scratch.clear();
            for t in run {
                scratch.extend_from_slice(&t.contents);
            }
            let transmit = quinn_udp::Transmit {
                destination: first.destination,
                ecn: None,
                contents: scratch.as_slice(),
                segment_size: Some(size),
                src_ip: None,
            };
            self.send_one(&transmit).await?;
        }
        self.send_each(&singles).await
    }

    /// Sends one datagram, or one GSO run, waiting while the socket's buffer is full. A
    /// destination the kernel refuses is logged and skipped.
    async fn send_one(&self, transmit: &quinn_udp::Transmit<'_>) -> io::Result<()> {
        loop {
            let sent = self.socket.try_io(Interest::WRITABLE, || {
                self.state.send((&self.socket).into(), transmit)
            });
            match sent {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.socket.writable().await?,
                Err(e) => {
                    debug!(error = %e, to = %transmit.destination, "send failed");
                    return Ok(());
                }
            }
        }
    }

    /// Sends each datagram to its destination: [`SEND_BATCH`] per `sendmmsg` on Linux, one
    /// system call each elsewhere. Waits while the socket's buffer is full; a datagram the
    /// kernel refuses is logged and skipped, and the batch goes on after it.
    #[cfg(target_os = "linux")]
    async fn send_each(&self, datagrams: &[(SocketAddr, &[u8])]) -> io::Result<()> {
        let mut rest = datagrams;
        while !rest.is_empty() {
            let batch = rest.get(..SEND_BATCH.min(rest.len())).unwrap_or(rest);
            let sent = self
                .socket
                .try_io(Interest::WRITABLE, || sendmmsg(&self.socket, batch));
            let done = match sent {
                // The kernel returns at least one for a batch it took.
                Ok(n) => n.max(1),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.socket.writable().await?;
                    0
                }
                Err(e) => {
                    debug!(error = %e, to = %batch[0].0, "send failed");
                    1
                }
            };
            rest = rest.get(done..).unwrap_or_default();
        }
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    async fn send_each(&self, datagrams: &[(SocketAddr, &[u8])]) -> io::Result<()> {
        for &(destination, contents) in datagrams {
            let transmit = quinn_udp::Transmit {
                destination,
                ecn: None,
                contents,
                segment_size: None,
                src_ip: None,
            };
            self.send_one(&transmit).await?;
        }
        Ok(())
    }
}

/// One `sendmmsg` of `datagrams`, each to its own destination (on a dual-stack socket Linux
/// takes IPv4 destinations as they are). How many the kernel took.
#[cfg(target_os = "linux")]
fn sendmmsg(socket: &UdpSocket, datagrams: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
    use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny};
    let addrs: Vec<SocketAddrAny> = datagrams
        .iter()
        .map(|(to, _)| SocketAddrAny::from(*to))
        .collect();
    let iovs: Vec<[IoSlice<'_>; 1]> = datagrams.iter().map(|(_, d)| [IoSlice::new(d)]).collect();
    let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> = datagrams
        .iter()
        .map(|_| SendAncillaryBuffer::default())
        .collect();
    let mut messages: Vec<MMsgHdr<'_>> = addrs
        .iter()
        .zip(&iovs)
        .zip(controls.iter_mut())
        .map(|((to, iov), control)| MMsgHdr::new_with_addr(to, iov, control))
        .collect();
    Ok(rustix::net::sendmmsg(
        socket,
        &mut messages,
        SendFlags::empty(),
    )?)
}

/// Asks for `bytes` of receive and send buffer on the media socket, and says in the log when the
/// kernel gave less (Linux reports twice what it grants, for its bookkeeping). What it got.
fn size_buffers(
    state: &UdpSocketState,
    socket: &StdUdpSocket,
    bytes: usize,
) -> (Option<usize>, Option<usize>) {
    let recv = state
        .set_recv_buffer_size(socket.into(), bytes)
        .and_then(|()| state.recv_buffer_size(socket.into()));
    let send = state
        .set_send_buffer_size(socket.into(), bytes)
        .and_then(|()| state.send_buffer_size(socket.into()));
    let sizes = (recv.as_ref().ok().copied(), send.as_ref().ok().copied());
    for (what, sysctl, got) in [
        ("receive", "net.core.rmem_max", recv),
        ("send", "net.core.wmem_max", send),
    ] {
        match got {
            Ok(n) if n >= bytes => {
                tracing::debug!(bytes = n, "media socket {what} buffer");
            }
            Ok(n) => tracing::warn!(
                asked = bytes,
                got = n,
                "the media socket's {what} buffer is smaller than asked: raise {sysctl} so that \
                 bursts of datagrams are not dropped"
            ),
            Err(e) => tracing::warn!("cannot size the media socket's {what} buffer: {e}"),
        }
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A datagram tagged `tag`: the tag, then bytes that follow from it (so a frame cut or
    /// spliced anywhere shows).
    fn tagged(tag: u32, len: usize) -> Vec<u8> {
        let mut d = tag.to_be_bytes().to_vec();
        d.extend((0..len - 4).map(|i| (tag as usize + i) as u8));
        d
    }

    /// A browser that stops reading: the socket's buffers fill, then the writer's queue, then
    /// frames are dropped and counted. When it reads again, every frame it gets is whole and in
    /// order, and none is lost but those counted.
    #[test]
    fn frames_a_slow_reader_cannot_take_are_dropped_and_counted_the_rest_arrive_in_order() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.set_nonblocking(true).expect("nonblocking");
            let at = listener.local_addr().expect("addr");
            let (inputs, _frames_read) = mpsc::channel(TCP_READ_QUEUE);
            let limits = TcpLimits::of(&RelayConfig::new(at));
            let mut side = TcpSide::new(
                TcpListener::from_std(listener).expect("listener"),
                at,
                inputs,
                limits,
            );
            let mut browser = std::net::TcpStream::connect(at).expect("connect");
            let (stream, from) = side.listener.accept().await.expect("accept");
            side.accepted(stream, from);
            let queued = |side: &TcpSide| {
                side.connections
                    .get(&from)
                    .map_or(0, |c| TCP_WRITE_QUEUE - c.queue.capacity())
            };

            // Not read: the socket's buffers fill, the writer's queue after them.
            const LEN: usize = 1_200;
            let mut sent = 0u32;
            while side.dropped == 0 {
                assert!(sent < 100_000, "nothing was ever dropped");
                side.send(from, &tagged(sent, LEN));
                sent += 1;
                tokio::task::yield_now().await;
            }
            assert_eq!(
                queued(&side),
                TCP_WRITE_QUEUE,
                "dropped before the queue was full"
            );

            // It reads again, on a thread of its own, up to the final frame.
            const FINAL: u32 = u32::MAX;
            let reader = std::thread::spawn(move || {
                browser
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .expect("timeout");
                let mut deframer = Deframer::new(MAX_TCP_FRAME);
                let mut tags = Vec::new();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = browser.read(&mut buf).expect("the relay's frames");
                    assert!(n > 0, "the relay closed the connection");
                    deframer.push(&buf[..n]);
                    while let Some(frame) = deframer.next_frame().expect("whole frames") {
                        let tag = u32::from_be_bytes(frame[..4].try_into().expect("a tag"));
                        assert_eq!(frame, tagged(tag, LEN), "frame {tag} damaged");
                        if tag == FINAL {
                            return tags;
                        }
                        tags.push(tag);
                    }
                }
            });
            // Frames sent while the queue drains wait behind it.
            for _ in 0..200 {
                side.send(from, &tagged(sent, LEN));
                sent += 1;
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            let start = Instant::now();
            while queued(&side) > 0 {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "the writer never caught up"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let dropped = side.dropped;
            side.send(from, &tagged(FINAL, LEN));
            assert_eq!(side.dropped, dropped, "the final frame was dropped");
            let tags = tokio::task::spawn_blocking(move || reader.join().expect("reader"))
                .await
                .expect("joined");
            assert!(tags.windows(2).all(|w| w[0] < w[1]), "out of order");
            assert_eq!(
                tags.len() as u64,
                u64::from(sent) - dropped,
                "frames lost besides the dropped"
            );
        });
    }
}
