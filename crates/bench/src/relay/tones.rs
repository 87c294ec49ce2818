//! Real Opus for the mixing runs: a distinct tone per participant, encoded once and cycled.

use std::f32::consts::TAU;
use std::sync::Arc;

use anyhow::anyhow;
use opus::{Application, Bitrate, Channels, Encoder};

/// Distinct tones (participant `i` sends tone `i % TONES`).
const TONES: usize = 16;
/// Frames per tone loop (a whole number of 20 ms frames, 0.4 s).
const LOOP_FRAMES: usize = 20;

/// Pre-encoded Opus loops, one per tone: 48 kHz mono, 32 kbit/s, 20 ms frames.
pub(super) fn tones() -> anyhow::Result<Vec<Arc<Vec<Vec<u8>>>>> {
    let mut out = Vec::new();
    for t in 0..TONES {
        let hz = 300.0 + 50.0 * t as f32;
        let mut enc = Encoder::new(48_000, Channels::Mono, Application::Voip)
            .map_err(|e| anyhow!("opus encoder: {e}"))?;
        enc.set_bitrate(Bitrate::Bits(32_000))
            .map_err(|e| anyhow!("opus bitrate: {e}"))?;
        let mut frames = Vec::new();
        for f in 0..LOOP_FRAMES {
            let pcm: Vec<i16> = (0..960)
                .map(|i| {
                    let n = (f * 960 + i) as f32;
                    ((TAU * hz * n / 48_000.0).sin() * 0.3 * 32767.0) as i16
                })
                .collect();
            let mut buf = [0u8; 1_500];
            let n = enc
                .encode(&pcm, &mut buf)
                .map_err(|e| anyhow!("opus encode: {e}"))?;
            frames.push(buf[..n].to_vec());
        }
        out.push(Arc::new(frames));
    }
    Ok(out)
}
