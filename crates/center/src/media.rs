//! Audio, as the center sees it: which agent's desktop has which connection to the media relay,
//! how each stands, and who hears whom — the voice engine's hearing graph (agent legs) turned
//! into the relay's terms (peers). The relay itself (`switchboard-media`) is driven by the server;
//! the center only says what it must do ([`MediaGraph`], peers to remove) and hears how it went.

use std::collections::{BTreeMap, BTreeSet};

use switchboard_voice::{hearing, End, Source, Voice};

use crate::protocol::{AudioState, AudioView, MediaSettings};
use crate::sessions::Agent;

/// One audio connection to the relay (a browser's RTCPeerConnection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MediaPeer(pub u64);

/// What a peer hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaSource {
    /// Another peer's microphone.
    Peer(MediaPeer),
    /// Hold music.
    HoldMusic,
}

/// For each peer, what it hears; a peer that is absent hears nothing.
pub type MediaGraph = BTreeMap<MediaPeer, BTreeSet<MediaSource>>;

/// What the relay reports about a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// ICE and DTLS are up: media flows.
    Connected,
    /// ICE was lost; the peer is kept for an ICE restart.
    Lost,
    /// The relay dropped the peer (never connected, failed, closed), saying why.
    Gone(String),
    /// Nothing was received from the peer for a while.
    NotSending,
    /// It sends again.
    Sending,
}

#[derive(Debug, Clone)]
struct Attached {
    peer: MediaPeer,
    identity: String,
    view: AudioView,
}

/// The agents' audio connections.
#[derive(Debug, Default)]
pub struct Media {
    settings: MediaSettings,
    next: u64,
    by_agent: BTreeMap<Agent, Attached>,
    by_peer: BTreeMap<MediaPeer, Agent>,
    last_graph: MediaGraph,
}

/// What attaching a desktop's audio decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attachment {
    /// The peer to give the offer to.
    pub peer: MediaPeer,
    /// Whether that peer exists already and the offer is an ICE restart of it.
    pub restart: bool,
    /// A peer this one replaces, to remove from the relay.
    pub replaced: Option<MediaPeer>,
}

impl Media {
    /// Audio as configured.
    pub fn new(settings: MediaSettings) -> Media {
        Media {
            settings,
            ..Media::default()
        }
    }

    /// What desktops are told about the relay.
    pub fn settings(&self) -> &MediaSettings {
        &self.settings
    }

