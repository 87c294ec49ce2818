//! A SID's text, kept inline in the records that expressions read it from (`task.sid`, a
//! worker's `sid`), and written without `format!`.

use switchboard_sid::{Sid, SidKind};

/// A SID as text, exactly as its `Display` writes it (prefix, then 32 lower-case hex digits).
/// Written by hand because `format!("{:032x}")` pads one character at a time and grows the
/// string from empty: about 2,700 instructions per SID, a fifth of a task's creation.
pub(crate) fn sid_text<K: SidKind>(sid: Sid<K>) -> SidText {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let value = sid.as_u128();
    let prefix = K::PREFIX.as_bytes();
    let mut bytes = [0u8; SID_TEXT_MAX];
    let len = (prefix.len() + 32).min(SID_TEXT_MAX);
    let (head, digits) = bytes[..len].split_at_mut(prefix.len().min(len));
    head.copy_from_slice(&prefix[..head.len()]);
    for (i, d) in digits.iter_mut().enumerate() {
        *d = HEX[((value >> (4 * (31 - i))) & 0xf) as usize];
    }
    SidText {
        len: len as u8,
        bytes,
    }
}

/// The longest SID text kept inline: a prefix of up to six letters and 32 hex digits.
const SID_TEXT_MAX: usize = 38;

/// A SID as text, kept inline (no allocation): the records keep their SID's text because
/// expressions read it (`task.sid`, a worker's `sid`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct SidText {
    len: u8,
    bytes: [u8; SID_TEXT_MAX],
}

impl std::ops::Deref for SidText {
    type Target = str;
    fn deref(&self) -> &str {
        // Always ASCII (a SID prefix and hex digits), so the conversion cannot fail.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Debug for SidText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}
