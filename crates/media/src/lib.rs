//! The WebRTC audio relay.
//!
//! Every agent desktop holds one PeerConnection to the server, with one `sendrecv` audio
//! transceiver. The relay answers as ICE-lite with a single host candidate (its one UDP
//! socket), and sends each peer what a [`Graph`] says it hears: the glue derives that graph
//! from the voice layer (who is in which conference, on hold, muted) and maps call legs to
//! [`PeerId`]s; this crate knows nothing of calls.
//!
//! # Modules
//! - `graph`: [`PeerId`], [`Source`] and [`Graph`], the only thing the relay obeys.
//! - `engine`: [`Engine`], the sans-IO core on str0m (itself sans-IO): datagrams and time in,
//!   datagrams, events and the next deadline out. No socket, no clock, no thread.
//! - `audio`: the hold music and the Opus codecs of the mixer.
//! - `error`: [`MediaError`], what the engine refuses.
//! - [`io`]: the thin shell: one UDP socket with batched receive and send, commands in and
//!   events out over channels.
//!
//! # Hybrid relay
//! A receiver that hears exactly one source is forwarded that source's Opus frames as they
//! came, without transcoding; str0m's frame mode gives each receiver its own SSRC and sequence
//! numbers, and the relay rebases RTP timestamps per receiver so that a switch of source (or a
//! mute) looks like a pause, not like loss. A receiver that hears two or more sources gets an
//! N-1 mix: each mixed source is decoded once, the mixer sums the sources of each receiver
//! every 20 ms and encodes the result with that receiver's own encoder. Hold music is a loop
//! synthesized here ([`HOLD_MUSIC_NOTES_HZ`]) and encoded once, forwarded like any source.
//!
//! # Drain contract
//! After **every** input — [`Engine::add_peer`], [`Engine::restart_peer`],
//! [`Engine::remove_peer`], [`Engine::set_graph`], [`Engine::handle_datagram`] or
//! [`Engine::handle_timeout`] — the caller:
//! 1. calls [`Engine::poll_transmit`] until it returns `None`, sending each datagram from the
//!    socket whose address is [`EngineConfig::advertised`];
//! 2. calls [`Engine::poll_event`] until it returns `None`;
//! 3. calls [`Engine::poll_timeout`] and arranges for [`Engine::handle_timeout`] to be called
//!    with the current time once that instant has passed (calling it early is harmless).
//!
//! Times must come from one monotonic clock; a time earlier than one already seen is treated
//! as the latest one seen. Datagrams are given with their arrival time and with the advertised
//! address as destination. Queues are bounded ([`PEER_TRANSMIT_QUEUE`], [`EVENT_QUEUE`]), so a
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
mod graph;
pub mod io;

pub use audio::{FRAME_SAMPLES, HOLD_MUSIC_NOTES_HZ, HOLD_MUSIC_NOTE_FRAMES, SAMPLE_RATE};
pub use engine::{
    Counters, Disconnect, Engine, EngineConfig, Footprint, MediaEvent, Transmit, EVENT_QUEUE,
    FRAME, PEER_TRANSMIT_QUEUE,
};
pub use error::{MediaError, MAX_SDP_BYTES};
pub use graph::{Graph, PeerId, Source};
