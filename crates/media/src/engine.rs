//! The sans-IO relay: one str0m `Rtc` per peer behind one UDP address, routing as a [`Graph`]
//! says. See the crate documentation for the drain contract.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::config::DtlsCert;
use str0m::format::{Codec, CodecConfig, FormatParams};
use str0m::media::{Frequency, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::rtp::{Extension, ExtensionMap, ExtensionValues, RtpPacket, RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use tracing::{debug, info};

use crate::audio::{
    self, HoldMusic, MixEncoder, RecordingFrame, SourceDecoder, FRAME_SAMPLES,
    RECORDING_FRAME_SAMPLES, RECORDING_SAMPLE_RATE,
};
use crate::error::{MediaError, MAX_SDP_BYTES};
use crate::graph::{Graph, PeerId, RecordingId, RecordingSpec, Source};
use crate::srtp::{self, KeySlot, Opened, Outgoing, TakeOver};

/// One mix tick: the length of a frame.
pub const FRAME: Duration = Duration::from_millis(20);
/// Datagrams waiting to be sent to one peer; beyond this the oldest are dropped (1.28 s of
/// audio at 50 packets/s plus control traffic: only reached when the shell stops draining).
pub const PEER_TRANSMIT_QUEUE: usize = 64;
/// Events waiting for [`Engine::poll_event`]; beyond this the oldest are dropped.
pub const EVENT_QUEUE: usize = 4_096;
/// Socket addresses remembered per peer for routing datagrams without a scan.
const ADDRESSES_PER_PEER: usize = 4;
/// When the mix clock is late by more than this, it skips ahead instead of bursting.
const MAX_TICK_LAG: Duration = Duration::from_millis(100);
/// How far the recording clock catches up when the engine was not called in time: every frame
/// of a stall up to this long is still produced (mostly silence), so a recording's length stays
/// its wall-clock length. Beyond it (the host was suspended), the clock skips ahead and counts
/// the frames it skipped ([`Counters::recording_frames_skipped`]).
pub const MAX_RECORDING_CATCHUP: Duration = Duration::from_secs(2);

/// How a datagram travels between a peer and the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// One UDP datagram.
    Udp,
    /// One frame on a TCP connection the browser opened to the relay's passive candidate
    /// (ICE-TCP, RFC 6544; each frame is preceded by its 16-bit length, RFC 4571, which the
    /// shell adds and strips).
    Tcp,
}

impl Transport {
    fn proto(self) -> Protocol {
        match self {
            Transport::Udp => Protocol::Udp,
            Transport::Tcp => Protocol::Tcp,
        }
    }

    /// How str0m's `proto` goes: the only candidate the relay has besides UDP is its passive
    /// TCP one.
    fn of(proto: Protocol) -> Transport {
        match proto {
            Protocol::Udp => Transport::Udp,
            _ => Transport::Tcp,
        }
    }
}

/// How the engine is set up.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The address peers send UDP to: the UDP host candidate in every answer. Datagrams must be
    /// given to [`Engine::handle_datagram`] with this as their destination.
    pub advertised: SocketAddr,
    /// Whether answers offer the UDP candidate (`false` only for a relay reached over TCP
    /// alone).
    pub udp: bool,
    /// The address of the relay's TCP listener as peers reach it: when set, every answer also
    /// has a passive TCP host candidate there (lower in priority than UDP: browsers may open a
    /// connection to it while they check, but send over it only when UDP fails), and frames from its connections go to [`Engine::handle_receive`]
    /// with this as their destination.
    pub advertised_tcp: Option<SocketAddr>,
    /// A connected peer from which no media arrived for this long is reported as
    /// [`MediaEvent::StoppedSending`].
    pub silence_after: Duration,
    /// A peer that has not connected (ICE and DTLS) this long after it was added is dropped
    /// and reported [`Disconnect::NeverConnected`].
    pub connect_timeout: Duration,
    /// At most this many peers at once.
    pub max_peers: usize,
    /// libopus complexity (0..=10) of the per-receiver mix encoders (CELT only, see
    /// `MixEncoder::for_mix`): the price of a mixed participant. Encoding is most of it: at
    /// 32 kbit/s, about 70 µs per frame at 10, 50 at 5 and 35 at 3 on the benchmark machine
    /// (docs/benchmarks.md).
    pub mix_complexity: i32,
    /// Whether connected peers' RTP takes the shortcut ([`crate::srtp`]): the engine opens and
    /// seals it itself instead of passing every packet through str0m. On by default; off, str0m
    /// carries all media (the path before the shortcut, kept to compare and as a fallback).
    pub shortcut: bool,
}

impl EngineConfig {
    /// Defaults: silence after 2 s, connect within 30 s, 10,000 peers, mix complexity 5.
    pub fn new(advertised: SocketAddr) -> EngineConfig {
        EngineConfig {
            advertised,
            udp: true,
            advertised_tcp: None,
            silence_after: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(30),
            max_peers: 10_000,
            mix_complexity: audio::MIX_COMPLEXITY,
            shortcut: true,
        }
    }
}

/// A datagram to send from the engine's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// How: on the UDP socket, or as a frame on the TCP connection from `destination`.
    pub transport: Transport,
    /// Where to.
    pub destination: SocketAddr,
    /// The datagram.
    pub contents: Vec<u8>,
}

/// Why a peer is disconnected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disconnect {
    /// ICE lost the path (consent checks stopped arriving). The peer is kept: an ICE restart
    /// ([`Engine::restart_peer`]) or the browser's checks coming back reconnect it, which is
    /// reported as [`MediaEvent::Connected`] again.
    IceLost,
    /// DTLS was closed (by the browser, or by str0m on a fingerprint mismatch). The peer is
    /// gone.
    Closed,
    /// It never connected within [`EngineConfig::connect_timeout`]. The peer is gone.
    NeverConnected,
    /// A protocol error. The peer is gone.
    Failed(String),
}

impl Disconnect {
    /// Whether the engine dropped the peer (every variant but [`Disconnect::IceLost`]).
    pub fn is_final(&self) -> bool {
        !matches!(self, Disconnect::IceLost)
    }
}

/// Something the glue should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// DTLS is up (with ICE-lite, this is the moment media can flow), or ICE came back after
    /// [`Disconnect::IceLost`].
    Connected(PeerId),
    /// The peer lost its path or is gone; see [`Disconnect::is_final`].
    Disconnected {
        /// The peer.
        peer: PeerId,
        /// Why.
        why: Disconnect,
    },
    /// No media from this connected peer for [`EngineConfig::silence_after`] (its microphone
    /// or network went away; browsers send Opus packets even during silence).
    StoppedSending(PeerId),
    /// Media arrives again after [`MediaEvent::StoppedSending`].
    ResumedSending(PeerId),
    /// 20 ms of a recording ([`Engine::set_recordings`]): [`RECORDING_FRAME_SAMPLES`] stereo
    /// frames at [`RECORDING_SAMPLE_RATE`], interleaved left (channel 0), right (channel 1).
    /// One per 20 ms of engine time for every recording that is not paused. `io::Relay` writes
    /// these to the recording's file and never delivers them on its event channel.
    RecordingAudio {
        /// The recording.
        id: RecordingId,
        /// `2 * RECORDING_FRAME_SAMPLES` samples, L R L R ...
        pcm: Vec<i16>,
    },
}

