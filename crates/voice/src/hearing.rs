//! Who hears whom: the audio graph implied by the calls and conferences, for the media relay.
//!
//! The relay only knows agent legs (an agent's browser on a call) and what each must hear; this
//! module derives that from the state machine, so hold, mute, queues and bridges mean the same in
//! signalling and in sound. It is a pure function of [`Voice`]: call it after every change and
//! hand the result (translated to media peers) to the relay.
//!
//! # What flows out of an end
//!
//! A call is a pipe: whatever flows *out of* one end into the call is heard at the other end.
//!
//! | end | sends |
//! |-----|-------|
//! | answered agent | its own leg's voice |
//! | conference participation on hold | hold music |
//! | conference participation, conference not started yet (`init`) | hold music (Twilio's wait music) |
//! | other conference participation | the contributions of every *other* participant that is neither muted nor on hold, and either not coaching or coaching this participation's call |
//! | waiting in a queue (`<Enqueue>`) | hold music |
//! | bridge to another call | what flows out of that call's far end |
//! | program, external party, gone, unanswered agent | nothing |
//!
//! A participant's contribution is what flows out of its call's *other* end (the agent, or the
//! conference or queue beyond it). An agent leg hears what flows out of its call's other end.
//!
//! A supervisor's three ways into a call are three settings of its participation, and hearing
//! *from* the conference never depends on them:
//!
//! | mode | participation | heard by |
//! |------|---------------|----------|
//! | monitor | muted | nobody |
//! | coach | `coaching`, `call_sid_to_coach` = the agent's call | only the coached participation (nobody once that call has left) |
//! | barge | neither | everyone |
//!
//! Since a mix is a union of sources, "what flows out" is the set of sources reachable in a
//! dependency graph; it is computed by a breadth-first walk with a visited set, which both
//! terminates on cycles (two calls bridging the same two conferences) and stays linear in the
//! size of the component the leg belongs to. A leg never hears itself, even through such a loop.
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use switchboard_sid::{Call, Sid};

use crate::machine::{ConferenceStatus, End, Side, Voice};

/// Something an agent leg can hear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// The voice of another agent leg (the agent's microphone on that call).
    Leg(Sid<Call>),
    /// Hold (or wait) music.
    HoldMusic,
}

/// For every live agent leg, the set of sources it hears (possibly empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hearing {
    legs: BTreeMap<Sid<Call>, BTreeSet<Source>>,
}

impl Hearing {
    /// What `leg` hears, or `None` when it is not a live agent leg.
    pub fn hears(&self, leg: Sid<Call>) -> Option<&BTreeSet<Source>> {
        self.legs.get(&leg)
    }

    /// Every live agent leg and what it hears, by call SID.
    pub fn iter(&self) -> impl Iterator<Item = (Sid<Call>, &BTreeSet<Source>)> {
        self.legs.iter().map(|(leg, s)| (*leg, s))
    }

    /// The live agent legs.
    pub fn legs(&self) -> impl Iterator<Item = Sid<Call>> + '_ {
        self.legs.keys().copied()
    }

    /// How many agent legs there are.
    pub fn len(&self) -> usize {
        self.legs.len()
    }

    /// Whether there is no agent leg at all.
    pub fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }
}

/// Who hears whom right now: see the [module documentation](self). It visits only the live
/// calls ([`Voice::live_calls`]), never the ended ones kept for the Voice API.
pub fn hearing(voice: &Voice) -> Hearing {
    let mut legs = BTreeMap::new();
    for c in voice.live_calls() {
        for side in [Side::Caller, Side::Callee] {
            if matches!(
                voice.live_end(c.sid, side),
                Some(End::Agent { answered: true, .. })
            ) {
                let mut heard = flows_out(voice, c.sid, side.other());
                heard.remove(&Source::Leg(c.sid));
                legs.insert(c.sid, heard);
            }
        }
    }
    Hearing { legs }
}

/// The set of sources flowing out of `(call, side)`: a walk over what each end's output is
/// made of, visiting every end at most once. Recording uses it too, to know what each side of a
/// call or conference contributes.
pub fn flows_out(voice: &Voice, call: Sid<Call>, side: Side) -> BTreeSet<Source> {
    let mut heard = BTreeSet::new();
    let mut seen = BTreeSet::from([(call, side)]);
    let mut todo = VecDeque::from([(call, side)]);
    while let Some((call, side)) = todo.pop_front() {
        let mut next = |n: (Sid<Call>, Side)| {
            if seen.insert(n) {
                todo.push_back(n);
            }
        };
        match voice.live_end(call, side) {
            Some(End::Agent { answered: true, .. }) => {
                heard.insert(Source::Leg(call));
            }
            Some(End::Queued { .. }) => {
                heard.insert(Source::HoldMusic);
            }
            Some(End::Conference(p)) => {
                let Some(conference) = voice.conference(p.conference) else {
                    continue;
                };
                if p.hold || conference.status == ConferenceStatus::Init {
                    heard.insert(Source::HoldMusic);
                    continue;
                }
                if conference.status != ConferenceStatus::InProgress {
                    continue;
                }
                for &q in &conference.participants {
                    for q_side in [Side::Caller, Side::Callee] {
                        if (q, q_side) == (call, side) {
                            continue;
                        }
                        let contributes = matches!(
                            voice.live_end(q, q_side),
                            Some(End::Conference(qp))
                                if qp.conference == p.conference && !qp.muted && !qp.hold
                                    && (!qp.coaching || qp.call_sid_to_coach == Some(call))
                        );
                        if contributes {
                            next((q, q_side.other()));
                        }
                    }
                }
            }
            Some(End::Bridge(far)) => {
                // Only a bridge both calls hold is a connection (a ringing `<Dial><Client>`
                // child points at its parent while the parent still runs its `<Dial>`).
                for far_side in [Side::Caller, Side::Callee] {
                    if matches!(voice.live_end(*far, far_side), Some(End::Bridge(c)) if *c == call)
                    {
                        next((*far, far_side.other()));
                    }
                }
            }
            Some(
                End::Agent {
                    answered: false, ..
                }
                | End::Program(_)
                | End::External(_)
                | End::Gone,
            )
            | None => {}
        }
    }
    heard
}
