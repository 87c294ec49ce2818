//! `switchboard load`: N simulated agent desktops on the real desktop protocol (sign in, go
//! Available, receive, accept, talk, hang up, wrap up, complete), callers placing internal calls
//! to agents and to a queue at a given rate, and REST load in Twilio's shapes; per phase p50,
//! p99, p99.9, max and throughput, errors, and the server's CPU and memory; as JSON, a Markdown
//! table on stdout and an SVG plot of latency against load.
//!
//! Without `--url` it starts a server (`--bin`, by default this very program) with `demo` on
//! 127.0.0.1, a fresh database in a temporary folder and known credentials, and stops it at the
//! end. The agents are workers it creates over REST in the demo workspace ("Flex Task
//! Assignment"), with `contact_uri` `client:<name>`; every `1/queue-share`-th one has the skill
//! the queue (`--queue`, default Sales) requires and only answers queue calls, the others place
//! calls and answer calls to them. Desktop tokens come from `POST /v1/AccessTokens`.
//!
//! Without `--media` calls connect at the signalling level only (no `media_offer`). With it,
//! every connected call carries audio both ways: each side's desktop opens a str0m peer to the
//! server's relay over its own socket, exactly as a browser does ([`audio`], [`crate::peer`]), sends
//! stamped 20 ms frames until the call ends, and each step reports the most calls at once whose
//! both sides received the other's frames, loss, one-way delay and the peers that never
//! connected.

mod agent;
mod args;
mod audio;
mod dial;
mod fault;
mod rest;
pub mod stats;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};

use crate::client::{bounded, sid, Api};
use crate::server::{Server, ACCOUNT, TOKEN};
use agent::{AgentHandle, CallFigures, CallRecord, Shared};
pub use args::Args;
use audio::{AudioFigures, SteadyCpu};
use dial::{place_call, Rng};
use stats::{proc_sample, ProcSample, Summary};

/// The demo workspace's name.
const DEMO_WORKSPACE: &str = "Flex Task Assignment";

/// Whether agent `i` is a member of the queue, spreading `share` of the agents evenly (stable as
/// agents are added).
fn queue_member(i: usize, share: f64) -> bool {
    share > 0.0 && ((i + 1) as f64 * share).floor() > (i as f64 * share).floor()
}

