//! Fault runs (`switchboard load --fault …`): the same desktops and calls as a measurement, a
//! fault injected while the calls are up, and checks of what must hold afterwards.
//!
//! `kill-server`: calls are placed at `--call-rate` (each lasting until the crash) until
//! `--fault-calls` are connected at once; the server is killed with SIGKILL and started again
//! with the same command line and environment (so the same database and port). Then:
//! - every desktop signs in again with its token (the desktops retry every 200 ms);
//! - once the desktops have completed what the restart left them wrapping, no task of the
//!   workspace is pending, reserved, assigned or wrapping (none stuck);
//! - no task has two `reservation.accepted` events (the Events API, every page);
//! - `--fault-sample` new calls between idle agents all ring and complete.
//!
//! `slow-webhook`, `webhook-down`: the workspace's EventCallbackUrl is a receiver that answers
//! after 2 s, or a port nothing listens on; the steps are then measured as usual.
//!
//! `disk-full`: the started server's database folder (put it on a small filesystem with
//! TMPDIR) is filled with a file; task creations while full must be refused with a clear error;
//! the file is deleted; the server must accept changes again by itself (no restart) within
//! [`RESUME_LIMIT`], every desktop must be back, every creation that was acknowledged must still
//! be there, and new calls must ring.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::agent::Shared;
use super::args::{Args, Fault};
use super::dial::{place_call, Rng};
use crate::client::Api;

/// How long a desktop keeps trying to sign in again after its socket ended.
pub const RECONNECT_FOR: Duration = Duration::from_secs(120);

/// How long the calls before a fault may take to reach `--fault-calls`.
const RAMP_LIMIT: Duration = Duration::from_secs(300);

/// How long the restarted server may take to answer `/readyz`.
const RESTART_LIMIT: Duration = Duration::from_secs(120);

/// How long what the crash cut may take to settle (desktops back, wrapping tasks completed).
const SETTLE_LIMIT: Duration = Duration::from_secs(120);

/// How long the server may take to accept changes again once the disk has space (it retries
/// its store at most every 10 s).
const RESUME_LIMIT: Duration = Duration::from_secs(30);

/// The most a disk-full run writes to fill the database's filesystem.
const FILL_LIMIT: u64 = 256 << 20;

/// A webhook receiver of a fault run: how many requests reached it.
pub struct Webhook {
    /// What it does.
    pub mode: &'static str,
    /// Its URL.
    pub url: String,
    /// Requests whose headers it read.
    pub received: Arc<std::sync::atomic::AtomicU64>,
}

impl Webhook {
    /// For a webhook fault: starts the receiver (slow) or finds a port nothing listens on
    /// (down), and sets it as the workspace's EventCallbackUrl. `None` for other faults.
    pub async fn set_up(
        fault: Option<Fault>,
        api: &Api,
        workspace: &str,
    ) -> anyhow::Result<Option<Webhook>> {
        let received = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (mode, port) = match fault {
            Some(Fault::SlowWebhook) => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let port = listener.local_addr()?.port();
                tokio::spawn(slow_receiver(listener, received.clone()));
                ("every request answered 200 after 2 s", port)
            }
            Some(Fault::WebhookDown) => {
                let port = std::net::TcpListener::bind("127.0.0.1:0")?
                    .local_addr()?
                    .port();
                ("nothing listening (connection refused)", port)
            }
            _ => return Ok(None),
        };
        let url = format!("http://127.0.0.1:{port}/events");
        api.post(
            &format!("/v1/Workspaces/{workspace}"),
            &[("EventCallbackUrl", &url)],
        )
        .await
        .context("setting the workspace's EventCallbackUrl")?;
        eprintln!("event webhooks go to {url}: {mode}");
        Ok(Some(Webhook {
            mode,
            url,
            received,
        }))
    }

    /// As JSON, with the events the workspace stored (the Events API), for the report.
    pub async fn to_json(&self, api: &Api, workspace: &str) -> Value {
        let stored = count_pages(
            api,
            &format!("/v1/Workspaces/{workspace}/Events?PageSize=1000"),
            "events",
        )
        .await;
        json!({
            "url": self.url,
            "mode": self.mode,
            "requests_received": self.received.load(Ordering::Relaxed),
            "events_stored": stored.ok(),
        })
    }
}

