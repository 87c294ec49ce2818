//! Simulated agents' audio: one str0m `Rtc` per agent (full ICE; the offerer towards our relay,
//! the answerer when Janus offers), each with its own UDP socket on 127.0.0.1 (the relays route
//! by 5-tuple), sending one audio frame every 20 ms as an RTP packet of its own (str0m's RTP
//! mode, as the relay itself runs: no packetizer, jitter buffer or frame timers). Used by the
//! relay benchmark (`switchboard-bench relay`, measured in windows) and by
//! `switchboard load --media` (one peer per side of each call, followed by a [`Probe`] until
//! the call ends).
//!
//! A peer offered with [`Peer::offer_over_tcp`] reaches our relay over ICE-TCP instead: one TCP
//! connection to the relay's listener, its one (active) candidate, every datagram an RFC 4571
//! frame on it.
//!
//! What a receiver measures, from the packets it gets:
//! - **Stamped** payloads (forwarding runs; the relay does not decode): a valid-looking Opus TOC
//!   byte, then the sender's index, a sequence number and the send time in nanoseconds since
//!   the run's shared `Instant`. The receiver (same process, same clock) gets the one-way delay
//!   of every frame, RFC 3550 interarrival jitter per stream, and counts the frames sent in the
//!   measurement window that arrived (loss = 1 − received / sent, per sender).
//! - **Opus** payloads (mixing runs): real pre-encoded Opus, cycled. A mix carries no stamp, so
//!   the receiver counts the frames that arrived in the window (expected: 50 per second).
//!
//! The peers run on a few client threads ([`Fleet`]). Each thread is one loop over its peers:
//! their sockets in one `epoll` set (mio), their str0m deadlines and frame schedules in one
//! ordered index, so a wake-up serves every peer that is due for one system call, with no task
//! or timer per peer. Each peer records how late its frames left against their schedule, so
//! that a client that cannot keep up shows as a warning instead of as the server's loss or
//! delay.
//!
//! A peer can also be watched on its own ([`Peer::watch`]): its [`Probe`] counts, outside any
//! window, the stamped frames from one sender (its party) with their sequence range and delays,
//! says when the last one arrived, and stops that peer alone.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, SocketAddr, TcpStream as StdTcpStream, UdpSocket as StdUdpSocket,
};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::TcpType;
use str0m::net::{Protocol, Receive};
use str0m::rtp::{Extension, ExtensionMap, RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use switchboard_media::framing::{self, Deframer};
use switchboard_media::srtp::{self as shortcut, Direct, KeySlot, Opener, Outgoing, TakeOver};

/// One frame every 20 ms.
pub const FRAME: Duration = Duration::from_millis(20);
/// Frames per second of one stream.
pub const FRAMES_PER_SECOND: f64 = 50.0;
/// Samples per frame at 48 kHz.
const FRAME_SAMPLES: u64 = 960;
/// Opus TOC of a stamped payload: config 15 (hybrid, fullband, 20 ms), mono, one frame.
const TOC: u8 = 0x78;
/// Bytes of a stamped payload (about a 32 kbit/s Opus frame).
const STAMPED_BYTES: usize = 80;
/// A frame this late against its schedule counts as late; one this late is skipped.
const LATE: Duration = Duration::from_millis(5);
const SKIP: Duration = Duration::from_millis(100);
/// How long after the window frames sent in it may still arrive.
const GRACE: Duration = Duration::from_millis(500);
/// The longest a task sleeps without looking at the stop flag.
const MAX_SLEEP: Duration = Duration::from_millis(100);

/// What a peer sends.
#[derive(Clone)]
pub enum Payload {
    /// Stamped frames (see the module documentation).
    Stamped,
    /// These Opus frames, cycled.
    Opus(Arc<Vec<Vec<u8>>>),
}

/// State shared by every peer of a run and the code that drives it.
pub struct Shared {
    /// The clock base of the stamps.
    pub base: Instant,
    /// The measurement window, in ns since `base` (`u64::MAX` until set).
    window_start: AtomicU64,
    window_end: AtomicU64,
    stop: AtomicBool,
    /// Incremented when a window opens; every peer hands in its report once it has passed.
    round: AtomicU64,
    reports: Mutex<Vec<PeerReport>>,
    /// Peers whose DTLS is up.
    pub connected: AtomicUsize,
    /// Peers that received at least one frame.
    pub hearing: AtomicUsize,
    /// Peers whose ICE disconnected or whose str0m failed.
    pub failed: AtomicUsize,
    /// Why the first of them failed.
    first_failure: Mutex<Option<String>>,
}

impl Shared {
    /// A fresh run's shared state.
    pub fn new() -> Arc<Shared> {
        Arc::new(Shared {
            base: Instant::now(),
            window_start: AtomicU64::new(u64::MAX),
            window_end: AtomicU64::new(u64::MAX),
            stop: AtomicBool::new(false),
            round: AtomicU64::new(0),
            reports: Mutex::new(Vec::new()),
            connected: AtomicUsize::new(0),
            hearing: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            first_failure: Mutex::new(None),
        })
    }

    /// Why the first peer that failed did (`None`: none has).
    pub fn first_failure(&self) -> Option<String> {
        self.first_failure.lock().ok().and_then(|f| f.clone())
    }

    /// Nanoseconds from `base` to `t` (the stamps' clock).
    pub fn ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.base).as_nanos() as u64
    }

    /// Starts the window now and ends it `length` later.
    pub fn open_window(&self, length: Duration) -> (Instant, Instant) {
        let start = Instant::now();
        let end = start + length;
        self.window_end.store(self.ns(end), Ordering::SeqCst);
        self.window_start.store(self.ns(start), Ordering::SeqCst);
        self.round.fetch_add(1, Ordering::SeqCst);
        (start, end)
    }

    /// After the window: the reports of `peers` peers (fewer when some stopped or do not
    /// answer within `timeout`).
    pub async fn collect(&self, peers: usize, timeout: Duration) -> Vec<PeerReport> {
        let until = Instant::now() + timeout;
        loop {
            let n = self.reports.lock().map_or(0, |r| r.len());
            if n >= peers || Instant::now() > until {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.reports
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }

    fn window_over(&self, now_ns: u64) -> bool {
        now_ns
            > self
                .window_end
                .load(Ordering::SeqCst)
                .saturating_add(GRACE.as_nanos() as u64)
    }

    fn in_window(&self, ns: u64) -> bool {
        ns >= self.window_start.load(Ordering::Relaxed)
            && ns < self.window_end.load(Ordering::Relaxed)
    }

    /// Tells every peer to stop and hand in its report.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// What one peer measured over the window.
#[derive(Debug, Default)]
pub struct PeerReport {
    /// The peer's index.
    pub index: u32,
    /// Frames it sent whose send time is in the window.
    pub sent: u64,
    /// Frames received in the window, by sender index (stamped) or under `u32::MAX` (Opus).
    pub received: BTreeMap<u32, u64>,
    /// One-way delays of stamped frames sent in the window, µs.
    pub delays_us: Vec<u32>,
    /// RFC 3550 interarrival jitter at the end of the window, per sender, µs.
    pub jitter_us: Vec<f64>,
    /// Frames in the window that left more than 5 ms late.
    pub late: u64,
    /// The latest a frame left in the window.
    pub max_late: Duration,
    /// Frames skipped because the task was more than 100 ms behind.
    pub skipped: u64,
    /// Whether DTLS came up.
    pub connected: bool,
    /// Errors str0m reported (first one).
    pub error: Option<String>,
}

/// What a watched peer received from its party (stamped frames), for as long as it ran.
#[derive(Debug, Default, Clone)]
pub struct Heard {
    /// Frames from the party.
    pub frames: u64,
    /// The lowest and highest sequence numbers among them.
    pub seq: Option<(u32, u32)>,
    /// Their one-way delays, µs.
    pub delays_us: Vec<u32>,
}

impl Heard {
    /// Frames the party sent from the first to the last one received (RFC 3550's expected
    /// count: what was lost before the first or after the last is not seen).
    pub fn expected(&self) -> u64 {
        self.seq
            .map_or(0, |(lo, hi)| u64::from(hi.wrapping_sub(lo)) + 1)
    }
}

/// One peer followed on its own: how it stands, the frames it received from its party, and a
/// stop for it alone (the task ends within 100 ms, dropping its connection and socket).
#[derive(Debug)]
pub struct Probe {
    party: u32,
    stop: AtomicBool,
    connected: AtomicBool,
    failed: AtomicBool,
    /// Arrival of the latest frame from the party, ns since [`Shared::base`] (0: none yet).
    last_ns: AtomicU64,
    sent: AtomicU64,
    late: AtomicU64,
    heard: Mutex<Heard>,
}

impl Probe {
    /// Stops the peer.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether DTLS came up.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Whether str0m failed or ICE disconnected.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Whether a frame from the party arrived at or after `since_ns` (the stamps' clock).
    pub fn heard_since(&self, since_ns: u64) -> bool {
        let last = self.last_ns.load(Ordering::Relaxed);
        last != 0 && last >= since_ns
    }

    /// Frames this peer sent, and how many of them left more than 5 ms late.
    pub fn sent(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.late.load(Ordering::Relaxed),
        )
    }

    /// What it received from its party so far (taken: the delays are moved out).
    pub fn take_heard(&self) -> Heard {
        self.heard
            .lock()
            .map(|mut h| std::mem::take(&mut *h))
            .unwrap_or_default()
    }

    fn frame(&self, arrival_ns: u64, seq: u32, delay_us: u32) {
        self.last_ns.store(arrival_ns.max(1), Ordering::Relaxed);
        if let Ok(mut h) = self.heard.lock() {
            h.frames += 1;
            h.seq = Some(match h.seq {
                None => (seq, seq),
                Some((lo, hi)) => (lo.min(seq), hi.max(seq)),
            });
            h.delays_us.push(delay_us);
        }
    }
}

/// How a peer reaches the relay, before it runs.
enum Path {
    Udp(StdUdpSocket),
    /// An ICE-TCP connection to the relay's listener at the address.
    Tcp(StdTcpStream, SocketAddr),
}

/// One simulated agent's PeerConnection before it runs.
pub struct Peer {
    rtc: Rtc,
    keys: Arc<KeySlot>,
    path: Path,
    local: SocketAddr,
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    index: u32,
    payload: Payload,
    probe: Option<Arc<Probe>>,
}

/// The same load for both relays: the peers offer the MID and audio-level header extensions
/// but not transport-wide congestion control. Our relay declines TWCC anyway; Janus would
/// accept it and then get a feedback packet from every peer every 50 ms (str0m's interval) on
/// top of the audio, which would make it look slower for traffic that is not the calls'.
///
/// Built with the relay's key tap (`switchboard_media::srtp`): once connected, a peer seals its
/// frames and opens what it hears itself, as the relay does, so that one client core can drive
/// as many calls as the relay's core carries.
fn rtc(now: Instant) -> (Rtc, Arc<KeySlot>) {
    let mut extensions = ExtensionMap::empty();
    extensions.set(1, Extension::AudioLevel);
    extensions.set(MID_EXTENSION, Extension::RtpMid);
    let mut config = RtcConfig::new()
        .set_extension_map(extensions)
        .set_rtp_mode(true);
    let codecs = config.codec_config();
    codecs.clear();
    codecs.enable_opus(true, false);
    shortcut::tapped_rtc(config, now)
}

/// The MID header extension's id in every peer's offer (and so in the answers).
const MID_EXTENSION: u8 = 4;

/// A peer's own SRTP, once DTLS is up ([`rtc`]).
enum Shortcut {
    Pending,
    /// A profile the shortcut does not take (Janus may choose AES-CM): str0m does it all.
    Declined,
    On(Direct),
}

fn bind(ip: IpAddr) -> anyhow::Result<(StdUdpSocket, SocketAddr)> {
    let socket = StdUdpSocket::bind(SocketAddr::new(ip, 0))?;
    socket.set_nonblocking(true)?;
    kernel_time::enable(&socket);
    let local = socket.local_addr()?;
    Ok((socket, local))
}

impl Peer {
    /// A peer on 127.0.0.1 that offers one `sendrecv` audio transceiver; its offer.
    pub fn offer(index: u32, payload: Payload) -> anyhow::Result<(Peer, String)> {
        Peer::offer_at(IpAddr::V4(Ipv4Addr::LOCALHOST), index, payload)
    }

    /// [`Peer::offer`] with its socket on another local address.
    pub fn offer_at(ip: IpAddr, index: u32, payload: Payload) -> anyhow::Result<(Peer, String)> {
        let (socket, local) = bind(ip)?;
        let candidate =
            Candidate::host(local, "udp").map_err(|e| anyhow!("host candidate: {e}"))?;
        Peer::offering(Path::Udp(socket), local, candidate, index, payload)
    }

    /// A peer that reaches the relay only over ICE-TCP: it connects to the relay's TCP
    /// listener at `relay` and offers that connection as its one (active) candidate.
    pub fn offer_over_tcp(
        relay: SocketAddr,
        index: u32,
        payload: Payload,
    ) -> anyhow::Result<(Peer, String)> {
        let stream = StdTcpStream::connect(relay)
            .with_context(|| format!("connecting to the relay's TCP listener at {relay}"))?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let local = stream.local_addr()?;
        let candidate = Candidate::builder()
            .tcp()
            .host(local)
            .tcptype(TcpType::Active)
            .build()
            .map_err(|e| anyhow!("TCP candidate: {e}"))?;
        Peer::offering(Path::Tcp(stream, relay), local, candidate, index, payload)
    }

    fn offering(
        path: Path,
        local: SocketAddr,
        candidate: Candidate,
        index: u32,
        payload: Payload,
    ) -> anyhow::Result<(Peer, String)> {
        let (mut rtc, keys) = rtc(Instant::now());
        rtc.add_local_candidate(candidate);
        let mut api = rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().context("str0m made no offer")?;
        let peer = Peer {
            rtc,
            keys,
            path,
            local,
            mid: Some(mid),
            pending: Some(pending),
            index,
            payload,
            probe: None,
        };
        Ok((peer, offer.to_sdp_string()))
    }

    /// A peer on the local address `ip` that answers `offer`; its answer.
    pub fn answer(
        ip: IpAddr,
        index: u32,
        payload: Payload,
        offer: &str,
    ) -> anyhow::Result<(Peer, String)> {
        let (socket, local) = bind(ip)?;
        let (mut rtc, keys) = rtc(Instant::now());
        rtc.add_local_candidate(
            Candidate::host(local, "udp").map_err(|e| anyhow!("host candidate: {e}"))?,
        );
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| anyhow!("offer: {e}\n{offer}"))?;
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| anyhow!("accepting the offer: {e}"))?;
        let peer = Peer {
            rtc,
            keys,
            path: Path::Udp(socket),
            local,
            mid: None,
            pending: None,
            index,
            payload,
            probe: None,
        };
        Ok((peer, answer.to_sdp_string()))
    }

    /// Applies the answer to this peer's offer.
    pub fn accept_answer(&mut self, answer: &str) -> anyhow::Result<()> {
        let answer =
            SdpAnswer::from_sdp_string(answer).map_err(|e| anyhow!("answer: {e}\n{answer}"))?;
        let pending = self.pending.take().context("no offer pending")?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| anyhow!("accepting the answer: {e}"))?;
        Ok(())
    }

    /// Follows this peer with a probe of the stamped frames from the peer of index `party`
    /// (and a stop for this peer alone).
    pub fn watch(&mut self, party: u32) -> Arc<Probe> {
        let probe = Arc::new(Probe {
            party,
            stop: AtomicBool::new(false),
            connected: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            last_ns: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            late: AtomicU64::new(0),
            heard: Mutex::new(Heard::default()),
        });
        self.probe = Some(probe.clone());
        probe
    }

    /// Hands the peer to one of the fleet's threads (in turn); it hands in a report after every
    /// window (see [`Shared::collect`]) until the fleet or its probe stops it.
    pub fn spawn(self, fleet: &Fleet) {
        if fleet.lanes.is_empty() {
            return;
        }
        let i = fleet.next.fetch_add(1, Ordering::Relaxed) % fleet.lanes.len();
        let lane = &fleet.lanes[i];
        if lane.peers.send(self).is_ok() {
            // A thread that is gone has stopped its peers; nothing to wake.
            let _ = lane.waker.wake();
        }
    }
}

