//! The simulated agents' peers: in the library (`switchboard_bench::load::peer`), shared with
//! `switchboard load --media`.

pub use switchboard_bench::load::peer::*;
