//! Element tree to the typed model: validation, defaults and URL resolution.

use url::Url;

use crate::error::TwimlError;
use crate::model::{
    ApplicationNoun, ClientNoun, ConferenceNoun, Dial, DialTarget, Document, Endpoint, Enqueue,
    Method, NumberNoun, QueueNoun, RejectReason, SipNoun, TaskSpec, Verb, MAX_DIAL_ENDPOINTS,
};
use crate::tree::{self, Element};

/// Longest queue name `<Enqueue>` accepts, in characters.
const MAX_QUEUE_NAME_CHARS: usize = 64;

/// Real Twilio verbs this system does not run.
const UNSUPPORTED_VERBS: &[&str] = &[
    "Gather",
    "Record",
    "Sms",
    "Message",
    "Connect",
    "Start",
    "Stop",
    "Pay",
    "Prompt",
    "Refer",
    "Echo",
    "Siprec",
    "Stream",
    "Transcription",
    "Conversation",
];

/// Real Twilio `<Dial>` nouns this system does not dial.
const UNSUPPORTED_NOUNS: &[&str] = &["Sim", "WhatsApp", "Conversation"];

const CALL_EVENTS: &[&str] = &["initiated", "ringing", "answered", "completed"];
const CONFERENCE_EVENTS: &[&str] = &[
    "start",
    "end",
    "join",
    "leave",
    "mute",
    "hold",
    "modify",
    "speaker",
    "announcement",
];
const DIAL_RECORD: &[&str] = &[
    "do-not-record",
    "record-from-answer",
    "record-from-ringing",
    "record-from-answer-dual",
    "record-from-ringing-dual",
    "true",
    "false",
];
const CONFERENCE_RECORD: &[&str] = &["do-not-record", "record-from-start"];

/// Parses a TwiML document.
///
/// Every relative URL (`action`, `url`, `waitUrl`, `statusCallback`, and the bodies of
/// `<Redirect>` and `<Play>`) is resolved against `document_url`, the URL the document was
/// fetched from; absolute URLs are kept as written. With `document_url` `None`, a relative URL
/// is an error.
pub fn parse(xml: &str, document_url: Option<&str>) -> Result<Document, TwimlError> {
    let root = tree::read(xml)?;
    let ctx = Ctx {
        document_url,
        base: document_url.map(Url::parse),
    };
    ctx.no_text(&root)?;
    let verbs = root
        .children
        .iter()
        .map(|el| ctx.verb(el))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Document { verbs })
}

fn schema(message: impl Into<String>) -> TwimlError {
    TwimlError::schema(message)
}

fn attr_err(el: &Element, name: &str, what: impl std::fmt::Display) -> TwimlError {
    schema(format!("{}/@{name}: {what}", el.path))
}

struct Ctx<'a> {
    document_url: Option<&'a str>,
    base: Option<Result<Url, url::ParseError>>,
}

