//! Hardening: slow and idle clients are closed, connections are capped, every error carries
//! Twilio's body, the built-in enqueue function never answers 500, SIDs are lower-case hex,
//! callback URLs are checked, and form parameters must be UTF-8. Everything talks to 127.0.0.1.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::*;
use switchboard_server::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Short limits, so a test sees a timeout fire in well under a second.
fn short(header_read_timeout: Duration) -> Limits {
    Limits {
        header_read_timeout,
        ..Limits::default()
    }
}

async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection (end of stream or reset) and returns what came;
/// fails if the connection is still open after `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let closed = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the connection is still open after {within:?} (read so far: {:?})",
        String::from_utf8_lossy(&got)
    );
    got
}

/// One HTTP/1.1 response: status, head and body (`Content-Length` framed).
async fn read_response(stream: &mut TcpStream) -> (u16, String, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_string();
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())
                            .flatten()
                    })
                    .unwrap_or(0);
                if got.len() >= end + 4 + length {
                    let body = got[end + 4..end + 4 + length].to_vec();
                    let status = head
                        .split(' ')
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    return (status, head, body);
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => panic!(
                    "the connection closed before a whole response: {:?}",
                    String::from_utf8_lossy(&got)
                ),
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.unwrap_or_else(|_| panic!("no response within {WAIT:?}"))
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: switchboard\r\n\r\n";

/// Twilio's error body: `{code, message, more_info, status}`.
fn assert_twilio_error(status: u16, body: &[u8], want: u16) -> Value {
    let text = String::from_utf8_lossy(body);
    assert_eq!(status, want, "{text}");
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text:?} (status {status})"));
    let code = v["code"].as_u64().unwrap_or_else(|| panic!("no code: {v}"));
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert_eq!(
        v["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}"),
        "{v}"
    );
    assert_eq!(v["status"], u64::from(want), "{v}");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["code", "message", "more_info", "status"], "{v}");
    v
}