struct Jitter {
    last_transit: i64,
    jitter: f64,
}

/// How a running peer reaches the relay.
enum Link {
    Udp(mio::net::UdpSocket),
    Tcp {
        stream: mio::net::TcpStream,
        /// The relay's listener: where every frame read comes from.
        relay: SocketAddr,
        deframer: Deframer,
        /// Framed bytes the connection did not take yet.
        unsent: Vec<u8>,
        /// The connection ended (closed by the relay, or failed).
        closed: bool,
    },
}

impl Link {
    fn new(path: Path) -> Link {
        match path {
            Path::Udp(socket) => Link::Udp(mio::net::UdpSocket::from_std(socket)),
            Path::Tcp(stream, relay) => Link::Tcp {
                stream: mio::net::TcpStream::from_std(stream),
                relay,
                deframer: Deframer::new(framing::MAX_FRAMED),
                unsent: Vec::new(),
                closed: false,
            },
        }
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Link::Udp(socket) => socket,
            Link::Tcp { stream, .. } => stream,
        }
    }

    fn interest(&self) -> mio::Interest {
        match self {
            Link::Udp(_) => mio::Interest::READABLE,
            Link::Tcp { .. } => mio::Interest::READABLE | mio::Interest::WRITABLE,
        }
    }

    /// Sends one datagram. Loopback: a full buffer loses the datagram, as a network would, and
    /// it shows up as loss; on TCP the frame waits for the connection to take it.
    fn send(&mut self, data: &[u8], to: SocketAddr) {
        match self {
            Link::Udp(socket) => {
                let _ = socket.send_to(data, to);
            }
            Link::Tcp { unsent, .. } => {
                if framing::frame(data, unsent).is_ok() {
                    self.flush();
                }
            }
        }
    }

    /// Writes what the TCP connection will take of the framed bytes waiting.
    fn flush(&mut self) {
        let Link::Tcp {
            stream,
            unsent,
            closed,
            ..
        } = self
        else {
            return;
        };
        while !unsent.is_empty() && !*closed {
            match stream.write(unsent) {
                Ok(0) => *closed = true,
                Ok(n) => {
                    unsent.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => *closed = true,
            }
        }
    }

    /// The next datagram waiting (a UDP datagram, or a whole frame from the TCP connection),
    /// copied into `buf`: its transport, where it came from, its length and when it arrived
    /// (the kernel's receive time where the socket gives one); `None` once nothing more is
    /// waiting.
    fn next_datagram(
        &mut self,
        buf: &mut [u8],
    ) -> Option<(Protocol, SocketAddr, usize, Option<Instant>)> {
        match self {
            Link::Udp(socket) => loop {
                match kernel_time::recv_from(socket, buf) {
                    Ok((n, from, at)) => return Some((Protocol::Udp, from, n, at)),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => return None,
                }
            },
            Link::Tcp {
                stream,
                relay,
                deframer,
                closed,
                ..
            } => loop {
                match deframer.next_frame() {
                    Ok(Some(frame)) => {
                        let n = frame.len();
                        buf.get_mut(..n)?.copy_from_slice(frame);
                        return Some((Protocol::Tcp, *relay, n, None));
                    }
                    Ok(None) => {}
                    Err(_) => *closed = true,
                }
                if *closed {
                    return None;
                }
                match stream.read(buf) {
                    Ok(0) => *closed = true,
                    Ok(n) => deframer.push(buf.get(..n).unwrap_or_default()),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
                    Err(_) => *closed = true,
                }
            },
        }
    }

    fn closed(&self) -> bool {
        matches!(self, Link::Tcp { closed: true, .. })
    }
}