impl Ctx<'_> {
    // ---- verbs -------------------------------------------------------------------------

    fn verb(&self, el: &Element) -> Result<Verb, TwimlError> {
        match el.name.as_str() {
            "Say" => self.say(el),
            "Play" => self.play(el),
            "Pause" => {
                self.leaf(el)?;
                Ok(Verb::Pause {
                    length: u32_attr(el, "length")?.unwrap_or(1),
                })
            }
            "Hangup" => {
                self.leaf(el)?;
                Ok(Verb::Hangup)
            }
            "Leave" => {
                self.leaf(el)?;
                Ok(Verb::Leave)
            }
            "Reject" => {
                self.leaf(el)?;
                let reason = match el.attr("reason").map(str::trim) {
                    None | Some("rejected") => RejectReason::Rejected,
                    Some("busy") => RejectReason::Busy,
                    Some(other) => {
                        return Err(attr_err(
                            el,
                            "reason",
                            format!("expected rejected or busy, got {other:?}"),
                        ))
                    }
                };
                Ok(Verb::Reject { reason })
            }
            "Redirect" => {
                no_children(el)?;
                let body = el.text.trim();
                if body.is_empty() {
                    return Err(schema(format!("{}: <Redirect> needs a URL", el.path)));
                }
                Ok(Verb::Redirect {
                    url: self.resolve(body, || el.path.clone())?,
                    method: method_attr(el, "method")?,
                })
            }
            "Enqueue" => self.enqueue(el).map(Verb::Enqueue),
            "Dial" => self.dial(el).map(Verb::Dial),
            name if UNSUPPORTED_VERBS.contains(&name) => {
                Err(schema(format!("{}: unsupported verb <{name}>", el.path)))
            }
            name => Err(schema(format!("{}: unknown verb <{name}>", el.path))),
        }
    }

    fn say(&self, el: &Element) -> Result<Verb, TwimlError> {
        if let Some(child) = el.children.first() {
            return Err(schema(format!(
                "{}: unsupported element <{}> inside <Say> (SSML is not supported)",
                child.path, child.name
            )));
        }
        Ok(Verb::Say {
            text: el.text.trim().to_owned(),
            voice: string_attr(el, "voice"),
            language: string_attr(el, "language"),
            loop_count: u32_attr(el, "loop")?.unwrap_or(1),
        })
    }

    fn play(&self, el: &Element) -> Result<Verb, TwimlError> {
        no_children(el)?;
        let body = el.text.trim();
        let url = if body.is_empty() {
            None
        } else {
            Some(self.resolve(body, || el.path.clone())?)
        };
        let digits = string_attr(el, "digits");
        if let Some(d) = &digits {
            if d.is_empty()
                || !d
                    .chars()
                    .all(|c| matches!(c, '0'..='9' | '*' | '#' | 'w' | 'W'))
            {
                return Err(attr_err(
                    el,
                    "digits",
                    format!("expected 0-9, *, #, w or W, got {d:?}"),
                ));
            }
        }
        if url.is_none() && digits.is_none() {
            return Err(schema(format!(
                "{}: <Play> needs an audio URL or digits",
                el.path
            )));
        }
        Ok(Verb::Play {
            url,
            digits,
            loop_count: u32_attr(el, "loop")?.unwrap_or(1),
        })
    }

    fn enqueue(&self, el: &Element) -> Result<Enqueue, TwimlError> {
        let workflow_sid = string_attr(el, "workflowSid");
        let mut task = None;
        for child in &el.children {
            match child.name.as_str() {
                "Task" | "TaskAttributes" => {
                    if task.is_some() {
                        return Err(schema(format!(
                            "{}: more than one <Task> in one <Enqueue>",
                            child.path
                        )));
                    }
                    if workflow_sid.is_none() {
                        return Err(schema(format!(
                            "{}: <{}> needs workflowSid on the <Enqueue>",
                            child.path, child.name
                        )));
                    }
                    task = Some(self.task(child)?);
                }
                other => {
                    return Err(schema(format!(
                        "{}: unexpected element <{other}> inside <Enqueue>",
                        child.path
                    )))
                }
            }
        }
        let name = el.text.trim();
        let queue_name = if name.is_empty() {
            None
        } else if name.chars().count() > MAX_QUEUE_NAME_CHARS {
            return Err(schema(format!(
                "{}: queue name is longer than {MAX_QUEUE_NAME_CHARS} characters",
                el.path
            )));
        } else {
            Some(name.to_owned())
        };
        if queue_name.is_none() && workflow_sid.is_none() {
            return Err(schema(format!(
                "{}: <Enqueue> needs a queue name or workflowSid",
                el.path
            )));
        }
        Ok(Enqueue {
            queue_name,
            workflow_sid,
            action: self.url_attr(el, "action")?,
            method: method_attr(el, "method")?,
            wait_url: self.url_attr(el, "waitUrl")?,
            wait_url_method: method_attr(el, "waitUrlMethod")?,
            max_queue_size: u32_attr(el, "maxQueueSize")?,
            task,
        })
    }

    fn task(&self, el: &Element) -> Result<TaskSpec, TwimlError> {
        no_children(el)?;
        let body = el.text.trim();
        let value: serde_json::Value = serde_json::from_str(body).map_err(|e| {
            schema(format!(
                "{}: <{}> body is not valid JSON: {e}",
                el.path, el.name
            ))
        })?;
        let serde_json::Value::Object(attributes) = value else {
            return Err(schema(format!(
                "{}: <{}> body must be a JSON object",
                el.path, el.name
            )));
        };
        Ok(TaskSpec {
            priority: u32_attr(el, "priority")?,
            timeout: u64_attr(el, "timeout")?,
            attributes,
        })
    }

    fn dial(&self, el: &Element) -> Result<Dial, TwimlError> {
        let target = self.dial_target(el)?;
        let record = enum_attr(el, "record", DIAL_RECORD)?;
        Ok(Dial {
            action: self.url_attr(el, "action")?,
            method: method_attr(el, "method")?,
            timeout: u32_attr(el, "timeout")?.unwrap_or(30),
            caller_id: string_attr(el, "callerId"),
            answer_on_bridge: bool_attr(el, "answerOnBridge")?.unwrap_or(false),
            hangup_on_star: bool_attr(el, "hangupOnStar")?.unwrap_or(false),
            time_limit: u32_attr(el, "timeLimit")?.unwrap_or(14400),
            record,
            target,
        })
    }

    fn dial_target(&self, el: &Element) -> Result<DialTarget, TwimlError> {
        let body = el.text.trim();
        if el.children.is_empty() {
            if body.is_empty() {
                return Err(schema(format!("{}: <Dial> has nothing to dial", el.path)));
            }
            return Ok(DialTarget::Number(vec![NumberNoun::new(body)]));
        }
        if !body.is_empty() {
            return Err(schema(format!(
                "{}: <Dial> mixes a bare number with nouns",
                el.path
            )));
        }

        let mut endpoints: Vec<Endpoint> = Vec::new();
        // A Conference, Queue or Application, with its element name: it must stand alone.
        let mut single: Option<(&'static str, DialTarget)> = None;
        for (i, child) in el.children.iter().enumerate() {
            let name = child.name.as_str();
            let exclusive = matches!(name, "Conference" | "Queue" | "Application");
            if let Some((previous, _)) = &single {
                return Err(schema(if *previous == name {
                    format!("{}: more than one <{name}> in one <Dial>", child.path)
                } else {
                    format!(
                        "{}: <{name}> cannot be combined with <{previous}> in one <Dial>",
                        child.path
                    )
                }));
            }
            if exclusive && i > 0 {
                return Err(schema(format!(
                    "{}: <{name}> cannot be combined with other nouns in one <Dial>",
                    child.path
                )));
            }
            match name {
                "Number" => endpoints.push(Endpoint::Number(self.number(child)?)),
                "Client" => endpoints.push(Endpoint::Client(self.client(child)?)),
                "Sip" => endpoints.push(Endpoint::Sip(self.sip(child)?)),
                "Conference" => {
                    single = Some((
                        "Conference",
                        DialTarget::Conference(self.conference(child)?),
                    ))
                }
                "Queue" => single = Some(("Queue", DialTarget::Queue(self.queue(child)?))),
                "Application" => {
                    let app = self.application(child)?;
                    single = Some(("Application", DialTarget::Application(app)))
                }
                n if UNSUPPORTED_NOUNS.contains(&n) => {
                    return Err(schema(format!("{}: unsupported noun <{n}>", child.path)))
                }
                n => return Err(schema(format!("{}: unknown noun <{n}>", child.path))),
            }
            if endpoints.len() > MAX_DIAL_ENDPOINTS {
                return Err(schema(format!(
                    "{}: more than {MAX_DIAL_ENDPOINTS} nouns in one <Dial>",
                    child.path
                )));
            }
        }
        if let Some((_, target)) = single {
            return Ok(target);
        }
        Ok(group_endpoints(endpoints))
    }

    // ---- nouns -------------------------------------------------------------------------

    fn number(&self, el: &Element) -> Result<NumberNoun, TwimlError> {
        no_children(el)?;
        let number = required_text(el, "a phone number")?;
        Ok(NumberNoun {
            number,
            send_digits: string_attr(el, "sendDigits"),
            url: self.url_attr(el, "url")?,
            method: method_attr(el, "method")?,
            status_callback: self.url_attr(el, "statusCallback")?,
            status_callback_event: events_attr(el, "statusCallbackEvent", CALL_EVENTS)?,
            status_callback_method: method_attr(el, "statusCallbackMethod")?,
        })
    }

    fn client(&self, el: &Element) -> Result<ClientNoun, TwimlError> {
        let (identity, parameters) = self.identity_and_parameters(el, "Identity")?;
        Ok(ClientNoun {
            identity,
            parameters,
            url: self.url_attr(el, "url")?,
            method: method_attr(el, "method")?,
            status_callback: self.url_attr(el, "statusCallback")?,
            status_callback_event: events_attr(el, "statusCallbackEvent", CALL_EVENTS)?,
            status_callback_method: method_attr(el, "statusCallbackMethod")?,
        })
    }

    fn sip(&self, el: &Element) -> Result<SipNoun, TwimlError> {
        no_children(el)?;
        let uri = required_text(el, "a SIP URI")?;
        let lower = uri.to_ascii_lowercase();
        if !(lower.starts_with("sip:") || lower.starts_with("sips:")) {
            return Err(schema(format!(
                "{}: SIP URI must start with sip: or sips:, got {uri:?}",
                el.path
            )));
        }
        Ok(SipNoun {
            uri,
            username: string_attr(el, "username"),
            password: string_attr(el, "password"),
            url: self.url_attr(el, "url")?,
            method: method_attr(el, "method")?,
            status_callback: self.url_attr(el, "statusCallback")?,
            status_callback_event: events_attr(el, "statusCallbackEvent", CALL_EVENTS)?,
            status_callback_method: method_attr(el, "statusCallbackMethod")?,
        })
    }

    fn conference(&self, el: &Element) -> Result<ConferenceNoun, TwimlError> {
        no_children(el)?;
        let name = required_text(el, "a room name")?;
        let beep = match el.attr("beep").map(str::trim) {
            None => "true".to_owned(),
            Some(b) if b.eq_ignore_ascii_case("true") => "true".to_owned(),
            Some(b) if b.eq_ignore_ascii_case("false") => "false".to_owned(),
            Some(b @ ("onEnter" | "onExit")) => b.to_owned(),
            Some(other) => {
                return Err(attr_err(
                    el,
                    "beep",
                    format!("expected true, false, onEnter or onExit, got {other:?}"),
                ))
            }
        };
        let max_participants = match u32_attr(el, "maxParticipants")? {
            None => 250,
            Some(n @ 2..=250) => n,
            Some(n) => {
                return Err(attr_err(
                    el,
                    "maxParticipants",
                    format!("must be in 2..=250, got {n}"),
                ))
            }
        };
        // An empty waitUrl is meaningful here: no hold music.
        let wait_url = match el.attr("waitUrl").map(str::trim) {
            None => None,
            Some("") => Some(String::new()),
            Some(url) => Some(self.resolve(url, || format!("{}/@waitUrl", el.path))?),
        };
        Ok(ConferenceNoun {
            name,
            muted: bool_attr(el, "muted")?.unwrap_or(false),
            beep,
            start_conference_on_enter: bool_attr(el, "startConferenceOnEnter")?.unwrap_or(true),
            end_conference_on_exit: bool_attr(el, "endConferenceOnExit")?.unwrap_or(false),
            wait_url,
            wait_method: method_attr(el, "waitMethod")?,
            max_participants,
            status_callback: self.url_attr(el, "statusCallback")?,
            status_callback_method: method_attr(el, "statusCallbackMethod")?,
            status_callback_event: events_attr(el, "statusCallbackEvent", CONFERENCE_EVENTS)?,
            record: enum_attr(el, "record", CONFERENCE_RECORD)?,
            participant_label: string_attr(el, "participantLabel"),
        })
    }

    fn queue(&self, el: &Element) -> Result<QueueNoun, TwimlError> {
        no_children(el)?;
        Ok(QueueNoun {
            name: required_text(el, "a queue name")?,
            url: self.url_attr(el, "url")?,
            method: method_attr(el, "method")?,
            reservation_sid: string_attr(el, "reservationSid"),
            post_work_activity_sid: string_attr(el, "postWorkActivitySid"),
        })
    }

    fn application(&self, el: &Element) -> Result<ApplicationNoun, TwimlError> {
        let (application_sid, parameters) = self.identity_and_parameters(el, "ApplicationSid")?;
        Ok(ApplicationNoun {
            application_sid,
            parameters,
            copy_parent_to: bool_attr(el, "copyParentTo")?.unwrap_or(false),
            url: self.url_attr(el, "url")?,
            method: method_attr(el, "method")?,
            status_callback: self.url_attr(el, "statusCallback")?,
            status_callback_event: events_attr(el, "statusCallbackEvent", CALL_EVENTS)?,
            status_callback_method: method_attr(el, "statusCallbackMethod")?,
        })
    }

    /// `<Client>`/`<Application>` content: the identifier as bare text or as an `id_element`
    /// child (not both), plus `<Parameter>` children.
    fn identity_and_parameters(
        &self,
        el: &Element,
        id_element: &str,
    ) -> Result<(String, Vec<(String, String)>), TwimlError> {
        let bare = el.text.trim();
        let mut identity: Option<String> = if bare.is_empty() {
            None
        } else {
            Some(bare.to_owned())
        };
        let mut parameters = Vec::new();
        for child in &el.children {
            if child.name == id_element {
                no_children(child)?;
                if identity.is_some() {
                    return Err(schema(format!("{}: <{}> given twice", child.path, el.name)));
                }
                identity = Some(required_text(child, "a value")?);
            } else if child.name == "Parameter" {
                parameters.push(parameter(child)?);
            } else {
                return Err(schema(format!(
                    "{}: unexpected element <{}> inside <{}>",
                    child.path, child.name, el.name
                )));
            }
        }
        let identity = identity
            .ok_or_else(|| schema(format!("{}: <{}> needs <{id_element}>", el.path, el.name)))?;
        Ok((identity, parameters))
    }

    // ---- helpers -----------------------------------------------------------------------

    /// A verb that takes neither children nor text.
    fn leaf(&self, el: &Element) -> Result<(), TwimlError> {
        no_children(el)?;
        self.no_text(el)
    }

    fn no_text(&self, el: &Element) -> Result<(), TwimlError> {
        if el.text.trim().is_empty() {
            Ok(())
        } else {
            Err(schema(format!("{}: unexpected text", el.path)))
        }
    }

    /// A URL attribute; an empty value counts as absent.
    fn url_attr(&self, el: &Element, name: &str) -> Result<Option<String>, TwimlError> {
        match el.attr(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(raw) => self
                .resolve(raw, || format!("{}/@{name}", el.path))
                .map(Some),
        }
    }

    /// Resolves `raw` against the document URL; absolute URLs are returned as written.
    fn resolve(&self, raw: &str, at: impl Fn() -> String) -> Result<String, TwimlError> {
        let (resolved, keep_raw) = match Url::parse(raw) {
            Ok(url) => (url, true),
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                let base = match &self.base {
                    None => {
                        return Err(schema(format!(
                            "{}: relative URL {raw:?} but no document URL to resolve it against",
                            at()
                        )))
                    }
                    Some(Err(e)) => {
                        return Err(schema(format!(
                            "{}: cannot resolve {raw:?}: document URL {:?} is invalid: {e}",
                            at(),
                            self.document_url.unwrap_or_default()
                        )))
                    }
                    Some(Ok(base)) => base,
                };
                let joined = base
                    .join(raw)
                    .map_err(|e| schema(format!("{}: bad URL {raw:?}: {e}", at())))?;
                (joined, false)
            }
            Err(e) => return Err(schema(format!("{}: bad URL {raw:?}: {e}", at()))),
        };
        if !matches!(resolved.scheme(), "http" | "https") {
            return Err(schema(format!(
                "{}: URL {:?} is not http or https",
                at(),
                resolved.as_str()
            )));
        }
        Ok(if keep_raw {
            raw.to_owned()
        } else {
            resolved.into()
        })
    }
}

