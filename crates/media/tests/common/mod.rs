//! Browser stand-ins for the relay tests: str0m client peers that offer one `sendrecv` audio
//! transceiver, send an Opus sine tone at 50 packets/s and decode what they receive, plus the
//! measurements (Goertzel amplitude, RMS) that tell what a peer heard.
#![allow(dead_code)]

use std::f32::consts::TAU;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opus::{Application, Channels, Decoder, Encoder};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

pub const FRAME: Duration = Duration::from_millis(20);
pub const FRAME_SAMPLES: usize = 960;
/// The agents' tones, as in the browser tests.
pub const TONES: [f32; 3] = [440.0, 660.0, 880.0];

/// A frame a client received.
pub struct Heard {
    pub at: Instant,
    pub rtp_time: u64,
    pub contiguous: bool,
    pub pcm: Vec<i16>,
}

/// A browser: one PeerConnection with one audio transceiver.
pub struct Client {
    pub rtc: Rtc,
    pub addr: SocketAddr,
    /// UDP, or TCP (an ICE-TCP active candidate at `addr`: its connection's local end).
    pub proto: Protocol,
    pub mid: Option<Mid>,
    pt: Option<Pt>,
    pending: Option<SdpPendingOffer>,
    pub tone_hz: f32,
    sample: u64,
    encoder: Encoder,
    decoder: Decoder,
    /// Whether it sends its tone (a muted microphone track still sends; this is a browser
    /// whose sending stopped).
    pub sending: bool,
    next_send: Instant,
    pub heard: Vec<Heard>,
    pub connected: bool,
    pub outbox: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    deadline: Instant,
    pub sent_frames: u64,
    moving_to: Option<SocketAddr>,
    /// When set, sent as every frame instead of the encoded tone (for load where the relay
    /// only forwards and nobody decodes: saves the client's encoder time).
    pub raw_payload: Option<Vec<u8>>,
}

impl Client {
    /// A client at `addr` sending `tone_hz`, and its offer.
    pub fn new(now: Instant, addr: SocketAddr, tone_hz: f32) -> (Client, String) {
        Client::on(now, Protocol::Udp, addr, tone_hz)
    }

