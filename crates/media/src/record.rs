//! The file side of recordings: a writer thread that turns the engine's frames
//! ([`MediaEvent::RecordingAudio`](crate::MediaEvent::RecordingAudio)) into WAV files, the repair
//! of a file whose writer died before finalizing it, and (feature `mp3`) MP3 encoding.
//!
//! Files are 16-bit PCM WAV, 2 channels, 16 kHz ([`RECORDING_SAMPLE_RATE`]), written through
//! `hound`. The writer owns every open file and nothing else: it never touches the engine, and
//! the media loop only ever `try_send`s frames to it, so a slow disk costs dropped frames
//! (counted, and written back as silence when the writer catches up), never a late packet.
//!
//! Durability: at start the header is written and the file and its directory are fsynced, so a
//! crash leaves a file that [`repair_wav`] can fix; at stop the header is final and the file and
//! its directory are fsynced before the [`RecordingSummary`] is returned.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::audio::{RECORDING_FRAME_SAMPLES, RECORDING_SAMPLE_RATE};
use crate::graph::RecordingId;

/// Channels of a recording: 0 (left) and 1 (right).
pub const RECORDING_CHANNELS: u16 = 2;
/// Frames (of any recording) waiting for the writer: about 1.3 MB, 20 s of one recording or
/// 1 s of twenty. Beyond it frames are dropped and counted.
pub const RECORDING_QUEUE: usize = 1_024;
/// Bytes of one 20 ms stereo frame in the file.
const FRAME_BYTES: u64 = 2 * RECORDING_FRAME_SAMPLES as u64 * 2;
/// A WAV's sizes are 32-bit: a recording stops growing (and reports an error at stop) before
/// its data would pass this (about 18 hours).
const MAX_DATA_BYTES: u64 = u32::MAX as u64 - 1_024;
/// The write buffer of one open file: 25 frames, half a second. A crash of the process loses
/// at most this much before the last frames (the OS keeps what was written).
const WRITE_BUFFER: usize = 25 * FRAME_BYTES as usize;

/// A finished recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    /// The file.
    pub path: PathBuf,
    /// Its length: sample frames / sample rate, in milliseconds.
    pub duration_ms: u64,
    /// The file's size in bytes, header included.
    pub bytes: u64,
    /// Always 2 for the relay's own files.
    pub channels: u16,
    /// Always 16,000 for the relay's own files.
    pub sample_rate: u32,
}

/// What went wrong with a recording or its file.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// A recording with this id is already running.
    #[error("{0} is already recording")]
    Exists(RecordingId),
    /// No recording with this id is running.
    #[error("{0} is not recording")]
    Unknown(RecordingId),
    /// The file could not be created, written, finalized or synced.
    #[error("recording file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not a WAV file this crate can read back.
    #[error("{} is not a readable WAV file: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// LAME refused.
    #[cfg(feature = "mp3")]
    #[error("MP3 encoding of {}: {reason}", path.display())]
    Mp3 {
        /// The WAV file.
        path: PathBuf,
        /// LAME's error.
        reason: String,
    },
}

fn file_error(path: &Path, source: io::Error) -> RecordingError {
    RecordingError::File {
        path: path.to_owned(),
        source,
    }
}

