//! A TaskRouter-compatible routing engine, pure and deterministic.
//!
//! One [`Workspace`] holds activities, task channels, workers, task queues, workflows, tasks and
//! reservations, and routes tasks to workers as Twilio TaskRouter does: first matching workflow
//! filter, targets that cascade on timeout or `skip_if`, known-worker targets, multi-reservation
//! with first-accept-wins, FIFO/LIFO queues, longest-idle (or `order_by`) worker choice, and
//! per-channel capacity.
//!
//! The engine does no I/O, reads no clock and starts no thread. Commands go in with the time they
//! happen at ([`Workspace::handle`]); time passing goes in as [`Workspace::handle_timeout`];
//! events with TaskRouter's names come out ([`Workspace::take_events`]), and
//! [`Workspace::poll_timeout`] says when the next deadline is. The same commands at the same
//! times always give the same events, so any run can be replayed.
//!
//! Module map: `command` (inputs), `event` (outputs), `workflow` (configuration JSON),
//! `state` (the records), `engine` (command handlers), `matching` (steps, reservations,
//! indexes, deadlines), [`snapshot`] (the durable state written down, and restored).
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod attributes;
mod command;
mod engine;
mod error;
mod event;
mod matching;
mod sid_text;
pub mod snapshot;
mod state;
mod time;
mod workflow;

pub use attributes::{Attributes, MAX_ATTRIBUTES_CHARS};
pub use command::*;
pub use engine::*;
pub use error::{EngineError, ResourceKind};
pub use event::*;
pub use snapshot::{SnapshotError, WorkspaceSnapshot};
pub use state::{
    ActivityRecord, ChannelRecord, FilterPos, FinishedTask, QueueRecord, ReservationRecord,
    Routing, Step, TaskRecord, WorkerChannelRecord, WorkerRecord, WorkflowRecord,
};
pub use time::Timestamp;
pub use workflow::{
    Filter, KnownWorker, RoutingConfig, Target, MAX_CONFIGURATION_BYTES, MAX_PRIORITY,
};
