//! Twilio-style SIDs: a two-letter prefix naming the kind of resource, then 32 hex digits.
//!
//! `Sid<K>` carries its kind in the type, so a worker SID cannot be passed where a task SID is
//! expected. It is 16 bytes and `Copy`. SIDs are lower-case hex, as Twilio makes and writes them:
//! parsing refuses upper-case digits (although Twilio's published pattern is
//! `^XX[0-9a-fA-F]{32}$`), so one resource has one spelling, and a SID can be compared, signed or
//! looked up as text without folding case.
//!
//! This crate only parses and prints. Making new SIDs is the caller's job: the server draws them
//! from a random source, the routing engine derives reservation SIDs deterministically.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::str::FromStr;

/// A kind of resource and its two-letter prefix.
pub trait SidKind: Copy + Eq + Ord + Hash + fmt::Debug + 'static {
    /// The two ASCII upper-case letters every SID of this kind starts with.
    const PREFIX: &'static str;
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident = $prefix:literal;)*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
            pub enum $name {}
            impl SidKind for $name {
                const PREFIX: &'static str = $prefix;
            }
        )*
    };
}

kinds! {
    /// An account (`AC…`).
    Account = "AC";
    /// An API key (`SK…`).
    ApiKey = "SK";
    /// A TaskRouter workspace (`WS…`).
    Workspace = "WS";
    /// A worker activity (`WA…`).
    Activity = "WA";
    /// A worker (`WK…`).
    Worker = "WK";
    /// A task queue (`WQ…`).
    TaskQueue = "WQ";
    /// A workflow (`WW…`).
    Workflow = "WW";
    /// A task (`WT…`).
    Task = "WT";
    /// A reservation (`WR…`).
    Reservation = "WR";
    /// A task channel (`TC…`).
    TaskChannel = "TC";
    /// A worker channel (`WC…`).
    WorkerChannel = "WC";
    /// A TaskRouter event (`EV…`).
    Event = "EV";
    /// A voice call (`CA…`).
    Call = "CA";
    /// A TwiML application (`AP…`).
    Application = "AP";
    /// A conference (`CF…`).
    Conference = "CF";
    /// A call or conference recording (`RE…`).
    Recording = "RE";
}

/// A resource identifier of kind `K`.
pub struct Sid<K> {
    value: u128,
    kind: PhantomData<K>,
}

impl<K: SidKind> Sid<K> {
    /// The SID whose 32 hex digits are `value`.
    pub const fn from_u128(value: u128) -> Self {
        Sid {
            value,
            kind: PhantomData,
        }
    }

    /// The 128 bits after the prefix.
    pub const fn as_u128(self) -> u128 {
        self.value
    }

    /// The prefix of this kind of SID, such as `"WK"`.
    pub fn prefix() -> &'static str {
        K::PREFIX
    }
}

/// Why a string is not a SID of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidError {
    /// The string does not start with the expected two letters.
    #[error("expected a SID starting with {expected}, got {got:?}")]
    WrongPrefix {
        /// The prefix that was expected.
        expected: &'static str,
        /// The whole input.
        got: String,
    },
    /// The string has the right prefix but not 32 lower-case hex digits after it.
    #[error(
        "{got:?} is not a valid SID: expected {prefix} followed by 32 lower-case hexadecimal digits"
    )]
    Malformed {
        /// The prefix that was expected.
        prefix: &'static str,
        /// The whole input.
        got: String,
    },
}

impl<K: SidKind> FromStr for Sid<K> {
    type Err = SidError;

    fn from_str(s: &str) -> Result<Self, SidError> {
        let Some(digits) = s.strip_prefix(K::PREFIX) else {
            return Err(SidError::WrongPrefix {
                expected: K::PREFIX,
                got: s.to_owned(),
            });
        };
        let malformed = || SidError::Malformed {
            prefix: K::PREFIX,
            got: s.to_owned(),
        };
        if digits.len() != 32
            || !digits
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(malformed());
        }
        u128::from_str_radix(digits, 16)
            .map(Sid::from_u128)
            .map_err(|_| malformed())
    }
}

impl<K: SidKind> fmt::Display for Sid<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:032x}", K::PREFIX, self.value)
    }
}