/// What happened to datagrams and frames, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams given to [`Engine::handle_datagram`].
    pub datagrams: u64,
    /// Datagrams that are not STUN, DTLS or RTP/RTCP.
    pub unparsable: u64,
    /// Datagrams no peer accepted.
    pub unrouted: u64,
    /// Datagrams a peer accepted but str0m refused.
    pub rejected: u64,
    /// Opus frames forwarded as they came.
    pub forwarded: u64,
    /// Mixes encoded.
    pub mixed: u64,
    /// Hold music frames sent forwarded.
    pub music: u64,
    /// Frames str0m would not take, or Opus that would not decode or encode.
    pub media_errors: u64,
    /// Transmits dropped because a peer's queue was full.
    pub dropped_transmits: u64,
    /// Events dropped because the event queue was full.
    pub dropped_events: u64,
    /// Timeouts handed to peers' str0m state (its timers: RTCP, feedback, pacing, ICE).
    pub peer_timeouts: u64,
    /// Recording frames produced ([`MediaEvent::RecordingAudio`]).
    pub recording_frames: u64,
    /// Recording frames not produced because the engine was called more than
    /// [`MAX_RECORDING_CATCHUP`] late.
    pub recording_frames_skipped: u64,
    /// Recording frames the file writer could not take in time (it lagged); `io::Relay` fills
    /// this in and writes silence in their place, so the file keeps its length. The engine
    /// alone leaves it 0.
    pub recording_frames_dropped: u64,
    /// TCP connections open to the relay's listener (ICE-TCP); filled in by `io::Relay`.
    pub tcp_connections: u64,
    /// Frames for a TCP connection that were dropped: its queue was full (the browser read too
    /// slowly) or it had closed. Filled in by `io::Relay`.
    pub tcp_frames_dropped: u64,
    /// TCP connections closed because no ICE check succeeded on them in time
    /// (`io::RelayConfig::tcp_admit_within`). Filled in by `io::Relay`.
    pub tcp_not_admitted: u64,
    /// Admitted TCP connections closed because nothing from them reached a peer for
    /// `io::RelayConfig::tcp_idle` (their peer gone, say). Filled in by `io::Relay`.
    pub tcp_expired: u64,
    /// RTP packets the shortcut opened ([`crate::srtp`]).
    pub shortcut_opened: u64,
    /// RTP packets the shortcut sealed and sent.
    pub shortcut_sealed: u64,
    /// RTP packets of a shortcut stream refused: replayed, too old, forged or malformed.
    pub shortcut_refused: u64,
}

/// What the engine holds right now, for tests of "removing frees everything".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Peers.
    pub peers: usize,
    /// Opus decoders (one per source that some receiver mixes).
    pub decoders: usize,
    /// Opus decoders at the recordings' rate (one per peer that some unpaused recording
    /// records).
    pub recorders: usize,
    /// Recordings, paused or not.
    pub recordings: usize,
    /// Opus encoders (one per receiver that hears a mix).
    pub encoders: usize,
    /// Receivers forwarded a single source.
    pub forwarding: usize,
    /// Datagrams waiting in the peers' queues.
    pub queued_transmits: usize,
    /// Remembered peer addresses.
    pub addresses: usize,
}

/// What a receiver's stream carries, for timestamp continuity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Peer(PeerId),
    Music,
    Mix,
}

/// One input of a receiver's route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    Peer(PeerId),
    Music,
}

/// A route without its codec state, to compare routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RouteKind {
    Silent,
    Forward(Feed),
    Mix,
}

impl RouteKind {
    fn of(route: &Route) -> RouteKind {
        match route {
            Route::Silent => RouteKind::Silent,
            Route::Forward(f) => RouteKind::Forward(*f),
            Route::Mix { .. } => RouteKind::Mix,
        }
    }
}

/// Whether a receiver whose route was `old` and is `new` goes on with the same stream: the
/// same single source forwarded, or a mix (whatever it mixes). Anything else interrupts it.
fn same_stream(old: &RouteKind, new: &Route) -> bool {
    let new = RouteKind::of(new);
    *old == new && new != RouteKind::Silent
}

enum Route {
    Silent,
    Forward(Feed),
    Mix {
        feeds: Vec<Feed>,
        encoder: Box<MixEncoder>,
    },
}

/// How far ahead of the last packet sent a packet of the same origin may be (in 48 kHz units:
/// 10 s) and still be taken as the same stream; beyond it the stream is rebased.
const MAX_TS_STEP: u64 = 10 * audio::SAMPLE_RATE as u64;
/// How many sequence numbers ahead of the last packet sent a packet of the same origin may be
/// (10 s of 20 ms frames) and still be taken as the same stream, the gap being loss.
const MAX_SEQ_STEP: u64 = 500;
/// How far behind the last packet sent a reordered packet of the same origin may be and still
/// be forwarded with its own (earlier) sequence number and timestamp.
const REORDER_WINDOW: u64 = 64;

/// A receiver's outgoing RTP stream: rewrites sequence numbers and timestamps so that the
/// stream is continuous whatever it carries. Packets of one origin keep their spacing (a gap in
/// the source's sequence numbers stays a gap, so the receiver conceals real loss, and a
/// reordered packet keeps its place); a new origin, a route change or a jump continues from the
/// last packet sent: the next sequence number, and the last timestamp plus the wall time
/// elapsed, so a switch of source or a mute looks like a pause, not like loss.
#[derive(Debug)]
struct OutStream {
    origin: Option<Origin>,
    ts_offset: u64,
    seq_offset: u64,
    /// The first sequence number sent for the current origin: a packet of it that maps below
    /// this came before the switch, and is dropped.
    origin_seq: u64,
    /// The next sequence number when nothing was sent yet (kept under 2^15, so the SRTP
    /// rollover counter starts at 0 as the receiver expects).
    first_seq: u64,
    last: Option<Sent>,
}

/// The last packet a receiver was sent, in its own numbering.
#[derive(Debug, Clone, Copy)]
struct Sent {
    ts: u64,
    seq: u64,
    at: Instant,
}

/// What to send: the receiver's timestamp and extended sequence number, and whether this
/// starts a new run (the RTP marker bit of a talkspurt's first packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ts: u64,
    seq: u64,
    marker: bool,
}

impl OutStream {
    fn new(id: PeerId) -> OutStream {
        OutStream {
            origin: None,
            ts_offset: 0,
            seq_offset: 0,
            origin_seq: 0,
            first_seq: id.0.wrapping_mul(0x9e37_79b9) & 0x7fff,
            last: None,
        }
    }

    /// The next packet rebases, whatever its origin (the route changed: what comes next does
    /// not follow what was sent last).
    fn interrupt(&mut self) {
        self.origin = None;
    }

    /// The numbers to send a packet of `origin` under, given its own 48 kHz timestamp and
    /// extended sequence number; `None` for one that came before the current run.
    fn stamp(&mut self, origin: Origin, src_ts: u64, src_seq: u64, now: Instant) -> Option<Stamp> {
        if self.origin == Some(origin) {
            if let Some(last) = self.last {
                let ts = src_ts.wrapping_add(self.ts_offset);
                let seq = src_seq.wrapping_add(self.seq_offset);
                let ahead = seq.wrapping_sub(last.seq);
                let behind = last.seq.wrapping_sub(seq);
                if (1..MAX_SEQ_STEP).contains(&ahead) && ts.wrapping_sub(last.ts) < MAX_TS_STEP {
                    self.last = Some(Sent { ts, seq, at: now });
                    return Some(Stamp {
                        ts,
                        seq,
                        marker: false,
                    });
                }
                if behind == 0 {
                    return None;
                }
                if behind < REORDER_WINDOW {
                    let in_run = seq >= self.origin_seq && last.ts.wrapping_sub(ts) < MAX_TS_STEP;
                    return in_run.then_some(Stamp {
                        ts,
                        seq,
                        marker: false,
                    });
                }
            }
        }
        let (ts, seq) = match self.last {
            Some(last) => {
                let elapsed = now.saturating_duration_since(last.at).as_micros() as u64
                    * u64::from(audio::SAMPLE_RATE)
                    / 1_000_000;
                (last.ts + elapsed.max(FRAME_SAMPLES as u64), last.seq + 1)
            }
            None => (0, self.first_seq),
        };
        self.origin = Some(origin);
        self.ts_offset = ts.wrapping_sub(src_ts);
        self.seq_offset = seq.wrapping_sub(src_seq);
        self.origin_seq = seq;
        self.last = Some(Sent { ts, seq, at: now });
        Some(Stamp {
            ts,
            seq,
            marker: true,
        })
    }
}

/// An RTP packet a peer sent, as routing needs it.
struct Packet {
    pt: Pt,
    /// Extended sequence number.
    seq: u64,
    /// Extended timestamp at 48 kHz.
    ts: u64,
    audio_level: Option<i8>,
    voice_activity: Option<bool>,
    /// The Opus packet (one per RTP packet, RFC 7587), shared by every receiver.
    payload: Arc<[u8]>,
}

