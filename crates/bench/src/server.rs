//! A Switchboard server process for one measurement: its own temporary database, a free port on
//! 127.0.0.1, known credentials; stopped (SIGTERM, then kill) when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The account the benchmark authenticates as.
pub const ACCOUNT: &str = "AC0000000000000000000000000000bead";
/// Its auth token.
pub const TOKEN: &str = "bench-token";

/// A running server.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Server {
    /// Starts `bin serve` and waits until it answers `/readyz`.
    pub async fn start(bin: &str, extra_env: &[(&str, &str)]) -> anyhow::Result<Server> {
        Ok(Server::start_with(bin, "serve", &[], extra_env, None)
            .await?
            .0)
    }

    /// Starts `bin SUBCOMMAND` with `args` (through `taskset -c CPUS` when `cpus` is given) and
    /// waits until it answers `/readyz`; also the lines it printed to stdout by then.
    pub async fn start_with(
        bin: &str,
        subcommand: &str,
        args: &[String],
        extra_env: &[(&str, &str)],
        cpus: Option<&str>,
    ) -> anyhow::Result<(Server, Vec<String>)> {
        let dir = std::env::temp_dir().join(format!(
            "switchboard-bench-{}-{}",
            std::process::id(),
            free_port()?
        ));
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        // taskset execs the server, so the child's pid is the server's.
        let mut cmd = match cpus {
            Some(c) => {
                let mut t = Command::new("taskset");
                t.arg("-c").arg(c).arg(bin);
                t
            }
            None => Command::new(bin),
        };
        cmd.arg(subcommand)
            .args(args)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--database")
            .arg(format!("sqlite://{}", dir.join("bench.db").display()))
            .env("TWILIO_ACCOUNT_SID", ACCOUNT)
            .env("TWILIO_AUTH_TOKEN", TOKEN)
            // SWITCHBOARD_BENCH_SERVER_LOG: the server's log filter (default: warnings only).
            .env(
                "RUST_LOG",
                std::env::var("SWITCHBOARD_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().with_context(|| format!("starting {bin}"))?;
        // Read stdout on a thread of its own so the server never blocks on a full pipe.
        // With a log filter asked for, its lines are copied to stderr too.
        let echo = std::env::var_os("SWITCHBOARD_BENCH_SERVER_LOG").is_some();
        let (lines_tx, lines) = std::sync::mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    if echo {
                        eprintln!("server: {line}");
                    }
                    let _ = lines_tx.send(line);
                }
            });
        }
        let server = Server {
            child,
            base,
            _dir: TempDir(dir),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await {
                if r.status().is_success() {
                    // What it printed before it was ready (the banner comes first).
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    return Ok((server, lines.try_iter().collect()));
                }
            }
            if Instant::now() > deadline {
                bail!("the server did not become ready within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server process's CPU time so far (user + system), from /proc.
    pub fn cpu_seconds(&self) -> Option<f64> {
        proc_cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }
}

/// User + system CPU seconds from a `/proc/…/stat` file (a process's or a thread's).
pub fn proc_cpu_seconds(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux.
    Some((utime + stime) / 100.0)
}

/// Stops a child process: SIGTERM, up to 10 s to exit, then SIGKILL.
pub fn stop(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Server {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