    /// Every peer attached now.
    pub fn peers(&self) -> impl Iterator<Item = MediaPeer> + '_ {
        self.by_peer.keys().copied()
    }

    /// The last peer number handed out (0: none yet).
    pub fn last_peer(&self) -> MediaPeer {
        MediaPeer(self.next)
    }

    /// Numbers new peers after `last`: a center rebuilt inside a running server must not reuse
    /// a number the relay may still report on.
    pub fn number_after(&mut self, last: MediaPeer) {
        self.next = self.next.max(last.0);
    }

    /// An agent's connection, as its desktop shows it.
    pub fn view(&self, agent: Agent) -> Option<AudioView> {
        self.by_agent.get(&agent).map(|a| a.view.clone())
    }

    /// The agent of a peer.
    pub fn agent_of(&self, peer: MediaPeer) -> Option<Agent> {
        self.by_peer.get(&peer).copied()
    }

    /// An agent's peer.
    pub fn peer_of(&self, agent: Agent) -> Option<MediaPeer> {
        self.by_agent.get(&agent).map(|a| a.peer)
    }

    /// A desktop of `agent`, reached as `client:identity`, offers audio. A restart of a peer the
    /// agent has keeps it; anything else makes a new peer and replaces the old one.
    pub fn attach(&mut self, agent: Agent, identity: String, restart: bool) -> Attachment {
        if restart {
            if let Some(a) = self.by_agent.get_mut(&agent) {
                a.identity = identity;
                // A restart over a path that never broke stays connected (the relay reports
                // nothing new then); one after a loss waits for the relay's Connected.
                if a.view.state != AudioState::Connected {
                    a.view = connecting();
                }
                return Attachment {
                    peer: a.peer,
                    restart: true,
                    replaced: None,
                };
            }
        }
        self.next += 1;
        let peer = MediaPeer(self.next);
        let replaced = self.detach(agent);
        self.by_agent.insert(
            agent,
            Attached {
                peer,
                identity,
                view: connecting(),
            },
        );
        self.by_peer.insert(peer, agent);
        Attachment {
            peer,
            restart: false,
            replaced,
        }
    }

    /// Forgets an agent's peer; the peer to remove from the relay, if there was one.
    pub fn detach(&mut self, agent: Agent) -> Option<MediaPeer> {
        let a = self.by_agent.remove(&agent)?;
        self.by_peer.remove(&a.peer);
        Some(a.peer)
    }

    /// The relay reports on a peer; the agent whose desktop shows it, if the peer is known.
    pub fn event(&mut self, peer: MediaPeer, event: MediaEvent) -> Option<Agent> {
        let agent = *self.by_peer.get(&peer)?;
        let a = self.by_agent.get_mut(&agent)?;
        match event {
            MediaEvent::Connected => {
                a.view.state = AudioState::Connected;
                a.view.detail = None;
            }
            MediaEvent::Lost => {
                a.view.state = AudioState::Reconnecting;
                a.view.detail = Some("the connection to the server was lost".into());
            }
            MediaEvent::Gone(why) => {
                a.view.state = AudioState::Failed;
                a.view.detail = Some(why);
            }
            MediaEvent::NotSending => a.view.not_sending = true,
            MediaEvent::Sending => a.view.not_sending = false,
        }
        Some(agent)
    }

    /// Who hears whom now, in peers; `Some` only when it changed since the last time.
    pub fn graph_if_changed(&mut self, voice: &Voice) -> Option<MediaGraph> {
        let graph = self.graph(voice);
        if graph == self.last_graph {
            return None;
        }
        self.last_graph = graph.clone();
        Some(graph)
    }

    /// The hearing graph of the voice engine, for the agents that have a peer.
    pub fn graph(&self, voice: &Voice) -> MediaGraph {
        if self.by_agent.is_empty() {
            // Nobody has a peer, so nobody hears anything: the hearing graph (a walk over the
            // live calls) is not worked out at all.
            return MediaGraph::new();
        }
        let by_identity: BTreeMap<&str, MediaPeer> = self
            .by_agent
            .values()
            .map(|a| (a.identity.as_str(), a.peer))
            .collect();
        let peer_of_leg = |leg| {
            let c = voice.call(leg)?;
            [&c.caller, &c.callee].into_iter().find_map(|e| match e {
                End::Agent {
                    identity,
                    answered: true,
                } => by_identity.get(identity.as_str()).copied(),
                _ => None,
            })
        };
        let mut graph = MediaGraph::new();
        for (leg, sources) in hearing(voice).iter() {
            let Some(receiver) = peer_of_leg(leg) else {
                continue;
            };
            let heard: BTreeSet<MediaSource> = sources
                .iter()
                .filter_map(|s| match s {
                    Source::HoldMusic => Some(MediaSource::HoldMusic),
                    Source::Leg(l) => peer_of_leg(*l)
                        .filter(|p| *p != receiver)
                        .map(MediaSource::Peer),
                })
                .collect();
            graph.entry(receiver).or_default().extend(heard);
        }
        graph.retain(|_, s| !s.is_empty());
        graph
    }
}

fn connecting() -> AudioView {
    AudioView {
        state: AudioState::Connecting,
        detail: None,
        not_sending: false,
    }
}

impl Media {
    /// The peer of the agent on call leg `leg` (an answered agent end whose identity has a
    /// peer), as [`Media::graph`] maps legs: read-only, for recordings.
    pub fn peer_of_leg(
        &self,
        voice: &Voice,
        leg: switchboard_sid::Sid<switchboard_sid::Call>,
    ) -> Option<MediaPeer> {
        let c = voice.call(leg)?;
        [&c.caller, &c.callee].into_iter().find_map(|e| match e {
            End::Agent {
                identity,
                answered: true,
            } => self
                .by_agent
                .values()
                .find(|a| &a.identity == identity)
                .map(|a| a.peer),
            _ => None,
        })
    }
}