struct Peer {
    rtc: Rtc,
    mid: Option<Mid>,
    /// The negotiated Opus payload type.
    pt: Pt,
    added: Instant,
    /// DTLS came up (once).
    connected: bool,
    /// ICE has a path now.
    ice_up: bool,
    /// str0m wants `handle_input(Timeout)` at this time.
    deadline: Instant,
    /// This peer's key in [`Timers`], when it has one.
    timer: Option<Instant>,
    last_media: Instant,
    sending: bool,
    /// The peer is over (closed or failed): removed after the current input.
    dead: bool,
    out: VecDeque<Transmit>,
    addrs: VecDeque<(Transport, SocketAddr)>,
    route: Route,
    stream: OutStream,
    /// Present while some receiver mixes this peer.
    decoder: Option<Box<SourceDecoder>>,
    /// Present while some unpaused recording records this peer (16 kHz).
    recorder: Option<Box<SourceDecoder>>,
    /// The receivers forwarded what this peer sends (derived from the graph in `recompute`).
    forward_to: Vec<PeerId>,
    /// Where this peer's DTLS leaves its SRTP keys.
    keys: Arc<KeySlot>,
    /// The header extensions the answer agreed on.
    ext_ids: ExtIds,
    shortcut: Shortcut,
}

/// The ids of the header extensions the shortcut reads and writes, from the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ExtIds {
    mid: Option<u8>,
    audio_level: Option<u8>,
}

impl ExtIds {
    /// The audio section's `a=extmap` lines of an answer; ids outside RFC 8285's one-byte form
    /// are left out (the shortcut writes only that form).
    fn of_answer(answer: &str) -> ExtIds {
        let mut ids = ExtIds::default();
        for map in audio_lines(answer).filter_map(|line| line.strip_prefix("a=extmap:")) {
            let mut parts = map.split_whitespace();
            let id = parts
                .next()
                .and_then(|id| id.split('/').next())
                .and_then(|id| id.parse::<u8>().ok())
                .filter(|id| srtp::one_byte_extension(*id, 1));
            match parts.next() {
                Some("urn:ietf:params:rtp-hdrext:sdes:mid") => ids.mid = id,
                Some("urn:ietf:params:rtp-hdrext:ssrc-audio-level") => ids.audio_level = id,
                _ => {}
            }
        }
        ids
    }
}

/// A peer's forwarding shortcut ([`crate::srtp`]).
enum Shortcut {
    /// Waiting for DTLS (and a sending stream) to set it up.
    Pending,
    /// Not taken: off in the configuration, a profile other than AEAD-AES-GCM, or no MID
    /// extension to send with. str0m carries all of this peer's media.
    Declined,
    On(Box<Direct>),
}

/// The engine's own SRTP for one connected peer.
struct Direct {
    /// Its sealer, opener and the SSRC of the stream the peer receives.
    srtp: srtp::Direct,
    mid: Vec<u8>,
    /// Where the peer's last authenticated RTP came from (a path that passed ICE): where the
    /// shortcut sends. Until the peer sent some, str0m sends to it.
    path: Option<(Transport, SocketAddr)>,
}

impl Peer {
    /// The shortcut, set up on first use once DTLS is done; `None` while str0m carries the
    /// peer's media.
    fn direct(&mut self, id: PeerId) -> Option<&mut Direct> {
        if matches!(self.shortcut, Shortcut::Pending) && self.connected {
            self.shortcut = self.set_up_shortcut(id);
        }
        match &mut self.shortcut {
            Shortcut::On(d) => Some(d),
            _ => None,
        }
    }

    fn set_up_shortcut(&mut self, id: PeerId) -> Shortcut {
        let Some(mid) = self.mid else {
            return Shortcut::Declined;
        };
        let mid_bytes = mid.as_bytes().to_vec();
        let writable = self
            .ext_ids
            .mid
            .is_some_and(|ext| srtp::one_byte_extension(ext, mid_bytes.len()));
        if !writable {
            // Without the MID extension the browser could not tell the stream apart.
            info!(%id, "shortcut declined: no MID header extension it can write");
            return Shortcut::Declined;
        }
        match srtp::take_over(&self.keys, &mut self.rtc, mid) {
            TakeOver::NotYet => Shortcut::Pending,
            TakeOver::Declined(profile) => {
                info!(%id, %profile, "shortcut declined: SRTP profile");
                Shortcut::Declined
            }
            TakeOver::Ready(mut own) => {
                own.opener.set_audio_level_id(self.ext_ids.audio_level);
                info!(%id, profile = %own.profile, "shortcut on");
                Shortcut::On(Box::new(Direct {
                    srtp: own,
                    mid: mid_bytes,
                    path: None,
                }))
            }
        }
    }
}

/// The clock of the recordings: one 20 ms tick for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordingClock {
    /// No recording is running.
    Off,
    /// A recording runs, and the clock starts at the next time given to
    /// [`Engine::handle_timeout`] ([`Engine::poll_timeout`] asks for one at once): the engine
    /// has no clock of its own, and the last time it saw may be old.
    Starting,
    /// The next tick.
    At(Instant),
}

/// When each peer next needs the engine's attention: str0m's own deadline, the silence check of
/// a sending peer, the connect timeout of one not yet connected. An ordered index, so a timeout
/// touches only the peers that are due and [`Engine::poll_timeout`] reads one entry.
///
/// A peer's key may be earlier than its true time (it is moved only earlier between wake-ups,
/// since media arrival pushes the silence check later on every packet): a wake-up that finds
/// the peer not yet due just files it again at its true time.
struct Timers {
    set: BTreeSet<(Instant, PeerId)>,
    silence_after: Duration,
    connect_timeout: Duration,
}

impl Timers {
    fn new(config: &EngineConfig) -> Timers {
        Timers {
            set: BTreeSet::new(),
            silence_after: config.silence_after,
            connect_timeout: config.connect_timeout,
        }
    }

    /// The true time `peer` next needs attention.
    fn due(&self, peer: &Peer) -> Instant {
        let liveness = if peer.connected {
            peer.sending.then(|| peer.last_media + self.silence_after)
        } else {
            Some(peer.added + self.connect_timeout)
        };
        liveness.map_or(peer.deadline, |l| l.min(peer.deadline))
    }

    /// Files `peer` at its true time if that is earlier than its key (or it has none).
    fn arm(&mut self, id: PeerId, peer: &mut Peer) {
        let due = self.due(peer);
        match peer.timer {
            Some(key) if key <= due => {}
            old => {
                if let Some(key) = old {
                    self.set.remove(&(key, id));
                }
                self.set.insert((due, id));
                peer.timer = Some(due);
            }
        }
    }

    /// Forgets `peer`'s key.
    fn disarm(&mut self, id: PeerId, peer: &mut Peer) {
        if let Some(key) = peer.timer.take() {
            self.set.remove(&(key, id));
        }
    }

    /// Takes the next peer whose key is due at `now`.
    fn pop_due(&mut self, now: Instant) -> Option<PeerId> {
        let &(at, _) = self.set.first()?;
        if at > now {
            return None;
        }
        self.set.pop_first().map(|(_, id)| id)
    }

    fn next(&self) -> Option<Instant> {
        self.set.first().map(|(at, _)| *at)
    }
}

/// What draining a peer produces for the rest of the engine.
struct Sink {
    events: VecDeque<MediaEvent>,
    media: VecDeque<(PeerId, Packet)>,
    ready: VecDeque<PeerId>,
    /// Peers that closed or failed, removed after the current input.
    dying: Vec<PeerId>,
    timers: Timers,
    counters: Counters,
}

impl Sink {
    fn event(&mut self, e: MediaEvent) {
        if self.events.len() >= EVENT_QUEUE {
            self.events.pop_front();
            self.counters.dropped_events += 1;
        }
        self.events.push_back(e);
    }
}

