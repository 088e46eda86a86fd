//! Command-line subcommands.

pub mod dump;
pub mod pprof;
pub mod stats;