/// The kernel's receive time of a datagram (`SO_TIMESTAMPNS`), as an `Instant`. The kernel
/// stamps it in real time (`CLOCK_REALTIME`); it is turned into the monotonic clock by how long
/// ago it was, read against both clocks at once, so a step of the real-time clock between
/// datagrams does not move it.
#[cfg(target_os = "linux")]
mod kernel_time {
    use std::io;
    use std::io::IoSliceMut;
    use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use nix::sys::socket::{
        recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrStorage,
    };
    use nix::sys::time::TimeSpec;

    /// Asks the kernel to stamp what `socket` receives; without it the client's clock is used.
    pub fn enable(socket: &std::net::UdpSocket) {
        let _ = setsockopt(socket, sockopt::ReceiveTimestampns, &true);
    }

    pub fn recv_from(
        socket: &mio::net::UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Option<Instant>)> {
        let mut space = nix::cmsg_space!(TimeSpec);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrStorage>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(io::Error::from)?;
        let from = msg
            .address
            .as_ref()
            .and_then(socket_addr)
            .ok_or_else(|| io::Error::other("a datagram without an IP source"))?;
        let stamped = msg.cmsgs().ok().and_then(|mut c| {
            c.find_map(|m| match m {
                ControlMessageOwned::ScmTimestampns(ts) => Some(ts),
                _ => None,
            })
        });
        Ok((msg.bytes, from, stamped.and_then(arrival)))
    }