/// The canonical dial list: one kind in its own variant, a mix in `Parallel`.
fn group_endpoints(endpoints: Vec<Endpoint>) -> DialTarget {
    if endpoints.iter().all(|e| matches!(e, Endpoint::Number(_))) {
        return DialTarget::Number(
            endpoints
                .into_iter()
                .filter_map(|e| match e {
                    Endpoint::Number(n) => Some(n),
                    _ => None,
                })
                .collect(),
        );
    }
    if endpoints.iter().all(|e| matches!(e, Endpoint::Client(_))) {
        return DialTarget::Client(
            endpoints
                .into_iter()
                .filter_map(|e| match e {
                    Endpoint::Client(c) => Some(c),
                    _ => None,
                })
                .collect(),
        );
    }
    if endpoints.iter().all(|e| matches!(e, Endpoint::Sip(_))) {
        return DialTarget::Sip(
            endpoints
                .into_iter()
                .filter_map(|e| match e {
                    Endpoint::Sip(s) => Some(s),
                    _ => None,
                })
                .collect(),
        );
    }
    DialTarget::Parallel(endpoints)
}

fn no_children(el: &Element) -> Result<(), TwimlError> {
    match el.children.first() {
        None => Ok(()),
        Some(child) => Err(schema(format!(
            "{}: unexpected element <{}> inside <{}>",
            child.path, child.name, el.name
        ))),
    }
}

