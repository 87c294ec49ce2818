//! The relay over real UDP (and ICE-TCP) on 127.0.0.1: the I/O loop's sockets, batching and
//! channels, with two str0m client peers on their own sockets; and recordings through the
//! shell to their files. Bounded in time (each test gives up after 15 s).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::{amplitude, amplitude_at, Client};
use str0m::net::Protocol;
use switchboard_media::io::{Relay, RelayConfig, RelayError, RelayHandle, TcpListen};
use switchboard_media::{
    Graph, MediaEvent, PeerId, RecordingError, RecordingId, RecordingSpec, Source,
    HOLD_MUSIC_NOTES_HZ,
};

struct Browser {
    link: Link,
    client: Client,
}

/// How a browser reaches the relay.
enum Link {
    Udp(UdpSocket),
    /// An ICE-TCP connection to the relay's passive candidate (`relay`), with the bytes read
    /// that are not yet a whole RFC 4571 frame.
    Tcp {
        stream: TcpStream,
        relay: SocketAddr,
        pending: Vec<u8>,
    },
}

impl Browser {
    fn new(tone: f32) -> (Browser, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_nonblocking(true).expect("nonblocking");
        let addr = socket.local_addr().expect("addr");
        let (client, offer) = Client::new(Instant::now(), addr, tone);
        let link = Link::Udp(socket);
        (Browser { link, client }, offer)
    }

    /// A browser whose only candidate is a TCP connection to the relay's listener.
    fn over_tcp(relay: SocketAddr, tone: f32) -> (Browser, String) {
        let stream = TcpStream::connect(relay).expect("connect to the relay's TCP listener");
        stream.set_nodelay(true).expect("nodelay");
        stream.set_nonblocking(true).expect("nonblocking");
        let addr = stream.local_addr().expect("addr");
        let (client, offer) = Client::on(Instant::now(), Protocol::Tcp, addr, tone);
        let link = Link::Tcp {
            stream,
            relay,
            pending: Vec::new(),
        };
        (Browser { link, client }, offer)
    }

    /// Receives what is there, lets time pass, sends what is due.
    fn pump(&mut self) {
        assert!(self.pump_open(), "the relay closed the ICE-TCP connection");
    }

    /// [`Browser::pump`], saying whether the ICE-TCP connection is still open (`false` as soon
    /// as the relay has closed it).
    fn pump_open(&mut self) -> bool {
        let mut buf = [0u8; 2048];
        match &mut self.link {
            Link::Udp(socket) => {
                while let Ok((n, from)) = socket.recv_from(&mut buf) {
                    self.client.receive(Instant::now(), from, &buf[..n]);
                }
            }
            Link::Tcp {
                stream,
                relay,
                pending,
            } => {
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) => return false,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::ConnectionReset => return false,
                        Err(e) => panic!("ICE-TCP read: {e}"),
                    }
                }
                while pending.len() >= 2 {
                    let len = usize::from(u16::from_be_bytes([pending[0], pending[1]]));
                    if pending.len() < 2 + len {
                        break;
                    }
                    let frame: Vec<u8> = pending.drain(..2 + len).skip(2).collect();
                    self.client.receive(Instant::now(), *relay, &frame);
                }
            }
        }
        self.client.timeout(Instant::now());
        for (_, to, data) in std::mem::take(&mut self.client.outbox) {
            match &mut self.link {
                Link::Udp(socket) => {
                    let _ = socket.send_to(&data, to);
                }
                Link::Tcp { stream, .. } => {
                    let mut framed = u16::try_from(data.len())
                        .expect("a datagram fits a frame")
                        .to_be_bytes()
                        .to_vec();
                    framed.extend_from_slice(&data);
                    write_all_nonblocking(stream, &framed);
                }
            }
        }
        true
    }
}

/// Writes all of `bytes` to a nonblocking stream (a few frames: the kernel's buffer takes
/// them, so this spins only in theory).
fn write_all_nonblocking(stream: &mut TcpStream, mut bytes: &[u8]) {
    let start = Instant::now();
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "the relay reads nothing"
                );
                std::thread::yield_now();
            }
            Err(e) => panic!("ICE-TCP write: {e}"),
        }
    }
}