    /// A client over `proto`: UDP from `addr`, or TCP from the local end `addr` of a
    /// connection it opened to the relay's passive candidate (an active candidate, as
    /// browsers gather).
    pub fn on(now: Instant, proto: Protocol, addr: SocketAddr, tone_hz: f32) -> (Client, String) {
        let mut config =
            RtcConfig::new().set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()));
        let codecs = config.codec_config();
        codecs.clear();
        codecs.enable_opus(true, false);
        codecs.add_config(
            Pt::new_with_value(126),
            None,
            Codec::Tele,
            Frequency::EIGHT_KHZ,
            None,
            FormatParams {
                telephone_event_max: Some(15),
                ..Default::default()
            },
        );
        let mut rtc = config.build(now);
        let candidate = match proto {
            Protocol::Udp => Candidate::host(addr, "udp"),
            _ => Candidate::builder()
                .tcp()
                .host(addr)
                .tcptype(TcpType::Active)
                .build(),
        };
        rtc.add_local_candidate(candidate.expect("host candidate"));
        let mut api = rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().expect("an offer");
        let client = Client {
            rtc,
            addr,
            proto,
            mid: Some(mid),
            pt: None,
            pending: Some(pending),
            tone_hz,
            sample: 0,
            encoder: Encoder::new(48_000, Channels::Mono, Application::Voip).expect("encoder"),
            decoder: Decoder::new(48_000, Channels::Mono).expect("decoder"),
            sending: true,
            next_send: now,
            heard: Vec::new(),
            connected: false,
            outbox: Vec::new(),
            deadline: now,
            sent_frames: 0,
            moving_to: None,
            raw_payload: None,
        };
        (client, offer.to_sdp_string())
    }

    pub fn accept_answer(&mut self, now: Instant, answer: &str) {
        let answer = SdpAnswer::from_sdp_string(answer).expect("answer parses");
        let pending = self.pending.take().expect("an offer pending");
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("answer accepted");
        if let Some(addr) = self.moving_to.take() {
            self.rtc
                .add_local_candidate(Candidate::host(addr, "udp").expect("host candidate"));
            self.addr = addr;
        }
        self.pt = switchboard_media::opus_pt(&self.rtc);
        self.poll(now);
    }

    /// ICE restart from a new address (the desktop reconnected from another network).
    pub fn restart(&mut self, now: Instant, addr: SocketAddr) -> String {
        let mut api = self.rtc.sdp_api();
        api.ice_restart(false);
        let (offer, pending) = api.apply().expect("a restart offer");
        // The new address is gathered once the restart is applied (with the answer), which
        // drops the old candidates.
        self.moving_to = Some(addr);
        self.pending = Some(pending);
        self.poll(now);
        offer.to_sdp_string()
    }

    pub fn receive(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let Ok(r) = Receive::new(self.proto, from, self.addr, data) else {
            return;
        };
        let input = Input::Receive(now, r);
        if self.rtc.accepts(&input) {
            self.rtc.handle_input(input).expect("client input");
        }
        self.poll(now);
    }

    pub fn timeout(&mut self, now: Instant) {
        if self.deadline <= now {
            self.rtc
                .handle_input(Input::Timeout(now))
                .expect("client timeout");
            self.poll(now);
        }
        while self.sending && self.connected && self.next_send <= now {
            self.send_frame(now);
            self.next_send += FRAME;
        }
        if !self.sending || !self.connected {
            self.next_send = now + FRAME;
        }
    }

    /// The next instant the client needs to act.
    pub fn next_time(&self) -> Instant {
        if self.sending && self.connected {
            self.deadline.min(self.next_send)
        } else {
            self.deadline
        }
    }

    fn send_frame(&mut self, now: Instant) {
        let (Some(mid), Some(pt)) = (self.mid, self.pt) else {
            return;
        };
        let payload = match &self.raw_payload {
            Some(raw) => raw.clone(),
            None => {
                let mut pcm = [0i16; FRAME_SAMPLES];
                for (i, s) in pcm.iter_mut().enumerate() {
                    let t = (self.sample + i as u64) as f32 / 48_000.0;
                    *s = ((TAU * self.tone_hz * t).sin() * 0.3 * 32767.0) as i16;
                }
                let mut buf = [0u8; 1500];
                let n = self.encoder.encode(&pcm, &mut buf).expect("encode");
                buf[..n].to_vec()
            }
        };
        let time = MediaTime::new(self.sample, Frequency::FORTY_EIGHT_KHZ);
        self.sample += FRAME_SAMPLES as u64;
        if let Some(w) = self.rtc.writer(mid) {
            w.write(pt, now, time, payload).expect("write");
            self.sent_frames += 1;
        }
        self.poll(now);
    }

    fn poll(&mut self, now: Instant) {
        loop {
            match self.rtc.poll_output().expect("client output") {
                Output::Timeout(t) => {
                    self.deadline = t;
                    return;
                }
                Output::Transmit(t) => {
                    self.outbox
                        .push((t.source, t.destination, t.contents.into()));
                }
                Output::Event(e) => match e {
                    Event::Connected => self.connected = true,
                    Event::MediaData(d) => {
                        if d.params.spec().codec != Codec::Opus {
                            continue;
                        }
                        let mut pcm = Vec::new();
                        if self.raw_payload.is_none() {
                            pcm.resize(FRAME_SAMPLES * 6, 0);
                            let n = self
                                .decoder
                                .decode(&d.data, &mut pcm, false)
                                .expect("decode");
                            pcm.truncate(n);
                        }
                        self.heard.push(Heard {
                            at: now,
                            rtp_time: d.time.rebase(Frequency::FORTY_EIGHT_KHZ).numer(),
                            contiguous: d.contiguous,
                            pcm,
                        });
                    }
                    _ => {}
                },
            }
        }
    }

    /// The samples received in `[from, to)`.
    pub fn heard_between(&self, from: Instant, to: Instant) -> Vec<i16> {
        self.heard
            .iter()
            .filter(|h| h.at >= from && h.at < to)
            .flat_map(|h| h.pcm.iter().copied())
            .collect()
    }

    /// Frames received since `from`.
    pub fn frames_since(&self, from: Instant) -> usize {
        self.heard.iter().filter(|h| h.at >= from).count()
    }
}

/// The amplitude (0..=32767) of the `hz` component of `samples` at 48 kHz (Goertzel).
pub fn amplitude(samples: &[i16], hz: f32) -> f64 {
    amplitude_at(samples, hz, 48_000)
}

/// The amplitude (0..=32767) of the `hz` component of `samples` at `rate` (Goertzel).
pub fn amplitude_at(samples: &[i16], hz: f32, rate: u32) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let w = std::f64::consts::TAU * f64::from(hz) / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / samples.len() as f64
}

/// Root mean square of `samples` (0 when there are none).
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// Which of `candidates` is loudest in `samples`, and how loud each is.
pub fn loudest(samples: &[i16], candidates: &[f32]) -> (f32, Vec<f64>) {
    let amps: Vec<f64> = candidates.iter().map(|&f| amplitude(samples, f)).collect();
    let mut best = 0;
    for (i, a) in amps.iter().enumerate() {
        if *a > amps[best] {
            best = i;
        }
    }
    (candidates[best], amps)
}