/// One step's figures.
struct Step {
    agents: usize,
    connected: usize,
    connect_failures: usize,
    connect_seconds: f64,
    seconds: f64,
    phases: [(&'static str, Summary); 3],
    /// Accept → connected seen by the callee, then by the caller.
    connect_sides: [(&'static str, Summary); 2],
    rest: [(&'static str, Summary); 3],
    started: u64,
    started_to_queue: u64,
    completed: u64,
    completed_to_queue: u64,
    skipped: u64,
    rest_skipped: u64,
    desktop_messages: u64,
    errors: Value,
    error_total: u64,
    server_cpu_percent: Option<f64>,
    server_rss_mib: Option<f64>,
    server_rss_peak_mib: Option<f64>,
    client_cpu_percent: Option<f64>,
    /// Click → ring per second of the step (by when the call was placed).
    ring_timeline: Value,
    /// The calls' audio (`--media`).
    audio: Option<AudioFigures>,
}

impl Step {
    fn to_json(&self) -> Value {
        let phases: serde_json::Map<String, Value> = self
            .phases
            .iter()
            .map(|(n, s)| ((*n).to_owned(), s.to_json()))
            .collect();
        let rest: serde_json::Map<String, Value> = self
            .rest
            .iter()
            .map(|(n, s)| ((*n).to_owned(), s.to_json()))
            .collect();
        json!({
            "agents": self.agents,
            "connected_desktops": self.connected,
            "connect_failures": self.connect_failures,
            "connect_seconds": self.connect_seconds,
            "duration_seconds": self.seconds,
            "calls": {
                "started": self.started,
                "started_to_queue": self.started_to_queue,
                "completed": self.completed,
                "completed_to_queue": self.completed_to_queue,
                "skipped_no_idle_agent": self.skipped,
                "completed_per_second": self.completed as f64 / self.seconds.max(1e-9),
            },
            "phases": phases,
            "accept_to_connected_by_side": {
                self.connect_sides[0].0: self.connect_sides[0].1.to_json(),
                self.connect_sides[1].0: self.connect_sides[1].1.to_json(),
            },
            "rest": rest,
            "rest_skipped_behind": self.rest_skipped,
            "desktop_messages_received": self.desktop_messages,
            "errors": self.errors,
            "error_total": self.error_total,
            "server": {
                "cpu_percent_of_one_core": self.server_cpu_percent,
                "rss_mib": self.server_rss_mib,
                "rss_peak_mib": self.server_rss_peak_mib,
            },
            "client_cpu_percent_of_one_core": self.client_cpu_percent,
            "click_to_ring_by_second": self.ring_timeline,
            "media": self.audio.as_ref().map(|a| a.to_json(self.seconds)),
        })
    }
}

/// Runs `switchboard load` on a runtime of its own.
pub fn main(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(args));
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

/// Checks that `base` answers and takes the credentials; a clear error otherwise.
async fn check_server(api: &Api, base: &str) -> anyhow::Result<()> {
    let ready = format!("{base}/readyz");
    let r = reqwest::Client::new()
        .get(&ready)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .with_context(|| format!("the server at {base} is not reachable (GET {ready})"))?;
    if !r.status().is_success() {
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        bail!("the server at {base} is not ready: GET {ready} answered {status} {body}");
    }
    api.get("/v1/Workspaces?PageSize=1")
        .await
        .with_context(|| {
            format!(
                "the server at {base} refused the account (pass --account-sid and --auth-token)"
            )
        })?;
    Ok(())
}

/// The workspace named `name`.
async fn find_workspace(api: &Api, name: &str) -> anyhow::Result<String> {
    let v = api.get("/v1/Workspaces?PageSize=1000").await?;
    v["workspaces"]
        .as_array()
        .and_then(|ws| ws.iter().find(|w| w["friendly_name"] == json!(name)))
        .and_then(|w| w["sid"].as_str())
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "{}: no workspace named {name:?} (start the server with `demo`, or pass --workspace-sid)",
                api.base
            )
        })
}

/// Runs the load and writes what it measured.
pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.queue_share),
        "--queue-share must be between 0 and 1"
    );
    anyhow::ensure!(
        args.duration_s > 0.0 && args.duration_s <= 3600.0,
        "--duration-s must be in (0, 3600]"
    );
    anyhow::ensure!(
        !args.media
            || !matches!(
                args.fault,
                Some(args::Fault::KillServer | args::Fault::DiskFull)
            ),
        "--media measures calls with audio; the kill-server and disk-full fault runs do not"
    );
    for o in &args.rest_ops {
        anyhow::ensure!(
            ["create", "update", "list"].contains(&o.as_str()),
            "--rest-ops: {o:?} is not create, update or list"
        );
    }
    let mut steps = if args.steps.is_empty() {
        vec![args.agents]
    } else {
        args.steps.clone()
    };
    steps.sort_unstable();
    let max_agents = steps.last().copied().unwrap_or(0);
    let nofile = stats::open_files_limit();
    if let Some(limit) = nofile {
        if max_agents as u64 + 200 > limit {
            eprintln!(
                "warning: the open-files limit (ulimit -n) is {limit}: fewer than {max_agents} desktops may connect; raise it"
            );
        }
    }

