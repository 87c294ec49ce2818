//! Parses arbitrary text in every context (and as `order_by` and a task reference), then
//! evaluates whatever parsed against a fixed scope. Passes when nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use switchboard_expr::{
    ChannelFacts, Clock, Context, Expression, OrderBy, QueueCounts, Scope, TaskReference,
    TaskScope, WorkerFacts,
};

struct Worker(Value);

impl WorkerFacts for Worker {
    fn attributes(&self) -> &Value {
        &self.0
    }
    fn sid(&self) -> Option<&str> {
        Some("WK00000000000000000000000000000001")
    }
    fn activity_name(&self) -> Option<&str> {
        Some("Available")
    }
    fn channel(&self, unique_name: &str) -> Option<ChannelFacts> {
        (unique_name == "voice").then_some(ChannelFacts {
            configured_capacity: 1,
            assigned_tasks: 0,
            available_capacity_percentage: 100,
        })
    }
}

struct Counts;

impl QueueCounts for Counts {
    fn available(&self) -> u64 {
        3
    }
    fn unavailable(&self) -> u64 {
        1
    }
    fn in_activity(&self, _activity_sid: &str) -> u64 {
        2
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let task = json!({
        "type": "support", "priority": "10", "langs": ["en", "es", 1, null, [1], {"a": 1}],
        "nested": {"array": [1, "2", true], "x": {"y": "z"}}, "n": 800, "sid": null
    });
    let worker = Worker(json!({
        "skills": ["support", "sales"], "level": 3, "langs": ["en"], "sid": "x",
        "channel": {"voice": 1}, "name": "Ann", "ratio": 1.5
    }));
    let scope = Scope {
        task: Some(TaskScope {
            attributes: &task,
            sid: Some("WT00000000000000000000000000000001"),
        }),
        worker: Some(&worker),
        workers: Some(&Counts),
        now: Some(Clock::from_unix_millis(-1_234_567_890_123)),
    };
    for context in [
        Context::Filter,
        Context::TargetWorkers,
        Context::Target,
        Context::SkipIf,
    ] {
        if let Ok(expression) = Expression::parse(source, context) {
            let _ = expression.evaluate(&scope);
            let _ = expression.evaluate(&Scope::default());
            let _ = (
                expression.worker_roots(),
                expression.task_roots(),
                expression.uses_clock(),
            );
        }
    }
    if let Ok(order) = OrderBy::parse(source) {
        let _ = order.compare(&worker, &task);
    }
    if let Ok(reference) = TaskReference::parse(source) {
        let _ = reference.resolve(&task);
    }
});