    fn socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
        if let Some(v4) = a.as_sockaddr_in() {
            return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
        }
        a.as_sockaddr_in6()
            .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
    }

    fn arrival(ts: TimeSpec) -> Option<Instant> {
        let stamped = UNIX_EPOCH
            + Duration::from_secs(u64::try_from(ts.tv_sec()).ok()?)
            + Duration::from_nanos(u64::try_from(ts.tv_nsec()).ok()?);
        let (now, real) = (Instant::now(), SystemTime::now());
        let ago = real.duration_since(stamped).unwrap_or_default();
        now.checked_sub(ago)
    }
}

#[cfg(not(target_os = "linux"))]
mod kernel_time {
    use std::io;
    use std::net::SocketAddr;
    use std::time::Instant;

    pub fn enable(_: &std::net::UdpSocket) {}

    pub fn recv_from(
        socket: &mio::net::UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, Option<Instant>)> {
        socket.recv_from(buf).map(|(n, from)| (n, from, None))
    }
}

/// A running peer, driven by its thread's loop.
struct Task {
    handed: u64,
    rtc: Rtc,
    keys: Arc<KeySlot>,
    shortcut: Shortcut,
    /// Where str0m sends: the relay's candidate (the shortcut sends there too).
    remote: Option<SocketAddr>,
    link: Link,
    local: SocketAddr,
    mid: Option<Mid>,
    pt: Option<Pt>,
    payload: Payload,
    index: u32,
    /// str0m's next deadline.
    deadline: Instant,
    /// The next frame's schedule (from DTLS up).
    next_send: Option<Instant>,
    /// The key this task has in its thread's timer index.
    timer: Option<Instant>,
    seq: u32,
    heard: bool,
    done: bool,
    jitter: BTreeMap<u32, Jitter>,
    report: PeerReport,
    probe: Option<Arc<Probe>>,
}

