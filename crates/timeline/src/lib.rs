//! # timeline
//!
//! Turns trace-core's events into what the viewer draws and what people ask
//! about: per-goroutine, per-P and per-M span indices, GC and STW ranges,
//! counters, annotations, statistics and flame graphs, built in parallel.
//! Queries here are pure functions; nothing in this crate knows egui.
//!
//! Today it provides the parallel decoding driver:
//!
//! ```no_run
//! let bytes = std::fs::read("trace.out").unwrap();
//! let chained = timeline::decode::decode_parallel(&bytes, |run| {
//!     let mut n = 0u64;
//!     while let Ok(Some(_)) = run.next_event() {
//!         n += 1;
//!     }
//!     n
//! })
//! .unwrap();
//! println!("{} events", chained.values.iter().sum::<u64>());
//! ```
#![forbid(unsafe_code)]

pub mod decode;
