//! The hearing graph in the relay's own terms: peers and sources, nothing about calls.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One browser's PeerConnection, named by whoever adds it (the glue maps call legs to these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u64);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer#{}", self.0)
    }
}

/// Something a peer can hear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// What another peer sends (its microphone).
    Peer(PeerId),
    /// The relay's own hold music loop.
    HoldMusic,
}

/// For each receiving peer, the set of sources it hears. A peer that is not in the graph hears
/// nothing; a peer listed as its own source is ignored (nobody hears itself); sources that are
/// not (yet) peers of the engine are kept and take effect when the peer is added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    hears: BTreeMap<PeerId, BTreeSet<Source>>,
}

impl Graph {
    /// An empty graph: nobody hears anything.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Sets what `receiver` hears, replacing what it heard before.
    pub fn set(&mut self, receiver: PeerId, sources: impl IntoIterator<Item = Source>) {
        let sources: BTreeSet<Source> = sources
            .into_iter()
            .filter(|s| *s != Source::Peer(receiver))
            .collect();
        if sources.is_empty() {
            self.hears.remove(&receiver);
        } else {
            self.hears.insert(receiver, sources);
        }
    }

    /// Builder form of [`Graph::set`].
    pub fn with(mut self, receiver: PeerId, sources: impl IntoIterator<Item = Source>) -> Graph {
        self.set(receiver, sources);
        self
    }

    /// What `receiver` hears (empty when it is not in the graph).
    pub fn hears(&self, receiver: PeerId) -> impl Iterator<Item = Source> + '_ {
        self.hears.get(&receiver).into_iter().flatten().copied()
    }

    /// Every receiver and its sources.
    pub fn iter(&self) -> impl Iterator<Item = (PeerId, &BTreeSet<Source>)> {
        self.hears.iter().map(|(r, s)| (*r, s))
    }
}

/// One recording, named by whoever starts it (the glue maps calls to these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordingId(pub u64);

impl fmt::Display for RecordingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "recording#{}", self.0)
    }
}

/// What a recording records: two channels, each the mix of a set of sources (peers' voices,
/// the hold music). Channel 0 is the left one. The sets may change while it records (parties
/// join and leave, transfers); a source that is not a peer (yet, or any more) is silence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingSpec {
    /// The sources mixed into the left (0) and right (1) channels.
    pub channels: [BTreeSet<Source>; 2],
    /// While paused, nothing is recorded (Twilio's `PauseBehavior` "skip"): the file simply
    /// has no frames for that time.
    pub paused: bool,
}

impl RecordingSpec {
    /// Records `left` in channel 0 and `right` in channel 1, unpaused.
    pub fn new(
        left: impl IntoIterator<Item = Source>,
        right: impl IntoIterator<Item = Source>,
    ) -> RecordingSpec {
        RecordingSpec {
            channels: [left.into_iter().collect(), right.into_iter().collect()],
            paused: false,
        }
    }

    /// The same spec, paused or not.
    pub fn paused(mut self, paused: bool) -> RecordingSpec {
        self.paused = paused;
        self
    }

    /// Every source of either channel.
    pub fn sources(&self) -> impl Iterator<Item = Source> + '_ {
        self.channels.iter().flatten().copied()
    }
}
