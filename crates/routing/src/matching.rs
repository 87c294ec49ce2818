//! Matching tasks to workers, walking workflow steps, reservation outcomes and deadlines.
//!
//! Two indexes make matching local instead of a scan of the workspace:
//! * one set per channel holds the workspace's *ready* workers (available activity, channel
//!   available, spare capacity) ordered longest-idle first, and each queue counts its ready
//!   members per channel (`Workspace::ready_counts`), so a queue's candidates come from walking
//!   that set or the queue's members, whichever is shorter;
//! * each queue keeps, per channel, the tasks *waiting* for (more) workers, best first; tasks
//!   for a known worker wait in a map keyed by that worker instead.
//!
//! Whenever a task starts waiting it is marked dirty and looks for a worker among its queue's
//! ready members; whenever a worker becomes ready (or changes) it is marked dirty and looks for
//! the best waiting task among its queues. [`Workspace::run_matching`] drains both until nothing
//! is dirty, so after every command no waiting task has an eligible ready worker.

use std::sync::Arc;

use serde_json::Value;
use switchboard_expr::{ChannelFacts, Clock, QueueCounts, Scope, TaskScope, WorkerFacts};
use switchboard_sid::{Activity, Reservation, Sid, Task, TaskQueue, Worker, Workflow};

use crate::command::TaskOrder;
use crate::engine::{
    first_match, reasons, OnUnavailable, Workspace, DEFAULT_RESERVATION_TIMEOUT,
    MAX_ASSIGNMENT_COUNT, MAX_TASK_CHANNELS,
};
use crate::event::*;
use crate::state::*;
use crate::time::Timestamp;
use crate::workflow::{KnownWorker, RoutingConfig, Target};

/// The events buffer's first allocation after [`Workspace::take_events`] emptied it.
const EVENTS_PER_BATCH: usize = 8;

/// How a task leaves a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Timeout,
    Skip,
}

impl Workspace {
    // ----------------------------------------------------------------------------------------
    // Workflow steps

    /// Puts a task at `filters[pos].targets[k]` and routes it from there, following skips and
    /// already-passed deadlines without recursion.
    pub(crate) fn walk(
        &mut self,
        tsid: Sid<Task>,
        config: Arc<RoutingConfig>,
        mut pos: FilterPos,
        mut k: usize,
    ) {
        loop {
            let now = self.now;
            let Some(t) = self.tasks.get(&tsid) else {
                return;
            };
            if let Some(d) = t.step.as_ref().and_then(|s| s.deadline) {
                self.timers.remove(&(d, Timer::Step(tsid)));
            }
            let target = target_at(&config, pos, k);
            let deadline = step_deadline(&config, pos, k, t.date_created);
            let old_queue = t.queue_sid;
            let queue = target.queue;
            let uses_clock = target.expression.as_ref().is_some_and(|e| e.uses_clock());
            if let Some(t) = self.tasks.get_mut(&tsid) {
                if let Some(p) = target.priority {
                    t.priority = p;
                }
                t.step = Some(Step {
                    config: config.clone(),
                    filter: pos,
                    target: k,
                    deadline,
                });
                if old_queue != Some(queue) {
                    t.queue_sid = Some(queue);
                    t.queue_entered = Some(now);
                }
            }
            if uses_clock {
                self.clock_tasks.insert(tsid);
            } else {
                self.clock_tasks.remove(&tsid);
            }
            let mut e = self.task_event(EventType::WorkflowTargetMatched, tsid);
            if let Some(wf) = e.workflow.as_mut() {
                wf.filter_name = self
                    .tasks
                    .get(&tsid)
                    .and_then(|t| t.step.as_ref()?.filter_name());
            }
            self.emit(e);
            match old_queue {
                None => {
                    let e = self.task_event(EventType::TaskQueueEntered, tsid);
                    self.emit(e);
                }
                Some(old) if old != queue => {
                    let e = self.task_event(EventType::TaskQueueMoved, tsid);
                    self.emit(e);
                }
                Some(_) => {}
            }
            // Offered first, indexed after: a task that finds its workers at once (the usual
            // case) never enters the waiting index, which spares an insertion and a removal
            // (and, for a known-worker task, a set of its own).
            let created = self.try_task(tsid);
            self.refresh_task_index(tsid, false);
            let Some(t) = self.tasks.get(&tsid) else {
                return;
            };
            let pending = t.status == TaskStatus::Pending;
            let mut leave = None;
            if created == 0 && pending {
                if let Some(skip) = &target.skip_if {
                    let q = self.queues.get(&queue);
                    let counts = q.map(|q| Counts { q });
                    let scope = Scope {
                        workers: counts.as_ref().map(|c| c as &dyn QueueCounts),
                        now: Some(Clock::from_unix_millis(now.0)),
                        ..Default::default()
                    };
                    if skip.evaluate(&scope) {
                        leave = Some(Via::Skip);
                    }
                }
            }
            if leave.is_none() {
                match deadline {
                    Some(d) if d <= now && pending => {
                        let e = self.task_event(EventType::TaskQueueTimeout, tsid);
                        self.emit(e);
                        leave = Some(Via::Timeout);
                    }
                    Some(d) => {
                        self.timers.insert((d, Timer::Step(tsid)));
                    }
                    None => {}
                }
            }
            let Some(via) = leave else {
                return;
            };
            match self.next_position(tsid, &config, pos, k, via) {
                Some((p, kk)) => {
                    pos = p;
                    k = kk;
                }
                None => {
                    let (reason, cause) = match via {
                        Via::Timeout => (reasons::WORKFLOW_TIMEOUT, EventType::WorkflowTimeout),
                        Via::Skip => (reasons::WORKFLOW_SKIPPED, EventType::WorkflowSkipped),
                    };
                    self.cancel_task(tsid, Arc::from(reason), Some(cause));
                    return;
                }
            }
        }
    }

    fn next_position(
        &self,
        tsid: Sid<Task>,
        config: &RoutingConfig,
        pos: FilterPos,
        k: usize,
        via: Via,
    ) -> Option<(FilterPos, usize)> {
        let FilterPos::Filter(i) = pos else {
            return None;
        };
        if k + 1 < config.filters[i].targets.len() {
            return Some((pos, k + 1));
        }
        let t = self.tasks.get(&tsid)?;
        if let Some(next) = first_match(config, t.attributes.value(), &t.sid_text, self.now, i + 1)
        {
            return Some((next, 0));
        }
        if via == Via::Skip && config.default_filter.is_some() {
            return Some((FilterPos::Default, 0));
        }
        None
    }

    /// A step deadline passed.
    fn step_timeout(&mut self, tsid: Sid<Task>) {
        let Some(t) = self.tasks.get(&tsid) else {
            return;
        };
        let Some(step) = &t.step else {
            return;
        };
        if step.deadline.is_none_or(|d| d > self.now) || t.routing != Routing::Steps {
            return;
        }
        // A task with an outstanding reservation stays where it is; the deadline is looked at
        // again when the reservations end (see `reservation_ended`).
        if t.status != TaskStatus::Pending {
            return;
        }
        self.leave_step_on_timeout(tsid);
    }

