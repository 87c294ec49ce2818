//! The relay as audio: str0m client peers play browsers (offers, Opus sine tones at 50
//! packets/s) on a simulated network with simulated time, through the engine; what each peer
//! decodes is measured (Goertzel) to tell whom it hears.

mod common;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{amplitude, amplitude_at, loudest, rms, Client, TONES};
use str0m::net::Protocol;
use switchboard_media::{
    Disconnect, Engine, EngineConfig, Graph, MediaError, MediaEvent, PeerId, RecordingId,
    RecordingSpec, Source, Transport, FRAME, HOLD_MUSIC_NOTES_HZ, MAX_RECORDING_CATCHUP,
    RECORDING_FRAME_SAMPLES, RECORDING_SAMPLE_RATE,
};

const LATENCY: Duration = Duration::from_millis(5);

struct Packet {
    from: SocketAddr,
    to: SocketAddr,
    data: Vec<u8>,
}

/// The engine, the clients and the wire between them, on simulated time. The wire delivers in
/// order, so it also stands for the TCP connections of ICE-TCP clients (the shell's framing is
/// tested on its own and over real sockets in `loopback.rs`).
struct Sim {
    engine: Engine,
    server: SocketAddr,
    /// The engine's passive TCP candidate, when it has one.
    server_tcp: Option<SocketAddr>,
    clients: BTreeMap<u64, Client>,
    base: Instant,
    now: Instant,
    wire: BinaryHeap<Reverse<(Instant, u64)>>,
    packets: BTreeMap<u64, Packet>,
    seq: u64,
    /// Addresses whose datagrams are lost (a desktop that moved away).
    dead: HashSet<SocketAddr>,
    events: Vec<(Duration, MediaEvent)>,
    /// Datagrams the engine sent, by destination.
    sent_to: BTreeMap<SocketAddr, u64>,
    /// The RTP datagrams clients sent the engine (kept only when `capture` is set).
    capture: bool,
    captured: Vec<(SocketAddr, Vec<u8>)>,
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Sim {
    fn new() -> Sim {
        Sim::with(EngineConfig::new(addr(40_000)))
    }

    /// An engine that also answers with a passive TCP candidate at 127.0.0.1:40001.
    fn with_tcp() -> Sim {
        let mut config = EngineConfig::new(addr(40_000));
        config.advertised_tcp = Some(addr(40_001));
        Sim::with(config)
    }

    fn with(config: EngineConfig) -> Sim {
        let server = config.advertised;
        let server_tcp = config.advertised_tcp;
        let base = Instant::now();
        Sim {
            engine: Engine::new(config).expect("engine"),
            server,
            server_tcp,
            clients: BTreeMap::new(),
            base,
            now: base,
            wire: BinaryHeap::new(),
            packets: BTreeMap::new(),
            seq: 0,
            dead: HashSet::new(),
            events: Vec::new(),
            sent_to: BTreeMap::new(),
            capture: false,
            captured: Vec::new(),
        }
    }

    fn at(&self, secs: f64) -> Instant {
        self.base + Duration::from_secs_f64(secs)
    }

    fn client(&self, id: u64) -> &Client {
        self.clients.get(&id).expect("client")
    }

    /// A browser `id` sending `tone`, offered, answered and connected.
    fn join(&mut self, id: u64, tone: f32) {
        self.join_on(id, Protocol::Udp, tone);
    }

    /// As [`Sim::join`], the browser reaching the engine over `proto` only.
    /// Peers 1 (440 Hz) and 2 (880 Hz), each hearing the other; the time (seconds since the
    /// start) when both are connected.
    fn two_party_call(&mut self) -> f64 {
        self.join(1, 440.0);
        self.join(2, 880.0);
        self.graph(Graph::new().with(PeerId(1), [p(2)]).with(PeerId(2), [p(1)]));
        (self.now - self.base).as_secs_f64()
    }

    fn join_on(&mut self, id: u64, proto: Protocol, tone: f32) {
        let (mut client, offer) = Client::on(self.now, proto, addr(50_000 + id as u16), tone);
        let answer = self
            .engine
            .add_peer(self.now, PeerId(id), &offer)
            .expect("answer");
        client.accept_answer(self.now, &answer);
        self.clients.insert(id, client);
        self.flush();
        let deadline = self.now + Duration::from_secs(5);
        while !(self.engine.is_connected(PeerId(id)) && self.client(id).connected) {
            assert!(self.now < deadline, "peer {id} did not connect");
            let next = self.next_time().min(deadline);
            self.advance_to(next);
        }
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        let rtp = data.len() > 12 && data[0] >> 6 == 2 && !(192..224).contains(&data[1]);
        if self.capture && to == self.server && rtp {
            self.captured.push((from, data.clone()));
        }
        self.seq += 1;
        self.wire.push(Reverse((self.now + LATENCY, self.seq)));
        self.packets.insert(self.seq, Packet { from, to, data });
    }

    /// Moves every pending datagram onto the wire and collects events.
    fn flush(&mut self) {
        while let Some(t) = self.engine.poll_transmit() {
            *self.sent_to.entry(t.destination).or_default() += 1;
            let from = match t.transport {
                Transport::Udp => self.server,
                Transport::Tcp => self.server_tcp.expect("TCP only with a TCP candidate"),
            };
            self.send(from, t.destination, t.contents);
        }
        let outs: Vec<_> = self
            .clients
            .values_mut()
            .flat_map(|c| std::mem::take(&mut c.outbox))
            .collect();
        for (from, to, data) in outs {
            self.send(from, to, data);
        }
        while let Some(e) = self.engine.poll_event() {
            self.events.push((self.now - self.base, e));
        }
    }

    fn next_time(&self) -> Instant {
        let wire = self.wire.peek().map(|Reverse((t, _))| *t);
        let clients = self.clients.values().map(|c| c.next_time());
        [wire, self.engine.poll_timeout()]
            .into_iter()
            .flatten()
            .chain(clients)
            .min()
            .unwrap_or(self.now + Duration::from_secs(1))
    }

    /// Advances time to `t`, delivering and processing everything due on the way.
    fn advance_to(&mut self, t: Instant) {
        self.now = self.now.max(t);
        while let Some(Reverse((at, seq))) = self.wire.peek().copied() {
            if at > self.now {
                break;
            }
            self.wire.pop();
            let Some(p) = self.packets.remove(&seq) else {
                continue;
            };
            if self.dead.contains(&p.to) || self.dead.contains(&p.from) {
                continue;
            }
            if p.to == self.server {
                self.engine.handle_datagram(at, p.from, p.to, &p.data);
            } else if Some(p.to) == self.server_tcp {
                self.engine
                    .handle_receive(at, Transport::Tcp, p.from, p.to, &p.data);
            } else if let Some(c) = self.clients.values_mut().find(|c| c.addr == p.to) {
                c.receive(at, p.from, &p.data);
            }
            self.flush();
        }
        if self.engine.poll_timeout().is_some_and(|d| d <= self.now) {
            self.engine.handle_timeout(self.now);
        }
        for c in self.clients.values_mut() {
            c.timeout(self.now);
        }
        self.flush();
    }

    /// Runs the world until `secs` after the start.
    fn run_until(&mut self, secs: f64) {
        let end = self.at(secs);
        let mut steps = 0u64;
        while self.now < end {
            let next = self.next_time().min(end).max(self.now);
            self.advance_to(next);
            steps += 1;
            assert!(steps < 10_000_000, "the simulation does not advance");
        }
    }

    fn graph(&mut self, g: Graph) {
        self.engine.set_graph(&g);
        self.flush();
    }

    /// What client `id` heard between `from` and `to` seconds.
    fn heard(&self, id: u64, from: f64, to: f64) -> Vec<i16> {
        self.client(id).heard_between(self.at(from), self.at(to))
    }

    fn events_of(&self, id: u64) -> Vec<(Duration, MediaEvent)> {
        self.events
            .iter()
            .filter(|(_, e)| match e {
                MediaEvent::Connected(p)
                | MediaEvent::StoppedSending(p)
                | MediaEvent::ResumedSending(p) => p.0 == id,
                MediaEvent::Disconnected { peer, .. } => peer.0 == id,
                MediaEvent::RecordingAudio { .. } => false,
            })
            .cloned()
            .collect()
    }

    fn recordings(&mut self, specs: &[(u64, RecordingSpec)]) {
        let specs: BTreeMap<RecordingId, RecordingSpec> = specs
            .iter()
            .map(|(id, s)| (RecordingId(*id), s.clone()))
            .collect();
        self.engine.set_recordings(&specs);
        self.flush();
    }

    /// The frames of recording `id` made in `(from, to]` seconds (a frame made at the very
    /// instant of a change was made before it).
    fn recorded_frames(&self, id: u64, from: f64, to: f64) -> Vec<&[i16]> {
        let (from, to) = (self.at(from) - self.base, self.at(to) - self.base);
        self.events
            .iter()
            .filter(|(t, _)| *t > from && *t <= to)
            .filter_map(|(_, e)| match e {
                MediaEvent::RecordingAudio { id: r, pcm } if r.0 == id => Some(pcm.as_slice()),
                _ => None,
            })
            .collect()
    }

    /// The left and right channels of recording `id` in `(from, to]` seconds.
    fn recorded(&self, id: u64, from: f64, to: f64) -> [Vec<i16>; 2] {
        let mut channels = [Vec::new(), Vec::new()];
        for frame in self.recorded_frames(id, from, to) {
            assert_eq!(frame.len(), 2 * RECORDING_FRAME_SAMPLES);
            for lr in frame.chunks_exact(2) {
                channels[0].push(lr[0]);
                channels[1].push(lr[1]);
            }
        }
        channels
    }

    fn elapsed(&self) -> f64 {
        (self.now - self.base).as_secs_f64()
    }
}

fn p(id: u64) -> Source {
    Source::Peer(PeerId(id))
}

/// The heard audio is dominated by `tone`: it is loud, and every other agent tone is at most
/// a tenth of it.
fn assert_hears_only(samples: &[i16], tone: f32, what: &str) {
    let (best, amps) = loudest(samples, &TONES);
    assert_eq!(best, tone, "{what}: loudest tone (amplitudes {amps:?})");
    let a = amplitude(samples, tone);
    assert!(a > 2_000.0, "{what}: {tone} Hz is too quiet: {a:.0}");
    for other in TONES.iter().filter(|t| **t != tone) {
        let o = amplitude(samples, *other);
        assert!(
            o < a / 10.0,
            "{what}: {other} Hz is audible: {o:.0} vs {a:.0}"
        );
    }
}

fn assert_silent(samples: &[i16], what: &str) {
    let r = rms(samples);
    assert!(
        r < 50.0,
        "{what}: energy {r:.0} (of {} samples)",
        samples.len()
    );
}

/// Peer 1 hears only 880 Hz and peer 2 only 440 Hz between `from` and `to` (a
/// [`Sim::two_party_call`]).
fn assert_the_pair_hears_each_other(s: &Sim, from: f64, to: f64, when: &str) {
    assert_hears_only(&s.heard(1, from, to), 880.0, &format!("1 {when}"));
    assert_hears_only(&s.heard(2, from, to), 440.0, &format!("2 {when}"));
}

fn music_amplitude(samples: &[i16]) -> f64 {
    HOLD_MUSIC_NOTES_HZ
        .iter()
        .map(|&f| amplitude(samples, f))
        .sum()
}

#[test]
fn two_parties_hear_each_other_forwarded() {
    let mut s = Sim::new();
    let t0 = s.two_party_call();
    s.run_until(t0 + 2.0);
    assert_the_pair_hears_each_other(&s, t0 + 1.0, t0 + 2.0, "in the call");
    let c = s.engine.counters();
    assert!(c.forwarded > 180, "{c:?}");
    assert_eq!((c.mixed, c.music), (0, 0), "{c:?}");
    // Past the first packets, the engine opens and seals the RTP itself (the shortcut).
    assert!(c.shortcut_opened > 180 && c.shortcut_sealed > 180, "{c:?}");
    assert_eq!(c.shortcut_refused, 0, "{c:?}");
    let f = s.engine.footprint();
    assert_eq!((f.forwarding, f.encoders, f.decoders), (2, 0, 0), "{f:?}");
    // About 50 frames a second arrive, in order, without gaps in sequence numbers.
    let heard = &s.client(1).heard;
    let recent = s.client(1).frames_since(s.at(t0 + 1.0));
    assert!((45..=55).contains(&recent), "{recent} frames in a second");
    assert!(heard.windows(2).all(|w| w[1].rtp_time > w[0].rtp_time));
    assert!(heard.iter().skip(1).all(|h| h.contiguous));
}

#[test]
fn without_the_shortcut_str0m_carries_the_media_and_both_still_hear() {
    let mut config = EngineConfig::new(addr(40_000));
    config.shortcut = false;
    let mut s = Sim::with(config);
    let t0 = s.two_party_call();
    s.run_until(t0 + 2.0);
    assert_the_pair_hears_each_other(&s, t0 + 1.0, t0 + 2.0, "in the call");
    let c = s.engine.counters();
    assert!(c.forwarded > 180, "{c:?}");
    assert_eq!((c.shortcut_opened, c.shortcut_sealed), (0, 0), "{c:?}");
    assert!(s.client(1).heard.iter().skip(1).all(|h| h.contiguous));
}

#[test]
fn replayed_and_forged_rtp_on_a_peer_path_is_refused_and_the_call_goes_on() {
    let mut s = Sim::new();
    let t0 = s.two_party_call();
    s.capture = true;
    s.run_until(t0 + 1.0);
    s.capture = false;
    let a = s.client(1).addr;
    let (_, genuine) = s
        .captured
        .iter()
        .rev()
        .find(|(from, _)| *from == a)
        .cloned()
        .expect("A sent RTP");
    let server = s.server;
    let inject = |s: &mut Sim, from: SocketAddr, data: &[u8]| {
        let before = s.engine.counters();
        s.engine.handle_datagram(s.now, from, server, data);
        s.flush();
        let after = s.engine.counters();
        assert_eq!(after.forwarded, before.forwarded, "nothing forwarded");
        after.shortcut_refused - before.shortcut_refused
    };
    // The same packet again (replayed), with a flipped bit in its payload or tag (forged),
    // with another sequence number under the same tag: each refused on the peer's own path.
    assert_eq!(inject(&mut s, a, &genuine), 1, "replayed");
    let mut flipped = genuine.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    assert_eq!(inject(&mut s, a, &flipped), 1, "forged tag");
    let mut renumbered = genuine.clone();
    let seq = u16::from_be_bytes([genuine[2], genuine[3]]).wrapping_add(5);
    renumbered[2..4].copy_from_slice(&seq.to_be_bytes());
    assert_eq!(inject(&mut s, a, &renumbered), 1, "renumbered");
    // From anywhere else, the same bytes are not even looked at.
    assert_eq!(inject(&mut s, addr(60_001), &genuine), 0, "stranger");
    assert_eq!(s.sent_to.get(&addr(60_001)), None);

    s.run_until(t0 + 2.5);
    assert_the_pair_hears_each_other(&s, t0 + 1.5, t0 + 2.5, "after the forgeries");
    assert!(s.client(2).heard.iter().skip(1).all(|h| h.contiguous));
}

#[test]
fn the_answer_is_ice_lite_with_one_host_candidate_and_keeps_telephone_event() {
    let mut s = Sim::new();
    let (_client, offer) = Client::new(s.now, addr(50_001), 440.0);
    let answer = s.engine.add_peer(s.now, PeerId(1), &offer).expect("answer");
    assert!(answer.contains("a=ice-lite"), "{answer}");
    let candidates: Vec<&str> = answer
        .lines()
        .filter(|l| l.starts_with("a=candidate"))
        .collect();
    assert_eq!(candidates.len(), 1, "{answer}");
    assert!(
        candidates[0].contains("127.0.0.1 40000 typ host"),
        "{answer}"
    );
    assert!(answer.contains("opus/48000"), "{answer}");
    assert!(answer.contains("telephone-event/8000"), "{answer}");
    assert!(!answer.contains("VP8"), "{answer}");
    // No transport-wide congestion control: its feedback would double the relay's packet rate
    // for nothing (fixed-rate Opus). The offer did ask for it.
    assert!(offer.contains("transport-wide-cc"), "{offer}");
    assert!(!answer.contains("transport-wide-cc"), "{answer}");
    assert!(answer.contains("sdes:mid"), "{answer}");
}

/// The fields of an answer's candidates: foundation, component, transport, priority, address,
/// port, "typ", type, then the extensions (tcptype, ufrag...).
fn candidates(answer: &str) -> Vec<Vec<&str>> {
    answer
        .lines()
        .filter_map(|l| l.strip_prefix("a=candidate:"))
        .map(|c| c.split_whitespace().collect())
        .collect()
}

#[test]
fn with_a_tcp_listener_the_answer_adds_a_passive_tcp_candidate_below_udp() {
    let mut s = Sim::with_tcp();
    let (_client, offer) = Client::new(s.now, addr(50_001), 440.0);
    let answer = s.engine.add_peer(s.now, PeerId(1), &offer).expect("answer");
    let fields = candidates(&answer);
    assert_eq!(fields.len(), 2, "{answer}");
    let udp = fields
        .iter()
        .find(|f| f[2] == "udp")
        .expect("a UDP candidate");
    let tcp = fields
        .iter()
        .find(|f| f[2] == "tcp")
        .expect("a TCP candidate");
    assert_eq!(
        &udp[4..8],
        ["127.0.0.1", "40000", "typ", "host"],
        "{answer}"
    );
    assert_eq!(
        &tcp[4..8],
        ["127.0.0.1", "40001", "typ", "host"],
        "{answer}"
    );
    assert_eq!(&tcp[8..10], ["tcptype", "passive"], "{answer}");
    let prio = |f: &Vec<&str>| f[3].parse::<u32>().expect("priority");
    assert!(prio(tcp) < prio(udp), "{answer}");
}

#[test]
fn a_relay_over_tcp_alone_answers_with_the_tcp_candidate_only() {
    let mut config = EngineConfig::new(addr(40_000));
    config.udp = false;
    config.advertised_tcp = Some(addr(40_001));
    let mut s = Sim::with(config);
    let (_client, offer) = Client::new(s.now, addr(50_001), 440.0);
    let answer = s.engine.add_peer(s.now, PeerId(1), &offer).expect("answer");
    let fields = candidates(&answer);
    assert_eq!(fields.len(), 1, "{answer}");
    assert_eq!(
        [&fields[0][2..3], &fields[0][4..10]].concat(),
        [
            "tcp",
            "127.0.0.1",
            "40001",
            "typ",
            "host",
            "tcptype",
            "passive"
        ],
        "{answer}"
    );
    let mut neither = EngineConfig::new(addr(40_000));
    neither.udp = false;
    assert!(matches!(Engine::new(neither), Err(MediaError::NoTransport)));
}

/// A browser on a network that lets no UDP through connects over ICE-TCP and talks with one on
/// UDP: each hears only the other, forwarded, and what goes to the TCP one leaves on TCP.
#[test]
fn a_browser_over_tcp_and_one_over_udp_hear_each_other() {
    let mut s = Sim::with_tcp();
    s.join_on(1, Protocol::Tcp, 440.0);
    s.join(2, 880.0);
    s.graph(Graph::new().with(PeerId(1), [p(2)]).with(PeerId(2), [p(1)]));
    let t0 = s.elapsed();
    s.run_until(t0 + 2.0);
    assert_hears_only(&s.heard(1, t0 + 1.0, t0 + 2.0), 880.0, "A over TCP");
    assert_hears_only(&s.heard(2, t0 + 1.0, t0 + 2.0), 440.0, "B over UDP");
    let recent = s.client(1).frames_since(s.at(t0 + 1.0));
    assert!((45..=55).contains(&recent), "{recent} frames in a second");
    let c = s.engine.counters();
    assert!(c.forwarded > 180, "{c:?}");
}

#[test]
fn bad_offers_and_unknown_peers_are_refused() {
    let mut s = Sim::new();
    let (_c, offer) = Client::new(s.now, addr(50_001), 440.0);
    s.engine.add_peer(s.now, PeerId(1), &offer).expect("answer");
    assert_eq!(
        s.engine.add_peer(s.now, PeerId(1), &offer),
        Err(MediaError::PeerExists(PeerId(1)))
    );
    assert!(matches!(
        s.engine.add_peer(s.now, PeerId(2), "v=0\r\nnonsense"),
        Err(MediaError::Sdp(_))
    ));
    let huge = "a".repeat(switchboard_media::MAX_SDP_BYTES + 1);
    assert!(matches!(
        s.engine.add_peer(s.now, PeerId(2), &huge),
        Err(MediaError::OfferTooLarge(_))
    ));
    assert_eq!(
        s.engine.restart_peer(s.now, PeerId(9), &offer),
        Err(MediaError::NoPeer(PeerId(9)))
    );
    // A data channel but no audio.
    let mut rtc = str0m::RtcConfig::new()
        .set_crypto_provider(std::sync::Arc::new(str0m::crypto::from_feature_flags()))
        .build(s.now);
    let mut api = rtc.sdp_api();
    api.add_channel("chat".into());
    let (offer, _) = api.apply().expect("offer");
    assert_eq!(
        s.engine.add_peer(s.now, PeerId(3), &offer.to_sdp_string()),
        Err(MediaError::NoAudio)
    );
    assert_eq!(s.engine.footprint().peers, 1);
    assert!(!s.engine.remove_peer(PeerId(3)));
}

#[test]
fn three_parties_each_hear_a_mix_of_the_other_two() {
    let mut s = Sim::new();
    s.join(1, 440.0);
    s.join(2, 660.0);
    s.join(3, 880.0);
    s.graph(
        Graph::new()
            .with(PeerId(1), [p(2), p(3)])
            .with(PeerId(2), [p(1), p(3)])
            .with(PeerId(3), [p(1), p(2)]),
    );
    let t0 = (s.now - s.base).as_secs_f64();
    s.run_until(t0 + 2.0);
    for (id, own) in [(1, 440.0), (2, 660.0), (3, 880.0)] {
        let heard = s.heard(id, t0 + 1.0, t0 + 2.0);
        let own_amp = amplitude(&heard, own);
        for other in TONES.iter().filter(|t| **t != own) {
            let a = amplitude(&heard, *other);
            assert!(a > 2_000.0, "peer {id} does not hear {other} Hz: {a:.0}");
            assert!(
                own_amp < a / 10.0,
                "peer {id} hears itself: {own_amp:.0} vs {a:.0}"
            );
        }
    }
    let f = s.engine.footprint();
    assert_eq!((f.encoders, f.decoders, f.forwarding), (3, 3, 0), "{f:?}");
    assert!(s.engine.counters().mixed > 250);
    // A mixed stream is as continuous as a forwarded one.
    let heard = &s.client(2).heard;
    assert!(heard.windows(2).all(|w| w[1].rtp_time > w[0].rtp_time));
}

#[test]
fn a_held_peer_hears_the_music_and_the_holder_hears_nothing() {
    let mut s = Sim::new();
    let t0 = s.two_party_call();
    s.run_until(t0 + 1.0);
    // 2 holds 1: 1 hears music, 2 hears nothing of 1.
    s.graph(Graph::new().with(PeerId(1), [Source::HoldMusic]));
    s.run_until(t0 + 3.5);
    let held = s.heard(1, t0 + 1.5, t0 + 3.5);
    let music = music_amplitude(&held);
    let agents: f64 = TONES.iter().map(|&t| amplitude(&held, t)).sum();
    assert!(music > 1_000.0, "music {music:.0}");
    assert!(
        agents < music / 5.0,
        "agents {agents:.0} vs music {music:.0}"
    );
    // Each note of the loop is heard in turn.
    for (i, &note) in HOLD_MUSIC_NOTES_HZ.iter().enumerate() {
        let loudest_note = (0..4)
            .map(|k| {
                let from = t0 + 1.5 + 0.5 * k as f64 + 0.1;
                let a = amplitude(&s.heard(1, from, from + 0.3), note);
                (a, k)
            })
            .fold((0.0, 0), |acc, x| if x.0 > acc.0 { x } else { acc });
        assert!(
            loudest_note.0 > 1_000.0,
            "note {i} ({note} Hz): {loudest_note:?}"
        );
    }
    assert_silent(&s.heard(2, t0 + 1.5, t0 + 3.5), "the holder");
    assert!(s.engine.counters().music > 90);
    // Music with a voice: a mix of both.
    s.graph(Graph::new().with(PeerId(1), [Source::HoldMusic, p(2)]));
    s.run_until(t0 + 5.5);
    let both = s.heard(1, t0 + 4.0, t0 + 5.5);
    assert!(music_amplitude(&both) > 1_000.0);
    assert!(amplitude(&both, 880.0) > 2_000.0);
    assert_eq!(s.engine.footprint().encoders, 1);
}

#[test]
fn a_muted_source_falls_silent_without_looking_like_loss() {
    let mut s = Sim::new();
    let t0 = s.two_party_call();
    s.run_until(t0 + 1.0);
    // 2 is muted: 1 no longer hears it; 2 still hears 1.
    s.graph(Graph::new().with(PeerId(2), [p(1)]));
    let muted_at = s.now;
    s.run_until(t0 + 2.0);
    assert_silent(&s.heard(1, t0 + 1.1, t0 + 2.0), "1 while 2 is muted");
    assert_hears_only(&s.heard(2, t0 + 1.1, t0 + 2.0), 440.0, "2 while muted");
    s.graph(Graph::new().with(PeerId(1), [p(2)]).with(PeerId(2), [p(1)]));
    s.run_until(t0 + 3.0);
    assert_hears_only(&s.heard(1, t0 + 2.2, t0 + 3.0), 880.0, "1 after unmute");
    // The stream paused: sequence numbers go on without a gap, timestamps jump by the pause.
    let heard = &s.client(1).heard;
    assert!(
        heard.iter().skip(1).all(|h| h.contiguous),
        "a gap in sequence numbers"
    );
    let gap = heard
        .windows(2)
        .find(|w| {
            w[0].at < muted_at + Duration::from_millis(100)
                && w[1].at > muted_at + Duration::from_millis(500)
        })
        .map(|w| w[1].rtp_time - w[0].rtp_time)
        .expect("a pause");
    assert!(
        (45_000..=51_000).contains(&gap),
        "timestamp step over the pause: {gap}"
    );
}

#[test]
fn switching_the_forwarded_source_is_seamless() {
    let mut s = Sim::new();
    s.join(1, 440.0);
    s.join(2, 660.0);
    s.join(3, 880.0);
    s.graph(Graph::new().with(PeerId(1), [p(2)]));
    let t0 = (s.now - s.base).as_secs_f64();
    s.run_until(t0 + 1.0);
    s.graph(Graph::new().with(PeerId(1), [p(3)]));
    s.run_until(t0 + 2.0);
    assert_hears_only(&s.heard(1, t0 + 0.3, t0 + 1.0), 660.0, "before");
    assert_hears_only(&s.heard(1, t0 + 1.2, t0 + 2.0), 880.0, "after");
    let heard = &s.client(1).heard;
    assert!(heard.iter().skip(1).all(|h| h.contiguous));
    let steps: Vec<u64> = heard
        .windows(2)
        .map(|w| w[1].rtp_time - w[0].rtp_time)
        .collect();
    assert!(
        steps.iter().all(|d| (960..=3 * 960).contains(d)),
        "{steps:?}"
    );
}

#[test]
fn a_removed_peer_gets_nothing_more_and_its_state_is_freed() {
    let mut s = Sim::new();
    s.join(1, 440.0);
    s.join(2, 660.0);
    s.join(3, 880.0);
    s.graph(
        Graph::new()
            .with(PeerId(1), [p(2), p(3)])
            .with(PeerId(2), [p(1), p(3)])
            .with(PeerId(3), [p(1), p(2)]),
    );
    let t0 = (s.now - s.base).as_secs_f64();
    s.run_until(t0 + 1.0);
    assert!(s.engine.remove_peer(PeerId(3)));
    let removed_at = s.now;
    let sent_before = s.sent_to.get(&addr(50_003)).copied().unwrap_or(0);
    s.run_until(t0 + 3.0);
    // Nothing more is sent to it (a datagram already on the wire may still arrive).
    assert_eq!(
        s.sent_to.get(&addr(50_003)).copied().unwrap_or(0),
        sent_before
    );
    assert!(
        s.client(3)
            .frames_since(removed_at + Duration::from_millis(50))
            == 0,
        "the removed peer still receives"
    );
    // The others fall back to forwarding each other; the mixers' codecs are gone.
    assert_hears_only(&s.heard(1, t0 + 2.0, t0 + 3.0), 660.0, "1");
    assert_hears_only(&s.heard(2, t0 + 2.0, t0 + 3.0), 440.0, "2");
    let f = s.engine.footprint();
    assert_eq!(
        (f.peers, f.encoders, f.decoders, f.forwarding),
        (2, 0, 0, 2),
        "{f:?}"
    );
    assert_eq!(f.addresses, 2, "{f:?}");
    // Its datagrams are now unrouted.
    let unrouted = s.engine.counters().unrouted;
    assert!(
        unrouted > 0,
        "the removed client's datagrams should be unrouted"
    );
    // Dropping every edge frees the routes too.
    s.graph(Graph::new());
    let f = s.engine.footprint();
    assert_eq!((f.encoders, f.decoders, f.forwarding), (0, 0, 0), "{f:?}");
}

#[test]
fn an_ice_restart_from_a_new_address_keeps_the_audio_flowing() {
    let mut s = Sim::new();
    let t0 = s.two_party_call();
    s.run_until(t0 + 1.0);
    // The desktop moves: its old address is gone, it restarts ICE from a new one.
    let old = s.client(1).addr;
    s.dead.insert(old);
    let now = s.now;
    let offer = s
        .clients
        .get_mut(&1)
        .expect("client")
        .restart(now, addr(51_001));
    let answer = s
        .engine
        .restart_peer(now, PeerId(1), &offer)
        .expect("restart answer");
    s.clients
        .get_mut(&1)
        .expect("client")
        .accept_answer(now, &answer);
    s.flush();
    s.run_until(t0 + 3.0);
    // The new path is checked within a few round trips: hardly a frame is missed.
    let (a, b) = (s.at(t0 + 1.0), s.at(t0 + 1.5));
    let during = s
        .client(1)
        .heard
        .iter()
        .filter(|h| h.at >= a && h.at < b)
        .count();
    assert!(
        during >= 20,
        "{during} frames in the 0.5 s after the restart"
    );
    assert_hears_only(
        &s.heard(1, t0 + 2.0, t0 + 3.0),
        880.0,
        "1 after the restart",
    );
    assert_hears_only(
        &s.heard(2, t0 + 2.0, t0 + 3.0),
        440.0,
        "2 after the restart",
    );
    assert!(
        !s.events_of(1)
            .iter()
            .any(|(_, e)| matches!(e, MediaEvent::Disconnected { why, .. } if why.is_final())),
        "{:?}",
        s.events_of(1)
    );
}

#[test]
fn garbage_and_hostile_datagrams_are_counted_and_dropped() {
    let mut s = Sim::new();
    let t0 = s.two_party_call();
    s.run_until(t0 + 0.5);
    let before = s.engine.counters();
    let a = s.client(1).addr;
    let stranger = addr(60_000);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    let mut hostile: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    for n in [0, 1, 2, 3, 12, 20, 100, 1500, 3000] {
        hostile.push((stranger, random(n)));
        hostile.push((a, random(n)));
    }
    // A STUN binding request header with garbage attributes, from a stranger and from A.
    let mut stun = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
    stun.extend(random(12));
    stun.extend([0x00, 0x06, 0x00, 0x04, b'x', b'y', b'z', b'w']);
    hostile.push((stranger, stun.clone()));
    hostile.push((a, stun));
    // DTLS records and RTP/RTCP headers with random bodies, from A's own address.
    for first in [20u8, 22, 23, 0x80, 0x81, 0x90] {
        let mut d = vec![first, 0xfe, 0xfd];
        d.extend(random(60));
        hostile.push((a, d.clone()));
        hostile.push((stranger, d));
        let mut rtcp = vec![first, 200, 0, 6];
        rtcp.extend(random(24));
        hostile.push((a, rtcp));
    }
    let server = s.server;
    for (from, data) in &hostile {
        s.engine.handle_datagram(s.now, *from, server, data);
        s.flush();
    }
    let after = s.engine.counters();
    assert_eq!(after.datagrams - before.datagrams, hostile.len() as u64);
    let dropped = (after.unparsable - before.unparsable)
        + (after.unrouted - before.unrouted)
        + (after.rejected - before.rejected);
    assert!(dropped > 0, "{after:?}");
    assert!(after.unrouted > before.unrouted, "{after:?}");
    // Nothing was sent to the stranger, and the call goes on.
    assert_eq!(s.sent_to.get(&stranger), None);
    s.run_until(t0 + 2.0);
    assert_the_pair_hears_each_other(&s, t0 + 1.0, t0 + 2.0, "after the garbage");
    assert!(s.engine.is_connected(PeerId(1)));
}

#[test]
fn a_peer_that_stops_sending_is_reported_and_so_is_its_return() {
    let mut s = Sim::new();
    let t0 = s.two_party_call();
    s.run_until(t0 + 1.0);
    s.clients.get_mut(&2).expect("client").sending = false;
    let stopped = s.now - s.base;
    s.run_until(t0 + 4.0);
    let events = s.events_of(2);
    let at = events
        .iter()
        .find(|(_, e)| *e == MediaEvent::StoppedSending(PeerId(2)))
        .map(|(t, _)| *t - stopped)
        .unwrap_or_else(|| panic!("not reported: {events:?}"));
    assert!(
        at >= Duration::from_millis(1_950) && at <= Duration::from_millis(2_100),
        "reported {at:?} after it stopped"
    );
    assert!(!s
        .events_of(1)
        .iter()
        .any(|(_, e)| matches!(e, MediaEvent::StoppedSending(_))));
    s.clients.get_mut(&2).expect("client").sending = true;
    s.run_until(t0 + 5.0);
    assert!(s
        .events_of(2)
        .iter()
        .any(|(_, e)| *e == MediaEvent::ResumedSending(PeerId(2))));
    assert_hears_only(
        &s.heard(1, t0 + 4.5, t0 + 5.0),
        880.0,
        "1 after 2 came back",
    );
}

#[test]
fn a_peer_that_never_connects_is_dropped() {
    let mut s = Sim::new();
    let (_client, offer) = Client::new(s.now, addr(50_001), 440.0);
    s.engine.add_peer(s.now, PeerId(1), &offer).expect("answer");
    s.graph(Graph::new().with(PeerId(1), [Source::HoldMusic]));
    // The browser never sends a check: nothing on the wire, only time passes.
    s.run_until(31.0);
    // It was never sent anything, music included: no ICE check, no media.
    assert_eq!(s.sent_to.get(&addr(50_001)), None);
    assert_eq!(
        s.events_of(1),
        vec![(
            Duration::from_secs(30),
            MediaEvent::Disconnected {
                peer: PeerId(1),
                why: Disconnect::NeverConnected
            }
        )]
    );
    assert_eq!(s.engine.footprint().peers, 0);
}

#[test]
fn a_mix_complexity_outside_libopus_range_is_refused() {
    let mut config = EngineConfig::new(addr(40_000));
    for bad in [-1, 11] {
        config.mix_complexity = bad;
        assert_eq!(
            Engine::new(config.clone()).err(),
            Some(MediaError::Complexity(bad))
        );
    }
    config.mix_complexity = 0;
    assert!(Engine::new(config).is_ok());
}

/// Forwarding adds no turn of the loop: the frame goes out from the very `handle_datagram`
/// that brought it, not after a later `handle_timeout` (str0m packetizes on a timeout, which
/// the engine gives it at once).
#[test]
fn a_forwarded_frame_leaves_with_the_datagram_that_brought_it() {
    let server = addr(40_000);
    let mut now = Instant::now();
    let mut engine = Engine::new(EngineConfig::new(server)).expect("engine");
    let mut clients = Vec::new();
    for id in 0..2u64 {
        let (mut c, offer) = Client::new(now, addr(50_001 + id as u16), TONES[id as usize]);
        let answer = engine.add_peer(now, PeerId(id), &offer).expect("answer");
        c.accept_answer(now, &answer);
        clients.push(c);
    }
    engine.set_graph(&Graph::new().with(PeerId(0), [p(1)]).with(PeerId(1), [p(0)]));
    let deliver = |clients: &mut Vec<Client>, now: Instant, t: switchboard_media::Transmit| {
        if let Some(c) = clients.iter_mut().find(|c| c.addr == t.destination) {
            c.receive(now, server, &t.contents);
        }
    };
    let (mut frames, mut at_once) = (0, 0);
    let end = now + Duration::from_secs(3);
    while now < end {
        now += Duration::from_millis(1);
        let mut out = Vec::new();
        for c in clients.iter_mut() {
            c.timeout(now);
            for (from, _, data) in std::mem::take(&mut c.outbox) {
                let before = engine.counters().forwarded;
                engine.handle_datagram(now, from, server, &data);
                let forwarded = engine.counters().forwarded > before;
                let mut sent = 0;
                while let Some(t) = engine.poll_transmit() {
                    sent += 1;
                    out.push(t);
                }
                if forwarded && clients_connected(&engine) {
                    frames += 1;
                    at_once += usize::from(sent > 0);
                }
            }
        }
        for t in out {
            deliver(&mut clients, now, t);
        }
        if engine.poll_timeout().is_some_and(|t| t <= now) {
            engine.handle_timeout(now);
        }
        while let Some(t) = engine.poll_transmit() {
            deliver(&mut clients, now, t);
        }
        while engine.poll_event().is_some() {}
    }
    assert!(frames > 100, "only {frames} frames forwarded");
    assert_eq!(at_once, frames, "frames that waited for a timeout");
}

fn clients_connected(engine: &Engine) -> bool {
    engine.is_connected(PeerId(0)) && engine.is_connected(PeerId(1))
}

fn rec_amplitude(samples: &[i16], hz: f32) -> f64 {
    amplitude_at(samples, hz, RECORDING_SAMPLE_RATE)
}

/// A recorded channel is dominated by `tone`: loud, and every other agent tone at most a tenth
/// of it.
fn assert_records_only(samples: &[i16], tone: f32, what: &str) {
    assert!(
        samples.len() >= RECORDING_SAMPLE_RATE as usize / 2,
        "{what}: only {} samples",
        samples.len()
    );
    let a = rec_amplitude(samples, tone);
    assert!(a > 2_000.0, "{what}: {tone} Hz is too quiet: {a:.0}");
    for other in TONES.iter().filter(|t| **t != tone) {
        let o = rec_amplitude(samples, *other);
        assert!(
            o < a / 10.0,
            "{what}: {other} Hz is audible: {o:.0} vs {a:.0}"
        );
    }
}

/// The number of frames in `(from, to]` is the time / 20 ms, give or take the frame at each
/// edge.
fn assert_keeps_time(frames: usize, from: f64, to: f64, what: &str) {
    let expected = (to - from) / FRAME.as_secs_f64();
    assert!(
        (frames as f64 - expected).abs() <= 1.0,
        "{what}: {frames} frames in {:.3} s, not {expected:.1}",
        to - from
    );
}

#[test]
fn a_recording_puts_each_party_in_its_own_channel() {
    let mut s = Sim::new();
    s.join(1, 440.0);
    s.join(2, 880.0);
    s.graph(Graph::new().with(PeerId(1), [p(2)]).with(PeerId(2), [p(1)]));
    s.recordings(&[(7, RecordingSpec::new([p(1)], [p(2)]))]);
    let t0 = s.elapsed();
    s.run_until(t0 + 3.0);
    let [left, right] = s.recorded(7, t0 + 0.5, t0 + 3.0);
    assert_records_only(&left, 440.0, "left");
    assert_records_only(&right, 880.0, "right");
    assert_keeps_time(
        s.recorded_frames(7, t0, t0 + 3.0).len(),
        t0,
        t0 + 3.0,
        "frames",
    );
    // Recording adds a 16 kHz decoder per recorded peer and leaves the forwarding alone.
    let f = s.engine.footprint();
    assert_eq!(
        (f.recordings, f.recorders, f.decoders, f.forwarding),
        (1, 2, 0, 2),
        "{f:?}"
    );
    let c = s.engine.counters();
    assert_eq!(
        c.recording_frames,
        s.recorded_frames(7, 0.0, 1e6).len() as u64
    );
    assert_eq!((c.mixed, c.recording_frames_skipped), (0, 0), "{c:?}");
    // The call itself is undisturbed.
    assert_hears_only(&s.heard(1, t0 + 1.0, t0 + 3.0), 880.0, "A");
    assert_hears_only(&s.heard(2, t0 + 1.0, t0 + 3.0), 440.0, "B");
    // Stopping frees the decoders and the clock: no frame after it.
    s.recordings(&[]);
    let stopped = s.elapsed();
    s.run_until(stopped + 1.0);
    assert!(s.recorded_frames(7, stopped, stopped + 1.0).is_empty());
    let f = s.engine.footprint();
    assert_eq!((f.recordings, f.recorders), (0, 0), "{f:?}");
}

#[test]
fn a_paused_recording_emits_nothing_and_resumes_on_time() {
    let mut s = Sim::new();
    s.join(1, 440.0);
    s.join(2, 880.0);
    s.graph(Graph::new().with(PeerId(1), [p(2)]).with(PeerId(2), [p(1)]));
    let spec = RecordingSpec::new([p(1)], [p(2)]);
    s.recordings(&[(1, spec.clone())]);
    let t0 = s.elapsed();
    s.run_until(t0 + 1.5);
    s.recordings(&[(1, spec.clone().paused(true))]);
    let paused = s.elapsed();
    assert_eq!(s.engine.footprint().recorders, 0, "paused holds no decoder");
    s.run_until(paused + 2.0);
    assert!(
        s.recorded_frames(1, paused, paused + 2.0).is_empty(),
        "frames while paused"
    );
    assert_eq!(s.engine.footprint().recordings, 1, "paused is not stopped");
    s.recordings(&[(1, spec)]);
    let resumed = s.elapsed();
    s.run_until(resumed + 2.0);
    let after = s.recorded_frames(1, resumed, resumed + 2.0).len();
    assert_keeps_time(after, resumed, resumed + 2.0, "after resuming");
    let [left, right] = s.recorded(1, resumed + 0.3, resumed + 2.0);
    assert_records_only(&left, 440.0, "left after resuming");
    assert_records_only(&right, 880.0, "right after resuming");
    // In all: the time it was not paused.
    let all = s.recorded_frames(1, 0.0, 1e6).len();
    assert_keeps_time(all - after, t0, paused, "before the pause");
}

#[test]
fn changing_a_spec_switches_what_a_channel_carries_and_outlives_peers() {
    let mut s = Sim::new();
    s.join(1, 440.0);
    s.join(2, 660.0);
    s.join(3, 880.0);
    // A conference: everyone hears a mix, so mix and recording decoders live side by side.
    s.graph(
        Graph::new()
            .with(PeerId(1), [p(2), p(3)])
            .with(PeerId(2), [p(1), p(3)])
            .with(PeerId(3), [p(1), p(2)]),
    );
    s.recordings(&[(1, RecordingSpec::new([p(1)], [p(2)]))]);
    let t0 = s.elapsed();
    s.run_until(t0 + 1.5);
    // A transfer: 3 takes 2's place on the right; the left gets the hold music with 1.
    s.recordings(&[(1, RecordingSpec::new([p(1), Source::HoldMusic], [p(3)]))]);
    let switched = s.elapsed();
    s.run_until(switched + 2.0);
    let [left, right] = s.recorded(1, t0 + 0.4, switched);
    assert_records_only(&left, 440.0, "left before");
    assert_records_only(&right, 660.0, "right before");
    let [left, right] = s.recorded(1, switched + 0.1, switched + 2.0);
    assert_records_only(&right, 880.0, "right after");
    assert!(rec_amplitude(&left, 440.0) > 2_000.0, "left after keeps 1");
    let music: f64 = HOLD_MUSIC_NOTES_HZ
        .iter()
        .map(|&f| rec_amplitude(&left, f))
        .sum();
    assert!(music > 500.0, "left after has the music: {music:.0}");
    assert!(rec_amplitude(&left, 660.0) < 200.0, "left after has no 2");
    let f = s.engine.footprint();
    assert_eq!((f.decoders, f.recorders), (3, 2), "{f:?}");
    // 3 leaves: the right falls silent, the recording goes on; 3 comes back as a new peer.
    assert!(s.engine.remove_peer(PeerId(3)));
    let left_at = s.elapsed();
    s.run_until(left_at + 1.0);
    let [left, right] = s.recorded(1, left_at + 0.1, left_at + 1.0);
    assert_silent(&right, "right without 3");
    assert!(rec_amplitude(&left, 440.0) > 2_000.0, "left without 3");
    s.join(3, 880.0);
    let back = s.elapsed();
    s.run_until(back + 1.5);
    let [_, right] = s.recorded(1, back + 0.3, back + 1.5);
    assert_records_only(&right, 880.0, "right when 3 is back");
    assert_keeps_time(
        s.recorded_frames(1, 0.0, 1e6).len(),
        t0,
        s.elapsed(),
        "through it all",
    );
}

/// Without peers: the recording clock on simulated time, called irregularly and late.
#[test]
fn the_recording_clock_keeps_time_through_jitter_and_stalls() {
    let mut engine = Engine::new(EngineConfig::new(addr(40_000))).expect("engine");
    let start = Instant::now();
    let mut frames: Vec<Vec<i16>> = Vec::new();
    let drain = |engine: &mut Engine, frames: &mut Vec<Vec<i16>>| {
        while let Some(e) = engine.poll_event() {
            if let MediaEvent::RecordingAudio { id, pcm } = e {
                assert_eq!(id, RecordingId(3));
                frames.push(pcm);
            }
        }
    };
    // Hold music on the left, a peer that does not exist on the right.
    let specs = BTreeMap::from([(
        RecordingId(3),
        RecordingSpec::new([Source::HoldMusic], [p(99)]),
    )]);
    engine.handle_timeout(start);
    engine.set_recordings(&specs);
    // The engine asks for the time at once: its clock starts from the next time it is given.
    assert_eq!(engine.poll_timeout(), Some(start));
    let mut now = start;
    let mut x = 7u64;
    let end = start + Duration::from_secs(10);
    while now < end {
        // Called at the deadline plus 0 to 13 ms of jitter.
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let due = engine.poll_timeout().expect("a deadline");
        now = due.max(now) + Duration::from_millis((x >> 33) % 14);
        engine.handle_timeout(now);
        drain(&mut engine, &mut frames);
    }
    assert_keeps_time(
        frames.len(),
        0.0,
        (now - start).as_secs_f64(),
        "with jitter",
    );
    // A stall within the catch-up: every frame still comes.
    let before = frames.len();
    let stall = MAX_RECORDING_CATCHUP - Duration::from_millis(500);
    now += stall;
    engine.handle_timeout(now);
    drain(&mut engine, &mut frames);
    assert_keeps_time(
        frames.len() - before,
        0.0,
        stall.as_secs_f64(),
        "after a stall",
    );
    // A longer one: the clock skips what is beyond the catch-up, and says so.
    let before = frames.len();
    now += Duration::from_secs(5);
    engine.handle_timeout(now);
    drain(&mut engine, &mut frames);
    let c = engine.counters();
    let made = (frames.len() - before) as u64;
    assert_keeps_time(
        (made + c.recording_frames_skipped) as usize,
        0.0,
        5.0,
        "made and skipped",
    );
    assert_keeps_time(
        made as usize,
        0.0,
        MAX_RECORDING_CATCHUP.as_secs_f64(),
        "made in the stall",
    );
    assert_eq!(c.recording_frames, frames.len() as u64);
    // Left: the music, every frame; right: silence.
    let left: Vec<i16> = frames
        .iter()
        .flat_map(|f| f.iter().step_by(2).copied())
        .collect();
    let right: Vec<i16> = frames
        .iter()
        .flat_map(|f| f.iter().skip(1).step_by(2).copied())
        .collect();
    assert!(right.iter().all(|&s| s == 0), "the absent peer is silence");
    for (i, &note) in HOLD_MUSIC_NOTES_HZ.iter().enumerate() {
        let n = RECORDING_FRAME_SAMPLES * 25;
        let note_samples = &left[i * n + n / 5..(i + 1) * n - n / 5];
        assert!(
            rec_amplitude(note_samples, note) > 1_000.0,
            "note {i} ({note} Hz)"
        );
    }
    // Stopping stops the clock: with no peers, nothing is due any more.
    engine.set_recordings(&BTreeMap::new());
    assert_eq!(engine.poll_timeout(), None);
    engine.handle_timeout(now + Duration::from_secs(1));
    assert!(engine.poll_event().is_none());
}
