//! The WebRTC audio relay.
//!
//! Every agent desktop holds one PeerConnection to the server, with one `sendrecv` audio
//! transceiver. The relay answers as ICE-lite with its host candidates (its one UDP socket and,
//! ranked below it, a passive TCP candidate for ICE-TCP, RFC 6544), and sends each peer what a [`Graph`] says it hears: the glue derives that graph
//! from the voice layer (who is in which conference, on hold, muted) and maps call legs to
//! [`PeerId`]s; this crate knows nothing of calls.
//!
//! # Modules
//! - `graph`: [`PeerId`], [`Source`] and [`Graph`], the only thing the relay obeys; and
//!   [`RecordingId`] and [`RecordingSpec`], what it records.
//! - `engine`: [`Engine`], the sans-IO core on str0m (itself sans-IO): datagrams and time in,
//!   datagrams, events and the next deadline out. No socket, no clock, no thread.
//! - `audio`: the hold music and the Opus codecs of the mixer and the recordings.
//! - `error`: [`MediaError`], what the engine refuses.
//! - [`framing`]: ICE-TCP's framing (RFC 4571), pure: a byte stream in, datagrams out.
//! - [`io`]: the thin shell: one UDP socket with batched receive and send, a TCP listener for
//!   ICE-TCP (browsers on networks without UDP), commands in and events out over channels.
//! - `record`: the recordings' files: a writer thread, [`repair_wav`] for a file whose writer
//!   died, and (feature `mp3`, off by default: LAME is LGPL) `encode_mp3`.
//! - [`srtp`]: the forwarding shortcut's SRTP (the key tap on str0m's DTLS, RFC 3711's key
//!   derivation, RFC 7714's AEAD-AES-GCM, the RTP header fields routing needs), pure.
//!
//! # Hybrid relay
//! str0m runs in RTP mode: packets arrive as str0m decrypted them and leave as the relay
//! writes them, with no depacketizing, jitter buffer or packetizer in between (and no frame
//! timers of str0m's own). Once a peer's DTLS is up and it chose AES-GCM, the engine opens
//! its RTP and seals what it sends it itself ([`srtp`], [`EngineConfig::shortcut`]); str0m keeps
//! ICE, DTLS, RTCP and the first packets of a stream. A receiver that hears exactly one source is forwarded that source's
//! RTP packets' Opus payload as it came (one Opus packet per RTP packet, RFC 7587), without
//! transcoding or copying, under the receiver's own SSRC, sequence numbers and timestamps: the
//! relay keeps the source's spacing (a loss stays a gap the receiver conceals, a reordered
//! packet keeps its place) and rebases per receiver so that a switch of source (or a mute)
//! looks like a pause, not like loss. A receiver that hears two or more sources gets an N-1
//! mix: each mixed source's packets are decoded once, the mixer sums the sources of each
//! receiver every 20 ms and encodes the result with that receiver's own encoder. DTMF
//! (telephone-event) is negotiated and counts as media for the silence check, but is not
//! relayed. Hold music is a loop
//! synthesized here ([`HOLD_MUSIC_NOTES_HZ`]) and encoded once, forwarded like any source.
//!
//! # Recording
//! [`Engine::set_recordings`] says, declaratively like the graph, what each recording records:
//! two channels, each the mix of a set of sources, that may change while it runs. Every 20 ms
//! of engine time (one clock for all recordings, which catches up on a late call so a
//! recording keeps wall-clock length) each unpaused recording yields one
//! [`MediaEvent::RecordingAudio`]: 16 kHz stereo PCM, left the mix of channel 0's sources,
//! right of channel 1's; an absent or silent source is silence. A recorded peer gets a second
//! Opus decoder that decodes at 16 kHz directly (libopus resamples properly, and it costs less
//! than 48 kHz plus a filter of ours), shared by every recording of it and freed when no
//! unpaused recording needs it; a paused recording emits nothing and holds nothing but its
//! spec. The shell ([`io::RelayHandle::start_recording`], `update_recording`,
//! `stop_recording`) writes the frames to WAV files on a thread of their own, and returns a
//! [`RecordingSummary`] only once the file and its directory are fsynced.
//!
//! # Drain contract
//! After **every** input — [`Engine::add_peer`], [`Engine::restart_peer`],
//! [`Engine::remove_peer`], [`Engine::set_graph`], [`Engine::set_recordings`],
//! [`Engine::handle_datagram`], [`Engine::handle_receive`] or [`Engine::handle_timeout`] — the
//! caller:
//! 1. calls [`Engine::poll_transmit`] until it returns `None`, sending each datagram from the
//!    socket whose address is [`EngineConfig::advertised`], or, when its
//!    [`Transmit::transport`] is TCP, as a frame on the connection from its destination;
//! 2. calls [`Engine::poll_event`] until it returns `None`;
//! 3. calls [`Engine::poll_timeout`] and arranges for [`Engine::handle_timeout`] to be called
//!    with the current time once that instant has passed (calling it early is harmless).
//!
//! Times must come from one monotonic clock; a time earlier than one already seen is treated
//! as the latest one seen. Datagrams are given with their arrival time and with the advertised
//! address (UDP) or advertised TCP address (a TCP frame) as destination. Queues are bounded ([`PEER_TRANSMIT_QUEUE`], [`EVENT_QUEUE`]), so a
//! caller that drains late loses the oldest datagrams and events, and memory stays bounded.
//!
//! # Safety of the socket
//! Media is written only to peers whose ICE check and DTLS handshake completed, so a spoofed
//! source address cannot make the relay send audio anywhere; anything that is not STUN, DTLS or
//! RTP of a known peer is counted ([`Counters`]) and dropped, and no datagram can panic the
//! engine (fuzzed: `fuzz/fuzz_targets/media_datagram.rs`).
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod audio;
mod engine;
mod error;
pub mod framing;
mod graph;
pub mod io;
mod record;
pub mod srtp;

pub use audio::{
    FRAME_SAMPLES, HOLD_MUSIC_NOTES_HZ, HOLD_MUSIC_NOTE_FRAMES, RECORDING_FRAME_SAMPLES,
    RECORDING_SAMPLE_RATE, SAMPLE_RATE,
};
pub use engine::{
    opus_pt, Counters, Disconnect, Engine, EngineConfig, Footprint, MediaEvent, Transmit,
    Transport, EVENT_QUEUE, FRAME, MAX_RECORDING_CATCHUP, PEER_TRANSMIT_QUEUE,
};
pub use error::{MediaError, MAX_SDP_BYTES};
pub use graph::{Graph, PeerId, RecordingId, RecordingSpec, Source};
#[cfg(feature = "mp3")]
pub use record::encode_mp3;
pub use record::{
    repair_wav, RecordingError, RecordingSummary, WavRepair, RECORDING_CHANNELS, RECORDING_QUEUE,
};