impl<K: SidKind> fmt::Debug for Sid<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

// Manual impls: deriving would require `K: Clone` etc. on the phantom parameter's bounds in ways
// that do not matter here; a SID is always plain data.
impl<K> Clone for Sid<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Sid<K> {}
impl<K> PartialEq for Sid<K> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<K> Eq for Sid<K> {}
impl<K> PartialOrd for Sid<K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> Ord for Sid<K> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}
impl<K> Hash for Sid<K> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl<K: SidKind> serde::Serialize for Sid<K> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de, K: SidKind> serde::Deserialize<'de> for Sid<K> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Mixes 128 bits so that nearby inputs give unrelated outputs (two rounds of a 64-bit
/// finalizer on each half, crossed). Used to derive SIDs deterministically; not cryptographic.
pub fn mix128(x: u128) -> u128 {
    fn fmix(mut k: u64) -> u64 {
        k ^= k >> 33;
        k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
        k ^= k >> 33;
        k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        k ^ (k >> 33)
    }
    let (hi, lo) = ((x >> 64) as u64, x as u64);
    let a = fmix(lo ^ fmix(hi.wrapping_add(0x9e37_79b9_7f4a_7c15)));
    let b = fmix(hi ^ fmix(a.wrapping_add(0x632b_e59b_d9b4_e019)));
    ((b as u128) << 64) | a as u128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_prints_lower_case() {
        let s: Sid<Worker> = "WK0123456789abcdef0123456789abcdef".parse().unwrap();
        assert_eq!(s.as_u128(), 0x0123456789abcdef0123456789abcdef);
        assert_eq!(s.to_string(), "WK0123456789abcdef0123456789abcdef");
        assert_eq!(s.to_string().parse::<Sid<Worker>>().unwrap(), s);
    }

    #[test]
    fn refuses_upper_case_hex() {
        for input in [
            "WK0123456789ABCDEF0123456789abcdef",
            "WK0123456789abcdef0123456789abcdeF",
            "WKFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        ] {
            let err = input.parse::<Sid<Worker>>().unwrap_err();
            assert!(
                matches!(err, SidError::Malformed { .. }),
                "{input:?}: {err}"
            );
            assert!(err.to_string().contains("lower-case"), "{err}");
        }
        // The prefix stays upper-case: a lower-case prefix is another kind of mistake.
        assert!(matches!(
            "wk0123456789abcdef0123456789abcdef".parse::<Sid<Worker>>(),
            Err(SidError::WrongPrefix { .. })
        ));
        assert!(
            serde_json::from_str::<Sid<Task>>("\"WT000000000000000000000000000000FF\"").is_err()
        );
    }

    #[test]
    fn rejects_wrong_prefix_and_bad_digits() {
        let table: &[(&str, &str)] = &[
            (
                "WQ0123456789abcdef0123456789abcdef",
                "expected a SID starting with WK",
            ),
            ("WK0123", "followed by 32 lower-case hexadecimal digits"),
            (
                "WK0123456789abcdef0123456789abcdeg",
                "followed by 32 lower-case hexadecimal digits",
            ),
            (
                "WK0123456789abcdef0123456789abcdef0",
                "followed by 32 lower-case hexadecimal digits",
            ),
            (
                "WK+123456789abcdef0123456789abcdef",
                "followed by 32 lower-case hexadecimal digits",
            ),
            ("", "expected a SID starting with WK"),
        ];
        for (input, want) in table {
            let err = input.parse::<Sid<Worker>>().unwrap_err().to_string();
            assert!(err.contains(want), "{input:?}: {err}");
        }
    }

    #[test]
    fn serde_uses_the_string_form() {
        let s = Sid::<Task>::from_u128(255);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"WT000000000000000000000000000000ff\"");
        assert_eq!(serde_json::from_str::<Sid<Task>>(&json).unwrap(), s);
        assert!(
            serde_json::from_str::<Sid<Task>>("\"WK000000000000000000000000000000ff\"").is_err()
        );
    }

    #[test]
    fn mix_spreads_neighbours() {
        assert_ne!(mix128(1), mix128(2));
        assert_ne!(mix128(1) >> 64, mix128(2) >> 64);
    }
}
