//! Desktop sessions' bookkeeping: who is connected, until when their tokens hold, what each was
//! last sent, and agents whose last session dropped (they are made unroutable after a grace
//! period, so calls are not offered to a browser that is gone).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use switchboard_routing::Timestamp;
use switchboard_sid::{Sid, Worker, Workspace as WorkspaceKind};

use crate::ids::SessionId;
use crate::protocol::DesktopState;

/// How long a dropped agent stays routable, waiting for its browser to come back.
pub const GRACE_MS: i64 = 3_000;
/// How many browsers one agent may have connected at once.
pub const MAX_SESSIONS_PER_AGENT: usize = 8;
/// How long before its token expires a session is told (`token_expiring`).
pub const TOKEN_WARNING_MS: i64 = 180_000;

/// An agent, in a workspace.
pub type Agent = (Sid<WorkspaceKind>, Sid<Worker>);

/// One connected browser.
#[derive(Debug)]
pub struct Session {
    /// The agent.
    pub agent: Agent,
    /// When its token expires.
    pub expires_at: Timestamp,
    /// Whether it was told its token expires soon.
    pub warned: bool,
    /// What it was sent last.
    pub last: Option<Arc<DesktopState>>,
}

/// A session deadline that came due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Tell the session its token expires soon.
    Warn(SessionId, Timestamp),
    /// The session's token expired: close it.
    Expire(SessionId),
    /// An agent's grace period after its last session dropped ended.
    Grace(Agent),
}

/// The connected browsers.
#[derive(Debug, Default)]
pub struct Sessions {
    next_id: u64,
    sessions: BTreeMap<SessionId, Session>,
    by_agent: BTreeMap<Agent, BTreeSet<SessionId>>,
    /// `client:` identities of connected agents (from their `contact_uri`), refreshed on render.
    identities: BTreeMap<String, BTreeSet<Agent>>,
    identity_of: BTreeMap<Agent, String>,
    /// Connected agents who are supervisors (their desktops list every live call), refreshed
    /// on render.
    supervisors: BTreeSet<Agent>,
    grace: BTreeMap<Agent, Timestamp>,
    deadlines: BTreeSet<(Timestamp, SessionId)>,
}

impl Sessions {
    /// How many sessions the agent has open.
    pub fn count(&self, agent: Agent) -> usize {
        self.by_agent.get(&agent).map_or(0, BTreeSet::len)
    }

    /// Numbers new sessions after the last one `old` opened (see
    /// [`crate::Center::continue_numbering_after`]).
    pub fn continue_numbering_after(&mut self, old: &Sessions) {
        self.next_id = self.next_id.max(old.next_id);
    }

    /// Opens a session.
    pub fn open(&mut self, agent: Agent, expires_at: Timestamp) -> SessionId {
        self.next_id += 1;
        let id = SessionId(self.next_id);
        self.grace.remove(&agent);
        self.sessions.insert(
            id,
            Session {
                agent,
                expires_at,
                warned: false,
                last: None,
            },
        );
        self.by_agent.entry(agent).or_default().insert(id);
        self.schedule(id);
        id
    }

    fn warn_at(s: &Session) -> Timestamp {
        Timestamp(s.expires_at.0 - TOKEN_WARNING_MS)
    }

    fn schedule(&mut self, id: SessionId) {
        if let Some(s) = self.sessions.get(&id) {
            let at = if s.warned {
                s.expires_at
            } else {
                Self::warn_at(s)
            };
            self.deadlines.insert((at, id));
        }
    }

    fn unschedule(&mut self, id: SessionId) {
        if let Some(s) = self.sessions.get(&id) {
            self.deadlines.remove(&(Self::warn_at(s), id));
            self.deadlines.remove(&(s.expires_at, id));
        }
    }

    /// Closes a session. When it was the agent's last, its grace period starts at `now`;
    /// `grace` is false when the agent itself is gone.
    pub fn close(&mut self, id: SessionId, now: Timestamp, grace: bool) -> Option<Session> {
        self.unschedule(id);
        let s = self.sessions.remove(&id)?;
        let last = match self.by_agent.get_mut(&s.agent) {
            Some(set) => {
                set.remove(&id);
                set.is_empty()
            }
            None => true,
        };
        if last {
            self.by_agent.remove(&s.agent);
            self.set_identity(s.agent, None);
            self.supervisors.remove(&s.agent);
            if grace {
                self.grace.insert(s.agent, Timestamp(now.0 + GRACE_MS));
            }
        }
        Some(s)
    }

    /// A session's token was renewed.
    pub fn renew(&mut self, id: SessionId, expires_at: Timestamp) {
        self.unschedule(id);
        if let Some(s) = self.sessions.get_mut(&id) {
            s.expires_at = expires_at;
            s.warned = false;
        }
        self.schedule(id);
    }

    /// A session.
    pub fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// A session, to record what it was sent.
    pub fn get_mut(&mut self, id: SessionId) -> Option<&mut Session> {
        self.sessions.get_mut(&id)
    }

    /// All sessions, by id.
    pub fn ids(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys().copied()
    }

