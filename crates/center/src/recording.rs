//! What a recording records: for a call or a conference, the two channels' sources in relay
//! peers, derived from the voice engine's state and the center's audio connections ([`Media`]).
//!
//! Pure: no I/O, no clock. The server calls [`recording_channels`] when a recording starts and
//! again whenever the calls change, and hands the sets to the relay (which mixes each set into
//! its channel). `None` means the target is gone (the call ended, the conference ended): the
//! recording is to be stopped.
//!
//! # Which side is which
//!
//! Channel 0 (left) is the *caller side* of the conversation, channel 1 (right) the other side:
//! for an internal call, the calling agent on the left and the answering agent on the right,
//! whichever of the call's legs or conferences is recorded.
//!
//! The caller side of a conference is its *originator*: among its participant calls, first one
//! that came in by its callee end (a call moved into the conference brings its caller), then an
//! agent's leg placed into it (caller end in the conference, callee an agent), last a call
//! dialed out of it (caller end in the conference, callee anything else: it went out to reach
//! someone); among equals the one created first, then joined first. In the internal call
//! `alice ↔ CA_a ↔ C1 ↔ CA_x ↔ C2 ↔ CA_b ↔ bob`, C1's originator is `CA_a` (`CA_x` was dialed
//! out of C1), and C2's is `CA_x` (moved in by its callee end), which carries Alice.
//!
//! - A **conference**: channel 0 is what its originator contributes, channel 1 what every other
//!   participant contributes. A contribution is what flows out of the participant call's far
//!   end, as the conference mixes it: nothing from a muted or held participant, nor from a
//!   coach (heard only by the coached call).
//! - A **call** with an end in a conference: its own party (what flows out of its other end) is
//!   channel 0 when the call is that conference's originator, else channel 1; what the
//!   conference sends it is the other channel.
//! - Any other **call**: what flows out of its caller end on channel 0, of its callee end on
//!   channel 1.
//!
//! [`Track`] keeps only the party's side of a call (`inbound`) or only what it hears
//! (`outbound`); the other channel is then empty (silence).

use std::collections::{BTreeSet, VecDeque};

use switchboard_sid::{Call, Conference, Recording, Sid};
use switchboard_voice::{flows_out, ConferenceStatus, End, Side, Source, Voice};

use crate::media::{Media, MediaSource};

/// Which audio of a call is recorded (Twilio's `RecordingTrack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Track {
    /// What the call's party says (received by the server).
    Inbound,
    /// What the call's party hears (sent by the server).
    Outbound,
    /// Both.
    #[default]
    Both,
}

impl Track {
    /// Twilio's name: `inbound`, `outbound`, `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Inbound => "inbound",
            Track::Outbound => "outbound",
            Track::Both => "both",
        }
    }

    /// From Twilio's name.
    pub fn parse(s: &str) -> Option<Track> {
        match s {
            "inbound" => Some(Track::Inbound),
            "outbound" => Some(Track::Outbound),
            "both" => Some(Track::Both),
            _ => None,
        }
    }
}

/// What is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RecordingTarget {
    /// One call leg, with the track to keep.
    Call(Sid<Call>, Track),
    /// A conference's mix.
    Conference(Sid<Conference>),
}

/// The sources of the left (0) and right (1) channels.
pub type Channels = [BTreeSet<MediaSource>; 2];

/// The two channels' sources for `target` now, or `None` when the target is not live (unknown,
/// ended): see the [module documentation](self).
pub fn recording_channels(
    voice: &Voice,
    media: &Media,
    target: RecordingTarget,
) -> Option<Channels> {
    let [left, right] = voice_channels(voice, target)?;
    let peers = |set: BTreeSet<Source>| -> BTreeSet<MediaSource> {
        set.into_iter()
            .filter_map(|s| match s {
                Source::HoldMusic => Some(MediaSource::HoldMusic),
                Source::Leg(leg) => media.peer_of_leg(voice, leg).map(MediaSource::Peer),
            })
            .collect()
    };
    Some([peers(left), peers(right)])
}

