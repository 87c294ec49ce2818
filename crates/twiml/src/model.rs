//! The typed model: a document's verbs and nouns, as [`parse`](crate::parse()) returns them and
//! [`render`](crate::render()) writes them.

/// Most `<Number>`/`<Client>`/`<Sip>` nouns one `<Dial>` may ring at once.
pub const MAX_DIAL_ENDPOINTS: usize = 10;

/// A `<Response>`: verbs run in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    pub verbs: Vec<Verb>,
}

/// HTTP method for a callback or a next-document request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Method {
    Get,
    #[default]
    Post,
}

impl Method {
    /// `"GET"` or `"POST"`, as written in TwiML and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// `<Reject reason=…>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RejectReason {
    #[default]
    Rejected,
    Busy,
}

impl RejectReason {
    /// `"rejected"` or `"busy"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Rejected => "rejected",
            RejectReason::Busy => "busy",
        }
    }
}

/// A verb: a direct child of `<Response>`.
#[derive(Debug, Clone, PartialEq)]
pub enum Verb {
    /// Text to speech. `loop_count` 0 means "until the call ends".
    Say {
        text: String,
        voice: Option<String>,
        language: Option<String>,
        loop_count: u32,
    },
    /// Play an audio URL (absolute), or DTMF `digits`. `loop_count` 0 means "until the call ends".
    Play {
        url: Option<String>,
        digits: Option<String>,
        loop_count: u32,
    },
    /// Silence for `length` seconds.
    Pause {
        length: u32,
    },
    Hangup,
    Reject {
        reason: RejectReason,
    },
    /// Fetch the next document from `url` (absolute).
    Redirect {
        url: String,
        method: Method,
    },
    Enqueue(Enqueue),
    Dial(Dial),
    /// Leave the queue (only meaningful in a queue's wait document).
    Leave,
}

/// `<Enqueue>`: put the call in a named queue, or (with `workflow_sid`) create a TaskRouter task.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Enqueue {
    /// The element's text: a queue name of at most 64 characters.
    pub queue_name: Option<String>,
    pub workflow_sid: Option<String>,
    pub action: Option<String>,
    pub method: Method,
    pub wait_url: Option<String>,
    pub wait_url_method: Method,
    pub max_queue_size: Option<u32>,
    /// The `<Task>` child; only allowed together with `workflow_sid`.
    pub task: Option<TaskSpec>,
}

/// `<Task>` inside `<Enqueue>`: extra task attributes (a JSON object), priority and timeout.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskSpec {
    pub priority: Option<u32>,
    /// Seconds.
    pub timeout: Option<u64>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// `<Dial>`: connect the call to something else.
#[derive(Debug, Clone, PartialEq)]
pub struct Dial {
    pub action: Option<String>,
    pub method: Method,
    /// Seconds to ring; default 30.
    pub timeout: u32,
    pub caller_id: Option<String>,
    pub answer_on_bridge: bool,
    pub hangup_on_star: bool,
    /// Seconds; default 14400 (4 h).
    pub time_limit: u32,
    /// `do-not-record`, `record-from-answer`, `record-from-ringing`, `record-from-answer-dual`,
    /// `record-from-ringing-dual`, or the legacy `true`/`false`.
    pub record: Option<String>,
    pub target: DialTarget,
}

impl Dial {
    /// Default `<Dial>` attributes around `target`.
    pub fn new(target: DialTarget) -> Self {
        Dial {
            action: None,
            method: Method::Post,
            timeout: 30,
            caller_id: None,
            answer_on_bridge: false,
            hangup_on_star: false,
            time_limit: 14400,
            record: None,
            target,
        }
    }
}

/// What a `<Dial>` connects to. See the crate docs for the canonical form: the `Number`, `Client`
/// and `Sip` lists hold one kind each; `Parallel` is only for a mix of kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum DialTarget {
    Number(Vec<NumberNoun>),
    Client(Vec<ClientNoun>),
    Sip(Vec<SipNoun>),
    /// Numbers, clients and SIP endpoints rung together (two or more kinds), in document order.
    Parallel(Vec<Endpoint>),
    Conference(ConferenceNoun),
    Queue(QueueNoun),
    Application(ApplicationNoun),
}

impl DialTarget {
    /// The endpoints rung in parallel, in document order, whichever list variant holds them;
    /// empty for `Conference`, `Queue` and `Application`.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        match self {
            DialTarget::Number(v) => v.iter().cloned().map(Endpoint::Number).collect(),
            DialTarget::Client(v) => v.iter().cloned().map(Endpoint::Client).collect(),
            DialTarget::Sip(v) => v.iter().cloned().map(Endpoint::Sip).collect(),
            DialTarget::Parallel(v) => v.clone(),
            DialTarget::Conference(_) | DialTarget::Queue(_) | DialTarget::Application(_) => {
                Vec::new()
            }
        }
    }
}

/// One party rung by a `<Dial>` that calls several at once.
#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    Number(NumberNoun),
    Client(ClientNoun),
    Sip(SipNoun),
}