/// The relay. See the crate documentation.
pub struct Engine {
    config: EngineConfig,
    cert: DtlsCert,
    /// Boxed: a peer is about 10 KB (str0m's `Rtc`), and the tree's nodes then stay small
    /// enough that finding a peer among thousands touches a few cache lines, not pages.
    peers: BTreeMap<PeerId, Box<Peer>>,
    by_addr: HashMap<(Transport, SocketAddr), PeerId>,
    /// The host candidates every answer has (UDP, passive TCP, or both).
    candidates: Vec<Candidate>,
    graph: Graph,
    /// Receivers forwarded the music.
    music_to: Vec<PeerId>,
    /// Receivers that hear a mix.
    mixers: Vec<PeerId>,
    music: HoldMusic,
    music_opus: Vec<Arc<[u8]>>,
    next_tick: Option<Instant>,
    ticks: u64,
    now: Option<Instant>,
    sink: Sink,
    frames: Vec<(PeerId, audio::Frame)>,
    recordings: BTreeMap<RecordingId, RecordingSpec>,
    recording_clock: RecordingClock,
    recording_ticks: u64,
    /// This tick's frame of every recorded peer that had one, by peer (sorted).
    recorded: Vec<(PeerId, RecordingFrame)>,
}

impl Engine {
    /// A relay answering for `config.advertised`. Generates the DTLS certificate every peer
    /// uses and encodes the hold music.
    pub fn new(config: EngineConfig) -> Result<Engine, MediaError> {
        if !(0..=10).contains(&config.mix_complexity) {
            return Err(MediaError::Complexity(config.mix_complexity));
        }
        let candidates = host_candidates(&config)?;
        let crypto = srtp::tapped_provider();
        let cert = crypto
            .dtls_provider
            .generate_certificate()
            .ok_or(MediaError::Certificate)?;
        let music = HoldMusic::new()?;
        let music_opus = music.opus.iter().map(|f| Arc::from(f.as_slice())).collect();
        let timers = Timers::new(&config);
        Ok(Engine {
            config,
            cert,
            peers: BTreeMap::new(),
            by_addr: HashMap::new(),
            candidates,
            graph: Graph::new(),
            music_to: Vec::new(),
            mixers: Vec::new(),
            music,
            music_opus,
            next_tick: None,
            ticks: 0,
            now: None,
            sink: Sink {
                events: VecDeque::new(),
                media: VecDeque::new(),
                ready: VecDeque::new(),
                dying: Vec::new(),
                timers,
                counters: Counters::default(),
            },
            frames: Vec::new(),
            recordings: BTreeMap::new(),
            recording_clock: RecordingClock::Off,
            recording_ticks: 0,
            recorded: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    fn clock(&mut self, now: Instant) -> Instant {
        let now = self.now.map_or(now, |t| t.max(now));
        self.now = Some(now);
        now
    }

    /// Audio only: Opus, and telephone-event at both clock rates browsers offer (kept so that
    /// the answer does not refuse DTMF).
    fn codecs() -> CodecConfig {
        let mut c = CodecConfig::new_with_defaults();
        c.clear();
        c.enable_opus(true, false);
        for (pt, rate) in [(110, 48_000), (126, 8_000)] {
            if let Some(rate) = Frequency::new(rate) {
                c.add_config(
                    Pt::new_with_value(pt),
                    None,
                    Codec::Tele,
                    rate,
                    None,
                    FormatParams {
                        telephone_event_max: Some(15),
                        ..Default::default()
                    },
                );
            }
        }
        c
    }

    /// RTP header extensions: the MID (BUNDLE demultiplexing) and the audio level, but not
    /// transport-wide congestion control. The relay sends fixed-rate Opus and estimates no
    /// bandwidth, so TWCC would only add a feedback packet every 50 ms each way per peer (and a
    /// timer for it): about 40 % more packets than the audio itself. Browsers fall back to RTCP
    /// receiver reports.
    fn extensions() -> ExtensionMap {
        let mut map = ExtensionMap::empty();
        map.set(1, Extension::AudioLevel);
        map.set(4, Extension::RtpMid);
        map
    }

    /// A peer's `Rtc`, and where its DTLS will leave its SRTP keys for the shortcut.
    fn rtc(&self, now: Instant) -> (Rtc, Arc<KeySlot>) {
        let mut config = RtcConfig::new()
            .set_extension_map(Engine::extensions())
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .set_dtls_cert(self.cert.clone());
        *config.codec_config() = Engine::codecs();
        srtp::tapped_rtc(config, now)
    }

    /// Accepts a browser's offer (one `sendrecv` audio transceiver) and returns the answer:
    /// ICE-lite, the host candidates of [`EngineConfig`] (UDP at the advertised address, passive
    /// TCP at the advertised TCP one), Opus and telephone-event.
    pub fn add_peer(
        &mut self,
        now: Instant,
        id: PeerId,
        offer_sdp: &str,
    ) -> Result<String, MediaError> {
        let now = self.clock(now);
        if self.peers.contains_key(&id) {
            return Err(MediaError::PeerExists(id));
        }
        if self.peers.len() >= self.config.max_peers {
            return Err(MediaError::TooManyPeers(self.config.max_peers));
        }
        let offer = parse_offer(offer_sdp)?;
        let (mut rtc, keys) = self.rtc(now);
        for c in &self.candidates {
            rtc.add_local_candidate(c.clone());
        }
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| MediaError::Offer(e.to_string()))?;
        let pt = opus_pt(&rtc).ok_or(MediaError::NoOpus)?;
        let answer = answer.to_sdp_string();
        let mid = audio_mid(&rtc, &answer).ok_or(MediaError::NoAudio)?;
        let mut peer = Box::new(Peer {
            rtc,
            mid: Some(mid),
            pt,
            added: now,
            connected: false,
            ice_up: false,
            deadline: now,
            timer: None,
            last_media: now,
            sending: false,
            dead: false,
            out: VecDeque::new(),
            addrs: VecDeque::new(),
            route: Route::Silent,
            stream: OutStream::new(id),
            decoder: None,
            recorder: None,
            forward_to: Vec::new(),
            keys,
            ext_ids: ExtIds::of_answer(&answer),
            shortcut: if self.config.shortcut {
                Shortcut::Pending
            } else {
                Shortcut::Declined
            },
        });
        drain(now, id, &mut peer, &mut self.sink);
        self.sink.timers.arm(id, &mut peer);
        info!(%id, "peer added");
        self.peers.insert(id, peer);
        self.recompute();
        Ok(answer)
    }

    /// Accepts a new offer from an existing peer, typically an ICE restart after the desktop
    /// reconnected from another address. DTLS, streams and routes are kept, so media goes on as
    /// soon as the new path is checked.
    pub fn restart_peer(
        &mut self,
        now: Instant,
        id: PeerId,
        offer_sdp: &str,
    ) -> Result<String, MediaError> {
        let now = self.clock(now);
        let offer = parse_offer(offer_sdp)?;
        let peer = self.peers.get_mut(&id).ok_or(MediaError::NoPeer(id))?;
        let answer = peer
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| MediaError::Offer(e.to_string()))?
            .to_sdp_string();
        // The shortcut writes the extensions of the latest answer. It keeps the stream it
        // opens: str0m has not seen that stream since, and could no longer number it.
        peer.ext_ids = ExtIds::of_answer(&answer);
        if let Shortcut::On(d) = &mut peer.shortcut {
            d.srtp.opener.set_audio_level_id(peer.ext_ids.audio_level);
            // The peer is moving: str0m sends to the path its ICE checks select until the
            // peer's RTP shows the new one.
            d.path = None;
        }
        drain(now, id, peer, &mut self.sink);
        self.sink.timers.arm(id, peer);
        info!(%id, "peer restarted");
        self.reap();
        Ok(answer)
    }

    /// Drops a peer and everything it holds (queues, codecs, routes, addresses) at once. Its
    /// browser learns of the end through signalling. Returns whether it existed.
    pub fn remove_peer(&mut self, id: PeerId) -> bool {
        let Some(mut peer) = self.peers.remove(&id) else {
            return false;
        };
        self.sink.timers.disarm(id, &mut peer);
        for a in &peer.addrs {
            if self.by_addr.get(a) == Some(&id) {
                self.by_addr.remove(a);
            }
        }
        self.sink.media.retain(|(p, _)| *p != id);
        info!(%id, "peer removed");
        self.recompute();
        true
    }

    /// Replaces who hears whom.
    pub fn set_graph(&mut self, graph: &Graph) {
        self.graph = graph.clone();
        self.recompute();
    }

    /// The graph in force.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Replaces the recordings, declaratively like [`Engine::set_graph`]: a recording absent
    /// from `specs` stops, a new one starts, a changed one records its new sources (or pauses,
    /// or resumes) from the next frame on. Every 20 ms of engine time, each unpaused recording
    /// yields one [`MediaEvent::RecordingAudio`]; a source with nothing to play (absent, not a
    /// peer, silent, late) contributes silence, so the frames keep time whatever the sources
    /// do. A recording holds its spec and nothing else; a decoder per recorded peer is shared
    /// by all recordings and freed when no unpaused recording records that peer.
    pub fn set_recordings(&mut self, specs: &BTreeMap<RecordingId, RecordingSpec>) {
        self.recordings = specs.clone();
        self.recompute_recordings();
    }

    /// The recordings in force.
    pub fn recordings(&self) -> &BTreeMap<RecordingId, RecordingSpec> {
        &self.recordings
    }

    /// A UDP datagram that arrived on the socket at `now`, from `from`, sent to `to` (the
    /// advertised address). Anything that is not STUN, DTLS or RTP of a known peer is counted
    /// and dropped.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        self.handle_receive(now, Transport::Udp, from, to, data);
    }