    fn leave_step_on_timeout(&mut self, tsid: Sid<Task>) {
        let Some(step) = self.tasks.get(&tsid).and_then(|t| t.step.clone()) else {
            return;
        };
        let e = self.task_event(EventType::TaskQueueTimeout, tsid);
        self.emit(e);
        match self.next_position(tsid, &step.config, step.filter, step.target, Via::Timeout) {
            Some((p, k)) => self.walk(tsid, step.config.clone(), p, k),
            None => self.cancel_task(
                tsid,
                Arc::from(reasons::WORKFLOW_TIMEOUT),
                Some(EventType::WorkflowTimeout),
            ),
        }
    }

    /// Routes a pending task again from the start of its workflow (after its attributes
    /// changed, or its workflow did with `ReEvaluateTasks`). A task that now matches nothing
    /// stays where it was.
    pub(crate) fn reroute(&mut self, tsid: Sid<Task>, latest_config: bool) {
        let Some(t) = self.tasks.get(&tsid) else {
            return;
        };
        if t.status != TaskStatus::Pending || t.routing != Routing::Steps {
            return;
        }
        let Some(step) = &t.step else {
            return;
        };
        let config = match t.workflow_sid.and_then(|wf| self.workflows.get(&wf)) {
            Some(wf) if latest_config || t.routing_target.is_none() => wf.config.clone(),
            _ => step.config.clone(),
        };
        let pos = first_match(&config, t.attributes.value(), &t.sid_text, self.now, 0)
            .or(config.default_filter.as_ref().map(|_| FilterPos::Default));
        let Some(pos) = pos else {
            return;
        };
        if Arc::ptr_eq(&config, &step.config) && step.filter == pos {
            self.refresh_task_index(tsid, true);
            return;
        }
        self.walk(tsid, config, pos, 0);
    }

    // ----------------------------------------------------------------------------------------
    // Matching

    /// Drains the dirty lists. Tasks first: a task that was just declined goes to the
    /// longest-idle other worker before its decliner looks for work.
    pub(crate) fn run_matching(&mut self) {
        loop {
            if let Some(t) = self.dirty_tasks.pop() {
                self.try_task(t);
            } else if let Some(w) = self.dirty_workers.pop() {
                self.try_worker(w);
            } else {
                break;
            }
        }
    }

    /// Offers a waiting task to as many eligible ready workers as it still wants. Returns how
    /// many reservations were made.
    pub(crate) fn try_task(&mut self, tsid: Sid<Task>) -> usize {
        // The candidates go in a buffer the workspace keeps, so routing a task allocates no
        // list of them (a nested call, should one happen, just starts a buffer of its own).
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();
        self.task_candidates(tsid, &mut candidates);
        let mut made = 0;
        for &w in &candidates {
            let live = self
                .tasks
                .get(&tsid)
                .is_some_and(|t| matches!(t.status, TaskStatus::Pending | TaskStatus::Reserved));
            if !live {
                break;
            }
            self.reserve(tsid, w);
            made += 1;
        }
        candidates.clear();
        self.candidates = candidates;
        made
    }

    /// The workers to offer a waiting task to now, best first, into `out` (empty on entry).
    fn task_candidates(&self, tsid: Sid<Task>, out: &mut Vec<Sid<Worker>>) {
        let Some(t) = self.tasks.get(&tsid) else {
            return;
        };
        if !matches!(t.status, TaskStatus::Pending | TaskStatus::Reserved) {
            return;
        }
        let slot = t.channel_slot;
        match t.routing {
            Routing::Worker {
                worker,
                ignore_capacity,
            } => {
                if t.live_pending > 0 {
                    return;
                }
                let Some(w) = self.workers.get(&worker) else {
                    return;
                };
                let ok = ignore_capacity
                    || (self.worker_ready(w, slot) && !self.has_live_reservation(t, worker));
                if ok {
                    out.push(worker);
                }
            }
            Routing::Steps => {
                let Some(step) = &t.step else {
                    return;
                };
                let target = step.target();
                let Some(q) = self.queues.get(&target.queue) else {
                    return;
                };
                let want = if target.known_worker.is_some() {
                    1
                } else {
                    q.max_reserved_workers
                };
                let Some(need) = want.checked_sub(t.live_pending).filter(|n| *n > 0) else {
                    return;
                };
                let need = need as usize;
                if let Some(kw) = &target.known_worker {
                    let Some(w) =
                        known_key(t.attributes.value(), kw).and_then(|who| self.lookup_known(&who))
                    else {
                        return;
                    };
                    let ok = q.members.contains(&w.sid)
                        && self.worker_ready(w, slot)
                        && self.step_eligible(w, t, target);
                    if ok {
                        out.push(w.sid);
                    }
                    return;
                }
                let ready_here = self.ready_count(q, slot);
                if ready_here == 0 {
                    return;
                }
                let Some(ready) = self.ready.get(slot) else {
                    return;
                };
                let eligible = |w: &Sid<Worker>| {
                    let w = self.workers.get(w)?;
                    self.step_eligible(w, t, target).then_some(w)
                };
                // Either walk the workspace's ready workers in idle order until enough members
                // turn up (about ready/ready_here steps), or look at every member: whichever is
                // expected to be shorter. Neither touches workers outside the two sets.
                let walk_ready = target.order_by.is_none()
                    && (ready.len() as u64) <= u64::from(ready_here) * (q.members.len() as u64);
                if walk_ready {
                    out.extend(
                        ready
                            .iter()
                            .filter(|(_, w)| q.members.contains(w))
                            .filter_map(|(_, w)| eligible(w))
                            .take(need)
                            .map(|w| w.sid),
                    );
                    return;
                }
                let mut all: Vec<(Timestamp, &WorkerRecord)> = q
                    .members
                    .iter()
                    .filter_map(|w| {
                        let key = self.workers.get(w)?.indexed.get(slot).copied().flatten()?;
                        Some((key, eligible(w)?))
                    })
                    .collect();
                all.sort_by_key(|(key, w)| (*key, w.sid));
                if let Some(order) = &target.order_by {
                    // A stable sort keeps longest idle first among equals.
                    all.sort_by(|(_, a), (_, b)| {
                        order.compare(&self.worker_view(a), &self.worker_view(b))
                    });
                }
                out.extend(all.into_iter().take(need).map(|(_, w)| w.sid));
            }
        }
    }

    /// Gives a ready worker the best waiting tasks it is eligible for, while it has capacity.
    pub(crate) fn try_worker(&mut self, wsid: Sid<Worker>) {
        while let Some(tsid) = self.best_task_for(wsid) {
            self.reserve(tsid, wsid);
        }
    }