#[test]
fn two_browsers_hear_each_other_over_loopback() {
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let relay = Relay::spawn(RelayConfig::new(listen)).expect("relay");
    assert_eq!(relay.handle().advertised(), relay.handle().local_addr());
    two_browsers_hear_each_other(relay);
}

/// A dual-stack socket (`[::]`, as `--media-listen [::]:3478` binds) with IPv4 peers: they
/// arrive as IPv4-mapped addresses, which the engine knows by their IPv4 form, and the
/// batched sends reach them at that form.
#[test]
fn two_ipv4_browsers_hear_each_other_through_a_dual_stack_socket() {
    let mut config = RelayConfig::new("[::]:0".parse().expect("addr"));
    config.advertised = Some("127.0.0.1:0".parse().expect("addr"));
    let relay = Relay::spawn(config).expect("a dual-stack relay (this test needs IPv6)");
    assert!(relay.handle().local_addr().is_ipv6());
    assert_eq!(
        relay.handle().advertised().port(),
        relay.handle().local_addr().port()
    );
    two_browsers_hear_each_other(relay);
}

/// A browser that can only reach the relay over TCP (ICE-TCP to its listener) and one on UDP
/// hear each other; a relay without its TCP listener offers no TCP candidate. The browser's
/// connection, admitted by its ICE check, outlives the admission time (the browser fails the
/// test if the relay closes it).
#[test]
fn a_browser_over_tcp_and_one_over_udp_hear_each_other() {
    let mut config = RelayConfig::new("127.0.0.1:0".parse().expect("addr"));
    config.tcp_admit_within = Duration::from_millis(500);
    let relay = Relay::spawn(config).expect("relay");
    let (tcp_local, tcp_advertised) = relay.handle().tcp_addrs().expect("a TCP listener");
    assert_eq!(tcp_local, tcp_advertised);
    assert_eq!(tcp_local.ip(), relay.handle().local_addr().ip());
    let a = Browser::over_tcp(tcp_advertised, 440.0);
    two_browsers_hear_each_other_as(relay, a, Browser::new(880.0));

    let mut config = RelayConfig::new("127.0.0.1:0".parse().expect("addr"));
    config.tcp = TcpListen::Off;
    let relay = Relay::spawn(config).expect("relay");
    assert_eq!(relay.handle().tcp_addrs(), None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (_, offer) = Browser::new(440.0);
    let answer = runtime
        .block_on(relay.handle().add_peer(PeerId(1), offer))
        .expect("answer");
    assert!(!answer.contains(" tcp "), "{answer}");
    relay.shutdown().expect("shutdown");
}

/// A port taken on TCP: a relay that may do without the listener starts without it (and offers
/// no TCP candidate); one that requires it does not start, and says where.
#[test]
fn a_port_taken_on_tcp_means_no_listener_or_no_relay_as_configured() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a TCP port");
    let listen = taken.local_addr().expect("its address");
    let mut config = RelayConfig::new(listen);
    assert_eq!(config.tcp, TcpListen::IfFree);
    let relay = Relay::spawn(config.clone()).expect("a relay without its TCP listener");
    assert_eq!(relay.handle().local_addr(), listen);
    assert_eq!(relay.handle().tcp_addrs(), None);
    relay.shutdown().expect("shutdown");
    config.tcp = TcpListen::Required;
    match Relay::spawn(config) {
        Err(RelayError::Tcp(at, _)) => assert_eq!(at, listen),
        Err(e) => panic!("not the TCP listener's error: {e}"),
        Ok(_) => panic!("a relay started without the TCP listener it requires"),
    }
}

/// A TCP connection that does not speak RFC 4571 (a length beyond any datagram) is closed,
/// and the relay forgets it.
#[test]
fn a_tcp_connection_with_broken_framing_is_closed() {
    let relay = TcpRelay::spawn(|_| {});
    // Well within the admission time (10 s): closed for its framing, not for want of a check.
    let mut stream = relay.connect(Duration::from_secs(5));
    relay.wait_for(1, "the connection counted");
    stream.write_all(&[0xff, 0xff, 1, 2, 3]).expect("write");
    assert!(closed_by_relay(&mut stream), "the connection stayed open");
    relay.wait_for(0, "the closed connection forgotten");
    let counters = relay.counters();
    assert_eq!(counters.datagrams, 0, "{counters:?}");
    relay.shutdown();
}