    // The server: a given one, or one started here.
    anyhow::ensure!(
        !matches!(args.fault, Some(args::Fault::KillServer | args::Fault::DiskFull))
            || args.url.is_none(),
        "--fault kill-server and disk-full restart the server, so they need one started here: leave out --url"
    );
    let account = args.account_sid.clone();
    let token = args.auth_token.clone();
    let (server, base, account, token) = match &args.url {
        Some(url) => {
            anyhow::ensure!(
                url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost"),
                "--url must be a server on this machine (http://127.0.0.1:PORT or http://localhost:PORT)"
            );
            let (Some(a), Some(t)) = (account, token) else {
                bail!("--url needs --account-sid and --auth-token (or TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)");
            };
            (None, url.trim_end_matches('/').to_owned(), a, t)
        }
        None => {
            let bin = match &args.bin {
                Some(b) => b.clone(),
                None => std::env::current_exe()
                    .context("finding this program to start a server (pass --bin)")?
                    .display()
                    .to_string(),
            };
            let conns = (max_agents + 1_000).to_string();
            eprintln!("starting {bin} demo on 127.0.0.1…");
            let (server, _) = Server::start_with(
                &bin,
                "demo",
                &["--media-listen".to_owned(), "127.0.0.1:0".to_owned()],
                &[
                    ("SWITCHBOARD_MAX_CONNECTIONS", &conns),
                    ("TWILIO_ACCOUNT_SID", ACCOUNT),
                    ("TWILIO_AUTH_TOKEN", TOKEN),
                ],
                None,
            )
            .await
            .with_context(|| format!("starting the server {bin}"))?;
            let base = server.base.clone();
            (Some(server), base, ACCOUNT.to_owned(), TOKEN.to_owned())
        }
    };
    let server_pid = server.as_ref().map(Server::pid).or(args.pid);
    let api = Api::with_credentials(&base, &account, &token)?;
    check_server(&api, &base).await?;
    let workspace = match &args.workspace_sid {
        Some(w) => w.clone(),
        None => find_workspace(&api, DEMO_WORKSPACE).await?,
    };
    let tag = if server.is_some() {
        "load".to_owned()
    } else {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("load{secs}")
    };

    // Workers for the largest step.
    eprintln!("creating {max_agents} workers in {workspace}…");
    let skill = args.queue.to_lowercase();
    let made = Arc::new(AtomicUsize::new(0));
    let workers: Vec<String> = bounded(
        32,
        (0..max_agents)
            .map(|i| {
                let (api, made) = (api.clone(), made.clone());
                let path = format!("/v1/Workspaces/{workspace}/Workers");
                let name = format!("{tag}-{i}");
                let skills: Vec<&str> = if queue_member(i, args.queue_share) {
                    vec![skill.as_str()]
                } else {
                    vec![]
                };
                let attrs = json!({
                    "contact_uri": format!("client:{name}"),
                    "full_name": format!("Load Agent {i}"),
                    "skills": skills,
                    "routing": {"skills": skills, "levels": {}},
                })
                .to_string();
                async move {
                    let v = api
                        .post(&path, &[("FriendlyName", &name), ("Attributes", &attrs)])
                        .await
                        .context("creating a worker")?;
                    made.fetch_add(1, Ordering::Relaxed);
                    sid(&v)
                }
            })
            .collect(),
    )
    .await?;
    let rest = if args.rest_rate > 0.0 {
        Some(rest::Rest::setup(&api, &workspace, &tag).await?)
    } else {
        None
    };

    let media = if args.media {
        let fleet =
            crate::peer::Fleet::start(args.media_threads).context("starting the peers' threads")?;
        Some(Arc::new(fleet))
    } else {
        None
    };
    let shared = Arc::new(Shared::new(Duration::from_millis(args.talk_ms), media));
    let mut rng = Rng(args.seed);
    let mut results = Vec::new();
    let mut connect_failures = 0usize;
    let mut seq = 0u64;
    let ws_base = base.replacen("http://", "ws://", 1);
    let webhook = fault::Webhook::set_up(args.fault, &api, &workspace).await?;
    for (n, &agents) in steps.iter().enumerate() {
        let label = format!("step {}/{}: {agents} agents", n + 1, steps.len());
        // Sign in the desktops this step adds.
        let have = shared.agents.read().map_or(0, |a| a.len()) + connect_failures;
        let t0 = Instant::now();
        connect_failures += connect(
            &api,
            &workspace,
            &ws_base,
            &workers,
            have..agents,
            &args,
            &shared,
            &label,
        )
        .await?;
        let connect_seconds = t0.elapsed().as_secs_f64();
        let connected = shared.agents.read().map_or(0, |a| a.len());
        eprintln!(
            "{label}: {connected} desktops connected and available ({connect_failures} failed) in {connect_seconds:.1} s"
        );
        if let (Some(f @ (args::Fault::KillServer | args::Fault::DiskFull)), Some(server)) =
            (args.fault, &server)
        {
            let run = fault::Run {
                args: &args,
                api: &api,
                workspace: &workspace,
                shared: &shared,
                server_pid: server.pid(),
                base: &base,
            };
            return run.go(f, &mut rng, &mut seq).await;
        }
        if connected < 2 && args.call_rate > 0.0 {
            bail!("fewer than two desktops connected: no calls can be placed");
        }
        let mut step = measure(
            &args,
            &shared,
            rest.as_ref(),
            server_pid,
            &mut rng,
            &mut seq,
            &label,
        )
        .await;
        step.agents = agents;
        step.connected = connected;
        step.connect_failures = connect_failures;
        step.connect_seconds = connect_seconds;
        results.push(step);
    }

