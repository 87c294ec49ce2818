//! Servers in processes of their own, for tests that `kill -9` them: a test binary runs one of
//! its own test functions as the server's body (a no-op unless an environment variable carries
//! its spec), with its output in a log file the test reads.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One run of a server process.
pub struct ServerProcess {
    child: Option<Child>,
    log: PathBuf,
}

impl ServerProcess {
    /// Runs the test function `body` of this binary in `dir`, with `env` set to `spec` (JSON),
    /// stdout and stderr into `log`.
    pub fn spawn(
        body: &str,
        env: &str,
        spec: &serde_json::Value,
        dir: &Path,
        log: PathBuf,
    ) -> Self {
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .args([body, "--exact", "--nocapture", "--test-threads=1"])
            .env(env, spec.to_string())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        ServerProcess {
            child: Some(child),
            log,
        }
    }

    /// What it wrote so far.
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Its process id, while it has not been reaped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends `kill -SIG` (`STOP`, `CONT`, ...); whether it was delivered.
    pub fn signal(&self, sig: &str) -> bool {
        self.pid().is_some_and(|pid| {
            Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(pid.to_string())
                .status()
                .is_ok_and(|s| s.success())
        })
    }

    /// `kill -9`, and reaped.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let ok = Command::new("kill")
                .args(["-KILL", &c.id().to_string()])
                .status()
                .unwrap()
                .success();
            assert!(ok, "kill -9 {}", c.id());
            let _ = c.wait();
        }
    }

    /// How it ended, if it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // A stopped process is woken first, so that it can be killed and reaped.
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
