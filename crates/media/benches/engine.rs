//! What the relay engine costs per packet, without sockets: str0m client peers (the relay
//! tests' browser stand-ins) connected in process, on simulated time, 50 packets/s each.
//!
//! - `forward/<pairs>`: `pairs` two-party calls (each hears the other, so every frame is
//!   forwarded as it came). One iteration is one 20 ms step: every client sends a frame, every
//!   datagram goes through `handle_datagram`, the answers through `poll_transmit`, and the
//!   engine's timers through `handle_timeout`. Only the engine's calls are timed; the clients'
//!   work (encryption, their own timers) is not.
//! - `mix/<participants>`: rooms of three, each hearing the other two: one decode per
//!   participant and one N-1 mix encoded per participant every 20 ms. Clients send real Opus.
//!
//! Criterion reports time per step; divide by the datagrams of a step (2 × pairs for
//! `forward`, the participants for `mix`) for the time per packet.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Client, FRAME, TONES};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use switchboard_media::{Engine, EngineConfig, Graph, PeerId, Source};

/// A fake Opus frame (a CELT 20 ms TOC byte and filler of a typical voice frame's size): the
/// forwarding path never decodes it.
fn fake_opus() -> Vec<u8> {
    let mut v = vec![0x7c];
    v.resize(80, 0x55);
    v
}

struct Net {
    engine: Engine,
    server: SocketAddr,
    clients: Vec<Client>,
    by_addr: HashMap<SocketAddr, usize>,
    now: Instant,
    /// Datagrams the engine took in the last step.
    datagrams: u64,
}

impl Net {
    /// `groups` rooms of `size` peers each, every peer hearing the others of its room.
    fn new(groups: usize, size: usize, raw: bool) -> Net {
        let server = SocketAddr::from(([127, 0, 0, 1], 40_000));
        let now = Instant::now();
        let mut config = EngineConfig::new(server);
        config.silence_after = Duration::from_secs(3_600);
        let mut engine = Engine::new(config).expect("engine");
        let mut clients = Vec::new();
        let mut by_addr = HashMap::new();
        let mut graph = Graph::new();
        for g in 0..groups {
            let ids: Vec<u64> = (0..size).map(|k| (g * size + k) as u64).collect();
            for &id in &ids {
                let port = 1_024 + id as u16;
                let ip = [127, 1, (id >> 16) as u8, 0];
                let addr = SocketAddr::from((ip, port));
                let (mut client, offer) = Client::new(now, addr, TONES[id as usize % TONES.len()]);
                if raw {
                    client.raw_payload = Some(fake_opus());
                }
                let answer = engine.add_peer(now, PeerId(id), &offer).expect("answer");
                client.accept_answer(now, &answer);
                by_addr.insert(addr, clients.len());
                clients.push(client);
                let others = ids
                    .iter()
                    .filter(|o| **o != id)
                    .map(|o| Source::Peer(PeerId(*o)));
                graph.set(PeerId(id), others);
            }
        }
        engine.set_graph(&graph);
        let mut net = Net {
            engine,
            server,
            clients,
            by_addr,
            now,
            datagrams: 0,
        };
        let deadline = now + Duration::from_secs(60);
        while net.now < deadline {
            net.now += Duration::from_millis(1);
            net.step(None);
            let up = (0..net.clients.len()).all(|i| net.engine.is_connected(PeerId(i as u64)));
            if up && net.clients.iter().all(|c| c.connected) {
                return net;
            }
        }
        panic!("peers did not connect");
    }

    /// Moves every datagram once around, timing the engine's calls into `timed`.
    fn step(&mut self, mut timed: Option<&mut Duration>) {
        let now = self.now;
        let mut spent = Duration::ZERO;
        let mut datagrams = 0;
        for i in 0..self.clients.len() {
            self.clients[i].timeout(now);
            let out = std::mem::take(&mut self.clients[i].outbox);
            for (from, _to, data) in out {
                let t = Instant::now();
                self.engine.handle_datagram(now, from, self.server, &data);
                spent += t.elapsed();
                datagrams += 1;
            }
        }
        let t = Instant::now();
        if self.engine.poll_timeout().is_some_and(|at| at <= now) {
            self.engine.handle_timeout(now);
        }
        spent += t.elapsed();
        loop {
            let t = Instant::now();
            let transmit = self.engine.poll_transmit();
            spent += t.elapsed();
            let Some(transmit) = transmit else { break };
            if let Some(&c) = self.by_addr.get(&transmit.destination) {
                self.clients[c].receive(now, self.server, &transmit.contents);
            }
        }
        while self.engine.poll_event().is_some() {}
        for c in &mut self.clients {
            c.heard.clear();
        }
        self.datagrams = datagrams;
        if let Some(total) = timed.as_mut() {
            **total += spent;
        }
    }

    /// One 20 ms step, timed.
    fn frame(&mut self) -> Duration {
        self.now += FRAME;
        let mut spent = Duration::ZERO;
        self.step(Some(&mut spent));
        spent
    }
}

fn forward(c: &mut Criterion) {
    let mut group = c.benchmark_group("forward");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for pairs in [100usize, 500, 1_000] {
        let mut net = Net::new(pairs, 2, true);
        // Warm the steady state (timers, RTCP) before timing.
        for _ in 0..50 {
            net.frame();
        }
        group.bench_with_input(BenchmarkId::from_parameter(pairs), &pairs, |b, _| {
            b.iter_custom(|iters| (0..iters).map(|_| net.frame()).sum());
        });
        eprintln!(
            "forward/{pairs}: {} datagrams per step; counters {:?}",
            net.datagrams,
            net.engine.counters()
        );
    }
    group.finish();
}

fn mix(c: &mut Criterion) {
    let mut group = c.benchmark_group("mix");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for participants in [30usize, 90] {
        let mut net = Net::new(participants / 3, 3, false);
        for _ in 0..50 {
            net.frame();
        }
        group.bench_with_input(
            BenchmarkId::from_parameter(participants),
            &participants,
            |b, _| b.iter_custom(|iters| (0..iters).map(|_| net.frame()).sum()),
        );
        eprintln!("mix/{participants}: counters {:?}", net.engine.counters());
    }
    group.finish();
}

criterion_group!(benches, forward, mix);
criterion_main!(benches);