    fn best_task_for(&self, wsid: Sid<Worker>) -> Option<Sid<Task>> {
        let w = self.workers.get(&wsid)?;
        let mut best: Option<(OrderKey, Sid<Task>)> = None;
        for (slot, idx) in w.indexed.iter().enumerate() {
            if idx.is_none() {
                continue;
            }
            for (q, num) in w.queues.iter().zip(&w.queue_nums) {
                let at = *num as usize * MAX_TASK_CHANNELS + slot;
                if self.waiting_counts.get(at).is_none_or(|n| *n == 0) {
                    continue;
                }
                let Some(waiting) = self.queues.get(q).and_then(|q| q.waiting.get(slot)) else {
                    continue;
                };
                if waiting.is_empty() {
                    continue;
                }
                for entry in waiting {
                    if best.is_some_and(|b| b <= *entry) {
                        break;
                    }
                    let Some(t) = self.tasks.get(&entry.1) else {
                        continue;
                    };
                    let Some(step) = &t.step else {
                        continue;
                    };
                    if self.step_eligible(w, t, step.target()) {
                        best = Some(*entry);
                        break;
                    }
                }
            }
        }
        if self.known_waiting.is_empty() {
            // The common case; spares building the name key below.
            return best.map(|(_, t)| t);
        }
        let name = KnownKey::Name(w.name_key.clone());
        for who in [KnownKey::Sid(wsid), name] {
            let Some(waiting) = self.known_waiting.get(&who) else {
                continue;
            };
            for entry in waiting {
                if best.is_some_and(|b| b <= *entry) {
                    break;
                }
                let Some(t) = self.tasks.get(&entry.1) else {
                    continue;
                };
                if w.indexed.get(t.channel_slot).is_none_or(Option::is_none) {
                    continue;
                }
                let ok = match (&t.routing, &t.step) {
                    (Routing::Worker { .. }, _) => !self.has_live_reservation(t, wsid),
                    (Routing::Steps, Some(step)) => {
                        let target = step.target();
                        self.queues
                            .get(&target.queue)
                            .is_some_and(|q| q.members.contains(&wsid))
                            && self.step_eligible(w, t, target)
                    }
                    (Routing::Steps, None) => false,
                };
                if ok {
                    best = Some(*entry);
                    break;
                }
            }
        }
        best.map(|(_, t)| t)
    }

    /// Whether a ready member may be offered this task at this target.
    fn step_eligible(&self, w: &WorkerRecord, t: &TaskRecord, target: &Target) -> bool {
        if self.has_live_reservation(t, w.sid) {
            return false;
        }
        match &target.expression {
            None => true,
            Some(e) => {
                let view = self.worker_view(w);
                e.evaluate(&Scope {
                    task: Some(TaskScope {
                        attributes: t.attributes.value(),
                        sid: Some(&t.sid_text),
                    }),
                    worker: Some(&view),
                    workers: None,
                    now: Some(Clock::from_unix_millis(self.now.0)),
                })
            }
        }
    }

    fn has_live_reservation(&self, t: &TaskRecord, worker: Sid<Worker>) -> bool {
        t.reservations.iter().any(|r| {
            self.reservations
                .get(r)
                .is_some_and(|r| r.worker_sid == worker && r.status.is_live())
        })
    }

    fn lookup_known(&self, who: &KnownKey) -> Option<&WorkerRecord> {
        match who {
            KnownKey::Sid(s) => self.workers.get(s),
            KnownKey::Name(n) => self.worker_names.get(n).and_then(|s| self.workers.get(s)),
        }
    }

    /// How many of the queue's members are ready on this channel.
    pub(crate) fn ready_count(&self, q: &QueueRecord, slot: usize) -> u32 {
        self.ready_counts
            .get(q.num as usize * MAX_TASK_CHANNELS + slot)
            .copied()
            .unwrap_or(0)
    }

    /// Whether a worker can be offered a task of this channel right now.
    pub(crate) fn worker_ready(&self, w: &WorkerRecord, slot: usize) -> bool {
        let Some(Some(wc)) = w.channels.get(slot) else {
            return false;
        };
        self.activities
            .get(&w.activity_sid)
            .is_some_and(|a| a.available)
            && wc.available
            && wc.live < wc.capacity
            && (self.multi_task || w.reservations.is_empty())
    }

    fn idle_key(&self, w: &WorkerRecord, slot: usize) -> Timestamp {
        let per_channel = self
            .channels
            .get(slot)
            .and_then(Option::as_ref)
            .is_some_and(|c| c.channel_optimized_routing);
        let last = if per_channel {
            w.channels
                .get(slot)
                .and_then(Option::as_ref)
                .map_or(w.last_reserved, |wc| wc.last_reserved)
        } else {
            w.last_reserved
        };
        w.available_since.max(last)
    }

    // ----------------------------------------------------------------------------------------
    // Reservations

    fn reserve(&mut self, tsid: Sid<Task>, wsid: Sid<Worker>) {
        let now = self.now;
        let Some(t) = self.tasks.get(&tsid) else {
            return;
        };
        if t.status == TaskStatus::Pending && t.assignment_count >= MAX_ASSIGNMENT_COUNT {
            self.cancel_task(tsid, Arc::from(reasons::MAX_ASSIGNMENTS), None);
            return;
        }
        let rsid = self.derive_reservation_sid(tsid, t.reservation_seq);
        let timeout = t
            .workflow_sid
            .and_then(|wf| self.workflows.get(&wf))
            .map_or(DEFAULT_RESERVATION_TIMEOUT, |wf| {
                wf.task_reservation_timeout
            });
        let (queue, slot) = (t.queue_sid, t.channel_slot);
        let known = match (&t.routing, &t.step) {
            (Routing::Worker { worker, .. }, _) => Some(*worker),
            (Routing::Steps, Some(step)) if step.target().known_worker.is_some() => Some(wsid),
            _ => None,
        };
        if let Some(t) = self.tasks.get_mut(&tsid) {
            t.reservation_seq += 1;
            t.reservations.push(rsid);
            t.live_pending += 1;
            if t.status == TaskStatus::Pending {
                t.status = TaskStatus::Reserved;
                t.assignment_count += 1;
            }
            t.date_updated = now;
        }
        let deadline = now.plus_secs(timeout);
        self.reservations.insert(
            rsid,
            ReservationRecord {
                sid: rsid,
                task_sid: tsid,
                worker_sid: wsid,
                queue_sid: queue,
                status: ReservationStatus::Pending,
                date_created: now,
                date_updated: now,
                deadline: Some(deadline),
                channel_slot: slot,
            },
        );
        self.timers.insert((deadline, Timer::Reservation(rsid)));
        if let Some(w) = self.workers.get_mut(&wsid) {
            w.reservations.push(rsid);
            w.last_reserved = now;
            if let Some(Some(wc)) = w.channels.get_mut(slot) {
                wc.live += 1;
                wc.last_reserved = now;
            }
        }
        self.refresh_task_index(tsid, false);
        self.refresh_worker_index(wsid, false);
        let mut e = self.reservation_event(EventType::ReservationCreated, rsid);
        e.known_worker_sid = known;
        self.emit(e);
        if !self.multi_task {
            if let Some(a) = queue
                .and_then(|q| self.queues.get(&q))
                .and_then(|q| q.reservation_activity_sid)
            {
                self.set_activity(wsid, a, OnUnavailable::Keep);
            }
        }
    }

