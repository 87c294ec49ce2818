//! A fixed number of one benchmark shape's operations, for callgrind (instruction and
//! allocation counts) rather than for timing:
//!
//! ```text
//! cargo bench -p switchboard-routing --bench profile --no-run
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*profile::measured*' \
//!     target/release/deps/profile-<hash> <shape> [operations]
//! ```
//!
//! `<shape>` is one of `known_worker`, `queue`, `cycle` (the `Main` workflow),
//! `internal_known_worker`, `internal_queue`, `internal_cycle` (the Internal Call workflow).
//! Only [`measured`] is collected: for the decision shapes the create's `handle` call (what
//! `routing`'s decision benchmarks time), for the cycle shapes create, accept and complete with
//! `take_events` after each (what `cycle/full` times). The instructions per operation are the
//! `summary:` line of the callgrind output divided by the number of operations (call counts in
//! callgrind's output are not limited to the collected region, so allocations are counted by
//! `crates/routing/alloc-count` instead). Without callgrind it prints the wall time per
//! operation, for a quick look.

use std::hint::black_box;
use std::time::Instant;

mod common;
use common::*;
use switchboard_routing::*;
use switchboard_sid::{Reservation, Sid};

/// The one collected region. Never inlined, so callgrind can find it by name.
#[inline(never)]
fn measured(b: &mut Bench, cmd: Command, cycle: bool) -> Option<Sid<Reservation>> {
    operation(b, cmd, cycle)
}

#[inline(always)]
fn operation(b: &mut Bench, cmd: Command, cycle: bool) -> Option<Sid<Reservation>> {
    b.handle(cmd);
    if !cycle {
        return None;
    }
    let r = b.reservation_made();
    for action in [ReservationAction::Accept, ReservationAction::Complete] {
        b.handle(Command::UpdateReservation { sid: r, action });
        black_box(b.ws.take_events());
    }
    black_box(b.ws.take_finished());
    Some(r)
}

fn main() {
    // `cargo bench` runs every bench binary with `--bench`: skip it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(shape) = args.first() else {
        eprintln!("profile: no shape given; nothing to do");
        return;
    };
    let ops: u64 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let (make, cycle): (MakeTask, bool) = match shape.as_str() {
        "known_worker" => (Bench::known_worker_task, false),
        "queue" => (Bench::queue_task, false),
        "cycle" => (Bench::queue_task, true),
        "internal_known_worker" => (Bench::internal_worker_task, false),
        "internal_queue" => (Bench::internal_queue_task, false),
        "internal_cycle" => (Bench::internal_queue_task, true),
        other => panic!("unknown shape {other:?}"),
    };
    let mut b = Bench::setup();
    let run = |b: &mut Bench, n: u64, measure: bool| {
        for _ in 0..n {
            let (task, cmd) = make(b);
            let made = if measure {
                measured(b, cmd, cycle)
            } else {
                operation(b, cmd, cycle)
            };
            if made.is_none() {
                b.reservation_made();
                b.cancel(task);
            }
        }
    };
    run(&mut b, 1_000, false); // warm-up: collections at their working size
    let start = Instant::now();
    run(&mut b, ops, true);
    let elapsed = start.elapsed();
    println!(
        "{shape}: {ops} operations, {:.2} µs each (wall time, cancel included for decisions)",
        elapsed.as_secs_f64() * 1e6 / ops as f64
    );
}
