//! ICE-TCP's framing (RFC 6544 over RFC 4571): on a TCP connection every datagram (STUN, DTLS,
//! SRTP, SRTCP) is preceded by its length as a 16-bit big-endian number.
//!
//! Pure: bytes in, datagrams out. The shell reads a connection into a [`Deframer`] and writes
//! what [`frame`] makes.

/// A framing problem: the connection is not ICE-TCP, or not a sane one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A frame announced (or a datagram to frame) longer than allowed.
    #[error("a frame of {len} bytes, more than {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The most allowed.
        max: usize,
    },
}

/// The largest datagram RFC 4571 can carry.
pub const MAX_FRAMED: usize = u16::MAX as usize;

/// Splits a byte stream into datagrams. Bytes arrive in any pieces; a frame is returned once
/// it is whole. Holds at most one frame's bytes beyond what was returned.
#[derive(Debug)]
pub struct Deframer {
    buf: Vec<u8>,
    /// Where the next frame's length starts in `buf`.
    start: usize,
    max: usize,
}

impl Deframer {
    /// A deframer refusing frames longer than `max` bytes (at most [`MAX_FRAMED`]).
    pub fn new(max: usize) -> Deframer {
        Deframer {
            buf: Vec::new(),
            start: 0,
            max: max.min(MAX_FRAMED),
        }
    }

    /// Adds bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 4_096 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole datagram, `None` until more bytes are pushed, or an error when the next
    /// frame is too long (the connection should then be closed: its stream cannot be trusted).
    /// Empty frames are skipped.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        loop {
            let rest = self.buf.get(self.start..).unwrap_or_default();
            let &[hi, lo, ..] = rest else {
                return Ok(None);
            };
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            if len > self.max {
                return Err(FrameError::TooLarge { len, max: self.max });
            }
            if rest.len() < 2 + len {
                return Ok(None);
            }
            let from = self.start + 2;
            self.start = from + len;
            if len > 0 {
                return Ok(self.buf.get(from..from + len));
            }
        }
    }

    /// Bytes held that are not yet a whole frame.
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }
}

/// Appends `datagram` to `out` as one frame.
pub fn frame(datagram: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    let len = u16::try_from(datagram.len()).map_err(|_| FrameError::TooLarge {
        len: datagram.len(),
        max: MAX_FRAMED,
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(datagram);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(datagrams: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for d in datagrams {
            frame(d, &mut out).unwrap();
        }
        out
    }

    fn all(d: &mut Deframer) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        while let Some(f) = d.next_frame().unwrap() {
            got.push(f.to_vec());
        }
        got
    }

    #[test]
    fn a_frame_is_its_length_big_endian_then_its_bytes() {
        let mut out = Vec::new();
        frame(&[7; 300], &mut out).unwrap();
        assert_eq!(&out[..2], &[0x01, 0x2c]);
        assert_eq!(out.len(), 302);
        assert!(out[2..].iter().all(|&b| b == 7));
    }

    #[test]
    fn datagrams_come_back_whatever_pieces_the_stream_arrives_in() {
        let datagrams: Vec<Vec<u8>> = (0..40u8)
            .map(|i| {
                (0..(i as usize * 37 % 1_300 + 1))
                    .map(|j| i ^ j as u8)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u8]> = datagrams.iter().map(Vec::as_slice).collect();
        let stream = framed(&refs);
        for piece in [1, 2, 3, 7, 100, 1_499, stream.len()] {
            let mut d = Deframer::new(MAX_FRAMED);
            let mut got = Vec::new();
            for chunk in stream.chunks(piece) {
                d.push(chunk);
                got.extend(all(&mut d));
            }
            assert_eq!(got, datagrams, "pieces of {piece} bytes");
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn a_partial_frame_waits_for_the_rest() {
        let stream = framed(&[b"hello"]);
        let mut d = Deframer::new(100);
        d.push(&stream[..1]);
        assert_eq!(d.next_frame().unwrap(), None);
        d.push(&stream[1..4]);
        assert_eq!(d.next_frame().unwrap(), None);
        assert_eq!(d.pending(), 4);
        d.push(&stream[4..]);
        assert_eq!(d.next_frame().unwrap(), Some(&b"hello"[..]));
        assert_eq!(d.next_frame().unwrap(), None);
    }

    #[test]
    fn empty_frames_are_skipped() {
        let stream = framed(&[b"", b"a", b"", b"", b"bc"]);
        let mut d = Deframer::new(100);
        d.push(&stream);
        assert_eq!(all(&mut d), vec![b"a".to_vec(), b"bc".to_vec()]);
    }

    #[test]
    fn a_frame_longer_than_allowed_is_refused_before_its_bytes_arrive() {
        let mut d = Deframer::new(1_500);
        d.push(&[0x05, 0xdd]); // 1,501
        assert_eq!(
            d.next_frame(),
            Err(FrameError::TooLarge {
                len: 1_501,
                max: 1_500
            })
        );
    }

    #[test]
    fn a_datagram_too_long_for_sixteen_bits_is_not_framed() {
        let mut out = Vec::new();
        assert_eq!(
            frame(&vec![0; MAX_FRAMED + 1], &mut out),
            Err(FrameError::TooLarge {
                len: MAX_FRAMED + 1,
                max: MAX_FRAMED
            })
        );
        assert!(out.is_empty());
        frame(&vec![0; MAX_FRAMED], &mut out).unwrap();
        assert_eq!(&out[..2], &[0xff, 0xff]);
    }
}