    /// Whether `from` over `transport` is one of a peer's paths: an ICE check from it passed the
    /// peer's integrity check (or it is a candidate ICE found viable). Frames from anywhere else
    /// are dropped.
    pub fn knows(&self, transport: Transport, from: SocketAddr) -> bool {
        self.by_addr.contains_key(&(transport, from))
    }

    /// A datagram that arrived over `transport`: for UDP as [`Engine::handle_datagram`]; for
    /// TCP one RFC 4571 frame (without its length) of the connection from `from` to the
    /// listener advertised as `to` ([`EngineConfig::advertised_tcp`]).
    pub fn handle_receive(
        &mut self,
        now: Instant,
        transport: Transport,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) {
        let now = self.clock(now);
        self.sink.counters.datagrams += 1;
        if self.shortcut_receive(now, transport, from, data) {
            return;
        }
        let Ok(receive) = Receive::new(transport.proto(), from, to, data) else {
            self.sink.counters.unparsable += 1;
            return;
        };
        let input = Input::Receive(now, receive);
        let hinted = self
            .by_addr
            .get(&(transport, from))
            .copied()
            .filter(|id| self.peers.get(id).is_some_and(|p| p.rtc.accepts(&input)));
        // A new path always starts with an ICE check (STUN): only then is it worth asking every
        // peer. Anything else from an address no peer uses is dropped at once, so a flood of
        // junk from spoofed addresses costs one lookup per datagram, not one per peer.
        let id = hinted.or_else(|| {
            is_stun(data)
                .then(|| {
                    self.peers
                        .iter()
                        .find(|(_, p)| !p.dead && p.rtc.accepts(&input))
                        .map(|(id, _)| *id)
                })
                .flatten()
        });
        let Some(id) = id else {
            self.sink.counters.unrouted += 1;
            return;
        };
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if let Err(e) = peer.rtc.handle_input(input) {
            self.sink.counters.rejected += 1;
            debug!(%id, %from, error = %e, "datagram refused");
        }
        let media_before = self.sink.media.len();
        drain(now, id, peer, &mut self.sink);
        if self.sink.media.len() > media_before {
            // str0m opened RTP from here: a path of the peer's, and where its media comes from.
            if let Shortcut::On(d) = &mut peer.shortcut {
                d.path = Some((transport, from));
            }
        }
        if hinted.is_none() {
            if peer.addrs.len() >= ADDRESSES_PER_PEER {
                if let Some(old) = peer.addrs.pop_front() {
                    if self.by_addr.get(&old) == Some(&id) {
                        self.by_addr.remove(&old);
                    }
                }
            }
            peer.addrs.push_back((transport, from));
            self.by_addr.insert((transport, from), id);
        }
        self.sink.timers.arm(id, peer);
        self.route_media(now);
        self.reap();
    }

    /// The shortcut's receive: RTP of a connected peer's adopted stream, from one of the
    /// peer's paths, opened here and routed. Returns whether the datagram was taken (opened or
    /// refused); anything else (STUN, DTLS, RTCP, a stream not adopted) is str0m's.
    fn shortcut_receive(
        &mut self,
        now: Instant,
        transport: Transport,
        from: SocketAddr,
        data: &[u8],
    ) -> bool {
        let Some(&id) = self.by_addr.get(&(transport, from)) else {
            return false;
        };
        let Some(peer) = self.peers.get_mut(&id).filter(|p| !p.dead) else {
            return false;
        };
        let Shortcut::On(d) = &mut peer.shortcut else {
            return false;
        };
        match d.srtp.opener.open(data) {
            Ok(opened) => {
                d.path = Some((transport, from));
                self.sink.counters.shortcut_opened += 1;
                self.sink.media.push_back((id, Packet::from(opened)));
                self.route_media(now);
                self.reap();
                true
            }
            Err(why) if why.is_for_str0m() => false,
            Err(why) => {
                self.sink.counters.shortcut_refused += 1;
                debug!(%id, %from, ?why, "RTP refused");
                true
            }
        }
    }