    pub(crate) fn accept(&mut self, rsid: Sid<Reservation>) {
        let now = self.now;
        let Some(r) = self.reservations.get_mut(&rsid) else {
            return;
        };
        let (tsid, wsid, slot) = (r.task_sid, r.worker_sid, r.channel_slot);
        if let Some(d) = r.deadline.take() {
            self.timers.remove(&(d, Timer::Reservation(rsid)));
        }
        r.status = ReservationStatus::Accepted;
        r.date_updated = now;
        if let Some(Some(wc)) = self
            .workers
            .get_mut(&wsid)
            .and_then(|w| w.channels.get_mut(slot))
        {
            wc.assigned += 1;
        }
        let mut others = Vec::new();
        if let Some(t) = self.tasks.get_mut(&tsid) {
            t.live_pending = t.live_pending.saturating_sub(1);
            t.status = TaskStatus::Assigned;
            t.date_updated = now;
            t.version += 1;
            if let Some(d) = t.step.as_ref().and_then(|s| s.deadline) {
                self.timers.remove(&(d, Timer::Step(tsid)));
            }
            self.timers
                .remove(&(t.date_created.plus_secs(t.timeout), Timer::Ttl(tsid)));
            others = t.reservations.clone();
        }
        self.clock_tasks.remove(&tsid);
        self.refresh_task_index(tsid, false);
        let e = self.reservation_event(EventType::ReservationAccepted, rsid);
        self.emit(e);
        for other in others {
            let pending = self
                .reservations
                .get(&other)
                .is_some_and(|r| r.status == ReservationStatus::Pending);
            if pending {
                self.close_pending(other, ReservationStatus::Rescinded);
            }
        }
        if !self.multi_task {
            let activity = self
                .tasks
                .get(&tsid)
                .and_then(|t| t.queue_sid)
                .and_then(|q| self.queues.get(&q))
                .and_then(|q| q.assignment_activity_sid);
            if let Some(a) = activity {
                self.set_activity(wsid, a, OnUnavailable::Keep);
            }
        }
    }

    /// Ends a pending reservation (rejected, timed out, or canceled because its worker left)
    /// and sends its task back to matching.
    pub(crate) fn end_pending(&mut self, rsid: Sid<Reservation>, status: ReservationStatus) {
        let Some(tsid) = self.reservations.get(&rsid).map(|r| r.task_sid) else {
            return;
        };
        self.close_pending(rsid, status);
        self.reservation_ended(tsid);
    }

    /// Closes a pending reservation, frees its worker and emits the event; the task is the
    /// caller's business.
    fn close_pending(&mut self, rsid: Sid<Reservation>, status: ReservationStatus) {
        let now = self.now;
        let Some(r) = self.reservations.get_mut(&rsid) else {
            return;
        };
        if let Some(d) = r.deadline.take() {
            self.timers.remove(&(d, Timer::Reservation(rsid)));
        }
        r.status = status;
        r.date_updated = now;
        let (tsid, wsid, slot) = (r.task_sid, r.worker_sid, r.channel_slot);
        // The task's count goes first, so the event shows the task as it now is.
        if let Some(t) = self.tasks.get_mut(&tsid) {
            t.live_pending = t.live_pending.saturating_sub(1);
            if t.live_pending == 0 && t.status == TaskStatus::Reserved {
                t.status = TaskStatus::Pending;
                t.date_updated = now;
            }
        }
        self.release_worker(wsid, rsid, slot, false);
        let event = match status {
            ReservationStatus::Rejected => EventType::ReservationRejected,
            ReservationStatus::Timeout => EventType::ReservationTimeout,
            ReservationStatus::Rescinded => EventType::ReservationRescinded,
            _ => EventType::ReservationCanceled,
        };
        let e = self.reservation_event(event, rsid);
        self.emit(e);
    }

    fn release_worker(
        &mut self,
        wsid: Sid<Worker>,
        rsid: Sid<Reservation>,
        slot: usize,
        assigned: bool,
    ) {
        if let Some(w) = self.workers.get_mut(&wsid) {
            w.reservations.retain(|r| *r != rsid);
            if let Some(Some(wc)) = w.channels.get_mut(slot) {
                wc.live = wc.live.saturating_sub(1);
                if assigned {
                    wc.assigned = wc.assigned.saturating_sub(1);
                }
            }
        }
        self.refresh_worker_index(wsid, true);
    }

    /// A pending reservation of this task ended without acceptance (its count is already down):
    /// time the step out if its deadline passed meanwhile, else look for another worker.
    fn reservation_ended(&mut self, tsid: Sid<Task>) {
        let now = self.now;
        let Some(t) = self.tasks.get(&tsid) else {
            return;
        };
        let overdue = t.status == TaskStatus::Pending
            && t.routing == Routing::Steps
            && t.step
                .as_ref()
                .and_then(|s| s.deadline)
                .is_some_and(|d| d <= now);
        if overdue {
            self.leave_step_on_timeout(tsid);
        } else {
            self.refresh_task_index(tsid, true);
        }
    }

    pub(crate) fn wrap(&mut self, rsid: Sid<Reservation>) {
        let now = self.now;
        let Some(r) = self.reservations.get_mut(&rsid) else {
            return;
        };
        r.status = ReservationStatus::Wrapping;
        r.date_updated = now;
        let tsid = r.task_sid;
        if let Some(t) = self.tasks.get_mut(&tsid) {
            t.status = TaskStatus::Wrapping;
            t.date_updated = now;
            t.version += 1;
        }
        let e = self.task_event(EventType::TaskWrapup, tsid);
        self.emit(e);
        let e = self.reservation_event(EventType::ReservationWrapup, rsid);
        self.emit(e);
    }

    pub(crate) fn complete(&mut self, rsid: Sid<Reservation>, reason: Option<Arc<str>>) {
        let now = self.now;
        let Some(r) = self.reservations.get_mut(&rsid) else {
            return;
        };
        r.status = ReservationStatus::Completed;
        r.date_updated = now;
        let (tsid, wsid, slot) = (r.task_sid, r.worker_sid, r.channel_slot);
        if let Some(t) = self.tasks.get_mut(&tsid) {
            t.status = TaskStatus::Completed;
            t.reason = reason.or_else(|| Some(Arc::from("completed")));
            t.date_updated = now;
            t.version += 1;
        }
        self.release_worker(wsid, rsid, slot, true);
        let e = self.task_event(EventType::TaskCompleted, tsid);
        self.emit(e);
        let e = self.reservation_event(EventType::ReservationCompleted, rsid);
        self.emit(e);
        self.remove_task(tsid);
    }

    /// Ends a task that has no accepted reservation to end with it.
    pub(crate) fn finish_task(
        &mut self,
        tsid: Sid<Task>,
        status: TaskStatus,
        reason: Option<Arc<str>>,
    ) {
        if let Some(t) = self.tasks.get_mut(&tsid) {
            t.status = status;
            t.reason = reason;
            t.version += 1;
        }
        let kind = if status == TaskStatus::Completed {
            EventType::TaskCompleted
        } else {
            EventType::TaskCanceled
        };
        let e = self.task_event(kind, tsid);
        self.emit(e);
        self.remove_task(tsid);
    }

