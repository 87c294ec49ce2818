//! Placing calls: a seeded generator for the run's choices, and one internal call from an idle
//! agent to an idle agent or to the queue, as the dialpad places it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::agent::{AgentHandle, CallRecord, Cmd, Shared};
use super::args::Args;

/// A small seeded generator (SplitMix64): the choices of a run repeat with its seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Picks an idle agent that is not a queue member and marks it busy.
fn pick_idle(agents: &[Arc<AgentHandle>], rng: &mut Rng, not: Option<usize>) -> Option<usize> {
    for _ in 0..64 {
        let i = rng.below(agents.len());
        let a = &agents[i];
        if Some(i) == not || a.queue_member {
            continue;
        }
        if a.busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            return Some(i);
        }
    }
    None
}

/// Places one call (or counts it as skipped when no idle agent was found).
pub(crate) fn place_call(args: &Args, shared: &Shared, rng: &mut Rng, seq: &mut u64) {
    let Some((app, _)) = shared.internal_call.get() else {
        return;
    };
    let agents = shared.agents.read().unwrap_or_else(|e| e.into_inner());
    let any_member = agents.iter().any(|a| a.queue_member);
    let to_queue = any_member && rng.unit() < args.queue_share;
    let Some(caller) = pick_idle(&agents, rng, None) else {
        shared.book().figures.skipped += 1;
        return;
    };
    let callee = if to_queue {
        None
    } else {
        match pick_idle(&agents, rng, Some(caller)) {
            Some(c) => Some(c),
            None => {
                agents[caller].busy.store(false, Ordering::Release);
                shared.book().figures.skipped += 1;
                return;
            }
        }
    };
    *seq += 1;
    let conv = format!("load-{}", *seq);
    let from = agents[caller].full_name.clone();
    let (destination, name) = match callee {
        Some(c) => (
            app_address(
                app,
                &[
                    ("worker_sid", &agents[c].sid),
                    ("from", &from),
                    ("conversation_id", &conv),
                ],
            ),
            agents[c].full_name.clone(),
        ),
        None => (
            app_address(
                app,
                &[
                    ("callToQueue", &args.queue),
                    ("from", &from),
                    ("conversation_id", &conv),
                ],
            ),
            args.queue.clone(),
        ),
    };
    let tx = agents[caller].tx.clone();
    drop(agents);
    let hangup_by_caller = rng.next() & 1 == 0;
    shared.book().calls.insert(
        conv.clone(),
        CallRecord::new(caller, callee, to_queue, hangup_by_caller),
    );
    let _ = tx.send(Cmd::Call {
        conv,
        destination,
        name,
    });
}

/// `app:AP…?k=v&…` with the values percent-encoded.
pub(crate) fn app_address(app: &str, params: &[(&str, &str)]) -> String {
    let mut s = format!("app:{app}");
    for (i, (k, v)) in params.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        for part in [*k, "=", *v] {
            if part == "=" {
                s.push('=');
                continue;
            }
            for b in part.bytes() {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    s.push(b as char);
                } else {
                    s.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    s
}
