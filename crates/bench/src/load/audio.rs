//! `--media`: the calls' audio, as the desktops see it. A desktop whose call is connected opens a
//! str0m peer ([`super::peer`]) that sends stamped frames carrying its agent's index and follows
//! the frames stamped with its party's index ([`Probe`]); when the call ends the peer is stopped
//! and what it received is added to the step's [`AudioFigures`].
//!
//! A call counts as **with audio** only from what its two peers received: at a given moment, when
//! each of them got a frame from the other within [`RECEIVING`]; over the call, when each got at
//! least one. Loss is counted per receiver over the sequence numbers from the first to the last
//! frame it got from its party (as RTCP does): frames sent before the other side's peer was up,
//! or after one side hung up, are not loss.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::stats::Samples;
use crate::peer::{Fleet, Payload, Peer, Probe};

/// A peer is receiving when its party's latest frame arrived at most this long ago (5 frames).
pub const RECEIVING: Duration = Duration::from_millis(100);

/// A peer of agent `idx` hearing agent `party`, and its offer.
pub fn offer(idx: usize, party: usize) -> anyhow::Result<(Peer, Arc<Probe>, String)> {
    let index = u32::try_from(idx)?;
    let (mut peer, sdp) = Peer::offer(index, Payload::Stamped)?;
    let probe = peer.watch(u32::try_from(party)?);
    Ok((peer, probe, sdp))
}

/// The stamps' clock `RECEIVING` ago: a probe that heard its party since then is receiving.
pub fn receiving_since(fleet: &Fleet) -> u64 {
    fleet
        .shared
        .ns(Instant::now())
        .saturating_sub(RECEIVING.as_nanos() as u64)
}

/// What the step's peers did, added up as they close.
#[derive(Debug, Default)]
pub struct AudioFigures {
    /// `media_offer`s sent.
    pub offers: u64,
    /// Offers the server refused, or whose answer could not be applied.
    pub refused: u64,
    /// Peers closed (their call ended), whether or not they connected.
    pub closed: u64,
    /// Closed peers whose DTLS never came up (refused, still offering, or ICE/DTLS never
    /// completed).
    pub never_connected: u64,
    /// Closed peers that connected but never received a frame from their party.
    pub never_heard: u64,
    /// Closed peers that str0m reported failed (ICE disconnected, an error).
    pub failed: u64,
    /// Frames received from the party, summed over the closed peers.
    pub frames: u64,
    /// Frames the parties sent between the first and the last one each receiver got.
    pub expected: u64,
    /// One-way delays of those frames.
    pub delays: Samples,
    /// Frames the closed peers sent, and how many left more than 5 ms late (the client behind).
    pub sent: u64,
    /// Of `sent`, late.
    pub late: u64,
    /// Calls both of whose peers received frames from the other (counted when the second
    /// closes).
    pub calls_with_audio: u64,
    /// The fewest frames one side of a call with audio received from the other.
    pub min_frames_per_side: Option<u64>,
    /// The most calls at once whose two peers were both receiving (sampled every 200 ms).
    pub max_concurrent: usize,
    /// Calls talking (connected on both desktops, not hung up) at that sample.
    pub talking_at_max: usize,
    /// The most calls talking at once at any sample.
    pub max_talking: usize,
    /// CPU once the calls have built up: from `--talk-ms` + 2 s into the step to its end.
    pub steady: Option<SteadyCpu>,
}

/// CPU over the part of a step in which the calls placed no longer grow in number.
#[derive(Debug, Clone, Copy)]
pub struct SteadyCpu {
    /// Seconds into the step it starts at.
    pub from_second: f64,
    /// Its length.
    pub seconds: f64,
    /// The server's CPU, % of one core (`None`: not known, e.g. `--url` without `--pid`).
    pub server_percent: Option<f64>,
    /// This process's CPU (desktops and peers), % of one core.
    pub client_percent: Option<f64>,
}

impl AudioFigures {
    /// Adds a closed peer (`None`: it never ran); how many frames it got from its party.
    pub fn close(&mut self, probe: Option<&Probe>) -> u64 {
        self.closed += 1;
        let Some(p) = probe else {
            self.never_connected += 1;
            return 0;
        };
        p.stop();
        let heard = p.take_heard();
        let (sent, late) = p.sent();
        self.sent += sent;
        self.late += late;
        if p.failed() {
            self.failed += 1;
        }
        if !p.connected() {
            self.never_connected += 1;
        } else if heard.frames == 0 {
            self.never_heard += 1;
        }
        self.frames += heard.frames;
        self.expected += heard.expected().max(heard.frames);
        for us in &heard.delays_us {
            self.delays.push(Duration::from_micros(u64::from(*us)));
        }
        heard.frames
    }

    /// Counts a call whose both sides closed, having received `a` and `b` frames.
    pub fn call_closed(&mut self, a: u64, b: u64) {
        if a > 0 && b > 0 {
            self.calls_with_audio += 1;
            let m = a.min(b);
            self.min_frames_per_side = Some(self.min_frames_per_side.map_or(m, |x| x.min(m)));
        }
    }

    /// Lost frames, % (`None` with nothing expected).
    pub fn loss_percent(&self) -> Option<f64> {
        (self.expected > 0).then(|| {
            100.0 * (self.expected - self.frames.min(self.expected)) as f64 / self.expected as f64
        })
    }

    /// As JSON.
    pub fn to_json(&self, seconds: f64) -> Value {
        let d = self.delays.summary(seconds);
        json!({
            "max_concurrent_calls_with_audio": self.max_concurrent,
            "calls_talking_at_that_moment": self.talking_at_max,
            "max_concurrent_calls_talking": self.max_talking,
            "calls_with_audio": self.calls_with_audio,
            "min_frames_from_party_per_side": self.min_frames_per_side,
            "offers_sent": self.offers,
            "offers_refused": self.refused,
            "peers_closed": self.closed,
            "peers_never_connected": self.never_connected,
            "peers_never_heard_party": self.never_heard,
            "peers_failed": self.failed,
            "frames_received": self.frames,
            "frames_expected": self.expected,
            "loss_percent": self.loss_percent(),
            "one_way_delay": {
                "count": d.count,
                "p50_ms": finite(d.p50),
                "p99_ms": finite(d.p99),
                "p999_ms": finite(d.p999),
                "max_ms": finite(d.max),
            },
            "steady": self.steady.map(|c| json!({
                "from_second": c.from_second,
                "seconds": c.seconds,
                "server_cpu_percent_of_one_core": c.server_percent,
                "client_cpu_percent_of_one_core": c.client_percent,
            })),
            "frames_sent": self.sent,
            "frames_sent_late_over_5ms": self.late,
        })
    }
}

fn finite(x: f64) -> Value {
    if x.is_finite() {
        json!((x * 1000.0).round() / 1000.0)
    } else {
        Value::Null
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_that_never_ran_never_connected_and_a_silent_side_is_no_audio() {
        let mut f = AudioFigures::default();
        assert_eq!(f.close(None), 0);
        assert_eq!((f.closed, f.never_connected), (1, 1));
        f.call_closed(0, 120);
        assert_eq!(f.calls_with_audio, 0);
        f.call_closed(90, 120);
        assert_eq!((f.calls_with_audio, f.min_frames_per_side), (1, Some(90)));
        assert_eq!(f.loss_percent(), None);
    }
}