    /// Cancels a pending or reserved task: its pending reservations are canceled.
    pub(crate) fn cancel_task(
        &mut self,
        tsid: Sid<Task>,
        reason: Arc<str>,
        cause: Option<EventType>,
    ) {
        let Some(t) = self.tasks.get_mut(&tsid) else {
            return;
        };
        t.status = TaskStatus::Canceled;
        t.reason = Some(reason);
        t.version += 1;
        let pending: Vec<Sid<Reservation>> = t.reservations.clone();
        if let Some(cause) = cause {
            let e = self.task_event(cause, tsid);
            self.emit(e);
        }
        for r in pending {
            if self
                .reservations
                .get(&r)
                .is_some_and(|r| r.status == ReservationStatus::Pending)
            {
                self.close_pending(r, ReservationStatus::Canceled);
            }
        }
        let e = self.task_event(EventType::TaskCanceled, tsid);
        self.emit(e);
        self.remove_task(tsid);
    }

    /// Drops a task and its reservations from the engine, releasing any worker still held.
    pub(crate) fn remove_task(&mut self, tsid: Sid<Task>) {
        let Some(t) = self.tasks.get_mut(&tsid) else {
            return;
        };
        // Make the index drop it, whatever its status was.
        t.status = match t.status {
            TaskStatus::Completed => TaskStatus::Completed,
            _ => TaskStatus::Canceled,
        };
        self.refresh_task_index(tsid, false);
        let Some(t) = self.tasks.remove(&tsid) else {
            return;
        };
        if let Some(d) = t.step.as_ref().and_then(|s| s.deadline) {
            self.timers.remove(&(d, Timer::Step(tsid)));
        }
        self.timers
            .remove(&(t.date_created.plus_secs(t.timeout), Timer::Ttl(tsid)));
        self.clock_tasks.remove(&tsid);
        let mut reservations = Vec::with_capacity(t.reservations.len());
        for rsid in &t.reservations {
            let Some(r) = self.reservations.remove(rsid) else {
                continue;
            };
            if let Some(d) = r.deadline {
                self.timers.remove(&(d, Timer::Reservation(*rsid)));
            }
            if r.status.is_live() {
                let assigned = r.status != ReservationStatus::Pending;
                self.release_worker(r.worker_sid, *rsid, r.channel_slot, assigned);
            }
            reservations.push(r);
        }
        self.finished.push(FinishedTask {
            task: t,
            reservations,
        });
    }

    // ----------------------------------------------------------------------------------------
    // Workers: activity and queue membership

    pub(crate) fn set_activity(
        &mut self,
        wsid: Sid<Worker>,
        activity: Sid<Activity>,
        mode: OnUnavailable,
    ) {
        let now = self.now;
        let Some(w) = self.workers.get(&wsid) else {
            return;
        };
        let old = w.activity_sid;
        if old == activity {
            return;
        }
        let was_available = self.activities.get(&old).is_some_and(|a| a.available);
        let is_available = self.activities.get(&activity).is_some_and(|a| a.available);
        let previous = PreviousActivity {
            sid: old,
            friendly_name: self.activity_name(old),
            time_in_ms: now.millis_since(w.date_status_changed),
        };
        let queues = w.queues.clone();
        for q in &queues {
            if let Some(q) = self.queues.get_mut(q) {
                if let Some(c) = q.activity_counts.get_mut(&old) {
                    *c = c.saturating_sub(1);
                }
                *q.activity_counts.entry(activity).or_insert(0) += 1;
                if was_available {
                    q.available_members = q.available_members.saturating_sub(1);
                }
                if is_available {
                    q.available_members += 1;
                }
            }
        }
        if let Some(w) = self.workers.get_mut(&wsid) {
            w.activity_sid = activity;
            w.date_status_changed = now;
            w.date_updated = now;
            w.version += 1;
            if is_available && !was_available {
                w.available_since = now;
            }
        }
        let mut e = self.worker_event(EventType::WorkerActivityUpdate, wsid);
        e.previous_activity = Some(Box::new(previous));
        self.emit(e);
        if was_available && !is_available && mode != OnUnavailable::Keep {
            let pending: Vec<Sid<Reservation>> = self
                .workers
                .get(&wsid)
                .map(|w| w.reservations.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|r| {
                    self.reservations.get(r).is_some_and(|r| {
                        r.status == ReservationStatus::Pending
                            && !self.tasks.get(&r.task_sid).is_some_and(|t| {
                                matches!(
                                    t.routing,
                                    Routing::Worker {
                                        ignore_capacity: true,
                                        ..
                                    }
                                )
                            })
                    })
                })
                .collect();
            let status = if mode == OnUnavailable::Reject {
                ReservationStatus::Rejected
            } else {
                ReservationStatus::Canceled
            };
            for r in pending {
                self.end_pending(r, status);
            }
        }
        self.reevaluate_membership(wsid, |e| {
            let roots = e.worker_roots();
            roots.contains("activity_sid") || roots.contains("activity_name")
        });
        self.refresh_worker_index(wsid, true);
    }

    /// Re-evaluates the worker against the queues whose expression `affects` says may change.
    pub(crate) fn reevaluate_membership(
        &mut self,
        wsid: Sid<Worker>,
        affects: impl Fn(&switchboard_expr::Expression) -> bool,
    ) {
        let Some(w) = self.workers.get(&wsid) else {
            return;
        };
        let view = self.worker_view(w);
        let changes: Vec<(Sid<TaskQueue>, bool)> = self
            .queue_order
            .iter()
            .filter_map(|q| self.queues.get(q))
            .filter_map(|q| {
                let expr = q.target_workers.as_ref()?;
                if !affects(expr) {
                    return None;
                }
                let should = expr.evaluate(&Scope {
                    worker: Some(&view),
                    ..Default::default()
                });
                (should != q.members.contains(&wsid)).then_some((q.sid, should))
            })
            .collect();
        for (q, member) in changes {
            self.set_membership(wsid, q, member);
        }
    }

    pub(crate) fn recompute_queue_members(&mut self, qsid: Sid<TaskQueue>) {
        let Some(q) = self.queues.get(&qsid) else {
            return;
        };
        let mut changes: Vec<(Sid<Worker>, bool)> = self
            .workers
            .values()
            .filter_map(|w| {
                let should = q.target_workers.as_ref().is_some_and(|e| {
                    e.evaluate(&Scope {
                        worker: Some(&self.worker_view(w)),
                        ..Default::default()
                    })
                });
                (should != q.members.contains(&w.sid)).then_some((w.sid, should))
            })
            .collect();
        changes.sort();
        for (w, member) in changes {
            self.set_membership(w, qsid, member);
        }
    }

