//! `switchboard provision` and `switchboard generate-env`, run as the built binary against a real
//! Switchboard server (`serve` or `demo` on 127.0.0.1:0), checked through the REST API.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ACCOUNT: &str = "AC00000000000000000000000000000abc";
const TOKEN: &str = "provision-test-token";
const ENQUEUE: &str = "/features/internal-call/common/enqueue";

struct Server {
    child: Child,
    url: String,
    http: reqwest::blocking::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn serve() -> Server {
        Server::start(&["serve"], "Switchboard is listening at ")
    }

    fn demo() -> Server {
        Server::start(&["demo", "--fresh"], "Switchboard demo is running at ")
    }

    fn start(command: &[&str], banner: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}", dir.path().join("db").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(command)
            .args(["--listen", "127.0.0.1:0", "--database", &database])
            .env("TWILIO_ACCOUNT_SID", ACCOUNT)
            .env("TWILIO_AUTH_TOKEN", TOKEN)
            .env("RUST_LOG", "warn")
            .env_remove("SWITCHBOARD_PUBLIC_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the server exited before printing its URL")
                .unwrap();
            if let Some(rest) = line.trim().strip_prefix(banner.trim()) {
                break rest.trim().to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let http = reqwest::blocking::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = http
                .get(format!("{url}/healthz"))
                .send()
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            assert!(Instant::now() < deadline, "{url}/healthz never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            url,
            http,
            _dir: dir,
        }
    }

    fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .basic_auth(ACCOUNT, Some(TOKEN))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        serde_json::from_str::<Value>(&r.text().unwrap()).unwrap()
    }

    fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .basic_auth(ACCOUNT, Some(TOKEN))
            .form(form)
            .send()
            .unwrap();
        let status = r.status();
        let body: Value = serde_json::from_str::<Value>(&r.text().unwrap()).unwrap();
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

    fn post_json(&self, path: &str, body: &Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .basic_auth(ACCOUNT, Some(TOKEN))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        assert!(r.status().is_success(), "POST {path}: {}", r.status());
        serde_json::from_str::<Value>(&r.text().unwrap()).unwrap()
    }

    fn workspace(&self) -> Value {
        let list = self.get("/v1/Workspaces");
        let found: Vec<&Value> = list["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["friendly_name"] == "Flex Task Assignment")
            .collect();
        assert_eq!(found.len(), 1, "{list}");
        found[0].clone()
    }

    fn ws_sid(&self) -> String {
        self.workspace()["sid"].as_str().unwrap().to_string()
    }

    fn create_workspace(&self) -> String {
        let ws = self.post(
            "/v1/Workspaces",
            &[("FriendlyName", "Flex Task Assignment")],
        );
        ws["sid"].as_str().unwrap().to_string()
    }

    fn create_queue(&self, ws: &str, name: &str) -> String {
        let q = self.post(
            &format!("/v1/Workspaces/{ws}/TaskQueues"),
            &[("FriendlyName", name), ("TargetWorkers", "1==1")],
        );
        q["sid"].as_str().unwrap().to_string()
    }

    fn named(&self, path: &str, key: &str, name: &str) -> Value {
        let list = self.get(path);
        let found: Vec<&Value> = list[key]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["friendly_name"] == name)
            .collect();
        assert_eq!(found.len(), 1, "{name} in {list}");
        found[0].clone()
    }

    fn queue(&self, name: &str) -> Value {
        let ws = self.ws_sid();
        self.named(
            &format!("/v1/Workspaces/{ws}/TaskQueues"),
            "task_queues",
            name,
        )
    }

    fn workflow(&self, name: &str) -> Value {
        let ws = self.ws_sid();
        self.named(&format!("/v1/Workspaces/{ws}/Workflows"), "workflows", name)
    }

    fn applications(&self) -> Vec<Value> {
        self.get(&format!("/2010-04-01/Accounts/{ACCOUNT}/Applications.json"))["applications"]
            .as_array()
            .unwrap()
            .clone()
    }

    fn application(&self) -> Value {
        self.named(
            &format!("/2010-04-01/Accounts/{ACCOUNT}/Applications.json"),
            "applications",
            "Internal Call",
        )
    }

    fn flex(&self) -> Value {
        self.get("/v1/Configuration")
    }

    /// Everything provisioning may touch, to compare before and after.
    fn snapshot(&self) -> Value {
        let ws = self.ws_sid();
        json!({
            "workspaces": self.get("/v1/Workspaces")["workspaces"],
            "queues": self.get(&format!("/v1/Workspaces/{ws}/TaskQueues"))["task_queues"],
            "workflows": self.get(&format!("/v1/Workspaces/{ws}/Workflows"))["workflows"],
            "activities": self.get(&format!("/v1/Workspaces/{ws}/Activities"))["activities"],
            "applications": self.applications(),
            "flex": self.flex(),
        })
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut full = vec![args[0], "--base-url", &self.url];
        full.extend_from_slice(&args[1..]);
        run(
            &full,
            &[
                ("TWILIO_ACCOUNT_SID", ACCOUNT),
                ("TWILIO_AUTH_TOKEN", TOKEN),
            ],
        )
    }
}

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.args(args);
    for var in [
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_API_KEY",
        "TWILIO_API_SECRET",
    ] {
        command.env_remove(var);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    Run {
        success: status.success(),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

impl Run {
    fn ok(self) -> Run {
        assert!(
            self.success,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    fn failed(self) -> Run {
        assert!(
            !self.success,
            "expected failure\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The plan's line for a resource.
    fn plan_line(&self, label: &str) -> &str {
        let plan = self.stdout.split("Applying:").next().unwrap();
        plan.lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no plan line for {label} in:\n{}", self.stdout))
    }
}

const LABELS: [&str; 5] = [
    "workspace \"Flex Task Assignment\":",
    "application \"Internal Call\":",
    "task queue \"Internal Calls\":",
    "workflow \"Internal Call\":",
    "Flex Configuration ui_attributes.custom_data.features.internal_call:",
];

fn expected_workflow(internal: &str, queues: &[(&str, &str)]) -> Value {
    let mut filters = vec![json!({
        "filter_friendly_name": "Assign to Agent",
        "expression": "worker_sid != null AND callToQueue == null",
        "targets": [{"queue": internal, "priority": 1000, "known_worker_sid": "task.worker_sid"}],
    })];
    for (name, sid) in queues {
        filters.push(json!({
            "filter_friendly_name": format!("Assign to Queue - {name}"),
            "expression": format!("callToQueue == '{name}'"),
            "targets": [{"queue": sid}],
        }));
    }
    json!({"task_routing": {"filters": filters}})
}

fn configuration(workflow: &Value) -> Value {
    serde_json::from_str(workflow["configuration"].as_str().unwrap()).unwrap()
}

#[test]
fn provisions_an_empty_server_then_changes_nothing_on_a_second_run() {
    let server = Server::serve();
    let first = server.run(&["provision"]).ok();
    for label in LABELS {
        let line = first.plan_line(label);
        assert!(!line.contains("unchanged"), "{line}");
    }
    assert!(first
        .stdout
        .contains("Done: 4 created, 1 updated, 0 unchanged."));

    // The workspace, with TaskRouter's default activities and channels.
    let ws = server.ws_sid();
    let activities: Vec<String> = server.get(&format!("/v1/Workspaces/{ws}/Activities"))
        ["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["friendly_name"].as_str().unwrap().to_string())
        .collect();
    for name in ["Offline", "Available", "Unavailable"] {
        assert!(activities.iter().any(|a| a == name), "{activities:?}");
    }
    let channels = server.get(&format!("/v1/Workspaces/{ws}/TaskChannels"));
    assert!(channels.to_string().contains("\"voice\""), "{channels}");

    let app = server.application();
    assert_eq!(app["voice_url"], format!("{}{ENQUEUE}", server.url));
    assert_eq!(app["voice_method"], "POST");

    let queue = server.queue("Internal Calls");
    assert_eq!(queue["target_workers"], "1==1");
    assert_eq!(queue["max_reserved_workers"], 1);
    assert_eq!(queue["task_order"], "FIFO");
    let queue_sid = queue["sid"].as_str().unwrap();

    let workflow = server.workflow("Internal Call");
    assert_eq!(configuration(&workflow), expected_workflow(queue_sid, &[]));
    assert_eq!(workflow["task_reservation_timeout"], 30);

    let flex = server.flex();
    assert_eq!(
        flex["ui_attributes"]["custom_data"]["features"]["internal_call"],
        json!({
            "enabled": true,
            "enable_call_agent": true,
            "enable_call_queue": true,
            "application_sid": app["sid"],
            "outbound_queue_sid": queue_sid,
        })
    );

    // The workflow routes a call to an agent to that agent, not to whoever is free first.
    let available = server.named(
        &format!("/v1/Workspaces/{ws}/Activities"),
        "activities",
        "Available",
    )["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let mut workers = Vec::new();
    for name in ["alice", "bob"] {
        let w = server.post(
            &format!("/v1/Workspaces/{ws}/Workers"),
            &[("FriendlyName", name), ("ActivitySid", &available)],
        );
        workers.push(w["sid"].as_str().unwrap().to_string());
    }
    let attributes = json!({"worker_sid": workers[1]}).to_string();
    let task = server.post(
        &format!("/v1/Workspaces/{ws}/Tasks"),
        &[
            ("WorkflowSid", workflow["sid"].as_str().unwrap()),
            ("Attributes", &attributes),
            ("TaskChannel", "voice"),
        ],
    );
    let task_sid = task["sid"].as_str().unwrap();
    let reservations = server.get(&format!(
        "/v1/Workspaces/{ws}/Tasks/{task_sid}/Reservations"
    ));
    let reservations = reservations["reservations"].as_array().unwrap();
    assert_eq!(reservations.len(), 1, "{reservations:?}");
    assert_eq!(reservations[0]["worker_sid"], workers[1].as_str());

    // A second run: everything unchanged, nothing written.
    let before = server.snapshot();
    let second = server.run(&["provision"]).ok();
    for label in LABELS {
        let line = second.plan_line(label);
        assert!(line.ends_with(": unchanged"), "{line}");
    }
    assert!(
        second.stdout.contains("Nothing to change."),
        "{}",
        second.stdout
    );
    assert!(!second.stdout.contains("Applying:"), "{}", second.stdout);
    assert_eq!(server.snapshot(), before);
}

#[test]
fn dry_run_plans_an_update_and_writes_nothing() {
    let server = Server::serve();
    server.run(&["provision"]).ok();
    let ws = server.ws_sid();
    let queue = server.queue("Internal Calls");
    server.post(
        &format!(
            "/v1/Workspaces/{ws}/TaskQueues/{}",
            queue["sid"].as_str().unwrap()
        ),
        &[("MaxReservedWorkers", "3")],
    );
    let before = server.snapshot();
    let dry = server.run(&["provision", "--dry-run"]).ok();
    assert!(
        dry.plan_line("task queue \"Internal Calls\":")
            .contains("update (max_reserved_workers: 3 → 1)"),
        "{}",
        dry.stdout
    );
    assert!(dry
        .plan_line("workflow \"Internal Call\":")
        .ends_with("unchanged"));
    assert!(dry.stdout.contains("Dry run: nothing was written."));
    assert_eq!(server.snapshot(), before);
    assert_eq!(server.queue("Internal Calls")["max_reserved_workers"], 3);

    let fix = server.run(&["provision"]).ok();
    assert!(
        fix.stdout
            .contains("Done: 0 created, 1 updated, 4 unchanged."),
        "{}",
        fix.stdout
    );
    assert_eq!(server.queue("Internal Calls")["max_reserved_workers"], 1);
}

#[test]
fn unrelated_flex_configuration_keys_survive() {
    let server = Server::serve();
    server.post_json(
        "/v1/Configuration",
        &json!({
            "attributes": {"keep": "me"},
            "ui_attributes": {
                "other_flag": true,
                "custom_data": {
                    "other_data": [1, 2],
                    "features": {
                        "other_feature": {"enabled": true, "level": 3},
                        "internal_call": {"enabled": false, "extra_setting": "x"},
                    },
                },
            },
        }),
    );
    server.run(&["provision"]).ok();
    let flex = server.flex();
    assert_eq!(flex["attributes"], json!({"keep": "me"}));
    let ui = &flex["ui_attributes"];
    assert_eq!(ui["other_flag"], true);
    assert_eq!(ui["custom_data"]["other_data"], json!([1, 2]));
    assert_eq!(
        ui["custom_data"]["features"]["other_feature"],
        json!({"enabled": true, "level": 3})
    );
    let flags = &ui["custom_data"]["features"]["internal_call"];
    assert_eq!(flags["enabled"], true);
    assert_eq!(flags["extra_setting"], "x");
    assert_eq!(flags["application_sid"], server.application()["sid"]);
}

/// A workspace as Flex makes it: Everyone, Sales, Support, and "Assign to Anyone".
fn flex_like_workspace(server: &Server) -> (String, Vec<(&'static str, String)>, String) {
    let ws = server.create_workspace();
    let queues: Vec<(&str, String)> = ["Everyone", "Sales", "Support"]
        .into_iter()
        .map(|n| (n, server.create_queue(&ws, n)))
        .collect();
    let anyone = server.post(
        &format!("/v1/Workspaces/{ws}/Workflows"),
        &[
            ("FriendlyName", "Assign to Anyone"),
            (
                "Configuration",
                &json!({"task_routing": {"filters": [], "default_filter": {"queue": queues[0].1}}})
                    .to_string(),
            ),
        ],
    );
    (ws, queues, anyone["sid"].as_str().unwrap().to_string())
}

#[test]
fn a_missing_outbound_call_flow_is_reported_and_set_with_the_flag() {
    let server = Server::serve();
    let (_, queues, anyone) = flex_like_workspace(&server);
    let first = server.run(&["provision"]).ok();
    assert!(first
        .stdout
        .contains("outbound_call_flows.default is not set"));
    assert!(first
        .stdout
        .contains("--set-outbound-call-flow --caller-id"));
    assert!(server.flex()["outbound_call_flows"]["default"].is_null());

    let no_caller_id = server
        .run(&["provision", "--set-outbound-call-flow"])
        .failed();
    assert!(
        no_caller_id.stderr.contains("--caller-id"),
        "{}",
        no_caller_id.stderr
    );

    let set = server
        .run(&[
            "provision",
            "--set-outbound-call-flow",
            "--caller-id",
            "+15005550006",
        ])
        .ok();
    assert!(set
        .plan_line("Flex Configuration outbound_call_flows.default:")
        .ends_with("create"));
    assert_eq!(
        server.flex()["outbound_call_flows"]["default"],
        json!({
            "workflow_sid": anyone,
            "enabled": true,
            "queue_sid": queues[0].1,
            "caller_id": "+15005550006",
            "location": "US",
        })
    );
    // The flags set by the first run stay.
    assert_eq!(
        server.flex()["ui_attributes"]["custom_data"]["features"]["internal_call"]["enabled"],
        true
    );
    let again = server
        .run(&[
            "provision",
            "--set-outbound-call-flow",
            "--caller-id",
            "+15005550006",
        ])
        .ok();
    assert!(
        again.stdout.contains("Nothing to change."),
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("not set"), "{}", again.stdout);
}

#[test]
fn queue_flags_choose_the_callable_queues() {
    let server = Server::serve();
    let (_, queues, _) = flex_like_workspace(&server);
    let sid = |name: &str| queues.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    server
        .run(&["provision", "--queue", "Support", "--queue", "Sales"])
        .ok();
    let internal = server.queue("Internal Calls")["sid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        configuration(&server.workflow("Internal Call")),
        expected_workflow(
            &internal,
            &[("Sales", &sid("Sales")), ("Support", &sid("Support"))]
        )
    );

    // Without --queue: every queue but the internal one, in name order.
    let all = server.run(&["provision"]).ok();
    assert!(
        all.plan_line("workflow \"Internal Call\":")
            .contains("update (add filter \"Assign to Queue - Everyone\")"),
        "{}",
        all.stdout
    );
    assert_eq!(
        configuration(&server.workflow("Internal Call")),
        expected_workflow(
            &internal,
            &[
                ("Everyone", &sid("Everyone")),
                ("Sales", &sid("Sales")),
                ("Support", &sid("Support")),
            ]
        )
    );

    let unknown = server.run(&["provision", "--queue", "Billing"]).failed();
    assert!(
        unknown.stderr.contains(
            "--queue \"Billing\": no task queue of that name in workspace \"Flex Task Assignment\"; \
             found: \"Everyone\", \"Sales\", \"Support\", \"Internal Calls\""
        ),
        "{}",
        unknown.stderr
    );
}

#[test]
fn failures_name_the_resource_the_status_and_the_message() {
    let server = Server::serve();

    // Wrong credentials: the first request fails; nothing is written.
    let url = server.url.clone();
    let denied = run(
        &["provision", "--base-url", &url],
        &[
            ("TWILIO_ACCOUNT_SID", ACCOUNT),
            ("TWILIO_AUTH_TOKEN", "wrong"),
        ],
    )
    .failed();
    assert!(
        denied
            .stderr
            .contains("failed to find workspace \"Flex Task Assignment\": HTTP 401: "),
        "{}",
        denied.stderr
    );
    assert!(server.get("/v1/Workspaces")["workspaces"]
        .as_array()
        .unwrap()
        .is_empty());

    // A queue no expression can name: refused before anything is written.
    let ws = server.create_workspace();
    let odd = server.create_queue(&ws, "Bob's \"A\" team");
    let unquotable = server.run(&["provision"]).failed();
    assert!(
        unquotable.stderr.contains(
            "cannot build workflow \"Internal Call\": task queue \"Bob's \"A\" team\" contains both"
        ),
        "{}",
        unquotable.stderr
    );
    assert!(server.applications().is_empty());
    server.post(
        &format!("/v1/Workspaces/{ws}/TaskQueues/{odd}"),
        &[("FriendlyName", "Bobs team")],
    );

    // The server refuses the workflow (a name ending in a backslash makes an unterminated
    // string): the steps before it stay done, and a second run finishes the job.
    server.create_queue(&ws, "Broken\\");
    let refused = server.run(&["provision"]).failed();
    assert!(
        refused.stderr.contains(
            "failed to create workflow \"Internal Call\": HTTP 400: Configuration is invalid"
        ),
        "{}",
        refused.stderr
    );
    assert!(refused
        .stdout
        .contains("application \"Internal Call\": created"));
    assert!(refused
        .stdout
        .contains("task queue \"Internal Calls\": created"));
    let app = server.application();
    let queue = server.queue("Internal Calls");

    let finish = server.run(&["provision", "--queue", "Bobs team"]).ok();
    assert!(finish
        .plan_line("application \"Internal Call\":")
        .ends_with("unchanged"));
    assert!(finish
        .plan_line("task queue \"Internal Calls\":")
        .ends_with("unchanged"));
    assert!(finish
        .plan_line("workflow \"Internal Call\":")
        .ends_with("create"));
    assert_eq!(server.application(), app);
    assert_eq!(server.queue("Internal Calls"), queue);
    assert_eq!(
        configuration(&server.workflow("Internal Call")),
        expected_workflow(queue["sid"].as_str().unwrap(), &[("Bobs team", &odd)])
    );
}

#[test]
fn generate_env_writes_the_sids_and_keeps_other_lines() {
    let server = Server::serve();
    server.run(&["provision"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    std::fs::write(
        &path,
        "# serverless settings\nFOO=bar\nINTERNAL_CALL_QUEUE_SID=WQold\n",
    )
    .unwrap();
    let path_arg = path.to_str().unwrap();
    server.run(&["generate-env", "--output", path_arg]).ok();
    let written = std::fs::read_to_string(&path).unwrap();
    let expected = format!(
        "# serverless settings\nFOO=bar\nINTERNAL_CALL_QUEUE_SID={}\n\
         TWILIO_FLEX_WORKSPACE_SID={}\nTWILIO_FLEX_INTERNAL_CALL_WORKFLOW_SID={}\n\
         INTERNAL_CALL_APPLICATION_SID={}\n",
        server.queue("Internal Calls")["sid"].as_str().unwrap(),
        server.ws_sid(),
        server.workflow("Internal Call")["sid"].as_str().unwrap(),
        server.application()["sid"].as_str().unwrap(),
    );
    assert_eq!(written, expected);

    // With an API key instead of the auth token, to stdout.
    let key = server.post(
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Keys.json"),
        &[("FriendlyName", "provision")],
    );
    let url = server.url.clone();
    let by_key = run(
        &["generate-env", "--base-url", &url],
        &[
            ("TWILIO_ACCOUNT_SID", ACCOUNT),
            ("TWILIO_API_KEY", key["sid"].as_str().unwrap()),
            ("TWILIO_API_SECRET", key["secret"].as_str().unwrap()),
        ],
    )
    .ok();
    let mut lines: Vec<&str> = by_key.stdout.lines().collect();
    lines.sort_unstable();
    let mut want: Vec<&str> = expected.lines().skip(2).collect();
    want.sort_unstable();
    assert_eq!(lines, want);

    // Two workflows match /Internal Call/: an error that lists both.
    let ws = server.ws_sid();
    let queue = server.queue("Internal Calls");
    server.post(
        &format!("/v1/Workspaces/{ws}/Workflows"),
        &[
            ("FriendlyName", "Internal Call (old)"),
            (
                "Configuration",
                &json!({"task_routing": {"filters": [], "default_filter": {"queue": queue["sid"]}}})
                    .to_string(),
            ),
        ],
    );
    let ambiguous = server.run(&["generate-env", "--output", path_arg]).failed();
    assert!(
        ambiguous
            .stderr
            .contains("2 workflows match /Internal Call/")
            && ambiguous.stderr.contains("\"Internal Call\" (WW")
            && ambiguous.stderr.contains("\"Internal Call (old)\" (WW"),
        "{}",
        ambiguous.stderr
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);

    let missing = server
        .run(&["generate-env", "--workspace", "Nope"])
        .failed();
    assert!(
        missing
            .stderr
            .contains("no workspace named \"Nope\"; found: \"Flex Task Assignment\""),
        "{}",
        missing.stderr
    );
}

#[test]
fn the_demo_matches_generate_env_and_needs_no_provisioning() {
    let server = Server::demo();
    let env = server.run(&["generate-env"]).ok();
    let vars: std::collections::HashMap<&str, &str> = env
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .collect();
    let flex = server.flex();
    let flags = &flex["ui_attributes"]["custom_data"]["features"]["internal_call"];
    assert_eq!(vars["TWILIO_FLEX_WORKSPACE_SID"], server.ws_sid());
    assert_eq!(
        vars["TWILIO_FLEX_WORKSPACE_SID"],
        flex["taskrouter_workspace_sid"]
    );
    assert_eq!(
        vars["TWILIO_FLEX_INTERNAL_CALL_WORKFLOW_SID"],
        server.workflow("Internal Call")["sid"]
    );
    assert_eq!(
        vars["INTERNAL_CALL_APPLICATION_SID"],
        flags["application_sid"]
    );
    assert_eq!(vars["INTERNAL_CALL_QUEUE_SID"], flags["outbound_queue_sid"]);
    assert_eq!(vars.len(), 4, "{}", env.stdout);

    // The demo is what provisioning makes: a run changes nothing.
    let before = server.snapshot();
    let run = server.run(&["provision"]).ok();
    assert!(run.stdout.contains("Nothing to change."), "{}", run.stdout);
    assert!(run
        .plan_line("Flex Configuration outbound_call_flows.default:")
        .ends_with("unchanged"));
    assert_eq!(server.snapshot(), before);
}

#[test]
fn against_twilio_the_arguments_are_checked_before_any_request() {
    let creds = [
        ("TWILIO_ACCOUNT_SID", ACCOUNT),
        ("TWILIO_AUTH_TOKEN", TOKEN),
    ];
    let no_functions = run(&["provision"], &creds).failed();
    assert!(
        no_functions
            .stderr
            .contains("--functions-base-url is required against Twilio"),
        "{}",
        no_functions.stderr
    );
    assert!(no_functions.stdout.is_empty(), "{}", no_functions.stdout);

    let bad_functions = run(
        &["provision", "--functions-base-url", "example.twil.io"],
        &creds,
    )
    .failed();
    assert!(
        bad_functions.stderr.contains("must start with https://"),
        "{}",
        bad_functions.stderr
    );

    let no_credentials = run(
        &["provision", "--functions-base-url", "https://x.twil.io"],
        &[],
    )
    .failed();
    assert!(
        no_credentials
            .stderr
            .contains("TWILIO_ACCOUNT_SID is not set"),
        "{}",
        no_credentials.stderr
    );
    let half_key = run(
        &["generate-env"],
        &[("TWILIO_ACCOUNT_SID", ACCOUNT), ("TWILIO_API_KEY", "SK1")],
    )
    .failed();
    assert!(
        half_key
            .stderr
            .contains("TWILIO_API_KEY is set but TWILIO_API_SECRET is not"),
        "{}",
        half_key.stderr
    );
}
