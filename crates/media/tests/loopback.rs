//! The relay over real UDP on 127.0.0.1: the I/O loop's socket, batching and channels, with two
//! str0m client peers on their own sockets. Bounded in time (it gives up after 15 s).

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{amplitude, Client};
use switchboard_media::io::{Relay, RelayConfig};
use switchboard_media::{Graph, MediaEvent, PeerId, Source};

struct Browser {
    socket: UdpSocket,
    client: Client,
}

impl Browser {
    fn new(tone: f32) -> (Browser, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_nonblocking(true).expect("nonblocking");
        let addr = socket.local_addr().expect("addr");
        let (client, offer) = Client::new(Instant::now(), addr, tone);
        (Browser { socket, client }, offer)
    }

    /// Receives what is there, lets time pass, sends what is due.
    fn pump(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            self.client.receive(Instant::now(), from, &buf[..n]);
        }
        self.client.timeout(Instant::now());
        for (_, to, data) in std::mem::take(&mut self.client.outbox) {
            let _ = self.socket.send_to(&data, to);
        }
    }
}

#[test]
fn two_browsers_hear_each_other_over_loopback() {
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let mut relay = Relay::spawn(RelayConfig::new(listen)).expect("relay");
    let handle = relay.handle();
    assert_eq!(handle.advertised(), handle.local_addr());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let (mut a, offer_a) = Browser::new(440.0);
    let (mut b, offer_b) = Browser::new(880.0);
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