    // Report.
    println!("| agents | desktops | calls started | completed | errors | click→ring p50 / p99 / p99.9 / max ms | accept→connected p50 / p99 / p99.9 / max ms | hang-up→wrapped p50 / p99 / p99.9 / max ms | REST create /s, p99 ms | server CPU % | server RSS MiB |");
    println!("|---:|---:|---:|---:|---:|---|---|---|---|---:|---:|");
    let p = |s: &Summary| format!("{:.1} / {:.1} / {:.1} / {:.1}", s.p50, s.p99, s.p999, s.max);
    for s in &results {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0}, {:.1} | {:.0} | {:.0} |",
            s.agents,
            s.connected,
            s.started,
            s.completed,
            s.error_total,
            p(&s.phases[0].1),
            p(&s.phases[1].1),
            p(&s.phases[2].1),
            s.rest[0].1.per_second,
            s.rest[0].1.p99,
            s.server_cpu_percent.unwrap_or(f64::NAN),
            s.server_rss_peak_mib.unwrap_or(f64::NAN),
        );
    }
    if args.media {
        let steady = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{x:.0}"));
        println!();
        println!("| agents | calls with audio, most at once (talking then) | calls with audio | loss % | one-way delay p50 / p99 / max ms | peers never connected / never heard party / failed | offers refused | client frames >5 ms late % | server CPU % (steady) | client CPU % (steady) |");
        println!("|---:|---:|---:|---:|---|---|---:|---:|---|---|");
        for s in &results {
            let Some(a) = &s.audio else { continue };
            let d = a.delays.summary(s.seconds);
            println!(
                "| {} | {} ({}) | {} | {} | {:.1} / {:.1} / {:.1} | {} / {} / {} | {} | {:.2} | {:.0} ({}) | {:.0} ({}) |",
                s.agents,
                a.max_concurrent,
                a.talking_at_max,
                a.calls_with_audio,
                a.loss_percent().map_or("-".to_owned(), |l| format!("{l:.3}")),
                d.p50,
                d.p99,
                d.max,
                a.never_connected,
                a.never_heard,
                a.failed,
                a.refused,
                100.0 * a.late as f64 / a.sent.max(1) as f64,
                s.server_cpu_percent.unwrap_or(f64::NAN),
                steady(a.steady.and_then(|c| c.server_percent)),
                s.client_cpu_percent.unwrap_or(f64::NAN),
                steady(a.steady.and_then(|c| c.client_percent)),
            );
        }
    }
    let webhook = match &webhook {
        Some(w) => {
            let j = w.to_json(&api, &workspace).await;
            println!(
                "event webhooks ({}): {} requests reached the receiver; {} events stored",
                w.mode, j["requests_received"], j["events_stored"]
            );
            j
        }
        None => Value::Null,
    };
    let doc = json!({
        "server": {"url": base, "started_here": server.is_some(), "pid": server_pid},
        "webhook": webhook,
        "workspace_sid": workspace,
        "open_files_limit": nofile,
        "config": {
            "call_rate": args.call_rate,
            "queue_share": args.queue_share,
            "queue": args.queue,
            "talk_ms": args.talk_ms,
            "duration_s": args.duration_s,
            "rest_rate": args.rest_rate,
            "rest_ops": args.rest_ops,
            "media": args.media,
            "media_threads": args.media_threads,
            "seed": args.seed,
            "steps": steps,
        },
        "steps": results.iter().map(Step::to_json).collect::<Vec<_>>(),
    });
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        let panel = |title: &str, pick: &dyn Fn(&Step) -> Summary| crate::plot::LoadPanel {
            title: title.to_owned(),
            points: results
                .iter()
                .map(|s| (s.connected as f64, pick(s)))
                .filter(|(_, x)| x.count > 0)
                .map(|(a, x)| (a, x.p50, x.p99, x.p999))
                .collect(),
        };
        let rate = args.call_rate;
        let mut panels = vec![
            panel(&format!("click → ring (ms), {rate} calls/s"), &|s| {
                s.phases[0].1
            }),
            panel(
                &format!("accept → connected (ms), {rate} calls/s"),
                &|s| s.phases[1].1,
            ),
            panel(
                &format!("hang-up → both wrapped (ms), {rate} calls/s"),
                &|s| s.phases[2].1,
            ),
        ];
        if args.rest_rate > 0.0 {
            panels.push(panel(
                &format!("REST task create (ms), {} req/s", args.rest_rate),
                &|s| s.rest[0].1,
            ));
        }
        crate::plot::load(path, &panels).with_context(|| format!("drawing {}", path.display()))?;
    }

    // Leave a server we did not start as we found it.
    shared.agents.write().map(|mut a| a.clear()).ok();
    if let Some(fleet) = &shared.media {
        fleet.shared.stop();
    }
    if server.is_none() {
        eprintln!("deleting the {} workers this run created…", workers.len());
        let deleted = bounded(
            16,
            workers
                .iter()
                .map(|w| {
                    let api = api.clone();
                    let path = format!("/v1/Workspaces/{workspace}/Workers/{w}");
                    async move { api.delete(&path).await }
                })
                .collect(),
        )
        .await;
        if let Err(e) = deleted {
            eprintln!("warning: deleting the workers: {e:#}");
        }
    }
    drop(server);
    Ok(())
}