    pub(crate) fn set_membership(&mut self, wsid: Sid<Worker>, qsid: Sid<TaskQueue>, member: bool) {
        let Some(w) = self.workers.get_mut(&wsid) else {
            return;
        };
        let Some(q) = self.queues.get_mut(&qsid) else {
            return;
        };
        let available = self
            .activities
            .get(&w.activity_sid)
            .is_some_and(|a| a.available);
        if member {
            if !q.members.insert(wsid) {
                return;
            }
            if let Err(i) = w.queues.binary_search(&qsid) {
                w.queues.insert(i, qsid);
                w.queue_nums.insert(i, q.num);
            }
            *q.activity_counts.entry(w.activity_sid).or_insert(0) += 1;
            if available {
                q.available_members += 1;
            }
            for (slot, key) in w.indexed.iter().enumerate() {
                let at = q.num as usize * MAX_TASK_CHANNELS + slot;
                if let (Some(_), Some(n)) = (key, self.ready_counts.get_mut(at)) {
                    *n += 1;
                }
            }
            self.dirty_workers.push(wsid);
        } else {
            if !q.members.remove(&wsid) {
                return;
            }
            if let Ok(i) = w.queues.binary_search(&qsid) {
                w.queues.remove(i);
                w.queue_nums.remove(i);
            }
            if let Some(c) = q.activity_counts.get_mut(&w.activity_sid) {
                *c = c.saturating_sub(1);
            }
            if available {
                q.available_members = q.available_members.saturating_sub(1);
            }
            for (slot, key) in w.indexed.iter().enumerate() {
                let at = q.num as usize * MAX_TASK_CHANNELS + slot;
                if let (Some(_), Some(n)) = (key, self.ready_counts.get_mut(at)) {
                    *n = n.saturating_sub(1);
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Indexes

    /// Puts the worker where it belongs in the ready sets, and keeps its queues' ready counts.
    /// `mark` asks for a matching pass even if its readiness did not change (its attributes or
    /// activity did).
    pub(crate) fn refresh_worker_index(&mut self, wsid: Sid<Worker>, mark: bool) {
        let Some(w) = self.workers.get(&wsid) else {
            return;
        };
        // Runs twice per reservation, so it allocates nothing: the new keys go in a fixed array
        // (channel slots are reused, so there are at most `MAX_TASK_CHANNELS`).
        let slots = self.channels.len().min(MAX_TASK_CHANNELS);
        let mut keys = [None; MAX_TASK_CHANNELS];
        let mut changed = false;
        let mut ready_any = false;
        let mut became_ready = false;
        for (slot, key) in keys.iter_mut().enumerate().take(slots) {
            let new = (self.channels[slot].is_some() && self.worker_ready(w, slot))
                .then(|| self.idle_key(w, slot));
            *key = new;
            ready_any |= new.is_some();
            let old = w.indexed.get(slot).copied().flatten();
            if new == old {
                continue;
            }
            changed = true;
            became_ready |= old.is_none();
            if let Some(ready) = self.ready.get_mut(slot) {
                if let Some(old) = old {
                    ready.remove(&(old, wsid));
                }
                if let Some(new) = new {
                    ready.insert((new, wsid));
                }
            }
            // Only a change of readiness (not of idle time) moves the queues' counters.
            if old.is_some() != new.is_some() {
                for num in &w.queue_nums {
                    let at = *num as usize * MAX_TASK_CHANNELS + slot;
                    if let Some(n) = self.ready_counts.get_mut(at) {
                        *n = if new.is_some() {
                            *n + 1
                        } else {
                            n.saturating_sub(1)
                        };
                    }
                }
            }
        }
        if changed {
            if let Some(w) = self.workers.get_mut(&wsid) {
                for (i, key) in w.indexed.iter_mut().zip(keys).take(slots) {
                    *i = key;
                }
            }
        }
        if ready_any && (became_ready || mark) {
            self.dirty_workers.push(wsid);
        }
    }

    /// Puts the task where it belongs in the waiting indexes. `mark` asks for a matching pass
    /// even if its place did not change (its attributes did).
    pub(crate) fn refresh_task_index(&mut self, tsid: Sid<Task>, mark: bool) {
        let Some(t) = self.tasks.get(&tsid) else {
            return;
        };
        let desired = self.desired_index(t);
        let old = t.indexed.clone();
        if desired == old {
            if mark && desired.is_some() {
                self.dirty_tasks.push(tsid);
            }
            return;
        }
        match &old {
            Some(IndexPos::Queue { queue, slot, key }) => {
                if let Some(q) = self.queues.get_mut(queue) {
                    let removed = q
                        .waiting
                        .get_mut(*slot)
                        .is_some_and(|set| set.remove(&(*key, tsid)));
                    let at = q.num as usize * MAX_TASK_CHANNELS + slot;
                    if let (true, Some(n)) = (removed, self.waiting_counts.get_mut(at)) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            Some(IndexPos::Known { who, key }) => {
                if let Some(set) = self.known_waiting.get_mut(who) {
                    set.remove(&(*key, tsid));
                    if set.is_empty() {
                        self.known_waiting.remove(who);
                    }
                }
            }
            None => {}
        }
        match &desired {
            Some(IndexPos::Queue { queue, slot, key }) => {
                if let Some(q) = self.queues.get_mut(queue) {
                    let inserted = q
                        .waiting
                        .get_mut(*slot)
                        .is_some_and(|set| set.insert((*key, tsid)));
                    let at = q.num as usize * MAX_TASK_CHANNELS + slot;
                    if let (true, Some(n)) = (inserted, self.waiting_counts.get_mut(at)) {
                        *n += 1;
                    }
                }
            }
            Some(IndexPos::Known { who, key }) => {
                self.known_waiting
                    .entry(who.clone())
                    .or_default()
                    .insert((*key, tsid));
            }
            None => {}
        }
        let wanting = desired.is_some();
        if let Some(t) = self.tasks.get_mut(&tsid) {
            t.indexed = desired;
        }
        if wanting {
            self.dirty_tasks.push(tsid);
        }
    }

    fn desired_index(&self, t: &TaskRecord) -> Option<IndexPos> {
        if !matches!(t.status, TaskStatus::Pending | TaskStatus::Reserved) {
            return None;
        }
        match t.routing {
            Routing::Worker {
                worker,
                ignore_capacity,
            } => (!ignore_capacity && t.live_pending == 0).then(|| IndexPos::Known {
                who: KnownKey::Sid(worker),
                key: self.order_key(t, t.queue_sid),
            }),
            Routing::Steps => {
                let step = t.step.as_ref()?;
                let target = step.target();
                let q = self.queues.get(&target.queue)?;
                let want = if target.known_worker.is_some() {
                    1
                } else {
                    q.max_reserved_workers
                };
                if t.live_pending >= want {
                    return None;
                }
                let key = self.order_key(t, Some(target.queue));
                match &target.known_worker {
                    Some(kw) => {
                        known_key(t.attributes.value(), kw).map(|who| IndexPos::Known { who, key })
                    }
                    None => Some(IndexPos::Queue {
                        queue: target.queue,
                        slot: t.channel_slot,
                        key,
                    }),
                }
            }
        }
    }

    fn order_key(&self, t: &TaskRecord, queue: Option<Sid<TaskQueue>>) -> OrderKey {
        let order = queue
            .and_then(|q| self.queues.get(&q))
            .map_or(TaskOrder::Fifo, |q| q.task_order);
        let family = u8::from(order != self.prioritize);
        match order {
            TaskOrder::Fifo => OrderKey {
                family,
                primary: -i64::from(t.priority),
                secondary: t.virtual_start_time.0,
            },
            TaskOrder::Lifo => OrderKey {
                family,
                primary: t.virtual_start_time.0.saturating_neg(),
                secondary: 0,
            },
        }
    }

    /// Recomputes the waiting keys of the tasks `which` selects (after an order setting changed).
    pub(crate) fn rekey_tasks(&mut self, which: impl Fn(&TaskRecord) -> bool) {
        let mut sids: Vec<Sid<Task>> = self
            .tasks
            .values()
            .filter(|t| which(t))
            .map(|t| t.sid)
            .collect();
        sids.sort();
        for t in sids {
            self.refresh_task_index(t, false);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Deadlines

    pub(crate) fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::Reservation(rsid) => {
                let Some(r) = self.reservations.get(&rsid) else {
                    return;
                };
                if r.status != ReservationStatus::Pending {
                    return;
                }
                let wsid = r.worker_sid;
                self.end_pending(rsid, ReservationStatus::Timeout);
                if let Some(a) = self.timeout_activity {
                    self.set_activity(wsid, a, OnUnavailable::Cancel);
                }
            }
            Timer::Step(tsid) => self.step_timeout(tsid),
            Timer::Ttl(tsid) => {
                let live = self.tasks.get(&tsid).is_some_and(|t| {
                    matches!(t.status, TaskStatus::Pending | TaskStatus::Reserved)
                });
                if live {
                    self.cancel_task(tsid, Arc::from(reasons::TTL), None);
                }
            }
            Timer::Clock => {
                self.clock_timer = None;
                let tasks: Vec<Sid<Task>> = self.clock_tasks.iter().copied().collect();
                self.dirty_tasks.extend(tasks);
            }
        }
    }

    /// Keeps a minute tick scheduled while some waiting task's target reads the clock, so a
    /// target like `taskrouter.currentHour >= 9` is tried again when the hour comes.
    pub(crate) fn schedule_clock(&mut self) {
        match (self.clock_tasks.is_empty(), self.clock_timer) {
            (false, None) => {
                let at = Timestamp((self.now.0.div_euclid(60_000) + 1) * 60_000);
                self.timers.insert((at, Timer::Clock));
                self.clock_timer = Some(at);
            }
            (true, Some(at)) => {
                self.timers.remove(&(at, Timer::Clock));
                self.clock_timer = None;
            }
            _ => {}
        }
    }

    // ----------------------------------------------------------------------------------------
    // Views and events

    pub(crate) fn worker_view<'a>(&'a self, w: &'a WorkerRecord) -> WorkerView<'a> {
        WorkerView { ws: self, w }
    }

    #[inline]
    pub(crate) fn emit(&mut self, e: Event) {
        if self.events.capacity() == 0 {
            // Room for a whole routing decision's events (five for a task created and
            // reserved) in one allocation, instead of growing from four and copying.
            self.events.reserve(EVENTS_PER_BATCH);
        }
        self.events.push(e);
    }

    fn task_snapshot(&self, t: &TaskRecord) -> TaskSnapshot {
        let channel = self.channels.get(t.channel_slot).and_then(Option::as_ref);
        TaskSnapshot {
            sid: t.sid,
            attributes: t.attributes.clone(),
            assignment_status: t.status,
            priority: t.priority,
            age: self.now.secs_since(t.date_created),
            date_created: t.date_created,
            reason: t.reason.clone(),
            channel_sid: t.channel_sid,
            channel_unique_name: channel.map_or_else(|| Arc::from(""), |c| c.unique_name.clone()),
            queue_entered_date: t.queue_entered,
            version: t.version,
        }
    }

    pub(crate) fn worker_snapshot(&self, wsid: Sid<Worker>) -> Option<WorkerSnapshot> {
        let w = self.workers.get(&wsid)?;
        Some(WorkerSnapshot {
            sid: w.sid,
            friendly_name: w.friendly_name.clone(),
            attributes: w.attributes.clone(),
            activity_sid: w.activity_sid,
            activity_name: self.activity_name(w.activity_sid),
            version: w.version,
        })
    }

    pub(crate) fn queue_snapshot(&self, qsid: Sid<TaskQueue>) -> Option<QueueSnapshot> {
        let q = self.queues.get(&qsid)?;
        Some(QueueSnapshot {
            sid: q.sid,
            friendly_name: q.friendly_name.clone(),
            target_expression: q.target_source.clone(),
        })
    }

    pub(crate) fn workflow_snapshot(
        &self,
        wf: Sid<Workflow>,
        filter_name: Option<Arc<str>>,
    ) -> Option<WorkflowSnapshot> {
        let w = self.workflows.get(&wf)?;
        Some(WorkflowSnapshot {
            sid: w.sid,
            friendly_name: w.friendly_name.clone(),
            filter_name,
        })
    }

    pub(crate) fn task_event(&self, kind: EventType, tsid: Sid<Task>) -> Event {
        let mut e = Event::new(kind, self.now, ResourceSid::Task(tsid));
        if let Some(t) = self.tasks.get(&tsid) {
            e.queue = t.queue_sid.and_then(|q| self.queue_snapshot(q));
            e.workflow = t
                .workflow_sid
                .and_then(|wf| self.workflow_snapshot(wf, None));
            e.task = Some(self.task_snapshot(t));
        }
        e
    }

    pub(crate) fn reservation_event(&self, kind: EventType, rsid: Sid<Reservation>) -> Event {
        let mut e = Event::new(kind, self.now, ResourceSid::Reservation(rsid));
        e.reservation_sid = Some(rsid);
        if let Some(r) = self.reservations.get(&rsid) {
            let t = self.tasks.get(&r.task_sid);
            e.task = t.map(|t| self.task_snapshot(t));
            e.worker = self.worker_snapshot(r.worker_sid);
            e.queue = r.queue_sid.and_then(|q| self.queue_snapshot(q));
            e.workflow = t
                .and_then(|t| t.workflow_sid)
                .and_then(|wf| self.workflow_snapshot(wf, None));
        }
        e
    }

    pub(crate) fn worker_event(&self, kind: EventType, wsid: Sid<Worker>) -> Event {
        let mut e = Event::new(kind, self.now, ResourceSid::Worker(wsid));
        e.worker = self.worker_snapshot(wsid);
        e
    }

    pub(crate) fn emit_worker(&mut self, kind: EventType, wsid: Sid<Worker>) {
        let e = self.worker_event(kind, wsid);
        self.emit(e);
    }

    pub(crate) fn worker_channel_event(
        &self,
        kind: EventType,
        wsid: Sid<Worker>,
        slot: usize,
    ) -> Event {
        let mut e = self.worker_event(kind, wsid);
        let wc = self
            .workers
            .get(&wsid)
            .and_then(|w| w.channels.get(slot))
            .and_then(Option::as_ref);
        e.channel = self.channels.get(slot).and_then(Option::as_ref).map(|c| {
            Box::new(ChannelSnapshot {
                sid: c.sid,
                unique_name: c.unique_name.clone(),
                friendly_name: c.friendly_name.clone(),
                worker_channel_available: wc.map(|wc| wc.available),
                worker_channel_capacity: wc.map(|wc| wc.capacity),
                worker_channel_previous_capacity: None,
            })
        });
        e
    }

    pub(crate) fn queue_event(&self, kind: EventType, qsid: Sid<TaskQueue>) -> Event {
        let mut e = Event::new(kind, self.now, ResourceSid::TaskQueue(qsid));
        e.queue = self.queue_snapshot(qsid);
        e
    }

    pub(crate) fn emit_workflow(&mut self, kind: EventType, wf: Sid<Workflow>) {
        let mut e = Event::new(kind, self.now, ResourceSid::Workflow(wf));
        e.workflow = self.workflow_snapshot(wf, None);
        self.emit(e);
    }

    pub(crate) fn emit_activity(&mut self, kind: EventType, sid: Sid<Activity>) {
        let mut e = Event::new(kind, self.now, ResourceSid::Activity(sid));
        e.activity = self.activities.get(&sid).map(|a| {
            Box::new(ActivitySnapshot {
                sid: a.sid,
                friendly_name: a.friendly_name.clone(),
                available: a.available,
            })
        });
        self.emit(e);
    }

    pub(crate) fn emit_channel(&mut self, kind: EventType, slot: usize) {
        let Some(c) = self.channels.get(slot).and_then(Option::as_ref) else {
            return;
        };
        let mut e = Event::new(kind, self.now, ResourceSid::TaskChannel(c.sid));
        e.channel = Some(Box::new(ChannelSnapshot {
            sid: c.sid,
            unique_name: c.unique_name.clone(),
            friendly_name: c.friendly_name.clone(),
            worker_channel_available: None,
            worker_channel_capacity: None,
            worker_channel_previous_capacity: None,
        }));
        self.emit(e);
    }
}

/// The worker as expressions see it.
pub(crate) struct WorkerView<'a> {
    ws: &'a Workspace,
    w: &'a WorkerRecord,
}

impl WorkerFacts for WorkerView<'_> {
    fn attributes(&self) -> &Value {
        self.w.attributes.value()
    }
    fn sid(&self) -> Option<&str> {
        Some(&self.w.sid_text)
    }
    fn friendly_name(&self) -> Option<&str> {
        Some(&self.w.friendly_name)
    }
    fn activity_sid(&self) -> Option<&str> {
        self.ws
            .activities
            .get(&self.w.activity_sid)
            .map(|a| &*a.sid_text)
    }
    fn activity_name(&self) -> Option<&str> {
        self.ws
            .activities
            .get(&self.w.activity_sid)
            .map(|a| &*a.friendly_name)
    }
    fn channel(&self, unique_name: &str) -> Option<ChannelFacts> {
        let slot = self
            .ws
            .channels
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| &*c.unique_name == unique_name))?;
        let wc = self.w.channels.get(slot)?.as_ref()?;
        let free = if wc.capacity == 0 {
            0
        } else {
            (u64::from(wc.capacity.saturating_sub(wc.live)) * 100 / u64::from(wc.capacity)) as u32
        };
        Some(ChannelFacts {
            configured_capacity: wc.capacity,
            assigned_tasks: wc.assigned,
            available_capacity_percentage: free,
        })
    }
}

/// A queue's counters for `skip_if`.
struct Counts<'a> {
    q: &'a QueueRecord,
}

impl QueueCounts for Counts<'_> {
    fn available(&self) -> u64 {
        self.q.available_members
    }
    fn unavailable(&self) -> u64 {
        (self.q.members.len() as u64).saturating_sub(self.q.available_members)
    }
    fn in_activity(&self, activity_sid: &str) -> u64 {
        activity_sid
            .parse::<Sid<Activity>>()
            .map_or(0, |a| self.q.members_in_activity(a))
    }
}