/// Answers each request (one per connection at a time) with 200 after 2 s.
async fn slow_receiver(
    listener: tokio::net::TcpListener,
    received: Arc<std::sync::atomic::AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    while let Ok((mut conn, _)) = listener.accept().await {
        let received = received.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut have = Vec::new();
            loop {
                let Ok(n) = conn.read(&mut buf).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                have.extend_from_slice(&buf[..n]);
                // One request: its head, then Content-Length bytes of body.
                while let Some(end) = have.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&have[..end]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if have.len() < end + 4 + len {
                        break;
                    }
                    have.drain(..end + 4 + len);
                    received.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if conn.write_all(ok).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

/// How many items a list has, over every page.
async fn count_pages(api: &Api, first: &str, key: &str) -> anyhow::Result<usize> {
    let mut n = 0;
    let mut next = Some(first.to_owned());
    while let Some(path) = next.take() {
        let page = api.get(&path).await?;
        n += page[key].as_array().map_or(0, Vec::len);
        next = page["meta"]["next_page_url"]
            .as_str()
            .and_then(|u| u.find("/v1/").map(|at| u[at..].to_owned()));
    }
    Ok(n)
}

/// What a fault run works with.
pub struct Run<'a> {
    /// The command's options.
    pub args: &'a Args,
    /// REST with the account's credentials.
    pub api: &'a Api,
    /// The workspace the agents are in.
    pub workspace: &'a str,
    /// The desktops and the calls.
    pub shared: &'a Arc<Shared>,
    /// The server started for the run.
    pub server_pid: u32,
    /// Its base URL.
    pub base: &'a str,
}

/// A server started again by the fault run; stopped when dropped (before the run's temporary
/// database directory goes).
struct Restarted(std::process::Child);

impl Drop for Restarted {
    fn drop(&mut self) {
        // Only a child still running is signalled (an exited one's pid may be reused).
        if matches!(self.0.try_wait(), Ok(None)) {
            crate::server::stop(&mut self.0);
        }
    }
}

impl Run<'_> {
    /// Injects `fault`, checks the outcome, prints it (and writes it with `--json`); an error
    /// when a check failed.
    pub async fn go(&self, fault: Fault, rng: &mut Rng, seq: &mut u64) -> anyhow::Result<()> {
        match fault {
            Fault::KillServer => self.kill_server(rng, seq).await,
            Fault::DiskFull => self.disk_full(rng, seq).await,
            Fault::SlowWebhook | Fault::WebhookDown => Ok(()),
        }
    }

    /// Calls connected now (both sides saw `connected`, not hung up).
    fn connected_calls(&self) -> usize {
        self.shared
            .book()
            .calls
            .values()
            .filter(|c| c.is_talking())
            .count()
    }

    async fn kill_server(&self, rng: &mut Rng, seq: &mut u64) -> anyhow::Result<()> {
        let args = self.args;
        let desktops = self.shared.agents.read().map_or(0, |a| a.len());
        // 1. Calls that last until the crash, until enough are up at once.
        self.shared.talk_ms.store(24 * 3_600_000, Ordering::Relaxed);
        let target = args.fault_calls.min(desktops / 2);
        eprintln!(
            "placing calls at {}/s until {target} are connected at once…",
            args.call_rate
        );
        let ramp_started = Instant::now();
        let mut tick =
            tokio::time::interval(Duration::from_secs_f64(1.0 / args.call_rate.max(1.0)));
        loop {
            let up = self.connected_calls();
            if up >= target || ramp_started.elapsed() > RAMP_LIMIT {
                break;
            }
            tick.tick().await;
            // Idle agents run out near the target: stop placing when none is left.
            place_call(args, self.shared, rng, seq);
        }
        let (at_kill_connected, at_kill_in_progress) = {
            let book = self.shared.book();
            let up = book.calls.values().filter(|c| c.is_talking()).count();
            (up, book.calls.len())
        };

        // 2. SIGKILL, and the same command again.
        eprintln!(
            "killing the server (SIGKILL) with {at_kill_connected} calls connected, {at_kill_in_progress} in progress…"
        );
        let (restarted, starts, killed_at) = self.kill_and_restart().await?;
        let restart_seconds = killed_at.elapsed().as_secs_f64();
        eprintln!("the server is back after {restart_seconds:.1} s; waiting for the desktops…");

        // 3. Every desktop back; what the crash cut settled by the desktops.
        let settle_by = Instant::now() + SETTLE_LIMIT;
        let mut reconnect_seconds = None;
        // Calls still open once the book has not changed for a while after every desktop
        // came back never reached a desktop as a task (cut between the click and the server):
        // they are dropped and their agents freed.
        let (mut last_open, mut quiet_since) = (usize::MAX, Instant::now());
        let mut cut_before_a_task = 0usize;
        loop {
            let back = self.shared.reconnects.load(Ordering::Relaxed) as usize;
            if back >= desktops && reconnect_seconds.is_none() {
                reconnect_seconds = Some(killed_at.elapsed().as_secs_f64());
            }
            let open = self.shared.book().calls.len();
            if open != last_open {
                (last_open, quiet_since) = (open, Instant::now());
            }
            if back >= desktops && open > 0 && quiet_since.elapsed() > Duration::from_secs(3) {
                let left: Vec<_> = self.shared.book().calls.drain().map(|(_, r)| r).collect();
                cut_before_a_task = left.len();
                for r in &left {
                    self.shared.release(r);
                }
                continue;
            }
            if (back >= desktops && open == 0) || Instant::now() > settle_by {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let reconnected = self.shared.reconnects.load(Ordering::Relaxed) as usize;
        let unsettled_calls = self.shared.book().calls.len();
        // The desktops complete what wraps as soon as they see it; give the last ones a moment.
        let mut stuck = self.stuck_tasks().await?;
        let stuck_by = Instant::now() + Duration::from_secs(20);
        while !stuck.is_empty() && Instant::now() < stuck_by {
            tokio::time::sleep(Duration::from_millis(500)).await;
            stuck = self.stuck_tasks().await?;
        }
        let (accepted_events, twice) = self.accepted_twice().await?;

        // 4. Routable: new calls between idle agents ring and complete.
        self.shared.talk_ms.store(500, Ordering::Relaxed);
        self.shared.book().figures = Default::default();
        let sample = args.fault_sample;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for _ in 0..sample {
            tick.tick().await;
            place_call(args, self.shared, rng, seq);
        }
        let done_by = Instant::now() + Duration::from_secs(60);
        while !self.shared.book().calls.is_empty() && Instant::now() < done_by {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (sample_placed, sample_rang, sample_completed, sample_skipped) = {
            let f = &self.shared.book().figures;
            (f.started, f.ring.len() as u64, f.completed, f.skipped)
        };
        drop(restarted);

        // 5. The verdict.
        let checks = [
            (
                "every desktop signed in again",
                reconnected >= desktops,
                format!("{reconnected} of {desktops}"),
            ),
            (
                "no stuck task (pending, reserved, assigned or wrapping)",
                stuck.is_empty(),
                format!("{} stuck: {:?}", stuck.len(), stuck.iter().take(5).collect::<Vec<_>>()),
            ),
            (
                "no task accepted twice",
                twice.is_empty(),
                format!("{} tasks: {:?}", twice.len(), twice.iter().take(5).collect::<Vec<_>>()),
            ),
            (
                "new calls ring and complete",
                sample_placed > 0 && sample_rang == sample_placed && sample_completed == sample_placed,
                format!(
                    "{sample_placed} placed, {sample_rang} rang, {sample_completed} completed ({sample_skipped} not placed: no idle agent)"
                ),
            ),
        ];
        let passed = checks.iter().all(|(_, ok, _)| *ok);
        println!("| check | result | detail |");
        println!("|---|---|---|");
        for (name, ok, detail) in &checks {
            println!(
                "| {name} | {} | {detail} |",
                if *ok { "pass" } else { "FAIL" }
            );
        }
        println!(
            "killed with {at_kill_connected} calls connected ({at_kill_in_progress} in progress) among {desktops} desktops; ready again after {restart_seconds:.1} s; every desktop back after {}",
            reconnect_seconds.map_or("(not all came back)".to_owned(), |s| format!("{s:.1} s"))
        );
        let doc = json!({
            "fault": "kill-server",
            "desktops": desktops,
            "calls_connected_at_kill": at_kill_connected,
            "calls_in_progress_at_kill": at_kill_in_progress,
            "ramp_seconds": (killed_at - ramp_started).as_secs_f64(),
            "restart_seconds": restart_seconds,
            "server_starts_after_kill": starts,
            "all_desktops_back_seconds": reconnect_seconds,
            "desktops_reconnected": reconnected,
            "calls_unsettled": unsettled_calls,
            "calls_dropped_without_a_task_after_restart": cut_before_a_task,
            "stuck_tasks": stuck,
            "reservation_accepted_events": accepted_events,
            "tasks_accepted_twice": twice,
            "sample": {
                "placed": sample_placed,
                "rang": sample_rang,
                "completed": sample_completed,
                "skipped_no_idle_agent": sample_skipped,
            },
            "checks": checks.iter().map(|(n, ok, d)| json!({"check": n, "ok": ok, "detail": d})).collect::<Vec<_>>(),
            "passed": passed,
        });
        if let Some(path) = &args.json {
            std::fs::write(path, serde_json::to_string_pretty(&doc)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        if !passed {
            bail!("a check failed after the server was killed");
        }
        Ok(())
    }

    /// Task creations over REST: (status or 0 for no answer → count), the SIDs acknowledged,
    /// the first refusal's body.
    async fn create_tasks(
        &self,
        workflow: &str,
        n: usize,
        acked: &mut Vec<String>,
    ) -> (std::collections::BTreeMap<u16, usize>, Option<String>) {
        let mut codes = std::collections::BTreeMap::new();
        let mut refusal = None;
        let path = format!("/v1/Workspaces/{}/Tasks", self.workspace);
        for _ in 0..n {
            match self
                .api
                .post(
                    &path,
                    &[
                        ("WorkflowSid", workflow),
                        ("Attributes", r#"{"load":"disk-full"}"#),
                    ],
                )
                .await
            {
                Ok(v) => {
                    *codes.entry(201).or_default() += 1;
                    if let Some(sid) = v["sid"].as_str() {
                        acked.push(sid.to_owned());
                    }
                }
                Err(e) => {
                    let text = format!("{e:#}");
                    // "POST …: 503 Service Unavailable {body}"
                    let code = text
                        .split_whitespace()
                        .find_map(|w| w.parse::<u16>().ok().filter(|c| (400..600).contains(c)))
                        .unwrap_or(0);
                    *codes.entry(code).or_default() += 1;
                    refusal.get_or_insert(text);
                }
            }
        }
        (codes, refusal)
    }

    async fn disk_full(&self, rng: &mut Rng, seq: &mut u64) -> anyhow::Result<()> {
        use std::io::Write;
        let argv = std::fs::read(format!("/proc/{}/cmdline", self.server_pid))
            .context("reading the server's command line")?;
        let argv: Vec<String> = argv
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let db = argv
            .iter()
            .find_map(|a| a.strip_prefix("sqlite://"))
            .context("the server's --database is not a SQLite file")?;
        let dir = std::path::Path::new(db)
            .parent()
            .context("the database has no folder")?
            .to_owned();
        // A workflow of its own, to a queue no agent matches (as --rest-rate uses).
        let workflow = super::rest::Rest::setup(self.api, self.workspace, "disk-full")
            .await?
            .workflow
            .clone();
        let mut acked = Vec::new();
        let (before, _) = self.create_tasks(&workflow, 100, &mut acked).await;
        // Fill the disk.
        let filler = dir.join("switchboard-load-filler");
        let mut written = 0u64;
        let fill_error = {
            let mut f = std::fs::File::create(&filler).context("creating the filler")?;
            let chunk = vec![0u8; 64 * 1024];
            loop {
                if written >= FILL_LIMIT {
                    break None;
                }
                match f.write_all(&chunk).and_then(|()| f.flush()) {
                    Ok(()) => written += chunk.len() as u64,
                    Err(e) => break Some(e.to_string()),
                }
            }
        };
        let Some(fill_error) = fill_error else {
            let _ = std::fs::remove_file(&filler);
            bail!(
                "{} has more than {} MiB free: put the database on a small filesystem (e.g. TMPDIR on an 8 MiB tmpfs)",
                dir.display(),
                FILL_LIMIT >> 20
            );
        };
        eprintln!(
            "{} full after {} KiB: {fill_error}",
            dir.display(),
            written >> 10
        );
        let (while_full, refusal) = self.create_tasks(&workflow, 200, &mut acked).await;
        let ready_while_full = self.ready().await;
        let reconnects_while_full = self.shared.reconnects.load(Ordering::Relaxed);
        std::fs::remove_file(&filler).context("deleting the filler")?;
        let space_back = Instant::now();
        // The server tries its store again by itself: wait for it to say it is ready.
        let mut ready_after_space = self.ready().await;
        while ready_after_space != 200 && space_back.elapsed() < RESUME_LIMIT {
            tokio::time::sleep(Duration::from_millis(100)).await;
            ready_after_space = self.ready().await;
        }
        let resume_seconds = (ready_after_space == 200).then(|| space_back.elapsed().as_secs_f64());
        eprintln!(
            "space back; the server {}",
            resume_seconds.map_or_else(
                || format!("was not ready within {RESUME_LIMIT:?}"),
                |s| format!("was ready again after {s:.1} s")
            )
        );
        let (after_space, _) = self.create_tasks(&workflow, 50, &mut acked).await;
        let resumed_by_itself = after_space.get(&201) == Some(&50);
        // The failure closed the desktops' sessions: each signs in again by itself.
        let desktops = self.shared.agents.read().map_or(0, |a| a.len());
        let by = Instant::now() + SETTLE_LIMIT;
        let back =
            || (self.shared.reconnects.load(Ordering::Relaxed) - reconnects_while_full) as usize;
        while back() < desktops && Instant::now() < by {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let desktops_back = back().min(desktops);
        let mut lost = Vec::new();
        for sid in &acked {
            if self
                .get(&format!("/v1/Workspaces/{}/Tasks/{sid}", self.workspace))
                .await
                .is_err()
            {
                lost.push(sid.clone());
            }
        }
        // Desktops and calls work again.
        self.shared.talk_ms.store(500, Ordering::Relaxed);
        self.shared.book().figures = Default::default();
        let sample = self.args.fault_sample;
        for _ in 0..sample {
            tokio::time::sleep(Duration::from_millis(20)).await;
            place_call(self.args, self.shared, rng, seq);
        }
        let done_by = Instant::now() + Duration::from_secs(60);
        while !self.shared.book().calls.is_empty() && Instant::now() < done_by {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (placed, rang, completed) = {
            let f = &self.shared.book().figures;
            (f.started, f.ring.len() as u64, f.completed)
        };
        let clear = refusal
            .as_deref()
            .is_some_and(|r| r.contains("cannot store") || r.contains("could not be stored"));
        let checks = [
            (
                "changes refused with a clear error while full",
                clear,
                refusal.clone().unwrap_or_default(),
            ),
            (
                "nothing acknowledged lost",
                lost.is_empty(),
                format!("{} acknowledged, {} missing", acked.len(), lost.len()),
            ),
            (
                "service back by itself once space returned (no restart)",
                resumed_by_itself,
                resume_seconds.map_or_else(
                    || format!("not ready within {RESUME_LIMIT:?}"),
                    |s| format!("ready after {s:.1} s; {after_space:?} of 50 creations"),
                ),
            ),
            (
                "every desktop signed in again",
                desktops_back == desktops,
                format!("{desktops_back} of {desktops}"),
            ),
            (
                "new calls ring and complete",
                placed > 0 && rang == placed && completed == placed,
                format!("{placed} placed, {rang} rang, {completed} completed"),
            ),
        ];
        let passed = checks.iter().all(|(_, ok, _)| *ok);
        println!("| check | result | detail |");
        println!("|---|---|---|");
        for (name, ok, detail) in &checks {
            println!(
                "| {name} | {} | {detail} |",
                if *ok { "pass" } else { "FAIL" }
            );
        }
        let doc = json!({
            "fault": "disk-full",
            "database_folder": dir.display().to_string(),
            "filled_kib": written >> 10,
            "creations_before": before,
            "creations_while_full": while_full,
            "first_refusal": refusal,
            "readyz_while_full": ready_while_full,
            "creations_after_space_returned": after_space,
            "readyz_after_space_returned": ready_after_space,
            "resumed_without_restart": resumed_by_itself,
            "resume_seconds": resume_seconds,
            "desktops_back": desktops_back,
            "acknowledged": acked.len(),
            "acknowledged_missing": lost,
            "sample": {"placed": placed, "rang": rang, "completed": completed},
            "checks": checks.iter().map(|(n, ok, d)| json!({"check": n, "ok": ok, "detail": d})).collect::<Vec<_>>(),
            "passed": passed,
        });
        if let Some(path) = &self.args.json {
            std::fs::write(path, serde_json::to_string_pretty(&doc)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        if !passed {
            bail!("a check failed with the database's disk full");
        }
        Ok(())
    }

    /// `/readyz`'s status (0: no answer).
    async fn ready(&self) -> u16 {
        reqwest::Client::new()
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16())
    }

    /// Kills the server with SIGKILL and starts its command line again with its environment
    /// (same database and port); the new server (stopped when dropped), how many starts it took
    /// (one more when the port was still taken) and when the old one was dead.
    async fn kill_and_restart(&self) -> anyhow::Result<(Restarted, u32, Instant)> {
        let pid = self.server_pid;
        let argv: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
            .context("reading the server's command line")?
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let env: Vec<(String, String)> = std::fs::read(format!("/proc/{pid}/environ"))
            .context("reading the server's environment")?
            .split(|b| *b == 0)
            .filter_map(|kv| {
                let kv = String::from_utf8_lossy(kv);
                kv.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
            })
            .collect();
        let Some((program, rest)) = argv.split_first() else {
            bail!("the server's command line is empty");
        };
        let status = Command::new("kill")
            .arg("-KILL")
            .arg(pid.to_string())
            .status()
            .context("running kill")?;
        anyhow::ensure!(status.success(), "kill -KILL {pid} failed");
        // Dead once it is a zombie (the run's server handle reaps it at the end) or gone.
        let dead_by = Instant::now() + Duration::from_secs(10);
        while Instant::now() < dead_by {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = state
                .rsplit_once(')')
                .map(|(_, s)| s.trim_start().to_owned());
            if state.is_none_or(|s| s.starts_with('Z') || s.starts_with('X')) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let killed_at = Instant::now();
        let start = || {
            Command::new(program)
                .args(rest)
                .env_clear()
                .envs(env.iter().cloned())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .with_context(|| format!("starting {program} again"))
        };
        let mut restarted = Restarted(start()?);
        let mut starts = 1u32;
        let ready_by = Instant::now() + RESTART_LIMIT;
        let probe = reqwest::Client::new();
        loop {
            let ok = probe
                .get(format!("{}/readyz", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            if Instant::now() > ready_by {
                bail!("the restarted server was not ready within {RESTART_LIMIT:?}");
            }
            // It exited (its port was still taken): start it once more.
            if matches!(restarted.0.try_wait(), Ok(Some(_))) {
                restarted = Restarted(start()?);
                starts += 1;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok((restarted, starts, killed_at))
    }

    /// Every page of a list, following `meta.next_page_url`.
    async fn all_pages(&self, first: String, key: &str) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(path) = next.take() {
            let page = self.get(&path).await?;
            if let Some(items) = page[key].as_array() {
                out.extend(items.iter().cloned());
            }
            next = page["meta"]["next_page_url"]
                .as_str()
                .and_then(|u| u.find("/v1/").map(|at| u[at..].to_owned()));
        }
        Ok(out)
    }

    /// `GET`, tried again a few times (the first requests after a restart may meet a pooled
    /// connection of the killed server).
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let mut last = None;
        for _ in 0..5 {
            match self.api.get(path).await {
                Ok(v) => return Ok(v),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("GET {path} failed")))
    }

    /// Tasks of the workspace still pending, reserved, assigned or wrapping: `SID (status)`.
    async fn stuck_tasks(&self) -> anyhow::Result<Vec<String>> {
        let tasks = self
            .all_pages(
                format!(
                    "/v1/Workspaces/{}/Tasks?AssignmentStatus=pending,reserved,assigned,wrapping&PageSize=1000",
                    self.workspace
                ),
                "tasks",
            )
            .await?;
        Ok(tasks
            .iter()
            .map(|t| {
                format!(
                    "{} ({})",
                    t["sid"].as_str().unwrap_or("?"),
                    t["assignment_status"].as_str().unwrap_or("?")
                )
            })
            .collect())
    }

    /// How many `reservation.accepted` events there are, and the tasks with more than one.
    async fn accepted_twice(&self) -> anyhow::Result<(usize, Vec<String>)> {
        let events = self
            .all_pages(
                format!(
                    "/v1/Workspaces/{}/Events?EventType=reservation.accepted&PageSize=1000",
                    self.workspace
                ),
                "events",
            )
            .await?;
        let mut per_task: HashMap<String, usize> = HashMap::new();
        for e in &events {
            if let Some(t) = e["event_data"]["task_sid"].as_str() {
                *per_task.entry(t.to_owned()).or_default() += 1;
            }
        }
        let mut twice: Vec<String> = per_task
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(t, n)| format!("{t} ({n}×)"))
            .collect();
        twice.sort();
        Ok((events.len(), twice))
    }
}
