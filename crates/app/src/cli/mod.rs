//! Command-line subcommands.

pub mod dump;
pub mod stats;
