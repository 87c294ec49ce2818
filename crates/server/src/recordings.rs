//! Recordings: Twilio's Recording resources over the media relay's recorder.
//!
//! The service owns the data directory and a registry of recordings. Each recording is the
//! relay's WAV file `RE….wav` and a sidecar `RE….json` (its metadata, Twilio's fields). The
//! relay records; this module says what (the two channels' sources, computed by
//! `switchboard_center::recording` from the calls), when (start, pause, resume, stop), and
//! keeps the registry durable:
//!
//! - at start the relay creates the file (synced) and the sidecar is written `in-progress`;
//! - at stop the relay returns only once the file is final and synced; then the sidecar is
//!   written `completed` (or `absent` when nothing was recorded) with write-temp, fsync,
//!   rename, fsync of the directory;
//! - at startup every `RE….wav` whose sidecar is missing or not final (the process died while
//!   it recorded) is repaired (`repair_wav`) and registered `completed` (`failed` when it cannot
//!   be read back), so a recording whose stop was acknowledged is never lost, and one that was
//!   cut short keeps what reached the disk.
//!
//! While recordings run, a task of this service looks at the calls every
//! [`REFRESH`] and gives the relay the new channel sets when they changed (transfers, holds,
//! parties joining), stops the recordings whose call or conference ended, and starts the
//! automatic recordings of internal calls (the Flex configuration's `call_recording_enabled`).
//!
//! Status callbacks (`RecordingStatusCallback`, events `in-progress`, `completed`, `absent`)
//! go through the server's webhook sender, signed like every webhook.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_center::media::MediaSource;
use switchboard_center::recording::{
    connected_internal_calls, recording_channels, Channels, LiveRecording, RecordingTarget, Track,
};
use switchboard_center::Input;
use switchboard_media::io::RelayHandle;
use switchboard_media::{RecordingId, RecordingSpec, Source};
use switchboard_sid::{Account, Call, Conference, Recording, Sid};

use crate::clock::Clock;
use crate::driver::CoreHandle;
use crate::events::Delivery;
use crate::http::ApiError;

/// How often running recordings follow the calls (and automatic recordings are looked for).
pub const REFRESH: Duration = Duration::from_millis(100);

/// Twilio's recording statuses, as stored and shown.
pub mod status {
    /// Recording.
    pub const IN_PROGRESS: &str = "in-progress";
    /// Paused.
    pub const PAUSED: &str = "paused";
    /// Stopped (shown in the answer to a stop).
    pub const STOPPED: &str = "stopped";
    /// Finished, the file is complete.
    pub const COMPLETED: &str = "completed";
    /// Finished without audio.
    pub const ABSENT: &str = "absent";
    /// The file could not be finished or read back.
    pub const FAILED: &str = "failed";
}

/// One recording's metadata: what the sidecar holds and the REST API shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingMeta {
    /// `RE…`.
    pub sid: String,
    /// The account.
    pub account_sid: String,
    /// The recorded call, if a call was recorded.
    pub call_sid: Option<String>,
    /// The recorded conference, if a conference was recorded.
    pub conference_sid: Option<String>,
    /// See [`status`].
    pub status: String,
    /// 1 (mono) or 2 (dual).
    pub channels: u16,
    /// Twilio's `source`: `StartCallRecordingAPI`, `StartConferenceRecordingAPI`, `RecordVerb`,
    /// `DialVerb`, `Conference`.
    pub source: String,
    /// `inbound`, `outbound` or `both`.
    pub track: String,
    /// When it started, ms since the epoch.
    pub start_time_ms: i64,
    /// When it was created, ms since the epoch.
    pub date_created_ms: i64,
    /// When it last changed, ms since the epoch.
    pub date_updated_ms: i64,
    /// Seconds of audio, once finished.
    pub duration_s: Option<u64>,
    /// The file's size, once finished.
    pub bytes: Option<u64>,
    /// Twilio's error code of a failed recording.
    pub error_code: Option<u32>,
    /// `RecordingStatusCallback`.
    pub status_callback: Option<String>,
    /// `RecordingStatusCallbackEvent`.
    pub status_callback_events: Vec<String>,
    /// The server's base URL when it started (for `RecordingUrl`).
    pub base_url: String,
}

