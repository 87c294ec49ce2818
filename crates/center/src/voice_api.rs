//! The Voice API's requests ([`VoiceRequest`]) carried out on the voice engine: hanging up,
//! ending conferences, placing and redirecting calls, adding and changing participants.
//!
//! Nothing here is durable: calls and conferences live in the voice engine only. What dialing a
//! target reaches is decided in one place, [`callee_for`]; what a call does once it is answered
//! comes from the request ([`CallInstructions`]).

use switchboard_twiml::Method;
use switchboard_voice::{
    Callee, DialRequest, Instructions, ParticipantUpdate, PlaceRequest, VoiceError,
};

use crate::calls::callee_for;
use crate::cx::Cx;
use crate::error::{CenterError, ErrorKind};
use crate::io::{CallInstructions, Reply, VoiceRequest};

/// Twilio's code for an `ApplicationSid` that names no application it can use.
const INVALID_APPLICATION: u32 = 21218;
/// Twilio's code for a `To` that cannot be reached.
const UNREACHABLE_TO: u32 = 21214;

/// Carries out one Voice API request.
pub(crate) fn handle(cx: &mut Cx<'_>, request: VoiceRequest) -> Result<Reply, CenterError> {
    let ms = cx.ms();
    match request {
        VoiceRequest::Hangup { call } => cx.voice.hangup(ms, call, "completed via the API")?,
        VoiceRequest::EndConference { conference } => {
            cx.voice.end_conference_now(ms, conference)?
        }
        VoiceRequest::UpdateParticipant {
            conference,
            call,
            hold,
            muted,
        } => cx.voice.update_participant(
            ms,
            conference,
            call,
            ParticipantUpdate {
                hold,
                muted,
                ..ParticipantUpdate::default()
            },
        )?,
        VoiceRequest::ModifyParticipant {
            conference,
            call,
            update,
        } => cx.voice.update_participant(ms, conference, call, update)?,
        VoiceRequest::RemoveParticipant { conference, call } => {
            cx.voice.remove_participant(ms, conference, call)?
        }
        VoiceRequest::DeleteCall { call } => cx.voice.forget_call(call)?,
        VoiceRequest::Redirect { call, instructions } => {
            let (instructions, _) = resolve(cx, instructions)?;
            cx.voice.redirect(ms, call, instructions)?
        }
        VoiceRequest::CreateCall(spec) => {
            let callee = reachable(cx, &spec.to)?;
            let (instructions, application) = resolve(cx, spec.instructions)?;
            let call = cx.voice.place(
                ms,
                PlaceRequest {
                    from: spec.from,
                    to: spec.to,
                    callee,
                    instructions,
                    application,
                    ring_timeout: spec.ring_timeout,
                    status_callback: spec.status_callback,
                },
            )?;
            if spec.record {
                cx.voice.request_call_recording(call);
            }
            return Ok(Reply::Call(call));
        }
        VoiceRequest::AddParticipant(spec) => {
            let callee = reachable(cx, &spec.to)?;
            let call = cx
                .voice
                .dial_reporting(
                    ms,
                    DialRequest {
                        from: spec.from,
                        to: spec.to,
                        callee,
                        join: spec.join,
                        ring_timeout: spec.ring_timeout,
                    },
                    spec.status_callback,
                )
                .map_err(|e| match e {
                    // The engine names the field as Twilio's JSON does; the API names parameters.
                    VoiceError::Invalid(m) => CenterError::invalid(
                        "CallSidToCoach",
                        m.trim_start_matches("call_sid_to_coach "),
                    ),
                    other => CenterError::from(other),
                })?;
            if spec.record {
                // Twilio's `Record` on a participant records its conference.
                let conference = cx.voice.call(call).and_then(|c| {
                    [&c.caller, &c.callee].into_iter().find_map(|e| match e {
                        switchboard_voice::End::Conference(p) => Some(p.conference),
                        _ => None,
                    })
                });
                if let Some(cf) = conference {
                    cx.voice.request_conference_recording(cf);
                }
            }
            return Ok(Reply::Call(call));
        }
    }
    Ok(Reply::Done)
}

/// What dialing `to` reaches, refusing what cannot be reached without a trunk.
fn reachable(cx: &Cx<'_>, to: &str) -> Result<Callee, CenterError> {
    match callee_for(cx.model, to)? {
        Callee::External(n) => Err(CenterError::coded(
            ErrorKind::Invalid,
            UNREACHABLE_TO,
            format!(
                "To {n:?} cannot be reached: no telephone or SIP trunk is configured, so numbers \
                 cannot be dialled; call client:<identity> or app:AP…"
            ),
        )),
        callee => Ok(callee),
    }
}

/// The engine's instructions for a request's, and the application they come from.
fn resolve(
    cx: &Cx<'_>,
    instructions: CallInstructions,
) -> Result<
    (
        Instructions,
        Option<switchboard_sid::Sid<switchboard_sid::Application>>,
    ),
    CenterError,
> {
    match instructions {
        CallInstructions::Url { url, method } => Ok((Instructions::Fetch { url, method }, None)),
        CallInstructions::Twiml(xml) => {
            let doc = switchboard_twiml::parse(&xml, None).map_err(|e| {
                CenterError::coded(
                    ErrorKind::Invalid,
                    e.code,
                    format!("Twiml is not valid TwiML: {}", e.message),
                )
            })?;
            Ok((Instructions::Twiml(doc), None))
        }
        CallInstructions::Application(sid) => {
            let app = cx.model.applications().get(&sid).ok_or_else(|| {
                CenterError::coded(
                    ErrorKind::Invalid,
                    INVALID_APPLICATION,
                    format!("ApplicationSid {sid} does not name an application of this account"),
                )
            })?;
            let url = app
                .voice_url
                .clone()
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    CenterError::coded(
                        ErrorKind::Invalid,
                        INVALID_APPLICATION,
                        format!("ApplicationSid {sid} has no VoiceUrl to run"),
                    )
                })?;
            let method = if app.voice_method.eq_ignore_ascii_case("GET") {
                Method::Get
            } else {
                Method::Post
            };
            Ok((Instructions::Fetch { url, method }, Some(sid)))
        }
    }
}