impl Task {
    fn new(peer: Peer, shared: &Shared, now: Instant) -> Task {
        Task {
            handed: shared.round.load(Ordering::SeqCst),
            rtc: peer.rtc,
            keys: peer.keys,
            shortcut: Shortcut::Pending,
            remote: None,
            link: Link::new(peer.path),
            local: peer.local,
            mid: peer.mid,
            pt: None,
            payload: peer.payload,
            index: peer.index,
            deadline: now,
            next_send: None,
            timer: None,
            seq: 0,
            heard: false,
            done: false,
            jitter: BTreeMap::new(),
            report: PeerReport {
                index: peer.index,
                ..PeerReport::default()
            },
            probe: peer.probe,
        }
    }

    /// When the thread must next look at this peer.
    fn wake_at(&self) -> Instant {
        self.next_send
            .map_or(self.deadline, |s| s.min(self.deadline))
    }

    fn finish(&mut self) -> PeerReport {
        let fresh = PeerReport {
            index: self.index,
            connected: self.report.connected,
            error: self.report.error.clone(),
            ..PeerReport::default()
        };
        let mut report = std::mem::replace(&mut self.report, fresh);
        report.jitter_us = self.jitter.values().map(|j| j.jitter / 1_000.0).collect();
        self.jitter.clear();
        report
    }

    fn hand_in_if_due(&mut self, shared: &Shared, now: Instant) {
        let round = shared.round.load(Ordering::SeqCst);
        if round != self.handed && shared.window_over(shared.ns(now)) {
            self.handed = round;
            let report = self.finish();
            if let Ok(mut r) = shared.reports.lock() {
                r.push(report);
            }
        }
    }

    fn stopped(&self) -> bool {
        self.probe
            .as_ref()
            .is_some_and(|p| p.stop.load(Ordering::Relaxed))
    }

    /// Every datagram waiting on the socket or connection (mio reports readiness once per
    /// edge), after what a TCP connection can now take of the frames waiting to be sent.
    fn read_all(&mut self, shared: &Shared, now: Instant, buf: &mut [u8]) {
        self.link.flush();
        while let Some((proto, from, n, arrived)) = self.link.next_datagram(buf) {
            let Some(data) = buf.get(..n) else { continue };
            if let Shortcut::On(own) = &mut self.shortcut {
                match own.opener.open(data) {
                    Ok(opened) => {
                        self.on_rtp(shared, arrived.unwrap_or(now), &opened.payload);
                        continue;
                    }
                    Err(why) if why.is_for_str0m() => {}
                    Err(_) => continue,
                }
            }
            let Ok(r) = Receive::new(proto, from, self.local, data) else {
                continue;
            };
            if let Err(e) = self.rtc.handle_input(Input::Receive(now, r)) {
                self.fail(shared, format!("input: {e}"));
            }
            self.drain(shared, now);
        }
        if self.link.closed() {
            self.fail(shared, "the relay closed the ICE-TCP connection".into());
            self.done = true;
        }
    }