/// `<Conference>`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConferenceNoun {
    /// The room name (element text).
    pub name: String,
    pub muted: bool,
    /// `"true"`, `"false"`, `"onEnter"` or `"onExit"`; default `"true"`.
    pub beep: String,
    /// Default true.
    pub start_conference_on_enter: bool,
    pub end_conference_on_exit: bool,
    /// `Some("")` means silence; `None` means the default hold music.
    pub wait_url: Option<String>,
    pub wait_method: Method,
    /// 2..=250; default 250.
    pub max_participants: u32,
    pub status_callback: Option<String>,
    pub status_callback_method: Method,
    /// Subset of `start end join leave mute hold modify speaker announcement`.
    pub status_callback_event: Vec<String>,
    /// `do-not-record` or `record-from-start`.
    pub record: Option<String>,
    pub participant_label: Option<String>,
}

impl ConferenceNoun {
    /// A room with every attribute at its default.
    pub fn new(name: impl Into<String>) -> Self {
        ConferenceNoun {
            name: name.into(),
            muted: false,
            beep: "true".to_owned(),
            start_conference_on_enter: true,
            end_conference_on_exit: false,
            wait_url: None,
            wait_method: Method::Post,
            max_participants: 250,
            status_callback: None,
            status_callback_method: Method::Post,
            status_callback_event: Vec::new(),
            record: None,
            participant_label: None,
        }
    }
}

/// `<Client>`: a Voice SDK identity, with optional custom `<Parameter>`s.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientNoun {
    pub identity: String,
    /// `<Parameter name=… value=…/>` children, in order.
    pub parameters: Vec<(String, String)>,
    pub url: Option<String>,
    pub method: Method,
    pub status_callback: Option<String>,
    /// Subset of `initiated ringing answered completed`.
    pub status_callback_event: Vec<String>,
    pub status_callback_method: Method,
}

impl ClientNoun {
    /// A client with every attribute at its default.
    pub fn new(identity: impl Into<String>) -> Self {
        ClientNoun {
            identity: identity.into(),
            parameters: Vec::new(),
            url: None,
            method: Method::Post,
            status_callback: None,
            status_callback_event: Vec::new(),
            status_callback_method: Method::Post,
        }
    }
}

/// `<Number>`: a phone number.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberNoun {
    pub number: String,
    pub send_digits: Option<String>,
    pub url: Option<String>,
    pub method: Method,
    pub status_callback: Option<String>,
    /// Subset of `initiated ringing answered completed`.
    pub status_callback_event: Vec<String>,
    pub status_callback_method: Method,
}

impl NumberNoun {
    /// A number with every attribute at its default.
    pub fn new(number: impl Into<String>) -> Self {
        NumberNoun {
            number: number.into(),
            send_digits: None,
            url: None,
            method: Method::Post,
            status_callback: None,
            status_callback_event: Vec::new(),
            status_callback_method: Method::Post,
        }
    }
}

/// `<Sip>`: a `sip:`/`sips:` URI.
#[derive(Debug, Clone, PartialEq)]
pub struct SipNoun {
    pub uri: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub url: Option<String>,
    pub method: Method,
    pub status_callback: Option<String>,
    /// Subset of `initiated ringing answered completed`.
    pub status_callback_event: Vec<String>,
    pub status_callback_method: Method,
}

impl SipNoun {
    /// A SIP endpoint with every attribute at its default.
    pub fn new(uri: impl Into<String>) -> Self {
        SipNoun {
            uri: uri.into(),
            username: None,
            password: None,
            url: None,
            method: Method::Post,
            status_callback: None,
            status_callback_event: Vec::new(),
            status_callback_method: Method::Post,
        }
    }
}

/// `<Queue>`: dequeue the oldest caller (or the reserved task's caller) from a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueNoun {
    pub name: String,
    pub url: Option<String>,
    pub method: Method,
    pub reservation_sid: Option<String>,
    pub post_work_activity_sid: Option<String>,
}

impl QueueNoun {
    /// A queue with every attribute at its default.
    pub fn new(name: impl Into<String>) -> Self {
        QueueNoun {
            name: name.into(),
            url: None,
            method: Method::Post,
            reservation_sid: None,
            post_work_activity_sid: None,
        }
    }
}

/// `<Application>`: dial a TwiML App.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationNoun {
    /// The `<ApplicationSid>` child.
    pub application_sid: String,
    /// `<Parameter name=… value=…/>` children, in order.
    pub parameters: Vec<(String, String)>,
    pub copy_parent_to: bool,
    pub url: Option<String>,
    pub method: Method,
    pub status_callback: Option<String>,
    /// Subset of `initiated ringing answered completed`.
    pub status_callback_event: Vec<String>,
    pub status_callback_method: Method,
}

impl ApplicationNoun {
    /// An application dial with every attribute at its default.
    pub fn new(application_sid: impl Into<String>) -> Self {
        ApplicationNoun {
            application_sid: application_sid.into(),
            parameters: Vec::new(),
            copy_parent_to: false,
            url: None,
            method: Method::Post,
            status_callback: None,
            status_callback_event: Vec::new(),
            status_callback_method: Method::Post,
        }
    }
}
