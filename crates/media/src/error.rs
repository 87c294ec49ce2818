//! What the engine refuses, and the offer size it refuses beyond.

use std::net::SocketAddr;

use crate::graph::PeerId;

/// The largest SDP offer accepted.
pub const MAX_SDP_BYTES: usize = 64 * 1024;

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The peer already exists.
    #[error("{0} already exists")]
    PeerExists(PeerId),
    /// No such peer.
    #[error("{0} does not exist")]
    NoPeer(PeerId),
    /// Too many peers.
    #[error("too many peers (at most {0})")]
    TooManyPeers(usize),
    /// The offer is larger than [`MAX_SDP_BYTES`].
    #[error("the offer is {0} bytes, more than {MAX_SDP_BYTES}")]
    OfferTooLarge(usize),
    /// The offer is not SDP.
    #[error("the offer is not valid SDP: {0}")]
    Sdp(String),
    /// str0m refused the offer.
    #[error("the offer was refused: {0}")]
    Offer(String),
    /// The offer has no audio.
    #[error("the offer has no audio transceiver")]
    NoAudio,
    /// The offer's audio has no Opus.
    #[error("the offer does not offer Opus")]
    NoOpus,
    /// The advertised address cannot be a host candidate.
    #[error("{0} cannot be advertised as a host candidate: {1}")]
    Candidate(SocketAddr, String),
    /// Neither UDP nor TCP is offered.
    #[error("no transport: offer UDP, a TCP listener, or both")]
    NoTransport,
    /// No DTLS certificate could be made.
    #[error("no DTLS certificate could be generated")]
    Certificate,
    /// The mix encoders' complexity is outside libopus's 0..=10.
    #[error("the mix complexity must be 0 to 10, not {0}")]
    Complexity(i32),
    /// libopus failed to set up.
    #[error("Opus: {0}")]
    Opus(String),
}