impl RecordingMeta {
    /// Whether it is finished (its file will not change).
    pub fn is_final(&self) -> bool {
        matches!(
            self.status.as_str(),
            status::COMPLETED | status::ABSENT | status::FAILED
        )
    }
}

/// How a recording is started.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// 1 or 2 channels.
    pub channels: u16,
    /// Twilio's `source`.
    pub source: String,
    /// `RecordingStatusCallback`.
    pub status_callback: Option<String>,
    /// `RecordingStatusCallbackEvent` (default `completed`).
    pub status_callback_events: Vec<String>,
}

impl Default for StartOptions {
    fn default() -> StartOptions {
        StartOptions {
            channels: 2,
            source: "StartCallRecordingAPI".into(),
            status_callback: None,
            status_callback_events: vec![status::COMPLETED.into()],
        }
    }
}

/// Twilio's `PauseBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PauseBehavior {
    /// The paused time is left out of the file.
    #[default]
    Skip,
    /// The paused time is silence in the file.
    Silence,
}

/// What a running recording is.
#[derive(Debug, Clone)]
struct Live {
    id: RecordingId,
    target: RecordingTarget,
    channels: Channels,
    paused: Option<PauseBehavior>,
}

impl Live {
    fn spec(&self) -> RecordingSpec {
        let source = |m: &MediaSource| match m {
            MediaSource::Peer(p) => Source::Peer(switchboard_media::PeerId(p.0)),
            MediaSource::HoldMusic => Source::HoldMusic,
        };
        match self.paused {
            Some(PauseBehavior::Skip) => RecordingSpec::default().paused(true),
            Some(PauseBehavior::Silence) => RecordingSpec::default(),
            None => RecordingSpec::new(
                self.channels[0].iter().map(source),
                self.channels[1].iter().map(source),
            ),
        }
    }
}

#[derive(Default)]
struct State {
    next_id: u64,
    all: BTreeMap<Sid<Recording>, RecordingMeta>,
    live: BTreeMap<Sid<Recording>, Live>,
    /// Calls already recorded automatically (never twice).
    auto: BTreeSet<Sid<Call>>,
    /// Targets recorded because `Record` or TwiML asked (never twice).
    asked: BTreeSet<RecordingTarget>,
    /// What the center was last told is running (its desktops show it).
    told: Option<Vec<LiveRecording>>,
}

/// The recordings service: see the [module documentation](self).
pub struct Recordings {
    dir: PathBuf,
    relay: Option<RelayHandle>,
    webhooks: Option<tokio::sync::mpsc::Sender<Delivery>>,
    clock: Clock,
    account: Sid<Account>,
    base_url: String,
    state: Mutex<State>,
    /// Woken by the core whenever the calls changed (a new media graph), so new channel sets
    /// reach the relay at once rather than at the next tick.
    changed: Arc<tokio::sync::Notify>,
}

fn not_found(sid: impl std::fmt::Display) -> ApiError {
    ApiError::not_found(format!("Recording {sid}"))
}