fn target_at(config: &RoutingConfig, pos: FilterPos, k: usize) -> &Target {
    match pos {
        FilterPos::Filter(i) => &config.filters[i].targets[k],
        FilterPos::Default => config
            .default_filter
            .as_ref()
            .unwrap_or_else(|| unreachable!("Default is only chosen when a default_filter exists")),
    }
}

/// Target `k`'s deadline: the task's creation plus the timeouts of targets `0..=k` of its filter.
fn step_deadline(
    config: &RoutingConfig,
    pos: FilterPos,
    k: usize,
    created: Timestamp,
) -> Option<Timestamp> {
    let FilterPos::Filter(i) = pos else {
        return None;
    };
    let targets = &config.filters[i].targets;
    targets[k].timeout?;
    let total: u64 = targets[..=k].iter().filter_map(|t| t.timeout).sum();
    Some(created.plus_secs(total))
}

/// Who a known-worker target names for this task, if anyone.
fn known_key(attributes: &Value, kw: &KnownWorker) -> Option<KnownKey> {
    match kw {
        KnownWorker::Sid(r) => parse_worker_sid(r.resolve(attributes)?).map(KnownKey::Sid),
        KnownWorker::FriendlyName(r) => {
            Some(KnownKey::Name(r.resolve(attributes)?.to_lowercase().into()))
        }
    }
}