fn hound_io(e: hound::Error) -> io::Error {
    match e {
        hound::Error::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

fn wav_spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: RECORDING_CHANNELS,
        sample_rate: RECORDING_SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Fsyncs the directory that holds `path`, so that the file's name survives a crash.
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// What the relay asks of the writer.
pub(crate) enum WriterMessage {
    /// Create the file (it must not exist) and its header.
    Open {
        id: RecordingId,
        path: PathBuf,
        reply: oneshot::Sender<Result<(), RecordingError>>,
    },
    /// One frame, after `silent_before` frames of silence that the relay had to drop.
    Frame {
        id: RecordingId,
        pcm: Vec<i16>,
        silent_before: u32,
    },
    /// Pad with `silent_before` silent frames, finalize, fsync, answer.
    Stop {
        id: RecordingId,
        silent_before: u32,
        reply: oneshot::Sender<Result<RecordingSummary, RecordingError>>,
    },
    /// Finalize everything open and end.
    Shutdown,
}

/// One open file.
struct OpenFile {
    path: PathBuf,
    wav: hound::WavWriter<BufWriter<File>>,
    /// The same file, for `sync_all` (hound keeps the writer to itself).
    file: File,
    data_bytes: u64,
    /// The first write error; after it, nothing more is written and the stop reports it.
    failed: Option<io::Error>,
}

impl OpenFile {
    fn create(path: &Path) -> io::Result<OpenFile> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        let sync = file.try_clone()?;
        let mut wav =
            hound::WavWriter::new(BufWriter::with_capacity(WRITE_BUFFER, file), wav_spec())
                .map_err(hound_io)?;
        wav.flush().map_err(hound_io)?;
        sync.sync_all()?;
        sync_dir(path)?;
        Ok(OpenFile {
            path: path.to_owned(),
            wav,
            file: sync,
            data_bytes: 0,
            failed: None,
        })
    }

    fn write(&mut self, pcm: &[i16]) {
        if self.failed.is_some() {
            return;
        }
        let bytes = 2 * pcm.len() as u64;
        if pcm.len() != 2 * RECORDING_FRAME_SAMPLES {
            debug!(path = %self.path.display(), samples = pcm.len(), "a frame of the wrong size ignored");
            return;
        }
        if self.data_bytes + bytes > MAX_DATA_BYTES {
            self.fail(io::Error::other(
                "the recording is longer than a WAV file can hold",
            ));
            return;
        }
        let mut w = self.wav.get_i16_writer(pcm.len() as u32);
        for &s in pcm {
            w.write_sample(s);
        }
        match w.flush() {
            Ok(()) => self.data_bytes += bytes,
            Err(e) => self.fail(hound_io(e)),
        }
    }

    fn write_silence(&mut self, frames: u32) {
        let silence = [0i16; 2 * RECORDING_FRAME_SAMPLES];
        for _ in 0..frames {
            self.write(&silence);
        }
    }

    fn fail(&mut self, e: io::Error) {
        warn!(path = %self.path.display(), error = %e, "recording file failed; it stops growing");
        self.failed = Some(e);
    }

    /// Final header, file and directory fsynced.
    fn finish(self) -> Result<RecordingSummary, RecordingError> {
        let OpenFile {
            path,
            wav,
            file,
            data_bytes,
            failed,
        } = self;
        let finalized = wav
            .finalize()
            .map_err(hound_io)
            .and_then(|()| file.sync_all())
            .and_then(|()| sync_dir(&path));
        if let Some(e) = failed {
            return Err(file_error(&path, e));
        }
        finalized.map_err(|e| file_error(&path, e))?;
        let bytes = file.metadata().map_err(|e| file_error(&path, e))?.len();
        Ok(summary(
            path,
            data_bytes,
            bytes,
            RECORDING_CHANNELS,
            RECORDING_SAMPLE_RATE,
        ))
    }
}

fn summary(
    path: PathBuf,
    data_bytes: u64,
    bytes: u64,
    channels: u16,
    sample_rate: u32,
) -> RecordingSummary {
    let frame = 2 * u64::from(channels.max(1));
    let sample_frames = data_bytes / frame;
    RecordingSummary {
        path,
        duration_ms: sample_frames * 1_000 / u64::from(sample_rate.max(1)),
        bytes,
        channels,
        sample_rate,
    }
}

/// The writer thread and the way to it.
pub(crate) struct Writer {
    pub(crate) sender: mpsc::Sender<WriterMessage>,
    pub(crate) thread: JoinHandle<()>,
}

impl Writer {
    /// Starts the `switchboard-recorder` thread.
    pub(crate) fn spawn() -> io::Result<Writer> {
        let (sender, receiver) = mpsc::channel(RECORDING_QUEUE);
        let thread = std::thread::Builder::new()
            .name("switchboard-recorder".into())
            .spawn(move || run(receiver))?;
        Ok(Writer { sender, thread })
    }
}

fn run(mut messages: mpsc::Receiver<WriterMessage>) {
    let mut open: HashMap<RecordingId, OpenFile> = HashMap::new();
    while let Some(m) = messages.blocking_recv() {
        match m {
            WriterMessage::Open { id, path, reply } => {
                let result = match open.entry(id) {
                    Entry::Occupied(_) => Err(RecordingError::Exists(id)),
                    Entry::Vacant(slot) => match OpenFile::create(&path) {
                        Ok(f) => {
                            info!(%id, path = %path.display(), "recording started");
                            slot.insert(f);
                            Ok(())
                        }
                        Err(e) => Err(file_error(&path, e)),
                    },
                };
                let _ = reply.send(result);
            }
            WriterMessage::Frame {
                id,
                pcm,
                silent_before,
            } => match open.get_mut(&id) {
                Some(f) => {
                    f.write_silence(silent_before);
                    f.write(&pcm);
                }
                None => debug!(%id, "a frame for no open recording"),
            },
            WriterMessage::Stop {
                id,
                silent_before,
                reply,
            } => {
                let result = match open.remove(&id) {
                    Some(mut f) => {
                        f.write_silence(silent_before);
                        let r = f.finish();
                        match &r {
                            Ok(s) => {
                                info!(%id, path = %s.path.display(), ms = s.duration_ms, "recording stopped")
                            }
                            Err(e) => warn!(%id, error = %e, "recording stopped with an error"),
                        }
                        r
                    }
                    None => Err(RecordingError::Unknown(id)),
                };
                let _ = reply.send(result);
            }
            WriterMessage::Shutdown => break,
        }
    }
    for (id, f) in open {
        match f.finish() {
            Ok(s) => info!(%id, path = %s.path.display(), "recording finalized at shutdown"),
            Err(e) => warn!(%id, error = %e, "recording not finalized at shutdown"),
        }
    }
}

/// What [`repair_wav`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavRepair {
    /// The file as it is now.
    pub summary: RecordingSummary,
    /// Whether the header had to be rewritten (or a torn last sample frame cut off).
    pub repaired: bool,
}

