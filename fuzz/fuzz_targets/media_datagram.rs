//! Feeds arbitrary datagrams to the media engine's socket entry points. The engine is set up
//! once per process with one peer connected (a str0m client, handshake done in process on
//! simulated time) and one peer that never connected, so datagrams from the connected peer's
//! address reach DTLS and SRTP handling, and others reach demultiplexing and STUN; the connected
//! client has sent audio, so the engine's own SRTP (the shortcut) has adopted its stream, and
//! datagrams with that stream's SSRC (bytes 8 to 11) reach the shortcut's opener; some arrive
//! as ICE-TCP frames (the engine has a passive TCP candidate too). Each input is a sequence of
//! `[len: u8][sender: u8][len bytes]`; between datagrams, time advances and timeouts are
//! handled. The whole input also goes through the ICE-TCP deframer in pieces. Passes when
//! nothing panics and queues stay bounded.
#![no_main]

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use str0m::change::SdpAnswer;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Input, Output, Rtc, RtcConfig};
use switchboard_media::framing::{Deframer, MAX_FRAMED};
use switchboard_media::{
    opus_pt, Engine, EngineConfig, Graph, PeerId, Source, Transport, PEER_TRANSMIT_QUEUE,
};

struct World {
    engine: Engine,
    server: SocketAddr,
    server_tcp: SocketAddr,
    client: SocketAddr,
    now: Instant,
}

fn client_offer(
    now: Instant,
    addr: SocketAddr,
) -> (Rtc, String, str0m::change::SdpPendingOffer, Mid) {
    let mut rtc = RtcConfig::new()
        .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
        .build(now);
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
    let mut api = rtc.sdp_api();
    let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = api.apply().expect("offer");
    (rtc, offer.to_sdp_string(), pending, mid)
}

/// One step of the in-process network at `now`: the client's output to the engine, the
/// engine's to the client.
fn exchange(rtc: &mut Rtc, engine: &mut Engine, now: Instant, server: SocketAddr) {
    rtc.handle_input(Input::Timeout(now))
        .expect("client timeout");
    loop {
        match rtc.poll_output().expect("client output") {
            Output::Timeout(_) => break,
            Output::Transmit(t) => engine.handle_datagram(now, t.source, server, &t.contents),
            Output::Event(_) => {}
        }
    }
    engine.handle_timeout(now);
    while let Some(t) = engine.poll_transmit() {
        let r = Receive::new(Protocol::Udp, server, t.destination, &t.contents).expect("parse");
        rtc.handle_input(Input::Receive(now, r))
            .expect("client input");
    }
    while engine.poll_event().is_some() {}
}

fn setup() -> World {
    let server: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let client: SocketAddr = "127.0.0.1:50001".parse().expect("addr");
    let mut now = Instant::now();
    let server_tcp: SocketAddr = "127.0.0.1:40001".parse().expect("addr");
    let mut config = EngineConfig::new(server);
    config.advertised_tcp = Some(server_tcp);
    let mut engine = Engine::new(config).expect("engine");
    let (mut rtc, offer, pending, mid) = client_offer(now, client);
    let answer = engine.add_peer(now, PeerId(1), &offer).expect("answer");
    rtc.sdp_api()
        .accept_answer(
            pending,
            SdpAnswer::from_sdp_string(&answer).expect("answer"),
        )
        .expect("accepted");
    let (_, offer2, _, _) = client_offer(now, "127.0.0.1:50002".parse().expect("addr"));
    engine.add_peer(now, PeerId(2), &offer2).expect("answer 2");
    engine.set_graph(
        &Graph::new()
            .with(PeerId(1), [Source::Peer(PeerId(2)), Source::HoldMusic])
            .with(PeerId(2), [Source::Peer(PeerId(1))]),
    );
    // The handshake, in process.
    for _ in 0..2_000 {
        if engine.is_connected(PeerId(1)) {
            break;
        }
        now += Duration::from_millis(1);
        exchange(&mut rtc, &mut engine, now, server);
    }
    assert!(
        engine.is_connected(PeerId(1)),
        "the fuzz setup did not connect"
    );
    // A few audio frames from the client: the first ones go through str0m, and the engine's
    // shortcut takes the stream over from them.
    let pt = opus_pt(&rtc).expect("opus");
    for i in 0..10u64 {
        now += Duration::from_millis(20);
        let time = MediaTime::new(i * 960, Frequency::FORTY_EIGHT_KHZ);
        if let Some(w) = rtc.writer(mid) {
            w.write(pt, now, time, vec![0xf8, 0xff, 0xfe])
                .expect("write");
        }
        exchange(&mut rtc, &mut engine, now, server);
    }
    assert!(
        engine.counters().shortcut_opened > 0,
        "the shortcut took no packet in the fuzz setup: {:?}",
        engine.counters()
    );
    World {
        engine,
        server,
        server_tcp,
        client,
        now,
    }
}

thread_local! {
    static WORLD: RefCell<Option<World>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    WORLD.with(|w| {
        let mut w = w.borrow_mut();
        let world = w.get_or_insert_with(setup);
        // The deframer: any bytes, in any pieces, never hold more than one frame.
        let mut deframer = Deframer::new(MAX_FRAMED);
        for piece in data.chunks(usize::from(data.first().copied().unwrap_or(1)).max(1)) {
            deframer.push(piece);
            while let Ok(Some(frame)) = deframer.next_frame() {
                assert!(!frame.is_empty() && frame.len() <= MAX_FRAMED);
            }
        }
        let mut rest = data;
        while let [len, sender, tail @ ..] = rest {
            let n = usize::from(*len).min(tail.len());
            let (datagram, next) = tail.split_at(n);
            rest = next;
            let from = match sender % 4 {
                0 => world.client,
                1 => "127.0.0.1:50002".parse().expect("addr"),
                2 => SocketAddr::from(([10, 0, 0, 1], u16::from(*sender) * 7)),
                _ => "[::1]:9".parse().expect("addr"),
            };
            world.now += Duration::from_micros(u64::from(*sender) * 100);
            if sender & 0x80 == 0 {
                world
                    .engine
                    .handle_datagram(world.now, from, world.server, datagram);
            } else {
                world.engine.handle_receive(
                    world.now,
                    Transport::Tcp,
                    from,
                    world.server_tcp,
                    datagram,
                );
            }
            world.engine.handle_timeout(world.now);
            let mut sent = 0;
            while world.engine.poll_transmit().is_some() {
                sent += 1;
            }
            assert!(
                sent <= 2 * PEER_TRANSMIT_QUEUE,
                "{sent} datagrams out for one in"
            );
            while world.engine.poll_event().is_some() {}
        }
        // Once simulated time has dropped the peers (the never-connected one times out), start
        // over so that later inputs meet the same setup.
        if world.engine.footprint().peers < 2 {
            *w = None;
        }
    });
});
