//! Routing decision cost at scale: 10,000 workers, 501 queues; the workspace is described in
//! `common/mod.rs`.
//!
//! * `decision/known_worker`: `CreateTask` of a `Main` task whose `worker_sid` attribute names
//!   an available worker, up to and including its `reservation.created`. Only the `handle` call
//!   is timed; draining the events and canceling the task (which frees the worker again) are
//!   not.
//! * `decision/queue`: the same for a `Main` task with a `skill` attribute that matches one of
//!   the 50 skill filters, so it goes to that skill's queue and its longest-idle member.
//! * `cycle`: one `Main` queue task through create → reserved → accepted → completed, every
//!   step a `handle` call, with the events drained after each and the finished task taken at
//!   the end (as any host must). `cycle/full`
//!   times the whole cycle; `cycle/create_to_reserved` times only the create within the loop.
//! * `internal_call/known_worker`, `internal_call/queue`, `internal_call/cycle`: the same
//!   through the 502-filter Internal Call workflow: an agent-to-agent call (its
//!   `known_worker_sid` step), a call to one of the 501 queues (`callToQueue`), and the full
//!   cycle of such a queue call.
//!
//! See docs/benchmarks.md for the results and how to read them.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

mod common;
use common::*;

fn routing(c: &mut Criterion) {
    let setup = Instant::now();
    let mut b = Bench::setup();
    eprintln!(
        "setup: {WORKERS} workers, {} queues, workflows of {} and {} filters in {:.2?}",
        QUEUES + 1,
        SKILLS + 1,
        QUEUES + 2,
        setup.elapsed()
    );

    let mut g = c.benchmark_group("decision");
    g.throughput(Throughput::Elements(1));
    g.bench_function("known_worker", |bench| {
        bench.iter_custom(|iters| b.time_creates(iters, Bench::known_worker_task))
    });
    g.bench_function("queue", |bench| {
        bench.iter_custom(|iters| b.time_creates(iters, Bench::queue_task))
    });
    g.finish();

    let mut g = c.benchmark_group("cycle");
    g.throughput(Throughput::Elements(1));
    g.bench_function("full", |bench| {
        bench.iter_custom(|iters| (0..iters).map(|_| b.cycle(Bench::queue_task).0).sum())
    });
    g.bench_function("create_to_reserved", |bench| {
        bench.iter_custom(|iters| (0..iters).map(|_| b.cycle(Bench::queue_task).1).sum())
    });
    g.finish();

    let mut g = c.benchmark_group("internal_call");
    g.throughput(Throughput::Elements(1));
    g.bench_function("known_worker", |bench| {
        bench.iter_custom(|iters| b.time_creates(iters, Bench::internal_worker_task))
    });
    g.bench_function("queue", |bench| {
        bench.iter_custom(|iters| b.time_creates(iters, Bench::internal_queue_task))
    });
    g.bench_function("cycle", |bench| {
        bench.iter_custom(|iters| {
            (0..iters)
                .map(|_| b.cycle(Bench::internal_queue_task).0)
                .sum()
        })
    });
    g.finish();

    // Every task ended: nothing may be left holding a worker.
    assert_eq!(b.ws.tasks().count(), 0, "tasks left behind");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    targets = routing
}
criterion_main!(benches);
