//! TwiML for voice: the XML documents a voice webhook answers with.
//!
//! This crate owns the typed model of the verbs and nouns Switchboard supports ([`Document`],
//! [`Verb`] and the noun structs), [`parse`] (XML text to that model, validated, with every
//! relative URL resolved against the URL the document came from) and [`render`] (the model back
//! to the compact XML Twilio's helper libraries write). It does no I/O: fetching documents,
//! running the verbs and calling the URLs they name belong to the voice state machine and the
//! server.
//!
//! ```
//! use switchboard_twiml::{parse, render, Verb};
//!
//! let xml = r#"<Response><Enqueue workflowSid="WW1"><Task>{"worker_sid":"WK1"}</Task></Enqueue><Redirect>next</Redirect></Response>"#;
//! let doc = parse(xml, Some("https://example.com/voice/enqueue")).unwrap();
//! assert!(matches!(&doc.verbs[1], Verb::Redirect { url, .. } if url == "https://example.com/voice/next"));
//! assert_eq!(parse(&render(&doc), None).unwrap(), doc);
//! ```
//!
//! # Rules it follows
//!
//! * Element names (PascalCase) and attribute names (camelCase) are case-sensitive. Unknown
//!   attributes on known elements are ignored, as Twilio does. Unknown or unsupported verbs and
//!   nouns, and bad attribute values, are errors.
//! * Parsing is streaming and bounded: documents over [`MAX_DOCUMENT_BYTES`] are refused, and so
//!   is nesting deeper than `Response > verb > noun > child` ([`MAX_DEPTH`]). A DOCTYPE with an
//!   internal subset and any entity other than the five predefined ones and character
//!   references are refused, so nothing is ever expanded.
//! * Errors carry Twilio's codes: [`TwimlError::PARSE_FAILURE`] (12100) when the text is not a
//!   TwiML document at all, [`TwimlError::SCHEMA_VALIDATION`] (12200) when it is XML with a
//!   `<Response>` root but something inside is not acceptable. Messages name the element path
//!   (`Response/Dial[1]/Conference[2]`, 1-based among same-named siblings) and the attribute
//!   (`Response/Dial[1]/@timeout`).
//!
//! # Rendering
//!
//! [`render`] writes `<?xml version="1.0" encoding="UTF-8"?>` and the tree with no whitespace.
//! Only attributes whose value differs from the default are written (the way a helper library
//! writes only what it was given), in a fixed order per element. For every document that
//! [`parse`] returns, `parse(&render(&doc), None) == Ok(doc)`.
//!
//! # Model choices
//!
//! * `<Dial>` targets: a bare text body is one [`NumberNoun`]. Up to ten `<Number>`,
//!   `<Client>` and `<Sip>` nouns are dialed in parallel; when they are all of one kind they are
//!   [`DialTarget::Number`], [`DialTarget::Client`] or [`DialTarget::Sip`], and only a mix of
//!   kinds is [`DialTarget::Parallel`] (so every dial list has exactly one representation).
//!   `<Conference>`, `<Queue>` and `<Application>` stand alone: one per `<Dial>`, not mixed.
//! * `<Task>` bodies are JSON objects; the legacy `<TaskAttributes>` element is accepted and
//!   becomes the same [`TaskSpec`] (rendered back as `<Task>`).
//! * URL attributes and bodies resolve to absolute `http`/`https` URLs. An empty URL attribute
//!   means "not given", except `<Conference waitUrl="">`, which keeps `Some("")` (silence).
//! * `<Client>` renders its identity as plain text when it has no parameters, and as
//!   `<Identity>` plus `<Parameter>` children when it has some; both forms parse.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod error;
mod model;
mod parse;
mod render;
mod tree;

pub use error::TwimlError;
pub use model::{
    ApplicationNoun, ClientNoun, ConferenceNoun, Dial, DialTarget, Document, Endpoint, Enqueue,
    Method, NumberNoun, QueueNoun, RejectReason, SipNoun, TaskSpec, Verb, MAX_DIAL_ENDPOINTS,
};
pub use parse::parse;
pub use render::render;
pub use tree::{MAX_DEPTH, MAX_DOCUMENT_BYTES};