// ------------------------------------------------------------------------------------------------
// 1. Connections: timeouts and the cap

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_connection_is_closed_after_the_header_read_timeout() {
    let timeout = Duration::from_millis(300);
    let server = Server::start_with(short(timeout)).await;
    let started = Instant::now();
    let mut stream = connect(&server).await;
    let got = read_until_closed(&mut stream, WAIT).await;
    assert!(started.elapsed() >= timeout, "closed before the timeout");
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_headers_are_closed_after_the_header_read_timeout() {
    let timeout = Duration::from_millis(300);
    let server = Server::start_with(short(timeout)).await;
    let started = Instant::now();
    let mut stream = connect(&server).await;
    // The head never ends: no blank line.
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: switchboard\r\nX-Slow: yes\r\n")
        .await
        .unwrap();
    read_until_closed(&mut stream, WAIT).await;
    assert!(started.elapsed() >= timeout, "closed before the timeout");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dripping_headers_are_closed_after_the_header_read_timeout() {
    // One byte every 50 ms would take over 10 s for this head; the timeout counts from the
    // start of the head, not from the last byte.
    let timeout = Duration::from_millis(500);
    let server = Server::start_with(short(timeout)).await;
    let stream = connect(&server).await;
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: switchboard\r\nX-Pad: {}\r\n\r\n",
        "x".repeat(200)
    );
    let started = Instant::now();
    let drip = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        for b in head.into_bytes() {
            tick.tick().await;
            if writer.write_all(&[b]).await.is_err() {
                return false; // the server closed the connection
            }
        }
        true
    });
    let closed = tokio::time::timeout(WAIT, async {
        let mut buf = [0u8; 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a dripping client was kept for {WAIT:?}");
    let elapsed = started.elapsed();
    assert!(elapsed >= timeout, "closed after {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "closed after {elapsed:?}");
    drip.abort();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_is_closed_after_the_timeout() {
    let timeout = Duration::from_millis(400);
    let server = Server::start_with(short(timeout)).await;
    let mut stream = connect(&server).await;
    stream.write_all(HEALTH).await.unwrap();
    let (status, _, body) = read_response(&mut stream).await;
    assert_eq!((status, body.as_slice()), (200, b"ok".as_slice()));
    let idle = Instant::now();
    read_until_closed(&mut stream, WAIT).await;
    // The timer started when the response was written, a little before `idle`.
    assert!(
        idle.elapsed() >= timeout / 2,
        "closed after {:?}",
        idle.elapsed()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keep_alive_reuse_within_the_timeout_works() {
    let server = Server::start_with(short(Duration::from_secs(5))).await;
    let mut stream = connect(&server).await;
    for _ in 0..3 {
        stream.write_all(HEALTH).await.unwrap();
        let (status, head, body) = read_response(&mut stream).await;
        assert_eq!((status, body.as_slice()), (200, b"ok".as_slice()), "{head}");
    }
    // Ordinary clients are unaffected.
    let v = server.get(&format!("{}/v1/Workspaces", server.base)).await;
    assert!(v["workspaces"].is_array(), "{v}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_beyond_the_cap_are_closed_at_once() {
    let server = Server::start_with(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    // Two connections, each answered once and kept open.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = connect(&server).await;
        s.write_all(HEALTH).await.unwrap();
        assert_eq!(read_response(&mut s).await.0, 200);
        held.push(s);
    }
    // The third is closed without an answer.
    let mut third = connect(&server).await;
    let _ = third.write_all(HEALTH).await;
    let got = read_until_closed(&mut third, WAIT).await;
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    // Once one of the two closes, its place is free again.
    drop(held.pop());
    let deadline = Instant::now() + WAIT;
    loop {
        let mut s = connect(&server).await;
        let _ = s.write_all(HEALTH).await;
        let mut buf = [0u8; 64];
        if matches!(s.read(&mut buf).await, Ok(n) if n > 0) {
            break;
        }
        assert!(Instant::now() < deadline, "the freed place never came back");
        tokio::task::yield_now().await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_desktop_websocket_holds_its_place_under_the_cap() {
    let server = Server::start_with(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    let alice = server.worker("alice").await;
    // One connection signs in and stays open.
    let mut held = connect(&server).await;
    let body = format!("WorkerSid={alice}");
    let request = format!(
        "POST /demo/sign-in HTTP/1.1\r\nHost: switchboard\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    held.write_all(request.as_bytes()).await.unwrap();
    let (status, _, answer) = read_response(&mut held).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
    let token: Value = serde_json::from_slice(&answer).unwrap();
    // The desktop's WebSocket takes the second place and keeps it after the upgrade.
    let url = format!(
        "{}/v1/Desktop?token={}",
        server.base.replace("http://", "ws://"),
        token["token"].as_str().unwrap()
    );
    let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut third = connect(&server).await;
    let _ = third.write_all(HEALTH).await;
    let got = read_until_closed(&mut third, WAIT).await;
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    drop(socket);
    drop(held);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_finishes_in_flight_requests_and_closes_desktops() {
    let server = Server::start().await;
    let mut agent = server.sign_in("alice").await;
    // A request whose body is not sent yet when the shutdown starts. `100 Continue` says the
    // server has the head and its handler is waiting for the body: the request is in flight.
    let mut stream = connect(&server).await;
    let body = "WorkerSid=";
    let head = format!(
        "POST /demo/sign-in HTTP/1.1\r\nHost: switchboard\r\nContent-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = Vec::new();
    while !interim.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(WAIT, stream.read(&mut byte))
            .await
            .expect("no 100 Continue")
            .unwrap();
        assert_eq!(n, 1, "closed: {:?}", String::from_utf8_lossy(&interim));
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100"),
        "{:?}",
        String::from_utf8_lossy(&interim)
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let stopping = tokio::spawn(async move {
        let _ = stop_rx.await;
        server.stop().await
    });
    let _ = stop_tx.send(());
    // The desktop's socket is closed by the server.
    let closed = tokio::time::timeout(WAIT, agent.closed()).await;
    assert!(closed.is_ok(), "the desktop socket stayed open");
    // The request in flight still gets its answer.
    stream.write_all(body.as_bytes()).await.unwrap();
    let (status, _, body) = read_response(&mut stream).await;
    assert_twilio_error(status, &body, 400);
    assert!(stopping.await.unwrap(), "the server did not stop");
}

// ------------------------------------------------------------------------------------------------
// 2. Twilio's error body on every 4xx and 5xx

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_method_is_405_with_twilio_s_body() {
    let server = Server::start().await;
    let r = reqwest::Client::new()
        .delete(format!("{}/v1/Workspaces", server.base))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert!(r.headers().contains_key("allow"), "{:?}", r.headers());
    let v = assert_twilio_error(status, &r.bytes().await.unwrap(), 405);
    assert_eq!(v["code"], 20004, "{v}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_too_large_is_413_with_twilio_s_body() {
    let server = Server::start_with(Limits {
        max_body_bytes: 1024,
        ..Limits::default()
    })
    .await;
    let r = reqwest::Client::new()
        .post(format!("{}/v1/Workspaces", server.base))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("FriendlyName={}", "x".repeat(4096)))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v = assert_twilio_error(status, &r.bytes().await.unwrap(), 413);
    assert_eq!(v["code"], 20413, "{v}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_uri_too_long_is_414_with_twilio_s_body() {
    let server = Server::start().await;
    let r = reqwest::Client::new()
        .get(format!(
            "{}/v1/Workspaces?FriendlyName={}",
            server.base,
            "x".repeat(9 * 1024)
        ))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_twilio_error(status, &r.bytes().await.unwrap(), 414);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn headers_too_large_are_431_with_twilio_s_body() {
    let server = Server::start().await;
    // Just over our limit, and far over it (but under hyper's own buffer).
    for size in [33 * 1024, 200 * 1024] {
        let r = reqwest::Client::new()
            .get(format!("{}/v1/Workspaces", server.base))
            .basic_auth(ACCOUNT, Some(TOKEN))
            .header("x-big", "x".repeat(size))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert_twilio_error(status, &r.bytes().await.unwrap(), 431);
    }
    // Many small headers count too.
    let mut req = reqwest::Client::new()
        .get(format!("{}/v1/Workspaces", server.base))
        .basic_auth(ACCOUNT, Some(TOKEN));
    for i in 0..150 {
        req = req.header(format!("x-h{i}"), "v");
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    assert_twilio_error(status, &r.bytes().await.unwrap(), 431);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_anywhere_is_404_with_twilio_s_body() {
    let server = Server::start().await;
    for path in ["/v1/Nothing", "/assets/missing.js", "/favicon.ico.nope"] {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", server.base))
            .basic_auth(ACCOUNT, Some(TOKEN))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v = assert_twilio_error(status, &r.bytes().await.unwrap(), 404);
        assert_eq!(v["code"], 20404, "{path}: {v}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn extractor_rejections_are_400_with_twilio_s_body() {
    let server = Server::start().await;
    let client = reqwest::Client::new();
    // Malformed JSON where JSON is expected.
    let r = client
        .post(format!("{}/v1/Configuration", server.base))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v = assert_twilio_error(status, &r.bytes().await.unwrap(), 400);
    assert_eq!(v["code"], 20001, "{v}");
    // A path segment that is not UTF-8.
    let r = client
        .get(format!("{}/v1/Workspaces/%FF", server.base))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_twilio_error(status, &r.bytes().await.unwrap(), 400);
    // A desktop connection that is not a WebSocket upgrade.
    let r = client
        .get(format!("{}/v1/Desktop", server.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert!(status >= 400, "{status}");
    assert_twilio_error(status, &r.bytes().await.unwrap(), status);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_never_completes_is_408_with_twilio_s_body() {
    let server = Server::start_with(Limits {
        request_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let mut stream = connect(&server).await;
    stream
        .write_all(
            b"POST /demo/sign-in HTTP/1.1\r\nHost: switchboard\r\nContent-Length: 100\r\n\r\nWorker",
        )
        .await
        .unwrap();
    let (status, _, body) = read_response(&mut stream).await;
    assert_twilio_error(status, &body, 408);
    server.stop().await;
}

// ------------------------------------------------------------------------------------------------
// 3. The built-in enqueue function

#[tokio::test(flavor = "multi_thread")]
async fn enqueue_without_a_destination_ends_the_call_with_a_reason() {
    let server = Server::start().await;
    let url = format!("{}/features/internal-call/common/enqueue", server.base);
    for params in [
        vec![("from", "Alice Anders")],
        vec![
            ("from", "Alice Anders"),
            ("worker_sid", ""),
            ("callToQueue", ""),
        ],
        vec![],
    ] {
        let pairs: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let signature = switchboard_server::signature::compute(TOKEN, &url, &pairs);
        let r = reqwest::Client::new()
            .post(&url)
            .header("x-twilio-signature", signature)
            .form(&params)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = r.text().await.unwrap();
        assert_eq!(status, 200, "{params:?}: {body}");
        assert!(content_type.starts_with("text/xml"), "{content_type}");
        let doc = switchboard_twiml::parse(&body, None).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert!(
            matches!(
                doc.verbs.as_slice(),
                [switchboard_twiml::Verb::Say { text, .. }, switchboard_twiml::Verb::Hangup]
                    if text.contains("worker_sid") && text.contains("callToQueue")
            ),
            "{body}"
        );
    }
    server.stop().await;
}

// ------------------------------------------------------------------------------------------------
// 4. SIDs are lower-case hex

#[tokio::test(flavor = "multi_thread")]
async fn an_upper_case_sid_in_a_path_is_404() {
    let server = Server::start().await;
    let upper = format!("WS{}", server.workspace[2..].to_ascii_uppercase());
    assert_ne!(upper, server.workspace);
    let r = reqwest::Client::new()
        .get(format!("{}/v1/Workspaces/{upper}", server.base))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v = assert_twilio_error(status, &r.bytes().await.unwrap(), 404);
    assert_eq!(v["code"], 20404, "{v}");
    // The lower-case SID is found.
    let v = server.get(&server.ws_url("")).await;
    assert_eq!(v["sid"], server.workspace.as_str(), "{v}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upper_case_account_sid_does_not_log_in() {
    let server = Server::start().await;
    let upper = format!("AC{}", ACCOUNT[2..].to_ascii_uppercase());
    let r = reqwest::Client::new()
        .get(format!("{}/v1/Workspaces", server.base))
        .basic_auth(&upper, Some(TOKEN))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v = assert_twilio_error(status, &r.bytes().await.unwrap(), 401);
    assert_eq!(v["code"], 20003, "{v}");
    server.stop().await;
}

// ------------------------------------------------------------------------------------------------
// 5. Callback URLs

/// Where a URL parameter goes: the request URL, the parameter, the other parameters it needs.
type Endpoint<'a> = (String, &'a str, Vec<(&'a str, &'a str)>);

#[tokio::test(flavor = "multi_thread")]
async fn callback_urls_must_be_absolute_http_without_control_characters() {
    let server = Server::start().await;
    let ws = server.ws_url("");
    let account = format!("{}/2010-04-01/Accounts/{ACCOUNT}", server.base);
    let call = "CA0123456789abcdef0123456789abcdef";
    let conf = "CF0123456789abcdef0123456789abcdef";
    let task = "WT0123456789abcdef0123456789abcdef";
    let reservation = "WR0123456789abcdef0123456789abcdef";
    let workflow = {
        let v = server.get(&server.ws_url("/Workflows")).await;
        v["workflows"][0]["sid"].as_str().unwrap().to_owned()
    };
    let queue = {
        let v = server.get(&server.ws_url("/TaskQueues")).await;
        v["task_queues"][0]["sid"].as_str().unwrap().to_owned()
    };
    let config = format!(r#"{{"task_routing":{{"default_filter":{{"queue":"{queue}"}}}}}}"#);
    let endpoints: Vec<Endpoint> = vec![
        (
            format!("{}/v1/Workspaces", server.base),
            "EventCallbackUrl",
            vec![("FriendlyName", "W")],
        ),
        (ws.clone(), "EventCallbackUrl", vec![]),
        (
            server.ws_url("/Workflows"),
            "AssignmentCallbackUrl",
            vec![("FriendlyName", "F"), ("Configuration", &config)],
        ),
        (
            server.ws_url("/Workflows"),
            "FallbackAssignmentCallbackUrl",
            vec![("FriendlyName", "F"), ("Configuration", &config)],
        ),
        (
            server.ws_url(&format!("/Workflows/{workflow}")),
            "AssignmentCallbackUrl",
            vec![],
        ),
        (
            server.ws_url(&format!("/Workflows/{workflow}")),
            "FallbackAssignmentCallbackUrl",
            vec![],
        ),
        (
            server.ws_url(&format!("/Tasks/{task}/Reservations/{reservation}")),
            "ConferenceStatusCallback",
            vec![("Instruction", "conference")],
        ),
        (
            server.ws_url(&format!("/Tasks/{task}/Reservations/{reservation}")),
            "RedirectUrl",
            vec![("Instruction", "redirect"), ("RedirectCallSid", call)],
        ),
        (
            format!("{account}/Applications.json"),
            "VoiceUrl",
            vec![("FriendlyName", "A")],
        ),
        (
            format!("{account}/Applications.json"),
            "VoiceFallbackUrl",
            vec![],
        ),
        (
            format!("{account}/Applications.json"),
            "StatusCallback",
            vec![],
        ),
        (
            format!("{account}/Calls/{call}.json"),
            "StatusCallback",
            vec![("Status", "completed")],
        ),
        (
            format!("{account}/Conferences/{conf}.json"),
            "AnnounceUrl",
            vec![],
        ),
        (
            format!("{account}/Conferences/{conf}/Participants/{call}.json"),
            "HoldUrl",
            vec![("Hold", "true")],
        ),
        (
            format!("{account}/Conferences/{conf}/Participants/{call}.json"),
            "AnnounceUrl",
            vec![],
        ),
    ];
    let bad = [
        "javascript:alert(1)",
        "http://example.com/x\r\nX-Injected: 1",
        "http://example.com/a b",
        "http://example.com/\u{7}",
        "/relative/path",
        "ftp://example.com/x",
        "http://",
        "https:///nohost",
        " http://example.com/leading-space",
    ];
    for (url, param, rest) in &endpoints {
        for value in bad {
            let mut form: Vec<(&str, &str)> = rest.clone();
            form.push((param, value));
            let r = reqwest::Client::new()
                .post(url)
                .basic_auth(ACCOUNT, Some(TOKEN))
                .form(&form)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let bytes = r.bytes().await.unwrap();
            let v = assert_twilio_error(status, &bytes, 400);
            assert_eq!(v["code"], 20001, "{url} {param}={value:?}: {v}");
            assert!(
                v["message"].as_str().unwrap().contains(param),
                "{url} {param}={value:?}: {v}"
            );
        }
    }
    // Good URLs are kept.
    let (status, v) = server
        .post(
            &format!("{}/v1/Workspaces", server.base),
            &[
                ("FriendlyName", "Callbacks"),
                (
                    "EventCallbackUrl",
                    "https://hooks.example.com:8443/events?x=1",
                ),
            ],
        )
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        v["event_callback_url"],
        "https://hooks.example.com:8443/events?x=1"
    );
    server.stop().await;
}

// ------------------------------------------------------------------------------------------------
// 6. Invalid UTF-8

#[tokio::test(flavor = "multi_thread")]
async fn a_parameter_that_is_not_utf8_is_refused() {
    let server = Server::start().await;
    let client = reqwest::Client::new();
    // In a body.
    let r = client
        .post(format!("{}/v1/Workspaces", server.base))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("FriendlyName=%FF")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v = assert_twilio_error(status, &r.bytes().await.unwrap(), 400);
    assert_eq!(v["message"], "FriendlyName is not valid UTF-8", "{v}");
    // In a query.
    let r = client
        .get(format!("{}/v1/Workspaces?FriendlyName=ok%C3", server.base))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v = assert_twilio_error(status, &r.bytes().await.unwrap(), 400);
    assert_eq!(v["message"], "FriendlyName is not valid UTF-8", "{v}");
    // Nothing was created with a replacement character.
    let list = server.get(&format!("{}/v1/Workspaces", server.base)).await;
    assert!(!list.to_string().contains('\u{fffd}'), "{list}");
    // Valid multi-byte UTF-8 is fine.
    let (status, v) = server
        .post(
            &format!("{}/v1/Workspaces", server.base),
            &[("FriendlyName", "Café ☎")],
        )
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["friendly_name"], "Café ☎");
    server.stop().await;
}

// ------------------------------------------------------------------------------------------------
// 7. A taken worker name

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_worker_friendly_name_is_400_20001_as_on_twilio() {
    let server = Server::start().await;
    let bob = server.worker("bob").await;
    for (url, form) in [
        (server.ws_url("/Workers"), vec![("FriendlyName", "alice")]),
        (server.ws_url("/Workers"), vec![("FriendlyName", "ALICE")]),
        (
            server.ws_url(&format!("/Workers/{bob}")),
            vec![("FriendlyName", "alice")],
        ),
    ] {
        let r = reqwest::Client::new()
            .post(&url)
            .basic_auth(ACCOUNT, Some(TOKEN))
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v = assert_twilio_error(status, &r.bytes().await.unwrap(), 400);
        assert_eq!(v["code"], 20001, "{url} {form:?}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains("FriendlyName"),
            "{v}"
        );
    }
    server.stop().await;
}