    /// Time passed: feeds the peers whose deadline is due, reports silent peers, runs the mix
    /// clock.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.clock(now);
        while let Some(id) = self.sink.timers.pop_due(now) {
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            peer.timer = None;
            if peer.deadline <= now {
                self.sink.counters.peer_timeouts += 1;
                if let Err(e) = peer.rtc.handle_input(Input::Timeout(now)) {
                    debug!(%id, error = %e, "timeout refused");
                }
                drain(now, id, peer, &mut self.sink);
            }
            if peer.connected && peer.sending && peer.last_media + self.config.silence_after <= now
            {
                peer.sending = false;
                info!(%id, "stopped sending");
                self.sink.event(MediaEvent::StoppedSending(id));
            }
            if !peer.connected && !peer.dead && peer.added + self.config.connect_timeout <= now {
                peer.dead = true;
                self.sink.dying.push(id);
                self.sink.event(MediaEvent::Disconnected {
                    peer: id,
                    why: Disconnect::NeverConnected,
                });
            }
            if !peer.dead {
                self.sink.timers.arm(id, peer);
            }
        }
        self.route_media(now);
        while let Some(at) = self.next_tick.filter(|t| *t <= now) {
            let at = if now.saturating_duration_since(at) > MAX_TICK_LAG {
                now
            } else {
                at
            };
            self.tick(now);
            self.next_tick = self.next_tick.map(|_| at + FRAME);
        }
        self.run_recording_clock(now);
        self.reap();
    }

    /// The next datagram to send. Peers take turns, one datagram each.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        while let Some(id) = self.sink.ready.pop_front() {
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            let Some(t) = peer.out.pop_front() else {
                continue;
            };
            if !peer.out.is_empty() {
                self.sink.ready.push_back(id);
            }
            return Some(t);
        }
        None
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.sink.events.pop_front()
    }

    /// When [`Engine::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let recording = match self.recording_clock {
            RecordingClock::Off => None,
            RecordingClock::Starting => self.now,
            RecordingClock::At(t) => Some(t),
        };
        [self.sink.timers.next(), self.next_tick, recording]
            .into_iter()
            .flatten()
            .min()
    }

    /// What happened so far.
    pub fn counters(&self) -> Counters {
        self.sink.counters
    }

    /// What is held now.
    pub fn footprint(&self) -> Footprint {
        let mut f = Footprint {
            peers: self.peers.len(),
            addresses: self.by_addr.len(),
            ..Footprint::default()
        };
        f.recordings = self.recordings.len();
        for p in self.peers.values() {
            f.decoders += usize::from(p.decoder.is_some());
            f.recorders += usize::from(p.recorder.is_some());
            f.queued_transmits += p.out.len();
            match p.route {
                Route::Mix { .. } => f.encoders += 1,
                Route::Forward(_) => f.forwarding += 1,
                Route::Silent => {}
            }
        }
        f
    }

    /// Whether `id` is a peer with DTLS up.
    pub fn is_connected(&self, id: PeerId) -> bool {
        self.peers.get(&id).is_some_and(|p| p.connected && p.ice_up)
    }

    /// Removes peers that closed or failed.
    fn reap(&mut self) {
        while let Some(id) = self.sink.dying.pop() {
            self.remove_peer(id);
        }
    }

    /// Derives every receiver's route, the indexes and the codecs from the graph and the peers.
    fn recompute(&mut self) {
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        let mut needs_decoder = BTreeSet::new();
        let mut forward_to: HashMap<PeerId, Vec<PeerId>> = HashMap::new();
        self.music_to.clear();
        self.mixers.clear();
        for &r in &ids {
            let feeds: Vec<Feed> = self
                .graph
                .hears(r)
                .filter_map(|s| match s {
                    Source::Peer(p) if p != r && self.peers.contains_key(&p) => Some(Feed::Peer(p)),
                    Source::HoldMusic => Some(Feed::Music),
                    Source::Peer(_) => None,
                })
                .collect();
            let Some(peer) = self.peers.get_mut(&r) else {
                continue;
            };
            let old = std::mem::replace(&mut peer.route, Route::Silent);
            let old_route = RouteKind::of(&old);
            peer.route = match (feeds.as_slice(), old) {
                ([], _) => Route::Silent,
                ([one], _) => Route::Forward(*one),
                (_, Route::Mix { encoder, .. }) => Route::Mix { feeds, encoder },
                (_, _) => match MixEncoder::for_mix(self.config.mix_complexity) {
                    Ok(encoder) => Route::Mix {
                        feeds,
                        encoder: Box::new(encoder),
                    },
                    Err(e) => {
                        self.sink.counters.media_errors += 1;
                        debug!(%r, error = %e, "no encoder for a mix");
                        Route::Silent
                    }
                },
            };
            if !same_stream(&old_route, &peer.route) {
                peer.stream.interrupt();
            }
            match &peer.route {
                Route::Silent => {}
                Route::Forward(Feed::Peer(s)) => forward_to.entry(*s).or_default().push(r),
                Route::Forward(Feed::Music) => self.music_to.push(r),
                Route::Mix { feeds, .. } => {
                    self.mixers.push(r);
                    for f in feeds {
                        if let Feed::Peer(s) = f {
                            needs_decoder.insert(*s);
                        }
                    }
                }
            }
        }
        for (id, peer) in self.peers.iter_mut() {
            peer.forward_to = forward_to.remove(id).unwrap_or_default();
            if !needs_decoder.contains(id) {
                peer.decoder = None;
            } else if peer.decoder.is_none() {
                match SourceDecoder::new() {
                    Ok(d) => peer.decoder = Some(Box::new(d)),
                    Err(e) => {
                        self.sink.counters.media_errors += 1;
                        debug!(%id, error = %e, "no decoder");
                    }
                }
            }
        }
        let clocked = !self.mixers.is_empty() || !self.music_to.is_empty();
        match (clocked, self.next_tick) {
            (false, _) => self.next_tick = None,
            (true, None) => self.next_tick = self.now.map(|t| t + FRAME),
            (true, Some(_)) => {}
        }
        self.recompute_recordings();
    }

    /// Gives a 16 kHz decoder to every peer that an unpaused recording records and takes it
    /// from the others; starts or stops the recording clock.
    fn recompute_recordings(&mut self) {
        let recorded: BTreeSet<PeerId> = self
            .recordings
            .values()
            .filter(|r| !r.paused)
            .flat_map(RecordingSpec::sources)
            .filter_map(|s| match s {
                Source::Peer(p) => Some(p),
                Source::HoldMusic => None,
            })
            .collect();
        for (id, peer) in self.peers.iter_mut() {
            if !recorded.contains(id) {
                peer.recorder = None;
            } else if peer.recorder.is_none() {
                match SourceDecoder::at(RECORDING_SAMPLE_RATE) {
                    Ok(d) => peer.recorder = Some(Box::new(d)),
                    Err(e) => {
                        self.sink.counters.media_errors += 1;
                        debug!(%id, error = %e, "no recording decoder");
                    }
                }
            }
        }
        let running = self.recordings.values().any(|r| !r.paused);
        self.recording_clock = match (running, self.recording_clock) {
            (false, _) => RecordingClock::Off,
            (true, RecordingClock::Off) => RecordingClock::Starting,
            (true, clock) => clock,
        };
    }

    /// Produces every recording frame due at `now`: all of them up to
    /// [`MAX_RECORDING_CATCHUP`] late, so that recordings keep wall-clock time.
    fn run_recording_clock(&mut self, now: Instant) {
        if self.recording_clock == RecordingClock::Starting {
            self.recording_clock = RecordingClock::At(now + FRAME);
            return;
        }
        while let RecordingClock::At(mut at) = self.recording_clock {
            if at > now {
                break;
            }
            let behind = now.saturating_duration_since(at);
            if behind > MAX_RECORDING_CATCHUP {
                let skip =
                    ((behind - MAX_RECORDING_CATCHUP).as_micros() / FRAME.as_micros()) as u32 + 1;
                let running = self.recordings.values().filter(|r| !r.paused).count() as u64;
                self.sink.counters.recording_frames_skipped += u64::from(skip) * running;
                self.recording_ticks += u64::from(skip);
                at += FRAME * skip;
                info!(
                    skipped = skip,
                    "the recording clock was late and skipped ahead"
                );
            }
            self.record();
            self.recording_clock = RecordingClock::At(at + FRAME);
        }
    }

    /// One 20 ms frame of every unpaused recording.
    fn record(&mut self) {
        self.recording_ticks += 1;
        self.recorded.clear();
        for (id, peer) in self.peers.iter_mut() {
            if let Some(d) = peer.recorder.as_mut() {
                let mut f = [0i16; RECORDING_FRAME_SAMPLES];
                if d.take_into(&mut f) {
                    self.recorded.push((*id, f));
                }
            }
        }
        let music = &self.music.recording;
        let music_frame = music.get((self.recording_ticks % music.len().max(1) as u64) as usize);
        for (id, spec) in &self.recordings {
            if spec.paused {
                continue;
            }
            let mut acc = [[0i32; RECORDING_FRAME_SAMPLES]; 2];
            for (acc, sources) in acc.iter_mut().zip(&spec.channels) {
                for source in sources {
                    let frame = match source {
                        Source::Peer(p) => self
                            .recorded
                            .binary_search_by_key(p, |(id, _)| *id)
                            .ok()
                            .and_then(|i| self.recorded.get(i))
                            .map(|(_, f)| f),
                        Source::HoldMusic => music_frame,
                    };
                    if let Some(f) = frame {
                        audio::accumulate_recording(acc, f);
                    }
                }
            }
            let [left, right] = &acc;
            let mut pcm = Vec::with_capacity(2 * RECORDING_FRAME_SAMPLES);
            for (l, r) in left.iter().zip(right) {
                pcm.push(audio::clamp_sample(*l));
                pcm.push(audio::clamp_sample(*r));
            }
            self.sink.counters.recording_frames += 1;
            self.sink.event(MediaEvent::RecordingAudio { id: *id, pcm });
        }
    }

    /// Routes the RTP packets that draining produced: Opus to the decoders of mixes and
    /// recordings and, as it came, to the receivers forwarded this source.
    fn route_media(&mut self, now: Instant) {
        while let Some((src, packet)) = self.sink.media.pop_front() {
            let Some(peer) = self.peers.get_mut(&src) else {
                continue;
            };
            peer.last_media = now;
            if !peer.sending {
                peer.sending = true;
                if peer.connected {
                    info!(id = %src, "resumed sending");
                    self.sink.event(MediaEvent::ResumedSending(src));
                }
            }
            self.sink.timers.arm(src, peer);
            if packet.pt != peer.pt {
                // DTMF (telephone-event) is negotiated but not relayed.
                continue;
            }
            for d in [peer.decoder.as_mut(), peer.recorder.as_mut()]
                .into_iter()
                .flatten()
            {
                if !d.push(&packet.payload) {
                    self.sink.counters.media_errors += 1;
                }
            }
            // Taken out for the loop (writing needs the engine) and put back: routes change
            // only in `recompute`, never while media is routed.
            if peer.forward_to.is_empty() {
                continue;
            }
            let receivers = std::mem::take(&mut peer.forward_to);
            let ext = ExtensionValues {
                audio_level: packet.audio_level,
                voice_activity: packet.voice_activity,
                ..ExtensionValues::default()
            };
            for &r in &receivers {
                let out = Out {
                    origin: Origin::Peer(src),
                    ts: packet.ts,
                    seq: packet.seq,
                    ext: ext.clone(),
                    payload: packet.payload.clone(),
                };
                if self.write(now, r, out) {
                    self.sink.counters.forwarded += 1;
                }
            }
            if let Some(peer) = self.peers.get_mut(&src) {
                peer.forward_to = receivers;
            }
        }
    }

    /// One 20 ms step of the mix clock: music to those forwarded it, a mix to each mixer.
    fn tick(&mut self, now: Instant) {
        self.ticks += 1;
        let n = self.music.len().max(1);
        let index = (self.ticks % n as u64) as usize;
        if let Some(frame) = self.music_opus.get(index).cloned() {
            for r in self.music_to.clone() {
                let out = Out::tick(Origin::Music, self.ticks, frame.clone());
                if self.write(now, r, out) {
                    self.sink.counters.music += 1;
                }
            }
        }
        if self.mixers.is_empty() {
            return;
        }
        self.frames.clear();
        for (id, peer) in self.peers.iter_mut() {
            if let Some(f) = peer.decoder.as_mut().and_then(|d| d.take()) {
                self.frames.push((*id, f));
            }
        }
        for r in self.mixers.clone() {
            let Some(peer) = self.peers.get_mut(&r) else {
                continue;
            };
            if !peer.connected {
                continue;
            }
            let Route::Mix { feeds, encoder } = &mut peer.route else {
                continue;
            };
            let mut acc = [0i32; FRAME_SAMPLES];
            for feed in feeds.iter() {
                match feed {
                    Feed::Peer(s) => {
                        if let Some((_, f)) = self.frames.iter().find(|(id, _)| id == s) {
                            audio::accumulate(&mut acc, f);
                        }
                    }
                    Feed::Music => {
                        if let Some(f) = self.music.pcm.get(index) {
                            audio::accumulate(&mut acc, f);
                        }
                    }
                }
            }
            match encoder.encode(&audio::clamp(&acc)) {
                Ok(packet) => {
                    if self.write(now, r, Out::tick(Origin::Mix, self.ticks, packet.into())) {
                        self.sink.counters.mixed += 1;
                    }
                }
                Err(e) => {
                    self.sink.counters.media_errors += 1;
                    debug!(%r, error = %e, "mix not encoded");
                }
            }
        }
    }

    /// Writes one Opus packet to a receiver (if it is connected) under the receiver's own
    /// sequence numbers and timestamps, and drains it. Returns whether it was sent.
    fn write(&mut self, now: Instant, r: PeerId, out: Out) -> bool {
        let Some(peer) = self.peers.get_mut(&r) else {
            return false;
        };
        let Some(mid) = peer
            .mid
            .filter(|_| peer.connected && peer.ice_up && !peer.dead)
        else {
            return false;
        };
        let Some(stamp) = peer.stream.stamp(out.origin, out.ts, out.seq, now) else {
            return false;
        };
        let pt = peer.pt;
        if let Some(sealed) = seal_for(r, peer, pt, stamp, &out) {
            return match sealed {
                Some(t) => {
                    self.sink.counters.shortcut_sealed += 1;
                    queue(r, peer, &mut self.sink, t);
                    true
                }
                None => {
                    self.sink.counters.media_errors += 1;
                    false
                }
            };
        }
        let written = match peer.rtc.direct_api().stream_tx_by_mid(mid, None) {
            Some(tx) => {
                tx.write_rtp(
                    // An RTP timestamp is the low 32 bits of the extended one.
                    RtpWrite::new(
                        pt,
                        SeqNo::from(stamp.seq),
                        stamp.ts as u32,
                        now,
                        out.payload,
                    )
                    .marker(stamp.marker)
                    .ext_vals(out.ext),
                );
                true
            }
            None => false,
        };
        if written {
            // str0m sends a written packet on its next timeout: give it that now, so the
            // packet leaves with this batch instead of after another turn of the loop.
            if let Err(e) = peer.rtc.handle_input(Input::Timeout(now)) {
                debug!(%r, error = %e, "timeout refused");
            }
        } else {
            self.sink.counters.media_errors += 1;
        }
        drain(now, r, peer, &mut self.sink);
        self.sink.timers.arm(r, peer);
        written
    }
}

