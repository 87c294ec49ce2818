//! Rendering: exact output, escaping, and `parse(render(d)) == d`.

use serde_json::json;
use switchboard_twiml::*;

const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

fn doc(verbs: Vec<Verb>) -> Document {
    Document { verbs }
}

fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn exact_output() {
    let cases: Vec<(Document, &str)> = vec![
        (Document::default(), "<Response/>"),
        (
            doc(vec![
                Verb::Say {
                    text: String::new(),
                    voice: None,
                    language: None,
                    loop_count: 1,
                },
                Verb::Pause { length: 5 },
            ]),
            r#"<Response><Say/><Pause length="5"/></Response>"#,
        ),
        (
            doc(vec![Verb::Enqueue(Enqueue {
                workflow_sid: Some("WW1".into()),
                task: Some(TaskSpec {
                    priority: None,
                    timeout: None,
                    attributes: object(json!({"worker_sid": "WK1"})),
                }),
                ..Enqueue::default()
            })]),
            r#"<Response><Enqueue workflowSid="WW1"><Task>{"worker_sid":"WK1"}</Task></Enqueue></Response>"#,
        ),
        (
            doc(vec![Verb::Enqueue(Enqueue {
                queue_name: Some("support".into()),
                method: Method::Get,
                max_queue_size: Some(10),
                ..Enqueue::default()
            })]),
            r#"<Response><Enqueue method="GET" maxQueueSize="10">support</Enqueue></Response>"#,
        ),
        (
            doc(vec![
                Verb::Reject {
                    reason: RejectReason::Busy,
                },
                Verb::Reject {
                    reason: RejectReason::Rejected,
                },
                Verb::Hangup,
                Verb::Leave,
                Verb::Play {
                    url: None,
                    digits: Some("1w2".into()),
                    loop_count: 1,
                },
                Verb::Play {
                    url: Some("https://a.example/m.mp3".into()),
                    digits: None,
                    loop_count: 0,
                },
            ]),
            r#"<Response><Reject reason="busy"/><Reject/><Hangup/><Leave/><Play digits="1w2"/><Play loop="0">https://a.example/m.mp3</Play></Response>"#,
        ),
        (
            doc(vec![Verb::Dial(Dial {
                answer_on_bridge: true,
                caller_id: Some("client:alice".into()),
                ..Dial::new(DialTarget::Client(vec![ClientNoun {
                    parameters: vec![("k".into(), "v".into())],
                    status_callback_event: vec!["ringing".into(), "answered".into()],
                    status_callback: Some("https://cb.example/s".into()),
                    ..ClientNoun::new("bob")
                }]))
            })]),
            r#"<Response><Dial callerId="client:alice" answerOnBridge="true"><Client statusCallback="https://cb.example/s" statusCallbackEvent="ringing answered"><Identity>bob</Identity><Parameter name="k" value="v"/></Client></Dial></Response>"#,
        ),
        (
            doc(vec![Verb::Dial(Dial::new(DialTarget::Conference(
                ConferenceNoun {
                    wait_url: Some(String::new()),
                    end_conference_on_exit: true,
                    beep: "onEnter".into(),
                    ..ConferenceNoun::new("CF1")
                },
            )))]),
            r#"<Response><Dial><Conference beep="onEnter" endConferenceOnExit="true" waitUrl="">CF1</Conference></Dial></Response>"#,
        ),
    ];
    for (d, expected_body) in cases {
        let out = render(&d);
        assert_eq!(out, format!("{DECL}{expected_body}"));
        assert_eq!(parse(&out, None).unwrap(), d, "{out}");
    }
}

