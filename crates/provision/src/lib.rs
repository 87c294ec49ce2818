//! Setup automation for Flex's internal call, against Twilio or a Switchboard server.
//!
//! - [`provision`] creates or updates, idempotently and matched by friendly name, what the
//!   internal call needs: the "Internal Call" TwiML application, the "Internal Calls" task queue,
//!   the "Internal Call" workflow and the feature flags in the Flex Configuration. It first
//!   computes a [`Plan`] (create / update / unchanged per resource) from what exists, then applies
//!   it step by step; a failure leaves the finished steps in place, so running again completes
//!   the job.
//! - [`env`] finds those resources' SIDs by name, as the Flex plugin template's `generate-env`
//!   script does, and writes them to a `.env` file.
//!
//! HTTP goes through the [`api::Api`] trait (one method), so the logic is independent of the
//! transport. This crate prints progress to a writer it is given and never reads the environment;
//! the binary does that.

pub mod api;
pub mod env;
mod error;
mod names;
pub mod provision;

pub use api::{Client, Credentials, HttpApi, HttpError, Target};
pub use error::Error;
pub use names::{APPLICATION_NAME, DEFAULT_WORKSPACE, ENQUEUE_PATH, QUEUE_NAME, WORKFLOW_NAME};
pub use provision::{provision, Change, OutboundCallFlow, Plan, ProvisionOptions, Summary};