/// Signs in the desktops of `workers[range]` (token, socket, Available) and starts their tasks;
/// how many failed (each failure is printed once per kind).
#[allow(clippy::too_many_arguments)]
async fn connect(
    api: &Api,
    workspace: &str,
    ws_base: &str,
    workers: &[String],
    range: std::ops::Range<usize>,
    args: &Args,
    shared: &Arc<Shared>,
    label: &str,
) -> anyhow::Result<usize> {
    if range.is_empty() {
        return Ok(0);
    }
    let total = range.len();
    let permits = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let done = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in range {
        let permit = permits.clone().acquire_owned().await?;
        let (api, ws, ws_base, worker) = (
            api.clone(),
            workspace.to_owned(),
            ws_base.to_owned(),
            workers[i].clone(),
        );
        let signed = done.clone();
        handles.push(tokio::spawn(async move {
            let _permit = permit;
            let token = api.access_token(&ws, &worker).await?;
            let r = agent::sign_in(&ws_base, &token).await;
            signed.fetch_add(1, Ordering::Relaxed);
            r.map(|(socket, state)| (i, worker, socket, state, token))
        }));
        progress(&format!(
            "{label}: signing in {}/{total}",
            done.load(Ordering::Relaxed)
        ));
    }
    let mut failures = 0;
    let mut last_error = String::new();
    for h in handles {
        match h.await {
            Ok(Ok((i, worker, socket, state, token))) => {
                if shared.internal_call.get().is_none() {
                    let ic = &state["internal_call"];
                    let Some(app) = ic["application_sid"].as_str() else {
                        bail!("the workspace has no Internal Call application (internal_call.application_sid is null): set it up with `switchboard provision`, or use the demo");
                    };
                    let queue = ic["outbound_queue_sid"].as_str().map(str::to_owned);
                    let _ = shared.internal_call.set((app.to_owned(), queue));
                }
                let full_name = format!("Load Agent {i}");
                let (tx, rx) = mpsc::unbounded_channel();
                let handle = Arc::new(AgentHandle {
                    sid: worker,
                    full_name,
                    queue_member: queue_member(i, args.queue_share),
                    busy: std::sync::atomic::AtomicBool::new(false),
                    tx,
                });
                let idx = {
                    let mut agents = shared.agents.write().unwrap_or_else(|e| e.into_inner());
                    agents.push(handle);
                    agents.len() - 1
                };
                let reconnect = args.fault.map(|_| agent::Reconnect {
                    ws_base: ws_base.to_owned(),
                    token,
                    for_how_long: fault::RECONNECT_FOR,
                });
                tokio::spawn(agent::run(idx, socket, rx, shared.clone(), reconnect));
            }
            Ok(Err(e)) => {
                failures += 1;
                let msg = format!("{e:#}");
                if msg != last_error {
                    eprintln!("\na desktop did not sign in: {msg}");
                    last_error = msg;
                }
            }
            Err(e) => {
                failures += 1;
                eprintln!("\na sign-in task failed: {e}");
            }
        }
    }
    if failures == total {
        bail!("no desktop signed in ({last_error})");
    }
    Ok(failures)
}

