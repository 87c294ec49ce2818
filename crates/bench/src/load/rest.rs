//! REST load in Twilio's shapes: at a given rate, in turn, create a task (`POST
//! /v1/Workspaces/{WS}/Tasks`), update one created earlier (`POST …/Tasks/{WT}` with
//! `AssignmentStatus=canceled`, so the load leaves nothing behind) and list tasks (`GET
//! …/Tasks?PageSize=50`). The tasks go through a workflow of their own to a queue no worker
//! matches, so they never ring the simulated desktops.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use tokio::sync::Semaphore;

use super::stats::{Errors, Samples};
use crate::client::{sid, Api};

/// Requests in flight at most; beyond it a tick is counted as skipped (the server is behind).
const IN_FLIGHT: usize = 128;

/// What one step measured over REST.
#[derive(Debug, Default)]
pub struct RestFigures {
    /// Task creations.
    pub create: Samples,
    /// Task updates.
    pub update: Samples,
    /// Task lists.
    pub list: Samples,
    /// Ticks not sent because `IN_FLIGHT` requests were outstanding.
    pub skipped: u64,
    /// Errors by kind.
    pub errors: Errors,
}

/// The REST load's workspace, workflow and figures.
pub struct Rest {
    api: Api,
    tasks_path: String,
    /// The workflow its tasks are created through (to a queue no agent matches).
    pub(super) workflow: String,
    created: Mutex<VecDeque<String>>,
    /// The current step's figures.
    pub figures: Mutex<RestFigures>,
    permits: Arc<Semaphore>,
}

impl Rest {
    /// Creates the queue (matching no worker) and the workflow in `workspace`.
    pub async fn setup(api: &Api, workspace: &str, tag: &str) -> anyhow::Result<Arc<Rest>> {
        let w = |rest: &str| format!("/v1/Workspaces/{workspace}{rest}");
        let queue = sid(&api
            .post(
                &w("/TaskQueues"),
                &[
                    ("FriendlyName", &format!("Load REST {tag}")),
                    ("TargetWorkers", "skills HAS 'load-rest-nobody'"),
                ],
            )
            .await
            .context("creating the REST load's queue")?)?;
        let config = json!({"task_routing": {"filters": [], "default_filter": {"queue": queue}}});
        let workflow = sid(&api
            .post(
                &w("/Workflows"),
                &[
                    ("FriendlyName", &format!("Load REST {tag}")),
                    ("Configuration", &config.to_string()),
                ],
            )
            .await
            .context("creating the REST load's workflow")?)?;
        Ok(Arc::new(Rest {
            api: api.clone(),
            tasks_path: w("/Tasks"),
            workflow,
            created: Mutex::new(VecDeque::new()),
            figures: Mutex::new(RestFigures::default()),
            permits: Arc::new(Semaphore::new(IN_FLIGHT)),
        }))
    }

    fn figures(&self) -> std::sync::MutexGuard<'_, RestFigures> {
        self.figures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends requests at `rate` per second until `until`; returns once all are answered.
    /// `ops` are 0 (create), 1 (update), 2 (list), taken in turn.
    pub async fn drive(self: &Arc<Self>, rate: f64, ops: &[u64], until: Instant) {
        if rate <= 0.0 || ops.is_empty() {
            return;
        }
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut n = 0u64;
        let mut handles = Vec::new();
        while Instant::now() < until {
            tick.tick().await;
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                self.figures().skipped += 1;
                continue;
            };
            let me = self.clone();
            let op = ops[(n % ops.len() as u64) as usize];
            n += 1;
            handles.push(tokio::spawn(async move {
                let _permit = permit;
                me.one(op).await;
            }));
            if handles.len() > 4096 {
                handles.retain(|h| !h.is_finished());
            }
        }
        for h in handles {
            let _ = h.await;
        }
    }

    async fn one(&self, op: u64) {
        let start = Instant::now();
        let result = match op {
            0 => self
                .api
                .post(
                    &self.tasks_path,
                    &[
                        ("WorkflowSid", &self.workflow),
                        ("Attributes", r#"{"type":"load","channel":"rest"}"#),
                    ],
                )
                .await
                .and_then(|v| sid(&v))
                .map(|t| {
                    self.created
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push_back(t)
                }),
            1 => {
                let next = self
                    .created
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop_front();
                let Some(task) = next else {
                    return;
                };
                self.api
                    .post(
                        &format!("{}/{task}", self.tasks_path),
                        &[("AssignmentStatus", "canceled"), ("Reason", "load")],
                    )
                    .await
                    .map(drop)
            }
            _ => self
                .api
                .get(&format!("{}?PageSize=50", self.tasks_path))
                .await
                .map(drop),
        };
        let took = start.elapsed();
        let name = ["create", "update", "list"][op as usize % 3];
        let mut f = self.figures();
        match result {
            Ok(()) => match op {
                0 => f.create.push(took),
                1 => f.update.push(took),
                _ => f.list.push(took),
            },
            Err(e) => f.errors.add(format!("REST {name}: {e:#}")),
        }
    }
}
