//! What `switchboard serve` prints when it starts: where it listens, where its audio relay
//! listens, and, on a database that had no credentials, the ones it created (once: a second
//! start on the same database does not show them again). The same for a cluster node on
//! PostgreSQL (a scratch schema on the server `SWITCHBOARD_TEST_POSTGRES` names, by default
//! `postgres://postgres@127.0.0.1:5432/test`): the node that creates them prints them. And that a
//! start raises the open-files limit it was given to the hard limit.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A started `serve` and its stdout, line by line.
struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<()>,
}

impl Serve {
    fn start(database: &Path) -> Serve {
        let database = format!("sqlite://{}", database.display());
        Serve::with(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--media-listen",
            "127.0.0.1:0",
            "--database",
            &database,
        ])
    }

    fn with(args: &[&str]) -> Serve {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command.args(args);
        Serve::spawn(command)
    }

    /// Starts `command` (which runs `switchboard`, directly or through a shell's `exec`) with
    /// no credentials or addresses from the environment, its stdout read line by line.
    fn spawn(mut command: Command) -> Serve {
        let mut child = command
            .env_remove("TWILIO_ACCOUNT_SID")
            .env_remove("TWILIO_AUTH_TOKEN")
            .env_remove("SWITCHBOARD_PUBLIC_URL")
            .env_remove("SWITCHBOARD_MEDIA_ADDRESS")
            .env("RUST_LOG", "off")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting switchboard serve");
        let out = child.stdout.take().expect("its stdout");
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Serve {
            child,
            lines,
            reader,
        }
    }

    /// The next line it prints (within 30 s).
    fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the server printed no further line")
    }

    /// Stops it as a service manager would (SIGTERM, so a node hands its lease back); everything
    /// it printed that was not read yet.
    fn stop(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let stopped = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            self.child.try_wait().is_ok_and(|s| s.is_some())
        });
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        let _ = self.reader.join();
        self.lines.try_iter().collect()
    }
}

/// `GET {url}/v1/Workspaces` with these credentials, waiting (20 s at most) for the server to
/// answer at all and, for a cluster node, to have an owner (503 until then); its status.
fn workspaces(url: &str, sid: &str, token: &str) -> u16 {
    let http = reqwest::blocking::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = http
            .get(format!("{url}/v1/Workspaces"))
            .basic_auth(sid, Some(token))
            .send()
            .map(|r| r.status().as_u16());
        match status {
            Ok(503) | Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(status) => return status,
            Err(e) => panic!("{url}: {e}"),
        }
    }
}

impl Serve {
    /// A single server's first two lines: where it listens (returned) and its audio relay.
    fn listening(&self) -> String {
        let listening = self.line();
        let url = listening
            .strip_prefix("Switchboard is listening at ")
            .filter(|u| u.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("not where it listens: {listening}"))
            .to_string();
        let relay = self.line();
        assert!(
            relay.starts_with("  Audio relay: udp 127.0.0.1:"),
            "{relay}"
        );
        // ICE-TCP by default, on the same port number.
        let udp = relay.split_whitespace().nth(3).expect("the UDP address");
        let port = udp.rsplit(':').next().expect("a port");
        assert!(
            relay.ends_with(&format!(", tcp 127.0.0.1:{port}")),
            "{relay}"
        );
        url
    }

    /// The three lines of created credentials: the account SID (`AC` + 32 hex digits) and the
    /// auth token.
    fn created_credentials(&self) -> (String, String) {
        assert_eq!(
            self.line(),
            "Created credentials (stored; shown this once):"
        );
        let sid = self.line();
        let sid = sid
            .strip_prefix("  Account SID: ")
            .filter(|s| {
                s.len() == 34
                    && s.starts_with("AC")
                    && s[2..].chars().all(|c| c.is_ascii_hexdigit())
            })
            .unwrap_or_else(|| panic!("no account SID: {sid}"))
            .to_string();
        let token = self.line();
        let token = token
            .strip_prefix("  Auth token:  ")
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| panic!("no auth token: {token}"))
            .to_string();
        (sid, token)
    }

    /// Stops it, and checks that it did not show credentials (`token`) again.
    fn stop_having_shown_none(self, token: &str) {
        let rest = self.stop();
        assert!(
            rest.iter()
                .all(|l| !l.contains("Created credentials") && !l.contains(token)),
            "the second start showed credentials again: {rest:?}"
        );
    }
}

#[test]
fn serve_prints_its_relay_always_and_created_credentials_once() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let database = dir.path().join("serve.db");

    let first = Serve::start(&database);
    let url = first.listening();
    let (sid, token) = first.created_credentials();
    assert_eq!(workspaces(&url, &sid, &token), 200);
    assert_eq!(workspaces(&url, &sid, "not-the-token"), 401);
    first.stop();

    // The same database: the stored credentials still work, and are not shown again.
    let second = Serve::start(&database);
    let url = second.listening();
    // Answering means the banner is all printed (it comes before serving).
    assert_eq!(workspaces(&url, &sid, &token), 200);
    second.stop_having_shown_none(&token);
}