/// Writes a progress line to stderr (rewritten in place on a terminal).
fn progress(line: &str) {
    use std::io::Write;
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }
}

/// One step: calls and REST requests for `--duration-s`, then the calls in progress finish.
async fn measure(
    args: &Args,
    shared: &Arc<Shared>,
    rest: Option<&Arc<rest::Rest>>,
    server_pid: Option<u32>,
    rng: &mut Rng,
    seq: &mut u64,
    label: &str,
) -> Step {
    let start = Instant::now();
    shared.book().figures = CallFigures {
        step_start: Some(start),
        ..CallFigures::default()
    };
    shared.messages.store(0, Ordering::Relaxed);
    if let Some(r) = rest {
        *r.figures.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
    }
    let until = start + Duration::from_secs_f64(args.duration_s);
    let server_before = server_pid.and_then(|p| proc_sample(Some(p)));
    let client_before = proc_sample(None);
    let mut peak_rss = server_before.map(|s| s.rss_mib);
    let ops: Vec<u64> = args
        .rest_ops
        .iter()
        .filter_map(|o| match o.as_str() {
            "create" => Some(0),
            "update" => Some(1),
            "list" => Some(2),
            _ => None,
        })
        .collect();
    let rest_task = rest.map(|r| {
        let (r, rate) = (r.clone(), args.rest_rate);
        tokio::spawn(async move { r.drive(rate, &ops, until).await })
    });
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.call_rate.max(1e-3)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut report = tokio::time::interval(Duration::from_millis(500));
    let mut audio_tick = tokio::time::interval(Duration::from_millis(200));
    audio_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut audio_now, mut audio_max, mut talking_at_max, mut talking_max) = (0, 0, 0, 0);
    // CPU once the calls have built up (each lasts --talk-ms): from then to the window's end.
    let steady_from = Duration::from_millis(args.talk_ms) + Duration::from_secs(2);
    let mut steady_before: Option<(Instant, Option<ProcSample>, Option<ProcSample>)> = None;
    let drain_until = until + Duration::from_millis(args.talk_ms) + Duration::from_secs(20);
    let mut server_after: Option<ProcSample> = None;
    let mut client_after: Option<ProcSample> = None;
    let mut calls_window_end = None;
    loop {
        let now = Instant::now();
        let generating = now < until;
        if !generating {
            if calls_window_end.is_none() {
                calls_window_end = Some(now);
                server_after = server_pid.and_then(|p| proc_sample(Some(p)));
                client_after = proc_sample(None);
            }
            let open = shared.book().calls.len();
            let rest_done = rest_task.as_ref().is_none_or(|t| t.is_finished());
            if (open == 0 && rest_done) || now > drain_until {
                break;
            }
        }
        tokio::select! {
            _ = tick.tick(), if generating && args.call_rate > 0.0 => {
                place_call(args, shared, rng, seq);
            }
            _ = audio_tick.tick(), if shared.media.is_some() => {
                if steady_before.is_none() && generating && start.elapsed() >= steady_from {
                    steady_before = Some((
                        Instant::now(),
                        server_pid.and_then(|p| proc_sample(Some(p))),
                        proc_sample(None),
                    ));
                }
                if let Some(fleet) = &shared.media {
                    let since = audio::receiving_since(fleet);
                    let book = shared.book();
                    audio_now = book.calls.values().filter(|c| c.has_audio(since)).count();
                    let talking = book.calls.values().filter(|c| c.is_talking()).count();
                    drop(book);
                    talking_max = talking_max.max(talking);
                    if audio_now > audio_max {
                        (audio_max, talking_at_max) = (audio_now, talking);
                    }
                }
            }
            _ = report.tick() => {
                let s = server_pid.and_then(|p| proc_sample(Some(p)));
                if let Some(s) = s {
                    peak_rss = Some(peak_rss.map_or(s.rss_mib, |p: f64| p.max(s.rss_mib)));
                }
                let (started, completed, open, errors) = {
                    let b = shared.book();
                    (b.figures.started, b.figures.completed, b.calls.len(), b.figures.errors.total())
                };
                let rest_n = rest.map_or(0, |r| {
                    let f = r.figures.lock().unwrap_or_else(|e| e.into_inner());
                    f.create.len() + f.update.len() + f.list.len()
                });
                let cpu = match (server_before, s) {
                    (Some(a), Some(b)) => format!(
                        " | server CPU {:.0}% RSS {:.0} MiB",
                        100.0 * (b.cpu_seconds - a.cpu_seconds) / start.elapsed().as_secs_f64().max(1e-3),
                        b.rss_mib
                    ),
                    _ => String::new(),
                };
                let audio = if shared.media.is_some() {
                    format!(" | with audio {audio_now} (most {audio_max})")
                } else {
                    String::new()
                };
                progress(&format!(
                    "{label} | {:.1}/{:.0} s{} | calls {started} placed, {open} open, {completed} done{audio} | errors {errors} | REST {rest_n}{cpu}",
                    start.elapsed().as_secs_f64(),
                    args.duration_s,
                    if generating { "" } else { " (draining)" },
                ));
            }
        }
    }
    if let Some(t) = rest_task {
        let _ = t.await;
    }
    let seconds = (calls_window_end.unwrap_or(until) - start).as_secs_f64();
    progress("");
    let percent = |a: Option<ProcSample>, b: Option<ProcSample>| match (a, b) {
        (Some(a), Some(b)) => Some(100.0 * (b.cpu_seconds - a.cpu_seconds) / seconds),
        _ => None,
    };
    // Calls still open now never finished.
    let mut book = shared.book();
    let open: Vec<(String, CallRecord)> = book.calls.drain().collect();
    for (_, rec) in &open {
        rec.stop_audio();
        book.figures.errors.add(format!(
            "{} call {} (unfinished {:.0} s after it was placed; outcome {})",
            rec.kind(),
            rec.missing_phase(),
            rec.created.elapsed().as_secs_f64(),
            rec.outcome().unwrap_or("none")
        ));
    }
    let dropped = shared.dropped.swap(0, Ordering::Relaxed);
    let messages = shared.messages.swap(0, Ordering::Relaxed);
    let mut f = std::mem::take(&mut book.figures);
    drop(book);
    let audio = shared.media.is_some().then(|| {
        let mut a = std::mem::take(&mut f.audio);
        (a.max_concurrent, a.talking_at_max, a.max_talking) =
            (audio_max, talking_at_max, talking_max);
        a.steady = steady_before.map(|(t, server0, client0)| {
            let secs = (calls_window_end.unwrap_or(until) - t)
                .as_secs_f64()
                .max(1e-3);
            let pct = |a: Option<ProcSample>, b: Option<ProcSample>| match (a, b) {
                (Some(a), Some(b)) => Some(100.0 * (b.cpu_seconds - a.cpu_seconds) / secs),
                _ => None,
            };
            SteadyCpu {
                from_second: (t - start).as_secs_f64(),
                seconds: secs,
                server_percent: pct(server0, server_after),
                client_percent: pct(client0, client_after),
            }
        });
        a
    });
    let mut errors = f.errors;
    let (rest_sums, rest_skipped) = match rest {
        Some(r) => {
            let rf = std::mem::take(&mut *r.figures.lock().unwrap_or_else(|e| e.into_inner()));
            let sums = [
                ("create", rf.create.summary(seconds)),
                ("update", rf.update.summary(seconds)),
                ("list", rf.list.summary(seconds)),
            ];
            errors = merge(errors, rf.errors);
            (sums, rf.skipped)
        }
        None => {
            let e = stats::Samples::default().summary(seconds);
            ([("create", e), ("update", e), ("list", e)], 0)
        }
    };
    if dropped > 0 {
        tracing::warn!(dropped, "desktop sockets ended during the step");
    }
    Step {
        agents: 0,
        connected: 0,
        connect_failures: 0,
        connect_seconds: 0.0,
        seconds,
        phases: [
            ("click_to_ring", f.ring.summary(seconds)),
            ("accept_to_connected", f.connect.summary(seconds)),
            ("hangup_to_wrapped", f.wrap.summary(seconds)),
        ],
        connect_sides: [
            ("callee", f.connect_callee.summary(seconds)),
            ("caller", f.connect_caller.summary(seconds)),
        ],
        rest: rest_sums,
        started: f.started,
        started_to_queue: f.started_to_queue,
        completed: f.completed,
        completed_to_queue: f.completed_to_queue,
        skipped: f.skipped,
        rest_skipped,
        desktop_messages: messages,
        error_total: errors.total(),
        errors: errors.to_json(),
        server_cpu_percent: percent(server_before, server_after),
        server_rss_mib: server_after.map(|s| s.rss_mib),
        server_rss_peak_mib: peak_rss,
        client_cpu_percent: percent(client_before, client_after),
        ring_timeline: by_second(&f.ring_timeline),
        audio,
    }
}