/// One packet for receiver `r` sealed on the shortcut, to the receiver's path: `None` when
/// the shortcut does not carry this receiver (yet), `Some(None)` when the cipher failed.
fn seal_for(
    r: PeerId,
    peer: &mut Peer,
    pt: Pt,
    stamp: Stamp,
    out: &Out,
) -> Option<Option<Transmit>> {
    let mid_ext = peer.ext_ids.mid?;
    let audio_level_ext = peer.ext_ids.audio_level;
    let d = peer.direct(r)?;
    let (transport, destination) = d.path?;
    let header = Outgoing {
        pt: *pt,
        marker: stamp.marker,
        seq: stamp.seq,
        // An RTP timestamp is the low 32 bits of the extended one.
        ts: stamp.ts as u32,
        ssrc: d.srtp.ssrc,
        mid: Some((mid_ext, &d.mid)),
        audio_level: audio_level_ext
            .zip(out.ext.audio_level)
            .zip(out.ext.voice_activity)
            .map(|((id, level), voice)| (id, level, voice)),
    };
    Some(
        d.srtp
            .sealer
            .seal(&header, &out.payload)
            .map(|contents| Transmit {
                transport,
                destination,
                contents,
            }),
    )
}

/// One packet for a receiver: where it comes from, its numbers in the source's terms, and the
/// Opus packet.
struct Out {
    origin: Origin,
    /// The source's extended 48 kHz timestamp.
    ts: u64,
    /// The source's extended sequence number.
    seq: u64,
    ext: ExtensionValues,
    payload: Arc<[u8]>,
}

impl Out {
    /// A packet the mix clock made on its `tick`th step (music or a mix): one per step, so
    /// the step numbers the packets.
    fn tick(origin: Origin, tick: u64, payload: Arc<[u8]>) -> Out {
        Out {
            origin,
            ts: tick * FRAME_SAMPLES as u64,
            seq: tick,
            ext: ExtensionValues::default(),
            payload,
        }
    }
}

/// The payload type Opus has in a connection's codecs (after an offer or answer was applied, the
/// one both sides agreed on).
pub fn opus_pt(rtc: &Rtc) -> Option<Pt> {
    rtc.codec_config()
        .params()
        .iter()
        .find(|p| p.spec().codec == Codec::Opus)
        .map(|p| p.pt())
}

/// The attribute lines of an SDP's accepted audio sections (a rejected m-line has port 0).
fn audio_lines(sdp: &str) -> impl Iterator<Item = &str> {
    let mut in_audio = false;
    sdp.lines()
        .filter(move |line| match line.strip_prefix("m=") {
            Some(m) => {
                in_audio = m.starts_with("audio ") && !m.starts_with("audio 0 ");
                false
            }
            None => in_audio,
        })
}

/// The first audio media the answer accepts (str0m announces media with events only once
/// DTLS is up, so the answer is where to look at offer time).
fn audio_mid(rtc: &Rtc, answer: &str) -> Option<Mid> {
    audio_lines(answer)
        .filter_map(|line| line.strip_prefix("a=mid:"))
        .map(|mid| Mid::from(mid.trim()))
        .find(|mid| {
            rtc.media(*mid)
                .is_some_and(|m| m.kind() == MediaKind::Audio)
        })
}

/// The host candidates of every answer: UDP at the advertised address, passive TCP at the
/// advertised TCP one; at least one of them.
fn host_candidates(config: &EngineConfig) -> Result<Vec<Candidate>, MediaError> {
    let mut candidates = Vec::new();
    if config.udp {
        let c = Candidate::host(config.advertised, "udp")
            .map_err(|e| MediaError::Candidate(config.advertised, e.to_string()))?;
        candidates.push(c);
    }
    if let Some(addr) = config.advertised_tcp {
        let c = Candidate::builder()
            .tcp()
            .host(addr)
            .tcptype(TcpType::Passive)
            .build()
            .map_err(|e| MediaError::Candidate(addr, e.to_string()))?;
        candidates.push(c);
    }
    if candidates.is_empty() {
        return Err(MediaError::NoTransport);
    }
    Ok(candidates)
}

