//! What [`Media::graph`] costs with the call records the voice engine keeps for the Voice API:
//! live two-agent conferences with every agent on audio, plus many ended calls (at 50 calls/s,
//! 15 minutes of them is ~45,000). Not a timed test: the timing is `#[ignore]`d and printed,
//!
//! ```text
//! cargo test --release -p switchboard-center --test graph_cost -- --ignored --nocapture
//! ```
//!
//! The other tests check that the ended records change nothing in the graph.

use std::time::Instant;

use switchboard_center::media::{Media, MediaGraph};
use switchboard_center::protocol::MediaSettings;
use switchboard_sid::{Call, Sid};
use switchboard_voice::{Callee, DialRequest, JoinSpec, Voice};

const ACCOUNT: &str = "AC00000000000000000000000000000001";

fn agent_call(voice: &mut Voice, now: i64, identity: &str, conference: &str) -> Sid<Call> {
    voice
        .dial(
            now,
            DialRequest {
                from: "client:caller".into(),
                to: format!("client:{identity}"),
                callee: Callee::Agent {
                    identity: identity.into(),
                    auto_answer: true,
                },
                join: JoinSpec {
                    conference: conference.into(),
                    ..JoinSpec::default()
                },
                ring_timeout: 30,
            },
        )
        .expect("dial")
}

/// `live` conferences of two agents each, every agent with a peer, and `ended` calls that have
/// ended (each alone in a conference of its own, which ended with it).
fn world(live: usize, ended: usize) -> (Voice, Media) {
    let mut voice = Voice::new(ACCOUNT.into(), 5);
    let mut media = Media::new(MediaSettings::default());
    let mut now = 1_000_000;
    for i in 0..ended {
        now += 1;
        let call = agent_call(&mut voice, now, &format!("gone{i}"), &format!("old{i}"));
        voice.hangup(now, call, "done").expect("hangup");
    }
    for i in 0..live {
        now += 1;
        for side in ["a", "b"] {
            let identity = format!("{side}{i}");
            agent_call(&mut voice, now, &identity, &format!("cf{i}"));
            let worker = u128::try_from(2 * i).expect("small") + u128::from(side == "b");
            let agent = (Sid::from_u128(1), Sid::from_u128(worker + 1));
            media.attach(agent, identity, false);
        }
    }
    voice.take_outputs();
    (voice, media)
}

fn live_legs(graph: &MediaGraph) -> usize {
    graph.len()
}

#[test]
fn ended_calls_change_nothing_in_the_graph() {
    let (voice, media) = world(20, 0);
    let (voice_with_history, media_with_history) = world(20, 1_000);
    let graph = media.graph(&voice);
    assert_eq!(live_legs(&graph), 40, "every agent hears the other one");
    // Peers are numbered in attach order, the same in both worlds.
    assert_eq!(media_with_history.graph(&voice_with_history), graph);
    assert_eq!(voice_with_history.calls().count(), 1_040);
    assert_eq!(voice_with_history.live_calls().count(), 40);
}

#[test]
#[ignore = "a timing, run by hand in release"]
fn graph_cost_with_ended_calls() {
    // `GRAPH_CASE=live,ended` runs one case only; `GRAPH_ROUNDS=0` builds it without timing
    // (to subtract the set-up from a whole-process count such as `perf stat`'s).
    let cases = match std::env::var("GRAPH_CASE") {
        Ok(case) => {
            let (live, ended) = case.split_once(',').expect("GRAPH_CASE=live,ended");
            vec![(live.parse().expect("live"), ended.parse().expect("ended"))]
        }
        Err(_) => vec![(1_000, 0), (1_000, 45_000), (100, 0), (100, 45_000)],
    };
    let rounds: u32 = std::env::var("GRAPH_ROUNDS").map_or(200, |r| r.parse().expect("rounds"));
    for (live, ended) in cases {
        let (voice, media) = world(live, ended);
        let start = Instant::now();
        let mut legs = 0;
        for _ in 0..rounds {
            legs += live_legs(&media.graph(&voice));
        }
        let per = start.elapsed() / rounds.max(1);
        assert_eq!(legs, 2 * live * rounds as usize);
        println!(
            "{live} live conferences ({} legs), {ended} ended calls: {per:?} per Media::graph",
            2 * live
        );
    }
}