#[test]
fn a_cluster_node_prints_the_credentials_it_created() {
    let server = std::env::var(switchboard_store::TEST_SERVER_VAR)
        .unwrap_or_else(|_| switchboard_store::TEST_SERVER_DEFAULT.into());
    let schema = switchboard_store::ScratchSchema::create(&server)
        .unwrap_or_else(|e| panic!("a scratch schema on {server}: {e}"));
    // A node on a free port; its URL, checked against the first line it prints.
    let node = || {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let node = Serve::with(&[
            "serve",
            "--node-id",
            "n1",
            "--no-media",
            "--listen",
            &listen,
            "--database",
            schema.url(),
        ]);
        let url = format!("http://{listen}");
        assert_eq!(
            node.line(),
            format!("Switchboard node n1 is listening at {url}")
        );
        (node, url)
    };

    let (first, url) = node();
    let (sid, token) = first.created_credentials();
    assert_eq!(workspaces(&url, &sid, &token), 200);
    first.stop();

    // Started again on the same database: it becomes the owner with the stored credentials and
    // does not show them.
    let (second, url) = node();
    assert_eq!(workspaces(&url, &sid, &token), 200);
    second.stop_having_shown_none(&token);
}

#[test]
fn media_transports_choose_what_the_relay_offers_and_a_wrong_one_is_named() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let database = format!("sqlite://{}", dir.path().join("t.db").display());
    let serve = |transports: &str| {
        Serve::with(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--media-listen",
            "127.0.0.1:0",
            "--media-transports",
            transports,
            "--database",
            &database,
        ])
    };
    let tcp_only = serve("tcp");
    tcp_only.line();
    let relay = tcp_only.line();
    assert!(
        relay.starts_with("  Audio relay: tcp 127.0.0.1:")
            && relay.ends_with(" only (--media-transports tcp)"),
        "{relay}"
    );
    tcp_only.stop();
    let udp_only = serve("udp");
    udp_only.line();
    let relay = udp_only.line();
    assert!(
        relay.starts_with("  Audio relay: udp 127.0.0.1:"),
        "{relay}"
    );
    assert!(!relay.contains("tcp"), "{relay}");
    udp_only.stop();

    let err = fails_to_start(&[
        "serve".into(),
        "--media-transports".into(),
        "udp,sctp".into(),
        "--database".into(),
        database.clone(),
    ]);
    assert!(err.contains("--media-transports"), "{err}");
    assert!(err.contains("\"sctp\" is not a transport"), "{err}");
}

#[test]
fn a_media_port_taken_on_tcp_stops_a_start_that_requires_it_and_no_other() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let database = format!("sqlite://{}", dir.path().join("t.db").display());
    // Something else holds the TCP side of the media port.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a TCP port");
    let media = taken.local_addr().expect("its address").to_string();
    let args = |extra: &[&'static str]| {
        let mut args = vec![
            "serve".to_owned(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--media-listen".into(),
            media.clone(),
            "--database".into(),
            database.clone(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    // Asked for by name, the listener is required: the start fails, saying where and how to do
    // without it.
    let err = fails_to_start(&args(&["--media-transports", "udp,tcp"]));
    assert!(
        err.contains(&format!("media TCP listener on {media}")),
        "{err}"
    );
    assert!(err.contains("--media-transports udp"), "{err}");
    // By default, and with udp alone, the relay serves on that port without it.
    for extra in [&[][..], &["--media-transports", "udp"][..]] {
        let args = args(extra);
        let serve = Serve::with(&args.iter().map(String::as_str).collect::<Vec<_>>());
        serve.line();
        assert_eq!(
            serve.line(),
            format!("  Audio relay: udp {media} (browsers send to {media})"),
            "{extra:?}"
        );
        serve.stop();
    }
}

/// Started with a soft open-files limit far below its hard one (as service managers often
/// leave it), the server raises the soft limit to the hard one: its desktops' sockets are files.
#[test]
fn serve_raises_its_open_files_limit_to_the_hard_limit() {
    let dir = tempfile::tempdir().expect("dir");
    let database = format!("sqlite://{}", dir.path().join("sb.db").display());
    let script = format!(
        "ulimit -Sn 256 && exec \"$0\" serve --listen 127.0.0.1:0 --media-listen 127.0.0.1:0 --database '{database}'"
    );
    let mut command = Command::new("sh");
    command.args(["-c", &script, env!("CARGO_BIN_EXE_switchboard")]);
    let server = Serve::spawn(command);
    // Listening means started, and the limit is raised before anything else.
    while !server.line().contains("is listening at") {}
    let limits =
        std::fs::read_to_string(format!("/proc/{}/limits", server.child.id())).expect("its limits");
    server.stop();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("an open-files line");
    let fields: Vec<&str> = open_files.split_whitespace().collect();
    let (soft, hard) = (fields[3], fields[4]);
    assert_ne!(
        soft, "256",
        "the soft limit was left as it was: {open_files}"
    );
    assert_eq!(soft, hard, "{open_files}");
}

/// Runs `switchboard ARGS`, which must exit unsuccessfully within 30 s; its stderr.
fn fails_to_start(args: &[String]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env_remove("SWITCHBOARD_MEDIA_TRANSPORTS")
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running switchboard");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("its status") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("switchboard {args:?} did not stop: it started");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success(), "switchboard {args:?} succeeded");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    err
}

/// A TCP port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
