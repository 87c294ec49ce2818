//! The contact-center core: one pure, deterministic state machine that owns the routing
//! workspaces, the voice engine, the links between tasks and calls, the internal-call rules, the
//! TwiML applications, the Flex settings and the desktop sessions' bookkeeping.
//!
//! It does no I/O, reads no clock and starts no thread. The server feeds it inputs with the
//! current time and carries out what comes out; a test feeds it simulated time and checks what
//! comes out. The same inputs at the same times (and the same seed) give the same outputs.
//!
//! # Driving it (the drain contract)
//!
//! ```text
//! let mut center = Center::new(config);
//! for (at, entry) in log { center.replay(at, &entry)?; }   // rebuild the durable state
//! center.start(now);                                      // then drain, as below
//! loop {
//!     // one of:
//!     let reply = center.handle(now, input);              // something happened
//!     center.handle_timeout(now);                         // time passed (poll_timeout)
//!     // then, every time:
//!     while let Some(output) = center.poll_output() { ... }
//!     let next = center.poll_timeout();                   // sleep until then, or an input
//! }
//! ```
//!
//! After every `start`, `handle` or `handle_timeout`, drain `poll_output` until it returns
//! `None` before the next input. The first output, when the input changed anything durable, is
//! [`Output::Persist`]: write it in one transaction, and only then act on the outputs after it
//! (post webhooks, request fetches, push desktop states, close sessions) and answer the input's
//! caller. If writing fails, memory is ahead of the disk: stop feeding inputs. Then ask
//! `poll_timeout` when to call `handle_timeout` next; it may change after any input.
//!
//! # Map
//!
//! - [`entry`]: the log format; [`model`]: the durable state an entry changes.
//! - [`calls`]: TaskRouter's conference instruction, StartOutboundCall, the internal-call
//!   outcomes, and the live links between tasks and calls.
//! - [`transfer`]: cold, warm and three-way transfers; [`supervise`]: monitor, coach, barge;
//!   [`workers`]: a worker's identity, name and role.
//! - [`actions`]: what a desktop may do; [`view`]: what it shows; [`sessions`]: who is
//!   connected; [`protocol`]: the desktop protocol's types (TypeScript is generated from them).
//! - [`flex`]: the Flex configuration, typed; [`records`]: applications and API keys.
//! - [`io`]: [`Input`], [`Reply`], [`Output`]; [`error`]: [`CenterError`], with Twilio's codes.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod actions;
pub mod calls;
mod center;
pub mod cx;
pub mod demo;
pub mod dirty;
pub mod entry;
pub mod error;
pub mod flex;
pub mod functions;
pub mod ids;
pub mod io;
pub mod media;
pub mod model;
pub mod protocol;
pub mod recording;
pub mod records;
pub mod sessions;
pub mod snapshot;
pub mod supervise;
pub mod transfer;
pub mod view;
mod voice_api;
pub mod workers;

pub use center::{Center, CenterConfig, CALL_RETENTION_MS, MEDIA_GRAPH_EVERY_MS};
pub use entry::{Entry, TaskOrigin, LOG_FORMAT};
pub use error::{CenterError, ErrorKind};
pub use io::{
    Commit, ConferenceOptions, Input, MediaInput, Output, Reply, SessionId, StoredEvent,
    VoiceRequest,
};
