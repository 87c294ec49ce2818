//! What a rule may touch while the center carries out one input: the time, the durable model,
//! the voice engine and the SID generator, borrowed together.

use switchboard_routing::Timestamp;
use switchboard_voice::{Millis, Voice};

use crate::entry::Entry;
use crate::error::CenterError;
use crate::ids::SidGen;
use crate::model::Model;

/// The parts of the center one rule works on.
pub struct Cx<'a> {
    /// Now.
    pub now: Timestamp,
    /// The durable state.
    pub model: &'a mut Model,
    /// Calls and conferences.
    pub voice: &'a mut Voice,
    /// New SIDs.
    pub ids: &'a mut SidGen,
}

impl Cx<'_> {
    /// Now, as the voice engine counts time.
    pub fn ms(&self) -> Millis {
        self.now.0
    }

    /// Applies a durable change now and stages its log entry.
    pub fn execute(&mut self, entry: Entry) -> Result<(), CenterError> {
        self.model.execute(self.now, entry)
    }
}
