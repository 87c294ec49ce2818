//! `/v1/Configuration` over HTTP on the demo: every key of Twilio's document, the keys only the
//! server knows, and a refused update that changes nothing.

mod support;

use serde_json::{json, Value};
use support::{Server, ACCOUNT, TOKEN};
use switchboard_center::flex::KEYS;

async fn post(s: &Server, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/Configuration", s.base))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flex_configuration_is_the_whole_document_and_refuses_missing_sids() {
    let s = Server::start().await;
    let url = format!("{}/v1/Configuration", s.base);
    let doc = s.get(&url).await;
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    want.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(doc["account_sid"], json!(ACCOUNT));
    assert_eq!(doc["url"], json!(url));
    assert_eq!(doc["runtime_domain"], json!(s.base));
    assert_eq!(doc["service_version"], json!(env!("CARGO_PKG_VERSION")));
    assert_eq!(doc["status"], json!("ok"));
    assert_eq!(doc["taskrouter_workspace_sid"], json!(s.workspace));
    assert!(doc["date_created"].as_str().unwrap().ends_with('Z'));

    let missing = "WW000000000000000000000000000000ff";
    let mut flows = doc["outbound_call_flows"].clone();
    flows["default"]["workflow_sid"] = json!(missing);
    let (status, err) = post(
        &s,
        &json!({"ui_language": "th", "outbound_call_flows": flows}),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["code"], 20001);
    assert_eq!(
        err["message"],
        json!(format!(
            "outbound_call_flows.default.workflow_sid: workflow {missing} does not exist in workspace {}",
            s.workspace
        ))
    );
    assert_eq!(s.get(&url).await, doc, "a refused update changed something");

    let (status, after) = post(&s, &json!({"ui_language": "th", "status": "notstarted"})).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["ui_language"], json!("th"));
    assert_eq!(after["status"], json!("ok"));
    assert_eq!(after["outbound_call_flows"], doc["outbound_call_flows"]);
    s.stop().await;
}
