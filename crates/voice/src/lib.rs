//! Calls, conferences and TwiML execution, as a pure state machine.
//!
//! A call is a pipe between two ends. Each end is an agent's browser, a conference, a running
//! TwiML program, a wait in a task queue (after `<Enqueue>`), another call (`<Dial><Client>`), or
//! a party we cannot reach (a telephone number or SIP address: no trunk). Audio flows end to end
//! through calls and is mixed in conferences, so an internal call looks like
//!
//! ```text
//! alice ↔ CA_a ↔ C1 ↔ CA_x ↔ C2 ↔ CA_b ↔ bob
//! ```
//!
//! where `CA_x` has its caller end in conference C1 and its callee end running the TwiML
//! application, which enqueues it, until the callee's agent accepts and the end is moved into
//! conference C2. The media relay attaches to agent ends ([`Output::AgentConnected`]) and mixes
//! conferences ([`Voice::conference`]).
//!
//! Like the routing engine, this crate does no I/O and reads no clock: "fetch this URL" is an
//! [`Output::Fetch`], its response comes back through [`Voice::fetched`], and time comes in with
//! every call. The server executes the outputs.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod address;
mod hearing;
mod machine;

pub use address::{app_address, Address, AddressError};
pub use hearing::{flows_out, hearing, Hearing, Source};
pub use machine::{
    Beep, CallProgress, CallRecord, CallStatus, Callee, ConferenceRecord, ConferenceStatus,
    DialRequest, DialState, Direction, End, EndReason, FetchFailure, FetchResponse, Instructions,
    JoinSpec, Millis, Output, ParticipantUpdate, Participation, PlaceRequest, Program, Side,
    StatusCallback, Voice, VoiceError, MAX_FETCHES_PER_CALL,
};