/// A TCP connection on which no ICE check succeeds is closed once `tcp_admit_within` has
/// passed since its accept, and not before: one that sends nothing, and one that sends
/// well-framed datagrams no peer accepts (an RTP-like packet, a STUN request for a peer that
/// does not exist).
#[test]
fn tcp_connections_without_a_successful_ice_check_are_closed_in_time() {
    let admit = Duration::from_millis(800);
    let relay = TcpRelay::spawn(|c| c.tcp_admit_within = admit);
    let connect = || (relay.connect(Duration::from_secs(10)), Instant::now());
    let (mut silent, silent_at) = connect();
    let (mut chatty, chatty_at) = connect();
    relay.wait_for(2, "two connections");
    let mut rtp = vec![0x80, 111, 0, 1, 0, 0, 0, 160, 0, 0, 0, 42];
    rtp.extend_from_slice(&[0u8; 40]);
    // A binding request whose USERNAME names no peer: the magic cookie, a transaction id,
    // USERNAME, PRIORITY and a MESSAGE-INTEGRITY of zeros (44 bytes of attributes).
    let mut stun = vec![0, 1, 0, 44, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(&[7u8; 12]);
    stun.extend_from_slice(&[0, 6, 0, 8]);
    stun.extend_from_slice(b"nobody:x");
    stun.extend_from_slice(&[0, 0x24, 0, 4, 0x6e, 0, 0x1e, 0xff]);
    stun.extend_from_slice(&[0, 8, 0, 20]);
    stun.extend_from_slice(&[0u8; 20]);
    for datagram in [&rtp, &stun] {
        let mut framed = u16::try_from(datagram.len())
            .expect("short")
            .to_be_bytes()
            .to_vec();
        framed.extend_from_slice(datagram);
        chatty.write_all(&framed).expect("write");
    }
    for (stream, at, what) in [
        (&mut silent, silent_at, "the silent connection"),
        (
            &mut chatty,
            chatty_at,
            "the connection of unaccepted datagrams",
        ),
    ] {
        assert!(closed_by_relay(stream), "{what} stayed open");
        assert!(at.elapsed() >= admit, "{what} was closed before its time");
    }
    relay.wait_for(0, "the closed connections forgotten");
    let counters = relay.counters();
    assert_eq!(counters.tcp_not_admitted, 2, "{counters:?}");
    assert_eq!(counters.datagrams, 2, "{counters:?}");
    assert_eq!(
        counters.unrouted, 2,
        "both parsed, neither taken: {counters:?}"
    );
    relay.shutdown();
}

/// An admitted ICE-TCP connection stays open while what it carries reaches its peer (the
/// browser's audio, well past the idle time), and is closed once the peer is gone and the idle
/// time passes, although the browser goes on sending.
#[test]
fn an_admitted_tcp_connection_is_closed_once_its_peer_is_gone() {
    // Long enough that a test machine busy with other tests does not stall the browser's
    // frames for as long (which would close the connection before the peer is removed).
    let idle = Duration::from_millis(1_500);
    let mut relay = TcpRelay::spawn(|c| {
        c.tcp_idle = idle;
        // As short: only what the connection carries keeps it open past its admission time.
        c.tcp_admit_within = idle;
    });
    let (mut browser, offer) = Browser::over_tcp(relay.listener, 440.0);
    let answer = relay
        .runtime
        .block_on(relay.handle.add_peer(PeerId(1), offer))
        .expect("answer");
    browser.client.accept_answer(Instant::now(), &answer);
    let start = Instant::now();
    let pump_for = |browser: &mut Browser, how_long: Duration| {
        let until = Instant::now() + how_long;
        while Instant::now() < until {
            assert!(
                browser.pump_open(),
                "the connection closed while its peer was there and sending"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    loop {
        assert!(start.elapsed() < Duration::from_secs(10), "never connected");
        browser.pump();
        if relay.relay.events().try_recv().ok() == Some(MediaEvent::Connected(PeerId(1))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    pump_for(&mut browser, 3 * idle);
    assert!(relay
        .runtime
        .block_on(relay.handle.remove_peer(PeerId(1)))
        .expect("remove"));
    let removed = Instant::now();
    while browser.pump_open() {
        assert!(
            removed.elapsed() < Duration::from_secs(10),
            "the connection of a removed peer stayed open"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(removed.elapsed() >= idle, "closed before the idle time");
    relay.wait_for(0, "the closed connection forgotten");
    let counters = relay.counters();
    assert_eq!(
        (counters.tcp_expired, counters.tcp_not_admitted),
        (1, 0),
        "{counters:?}"
    );
    relay.shutdown();
}

/// One IP address holds at most `max_unadmitted_tcp_per_ip` connections that have had no
/// successful ICE check; beyond that a new one from it is closed at once, and room comes back
/// when one of them closes.
#[test]
fn one_address_cannot_hold_more_unchecked_tcp_connections_than_its_share() {
    a_limit_of_two_refuses_a_third(TcpRelay::spawn(|c| c.max_unadmitted_tcp_per_ip = 2));
}

/// Beyond `max_tcp_connections`, a new connection is closed as soon as it is accepted; the ones
/// open stay, and room made by one closing is taken by the next.
#[test]
fn tcp_connections_beyond_the_limit_are_closed_at_once() {
    a_limit_of_two_refuses_a_third(TcpRelay::spawn(|c| c.max_tcp_connections = 2));
}

/// With room for two connections: two open and stay; a third is closed at once; when the
/// first closes, a fourth takes its place and stays open.
fn a_limit_of_two_refuses_a_third(relay: TcpRelay) {
    let connect = || relay.connect(Duration::from_secs(10));
    let first = connect();
    let _second = connect();
    relay.wait_for(2, "two connections");
    let mut third = connect();
    assert!(
        closed_by_relay(&mut third),
        "the third connection stayed open"
    );
    relay.wait_for(2, "the two still open");
    drop(first);
    relay.wait_for(1, "the first closed");
    let mut fourth = relay.connect(Duration::from_millis(200));
    relay.wait_for(2, "the fourth took its place");
    let mut buf = [0u8; 4];
    assert!(
        matches!(fourth.read(&mut buf), Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut),
        "the fourth connection was closed"
    );
    relay.shutdown();
}

/// A relay with its ICE-TCP listener (the default configuration as `configure` changes it),
/// and a runtime to ask its handle on.
struct TcpRelay {
    relay: Relay,
    handle: RelayHandle,
    /// Where browsers connect.
    listener: SocketAddr,
    runtime: tokio::runtime::Runtime,
}

impl TcpRelay {
    fn spawn(configure: impl FnOnce(&mut RelayConfig)) -> TcpRelay {
        let mut config = RelayConfig::new("127.0.0.1:0".parse().expect("addr"));
        configure(&mut config);
        let relay = Relay::spawn(config).expect("relay");
        let handle = relay.handle();
        let (_, listener) = handle.tcp_addrs().expect("a TCP listener");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        TcpRelay {
            relay,
            handle,
            listener,
            runtime,
        }
    }

    /// A raw connection to the listener, whose reads give up after `read_timeout`.
    fn connect(&self, read_timeout: Duration) -> TcpStream {
        let s = TcpStream::connect(self.listener).expect("connect");
        s.set_read_timeout(Some(read_timeout)).expect("timeout");
        s
    }

    /// Waits until the relay counts `n` open ICE-TCP connections (10 s at most).
    fn wait_for(&self, n: u64, what: &str) {
        wait_for_tcp_connections(&self.runtime, &self.handle, n, what);
    }

    fn counters(&self) -> switchboard_media::Counters {
        self.runtime
            .block_on(self.handle.counters())
            .expect("counters")
    }

    fn shutdown(self) {
        self.relay.shutdown().expect("shutdown");
    }
}

/// Polls the relay's count of open ICE-TCP connections until it is `n` (10 s at most).
fn wait_for_tcp_connections(
    runtime: &tokio::runtime::Runtime,
    handle: &RelayHandle,
    n: u64,
    what: &str,
) {
    let start = Instant::now();
    loop {
        let open = runtime
            .block_on(handle.counters())
            .expect("counters")
            .tcp_connections;
        if open == n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what}: {open} open, not {n}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether the relay closed `stream` (its read ends, or is reset) within the read timeout.
fn closed_by_relay(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

/// Two browsers (440 and 880 Hz) on 127.0.0.1, each hearing the other through `relay`.
fn two_browsers_hear_each_other(relay: Relay) {
    two_browsers_hear_each_other_as(relay, Browser::new(440.0), Browser::new(880.0));
}

/// Browser `a` (440 Hz) and `b` (880 Hz) with their offers hear each other through `relay`.
fn two_browsers_hear_each_other_as(
    mut relay: Relay,
    (mut a, offer_a): (Browser, String),
    (mut b, offer_b): (Browser, String),
) {
    let handle = relay.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let answer_a = runtime
        .block_on(handle.add_peer(PeerId(1), offer_a))
        .expect("answer a");
    let answer_b = runtime
        .block_on(handle.add_peer(PeerId(2), offer_b))
        .expect("answer b");
    a.client.accept_answer(Instant::now(), &answer_a);
    b.client.accept_answer(Instant::now(), &answer_b);
    runtime
        .block_on(
            handle.set_graph(
                Graph::new()
                    .with(PeerId(1), [Source::Peer(PeerId(2))])
                    .with(PeerId(2), [Source::Peer(PeerId(1))]),
            ),
        )
        .expect("graph");

    let start = Instant::now();
    let mut events = Vec::new();
    let mut connected_at = None;
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "gave up: events {events:?}, a heard {}, b heard {}",
            a.client.heard.len(),
            b.client.heard.len()
        );
        a.pump();
        b.pump();
        while let Ok(e) = relay.events().try_recv() {
            events.push(e);
        }
        let both = [1, 2]
            .iter()
            .all(|id| events.contains(&MediaEvent::Connected(PeerId(*id))));
        if both && connected_at.is_none() {
            connected_at = Some(Instant::now());
        }
        // A second of audio after both connected.
        if connected_at.is_some_and(|t| t.elapsed() > Duration::from_millis(1_500)) {
            break;
        }
        // Wait for the next datagram or frame, at most a millisecond: the loop is paced by
        // the clients' 20 ms frames, not by guessed delays.
        std::thread::sleep(Duration::from_millis(1));
    }
    let since = connected_at.expect("connected") + Duration::from_millis(500);
    let heard_a = a.client.heard_between(since, Instant::now());
    let heard_b = b.client.heard_between(since, Instant::now());
    assert!(amplitude(&heard_a, 880.0) > 2_000.0, "a hears b");
    assert!(amplitude(&heard_a, 440.0) < amplitude(&heard_a, 880.0) / 10.0);
    assert!(amplitude(&heard_b, 440.0) > 2_000.0, "b hears a");
    assert!(amplitude(&heard_b, 880.0) < amplitude(&heard_b, 440.0) / 10.0);

    let counters = runtime.block_on(handle.counters()).expect("counters");
    assert!(counters.forwarded > 50, "{counters:?}");
    assert!(runtime
        .block_on(handle.remove_peer(PeerId(1)))
        .expect("remove"));
    relay.shutdown().expect("shutdown");
    assert!(runtime.block_on(handle.counters()).is_err(), "stopped");
}

#[test]
fn a_recording_through_the_relay_reaches_its_file_complete() {
    let dir = tempfile::tempdir().expect("dir");
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let relay = Relay::spawn(RelayConfig::new(listen)).expect("relay");
    let handle = relay.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let path = dir.path().join("call.wav");
    // The music on the left, a peer that never comes on the right.
    let spec = RecordingSpec::new([Source::HoldMusic], [Source::Peer(PeerId(5))]);
    let id = RecordingId(1);
    runtime
        .block_on(handle.start_recording(id, path.clone(), spec.clone()))
        .expect("started");
    // Refusals: the same id again, a file that exists, a directory that does not.
    let again =
        runtime.block_on(handle.start_recording(id, dir.path().join("x.wav"), spec.clone()));
    assert!(
        matches!(again, Err(RelayError::Recording(RecordingError::Exists(_)))),
        "{again:?}"
    );
    let exists =
        runtime.block_on(handle.start_recording(RecordingId(2), path.clone(), spec.clone()));
    assert!(
        matches!(
            exists,
            Err(RelayError::Recording(RecordingError::File { .. }))
        ),
        "{exists:?}"
    );
    let nowhere = dir.path().join("missing").join("y.wav");
    let missing = runtime.block_on(handle.start_recording(RecordingId(3), nowhere, spec.clone()));
    assert!(missing.is_err_and(|e| e.to_string().contains("missing")));
    let unknown = runtime.block_on(handle.update_recording(RecordingId(9), spec.clone()));
    assert!(
        matches!(
            unknown,
            Err(RelayError::Recording(RecordingError::Unknown(_)))
        ),
        "{unknown:?}"
    );
    // Wait (bounded) for a second of frames, as the relay counts them.
    let start = Instant::now();
    let frames = |h: &switchboard_media::io::RelayHandle| {
        runtime
            .block_on(h.counters())
            .expect("counters")
            .recording_frames
    };
    while frames(&handle) < 50 {
        assert!(start.elapsed() < Duration::from_secs(15), "no frames");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Paused, the count stands still: what the engine makes is what the file gets.
    runtime
        .block_on(handle.update_recording(id, spec.clone().paused(true)))
        .expect("paused");
    let at_pause = frames(&handle);
    // A second recording, left open until shutdown, keeps the relay's clock running.
    let open = dir.path().join("open.wav");
    handle
        .start_recording_blocking(RecordingId(4), open.clone(), spec.clone())
        .expect("second");
    while frames(&handle) < at_pause + 10 {
        assert!(start.elapsed() < Duration::from_secs(15), "no frames");
        std::thread::sleep(Duration::from_millis(5));
    }
    runtime
        .block_on(handle.update_recording(id, spec))
        .expect("resumed");
    let summary = runtime
        .block_on(handle.stop_recording(id))
        .expect("summary");
    let counters = runtime.block_on(handle.counters()).expect("counters");
    assert_eq!(counters.recording_frames_dropped, 0, "{counters:?}");
    assert_eq!(summary.path, path);
    assert_eq!((summary.channels, summary.sample_rate), (2, 16_000));
    assert_eq!(
        summary.bytes,
        std::fs::metadata(&path).expect("file").len(),
        "{summary:?}"
    );
    let mut reader = hound::WavReader::open(&path).expect("a valid WAV");
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 16_000, 16)
    );
    let sample_frames = u64::from(reader.duration());
    assert_eq!(sample_frames % 320, 0, "whole 20 ms frames");
    assert_eq!(summary.duration_ms, sample_frames / 16);
    assert!(summary.bytes == 44 + sample_frames * 4, "{summary:?}");
    // Every frame made before the pause (the count then was this recording's alone), and
    // none of the 10 or more ticks of the pause (the second recording's frames).
    let file_frames = sample_frames / 320;
    assert!(file_frames >= at_pause, "{file_frames} < {at_pause}");
    assert!(
        file_frames < at_pause + 10,
        "{file_frames} frames after {at_pause}: the paused time was recorded"
    );
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("samples");
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    assert!(
        samples.iter().skip(1).step_by(2).all(|&s| s == 0),
        "right is silent"
    );
    let music: f64 = HOLD_MUSIC_NOTES_HZ
        .iter()
        .map(|&f| amplitude_at(&left, f, 16_000))
        .sum();
    assert!(music > 500.0, "left has the music: {music:.0}");
    assert!(matches!(
        runtime.block_on(handle.stop_recording(id)),
        Err(RelayError::Recording(RecordingError::Unknown(_)))
    ));
    // Shutdown finalizes the recording still open.
    relay.shutdown().expect("shutdown");
    let reader = hound::WavReader::open(&open).expect("finalized at shutdown");
    assert!(reader.duration() >= 10 * 320);
    assert!(runtime
        .block_on(handle.stop_recording(RecordingId(4)))
        .is_err());
}

/// The media socket gets the buffers it asks for, as far as the kernel's limits
/// (`net.core.rmem_max`, `wmem_max`) allow: the default ~208 KiB drops bursts at a few hundred
/// calls.
#[test]
fn the_media_socket_gets_large_buffers() {
    let limit = |name: &str| -> usize {
        std::fs::read_to_string(format!("/proc/sys/net/core/{name}"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };
    let asked = switchboard_media::io::SOCKET_BUFFER;
    let relay = Relay::spawn(RelayConfig::new("127.0.0.1:0".parse().unwrap())).expect("relay");
    let (recv, send) = relay.socket_buffers();
    // Linux reports twice what it grants, and grants at most the limit.
    for (got, max) in [(recv, limit("rmem_max")), (send, limit("wmem_max"))] {
        let got = got.expect("the kernel reports the buffer size");
        let want = asked.min(max.max(1));
        assert!(
            got >= want,
            "buffer {got} bytes, asked {asked}, kernel limit {max}"
        );
    }
    relay.shutdown().expect("shutdown");
}
