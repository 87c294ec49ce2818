//! PCM and Opus: the hold music clip, a decoder with a small frame queue per mixed (or
//! recorded) source, and an encoder per mixing receiver. 48 kHz mono, 20 ms frames throughout,
//! except for recordings: 16 kHz ([`RECORDING_SAMPLE_RATE`]), decoded at that rate by libopus.

use std::collections::VecDeque;
use std::f32::consts::TAU;

use opus::{Application, Bitrate, Channels, Decoder, Encoder, Signal};

use crate::error::MediaError;

/// Samples per second.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms frame.
pub const FRAME_SAMPLES: usize = 960;
/// One frame of PCM.
pub type Frame = [i16; FRAME_SAMPLES];
/// Samples per second of recordings (per channel).
pub const RECORDING_SAMPLE_RATE: u32 = 16_000;
/// Samples of one channel in one 20 ms recording frame.
pub const RECORDING_FRAME_SAMPLES: usize = 320;
/// One channel of one 20 ms recording frame.
pub(crate) type RecordingFrame = [i16; RECORDING_FRAME_SAMPLES];

/// The notes of the hold music, in order, in Hz: C4, E4, G4, C5 (a soft arpeggio). Chosen well
/// away from 440, 660 and 880 Hz, the agents' tones in the browser tests.
pub const HOLD_MUSIC_NOTES_HZ: [f32; 4] = [261.63, 329.63, 392.0, 523.25];
/// How long each note lasts, in frames (0.5 s); the loop is 2 s.
pub const HOLD_MUSIC_NOTE_FRAMES: usize = 25;
/// Peak amplitude of the music, as a fraction of full scale: soft.
const HOLD_MUSIC_PEAK: f32 = 0.2;

/// Bitrate of what the relay encodes (mixes and music).
const BITRATE: i32 = 32_000;
/// The default complexity of the per-receiver mix encoders ([`crate::EngineConfig`]): about
/// two thirds of the cost of libopus's default 10, and still clean at 32 kbit/s.
pub(crate) const MIX_COMPLEXITY: i32 = 5;
/// The hold music is encoded once, at start: at the best quality.
pub(crate) const MUSIC_COMPLEXITY: i32 = 10;
/// Largest Opus packet we produce or accept from the decoder's point of view.
const MAX_PACKET: usize = 1_500;
/// The longest Opus packet is 120 ms: six frames.
const MAX_DECODED_FRAMES: usize = 6;
/// A mixed source's queue holds at most this many frames (100 ms); older ones are dropped.
pub(crate) const SOURCE_QUEUE_FRAMES: usize = 5;
/// After running dry, a source waits until this many frames are queued before playing again,
/// so that arrival jitter around the mix tick does not chop every other frame.
const SOURCE_PREFILL_FRAMES: usize = 2;

/// The hold music, synthesized and encoded once.
pub(crate) struct HoldMusic {
    /// The clip as PCM, for mixes.
    pub(crate) pcm: Vec<Frame>,
    /// The clip as Opus frames, for forwarding.
    pub(crate) opus: Vec<Vec<u8>>,
    /// The clip at the recordings' rate, decoded from `opus` by libopus at 16 kHz (64 KB).
    pub(crate) recording: Vec<RecordingFrame>,
}

