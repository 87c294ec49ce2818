//! Mixing through our media relay, in this process: `switchboard_media::io::Relay` on its own
//! thread (`switchboard-media`, moved to the server's CPUs with `taskset -p`) and its own UDP
//! socket on 127.0.0.1, rooms of `--room` participants whose graph has each hear the others
//! (so each gets an N−1 mix encoded for it). The participants send real Opus (a tone per
//! participant, pre-encoded once and cycled); the relay decodes, mixes and encodes.
//!
//! Measured per size: the media thread's CPU over the window (`/proc/self/task/<tid>/stat`),
//! and the mixed frames each participant received against the 50 a second it should.

use std::ops::Range;
use std::time::Duration;

use anyhow::{anyhow, Context};
use switchboard_media::io::{Relay, RelayConfig};
use switchboard_media::{Graph, PeerId, Source};

use super::args::Args;
use super::measure::{pin, ramp, whole_rooms, Load};
use super::report::Row;
use super::tones::tones;
use switchboard_bench::peer::{Fleet, Payload, Peer};
use switchboard_bench::server::proc_cpu_seconds;

/// The id of this process's thread named `name` (the kernel keeps its first 15 bytes).
fn thread_id(name: &str) -> Option<u32> {
    let name = name.get(..15).unwrap_or(name);
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .filter_map(Result::ok)
        .find(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == name))?
        .file_name()
        .to_str()?
        .parse()
        .ok()
}

/// The graph of `participants` peers in rooms of `room`: each hears the others of its room.
fn graph(participants: usize, room: usize) -> Graph {
    let mut g = Graph::new();
    for first in (0..participants).step_by(room) {
        let members: Vec<u64> = (first..(first + room).min(participants))
            .map(|p| p as u64)
            .collect();
        for &m in &members {
            g.set(
                PeerId(m),
                members
                    .iter()
                    .filter(|&&o| o != m)
                    .map(|&o| Source::Peer(PeerId(o))),
            );
        }
    }
    g
}

/// Runs every size through the in-process relay.
pub async fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let tones = tones()?;
    let mut config = RelayConfig::new("127.0.0.1:0".parse()?);
    config.mix_complexity = args.mix_complexity;
    let relay = Relay::spawn(config).map_err(|e| anyhow!("starting the media relay: {e}"))?;
    let handle = relay.handle();
    // The thread names itself once it runs.
    let mut tid = None;
    for _ in 0..100 {
        tid = thread_id("switchboard-media");
        if tid.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let tid = tid.context("no switchboard-media thread")?;
    if !args.server_cpus.is_empty() {
        pin(tid, &args.server_cpus, false)?;
    }
    let stat = format!("/proc/self/task/{tid}/stat");
    eprintln!(
        "mixing: media relay at {} (thread {tid})",
        handle.local_addr()
    );
    let fleet = Fleet::start(args.client_threads)?;
    let rows = ramp(
        args,
        &fleet,
        "switchboard",
        Load::Participants,
        &whole_rooms(&args.participants, args.room),
        true,
        async |range: Range<usize>| {
            let n = range.end;
            // The media thread takes add_peer one at a time anyway: set up in order.
            for i in range {
                let payload = Payload::Opus(tones[i % tones.len()].clone());
                let (mut peer, offer) = Peer::offer(i as u32, payload)?;
                let answer = handle
                    .add_peer(PeerId(i as u64), offer)
                    .await
                    .map_err(|e| anyhow!("add_peer {i}: {e}"))?;
                peer.accept_answer(&answer)?;
                peer.spawn(&fleet);
            }
            handle
                .set_graph(graph(n, args.room))
                .await
                .map_err(|e| anyhow!("set_graph: {e}"))
        },
        || proc_cpu_seconds(&stat),
    )
    .await?;
    drop(fleet);
    tokio::time::sleep(Duration::from_millis(50)).await;
    relay
        .shutdown()
        .map_err(|e| anyhow!("stopping the relay: {e}"))?;
    Ok(rows)
}