fn required_text(el: &Element, what: &str) -> Result<String, TwimlError> {
    let text = el.text.trim();
    if text.is_empty() {
        Err(schema(format!("{}: <{}> needs {what}", el.path, el.name)))
    } else {
        Ok(text.to_owned())
    }
}

fn parameter(el: &Element) -> Result<(String, String), TwimlError> {
    no_children(el)?;
    let name = match el.attr("name") {
        Some(n) if !n.is_empty() => n.to_owned(),
        _ => return Err(attr_err(el, "name", "required")),
    };
    Ok((name, el.attr("value").unwrap_or_default().to_owned()))
}

fn string_attr(el: &Element, name: &str) -> Option<String> {
    el.attr(name).map(str::to_owned)
}

fn bool_attr(el: &Element, name: &str) -> Result<Option<bool>, TwimlError> {
    match el.attr(name).map(str::trim) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(attr_err(
            el,
            name,
            format!("expected true or false, got {v:?}"),
        )),
    }
}

fn u32_attr(el: &Element, name: &str) -> Result<Option<u32>, TwimlError> {
    match el.attr(name).map(str::trim) {
        None => Ok(None),
        Some(v) => v.parse::<u32>().map(Some).map_err(|_| {
            attr_err(
                el,
                name,
                format!("expected a non-negative integer, got {v:?}"),
            )
        }),
    }
}

