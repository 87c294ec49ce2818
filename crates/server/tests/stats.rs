//! Events and Statistics over a real server: the demo workspace, two tasks, one accepted.

use std::time::Duration;

use serde_json::Value;
use switchboard_server::{demo, prepare, Config};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "stats-test-token";

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .basic_auth(ACCOUNT, Some(TOKEN));
        if method == reqwest::Method::POST {
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            req = req
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, &[]).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.call(reqwest::Method::POST, path, form).await;
        assert!(
            status == 200 || status == 201,
            "POST {path}: {status} {body}"
        );
        body
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_statistics() {
    let prepared = prepare(Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database: "sqlite::memory:".into(),
        public_url: None,
        account_sid: Some(ACCOUNT.into()),
        auth_token: Some(TOKEN.into()),
        webhook_attempts: 1,
        webhook_backoff: Duration::from_millis(10),
        fetch_timeout: Duration::from_secs(5),
        internal_call_workflow_sid: None,
        demo: true,
        queue_call_timeout: Duration::from_secs(120),
        limits: switchboard_server::Limits::default(),
        clock: Default::default(),
        media: None,
    })
    .await
    .expect("prepare");
    let addr = prepared.local_addr().expect("addr");
    let (ws, created) = demo::seed(&prepared.core).await.expect("seed");
    if created {
        // Demo agents start Offline; these tests route to them without desktops.
        prepared
            .core
            .run(move |d| {
                let entries = switchboard_center::demo::everyone_available(d.center().model(), ws);
                d.execute_many(entries)
            })
            .await
            .and_then(|r| r)
            .map_err(|e| e.message)
            .expect("available");
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(prepared.serve(async {
        let _ = stopped.await;
    }));
    let api = Api {
        client: reqwest::Client::new(),
        base: format!("http://{addr}/v1/Workspaces/{ws}"),
    };

    let workflow = s(&api
        .get("/Workflows?FriendlyName=Assign%20to%20Anyone")
        .await["workflows"][0]["sid"]);
    let everyone = s(&api.get("/TaskQueues?FriendlyName=Everyone").await["task_queues"][0]["sid"]);
    assert!(workflow.starts_with("WW") && everyone.starts_with("WQ"));

    // Two tasks; accept the first one's reservation.
    let t1 = s(&api
        .post(
            "/Tasks",
            &[("WorkflowSid", &workflow), ("Attributes", "{\"n\":1}")],
        )
        .await["sid"]);
    let t2 = s(&api
        .post(
            "/Tasks",
            &[("WorkflowSid", &workflow), ("Attributes", "{\"n\":2}")],
        )
        .await["sid"]);
    let res = api
        .get(&format!(
            "/Tasks/{t1}/Reservations?ReservationStatus=pending"
        ))
        .await;
    let r1 = s(&res["reservations"][0]["sid"]);
    let worker = s(&res["reservations"][0]["worker_sid"]);
    assert!(r1.starts_with("WR"), "{res}");
    api.post(
        &format!("/Tasks/{t1}/Reservations/{r1}"),
        &[("ReservationStatus", "accepted")],
    )
    .await;

    // Workspace real-time.
    let rt = api.get("/RealTimeStatistics").await;
    assert_eq!(rt["total_tasks"], 2, "{rt}");
    assert_eq!(rt["tasks_by_status"]["assigned"], 1, "{rt}");
    let waiting = rt["tasks_by_status"]["pending"].as_u64().unwrap_or(0)
        + rt["tasks_by_status"]["reserved"].as_u64().unwrap_or(0);
    assert_eq!(waiting, 1, "{rt}");
    assert_eq!(rt["tasks_by_priority"]["0"], 2, "{rt}");
    assert_eq!(s(&rt["longest_task_waiting_sid"]), t2);
    assert_eq!(rt["total_workers"], 6);
    assert_eq!(rt["account_sid"], ACCOUNT);
    assert_eq!(s(&rt["workspace_sid"]), ws.to_string());
    assert!(s(&rt["url"]).ends_with("/RealTimeStatistics"));
    let workers_in_activities: u64 = rt["activity_statistics"]
        .as_array()
        .expect("activity_statistics")
        .iter()
        .map(|a| a["workers"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(workers_in_activities, 6);

    // Workspace cumulative, with wait-time splits.
    let cu = api.get("/CumulativeStatistics?SplitByWaitTime=5,30").await;
    assert_eq!(cu["tasks_created"], 2, "{cu}");
    assert_eq!(cu["reservations_accepted"], 1, "{cu}");
    assert!(
        cu["reservations_created"].as_u64().unwrap_or(0) >= 2,
        "{cu}"
    );
    assert_eq!(cu["reservations_rejected"], 0);
    assert_eq!(
        cu["wait_duration_until_accepted"]["max"],
        cu["avg_task_acceptance_time"]
    );
    assert_eq!(
        cu["split_by_wait_time"]["5"]["below"]["reservations_accepted"], 1,
        "{cu}"
    );
    assert_eq!(
        cu["split_by_wait_time"]["30"]["above"]["reservations_accepted"], 0,
        "{cu}"
    );
    assert!(cu["start_time"].is_string() && cu["end_time"].is_string());

    // Combined.
    let st = api.get("/Statistics?Minutes=60").await;
    assert_eq!(st["realtime"]["total_tasks"], 2);
    assert_eq!(st["cumulative"]["reservations_accepted"], 1);
    assert!(st["cumulative"]["split_by_wait_time"].is_null());

    // A window before anything happened counts nothing.
    let ten_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(10 * 86_400);
    let day = time::OffsetDateTime::from(ten_days_ago).date();
    let (from, to) = (format!("{day}T10:00:00Z"), format!("{day}T11:00:00Z"));
    let old = api
        .get(&format!(
            "/CumulativeStatistics?StartDate={from}&EndDate={to}"
        ))
        .await;
    assert_eq!(old["tasks_created"], 0);
    assert_eq!(s(&old["start_time"]), from);
    // Statistics do not reach back further than 30 days, as Twilio's do not.
    let (too_old, body) = api
        .call(
            reqwest::Method::GET,
            "/CumulativeStatistics?StartDate=2015-07-30T20:00:00Z",
            &[],
        )
        .await;
    assert_eq!(too_old, 400, "{body}");
    assert!(s(&body["message"]).starts_with("StartDate"), "{body}");

    // Channels.
    assert_eq!(
        api.get("/RealTimeStatistics?TaskChannel=voice").await["total_tasks"],
        0
    );
    assert_eq!(
        api.get("/RealTimeStatistics?TaskChannel=default").await["total_tasks"],
        2
    );
    let (status, body) = api
        .call(
            reqwest::Method::GET,
            "/RealTimeStatistics?TaskChannel=nope",
            &[],
        )
        .await;
    assert_eq!(status, 400);
    assert!(s(&body["message"]).contains("TaskChannel"), "{body}");

    // Bad parameters name themselves.
    for (query, param) in [
        ("StartDate=yesterday", "StartDate"),
        ("EndDate=2020-13-45", "EndDate"),
        ("Minutes=-3", "Minutes"),
        ("Minutes=5&StartDate=2020-01-01T00:00:00Z", "Minutes"),
        ("SplitByWaitTime=5,soon", "SplitByWaitTime"),
    ] {
        let (status, body) = api
            .call(
                reqwest::Method::GET,
                &format!("/CumulativeStatistics?{query}"),
                &[],
            )
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["code"], 20001);
        assert!(s(&body["message"]).contains(param), "{query}: {body}");
    }

    // Queue statistics.
    let qrt = api
        .get(&format!("/TaskQueues/{everyone}/RealTimeStatistics"))
        .await;
    assert_eq!(qrt["total_eligible_workers"], 6, "{qrt}");
    assert_eq!(qrt["total_tasks"], 2);
    assert_eq!(qrt["tasks_by_status"]["assigned"], 1);
    assert_eq!(s(&qrt["task_queue_sid"]), everyone);
    assert_eq!(s(&qrt["longest_relative_task_sid_in_queue"]), t2);
    let qcu = api
        .get(&format!("/TaskQueues/{everyone}/CumulativeStatistics"))
        .await;
    assert_eq!(qcu["tasks_entered"], 2, "{qcu}");
    assert_eq!(qcu["reservations_accepted"], 1);
    assert!(qcu["wait_duration_in_queue_until_accepted"]["total"].is_u64());
    let qst = api.get(&format!("/TaskQueues/{everyone}/Statistics")).await;
    assert_eq!(qst["realtime"]["total_tasks"], 2);
    assert_eq!(qst["cumulative"]["tasks_entered"], 2);
    assert!(s(&qst["url"]).ends_with(&format!("/TaskQueues/{everyone}/Statistics")));

    // The list is its own route, not a queue called "Statistics".
    let all = api.get("/TaskQueues/Statistics").await;
    assert_eq!(all["meta"]["key"], "task_queues_statistics");
    assert_eq!(
        all["task_queues_statistics"].as_array().map(Vec::len),
        Some(4),
        "{all}"
    );
    let one = api
        .get("/TaskQueues/Statistics?FriendlyName=Everyone&PageSize=1")
        .await;
    assert_eq!(
        s(&one["task_queues_statistics"][0]["task_queue_sid"]),
        everyone
    );
    assert_eq!(
        one["task_queues_statistics"][0]["cumulative"]["reservations_accepted"],
        1
    );
    let paged = api.get("/TaskQueues/Statistics?PageSize=3").await;
    assert!(paged["meta"]["next_page_url"].is_string());
    let (status, _) = api
        .call(
            reqwest::Method::GET,
            "/TaskQueues/WQ00000000000000000000000000000000/Statistics",
            &[],
        )
        .await;
    assert_eq!(status, 404);

    // Bulk real-time statistics (JSON body).
    let bulk = api
        .client
        .post(format!("{}/TaskQueues/RealTimeStatistics", api.base))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .header("Content-Type", "application/json")
        .body(format!(
            r#"{{"QueueSids": ["{everyone}", "WQ00000000000000000000000000000000"]}}"#
        ))
        .send()
        .await
        .expect("bulk");
    assert_eq!(bulk.status().as_u16(), 201);
    let bulk: Value = serde_json::from_str(&bulk.text().await.expect("body")).expect("json");
    assert_eq!(bulk["task_queue_response_count"], 2, "{bulk}");
    assert_eq!(bulk["task_queue_data"][0]["total_tasks"], 2);
    assert_eq!(bulk["task_queue_data"][1]["total_tasks"], 0);

    // Workflow statistics.
    let wst = api.get(&format!("/Workflows/{workflow}/Statistics")).await;
    assert_eq!(wst["realtime"]["total_tasks"], 2, "{wst}");
    assert_eq!(wst["cumulative"]["tasks_entered"], 2, "{wst}");
    assert_eq!(wst["cumulative"]["reservations_accepted"], 1);
    assert_eq!(s(&wst["workflow_sid"]), workflow);
    assert_eq!(
        api.get(&format!("/Workflows/{workflow}/RealTimeStatistics"))
            .await["total_tasks"],
        2
    );
    assert_eq!(
        api.get(&format!("/Workflows/{workflow}/CumulativeStatistics"))
            .await["tasks_entered"],
        2
    );

    // Worker statistics.
    let wk = api.get("/Workers/Statistics").await;
    assert_eq!(wk["realtime"]["total_workers"], 6, "{wk}");
    assert_eq!(wk["cumulative"]["reservations_accepted"], 1, "{wk}");
    assert_eq!(wk["cumulative"]["tasks_assigned"], 1, "{wk}");
    assert!(wk["cumulative"]["activity_durations"]
        .as_array()
        .is_some_and(|a| a.len() == 4));
    assert_eq!(
        api.get("/Workers/RealTimeStatistics").await["total_workers"],
        6
    );
    assert_eq!(
        api.get("/Workers/CumulativeStatistics").await["reservations_accepted"],
        1
    );
    let sales = api.get("/Workers/Statistics?TaskQueueName=Sales").await;
    assert_eq!(sales["realtime"]["total_workers"], 4, "{sales}");
    let mine = api.get(&format!("/Workers/{worker}/Statistics")).await;
    assert_eq!(mine["cumulative"]["reservations_accepted"], 1, "{mine}");
    assert_eq!(s(&mine["worker_sid"]), worker);

    // Events of one task, in order.
    let evs = api.get(&format!("/Events?TaskSid={t1}")).await;
    let list = evs["events"].as_array().expect("events");
    assert!(list.len() >= 4, "{evs}");
    assert!(list
        .iter()
        .all(|e| e["event_data"]["task_sid"] == t1.as_str()));
    assert_eq!(list[0]["event_type"], "task.created", "{evs}");
    let types: Vec<&str> = list
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    let pos = |t: &str| types.iter().position(|x| *x == t);
    assert!(
        pos("reservation.created") < pos("reservation.accepted"),
        "{types:?}"
    );
    assert!(pos("reservation.accepted").is_some(), "{types:?}");
    let dates: Vec<i64> = list
        .iter()
        .filter_map(|e| e["event_date_ms"].as_i64())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]));
    let first = &list[0];
    assert!(s(&first["sid"]).starts_with("EV"));
    assert_eq!(first["resource_type"], "task");
    assert!(s(&first["resource_url"]).ends_with(&format!("/Tasks/{t1}")));
    assert!(first["event_date"].is_string());
    assert_eq!(first["source"], "twilio");
    assert_eq!(first["account_sid"], ACCOUNT);

    // EventType filter, comma lists, paging, fetch by SID.
    let created = api.get("/Events?EventType=task.created").await;
    assert_eq!(
        created["events"].as_array().map(Vec::len),
        Some(2),
        "{created}"
    );
    let both = api
        .get("/Events?EventType=task.created,reservation.accepted")
        .await;
    assert_eq!(both["events"].as_array().map(Vec::len), Some(3), "{both}");
    let p0 = api.get(&format!("/Events?TaskSid={t1}&PageSize=2")).await;
    assert_eq!(p0["events"].as_array().map(Vec::len), Some(2));
    assert!(p0["meta"]["next_page_url"].is_string(), "{p0}");
    let p1 = api
        .get(&format!(
            "/Events?TaskSid={t1}&PageSize=2&Page=1&PageToken=PT1"
        ))
        .await;
    assert_eq!(p1["events"][0]["sid"], list[2]["sid"]);
    let one = api.get(&format!("/Events/{}", s(&first["sid"]))).await;
    assert_eq!(one["sid"], first["sid"]);
    let (status, _) = api
        .call(
            reqwest::Method::GET,
            "/Events/EV00000000000000000000000000000000",
            &[],
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = api
        .call(reqwest::Method::GET, "/Events?StartDate=soon", &[])
        .await;
    assert_eq!(status, 400);
    assert!(s(&body["message"]).contains("StartDate"), "{body}");
    let (status, _) = api
        .call(reqwest::Method::GET, "/Events?TaskSid=WQ123", &[])
        .await;
    assert_eq!(status, 400);
    let none = api
        .get(&format!("/Events?StartDate={from}&EndDate={to}"))
        .await;
    assert_eq!(none["events"].as_array().map(Vec::len), Some(0));
    let (status, _) = api
        .call(
            reqwest::Method::GET,
            "/Events?StartDate=2015-07-30T20:00:00Z",
            &[],
        )
        .await;
    assert_eq!(status, 400, "events are kept 30 days");
    let by_worker = api
        .get(&format!(
            "/Events?WorkerSid={worker}&EventType=reservation.accepted"
        ))
        .await;
    assert_eq!(by_worker["events"].as_array().map(Vec::len), Some(1));
    assert!(s(&by_worker["events"][0]["resource_url"])
        .ends_with(&format!("/Tasks/{t1}/Reservations/{r1}")));

    let _ = stop.send(());
    let _ = server.await;
}