    /// What is due at `now`: str0m's timeout, then the frames whose time has come.
    fn on_timer(&mut self, shared: &Shared, now: Instant) {
        if self.deadline <= now {
            if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
                self.fail(shared, format!("timeout: {e}"));
            }
            self.drain(shared, now);
        }
        while let Some(due) = self.next_send.filter(|d| *d <= now) {
            let late = now.saturating_duration_since(due);
            self.next_send = Some(due + FRAME);
            if late > SKIP {
                if shared.in_window(shared.ns(due)) {
                    self.report.skipped += 1;
                }
                continue;
            }
            self.send_frame(shared, now, late);
        }
        if !self.rtc.is_alive() {
            self.fail(shared, "the connection closed".into());
            self.done = true;
        }
    }

    fn fail(&mut self, shared: &Shared, why: String) {
        if self.report.error.is_none() {
            if shared.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                if let Ok(mut f) = shared.first_failure.lock() {
                    *f = Some(format!("peer {}: {why}", self.index));
                }
            }
            if let Some(p) = &self.probe {
                p.failed.store(true, Ordering::Relaxed);
            }
            self.report.error = Some(why);
        }
    }

    /// str0m's output until its next deadline: datagrams leave at once.
    fn drain(&mut self, shared: &Shared, now: Instant) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.deadline = t;
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    self.remote = Some(t.destination);
                    self.link.send(&t.contents, t.destination);
                }
                Ok(Output::Event(e)) => self.event(shared, now, e),
                Err(e) => {
                    self.fail(shared, format!("output: {e}"));
                    self.deadline = now + MAX_SLEEP;
                    return;
                }
            }
        }
    }

    fn event(&mut self, shared: &Shared, now: Instant, e: Event) {
        match e {
            Event::Connected if !self.report.connected => {
                self.report.connected = true;
                shared.connected.fetch_add(1, Ordering::Relaxed);
                if let Some(p) = &self.probe {
                    p.connected.store(true, Ordering::Relaxed);
                }
                self.next_send = Some(now);
            }
            Event::MediaAdded(m) if self.mid.is_none() && m.kind == MediaKind::Audio => {
                self.mid = Some(m.mid);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.fail(shared, "ICE disconnected".into());
            }
            Event::RtpPacket(p) => {
                if let Some(opener) = self.shortcut() {
                    // The shortcut opens this stream from the next packet on.
                    opener.adopt_packet(&p);
                }
                self.on_rtp(shared, now, &p.payload);
            }
            _ => {}
        }
    }

    /// The shortcut's opener, set up on first use once DTLS is done.
    fn shortcut(&mut self) -> Option<&mut Opener> {
        if let (Shortcut::Pending, Some(mid), true) =
            (&self.shortcut, self.mid, self.report.connected)
        {
            match shortcut::take_over(&self.keys, &mut self.rtc, mid) {
                TakeOver::NotYet => {}
                TakeOver::Declined(_) => self.shortcut = Shortcut::Declined,
                TakeOver::Ready(own) => self.shortcut = Shortcut::On(own),
            }
        }
        match &mut self.shortcut {
            Shortcut::On(own) => Some(&mut own.opener),
            _ => None,
        }
    }

    fn on_rtp(&mut self, shared: &Shared, now: Instant, payload: &[u8]) {
        if !self.heard {
            self.heard = true;
            shared.hearing.fetch_add(1, Ordering::Relaxed);
        }
        let arrival = shared.ns(now);
        match self.payload {
            Payload::Stamped => self.stamped(shared, arrival, payload),
            Payload::Opus(_) => {
                if shared.in_window(arrival) {
                    *self.report.received.entry(u32::MAX).or_default() += 1;
                }
            }
        }
    }

    fn stamped(&mut self, shared: &Shared, arrival: u64, data: &[u8]) {
        let (Some(&TOC), Some(sender), Some(sent)) = (
            data.first(),
            data.get(1..5)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes),
            data.get(9..17)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes),
        ) else {
            return;
        };
        let transit = arrival as i64 - sent as i64;
        let delay_us = (transit.max(0) / 1_000).min(u32::MAX as i64) as u32;
        if let Some(p) = self.probe.as_ref().filter(|p| p.party == sender) {
            let seq = data
                .get(5..9)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u32::from_le_bytes);
            p.frame(arrival, seq, delay_us);
        }
        if !shared.in_window(sent) {
            return;
        }
        *self.report.received.entry(sender).or_default() += 1;
        self.report.delays_us.push(delay_us);
        let j = self.jitter.entry(sender).or_insert(Jitter {
            last_transit: transit,
            jitter: 0.0,
        });
        let d = (transit - j.last_transit).abs() as f64;
        j.jitter += (d - j.jitter) / 16.0;
        j.last_transit = transit;
    }

    /// Writes one frame as an RTP packet of its own (str0m's RTP mode: no packetizer, no frame
    /// timers) and lets str0m send it now.
    fn send_frame(&mut self, shared: &Shared, now: Instant, late: Duration) {
        let Some(mid) = self.mid else {
            return;
        };
        if self.pt.is_none() {
            self.pt = switchboard_media::opus_pt(&self.rtc);
        }
        let Some(pt) = self.pt else {
            return;
        };
        let sent = shared.ns(now);
        let data: Vec<u8> = match &self.payload {
            Payload::Stamped => {
                let mut d = vec![0u8; STAMPED_BYTES];
                d[0] = TOC;
                d[1..5].copy_from_slice(&self.index.to_le_bytes());
                d[5..9].copy_from_slice(&self.seq.to_le_bytes());
                d[9..17].copy_from_slice(&sent.to_le_bytes());
                d
            }
            Payload::Opus(frames) => match frames.get(self.seq as usize % frames.len().max(1)) {
                Some(f) => f.clone(),
                None => return,
            },
        };
        // 48 kHz: the RTP timestamp advances by one frame's samples per frame.
        let ts = (u64::from(self.seq) * FRAME_SAMPLES) as u32;
        let seq = SeqNo::from(u64::from(self.seq));
        self.seq = self.seq.wrapping_add(1);
        self.shortcut();
        if let (Shortcut::On(own), Some(remote)) = (&mut self.shortcut, self.remote) {
            let header = Outgoing {
                pt: *pt,
                marker: false,
                seq: *seq,
                ts,
                ssrc: own.ssrc,
                mid: Some((MID_EXTENSION, mid.as_bytes())),
                audio_level: None,
            };
            if let Some(sealed) = own.sealer.seal(&header, &data) {
                self.link.send(&sealed, remote);
            }
        } else {
            let mut api = self.rtc.direct_api();
            let Some(tx) = api.stream_tx_by_mid(mid, None) else {
                return;
            };
            tx.write_rtp(RtpWrite::new(pt, seq, ts, now, data));
            // str0m sends a written packet on its next timeout.
            if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
                self.fail(shared, format!("write: {e}"));
                return;
            }
            self.drain(shared, now);
        }
        if let Some(p) = &self.probe {
            p.sent.fetch_add(1, Ordering::Relaxed);
            if late > LATE {
                p.late.fetch_add(1, Ordering::Relaxed);
            }
        }
        if shared.in_window(sent) {
            self.report.sent += 1;
            if late > LATE {
                self.report.late += 1;
            }
            self.report.max_late = self.report.max_late.max(late);
        }
    }
}

