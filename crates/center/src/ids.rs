//! Identities the center hands out: desktop session numbers, and new SIDs from a seeded
//! generator (the same seed gives the same SIDs in the same order, so a simulated run can be
//! replayed and snapshotted exactly). The server seeds it from a random source at start; SIDs it
//! hands out are written into the log, so replay never needs them again.

use switchboard_sid::{mix128, Sid, SidKind};

/// A desktop session, as the center numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

/// A deterministic source of SIDs.
#[derive(Debug, Clone)]
pub struct SidGen {
    seed: u128,
    counter: u64,
}

impl SidGen {
    /// A generator drawing from `seed`.
    pub fn new(seed: u128) -> SidGen {
        SidGen { seed, counter: 0 }
    }

    /// The next 128 bits.
    pub fn next_u128(&mut self) -> u128 {
        self.counter += 1;
        mix128(self.seed ^ (u128::from(self.counter) << 17) ^ 0x5342_0000)
    }

    /// A new SID of kind `K`.
    pub fn sid<K: SidKind>(&mut self) -> Sid<K> {
        Sid::from_u128(self.next_u128())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_sid::Task;

    #[test]
    fn same_seed_same_sids_other_seed_others() {
        let (mut a, mut b, mut c) = (SidGen::new(7), SidGen::new(7), SidGen::new(8));
        let xs: Vec<Sid<Task>> = (0..100).map(|_| a.sid()).collect();
        let ys: Vec<Sid<Task>> = (0..100).map(|_| b.sid()).collect();
        let zs: Vec<Sid<Task>> = (0..100).map(|_| c.sid()).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| !zs.contains(x)));
        let unique: std::collections::BTreeSet<_> = xs.iter().collect();
        assert_eq!(unique.len(), 100);
    }
}
