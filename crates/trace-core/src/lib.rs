//! # trace-core
//!
//! Decodes Go execution traces into typed events, exactly as Go's own
//! `internal/trace` reader does: same events, same order, same validation
//! verdicts, with byte offsets in every error.
//!
//! The input is a byte slice, usually a memory-mapped file; nothing is
//! copied per event. Strings and stacks stay in per-generation tables and
//! events refer to them by ID.
//!
//! ```no_run
//! use trace_core::{Reader, gofmt};
//!
//! let bytes = std::fs::read("trace.out")?; // gotv maps the file instead
//! let mut reader = Reader::new(&bytes)?;
//! while let Some(ev) = reader.next_event()? {
//!     let mut line = String::new();
//!     gofmt::write_event(&mut line, &ev, &reader.context());
//!     println!("{line}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For parallel decoding, [`GenerationIndex::scan`] finds the generations by
//! their batch headers and [`parallel`] decodes each one on its own.
#![forbid(unsafe_code)]

pub mod error;
pub mod event;
pub mod frontier;
pub mod generation;
pub mod gofmt;
pub mod gosort;
mod gtable;
pub mod ids;
pub mod order;
pub mod parallel;
pub mod reader;
pub mod run;
pub mod spec;
pub mod speculate;
pub mod table;
mod tracked;
pub mod v1;
pub mod version;
pub mod wire;

pub use error::{Error, ErrorKind, Result};
pub use event::{Event, EventContext, EventKind, GoState, ProcState, ResourceId, StateTransition};
pub use generation::{EvTable, Generation, GenerationIndex, GenerationSpan, ResolvedFrame};
pub use ids::{GoroutineId, ProcId, StackId, StringId, TaskId, ThreadId, TimeNs};
pub use parallel::ParallelDecode;
pub use reader::Reader;
pub use run::{GenerationRun, RunEnd};
pub use version::Version;