/// `text` as a worker SID, exactly as `Sid::<Worker>::from_str` reads one (`WK` and 32 lower-case
/// hex digits), without its generic radix conversion: known-worker routing reads the SID a few
/// times per task.
fn parse_worker_sid(text: &str) -> Option<Sid<Worker>> {
    let digits = text.strip_prefix("WK")?;
    if digits.len() != 32 {
        return None;
    }
    let mut value: u128 = 0;
    for b in digits.bytes() {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        value = (value << 4) | u128::from(d);
    }
    Some(Sid::from_u128(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_worker_sid_matches_from_str() {
        let mut texts: Vec<String> = vec![
            String::new(),
            "WK".into(),
            "wk0123456789abcdef0123456789abcdef".into(),
            "WK0123456789ABCDEF0123456789abcdef".into(),
            "WK0123456789abcdef0123456789abcde".into(),
            "WK0123456789abcdef0123456789abcdef0".into(),
            "WA0123456789abcdef0123456789abcdef".into(),
            "WK0123456789abcdef0123456789abcdeg".into(),
            "WK+123456789abcdef0123456789abcdef".into(),
            "WKé23456789abcdef0123456789abcde".into(),
        ];
        let mut x: u128 = 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C834;
        for _ in 0..200 {
            x = x
                .wrapping_mul(0x2545_F491_4F6C_DD1D)
                .wrapping_add(0x1234_5678_9ABC);
            texts.push(Sid::<Worker>::from_u128(x).to_string());
            texts.push(Sid::<Worker>::from_u128(x >> (x % 128)).to_string());
        }
        for t in &texts {
            assert_eq!(parse_worker_sid(t), t.parse::<Sid<Worker>>().ok(), "{t:?}");
        }
    }
}
