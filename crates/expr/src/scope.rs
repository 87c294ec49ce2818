//! What the caller shows an expression: the task, the worker, the queue's counters and the
//! clock.

use serde_json::Value;

/// What an expression can see. Every field is optional; a missing part reads as NULL.
#[derive(Clone, Copy, Default)]
pub struct Scope<'a> {
    /// The task: its attributes, and its SID when it has one.
    pub task: Option<TaskScope<'a>>,
    /// The worker.
    pub worker: Option<&'a dyn WorkerFacts>,
    /// The counters of the queue a `skip_if` is evaluated for.
    pub workers: Option<&'a dyn QueueCounts>,
    /// The engine's clock, for `taskrouter.*`.
    pub now: Option<Clock>,
}

/// A task as an expression sees it.
#[derive(Clone, Copy)]
pub struct TaskScope<'a> {
    /// The task's attributes (a JSON object; anything else reads as having no keys).
    pub attributes: &'a Value,
    /// The task's SID, readable as `task.sid` when the attributes have no `sid` key.
    pub sid: Option<&'a str>,
}

/// A worker as an expression sees it. The built-in fields, when `Some`, take precedence over
/// attributes of the same name; when `None`, the attribute of that name is read instead.
pub trait WorkerFacts {
    /// The worker's attributes (a JSON object).
    fn attributes(&self) -> &Value;
    /// The worker's SID.
    fn sid(&self) -> Option<&str> {
        None
    }
    /// The worker's friendly name.
    fn friendly_name(&self) -> Option<&str> {
        None
    }
    /// The SID of the worker's current activity.
    fn activity_sid(&self) -> Option<&str> {
        None
    }
    /// The name of the worker's current activity.
    fn activity_name(&self) -> Option<&str> {
        None
    }
    /// The worker's capacity on the task channel with this unique name, for
    /// `worker.channel.<name>.*`.
    fn channel(&self, unique_name: &str) -> Option<ChannelFacts> {
        let _ = unique_name;
        None
    }
}

impl WorkerFacts for Value {
    fn attributes(&self) -> &Value {
        self
    }
}

/// A worker's standing on one task channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelFacts {
    /// `worker.channel.<name>.configured_capacity`.
    pub configured_capacity: u32,
    /// `worker.channel.<name>.assigned_tasks`: tasks accepted on the channel.
    pub assigned_tasks: u32,
    /// `worker.channel.<name>.available_capacity_percentage`, 0 to 100.
    pub available_capacity_percentage: u32,
}

/// The counters `skip_if` reads: members of the target's queue, by activity.
pub trait QueueCounts {
    /// `workers.available`: members in an available activity.
    fn available(&self) -> u64;
    /// `workers.unavailable`: members in an unavailable activity.
    fn unavailable(&self) -> u64;
    /// `workers.WA…`: members in that activity.
    fn in_activity(&self, activity_sid: &str) -> u64;
}

/// The time `taskrouter.*` reads, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    unix_millis: i64,
}

impl Clock {
    /// The clock at this many milliseconds since 1970-01-01T00:00:00Z.
    pub fn from_unix_millis(unix_millis: i64) -> Clock {
        Clock { unix_millis }
    }
    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> i64 {
        self.unix_millis
    }
}