fn u64_attr(el: &Element, name: &str) -> Result<Option<u64>, TwimlError> {
    match el.attr(name).map(str::trim) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            attr_err(
                el,
                name,
                format!("expected a non-negative integer, got {v:?}"),
            )
        }),
    }
}

fn method_attr(el: &Element, name: &str) -> Result<Method, TwimlError> {
    match el.attr(name).map(str::trim) {
        None => Ok(Method::Post),
        Some(v) if v.eq_ignore_ascii_case("POST") => Ok(Method::Post),
        Some(v) if v.eq_ignore_ascii_case("GET") => Ok(Method::Get),
        Some(v) => Err(attr_err(
            el,
            name,
            format!("expected GET or POST, got {v:?}"),
        )),
    }
}

fn enum_attr(el: &Element, name: &str, allowed: &[&str]) -> Result<Option<String>, TwimlError> {
    match el.attr(name).map(str::trim) {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
        Some(v) => Err(attr_err(
            el,
            name,
            format!("expected one of {}, got {v:?}", allowed.join(", ")),
        )),
    }
}

/// A space-separated list (commas also accepted), each item from `allowed`.
fn events_attr(el: &Element, name: &str, allowed: &[&str]) -> Result<Vec<String>, TwimlError> {
    let Some(raw) = el.attr(name) else {
        return Ok(Vec::new());
    };
    raw.split(|c: char| c.is_ascii_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|event| {
            if allowed.contains(&event) {
                Ok(event.to_owned())
            } else {
                Err(attr_err(
                    el,
                    name,
                    format!(
                        "unknown event {event:?} (expected some of {})",
                        allowed.join(" ")
                    ),
                ))
            }
        })
        .collect()
}
