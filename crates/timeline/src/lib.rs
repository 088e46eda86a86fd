//! # timeline
//!
//! Turns trace-core's events into what the viewer draws and what people ask
//! about: per-goroutine, per-P and per-M state spans, GC and STW ranges,
//! counters, tasks, regions, logs, CPU samples and stacks, built with the
//! trace's generations decoded in parallel. Queries (draw plans, counter
//! decimation, statistics) are pure functions; nothing here knows egui.
//! Thread (M) tracks are made on request ([`build_threads`], or
//! [`build_all`] for everything at once).
//!
//! ```no_run
//! use timeline::{build, plan_track, Progress, View};
//!
//! let bytes = std::fs::read("trace.out").unwrap();
//! let tl = build(&bytes, &Progress::default()).unwrap();
//! let view = View { start_ns: tl.start_ns, end_ns: tl.end_ns, width_px: 1000.0 };
//! for g in &tl.goroutines {
//!     let items = plan_track(&g.track, view, 1.0);
//!     println!("{}: {} spans, {} to draw", tl.goroutine_label(g), g.track.len(), items.len());
//! }
//! // The thread tracks, when the thread rows are wanted:
//! let mut tl = tl;
//! tl.set_threads(timeline::build_threads(&bytes, &Progress::default(), timeline::Mode::Parallel).unwrap());
//! ```
#![forbid(unsafe_code)]

pub mod analysis;
pub mod build;
mod chunked;
pub mod counter;
pub mod decode;
mod early;
mod finished;
mod finlist;
mod gblocks;
pub mod group;
mod gtrack;
pub mod loglist;
mod merge;
pub mod model;
mod ordered;
pub mod origins;
pub mod paged;
mod part;
mod pieces;
pub mod plan;
pub mod progress;
pub mod ranges;
mod reclaim;
pub mod regions;
pub mod search;
mod shard;
mod sorted_runs;
mod spancode;
pub mod stacks;
pub mod state;
pub mod strings;
mod tasklist;
pub mod tasktable;
pub mod ticks;
pub mod track;
mod user;
mod varint;

pub use build::{BuildError, Mode, build, build_all, build_threads, build_with};
pub use counter::{Counter, CounterColumn};
pub use loglist::LogList;
pub use model::{CpuSample, Goroutine, LogEntry, Proc, RangeKind, RangeSpan, Region, Task, Thread, Timeline};
pub use origins::{Origin, OriginId, Origins};
pub use plan::{PlanItem, View, plan_track, plan_track_into};
pub use progress::{Phase, Progress};
pub use ranges::RangeList;
pub use reclaim::set_reclaim_hook;
pub use regions::RegionList;
pub use stacks::{Frame, StackId, StackTree};
pub use state::{Category, GState, MState, PState};
pub use strings::{StrId, Strings};
pub use tasktable::TaskTable;
pub use track::{Span, Track};