impl HoldMusic {
    pub(crate) fn new() -> Result<HoldMusic, MediaError> {
        let pcm = synthesize();
        let mut encoder = MixEncoder::for_music(MUSIC_COMPLEXITY)?;
        let opus = pcm
            .iter()
            .map(|f| encoder.encode(f))
            .collect::<Result<Vec<_>, _>>()?;
        let mut decoder = Decoder::new(RECORDING_SAMPLE_RATE, Channels::Mono)
            .map_err(|e| MediaError::Opus(e.to_string()))?;
        let mut recording = Vec::with_capacity(opus.len());
        for packet in &opus {
            let mut f = [0i16; RECORDING_FRAME_SAMPLES];
            decoder
                .decode(packet, &mut f, false)
                .map_err(|e| MediaError::Opus(e.to_string()))?;
            recording.push(f);
        }
        Ok(HoldMusic {
            pcm,
            opus,
            recording,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.pcm.len()
    }
}

/// Four notes, each with a short attack and a gentle decay to silence, so the loop joins
/// seamlessly.
fn synthesize() -> Vec<Frame> {
    let note_samples = HOLD_MUSIC_NOTE_FRAMES * FRAME_SAMPLES;
    let attack = FRAME_SAMPLES; // 20 ms
    let release = 2 * FRAME_SAMPLES; // 40 ms
    let mut samples = Vec::with_capacity(HOLD_MUSIC_NOTES_HZ.len() * note_samples);
    for hz in HOLD_MUSIC_NOTES_HZ {
        for i in 0..note_samples {
            let t = i as f32 / SAMPLE_RATE as f32;
            let rise = (i as f32 / attack as f32).min(1.0);
            let fall = ((note_samples - i) as f32 / release as f32).min(1.0);
            let decay = (-1.5 * t).exp();
            let v = (TAU * hz * t).sin() * HOLD_MUSIC_PEAK * rise * fall * decay;
            samples.push((v * f32::from(i16::MAX)) as i16);
        }
    }
    samples
        .chunks_exact(FRAME_SAMPLES)
        .map(|c| {
            let mut f = [0i16; FRAME_SAMPLES];
            f.copy_from_slice(c);
            f
        })
        .collect()
}

/// An Opus encoder for one receiver's mix (or the music).
pub(crate) struct MixEncoder {
    encoder: Encoder,
    buf: Vec<u8>,
}

impl MixEncoder {
    /// An encoder for one receiver's mix, at `complexity`: Opus's CELT layer alone
    /// (`RestrictedLowDelay`), fullband. For a mix of voices at 32 kbit/s it costs about a third
    /// of what the hybrid SILK+CELT mode libopus picks for speech costs at the same complexity
    /// (≈ 50 against ≈ 130 µs a frame at 5 here), and adds 2.5 ms of look-ahead instead of
    /// 6.5 ms. What it gives up is SILK's in-band FEC and its better concealment of lost
    /// packets, which matter on lossy paths at low bitrates, not at 32 kbit/s to a desktop.
    pub(crate) fn for_mix(complexity: i32) -> Result<MixEncoder, MediaError> {
        MixEncoder::new(Application::LowDelay, complexity, None)
    }

    /// An encoder for music (the hold music, encoded once), at `complexity`.
    pub(crate) fn for_music(complexity: i32) -> Result<MixEncoder, MediaError> {
        MixEncoder::new(Application::Audio, complexity, Some(Signal::Music))
    }

    fn new(
        application: Application,
        complexity: i32,
        signal: Option<Signal>,
    ) -> Result<MixEncoder, MediaError> {
        let mut encoder = Encoder::new(SAMPLE_RATE, Channels::Mono, application)
            .map_err(|e| MediaError::Opus(e.to_string()))?;
        encoder
            .set_bitrate(Bitrate::Bits(BITRATE))
            .map_err(|e| MediaError::Opus(e.to_string()))?;
        encoder
            .set_complexity(complexity)
            .map_err(|e| MediaError::Opus(e.to_string()))?;
        if let Some(signal) = signal {
            encoder
                .set_signal(signal)
                .map_err(|e| MediaError::Opus(e.to_string()))?;
        }
        Ok(MixEncoder {
            encoder,
            buf: vec![0; MAX_PACKET],
        })
    }

    pub(crate) fn encode(&mut self, frame: &Frame) -> Result<Vec<u8>, MediaError> {
        let n = self
            .encoder
            .encode(frame, &mut self.buf)
            .map_err(|e| MediaError::Opus(e.to_string()))?;
        Ok(self.buf.get(..n).unwrap_or_default().to_vec())
    }
}

/// A decoder for one source that some receiver mixes (at 48 kHz) or some recording records (at
/// 16 kHz), with the frames waiting for the next tick.
pub(crate) struct SourceDecoder {
    decoder: Decoder,
    /// Samples in one 20 ms frame at this decoder's rate.
    frame: usize,
    pcm: Vec<i16>,
    queue: VecDeque<i16>,
    primed: bool,
}

impl SourceDecoder {
    /// A decoder for the mixes, at 48 kHz.
    pub(crate) fn new() -> Result<SourceDecoder, MediaError> {
        SourceDecoder::at(SAMPLE_RATE)
    }

    /// A decoder at `rate`, one of libopus's 8, 12, 16, 24 or 48 kHz. libopus decodes at that
    /// rate itself (SILK natively, CELT with its own band-limited resampling), so a recording at
    /// 16 kHz needs no decimation filter of ours and costs less than a 48 kHz decode.
    pub(crate) fn at(rate: u32) -> Result<SourceDecoder, MediaError> {
        let frame = (rate / 50) as usize;
        Ok(SourceDecoder {
            decoder: Decoder::new(rate, Channels::Mono)
                .map_err(|e| MediaError::Opus(e.to_string()))?,
            frame,
            pcm: vec![0; frame * MAX_DECODED_FRAMES],
            queue: VecDeque::with_capacity(SOURCE_QUEUE_FRAMES * frame),
            primed: false,
        })
    }

    /// Decodes one packet onto the queue; the oldest samples go when it is full. Returns
    /// whether the packet was valid Opus.
    pub(crate) fn push(&mut self, packet: &[u8]) -> bool {
        let Ok(n) = self.decoder.decode(packet, &mut self.pcm, false) else {
            return false;
        };
        let decoded = self.pcm.get(..n).unwrap_or_default();
        let cap = SOURCE_QUEUE_FRAMES * self.frame;
        let overflow = (self.queue.len() + decoded.len()).saturating_sub(cap);
        self.queue.drain(..overflow.min(self.queue.len()));
        let skip = decoded.len().saturating_sub(cap);
        self.queue.extend(decoded.iter().skip(skip));
        true
    }

    /// The next frame for the mix, if one is ready.
    pub(crate) fn take(&mut self) -> Option<Frame> {
        let mut f = [0i16; FRAME_SAMPLES];
        self.take_into(&mut f).then_some(f)
    }

    /// Fills `out` (one frame at this decoder's rate) with the next frame, if one is ready;
    /// returns whether it did.
    pub(crate) fn take_into(&mut self, out: &mut [i16]) -> bool {
        debug_assert_eq!(out.len(), self.frame);
        if !self.primed {
            if self.queue.len() < SOURCE_PREFILL_FRAMES * self.frame {
                return false;
            }
            self.primed = true;
        }
        if self.queue.len() < self.frame {
            self.primed = false;
            return false;
        }
        for (d, s) in out.iter_mut().zip(self.queue.drain(..self.frame)) {
            *d = s;
        }
        true
    }
}

/// Adds `frame` into the accumulator.
pub(crate) fn accumulate(acc: &mut [i32; FRAME_SAMPLES], frame: &Frame) {
    for (a, s) in acc.iter_mut().zip(frame) {
        *a += i32::from(*s);
    }
}

/// Adds `frame` into a recording channel's accumulator.
pub(crate) fn accumulate_recording(acc: &mut [i32; RECORDING_FRAME_SAMPLES], frame: &[i16]) {
    for (a, s) in acc.iter_mut().zip(frame) {
        *a += i32::from(*s);
    }
}

/// Clamps a sum of samples to 16 bits.
pub(crate) fn clamp_sample(a: i32) -> i16 {
    a.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// Clamps the accumulator to 16 bits.
pub(crate) fn clamp(acc: &[i32; FRAME_SAMPLES]) -> Frame {
    let mut f = [0i16; FRAME_SAMPLES];
    for (d, a) in f.iter_mut().zip(acc) {
        *d = clamp_sample(*a);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_music_loops_seamlessly_and_encodes() {
        let music = HoldMusic::new().expect("music");
        assert_eq!(
            music.len(),
            HOLD_MUSIC_NOTES_HZ.len() * HOLD_MUSIC_NOTE_FRAMES
        );
        assert_eq!(music.opus.len(), music.len());
        let first = music.pcm.first().expect("frames")[0];
        let last = music.pcm.last().expect("frames")[FRAME_SAMPLES - 1];
        assert!(first.abs() < 50 && last.abs() < 50, "{first} {last}");
        let peak = music.pcm.iter().flatten().map(|s| s.unsigned_abs()).max();
        assert!(peak.is_some_and(|p| p > 3_000 && p < 8_000), "{peak:?}");
    }

    #[test]
    fn a_recording_decoder_decodes_at_16_khz_and_the_music_has_a_16_khz_clip() {
        let music = HoldMusic::new().expect("music");
        assert_eq!(music.recording.len(), music.len());
        let peak = music
            .recording
            .iter()
            .flatten()
            .map(|s| s.unsigned_abs())
            .max();
        assert!(peak.is_some_and(|p| p > 3_000 && p < 9_000), "{peak:?}");
        let mut dec = SourceDecoder::at(RECORDING_SAMPLE_RATE).expect("decoder");
        for packet in music.opus.iter().take(4) {
            assert!(dec.push(packet));
        }
        let mut f = [0i16; RECORDING_FRAME_SAMPLES];
        assert!(dec.take_into(&mut f));
        assert_eq!(dec.queue.len(), 3 * RECORDING_FRAME_SAMPLES);
    }

    #[test]
    fn the_source_queue_is_bounded_and_primes() {
        let mut enc = MixEncoder::for_mix(MIX_COMPLEXITY).expect("encoder");
        let packet = enc.encode(&[1000; FRAME_SAMPLES]).expect("encode");
        let mut dec = SourceDecoder::new().expect("decoder");
        assert!(dec.push(&packet));
        assert!(dec.take().is_none(), "one frame is not enough to start");
        for _ in 0..20 {
            assert!(dec.push(&packet));
        }
        assert_eq!(dec.queue.len(), SOURCE_QUEUE_FRAMES * FRAME_SAMPLES);
        for _ in 0..SOURCE_QUEUE_FRAMES {
            assert!(dec.take().is_some());
        }
        assert!(dec.take().is_none());
        // Whatever libopus makes of garbage, the queue stays bounded.
        for junk in [&[][..], &[0xff; 3][..], &[0x0b; 1200][..]] {
            let _ = dec.push(junk);
            assert!(dec.queue.len() <= SOURCE_QUEUE_FRAMES * FRAME_SAMPLES);
        }
    }
}