#[test]
fn escaping_in_attributes_and_text() {
    let d = doc(vec![
        Verb::Say {
            text: "Fish & <chips> \"quoted\" 'single'".into(),
            voice: Some("a\"b'c<d>&e".into()),
            language: None,
            loop_count: 1,
        },
        Verb::Dial(Dial {
            action: Some("https://x.example/next?a=1&b=\"2\"".into()),
            ..Dial::new(DialTarget::Number(vec![NumberNoun {
                status_callback: Some("https://cb.example/s?x=1&y=2".into()),
                ..NumberNoun::new("+15551234567")
            }]))
        }),
    ]);
    let out = render(&d);
    assert!(
        out.contains(r#"<Say voice="a&quot;b&apos;c&lt;d&gt;&amp;e">Fish &amp; &lt;chips&gt; "quoted" 'single'</Say>"#),
        "{out}"
    );
    assert!(
        out.contains(r#"action="https://x.example/next?a=1&amp;b=&quot;2&quot;""#),
        "{out}"
    );
    assert!(
        out.contains(r#"statusCallback="https://cb.example/s?x=1&amp;y=2""#),
        "{out}"
    );
    assert_eq!(parse(&out, None).unwrap(), d);
}

#[test]
fn whitespace_in_attributes_survives() {
    let d = doc(vec![Verb::Dial(Dial {
        caller_id: Some("line1\nline2\tx\ry".into()),
        ..Dial::new(DialTarget::Queue(QueueNoun::new("q")))
    })]);
    let out = render(&d);
    assert!(
        out.contains(r#"callerId="line1&#10;line2&#9;x&#13;y""#),
        "{out}"
    );
    assert_eq!(parse(&out, None).unwrap(), d);
}

#[test]
fn task_json_stays_valid_after_escaping() {
    let attributes = object(json!({
        "name": "Tom & Jerry <the \"cat\">",
        "nested": {"list": [1, 2.5, "x</Task>y", null, true]},
        "unicode": "Zoë ☎",
        "callToQueue": "Template Example Sales",
    }));
    let d = doc(vec![Verb::Enqueue(Enqueue {
        workflow_sid: Some("WW1".into()),
        task: Some(TaskSpec {
            priority: Some(10),
            timeout: Some(3600),
            attributes: attributes.clone(),
        }),
        ..Enqueue::default()
    })]);
    let out = render(&d);
    assert!(!out.contains("x</Task>y"), "{out}");
    assert!(
        out.contains(r#"<Task priority="10" timeout="3600">"#),
        "{out}"
    );
    // The Task text, unescaped the way any XML reader would, is the same JSON object.
    let start = out.find("3600\">").unwrap() + "3600\">".len();
    let end = out.rfind("</Task>").unwrap();
    let text = out[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let reparsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reparsed, serde_json::Value::Object(attributes));
    assert_eq!(parse(&out, None).unwrap(), d);
}

/// A document using every verb and noun with non-default attributes survives
/// parse → render → parse unchanged, and rendering is a fixed point after that.
#[test]
fn rich_document_round_trips() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Say voice="alice" language="en-US" loop="2">Please hold &amp; wait</Say>
  <Play loop="0">music/hold.mp3?x=1&amp;y=2</Play>
  <Play digits="1234#"/>
  <Pause length="3"/>
  <Enqueue action="after-queue" method="GET" waitUrl="wait" waitUrlMethod="GET" maxQueueSize="20">support</Enqueue>
  <Enqueue workflowSid="WW0123456789abcdef0123456789abcdef" action="../done">
    <Task priority="3" timeout="600">{"name":"Jane \"JD\" Doe","conversations":{"conversation_id":"U1"},"worker_sid":"WK1","tags":["a","b"]}</Task>
  </Enqueue>
  <Dial action="dial-done" method="GET" timeout="15" callerId="+15550001111" answerOnBridge="true" hangupOnStar="true" timeLimit="600" record="record-from-answer">
    <Number sendDigits="w1" url="screen" method="GET" statusCallback="st" statusCallbackEvent="initiated completed" statusCallbackMethod="GET">+15551234567</Number>
    <Client url="whisper"><Identity>agent_jane</Identity><Parameter name="a" value="1"/><Parameter name="b" value="x &amp; y"/></Client>
    <Client>agent_bob</Client>
    <Sip username="u" password="p">sip:carol@example.com</Sip>
  </Dial>
  <Dial><Conference muted="true" beep="false" startConferenceOnEnter="false" endConferenceOnExit="true" waitUrl="" waitMethod="GET" maxParticipants="10" statusCallback="call-outbound-join" statusCallbackMethod="GET" statusCallbackEvent="start end join leave" record="record-from-start" participantLabel="agent">WT0123</Conference></Dial>
  <Dial><Queue url="connecting" method="GET" reservationSid="WR1" postWorkActivitySid="WA1">support</Queue></Dial>
  <Dial><Application copyParentTo="true" url="app" statusCallback="s" statusCallbackEvent="answered"><ApplicationSid>AP1</ApplicationSid><Parameter name="worker_sid" value="WK1"/></Application></Dial>
  <Redirect method="GET">next?step=2</Redirect>
  <Reject reason="busy"/>
  <Leave/>
  <Hangup/>
</Response>"#;
    let first = parse(
        xml,
        Some("https://svc.example/features/internal-call/common/x"),
    )
    .unwrap();
    assert_eq!(first.verbs.len(), 14);
    let rendered = render(&first);
    assert!(!rendered.contains('\n'), "no whitespace between elements");
    let second = parse(&rendered, None).unwrap();
    assert_eq!(second, first);
    assert_eq!(render(&second), rendered);
}

#[test]
fn mixed_dial_list_round_trips_in_order() {
    let d = doc(vec![Verb::Dial(Dial::new(DialTarget::Parallel(vec![
        Endpoint::Sip(SipNoun::new("sip:a@b")),
        Endpoint::Number(NumberNoun::new("+1555")),
        Endpoint::Client(ClientNoun::new("c")),
        Endpoint::Number(NumberNoun::new("+1666")),
    ])))]);
    let out = render(&d);
    assert!(out.contains(
        "<Dial><Sip>sip:a@b</Sip><Number>+1555</Number><Client>c</Client><Number>+1666</Number></Dial>"
    ));
    assert_eq!(parse(&out, None).unwrap(), d);
}