impl Recordings {
    /// Opens the data directory (created when missing), repairs and registers what it holds.
    pub fn open(
        dir: PathBuf,
        relay: Option<RelayHandle>,
        webhooks: Option<tokio::sync::mpsc::Sender<Delivery>>,
        clock: Clock,
        account: Sid<Account>,
        base_url: String,
    ) -> io::Result<Recordings> {
        fs::create_dir_all(&dir)?;
        let now = clock.now_ms();
        let all = scan(&dir, now)?;
        tracing::info!(dir = %dir.display(), recordings = all.len(), "recordings registered");
        Ok(Recordings {
            dir,
            relay,
            webhooks,
            clock,
            account,
            base_url,
            state: Mutex::new(State {
                all,
                ..State::default()
            }),
            changed: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// What the core notifies when the calls changed.
    pub fn changed(&self) -> Arc<tokio::sync::Notify> {
        self.changed.clone()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One recording.
    pub fn get(&self, sid: Sid<Recording>) -> Option<RecordingMeta> {
        self.lock().all.get(&sid).cloned()
    }

    /// Every recording matching the filter, most recent first.
    pub fn list(&self, keep: impl Fn(&RecordingMeta) -> bool) -> Vec<RecordingMeta> {
        let mut v: Vec<RecordingMeta> = self
            .lock()
            .all
            .values()
            .filter(|m| keep(m))
            .cloned()
            .collect();
        v.sort_by(|a, b| {
            b.date_created_ms
                .cmp(&a.date_created_ms)
                .then_with(|| a.sid.cmp(&b.sid))
        });
        v
    }

    /// The WAV file of a finished recording.
    pub fn wav_path(&self, sid: Sid<Recording>) -> Result<PathBuf, ApiError> {
        let meta = self.get(sid).ok_or_else(|| not_found(sid))?;
        if !meta.is_final() || meta.status == status::FAILED {
            return Err(ApiError::not_found(format!(
                "The media of Recording {sid} (it is {})",
                meta.status
            )));
        }
        Ok(self.dir.join(format!("{sid}.wav")))
    }

    /// Starts recording `target` (a live call or conference).
    pub async fn start(
        &self,
        core: &CoreHandle,
        target: RecordingTarget,
        options: StartOptions,
    ) -> Result<RecordingMeta, ApiError> {
        if self.relay.is_none() {
            return Err(ApiError::invalid(
                "Recording",
                "cannot be started: this server relays no audio (start it with a media port)",
            ));
        }
        let channels = core
            .run(move |d| recording_channels(d.voice(), d.center().media(), target))
            .await?
            .ok_or_else(|| match target {
                RecordingTarget::Call(ca, _) => ApiError {
                    status: axum::http::StatusCode::BAD_REQUEST,
                    code: 21220,
                    message: format!("Call {ca} is not in progress: it cannot be recorded"),
                },
                RecordingTarget::Conference(cf) => ApiError {
                    status: axum::http::StatusCode::BAD_REQUEST,
                    code: 21220,
                    message: format!("Conference {cf} is not in progress: it cannot be recorded"),
                },
            })?;
        self.start_with_channels(target, channels, options).await
    }

    /// [`Recordings::start`] with the channels given rather than read from the calls (they
    /// are still followed by [`Recordings::refresh`]).
    pub async fn start_with_channels(
        &self,
        target: RecordingTarget,
        channels: Channels,
        options: StartOptions,
    ) -> Result<RecordingMeta, ApiError> {
        let Some(relay) = self.relay.clone() else {
            return Err(ApiError::invalid(
                "Recording",
                "cannot be started: this server relays no audio (start it with a media port)",
            ));
        };
        let sid: Sid<Recording> = crate::ids::new_sid();
        let now = self.clock.now_ms();
        let (call_sid, conference_sid, track) = match target {
            RecordingTarget::Call(ca, track) => (Some(ca.to_string()), None, track),
            RecordingTarget::Conference(cf) => (None, Some(cf.to_string()), Track::Both),
        };
        let meta = RecordingMeta {
            sid: sid.to_string(),
            account_sid: self.account.to_string(),
            call_sid,
            conference_sid,
            status: status::IN_PROGRESS.into(),
            channels: options.channels,
            source: options.source,
            track: track.as_str().into(),
            start_time_ms: now,
            date_created_ms: now,
            date_updated_ms: now,
            duration_s: None,
            bytes: None,
            error_code: None,
            status_callback: options.status_callback,
            status_callback_events: options.status_callback_events,
            base_url: self.base_url.clone(),
        };
        let live = {
            let mut s = self.lock();
            s.next_id += 1;
            Live {
                id: RecordingId(s.next_id),
                target,
                channels,
                paused: None,
            }
        };
        let wav = self.dir.join(format!("{sid}.wav"));
        relay
            .start_recording(live.id, wav, live.spec())
            .await
            .map_err(|e| ApiError::internal(format!("the recording could not start: {e}")))?;
        let sidecar = self.dir.join(format!("{sid}.json"));
        let written = meta.clone();
        blocking(move || write_json(&sidecar, &written)).await?;
        {
            let mut s = self.lock();
            s.all.insert(sid, meta.clone());
            s.live.insert(sid, live);
        }
        tracing::info!(%sid, ?target, "recording started");
        self.callback(&meta, status::IN_PROGRESS);
        Ok(meta)
    }

    /// [`Recordings::start`] for a conference (`Record` on a participant, `record` on
    /// `<Conference>`): `source` is Twilio's (`StartConferenceRecordingAPI`, `Conference`, ...).
    pub async fn start_for_conference(
        &self,
        core: &CoreHandle,
        conference: Sid<Conference>,
        source: &str,
        status_callback: Option<String>,
        status_callback_events: Vec<String>,
    ) -> Result<RecordingMeta, ApiError> {
        let events = if status_callback_events.is_empty() {
            vec![status::COMPLETED.into()]
        } else {
            status_callback_events
        };
        self.start(
            core,
            RecordingTarget::Conference(conference),
            StartOptions {
                channels: 2,
                source: source.into(),
                status_callback,
                status_callback_events: events,
            },
        )
        .await
    }

    /// Pauses a running recording.
    pub async fn pause(
        &self,
        sid: Sid<Recording>,
        behavior: PauseBehavior,
    ) -> Result<RecordingMeta, ApiError> {
        self.set_paused(sid, Some(behavior)).await
    }

    /// Resumes a paused recording.
    pub async fn resume(&self, sid: Sid<Recording>) -> Result<RecordingMeta, ApiError> {
        self.set_paused(sid, None).await
    }

    async fn set_paused(
        &self,
        sid: Sid<Recording>,
        paused: Option<PauseBehavior>,
    ) -> Result<RecordingMeta, ApiError> {
        let (id, spec, meta) = {
            let mut s = self.lock();
            let now = self.clock.now_ms();
            let Some(live) = s.live.get_mut(&sid) else {
                return match s.all.get(&sid) {
                    Some(m) => Err(ApiError::invalid(
                        "Status",
                        format!("cannot change Recording {sid}: it is {}", m.status),
                    )),
                    None => Err(not_found(sid)),
                };
            };
            live.paused = paused;
            let (id, spec) = (live.id, live.spec());
            let meta = s.all.get_mut(&sid).ok_or_else(|| not_found(sid))?;
            meta.status = if paused.is_some() {
                status::PAUSED
            } else {
                status::IN_PROGRESS
            }
            .into();
            meta.date_updated_ms = now;
            (id, spec, meta.clone())
        };
        if let Some(relay) = &self.relay {
            relay
                .update_recording(id, spec)
                .await
                .map_err(|e| ApiError::internal(format!("the relay refused: {e}")))?;
        }
        Ok(meta)
    }

    /// Stops a recording and finishes its file; the metadata as finished.
    pub async fn stop(&self, sid: Sid<Recording>) -> Result<RecordingMeta, ApiError> {
        let live = {
            let mut s = self.lock();
            match s.live.remove(&sid) {
                Some(l) => l,
                None => {
                    return match s.all.get(&sid) {
                        Some(m) => Ok(m.clone()),
                        None => Err(not_found(sid)),
                    }
                }
            }
        };
        let summary = match &self.relay {
            Some(relay) => relay
                .stop_recording(live.id)
                .await
                .map_err(|e| e.to_string()),
            None => Err("no relay".to_owned()),
        };
        let mut meta = self.get(sid).ok_or_else(|| not_found(sid))?;
        meta.date_updated_ms = self.clock.now_ms();
        match summary {
            Ok(summary) => {
                let mut bytes = summary.bytes;
                if meta.channels == 1 {
                    let path = summary.path.clone();
                    bytes = blocking(move || downmix(&path)).await?;
                }
                meta.duration_s = Some(summary.duration_ms / 1000);
                meta.bytes = Some(bytes);
                meta.status = if summary.duration_ms == 0 {
                    status::ABSENT
                } else {
                    status::COMPLETED
                }
                .into();
            }
            Err(e) => {
                tracing::error!(%sid, error = %e, "a recording could not be finished");
                meta.status = status::FAILED.into();
                meta.error_code = Some(16104);
            }
        }
        let sidecar = self.dir.join(format!("{sid}.json"));
        let written = meta.clone();
        blocking(move || write_json(&sidecar, &written)).await?;
        self.lock().all.insert(sid, meta.clone());
        tracing::info!(%sid, status = %meta.status, "recording stopped");
        let event = meta.status.clone();
        self.callback(&meta, &event);
        Ok(meta)
    }

    /// Deletes a recording (stopping it first when it runs): its file and its sidecar.
    pub async fn delete(&self, sid: Sid<Recording>) -> Result<(), ApiError> {
        if self.lock().live.contains_key(&sid) {
            self.stop(sid).await?;
        }
        if self.lock().all.remove(&sid).is_none() {
            return Err(not_found(sid));
        }
        let dir = self.dir.clone();
        blocking(move || {
            for ext in ["wav", "json"] {
                match fs::remove_file(dir.join(format!("{sid}.{ext}"))) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            File::open(&dir)?.sync_all()
        })
        .await
    }

    /// Stops every running recording (at shutdown).
    pub async fn stop_all(&self) {
        let running: Vec<Sid<Recording>> = self.lock().live.keys().copied().collect();
        for sid in running {
            if let Err(e) = self.stop(sid).await {
                tracing::warn!(%sid, error = %e.message, "a recording could not be stopped");
            }
        }
    }

    /// Follows the calls once: new channel sets to the relay, ended targets stopped, internal
    /// calls recorded when the configuration asks for it.
    pub async fn refresh(&self, core: &CoreHandle) {
        let targets: Vec<(Sid<Recording>, RecordingTarget)> = self
            .lock()
            .live
            .iter()
            .map(|(sid, l)| (*sid, l.target))
            .collect();
        let auto_on = self.relay.is_some();
        let Ok((now, auto, callback, asked)) = core
            .run(move |d| {
                let now: Vec<(Sid<Recording>, Option<Channels>)> = targets
                    .into_iter()
                    .map(|(sid, t)| (sid, recording_channels(d.voice(), d.center().media(), t)))
                    .collect();
                let flex = d.center().model().flex().document();
                let enabled = flex
                    .get("call_recording_enabled")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false);
                let callback = flex
                    .get("call_recording_webhook_url")
                    .and_then(serde_json::Value::as_str)
                    .filter(|u| crate::http::is_callback_url(u))
                    .map(str::to_owned);
                let auto = if enabled && auto_on {
                    connected_internal_calls(d.voice())
                } else {
                    Vec::new()
                };
                // Asked for by `Record` (a call, a participant's conference) or TwiML's
                // `record="record-from-start"`, once there is something to record.
                let asked: Vec<RecordingTarget> = if auto_on {
                    let calls = d
                        .voice()
                        .live_calls()
                        .filter(|c| {
                            c.record && c.status == switchboard_voice::CallStatus::InProgress
                        })
                        .map(|c| RecordingTarget::Call(c.sid, Track::Both));
                    let conferences = d
                        .voice()
                        .live_conferences()
                        .filter(|c| {
                            c.record && c.status == switchboard_voice::ConferenceStatus::InProgress
                        })
                        .map(|c| RecordingTarget::Conference(c.sid));
                    calls.chain(conferences).collect()
                } else {
                    Vec::new()
                };
                (now, auto, callback, asked)
            })
            .await
        else {
            return;
        };
        for (sid, channels) in now {
            match channels {
                None => {
                    if let Err(e) = self.stop(sid).await {
                        tracing::warn!(%sid, error = %e.message, "an ended recording could not be stopped");
                    }
                }
                Some(channels) => {
                    let update = {
                        let mut s = self.lock();
                        match s.live.get_mut(&sid) {
                            Some(l) if l.channels != channels => {
                                l.channels = channels;
                                Some((l.id, l.spec()))
                            }
                            _ => None,
                        }
                    };
                    if let (Some((id, spec)), Some(relay)) = (update, &self.relay) {
                        if let Err(e) = relay.update_recording(id, spec).await {
                            tracing::warn!(%sid, error = %e, "the relay refused new channels");
                        }
                    }
                }
            }
        }
        for target in asked {
            if !self.lock().asked.insert(target) {
                continue;
            }
            let source = match target {
                RecordingTarget::Call(..) => "OutboundAPI",
                RecordingTarget::Conference(_) => "Conference",
            };
            let options = StartOptions {
                source: source.into(),
                ..StartOptions::default()
            };
            match self.start(core, target, options).await {
                Ok(m) => tracing::info!(sid = %m.sid, ?target, "recording started as asked"),
                Err(e) => {
                    tracing::warn!(?target, error = %e.message, "asked-for recording not started")
                }
            }
        }
        for call in auto {
            if !self.lock().auto.insert(call) {
                continue;
            }
            let options = StartOptions {
                status_callback: callback.clone(),
                ..StartOptions::default()
            };
            match self
                .start(core, RecordingTarget::Call(call, Track::Both), options)
                .await
            {
                Ok(m) => tracing::info!(sid = %m.sid, %call, "internal call recorded"),
                Err(e) => tracing::warn!(%call, error = %e.message, "internal call not recorded"),
            }
        }
    }

    /// Tells the center which recordings run, when that changed since it was last told, so
    /// the desktops of their calls show them.
    pub async fn sync_center(&self, core: &CoreHandle) {
        let live: Vec<LiveRecording> = {
            let s = self.lock();
            let live: Vec<LiveRecording> = s
                .live
                .iter()
                .map(|(sid, l)| LiveRecording {
                    sid: *sid,
                    target: l.target,
                    paused: l.paused.is_some(),
                })
                .collect();
            if s.told.as_ref() == Some(&live) {
                return;
            }
            live
        };
        let sent = live.clone();
        let told = core
            .run(move |d| d.handle(Input::Recordings(sent)))
            .await
            .is_ok_and(|r| r.is_ok());
        if told {
            self.lock().told = Some(live);
        }
    }

    /// Runs [`Recordings::refresh`] every [`REFRESH`] until the core stops.
    pub async fn run(self: Arc<Self>, core: CoreHandle) {
        let mut tick = tokio::time::interval(REFRESH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.changed.notified() => {}
            }
            if core.run(|_| ()).await.is_err() {
                return;
            }
            self.refresh(&core).await;
            self.sync_center(&core).await;
        }
    }

    /// Posts the status callback for `event`, when asked for.
    fn callback(&self, meta: &RecordingMeta, event: &str) {
        let Some(url) = &meta.status_callback else {
            return;
        };
        // Twilio sends `completed` for a recording that ended `absent` only when asked for
        // `absent`; `in-progress` only when asked for it.
        if !meta.status_callback_events.iter().any(|e| e == event) {
            return;
        }
        let params = callback_params(meta, event);
        if let Some(tx) = &self.webhooks {
            if tx
                .try_send(Delivery {
                    url: url.clone(),
                    params,
                })
                .is_err()
            {
                tracing::warn!(sid = %meta.sid, "webhook queue full: a recording callback is not posted");
            }
        }
    }
}

/// Twilio's recording status callback parameters.
pub fn callback_params(meta: &RecordingMeta, event: &str) -> Vec<(String, String)> {
    let mut p = vec![
        ("AccountSid".to_owned(), meta.account_sid.clone()),
        (
            "CallSid".to_owned(),
            meta.call_sid.clone().unwrap_or_default(),
        ),
        ("RecordingSid".to_owned(), meta.sid.clone()),
        (
            "RecordingUrl".to_owned(),
            format!(
                "{}/2010-04-01/Accounts/{}/Recordings/{}",
                meta.base_url, meta.account_sid, meta.sid
            ),
        ),
        ("RecordingStatus".to_owned(), event.to_owned()),
        (
            "RecordingDuration".to_owned(),
            meta.duration_s.map_or_else(String::new, |d| d.to_string()),
        ),
        ("RecordingChannels".to_owned(), meta.channels.to_string()),
        (
            "RecordingStartTime".to_owned(),
            crate::render::rfc2822(meta.start_time_ms),
        ),
        ("RecordingSource".to_owned(), meta.source.clone()),
        ("RecordingTrack".to_owned(), meta.track.clone()),
    ];
    if let Some(cf) = &meta.conference_sid {
        p.push(("ConferenceSid".to_owned(), cf.clone()));
    }
    if let Some(code) = meta.error_code {
        p.push(("ErrorCode".to_owned(), code.to_string()));
    }
    p
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> io::Result<R> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("a recording file task failed: {e}")))?
        .map_err(|e| ApiError::internal(format!("a recording file: {e}")))
}

/// Writes `value` as `path` durably: a temporary file, fsynced, renamed over, the directory
/// fsynced.
pub fn write_json(path: &Path, value: &RecordingMeta) -> io::Result<()> {
    let body = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// Rewrites a stereo recording as mono (the channels summed, saturating), durably; its size.
fn downmix(path: &Path) -> io::Result<u64> {
    let bad = |e: hound::Error| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    let mut reader = hound::WavReader::open(path).map_err(bad)?;
    let spec = reader.spec();
    if spec.channels != 2 {
        return Ok(fs::metadata(path)?.len());
    }
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .map_err(bad)?;
    let tmp = path.with_extension("wav.tmp");
    let mono = hound::WavSpec {
        channels: 1,
        ..spec
    };
    {
        let mut w = hound::WavWriter::create(&tmp, mono).map_err(bad)?;
        for pair in samples.chunks_exact(2) {
            if let [l, r] = pair {
                w.write_sample(l.saturating_add(*r)).map_err(bad)?;
            }
        }
        w.finalize().map_err(bad)?;
    }
    File::open(&tmp)?.sync_all()?;
    fs::rename(&tmp, path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()?;
    Ok(fs::metadata(path)?.len())
}

/// Reads the directory: every sidecar, and every WAV file. A WAV whose sidecar is missing or
/// not final is repaired and registered as finished; a sidecar without its WAV is dropped.
fn scan(dir: &Path, now: i64) -> io::Result<BTreeMap<Sid<Recording>, RecordingMeta>> {
    let mut all = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wav") {
            continue;
        }
        let Some(sid) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<Sid<Recording>>().ok())
        else {
            continue;
        };
        let sidecar = dir.join(format!("{sid}.json"));
        let stored: Option<RecordingMeta> = fs::read(&sidecar)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(meta) = stored.as_ref().filter(|m| m.is_final()) {
            all.insert(sid, meta.clone());
            continue;
        }
        let modified = fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_millis()).ok())
            .unwrap_or(now);
        let mut meta = stored.unwrap_or_else(|| RecordingMeta {
            sid: sid.to_string(),
            account_sid: String::new(),
            call_sid: None,
            conference_sid: None,
            status: status::IN_PROGRESS.into(),
            channels: 2,
            source: "StartCallRecordingAPI".into(),
            track: "both".into(),
            start_time_ms: modified,
            date_created_ms: modified,
            date_updated_ms: modified,
            duration_s: None,
            bytes: None,
            error_code: None,
            status_callback: None,
            status_callback_events: Vec::new(),
            base_url: String::new(),
        });
        meta.date_updated_ms = now;
        match switchboard_media::repair_wav(&path) {
            Ok(r) => {
                tracing::warn!(%sid, repaired = r.repaired, ms = r.summary.duration_ms, "a recording cut short by a stop of the server is kept");
                meta.duration_s = Some(r.summary.duration_ms / 1000);
                meta.bytes = Some(r.summary.bytes);
                // It was recorded as two channels whatever was asked: say what the file is.
                meta.channels = r.summary.channels;
                meta.status = if r.summary.duration_ms == 0 {
                    status::ABSENT
                } else {
                    status::COMPLETED
                }
                .into();
            }
            Err(e) => {
                tracing::error!(%sid, error = %e, "a recording cut short cannot be read back");
                meta.status = status::FAILED.into();
                meta.error_code = Some(16104);
            }
        }
        write_json(&sidecar, &meta)?;
        all.insert(sid, meta);
    }
    Ok(all)
}

/// The data directory: `SWITCHBOARD_DATA_DIR` when set, else `recordings` beside the SQLite
/// database file, else `./data` (a database in memory).
pub fn data_dir(database: &str) -> PathBuf {
    if let Some(d) = std::env::var_os("SWITCHBOARD_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    crate::config::data_dir_for(database)
}