/// Whether `data` looks like STUN (RFC 7983's demultiplexing: a first byte of 0 to 3, and the
/// magic cookie of RFC 5389).
fn is_stun(data: &[u8]) -> bool {
    data.len() >= 20 && data[0] < 4 && data[4..8] == [0x21, 0x12, 0xa4, 0x42]
}

fn parse_offer(sdp: &str) -> Result<SdpOffer, MediaError> {
    if sdp.len() > MAX_SDP_BYTES {
        return Err(MediaError::OfferTooLarge(sdp.len()));
    }
    SdpOffer::from_sdp_string(sdp).map_err(|e| MediaError::Sdp(e.to_string()))
}

/// Polls a peer's `Rtc` until it reports its next timeout: queues its datagrams, handles its
/// events, and hands media frames to the sink for routing.
fn drain(now: Instant, id: PeerId, peer: &mut Peer, sink: &mut Sink) {
    loop {
        match peer.rtc.poll_output() {
            Ok(Output::Timeout(t)) => {
                peer.deadline = t;
                return;
            }
            Ok(Output::Transmit(t)) => {
                let t = Transmit {
                    transport: Transport::of(t.proto),
                    destination: t.destination,
                    contents: t.contents.into(),
                };
                queue(id, peer, sink, t);
            }
            Ok(Output::Event(e)) => on_event(now, id, peer, sink, e),
            Err(e) => {
                info!(%id, error = %e, "peer failed");
                fail(id, peer, sink, Disconnect::Failed(e.to_string()));
                return;
            }
        }
        if !peer.rtc.is_alive() {
            fail(id, peer, sink, Disconnect::Closed);
            return;
        }
    }
}

/// Queues a datagram for a peer, dropping its oldest when the queue is full.
fn queue(id: PeerId, peer: &mut Peer, sink: &mut Sink, t: Transmit) {
    if peer.out.is_empty() {
        sink.ready.push_back(id);
    }
    if peer.out.len() >= PEER_TRANSMIT_QUEUE {
        peer.out.pop_front();
        sink.counters.dropped_transmits += 1;
    }
    peer.out.push_back(t);
}

impl From<Opened> for Packet {
    fn from(p: Opened) -> Packet {
        Packet {
            pt: Pt::new_with_value(p.pt),
            seq: p.seq,
            ts: p.ts,
            audio_level: p.audio_level,
            voice_activity: p.voice_activity,
            payload: p.payload.into(),
        }
    }
}

impl From<RtpPacket> for Packet {
    fn from(p: RtpPacket) -> Packet {
        Packet {
            pt: p.header.payload_type,
            seq: *p.seq_no,
            ts: p.time.rebase(Frequency::FORTY_EIGHT_KHZ).numer(),
            audio_level: p.header.ext_vals.audio_level,
            voice_activity: p.header.ext_vals.voice_activity,
            payload: p.payload,
        }
    }
}

fn fail(id: PeerId, peer: &mut Peer, sink: &mut Sink, why: Disconnect) {
    if !peer.dead {
        peer.dead = true;
        sink.dying.push(id);
        sink.event(MediaEvent::Disconnected { peer: id, why });
    }
}

fn on_event(now: Instant, id: PeerId, peer: &mut Peer, sink: &mut Sink, e: Event) {
    match e {
        Event::Connected => {
            info!(%id, "connected");
            peer.connected = true;
            peer.ice_up = true;
            peer.last_media = now;
            peer.sending = true;
            sink.event(MediaEvent::Connected(id));
        }
        Event::IceConnectionStateChange(s) => {
            debug!(%id, state = ?s, "ice");
            match s {
                IceConnectionState::Disconnected if peer.ice_up => {
                    peer.ice_up = false;
                    if peer.connected {
                        sink.event(MediaEvent::Disconnected {
                            peer: id,
                            why: Disconnect::IceLost,
                        });
                    }
                }
                IceConnectionState::Connected | IceConnectionState::Completed if !peer.ice_up => {
                    peer.ice_up = true;
                    if peer.connected {
                        sink.event(MediaEvent::Connected(id));
                    }
                }
                _ => {}
            }
        }
        Event::RtpPacket(p) => {
            if let Some(d) = peer.direct(id) {
                // The shortcut opens this stream from the next packet on.
                d.srtp.opener.adopt_packet(&p);
            }
            sink.media.push_back((id, Packet::from(p)));
        }
        Event::Closed => fail(id, peer, sink, Disconnect::Closed),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{is_stun, ExtIds, Origin, OutStream, Stamp};
    use crate::graph::PeerId;

    #[test]
    fn an_out_stream_keeps_a_source_spacing_and_rebases_on_a_switch() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let a = Origin::Peer(PeerId(1));
        let b = Origin::Peer(PeerId(2));
        let mut s = OutStream::new(PeerId(7));
        let first = s.stamp(a, 50_000, 9_000, ms(0)).expect("first");
        assert!(first.marker);
        assert_eq!(first.ts, 0);
        assert!(first.seq < 0x8000, "the rollover counter starts at 0");
        let seq0 = first.seq;
        // The next packet follows; a lost one stays a gap; a reordered one keeps its place.
        let next = s.stamp(a, 50_960, 9_001, ms(20));
        assert_eq!(
            next,
            Some(Stamp {
                ts: 960,
                seq: seq0 + 1,
                marker: false
            })
        );
        let after_gap = s.stamp(a, 52_880, 9_003, ms(60)).expect("after a loss");
        assert_eq!((after_gap.ts, after_gap.seq), (2_880, seq0 + 3));
        let late = s.stamp(a, 51_920, 9_002, ms(61)).expect("reordered");
        assert_eq!((late.ts, late.seq), (1_920, seq0 + 2));
        // A duplicate and a packet from before the run are dropped.
        assert_eq!(s.stamp(a, 52_880, 9_003, ms(62)), None);
        assert_eq!(s.stamp(a, 49_040, 8_999, ms(62)), None);
        // Another source continues the numbering: the next sequence number, the time elapsed.
        let switched = s.stamp(b, 7, 100, ms(100)).expect("switched");
        assert!(switched.marker);
        assert_eq!(switched.seq, seq0 + 4);
        assert_eq!(switched.ts, 2_880 + 40 * 48);
        // Source A's packets from before the switch back do not reach into B's run.
        let back = s.stamp(a, 53_840, 9_004, ms(120)).expect("back to A");
        assert_eq!(back.seq, seq0 + 5);
        assert_eq!(s.stamp(a, 52_880, 9_003, ms(121)), None);
        // An interrupted stream (a route change) rebases even for the same source.
        s.interrupt();
        let resumed = s
            .stamp(a, 53_840 + 50 * 960, 9_054, ms(1_120))
            .expect("resumed");
        assert!(resumed.marker);
        assert_eq!(resumed.seq, seq0 + 6);
    }

    #[test]
    fn the_shortcut_takes_its_extension_ids_from_the_audio_section_of_the_answer() {
        let answer = "v=0\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
            a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
            a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
            a=extmap:3/sendrecv urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
            a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n";
        assert_eq!(
            ExtIds::of_answer(answer),
            ExtIds {
                mid: Some(3),
                audio_level: Some(1)
            }
        );
        // An id beyond the one-byte form (RFC 8285) is not one the shortcut can write.
        let two_byte = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
            a=extmap:15 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
            a=extmap:x urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n";
        assert_eq!(ExtIds::of_answer(two_byte), ExtIds::default());
    }

    #[test]
    fn stun_is_told_from_dtls_and_rtp_by_first_byte_and_cookie() {
        let mut binding = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        binding.extend([7u8; 12]);
        assert!(is_stun(&binding));
        // DTLS (20..=63), RTP/RTCP (128..=191), a wrong cookie, a short datagram.
        for first in [22u8, 128, 200] {
            let mut d = binding.clone();
            d[0] = first;
            assert!(!is_stun(&d), "first byte {first}");
        }
        let mut wrong = binding.clone();
        wrong[5] = 0;
        assert!(!is_stun(&wrong));
        assert!(!is_stun(&binding[..19]));
    }
}
