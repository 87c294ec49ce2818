//! The typed model back to compact XML, as Twilio's helper libraries write it.

use std::fmt::Write as _;

use crate::model::{
    ApplicationNoun, ClientNoun, ConferenceNoun, Dial, DialTarget, Document, Endpoint, Enqueue,
    Method, NumberNoun, QueueNoun, RejectReason, SipNoun, TaskSpec, Verb,
};

/// Renders `doc` as `<?xml version="1.0" encoding="UTF-8"?><Response>…</Response>` with no
/// whitespace between elements. Attributes at their default value are left out; lists are
/// space-joined; text and attribute values are XML-escaped.
pub fn render(doc: &Document) -> String {
    let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let body = doc.verbs.iter().fold(String::new(), |mut body, verb| {
        verb_into(&mut body, verb);
        body
    });
    Tag::new("Response").write(&mut out, &body);
    out
}

/// An element being written: its name and its attributes so far.
struct Tag {
    name: &'static str,
    attrs: String,
}

impl Tag {
    fn new(name: &'static str) -> Self {
        Tag {
            name,
            attrs: String::new(),
        }
    }

    fn attr(mut self, key: &str, value: &str) -> Self {
        self.attrs.push(' ');
        self.attrs.push_str(key);
        self.attrs.push_str("=\"");
        escape_attr(&mut self.attrs, value);
        self.attrs.push('"');
        self
    }

    fn opt(self, key: &str, value: &Option<String>) -> Self {
        match value {
            Some(v) => self.attr(key, v),
            None => self,
        }
    }

    fn method(self, key: &str, method: Method) -> Self {
        if method == Method::default() {
            self
        } else {
            self.attr(key, method.as_str())
        }
    }

    fn num<T: PartialEq + std::fmt::Display>(self, key: &str, value: T, default: T) -> Self {
        if value == default {
            self
        } else {
            self.attr(key, &value.to_string())
        }
    }

    fn opt_num<T: std::fmt::Display>(self, key: &str, value: Option<T>) -> Self {
        match value {
            Some(v) => self.attr(key, &v.to_string()),
            None => self,
        }
    }

    fn boolean(self, key: &str, value: bool, default: bool) -> Self {
        if value == default {
            self
        } else {
            self.attr(key, if value { "true" } else { "false" })
        }
    }

    fn list(self, key: &str, values: &[String]) -> Self {
        if values.is_empty() {
            self
        } else {
            self.attr(key, &values.join(" "))
        }
    }

    /// Writes the element with `inner` (already escaped markup) as its content.
    fn write(self, out: &mut String, inner: &str) {
        let _ = write!(out, "<{}{}", self.name, self.attrs);
        if inner.is_empty() {
            out.push_str("/>");
        } else {
            let _ = write!(out, ">{inner}</{}>", self.name);
        }
    }

    /// Writes the element with `text` (unescaped) as its content.
    fn write_text(self, out: &mut String, text: &str) {
        let mut inner = String::with_capacity(text.len());
        escape_text(&mut inner, text);
        self.write(out, &inner);
    }
}

fn verb_into(out: &mut String, verb: &Verb) {
    match verb {
        Verb::Say {
            text,
            voice,
            language,
            loop_count,
        } => Tag::new("Say")
            .opt("voice", voice)
            .opt("language", language)
            .num("loop", *loop_count, 1)
            .write_text(out, text),
        Verb::Play {
            url,
            digits,
            loop_count,
        } => Tag::new("Play")
            .num("loop", *loop_count, 1)
            .opt("digits", digits)
            .write_text(out, url.as_deref().unwrap_or_default()),
        Verb::Pause { length } => Tag::new("Pause").num("length", *length, 1).write(out, ""),
        Verb::Hangup => Tag::new("Hangup").write(out, ""),
        Verb::Leave => Tag::new("Leave").write(out, ""),
        Verb::Reject { reason } => {
            let tag = Tag::new("Reject");
            let tag = if *reason == RejectReason::default() {
                tag
            } else {
                tag.attr("reason", reason.as_str())
            };
            tag.write(out, "")
        }
        Verb::Redirect { url, method } => Tag::new("Redirect")
            .method("method", *method)
            .write_text(out, url),
        Verb::Enqueue(enqueue) => enqueue_into(out, enqueue),
        Verb::Dial(dial) => dial_into(out, dial),
    }
}

fn enqueue_into(out: &mut String, e: &Enqueue) {
    let mut inner = String::new();
    if let Some(name) = &e.queue_name {
        escape_text(&mut inner, name);
    }
    if let Some(task) = &e.task {
        task_into(&mut inner, task);
    }
    Tag::new("Enqueue")
        .opt("action", &e.action)
        .method("method", e.method)
        .opt("waitUrl", &e.wait_url)
        .method("waitUrlMethod", e.wait_url_method)
        .opt("workflowSid", &e.workflow_sid)
        .opt_num("maxQueueSize", e.max_queue_size)
        .write(out, &inner);
}

fn task_into(out: &mut String, task: &TaskSpec) {
    // Serialising a map of JSON values cannot fail; fall back to an empty object regardless.
    let json = serde_json::to_string(&task.attributes).unwrap_or_else(|_| "{}".to_owned());
    Tag::new("Task")
        .opt_num("priority", task.priority)
        .opt_num("timeout", task.timeout)
        .write_text(out, &json);
}

