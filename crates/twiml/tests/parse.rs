//! Parsing: every verb and noun with all attributes and with defaults, URL resolution, and the
//! exact document the Flex internal-call enqueue function returns (voice-flex.md §1.3).

use serde_json::json;
use switchboard_twiml::*;

const DOC_URL: &str = "https://example.com/a/b";

fn wrap(body: &str) -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>"#)
}

fn one_verb(body: &str) -> Verb {
    let doc = parse(&wrap(body), Some(DOC_URL)).unwrap_or_else(|e| panic!("{body}: {e}"));
    assert_eq!(doc.verbs.len(), 1, "{body}");
    doc.verbs.into_iter().next().unwrap()
}

fn one_dial(body: &str) -> Dial {
    match one_verb(body) {
        Verb::Dial(d) => d,
        other => panic!("{body}: expected Dial, got {other:?}"),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn simple_verbs_with_defaults_and_all_attributes() {
    let cases: Vec<(&str, Verb)> = vec![
        (
            "<Say>  Hello there  </Say>",
            Verb::Say {
                text: "Hello there".into(),
                voice: None,
                language: None,
                loop_count: 1,
            },
        ),
        (
            "<Say/>",
            Verb::Say {
                text: String::new(),
                voice: None,
                language: None,
                loop_count: 1,
            },
        ),
        (
            r#"<Say voice="Polly.Joanna" language="en-GB" loop="0">Tom &amp; Jerry &lt;3</Say>"#,
            Verb::Say {
                text: "Tom & Jerry <3".into(),
                voice: Some("Polly.Joanna".into()),
                language: Some("en-GB".into()),
                loop_count: 0,
            },
        ),
        (
            "<Say><![CDATA[a < b]]> &#x41;&#66;</Say>",
            Verb::Say {
                text: "a < b AB".into(),
                voice: None,
                language: None,
                loop_count: 1,
            },
        ),
        (
            "<Play>https://cdn.example.org/music.mp3</Play>",
            Verb::Play {
                url: Some("https://cdn.example.org/music.mp3".into()),
                digits: None,
                loop_count: 1,
            },
        ),
        (
            r#"<Play loop="3">hold.wav</Play>"#,
            Verb::Play {
                url: Some("https://example.com/a/hold.wav".into()),
                digits: None,
                loop_count: 3,
            },
        ),
        (
            r#"<Play digits="ww12#*"/>"#,
            Verb::Play {
                url: None,
                digits: Some("ww12#*".into()),
                loop_count: 1,
            },
        ),
        ("<Pause/>", Verb::Pause { length: 1 }),
        (r#"<Pause length="5"/>"#, Verb::Pause { length: 5 }),
        ("<Hangup/>", Verb::Hangup),
        ("<Hangup></Hangup>", Verb::Hangup),
        ("<Leave/>", Verb::Leave),
        (
            "<Reject/>",
            Verb::Reject {
                reason: RejectReason::Rejected,
            },
        ),
        (
            r#"<Reject reason="busy"/>"#,
            Verb::Reject {
                reason: RejectReason::Busy,
            },
        ),
        (
            "<Redirect>next</Redirect>",
            Verb::Redirect {
                url: "https://example.com/a/next".into(),
                method: Method::Post,
            },
        ),
        (
            r#"<Redirect method="GET">https://other.example/x?y=1</Redirect>"#,
            Verb::Redirect {
                url: "https://other.example/x?y=1".into(),
                method: Method::Get,
            },
        ),
        (
            // Method values are accepted in any case; unknown attributes are ignored.
            r#"<Redirect method="get" bogus="1">next</Redirect>"#,
            Verb::Redirect {
                url: "https://example.com/a/next".into(),
                method: Method::Get,
            },
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(one_verb(body), expected, "{body}");
    }
}

#[test]
fn enqueue_defaults_and_all_attributes() {
    let e = match one_verb("<Enqueue>support</Enqueue>") {
        Verb::Enqueue(e) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        e,
        Enqueue {
            queue_name: Some("support".into()),
            ..Enqueue::default()
        }
    );
    assert_eq!(e.method, Method::Post);
    assert_eq!(e.wait_url_method, Method::Post);

    let body = r#"<Enqueue action="after" method="GET" waitUrl="/hold?x=1&amp;y=2" waitUrlMethod="GET" workflowSid="WW0123" maxQueueSize="7"><Task priority="5" timeout="30">{"a":1,"b":{"c":[true,null]}}</Task></Enqueue>"#;
    let e = match one_verb(body) {
        Verb::Enqueue(e) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        e,
        Enqueue {
            queue_name: None,
            workflow_sid: Some("WW0123".into()),
            action: Some("https://example.com/a/after".into()),
            method: Method::Get,
            wait_url: Some("https://example.com/hold?x=1&y=2".into()),
            wait_url_method: Method::Get,
            max_queue_size: Some(7),
            task: Some(TaskSpec {
                priority: Some(5),
                timeout: Some(30),
                attributes: json!({"a": 1, "b": {"c": [true, null]}})
                    .as_object()
                    .unwrap()
                    .clone(),
            }),
        }
    );
}

#[test]
fn legacy_task_attributes_element() {
    let e = match one_verb(
        r#"<Enqueue workflowSid="WW1"><TaskAttributes>{"k":"v"}</TaskAttributes></Enqueue>"#,
    ) {
        Verb::Enqueue(e) => e,
        other => panic!("{other:?}"),
    };
    let task = e.task.unwrap();
    assert_eq!(task.priority, None);
    assert_eq!(task.timeout, None);
    assert_eq!(task.attributes, *json!({"k": "v"}).as_object().unwrap());
}

/// voice-flex.md §1.3, character for character (SIDs filled in), agent and queue cases.
#[test]
fn flex_internal_call_enqueue_documents() {
    let cases = [
        (
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"><Task>{"name":"Jane Doe","conversations":{"conversation_id":"6f1c2d3e"},"worker_sid":"WK0123456789abcdef0123456789abcdef"}</Task></Enqueue></Response>"#,
            json!({
                "name": "Jane Doe",
                "conversations": {"conversation_id": "6f1c2d3e"},
                "worker_sid": "WK0123456789abcdef0123456789abcdef",
            }),
        ),
        (
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"><Task>{"name":"Jane Doe","conversations":{"conversation_id":"6f1c2d3e"},"callToQueue":"Template Example Sales"}</Task></Enqueue></Response>"#,
            json!({
                "name": "Jane Doe",
                "conversations": {"conversation_id": "6f1c2d3e"},
                "callToQueue": "Template Example Sales",
            }),
        ),
    ];
    for (xml, attributes) in cases {
        let doc = parse(xml, None).unwrap();
        assert_eq!(
            doc,
            Document {
                verbs: vec![Verb::Enqueue(Enqueue {
                    workflow_sid: Some("WW0123456789abcdef0123456789abcdef".into()),
                    task: Some(TaskSpec {
                        priority: None,
                        timeout: None,
                        attributes: attributes.as_object().unwrap().clone(),
                    }),
                    ..Enqueue::default()
                })]
            }
        );
    }
}

#[test]
fn dial_defaults_and_all_attributes() {
    assert_eq!(
        one_dial("<Dial> +15551234567 </Dial>"),
        Dial::new(DialTarget::Number(vec![NumberNoun::new("+15551234567")]))
    );
    let d = one_dial(
        r#"<Dial action="dial-done" method="GET" timeout="12" callerId="+15550001111" answerOnBridge="TRUE" hangupOnStar="true" timeLimit="60" record="record-from-answer-dual" ringTone="uk" sequential="true">+15551234567</Dial>"#,
    );
    assert_eq!(
        d,
        Dial {
            action: Some("https://example.com/a/dial-done".into()),
            method: Method::Get,
            timeout: 12,
            caller_id: Some("+15550001111".into()),
            answer_on_bridge: true,
            hangup_on_star: true,
            time_limit: 60,
            record: Some("record-from-answer-dual".into()),
            target: DialTarget::Number(vec![NumberNoun::new("+15551234567")]),
        }
    );
}

#[test]
fn dial_nouns_with_defaults() {
    let cases: Vec<(&str, DialTarget)> = vec![
        (
            "<Dial><Number>+15551234567</Number></Dial>",
            DialTarget::Number(vec![NumberNoun::new("+15551234567")]),
        ),
        (
            "<Dial><Client>alice</Client><Client>bob</Client></Dial>",
            DialTarget::Client(vec![ClientNoun::new("alice"), ClientNoun::new("bob")]),
        ),
        (
            "<Dial><Sip>sip:alice@example.com</Sip></Dial>",
            DialTarget::Sip(vec![SipNoun::new("sip:alice@example.com")]),
        ),
        (
            "<Dial><Conference>Room 1</Conference></Dial>",
            DialTarget::Conference(ConferenceNoun::new("Room 1")),
        ),
        (
            "<Dial><Queue>support</Queue></Dial>",
            DialTarget::Queue(QueueNoun::new("support")),
        ),
        (
            "<Dial><Application><ApplicationSid>AP123</ApplicationSid></Application></Dial>",
            DialTarget::Application(ApplicationNoun::new("AP123")),
        ),
        (
            "<Dial>\n  <Number>+1555</Number>\n  <Client>alice</Client>\n  <Sip>sips:b@c</Sip>\n</Dial>",
            DialTarget::Parallel(vec![
                Endpoint::Number(NumberNoun::new("+1555")),
                Endpoint::Client(ClientNoun::new("alice")),
                Endpoint::Sip(SipNoun::new("sips:b@c")),
            ]),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(one_dial(body).target, expected, "{body}");
    }
    // Defaults from the design doc, spelled out once.
    let c = ConferenceNoun::new("x");
    assert_eq!(
        (
            c.muted,
            c.beep.as_str(),
            c.start_conference_on_enter,
            c.end_conference_on_exit,
            c.max_participants,
            c.wait_method,
        ),
        (false, "true", true, false, 250, Method::Post)
    );
}

#[test]
fn dial_nouns_with_all_attributes() {
    let d = one_dial(
        r#"<Dial><Number sendDigits="ww123" url="screen" method="GET" statusCallback="/status" statusCallbackEvent="initiated ringing answered completed" statusCallbackMethod="GET" byoc="BY1">+15551234567</Number></Dial>"#,
    );
    assert_eq!(
        d.target,
        DialTarget::Number(vec![NumberNoun {
            number: "+15551234567".into(),
            send_digits: Some("ww123".into()),
            url: Some("https://example.com/a/screen".into()),
            method: Method::Get,
            status_callback: Some("https://example.com/status".into()),
            status_callback_event: strings(&["initiated", "ringing", "answered", "completed"]),
            status_callback_method: Method::Get,
        }])
    );

    let d = one_dial(
        r#"<Dial><Client url="whisper" method="GET" statusCallback="https://cb.example/s" statusCallbackEvent="ringing,answered" statusCallbackMethod="GET"><Identity>agent_jane</Identity><Parameter name="FirstName" value="Jane"/><Parameter name="conversation_id" value="a&amp;b"/></Client></Dial>"#,
    );
    assert_eq!(
        d.target,
        DialTarget::Client(vec![ClientNoun {
            identity: "agent_jane".into(),
            parameters: vec![
                ("FirstName".into(), "Jane".into()),
                ("conversation_id".into(), "a&b".into()),
            ],
            url: Some("https://example.com/a/whisper".into()),
            method: Method::Get,
            status_callback: Some("https://cb.example/s".into()),
            status_callback_event: strings(&["ringing", "answered"]),
            status_callback_method: Method::Get,
        }])
    );

    let d = one_dial(
        r#"<Dial><Sip username="u" password="p&quot;w" url="https://x.example/u" method="GET" statusCallback="s" statusCallbackEvent="completed" statusCallbackMethod="GET">sip:bob@example.com;transport=tls?X-Head=1</Sip></Dial>"#,
    );
    assert_eq!(
        d.target,
        DialTarget::Sip(vec![SipNoun {
            uri: "sip:bob@example.com;transport=tls?X-Head=1".into(),
            username: Some("u".into()),
            password: Some("p\"w".into()),
            url: Some("https://x.example/u".into()),
            method: Method::Get,
            status_callback: Some("https://example.com/a/s".into()),
            status_callback_event: strings(&["completed"]),
            status_callback_method: Method::Get,
        }])
    );

    let d = one_dial(
        r#"<Dial><Conference muted="true" beep="onExit" startConferenceOnEnter="false" endConferenceOnExit="true" waitUrl="" waitMethod="GET" maxParticipants="2" statusCallback="call-outbound-join" statusCallbackMethod="GET" statusCallbackEvent="start end join leave mute hold modify speaker announcement" record="record-from-start" participantLabel="customer" region="ie1">CF-room</Conference></Dial>"#,
    );
    assert_eq!(
        d.target,
        DialTarget::Conference(ConferenceNoun {
            name: "CF-room".into(),
            muted: true,
            beep: "onExit".into(),
            start_conference_on_enter: false,
            end_conference_on_exit: true,
            wait_url: Some(String::new()),
            wait_method: Method::Get,
            max_participants: 2,
            status_callback: Some("https://example.com/a/call-outbound-join".into()),
            status_callback_method: Method::Get,
            status_callback_event: strings(&[
                "start",
                "end",
                "join",
                "leave",
                "mute",
                "hold",
                "modify",
                "speaker",
                "announcement"
            ]),
            record: Some("record-from-start".into()),
            participant_label: Some("customer".into()),
        })
    );
    let d = one_dial(r#"<Dial><Conference beep="False" waitUrl="music">r</Conference></Dial>"#);
    match d.target {
        DialTarget::Conference(c) => {
            assert_eq!(c.beep, "false");
            assert_eq!(c.wait_url.as_deref(), Some("https://example.com/a/music"));
        }
        other => panic!("{other:?}"),
    }

    let d = one_dial(
        r#"<Dial><Queue url="about-to-connect" method="GET" reservationSid="WR1" postWorkActivitySid="WA1">support</Queue></Dial>"#,
    );
    assert_eq!(
        d.target,
        DialTarget::Queue(QueueNoun {
            name: "support".into(),
            url: Some("https://example.com/a/about-to-connect".into()),
            method: Method::Get,
            reservation_sid: Some("WR1".into()),
            post_work_activity_sid: Some("WA1".into()),
        })
    );

    let d = one_dial(
        r#"<Dial><Application copyParentTo="true" url="app-screen" method="GET" statusCallback="st" statusCallbackEvent="answered" statusCallbackMethod="GET" customerId="c1"><ApplicationSid>AP0123</ApplicationSid><Parameter name="worker_sid" value="WK1"/><Parameter name="from" value="Jane Doe"/></Application></Dial>"#,
    );
    assert_eq!(
        d.target,
        DialTarget::Application(ApplicationNoun {
            application_sid: "AP0123".into(),
            parameters: vec![
                ("worker_sid".into(), "WK1".into()),
                ("from".into(), "Jane Doe".into()),
            ],
            copy_parent_to: true,
            url: Some("https://example.com/a/app-screen".into()),
            method: Method::Get,
            status_callback: Some("https://example.com/a/st".into()),
            status_callback_event: strings(&["answered"]),
            status_callback_method: Method::Get,
        })
    );
}

#[test]
fn relative_urls_resolve_against_the_document_url() {
    let cases = [
        // (document URL, Redirect body, expected)
        (
            "https://example.com/a/b",
            "next",
            "https://example.com/a/next",
        ),
        ("https://example.com/a/b", "../x", "https://example.com/x"),
        ("https://example.com/a/b/", "c", "https://example.com/a/b/c"),
        (
            "https://example.com/a/b",
            "/root",
            "https://example.com/root",
        ),
        (
            "https://example.com/a/b?q=1",
            "next?x=1&amp;y=2",
            "https://example.com/a/next?x=1&y=2",
        ),
        (
            "https://example.com/a/b?q=1",
            "?x=2",
            "https://example.com/a/b?x=2",
        ),
        (
            "https://example.com/a/b",
            "//cdn.example.org/m",
            "https://cdn.example.org/m",
        ),
        // Absolute URLs are kept exactly as written.
        (
            "https://example.com/a/b",
            "HTTP://Other.Example:8080/p?a=b",
            "HTTP://Other.Example:8080/p?a=b",
        ),
        (
            "https://serverless.example/features/internal-call/common/agent-outbound-join",
            "call-outbound-join",
            "https://serverless.example/features/internal-call/common/call-outbound-join",
        ),
    ];
    for (base, body, expected) in cases {
        let doc = parse(&wrap(&format!("<Redirect>{body}</Redirect>")), Some(base)).unwrap();
        assert_eq!(
            doc.verbs,
            vec![Verb::Redirect {
                url: expected.into(),
                method: Method::Post
            }],
            "{base} + {body}"
        );
    }
    // Absolute URLs need no document URL at all.
    let doc = parse(
        &wrap(r#"<Enqueue action="https://x.example/done">q</Enqueue>"#),
        None,
    )
    .unwrap();
    match &doc.verbs[0] {
        Verb::Enqueue(e) => assert_eq!(e.action.as_deref(), Some("https://x.example/done")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn whitespace_comments_and_declarations_are_ignored() {
    let xml = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- generated -->\n<!DOCTYPE Response>\n<Response>\n  <Say>hi</Say>\n  <?pi ignored?>\n  <!-- c -->\n  <Hangup/>\n</Response>\n";
    // The byte-order mark a Windows editor leaves is skipped too.
    let doc = parse(xml, None).unwrap();
    assert_eq!(
        doc.verbs,
        vec![
            Verb::Say {
                text: "hi".into(),
                voice: None,
                language: None,
                loop_count: 1
            },
            Verb::Hangup
        ]
    );
    assert_eq!(parse("<Response/>", None).unwrap(), Document::default());
}

#[test]
fn endpoints_helper_lists_every_variant_in_order() {
    let d = one_dial("<Dial><Client>a</Client><Number>+1</Number></Dial>");
    assert_eq!(
        d.target.endpoints(),
        vec![
            Endpoint::Client(ClientNoun::new("a")),
            Endpoint::Number(NumberNoun::new("+1"))
        ]
    );
    let d = one_dial("<Dial><Client>a</Client><Client>b</Client></Dial>");
    assert_eq!(d.target.endpoints().len(), 2);
    let d = one_dial("<Dial><Conference>r</Conference></Dial>");
    assert!(d.target.endpoints().is_empty());
}