/// Makes a WAV file whose writer died before finalizing it (a crash, a kill, a power cut)
/// readable again: the data chunk is taken to run to the end of the file (it is the last chunk
/// in the relay's files), a torn last sample frame is cut off, and the RIFF and data sizes are
/// rewritten; then the file is fsynced. A file that is already consistent is left alone. Errors
/// are `InvalidData` for a file that is not RIFF/WAVE PCM or has no data chunk (one that died
/// before its header was complete: nothing to keep).
pub fn repair_wav(path: &Path) -> io::Result<WavRepair> {
    let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let mut riff = [0u8; 12];
    file.read_exact(&mut riff)
        .map_err(|_| invalid("shorter than a RIFF header"))?;
    if riff.get(0..4) != Some(b"RIFF".as_slice()) || riff.get(8..12) != Some(b"WAVE".as_slice()) {
        return Err(invalid("not a RIFF WAVE file"));
    }
    let mut pos = 12u64;
    let mut format: Option<(u16, u32, u16)> = None;
    let (data_at, stated) = loop {
        let mut head = [0u8; 8];
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut head)
            .map_err(|_| invalid("no data chunk"))?;
        let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let body = pos + 8;
        match &head[0..4] {
            b"fmt " => {
                if size < 16 {
                    return Err(invalid("a fmt chunk shorter than PCM's"));
                }
                let mut fmt = [0u8; 16];
                file.read_exact(&mut fmt)
                    .map_err(|_| invalid("a torn fmt chunk"))?;
                let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
                let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
                let align = u16::from_le_bytes([fmt[12], fmt[13]]);
                if channels == 0 || rate == 0 || align == 0 {
                    return Err(invalid("a fmt chunk with zero channels, rate or alignment"));
                }
                format = Some((channels, rate, align));
            }
            b"data" => break (body, u64::from(size)),
            _ => {}
        }
        // Chunks are padded to an even size.
        pos = body + u64::from(size) + u64::from(size & 1);
        if pos >= len {
            return Err(invalid("no data chunk"));
        }
    };
    let (channels, rate, align) = format.ok_or_else(|| invalid("no fmt chunk before the data"))?;
    let available = len.saturating_sub(data_at);
    let data = available - available % u64::from(align);
    let end = data_at + data;
    let riff_size = end - 8;
    // Checked before anything is written: a file too large for WAV's sizes is left alone.
    let to_u32 = |v: u64| u32::try_from(v).map_err(|_| invalid("too large for a WAV file"));
    let (riff_field, data_field) = (to_u32(riff_size)?, to_u32(data)?);
    let stated_riff = u32::from_le_bytes([riff[4], riff[5], riff[6], riff[7]]);
    let repaired = stated != data || stated_riff != riff_field || len != end;
    if repaired {
        if len != end {
            file.set_len(end)?;
        }
        file.seek(SeekFrom::Start(4))?;
        file.write_all(&riff_field.to_le_bytes())?;
        file.seek(SeekFrom::Start(data_at - 4))?;
        file.write_all(&data_field.to_le_bytes())?;
        file.sync_all()?;
        info!(path = %path.display(), data_bytes = data, "recording repaired");
    }
    let frame_bytes = u64::from(align);
    let sample_frames = data / frame_bytes;
    Ok(WavRepair {
        summary: RecordingSummary {
            path: path.to_owned(),
            duration_ms: sample_frames * 1_000 / u64::from(rate),
            bytes: end,
            channels,
            sample_rate: rate,
        },
        repaired,
    })
}

