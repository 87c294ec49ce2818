//! Allocations per routing operation, for each shape of the routing benchmarks, counted by a
//! global allocator that wraps the system one:
//!
//! ```text
//! cargo run --release --manifest-path crates/routing/alloc-count/Cargo.toml
//! ```
//!
//! For the decision shapes only the create's `Workspace::handle` call is counted (what the
//! decision benchmarks time); for the cycle shapes create, accept and complete with
//! `take_events` after each (what `cycle/full` times). Lives outside the workspace because a
//! `GlobalAlloc` is `unsafe` code, which the workspace's lints forbid.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[path = "../../benches/common/mod.rs"]
mod common;
use common::*;
use switchboard_routing::*;

/// Counts allocations (and reallocations) and the bytes asked for.
struct Counting;

static CALLS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to `System`; counting does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn counters() -> (u64, u64) {
    (CALLS.load(Relaxed), BYTES.load(Relaxed))
}

const ROUNDS: u64 = 5_000;

fn count(b: &mut Bench, make: MakeTask, cycle: bool) -> (u64, u64) {
    let (task, cmd) = make(b);
    let before = counters();
    b.handle(cmd);
    if cycle {
        let r = b.reservation_made();
        for action in [ReservationAction::Accept, ReservationAction::Complete] {
            b.handle(Command::UpdateReservation { sid: r, action });
            std::hint::black_box(b.ws.take_events());
        }
        std::hint::black_box(b.ws.take_finished());
        let after = counters();
        return (after.0 - before.0, after.1 - before.1);
    }
    let after = counters();
    b.reservation_made();
    b.cancel(task);
    (after.0 - before.0, after.1 - before.1)
}

fn main() {
    let mut b = Bench::setup();
    let shapes: [(&str, MakeTask, bool); 6] = [
        ("decision/known_worker", Bench::known_worker_task, false),
        ("decision/queue", Bench::queue_task, false),
        ("cycle/full", Bench::queue_task, true),
        ("internal_call/known_worker", Bench::internal_worker_task, false),
        ("internal_call/queue", Bench::internal_queue_task, false),
        ("internal_call/cycle", Bench::internal_queue_task, true),
    ];
    println!("| Benchmark | allocations / op | bytes allocated / op |");
    println!("|---|---|---|");
    for (name, make, cycle) in shapes {
        for _ in 0..500 {
            count(&mut b, make, cycle);
        }
        let (mut n, mut bytes) = (0, 0);
        for _ in 0..ROUNDS {
            let (dn, db) = count(&mut b, make, cycle);
            n += dn;
            bytes += db;
        }
        println!(
            "| `{name}` | {:.1} | {:.0} |",
            n as f64 / ROUNDS as f64,
            bytes as f64 / ROUNDS as f64
        );
    }
}