    /// The agents with sessions.
    pub fn agents(&self) -> impl Iterator<Item = Agent> + '_ {
        self.by_agent.keys().copied()
    }

    /// The agents with sessions in a workspace.
    pub fn agents_in(&self, ws: Sid<WorkspaceKind>) -> impl Iterator<Item = Agent> + '_ {
        self.by_agent
            .range((ws, Sid::from_u128(0))..=(ws, Sid::from_u128(u128::MAX)))
            .map(|(a, _)| *a)
    }

    /// An agent's sessions.
    pub fn of(&self, agent: Agent) -> impl Iterator<Item = SessionId> + '_ {
        self.by_agent.get(&agent).into_iter().flatten().copied()
    }

    /// Connected agents reached as `client:identity`.
    pub fn by_identity(&self, identity: &str) -> impl Iterator<Item = Agent> + '_ {
        self.identities.get(identity).into_iter().flatten().copied()
    }

    /// Connected agents who are supervisors, as last rendered.
    pub fn supervisors(&self) -> impl Iterator<Item = Agent> + '_ {
        self.supervisors.iter().copied()
    }

    /// Records whether a connected agent is a supervisor (its desktop was just rendered).
    pub fn set_supervisor(&mut self, agent: Agent, supervisor: bool) {
        if supervisor && self.by_agent.contains_key(&agent) {
            self.supervisors.insert(agent);
        } else {
            self.supervisors.remove(&agent);
        }
    }

    /// Records (or clears) the identity a connected agent is reached at.
    pub fn set_identity(&mut self, agent: Agent, identity: Option<String>) {
        if self.identity_of.get(&agent) == identity.as_ref() {
            return;
        }
        if let Some(old) = self.identity_of.remove(&agent) {
            if let Some(set) = self.identities.get_mut(&old) {
                set.remove(&agent);
                if set.is_empty() {
                    self.identities.remove(&old);
                }
            }
        }
        if let Some(new) = identity {
            if self.by_agent.contains_key(&agent) {
                self.identities
                    .entry(new.clone())
                    .or_default()
                    .insert(agent);
                self.identity_of.insert(agent, new);
            }
        }
    }

    /// The next deadline.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let token = self.deadlines.first().map(|(t, _)| *t);
        let grace = self.grace.values().min().copied();
        token.into_iter().chain(grace).min()
    }

    /// Takes the deadlines due at `now`, earliest first.
    pub fn take_due(&mut self, now: Timestamp) -> Vec<Due> {
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.remove(&(at, id));
            let Some(s) = self.sessions.get_mut(&id) else {
                continue;
            };
            if !s.warned && at < s.expires_at {
                s.warned = true;
                due.push(Due::Warn(id, s.expires_at));
                self.schedule(id);
            } else {
                due.push(Due::Expire(id));
            }
        }
        let agents: Vec<Agent> = self
            .grace
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(a, _)| *a)
            .collect();
        for a in agents {
            self.grace.remove(&a);
            due.push(Due::Grace(a));
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(n: u128) -> Agent {
        (Sid::from_u128(1), Sid::from_u128(n))
    }

    #[test]
    fn token_warning_then_expiry_then_grace() {
        let mut s = Sessions::default();
        let expires = 1_000_000;
        let warn = expires - TOKEN_WARNING_MS;
        let id = s.open(agent(1), Timestamp(expires));
        assert_eq!(s.next_deadline(), Some(Timestamp(warn)));
        assert_eq!(s.take_due(Timestamp(warn - 1)), vec![]);
        assert_eq!(
            s.take_due(Timestamp(warn)),
            vec![Due::Warn(id, Timestamp(expires))]
        );
        assert_eq!(s.next_deadline(), Some(Timestamp(expires)));
        assert_eq!(s.take_due(Timestamp(expires)), vec![Due::Expire(id)]);
        s.close(id, Timestamp(expires), true);
        assert_eq!(s.next_deadline(), Some(Timestamp(expires + GRACE_MS)));
        assert_eq!(
            s.take_due(Timestamp(expires + GRACE_MS)),
            vec![Due::Grace(agent(1))]
        );
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn renewing_moves_the_deadlines_and_a_short_token_is_warned_at_once() {
        let mut s = Sessions::default();
        let id = s.open(agent(1), Timestamp(30_000));
        // Less than the warning period left: warned at the first chance.
        assert_eq!(
            s.take_due(Timestamp(0)),
            vec![Due::Warn(id, Timestamp(30_000))]
        );
        s.renew(id, Timestamp(500_000));
        assert_eq!(s.take_due(Timestamp(30_000)), vec![]);
        assert_eq!(
            s.next_deadline(),
            Some(Timestamp(500_000 - TOKEN_WARNING_MS))
        );
    }

    #[test]
    fn a_second_session_keeps_the_agent_and_reconnecting_cancels_grace() {
        let mut s = Sessions::default();
        let a = s.open(agent(1), Timestamp(1_000_000));
        let b = s.open(agent(1), Timestamp(1_000_000));
        s.set_identity(agent(1), Some("alice".into()));
        s.close(a, Timestamp(10), true);
        assert_eq!(s.count(agent(1)), 1);
        assert_eq!(s.by_identity("alice").collect::<Vec<_>>(), vec![agent(1)]);
        s.close(b, Timestamp(20), true);
        assert_eq!(s.by_identity("alice").count(), 0);
        s.open(agent(1), Timestamp(1_000_000));
        assert!(s
            .take_due(Timestamp(10_000))
            .iter()
            .all(|d| !matches!(d, Due::Grace(_))));
    }
}
