//! Documents as Twilio's Python helper library (`twilio.twiml.voice_response`) writes them,
//! typed out by hand: XML declaration, attributes in sorted order, `<Tag />` with a space for
//! empty elements, booleans as `true`/`false`, ElementTree escaping.

use serde_json::json;
use switchboard_twiml::*;

fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn python_helper_documents_parse() {
    let cases: Vec<(&str, &str, Vec<Verb>)> = vec![
        (
            // r = VoiceResponse(); e = r.enqueue(None, workflow_sid='WW…'); e.task('{"a":1}', priority=5)
            "enqueue with task",
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"><Task priority="5">{"a":1}</Task></Enqueue></Response>"#,
            vec![Verb::Enqueue(Enqueue {
                workflow_sid: Some("WW0123456789abcdef0123456789abcdef".into()),
                task: Some(TaskSpec {
                    priority: Some(5),
                    timeout: None,
                    attributes: object(json!({"a": 1})),
                }),
                ..Enqueue::default()
            })],
        ),
        (
            // e.task(json.dumps({"name": "Jane Doe", "worker_sid": "WK1"}), timeout=120)
            "enqueue with json.dumps spacing",
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Enqueue workflowSid="WW1"><Task timeout="120">{"name": "Jane Doe", "worker_sid": "WK1"}</Task></Enqueue></Response>"#,
            vec![Verb::Enqueue(Enqueue {
                workflow_sid: Some("WW1".into()),
                task: Some(TaskSpec {
                    priority: None,
                    timeout: Some(120),
                    attributes: object(json!({"name": "Jane Doe", "worker_sid": "WK1"})),
                }),
                ..Enqueue::default()
            })],
        ),
        (
            // r.enqueue('support', wait_url='wait-music', action='/queue-done')
            "named queue",
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Enqueue action="/queue-done" waitUrl="wait-music">support</Enqueue></Response>"#,
            vec![Verb::Enqueue(Enqueue {
                queue_name: Some("support".into()),
                action: Some("https://voice.example/queue-done".into()),
                wait_url: Some("https://voice.example/app/wait-music".into()),
                ..Enqueue::default()
            })],
        ),
        (
            // r.say('Hello & <welcome>', voice='alice', loop=2); r.pause(length=1); r.hangup()
            "say pause hangup",
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say loop="2" voice="alice">Hello &amp; &lt;welcome&gt;</Say><Pause length="1" /><Hangup /></Response>"#,
            vec![
                Verb::Say {
                    text: "Hello & <welcome>".into(),
                    voice: Some("alice".into()),
                    language: None,
                    loop_count: 2,
                },
                Verb::Pause { length: 1 },
                Verb::Hangup,
            ],
        ),
        (
            // d = Dial(action='/handle', answer_on_bridge=True, caller_id='+15550001111', timeout=20)
            // d.conference('Room 1234', end_conference_on_exit=True, start_conference_on_enter=False,
            //     status_callback='https://cb.example/c?a=1&b=2', status_callback_event='start end join')
            "dial conference",
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Dial action="/handle" answerOnBridge="true" callerId="+15550001111" timeout="20"><Conference endConferenceOnExit="true" startConferenceOnEnter="false" statusCallback="https://cb.example/c?a=1&amp;b=2" statusCallbackEvent="start end join">Room 1234</Conference></Dial></Response>"#,
            vec![Verb::Dial(Dial {
                action: Some("https://voice.example/handle".into()),
                timeout: 20,
                caller_id: Some("+15550001111".into()),
                answer_on_bridge: true,
                ..Dial::new(DialTarget::Conference(ConferenceNoun {
                    start_conference_on_enter: false,
                    end_conference_on_exit: true,
                    status_callback: Some("https://cb.example/c?a=1&b=2".into()),
                    status_callback_event: vec!["start".into(), "end".into(), "join".into()],
                    ..ConferenceNoun::new("Room 1234")
                }))
            })],
        ),
        (
            // c = d.client(); c.identity('user_jane'); c.parameter(name='FirstName', value='Jane')
            "dial client with parameters",
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Client><Identity>user_jane</Identity><Parameter name="FirstName" value="Jane" /></Client></Dial></Response>"#,
            vec![Verb::Dial(Dial::new(DialTarget::Client(vec![
                ClientNoun {
                    parameters: vec![("FirstName".into(), "Jane".into())],
                    ..ClientNoun::new("user_jane")
                },
            ])))],
        ),
        (
            // d = Dial(); d.queue('support', reservation_sid='WR1', url='about_to_connect.xml')
            "dial queue",
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Queue reservationSid="WR1" url="about_to_connect.xml">support</Queue></Dial></Response>"#,
            vec![Verb::Dial(Dial::new(DialTarget::Queue(QueueNoun {
                url: Some("https://voice.example/app/about_to_connect.xml".into()),
                reservation_sid: Some("WR1".into()),
                ..QueueNoun::new("support")
            })))],
        ),
        (
            // r.dial('415-123-4567', hangup_on_star=True); r.redirect('next', method='GET'); r.reject(reason='busy')
            "bare number, redirect, reject",
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Dial hangupOnStar="true">415-123-4567</Dial><Redirect method="GET">next</Redirect><Reject reason="busy" /></Response>"#,
            vec![
                Verb::Dial(Dial {
                    hangup_on_star: true,
                    ..Dial::new(DialTarget::Number(vec![NumberNoun::new("415-123-4567")]))
                }),
                Verb::Redirect {
                    url: "https://voice.example/app/next".into(),
                    method: Method::Get,
                },
                Verb::Reject {
                    reason: RejectReason::Busy,
                },
            ],
        ),
        (
            // r = VoiceResponse()  (nothing added)
            "empty response",
            r#"<?xml version="1.0" encoding="UTF-8"?><Response />"#,
            vec![],
        ),
    ];
    for (name, xml, verbs) in cases {
        let parsed = parse(xml, Some("https://voice.example/app/incoming"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed, Document { verbs }, "{name}");
        // And our rendering of it means the same thing.
        assert_eq!(parse(&render(&parsed), None).unwrap(), parsed, "{name}");
    }
}