/// Encodes a 16-bit PCM WAV file (mono or stereo, any of MP3's rates; the relay's recordings
/// are 16 kHz stereo) as MP3 with LAME: constant 32 kbit/s for 16 kHz (a quarter of the WAV's
/// 256 kbit/s; speech stays clear), 64 kbit/s above. The WAV is read in chunks of one second;
/// the MP3 is returned whole (240 KB per minute at 32 kbit/s).
#[cfg(feature = "mp3")]
pub fn encode_mp3(wav_path: &Path) -> Result<Vec<u8>, RecordingError> {
    use mp3lame_encoder::{Bitrate, Builder, DualPcm, FlushNoGap, MonoPcm, Quality};

    let format = |reason: String| RecordingError::Format {
        path: wav_path.to_owned(),
        reason,
    };
    let lame = |reason: String| RecordingError::Mp3 {
        path: wav_path.to_owned(),
        reason,
    };
    let mut reader = hound::WavReader::open(wav_path).map_err(|e| match e {
        hound::Error::IoError(e) => file_error(wav_path, e),
        other => format(other.to_string()),
    })?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
        return Err(format("not 16-bit PCM".into()));
    }
    if !(1..=2).contains(&spec.channels) {
        return Err(format(format!("{} channels", spec.channels)));
    }
    let mut builder = Builder::new().ok_or_else(|| lame("LAME would not start".into()))?;
    builder
        .set_num_channels(spec.channels as u8)
        .and_then(|()| builder.set_sample_rate(spec.sample_rate))
        .and_then(|()| {
            builder.set_brate(if spec.sample_rate <= 16_000 {
                Bitrate::Kbps32
            } else {
                Bitrate::Kbps64
            })
        })
        .and_then(|()| builder.set_quality(Quality::Good))
        .map_err(|e| lame(e.to_string()))?;
    let mut encoder = builder.build().map_err(|e| lame(e.to_string()))?;
    let chunk = spec.sample_rate as usize * usize::from(spec.channels);
    let mut samples = reader.samples::<i16>();
    let mut pcm: Vec<i16> = Vec::with_capacity(chunk);
    let (mut left, mut right) = (Vec::new(), Vec::new());
    let mut out = Vec::new();
    loop {
        pcm.clear();
        for s in samples.by_ref().take(chunk) {
            pcm.push(s.map_err(|e| format(e.to_string()))?);
        }
        if pcm.is_empty() {
            break;
        }
        let frames = pcm.len() / usize::from(spec.channels);
        out.reserve(mp3lame_encoder::max_required_buffer_size(frames));
        let written = if spec.channels == 2 {
            left.clear();
            right.clear();
            for lr in pcm.chunks_exact(2) {
                left.push(lr[0]);
                right.push(lr[1]);
            }
            encoder.encode_to_vec(
                DualPcm {
                    left: &left,
                    right: &right,
                },
                &mut out,
            )
        } else {
            encoder.encode_to_vec(MonoPcm(&pcm), &mut out)
        };
        written.map_err(|e| lame(e.to_string()))?;
    }
    out.reserve(7_200);
    encoder
        .flush_to_vec::<FlushNoGap>(&mut out)
        .map_err(|e| lame(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u32) -> Vec<i16> {
        (0..2 * RECORDING_FRAME_SAMPLES)
            .map(|i| {
                let v = (n as i32 * 7 + i as i32) % 2_000;
                if i % 2 == 0 {
                    v as i16
                } else {
                    -(v as i16)
                }
            })
            .collect()
    }

    fn send(w: &Writer, m: WriterMessage) {
        w.sender.blocking_send(m).expect("writer alive");
    }

    fn open(w: &Writer, id: u64, path: &Path) -> Result<(), RecordingError> {
        let (reply, rx) = oneshot::channel();
        send(
            w,
            WriterMessage::Open {
                id: RecordingId(id),
                path: path.to_owned(),
                reply,
            },
        );
        rx.blocking_recv().expect("an answer")
    }

    fn stop(w: &Writer, id: u64, silent_before: u32) -> Result<RecordingSummary, RecordingError> {
        let (reply, rx) = oneshot::channel();
        send(
            w,
            WriterMessage::Stop {
                id: RecordingId(id),
                silent_before,
                reply,
            },
        );
        rx.blocking_recv().expect("an answer")
    }

    #[test]
    fn frames_in_make_a_wav_that_reads_back_and_stop_summarizes_it() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("call.wav");
        let w = Writer::spawn().expect("writer");
        open(&w, 1, &path).expect("open");
        // The header is on disk from the start.
        assert_eq!(std::fs::metadata(&path).expect("file").len(), 44);
        for n in 0..50 {
            send(
                &w,
                WriterMessage::Frame {
                    id: RecordingId(1),
                    pcm: frame(n),
                    silent_before: u32::from(n == 10) * 3,
                },
            );
        }
        // A frame for a recording that is not open is ignored.
        send(
            &w,
            WriterMessage::Frame {
                id: RecordingId(9),
                pcm: frame(0),
                silent_before: 0,
            },
        );
        let s = stop(&w, 1, 2).expect("summary");
        // 50 frames, 3 silent ones before the 11th, 2 at the end: 55 frames of 20 ms.
        let frames = 55u64;
        assert_eq!(
            s,
            RecordingSummary {
                path: path.clone(),
                duration_ms: frames * 20,
                bytes: 44 + frames * FRAME_BYTES,
                channels: 2,
                sample_rate: 16_000,
            }
        );
        let mut reader = hound::WavReader::open(&path).expect("reads back");
        let spec = reader.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (2, 16_000, 16)
        );
        assert_eq!(
            u64::from(reader.duration()),
            frames * RECORDING_FRAME_SAMPLES as u64
        );
        let samples: Vec<i16> = reader
            .samples::<i16>()
            .collect::<Result<_, _>>()
            .expect("samples");
        let per = 2 * RECORDING_FRAME_SAMPLES;
        let mut expected: Vec<i16> = Vec::new();
        for n in 0..50 {
            if n == 10 {
                expected.extend(std::iter::repeat_n(0, 3 * per));
            }
            expected.extend(frame(n));
        }
        expected.extend(std::iter::repeat_n(0, 2 * per));
        assert_eq!(samples.len(), expected.len());
        assert!(samples == expected, "the contents differ");
        // Stopped is stopped.
        assert!(matches!(
            stop(&w, 1, 0),
            Err(RecordingError::Unknown(RecordingId(1)))
        ));
        send(&w, WriterMessage::Shutdown);
        w.thread.join().expect("writer ends");
    }

    #[test]
    fn opening_fails_clearly_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("dir");
        let w = Writer::spawn().expect("writer");
        let missing = dir.path().join("no-such-dir").join("a.wav");
        let e = open(&w, 1, &missing).expect_err("no directory");
        assert!(
            matches!(&e, RecordingError::File { path, source }
                if *path == missing && source.kind() == io::ErrorKind::NotFound),
            "{e:?}"
        );
        assert!(e.to_string().contains("no-such-dir"), "{e}");
        let path = dir.path().join("a.wav");
        std::fs::write(&path, b"keep me").expect("write");
        let e = open(&w, 1, &path).expect_err("exists");
        assert!(
            matches!(&e, RecordingError::File { source, .. } if source.kind() == io::ErrorKind::AlreadyExists),
            "{e:?}"
        );
        assert_eq!(std::fs::read(&path).expect("read"), b"keep me");
        let other = dir.path().join("b.wav");
        open(&w, 1, &other).expect("open");
        assert!(matches!(
            open(&w, 1, &dir.path().join("c.wav")),
            Err(RecordingError::Exists(_))
        ));
        // Shutdown finalizes what is open.
        send(
            &w,
            WriterMessage::Frame {
                id: RecordingId(1),
                pcm: frame(1),
                silent_before: 0,
            },
        );
        send(&w, WriterMessage::Shutdown);
        w.thread.join().expect("writer ends");
        let reader = hound::WavReader::open(&other).expect("finalized");
        assert_eq!(reader.duration() as usize, RECORDING_FRAME_SAMPLES);
    }

    /// A file as a writer leaves it when it dies between frames: hound's placeholder sizes (0)
    /// in the header, the samples after it, maybe half a sample frame at the end.
    fn crashed(dir: &Path, frames: u32, torn: usize) -> (PathBuf, Vec<i16>) {
        let path = dir.join(format!("crash-{frames}-{torn}.wav"));
        let w = Writer::spawn().expect("writer");
        open(&w, 1, &path).expect("open");
        let mut expected = Vec::new();
        for n in 0..frames {
            send(
                &w,
                WriterMessage::Frame {
                    id: RecordingId(1),
                    pcm: frame(n),
                    silent_before: 0,
                },
            );
            expected.extend(frame(n));
        }
        stop(&w, 1, 0).expect("stop");
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[4..8].copy_from_slice(&0u32.to_le_bytes());
        bytes[40..44].copy_from_slice(&0u32.to_le_bytes());
        bytes.extend(std::iter::repeat_n(0x55, torn));
        std::fs::write(&path, &bytes).expect("write");
        (path, expected)
    }

    #[test]
    fn a_crashed_wav_is_repaired_to_its_last_whole_frame() {
        let dir = tempfile::tempdir().expect("dir");
        for (frames, torn) in [(30, 0), (30, 3), (0, 0), (1, 1)] {
            let (path, expected) = crashed(dir.path(), frames, torn);
            // As it is, a reader sees no samples.
            let before = hound::WavReader::open(&path)
                .map(|r| r.duration())
                .unwrap_or(0);
            assert_eq!(before, 0, "{frames} {torn}");
            let r = repair_wav(&path).expect("repaired");
            assert!(r.repaired);
            assert_eq!(r.summary.duration_ms, u64::from(frames) * 20);
            assert_eq!(r.summary.bytes, 44 + u64::from(frames) * FRAME_BYTES);
            assert_eq!((r.summary.channels, r.summary.sample_rate), (2, 16_000));
            let mut reader = hound::WavReader::open(&path).expect("reads");
            let samples: Vec<i16> = reader
                .samples::<i16>()
                .collect::<Result<_, _>>()
                .expect("samples");
            assert!(samples == expected, "{frames} {torn}: contents differ");
            // A second repair changes nothing.
            let again = repair_wav(&path).expect("again");
            assert_eq!((again.repaired, again.summary), (false, r.summary));
        }
    }

    #[test]
    fn repair_refuses_what_is_not_a_wav_with_data() {
        let dir = tempfile::tempdir().expect("dir");
        let cases: [(&str, &[u8]); 4] = [
            ("empty", b""),
            ("text", b"hello, this is not a wav file at all"),
            ("riff-only", b"RIFF\0\0\0\0WAVE"),
            (
                "no-data",
                b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x02\0\x80\x3e\0\0\0\xfa\0\0\x04\0\x10\0",
            ),
        ];
        for (name, bytes) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write");
            let e = repair_wav(&path).expect_err(name);
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{name}: {e}");
            assert_eq!(
                std::fs::read(&path).expect("read"),
                bytes,
                "{name} was changed"
            );
        }
        assert_eq!(
            repair_wav(&dir.path().join("absent"))
                .expect_err("absent")
                .kind(),
            io::ErrorKind::NotFound
        );
    }

    #[cfg(feature = "mp3")]
    #[test]
    fn a_recording_encodes_to_mp3_of_the_expected_size() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("tone.wav");
        let w = Writer::spawn().expect("writer");
        open(&w, 1, &path).expect("open");
        // Two seconds of 440 Hz left, 880 Hz right.
        for n in 0..100u32 {
            let pcm = (0..RECORDING_FRAME_SAMPLES)
                .flat_map(|i| {
                    let t = (n as usize * RECORDING_FRAME_SAMPLES + i) as f32 / 16_000.0;
                    let s = |hz: f32| ((std::f32::consts::TAU * hz * t).sin() * 8_000.0) as i16;
                    [s(440.0), s(880.0)]
                })
                .collect();
            send(
                &w,
                WriterMessage::Frame {
                    id: RecordingId(1),
                    pcm,
                    silent_before: 0,
                },
            );
        }
        stop(&w, 1, 0).expect("stop");
        let mp3 = encode_mp3(&path).expect("mp3");
        // 2 s at 32 kbit/s is 8,000 bytes, give or take the encoder's delay and padding.
        assert!((7_000..=9_500).contains(&mp3.len()), "{} bytes", mp3.len());
        // MPEG-2 layer III frame sync: 11 bits set, version 2 (16 kHz), layer III.
        assert_eq!(mp3[0], 0xff);
        assert_eq!(mp3[1] & 0xfe, 0xf2, "{:#x}", mp3[1]);
        assert!(matches!(
            encode_mp3(&dir.path().join("absent.wav")),
            Err(RecordingError::File { .. })
        ));
        send(&w, WriterMessage::Shutdown);
        w.thread.join().expect("writer ends");
    }
}