/// [`recording_channels`] in the voice engine's terms (agent legs and hold music).
pub fn voice_channels(voice: &Voice, target: RecordingTarget) -> Option<[BTreeSet<Source>; 2]> {
    match target {
        RecordingTarget::Conference(cf) => {
            let conference = voice.conference(cf)?;
            if conference.status == ConferenceStatus::Completed {
                return None;
            }
            let origin = originator(voice, cf);
            let mut channels = [BTreeSet::new(), BTreeSet::new()];
            for &call in &conference.participants {
                let Some(side) = side_in(voice, call, cf) else {
                    continue;
                };
                if !contributes(voice, call, cf) {
                    continue;
                }
                let heard = flows_out(voice, call, side.other());
                let channel = usize::from(Some(call) != origin);
                channels[channel].extend(heard);
            }
            Some(channels)
        }
        RecordingTarget::Call(sid, track) => {
            let call = voice.call(sid)?;
            if call.status.is_final() {
                return None;
            }
            let conference_end = [Side::Caller, Side::Callee].into_iter().find_map(|side| {
                match voice.live_end(sid, side) {
                    Some(End::Conference(p)) => Some((side, p.conference)),
                    _ => None,
                }
            });
            let (party_side, party_left) = match conference_end {
                Some((side, cf)) => (side.other(), originator(voice, cf) == Some(sid)),
                None => (Side::Caller, true),
            };
            let mut party = flows_out(voice, sid, party_side);
            let mut heard = flows_out(voice, sid, party_side.other());
            match track {
                Track::Inbound => heard.clear(),
                Track::Outbound => party.clear(),
                Track::Both => {}
            }
            Some(if party_left {
                [party, heard]
            } else {
                [heard, party]
            })
        }
    }
}

/// The participant call that is the caller side of conference `cf`: see the
/// [module documentation](self).
pub fn originator(voice: &Voice, cf: Sid<Conference>) -> Option<Sid<Call>> {
    let conference = voice.conference(cf)?;
    conference
        .participants
        .iter()
        .enumerate()
        .filter_map(|(joined, &call)| {
            let c = voice.call(call)?;
            let side = side_in(voice, call, cf)?;
            // 0: it came in by its callee end (moved in, bringing its caller); 1: an agent's
            // leg placed into it; 2: dialed out of it to reach someone else.
            let rank = match (side, &c.callee) {
                (Side::Callee, _) => 0u8,
                (Side::Caller, End::Agent { .. }) => 1,
                (Side::Caller, _) => 2,
            };
            Some(((rank, c.date_created, joined), call))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, call)| call)
}

/// Which end of `call` is in conference `cf`.
fn side_in(voice: &Voice, call: Sid<Call>, cf: Sid<Conference>) -> Option<Side> {
    [Side::Caller, Side::Callee].into_iter().find(
        |&side| matches!(voice.live_end(call, side), Some(End::Conference(p)) if p.conference == cf),
    )
}

/// Whether a participant is part of the conference's mix.
fn contributes(voice: &Voice, call: Sid<Call>, cf: Sid<Conference>) -> bool {
    voice
        .participation(cf, call)
        .is_some_and(|p| !p.muted && !p.hold && !p.coaching)
}

/// The legs of internal calls that have connected: for every live call bridging two
/// conferences in progress (the internal call's far leg), the originator of the conference its
/// caller end is in (the calling agent's leg). The server records these when the Flex
/// configuration's `call_recording_enabled` is on.
pub fn connected_internal_calls(voice: &Voice) -> Vec<Sid<Call>> {
    let live = |cf: Sid<Conference>| {
        voice
            .conference(cf)
            .is_some_and(|c| c.status == ConferenceStatus::InProgress)
    };
    voice
        .live_calls()
        .filter_map(|c| match (&c.caller, &c.callee) {
            (End::Conference(a), End::Conference(b))
                if live(a.conference) && live(b.conference) =>
            {
                originator(voice, a.conference).filter(|o| *o != c.sid)
            }
            _ => None,
        })
        .collect()
}

/// A recording running now, as the server's recorder tells the center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRecording {
    /// `RE…`.
    pub sid: Sid<Recording>,
    /// What it records.
    pub target: RecordingTarget,
    /// Paused (Twilio's `paused`).
    pub paused: bool,
}

impl RecordingTarget {
    /// Whether it records part of the conversation `conference` belongs to (the conferences and
    /// calls reachable from it through calls that sit in two conferences, as the two
    /// conferences of an internal call).
    pub fn touches(&self, voice: &Voice, conference: Sid<Conference>) -> bool {
        let (conferences, calls) = conversation(voice, conference);
        match self {
            RecordingTarget::Conference(c) => conferences.contains(c),
            RecordingTarget::Call(c, _) => calls.contains(c),
        }
    }
}

/// The conferences and calls of the conversation `conference` is part of.
pub fn conversation(
    voice: &Voice,
    conference: Sid<Conference>,
) -> (BTreeSet<Sid<Conference>>, BTreeSet<Sid<Call>>) {
    let mut conferences = BTreeSet::new();
    let mut calls = BTreeSet::new();
    let mut todo = VecDeque::from([conference]);
    while let Some(cf) = todo.pop_front() {
        if !conferences.insert(cf) {
            continue;
        }
        let Some(c) = voice.conference(cf) else {
            continue;
        };
        for call in &c.participants {
            if !calls.insert(*call) {
                continue;
            }
            if let Some(record) = voice.call(*call) {
                for end in [&record.caller, &record.callee] {
                    if let End::Conference(p) = end {
                        todo.push_back(p.conference);
                    }
                }
            }
        }
    }
    (conferences, calls)
}
