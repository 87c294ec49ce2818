//! New identifiers and secrets, from the operating system's random source.

use switchboard_sid::{Sid, SidKind};

/// 128 random bits.
pub fn random_u128() -> u128 {
    let mut bytes = [0u8; 16];
    // The OS random source failing is not something a server can carry on from.
    if let Err(e) = getrandom::fill(&mut bytes) {
        panic!("the operating system's random source failed: {e}");
    }
    u128::from_le_bytes(bytes)
}

/// A new random SID.
pub fn new_sid<K: SidKind>() -> Sid<K> {
    Sid::from_u128(random_u128())
}

/// A new secret: 32 lower-case hex digits, like a Twilio auth token.
pub fn new_secret() -> String {
    format!("{:032x}", random_u128())
}