/// The waker's token; peers' sockets are tokens `0..`.
const WAKE: mio::Token = mio::Token(usize::MAX);
/// How often every peer of a thread is looked at for its report and its probe's stop.
const SWEEP: Duration = Duration::from_millis(50);
/// Due frames are sent after this many sockets read in one wake-up, not only after all.
const TIMERS_EVERY: usize = 32;

/// One client thread's loop: its peers' sockets in one `epoll` set, their deadlines and frame
/// schedules in one ordered index. A wake-up costs one system call for however many peers are
/// due, instead of a task and a timer per peer.
struct Lane {
    poll: mio::Poll,
    peers: std::sync::mpsc::Receiver<Peer>,
    shared: Arc<Shared>,
    tasks: Vec<Option<Task>>,
    free: Vec<usize>,
    timers: std::collections::BTreeSet<(Instant, usize)>,
}

impl Lane {
    fn run(mut self) {
        let mut events = mio::Events::with_capacity(1_024);
        let mut buf = vec![0u8; 2_048];
        let mut touched: Vec<usize> = Vec::new();
        let mut next_sweep = Instant::now() + SWEEP;
        loop {
            if self.shared.stop.load(Ordering::Relaxed) {
                return;
            }
            while let Ok(peer) = self.peers.try_recv() {
                self.add(peer);
            }
            let now = Instant::now();
            let first = self.timers.first().map_or(now + MAX_SLEEP, |&(t, _)| t);
            let timeout = first.min(next_sweep).saturating_duration_since(now);
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return;
                }
            }
            // The clock is read again for every peer: at a thousand calls one wake-up can
            // serve hundreds of sockets, and arrivals and sends are stamped when they happen.
            // Frames that fall due meanwhile go out between reads, not after all of them.
            for (n, ev) in events.iter().enumerate() {
                let i = ev.token().0;
                if let Some(Some(t)) = self.tasks.get_mut(i) {
                    t.read_all(&self.shared, Instant::now(), &mut buf);
                    touched.push(i);
                }
                if n % TIMERS_EVERY == TIMERS_EVERY - 1 {
                    self.run_due(&mut touched);
                }
            }
            self.run_due(&mut touched);
            let now = Instant::now();
            if now >= next_sweep {
                next_sweep = now + SWEEP;
                for (i, slot) in self.tasks.iter_mut().enumerate() {
                    if let Some(t) = slot {
                        t.hand_in_if_due(&self.shared, now);
                        if t.stopped() {
                            t.done = true;
                            touched.push(i);
                        }
                    }
                }
            }
            for i in touched.drain(..) {
                self.settle(i);
            }
        }
    }

    /// Runs every peer whose deadline or frame is due now.
    fn run_due(&mut self, touched: &mut Vec<usize>) {
        while let Some(&(t, i)) = self.timers.first() {
            let now = Instant::now();
            if t > now {
                break;
            }
            self.timers.pop_first();
            if let Some(Some(task)) = self.tasks.get_mut(i) {
                task.timer = None;
                task.on_timer(&self.shared, now);
                touched.push(i);
            }
        }
    }

    fn add(&mut self, peer: Peer) {
        let now = Instant::now();
        let mut task = Task::new(peer, &self.shared, now);
        let i = self.free.pop().unwrap_or(self.tasks.len());
        let interest = task.link.interest();
        if let Err(e) = self
            .poll
            .registry()
            .register(task.link.source(), mio::Token(i), interest)
        {
            task.fail(&self.shared, format!("socket: {e}"));
            if i < self.tasks.len() {
                self.free.push(i);
            }
            return;
        }
        task.drain(&self.shared, now);
        if i == self.tasks.len() {
            self.tasks.push(Some(task));
        } else if let Some(slot) = self.tasks.get_mut(i) {
            *slot = Some(task);
        }
        self.settle(i);
    }

    /// Puts a peer back in the timer index at its next wake-up, or drops it when it is done
    /// (its socket closes with it).
    fn settle(&mut self, i: usize) {
        let Some(slot) = self.tasks.get_mut(i) else {
            return;
        };
        let Some(task) = slot.as_mut() else { return };
        if task.done {
            if let Some(old) = task.timer.take() {
                self.timers.remove(&(old, i));
            }
            let _ = self.poll.registry().deregister(task.link.source());
            *slot = None;
            self.free.push(i);
            return;
        }
        let at = task.wake_at();
        if task.timer != Some(at) {
            if let Some(old) = task.timer.replace(at) {
                self.timers.remove(&(old, i));
            }
            self.timers.insert((at, i));
        }
    }
}