fn dial_into(out: &mut String, d: &Dial) {
    let mut inner = String::new();
    match &d.target {
        DialTarget::Number(numbers) => numbers.iter().for_each(|n| number_into(&mut inner, n)),
        DialTarget::Client(clients) => clients.iter().for_each(|c| client_into(&mut inner, c)),
        DialTarget::Sip(sips) => sips.iter().for_each(|s| sip_into(&mut inner, s)),
        DialTarget::Parallel(endpoints) => {
            for endpoint in endpoints {
                match endpoint {
                    Endpoint::Number(n) => number_into(&mut inner, n),
                    Endpoint::Client(c) => client_into(&mut inner, c),
                    Endpoint::Sip(s) => sip_into(&mut inner, s),
                }
            }
        }
        DialTarget::Conference(c) => conference_into(&mut inner, c),
        DialTarget::Queue(q) => queue_into(&mut inner, q),
        DialTarget::Application(a) => application_into(&mut inner, a),
    }
    Tag::new("Dial")
        .opt("action", &d.action)
        .method("method", d.method)
        .num("timeout", d.timeout, 30)
        .opt("callerId", &d.caller_id)
        .boolean("answerOnBridge", d.answer_on_bridge, false)
        .boolean("hangupOnStar", d.hangup_on_star, false)
        .num("timeLimit", d.time_limit, 14400)
        .opt("record", &d.record)
        .write(out, &inner);
}

fn number_into(out: &mut String, n: &NumberNoun) {
    Tag::new("Number")
        .opt("sendDigits", &n.send_digits)
        .opt("url", &n.url)
        .method("method", n.method)
        .opt("statusCallback", &n.status_callback)
        .list("statusCallbackEvent", &n.status_callback_event)
        .method("statusCallbackMethod", n.status_callback_method)
        .write_text(out, &n.number);
}

fn client_into(out: &mut String, c: &ClientNoun) {
    let tag = Tag::new("Client")
        .opt("url", &c.url)
        .method("method", c.method)
        .opt("statusCallback", &c.status_callback)
        .list("statusCallbackEvent", &c.status_callback_event)
        .method("statusCallbackMethod", c.status_callback_method);
    if c.parameters.is_empty() {
        tag.write_text(out, &c.identity);
    } else {
        let mut inner = String::new();
        Tag::new("Identity").write_text(&mut inner, &c.identity);
        parameters_into(&mut inner, &c.parameters);
        tag.write(out, &inner);
    }
}

fn sip_into(out: &mut String, s: &SipNoun) {
    Tag::new("Sip")
        .opt("username", &s.username)
        .opt("password", &s.password)
        .opt("url", &s.url)
        .method("method", s.method)
        .opt("statusCallback", &s.status_callback)
        .list("statusCallbackEvent", &s.status_callback_event)
        .method("statusCallbackMethod", s.status_callback_method)
        .write_text(out, &s.uri);
}

fn conference_into(out: &mut String, c: &ConferenceNoun) {
    let tag = Tag::new("Conference").boolean("muted", c.muted, false);
    let tag = if c.beep == "true" {
        tag
    } else {
        tag.attr("beep", &c.beep)
    };
    tag.boolean("startConferenceOnEnter", c.start_conference_on_enter, true)
        .boolean("endConferenceOnExit", c.end_conference_on_exit, false)
        .opt("waitUrl", &c.wait_url)
        .method("waitMethod", c.wait_method)
        .num("maxParticipants", c.max_participants, 250)
        .opt("record", &c.record)
        .opt("statusCallback", &c.status_callback)
        .method("statusCallbackMethod", c.status_callback_method)
        .list("statusCallbackEvent", &c.status_callback_event)
        .opt("participantLabel", &c.participant_label)
        .write_text(out, &c.name);
}

fn queue_into(out: &mut String, q: &QueueNoun) {
    Tag::new("Queue")
        .opt("url", &q.url)
        .method("method", q.method)
        .opt("reservationSid", &q.reservation_sid)
        .opt("postWorkActivitySid", &q.post_work_activity_sid)
        .write_text(out, &q.name);
}

fn application_into(out: &mut String, a: &ApplicationNoun) {
    let mut inner = String::new();
    Tag::new("ApplicationSid").write_text(&mut inner, &a.application_sid);
    parameters_into(&mut inner, &a.parameters);
    Tag::new("Application")
        .boolean("copyParentTo", a.copy_parent_to, false)
        .opt("url", &a.url)
        .method("method", a.method)
        .opt("statusCallback", &a.status_callback)
        .list("statusCallbackEvent", &a.status_callback_event)
        .method("statusCallbackMethod", a.status_callback_method)
        .write(out, &inner);
}

fn parameters_into(out: &mut String, parameters: &[(String, String)]) {
    for (name, value) in parameters {
        Tag::new("Parameter")
            .attr("name", name)
            .attr("value", value)
            .write(out, "");
    }
}

/// Escapes text content: `&`, `<`, `>`; `\r` as a character reference so that XML line-end
/// normalisation does not eat it. Quotes are left as they are (JSON stays readable).
fn escape_text(out: &mut String, text: &str) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Escapes an attribute value: markup characters, both quotes, and the whitespace characters
/// that XML attribute normalisation would otherwise turn into spaces.
fn escape_attr(out: &mut String, value: &str) {
    for ch in value.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}
