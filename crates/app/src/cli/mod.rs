//! Command-line subcommands.

pub mod capture;
pub mod dump;
pub mod pprof;
pub mod stats;