/// Where a thread takes new peers from.
struct LaneHandle {
    peers: std::sync::mpsc::Sender<Peer>,
    waker: mio::Waker,
}

/// The client threads the peers run on, each a loop over its own peers ([`Lane`]).
pub struct Fleet {
    /// The run's shared state.
    pub shared: Arc<Shared>,
    lanes: Vec<LaneHandle>,
    threads: Vec<std::thread::JoinHandle<()>>,
    next: AtomicUsize,
}

impl Fleet {
    /// Starts `threads` client threads.
    pub fn start(threads: usize) -> anyhow::Result<Fleet> {
        let shared = Shared::new();
        let mut fleet = Fleet {
            shared: shared.clone(),
            lanes: Vec::new(),
            threads: Vec::new(),
            next: AtomicUsize::new(0),
        };
        for i in 0..threads.max(1) {
            let poll = mio::Poll::new().context("a client thread's poll")?;
            let waker =
                mio::Waker::new(poll.registry(), WAKE).context("a client thread's waker")?;
            let (tx, rx) = std::sync::mpsc::channel();
            let lane = Lane {
                poll,
                peers: rx,
                shared: shared.clone(),
                tasks: Vec::new(),
                free: Vec::new(),
                timers: std::collections::BTreeSet::new(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("bench-peers-{i}"))
                .spawn(move || lane.run())?;
            fleet.lanes.push(LaneHandle { peers: tx, waker });
            fleet.threads.push(thread);
        }
        Ok(fleet)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.shared.stop();
        for lane in &self.lanes {
            let _ = lane.waker.wake();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::net::{Ipv4Addr, UdpSocket};
    use std::time::{Duration, Instant};

    use super::kernel_time;

    /// A datagram read through `recvmsg` carries the kernel's receive time: after the send,
    /// well before a late read, in the monotonic clock the rest of the bench uses. Linux turns
    /// stamping at arrival on shortly after the first socket asks (until then it stamps at the
    /// read), so the test sends until one datagram shows it, and then checks the stamp.
    #[test]
    fn a_datagram_comes_with_the_kernels_receive_time() {
        let receiver = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        receiver.set_nonblocking(true).unwrap();
        kernel_time::enable(&receiver);
        let sender = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let receiver = mio::net::UdpSocket::from_std(receiver);
        let to = receiver.local_addr().unwrap();
        let mut buf = [0u8; 64];
        for attempt in 0.. {
            assert!(attempt < 200, "no datagram was stamped at its arrival");
            let before = Instant::now();
            sender.send_to(b"hello", to).unwrap();
            let sent = Instant::now();
            // Read late: a stamp taken at arrival stays there, one taken at the read does not.
            std::thread::sleep(Duration::from_millis(20));
            let (n, from, at) = kernel_time::recv_from(&receiver, &mut buf).unwrap();
            let read = Instant::now();
            assert_eq!(
                (&buf[..n], from),
                (&b"hello"[..], sender.local_addr().unwrap())
            );
            let at = at.expect("a kernel receive time");
            if read.saturating_duration_since(at) < Duration::from_millis(15) {
                continue;
            }
            // Both clocks are read a few microseconds apart when the stamp is converted.
            let slack = Duration::from_millis(2);
            assert!(
                at + slack >= before && at <= sent + slack,
                "stamped {:?} after the send began",
                at.saturating_duration_since(before)
            );
            break;
        }
        // Nothing more waiting.
        assert!(kernel_time::recv_from(&receiver, &mut buf).is_err());
    }
}
