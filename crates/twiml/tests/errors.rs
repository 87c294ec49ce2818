//! Refused documents: Twilio's code, and a message that says what and where.

use switchboard_twiml::{parse, TwimlError, MAX_DOCUMENT_BYTES};

const PARSE: u32 = TwimlError::PARSE_FAILURE;
const SCHEMA: u32 = TwimlError::SCHEMA_VALIDATION;
const DOC_URL: Option<&str> = Some("https://example.com/a/b");

fn wrap(body: &str) -> String {
    format!("<Response>{body}</Response>")
}

/// (name, document, document URL, code, fragments the message must contain)
type Case = (
    &'static str,
    String,
    Option<&'static str>,
    u32,
    Vec<&'static str>,
);

fn cases() -> Vec<Case> {
    vec![
        ("empty", String::new(), DOC_URL, PARSE, vec!["empty"]),
        ("blank", " \n\t".into(), DOC_URL, PARSE, vec!["empty"]),
        (
            "not XML",
            "Missing destination".into(),
            DOC_URL,
            PARSE,
            vec!["not an XML document"],
        ),
        (
            "JSON error body",
            r#"{"code":20404,"message":"Not found"}"#.into(),
            DOC_URL,
            PARSE,
            vec![],
        ),
        (
            "root not Response",
            "<Resp><Say>x</Say></Resp>".into(),
            DOC_URL,
            PARSE,
            vec!["<Resp>", "expected <Response>"],
        ),
        (
            "lower-case root",
            "<response><Say>x</Say></response>".into(),
            DOC_URL,
            PARSE,
            vec!["<response>"],
        ),
        (
            "HTML error page",
            "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head><body><h1>Oops</h1><br></body></html>".into(),
            DOC_URL,
            PARSE,
            vec!["<html>"],
        ),
        (
            "unclosed element",
            "<Response><Say>hi</Response>".into(),
            DOC_URL,
            PARSE,
            vec![],
        ),
        (
            "truncated",
            "<Response><Say>hi</Say>".into(),
            DOC_URL,
            PARSE,
            vec!["ends inside <Response>"],
        ),
        (
            "second root",
            "<Response/><Response/>".into(),
            DOC_URL,
            PARSE,
            vec!["after the end of <Response>"],
        ),
        (
            "text after root",
            "<Response/>trailing".into(),
            DOC_URL,
            PARSE,
            vec!["after the end of <Response>"],
        ),
        (
            "bare ampersand",
            wrap("<Say>a & b</Say>"),
            DOC_URL,
            PARSE,
            vec![],
        ),
        (
            "duplicate attribute",
            wrap(r#"<Pause length="1" length="2"/>"#),
            DOC_URL,
            PARSE,
            vec!["Response/Pause[1]"],
        ),
        (
            "DOCTYPE declaring an entity",
            r#"<?xml version="1.0"?><!DOCTYPE Response [<!ENTITY boom "Hello">]><Response><Say>&boom;</Say></Response>"#.into(),
            DOC_URL,
            PARSE,
            vec!["DOCTYPE", "entity"],
        ),
        (
            "external entity",
            r#"<!DOCTYPE Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Response><Say>&xxe;</Say></Response>"#.into(),
            DOC_URL,
            PARSE,
            vec!["DOCTYPE"],
        ),
        (
            "undeclared entity in text",
            wrap("<Say>&nbsp;</Say>"),
            DOC_URL,
            PARSE,
            vec!["&nbsp;", "Response/Say[1]"],
        ),
        (
            "undeclared entity in attribute",
            wrap(r#"<Say voice="&boom;">x</Say>"#),
            DOC_URL,
            PARSE,
            vec!["Response/Say[1]/@voice"],
        ),
        (
            "too deep",
            wrap("<Dial><Client><Identity><b>x</b></Identity></Client></Dial>"),
            DOC_URL,
            PARSE,
            vec!["deeper", "Response/Dial[1]/Client[1]/Identity[1]"],
        ),
        (
            "too large",
            wrap(&"<Pause/>".repeat(MAX_DOCUMENT_BYTES / 8 + 1)),
            DOC_URL,
            PARSE,
            vec!["bytes"],
        ),
        (
            "Gather",
            wrap(r#"<Say>hi</Say><Gather input="dtmf"><Say>press 1</Say></Gather>"#),
            DOC_URL,
            SCHEMA,
            vec!["unsupported verb <Gather>", "Response/Gather[1]"],
        ),
        (
            "unknown verb",
            wrap("<Dance/>"),
            DOC_URL,
            SCHEMA,
            vec!["unknown verb <Dance>", "Response/Dance[1]"],
        ),
        (
            "verb names are case-sensitive",
            wrap("<say>hi</say>"),
            DOC_URL,
            SCHEMA,
            vec!["unknown verb <say>"],
        ),
        (
            "text directly in Response",
            wrap("hello"),
            DOC_URL,
            SCHEMA,
            vec!["Response: unexpected text"],
        ),
        (
            "bad boolean",
            wrap(r#"<Dial answerOnBridge="yes">+1555</Dial>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]/@answerOnBridge", "\"yes\""],
        ),
        (
            "bad boolean on a noun",
            wrap(r#"<Say>x</Say><Dial><Conference muted="1">r</Conference></Dial>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]/Conference[1]/@muted"],
        ),
        (
            "bad number",
            wrap(r#"<Dial timeout="ten">+1555</Dial>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]/@timeout"],
        ),
        (
            "bad method",
            wrap(r#"<Redirect method="PUT">x</Redirect>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Redirect[1]/@method", "PUT"],
        ),
        (
            "Task body is an array",
            wrap(r#"<Enqueue workflowSid="WW1"><Task>[1]</Task></Enqueue>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Enqueue[1]/Task[1]", "JSON object"],
        ),
        (
            "Task body is not JSON",
            wrap(r#"<Enqueue workflowSid="WW1"><Task>{name: 1}</Task></Enqueue>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Enqueue[1]/Task[1]", "not valid JSON"],
        ),
        (
            "Task body is empty",
            wrap(r#"<Enqueue workflowSid="WW1"><Task/></Enqueue>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Enqueue[1]/Task[1]"],
        ),
        (
            "Task priority -1",
            wrap(r#"<Enqueue workflowSid="WW1"><Task priority="-1">{}</Task></Enqueue>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Enqueue[1]/Task[1]/@priority", "\"-1\""],
        ),
        (
            "Task without workflowSid",
            wrap(r#"<Enqueue>q<Task>{}</Task></Enqueue>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Enqueue[1]/Task[1]", "workflowSid"],
        ),
        (
            "two Tasks",
            wrap(r#"<Enqueue workflowSid="WW1"><Task>{}</Task><Task>{}</Task></Enqueue>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Enqueue[1]/Task[2]"],
        ),
        (
            "Enqueue with nothing",
            wrap("<Enqueue/>"),
            DOC_URL,
            SCHEMA,
            vec!["Response/Enqueue[1]", "queue name or workflowSid"],
        ),
        (
            "queue name too long",
            wrap(&format!("<Enqueue>{}</Enqueue>", "q".repeat(65))),
            DOC_URL,
            SCHEMA,
            vec!["64"],
        ),
        (
            "two Conferences",
            wrap("<Dial><Conference>a</Conference><Conference>b</Conference></Dial>"),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]/Conference[2]", "more than one <Conference>"],
        ),
        (
            "Conference after a Number",
            wrap("<Dial><Number>+1</Number><Conference>b</Conference></Dial>"),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]/Conference[1]", "cannot be combined"],
        ),
        (
            "Client after a Queue",
            wrap("<Dial><Queue>q</Queue><Client>a</Client></Dial>"),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]/Client[1]", "<Queue>"],
        ),
        (
            "eleven clients",
            wrap(&format!("<Dial>{}</Dial>", "<Client>a</Client>".repeat(11))),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]/Client[11]", "more than 10"],
        ),
        (
            "empty Dial",
            wrap("<Dial/>"),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]", "nothing to dial"],
        ),
        (
            "bare number mixed with nouns",
            wrap("<Dial>+1555<Client>a</Client></Dial>"),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]"],
        ),
        (
            "unsupported noun",
            wrap("<Dial><Sim>DE1</Sim></Dial>"),
            DOC_URL,
            SCHEMA,
            vec!["unsupported noun <Sim>", "Response/Dial[1]/Sim[1]"],
        ),
        (
            "maxParticipants out of range",
            wrap(r#"<Dial><Conference maxParticipants="251">r</Conference></Dial>"#),
            DOC_URL,
            SCHEMA,
            vec!["@maxParticipants", "251"],
        ),
        (
            "bad beep",
            wrap(r#"<Dial><Conference beep="sometimes">r</Conference></Dial>"#),
            DOC_URL,
            SCHEMA,
            vec!["@beep"],
        ),
        (
            "unknown conference event",
            wrap(r#"<Dial><Conference statusCallbackEvent="start finish">r</Conference></Dial>"#),
            DOC_URL,
            SCHEMA,
            vec!["@statusCallbackEvent", "\"finish\""],
        ),
        (
            "conference event on a call noun",
            wrap(r#"<Dial><Client statusCallbackEvent="join">a</Client></Dial>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]/Client[1]/@statusCallbackEvent"],
        ),
        (
            "bad Dial record",
            wrap(r#"<Dial record="always">+1</Dial>"#),
            DOC_URL,
            SCHEMA,
            vec!["@record"],
        ),
        (
            "bad Reject reason",
            wrap(r#"<Reject reason="nope"/>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Reject[1]/@reason"],
        ),
        (
            "SSML in Say",
            wrap("<Say>Hi <break time=\"1s\"/> there</Say>"),
            DOC_URL,
            SCHEMA,
            vec!["Response/Say[1]/break[1]"],
        ),
        (
            "child in Hangup",
            wrap("<Hangup><Say>x</Say></Hangup>"),
            DOC_URL,
            SCHEMA,
            vec!["Response/Hangup[1]/Say[1]"],
        ),
        (
            "Client without identity",
            wrap(r#"<Dial><Client><Parameter name="a" value="b"/></Client></Dial>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]/Client[1]", "<Identity>"],
        ),
        (
            "Parameter without name",
            wrap(r#"<Dial><Client><Identity>a</Identity><Parameter value="b"/></Client></Dial>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]/Client[1]/Parameter[1]/@name"],
        ),
        (
            "Sip without sip: scheme",
            wrap("<Dial><Sip>bob@example.com</Sip></Dial>"),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]/Sip[1]"],
        ),
        (
            "Play with nothing to play",
            wrap("<Play/>"),
            DOC_URL,
            SCHEMA,
            vec!["Response/Play[1]"],
        ),
        (
            "Redirect without URL",
            wrap("<Redirect/>"),
            DOC_URL,
            SCHEMA,
            vec!["Response/Redirect[1]"],
        ),
        (
            "relative URL without a document URL",
            wrap(r#"<Enqueue action="next">q</Enqueue>"#),
            None,
            SCHEMA,
            vec!["Response/Enqueue[1]/@action", "relative URL \"next\""],
        ),
        (
            "relative Redirect body without a document URL",
            wrap("<Say>x</Say><Redirect>next</Redirect>"),
            None,
            SCHEMA,
            vec!["Response/Redirect[1]", "relative"],
        ),
        (
            "relative URL with an invalid document URL",
            wrap("<Redirect>next</Redirect>"),
            Some("not a url"),
            SCHEMA,
            vec!["document URL"],
        ),
        (
            "non-http URL",
            wrap(r#"<Dial action="file:///etc/passwd">+1</Dial>"#),
            DOC_URL,
            SCHEMA,
            vec!["Response/Dial[1]/@action", "http"],
        ),
    ]
}

#[test]
fn refused_documents_report_code_and_place() {
    let mut failures = Vec::new();
    for (name, xml, doc_url, code, fragments) in cases() {
        match parse(&xml, doc_url) {
            Ok(doc) => failures.push(format!("{name}: parsed as {doc:?}")),
            Err(e) => {
                if e.code != code {
                    failures.push(format!("{name}: code {} (want {code}): {e}", e.code));
                }
                for f in fragments {
                    if !e.message.contains(f) {
                        failures.push(format!("{name}: message {:?} lacks {f:?}", e.message));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn exactly_at_the_size_limit_is_accepted() {
    let head = "<Response><Say>";
    let tail = "</Say></Response>";
    let xml = format!(
        "{head}{}{tail}",
        "a".repeat(MAX_DOCUMENT_BYTES - head.len() - tail.len())
    );
    assert_eq!(xml.len(), MAX_DOCUMENT_BYTES);
    assert!(parse(&xml, None).is_ok());
}

#[test]
fn error_display_names_code_and_title() {
    let e = parse("nope", None).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Document parse failure (12100): "),
        "{e}"
    );
    let e = parse("<Response><Gather/></Response>", None).unwrap_err();
    assert!(
        e.to_string().starts_with("Schema validation (12200): "),
        "{e}"
    );
}

#[test]
fn billion_laughs_is_refused_without_expansion() {
    let xml = r#"<?xml version="1.0"?>
<!DOCTYPE Response [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Response><Say>&lol3;</Say></Response>"#;
    let e = parse(xml, None).unwrap_err();
    assert_eq!(e.code, PARSE);
}

/// Truncated responses (a dropped connection) are refused cleanly at every cut point.
#[test]
fn every_prefix_of_a_document_is_refused_without_panicking() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="alice">Hi &amp; bye</Say><Enqueue workflowSid="WW1"><Task priority="2">{"a":"&lt;b&gt;"}</Task></Enqueue><Dial><Client><Identity>x</Identity><Parameter name="n" value="v&#10;"/></Client></Dial><!-- end --></Response>"#;
    parse(xml, None).unwrap();
    for cut in (0..xml.len()).filter(|&i| xml.is_char_boundary(i)) {
        let e = parse(&xml[..cut], None).expect_err(&xml[..cut]);
        assert!(
            e.code == PARSE || e.code == SCHEMA,
            "{cut}: unexpected code {}",
            e.code
        );
    }
}