/// Samples `(seconds, ms)` per whole second: `[{"second", "count", "p50_ms", "max_ms"}]`, so a
/// stall shows as the seconds it hit.
fn by_second(samples: &[(f64, f64)]) -> Value {
    let mut secs: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
    for (t, ms) in samples {
        secs.entry(t.max(0.0) as u64).or_default().push(*ms);
    }
    secs.into_iter()
        .map(|(s, mut v)| {
            v.sort_by(f64::total_cmp);
            let r = |x: f64| (x * 10.0).round() / 10.0;
            json!({
                "second": s,
                "count": v.len(),
                "p50_ms": r(v[v.len() / 2]),
                "max_ms": r(v[v.len() - 1]),
            })
        })
        .collect()
}

/// Both error counts in one.
fn merge(a: stats::Errors, b: stats::Errors) -> stats::Errors {
    let mut out = a;
    out.extend(b);
    out
}

#[cfg(test)]
mod tests {
    use super::dial::app_address;
    use super::*;

    #[test]
    fn queue_members_are_spread_by_share() {
        let members = (0..100).filter(|&i| queue_member(i, 0.2)).count();
        assert_eq!(members, 20);
        assert!(!(0..100).any(|i| queue_member(i, 0.0)));
        assert_eq!((0..10).filter(|&i| queue_member(i, 1.0)).count(), 10);
    }

    #[test]
    fn app_addresses_are_percent_encoded() {
        assert_eq!(
            app_address(
                "AP1",
                &[("from", "Load Agent 1"), ("conversation_id", "c-1")]
            ),
            "app:AP1?from=Load%20Agent%201&conversation_id=c-1"
        );
    }
}
