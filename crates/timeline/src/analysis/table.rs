//! The goroutine table's numbers: per goroutine, its lifetime and time per
//! kind of state; per start function, the totals of its goroutines and
//! histograms of their blocked and runnable spans ([`LogHist`]).
//!
//! A trace can hold millions of goroutines, so the table is built in steps
//! ([`GoroutineTable::step`]) that each take a batch of goroutines on all
//! of rayon's threads and stop after a time budget: a viewer shows
//! progress between steps and never blocks a frame for long. The result is
//! the same however it is stepped and on any number of threads.
//!
//! ```no_run
//! use timeline::analysis::GoroutineTable;
//! use timeline::{Progress, build};
//!
//! let tl = build(&std::fs::read("trace.out").unwrap(), &Progress::default()).unwrap();
//! let table = GoroutineTable::compute(&tl);
//! for g in &table.groups {
//!     println!("{}: {} goroutines, p99 runnable {:?} ns", tl.strings.get(g.start_fn), g.count, g.runnable.percentile(99));
//! }
//! ```

use std::time::{Duration, Instant};

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::LogHist;
use crate::model::{Goroutine, Timeline};
use crate::state::{Category, GState};
use crate::strings::StrId;

/// Goroutines one thread takes at a time.
const CHUNK: usize = 512;

/// One goroutine's row: its lifetime and time per kind of state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoroutineRow {
    /// Index in [`Timeline::goroutines`] (and so in ID order).
    pub gi: u32,
    /// Index of its start function in [`GoroutineTable::groups`].
    pub group: u32,
    /// Created (or first seen).
    pub start_ns: i64,
    /// Exited (or the end of the trace).
    pub end_ns: i64,
    /// Time running.
    pub running_ns: i64,
    /// Time waiting for a P (created, runnable, preempted, yielded).
    pub runnable_ns: i64,
    /// Time blocked, all reasons together.
    pub blocked_ns: i64,
    /// Time in system calls.
    pub syscall_ns: i64,
    /// The reason it was blocked longest, and for how long in total.
    pub top_block: Option<(GState, i64)>,
}

impl GoroutineRow {
    /// Length of the lifetime.
    pub fn lifetime_ns(&self) -> i64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// All goroutines started in one function, together.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionGroup {
    /// The start function.
    pub start_fn: StrId,
    /// How many goroutines.
    pub count: u64,
    /// Their running time.
    pub running_ns: i64,
    /// Their time waiting for a P.
    pub runnable_ns: i64,
    /// Their time blocked.
    pub blocked_ns: i64,
    /// Their time in system calls.
    pub syscall_ns: i64,
    /// Their blocked spans.
    pub blocked: LogHist,
    /// Their runnable spans (scheduling latency).
    pub runnable: LogHist,
}

impl FunctionGroup {
    fn new(start_fn: StrId) -> FunctionGroup {
        FunctionGroup {
            start_fn,
            count: 0,
            running_ns: 0,
            runnable_ns: 0,
            blocked_ns: 0,
            syscall_ns: 0,
            blocked: LogHist::default(),
            runnable: LogHist::default(),
        }
    }

    /// Counts one goroutine's row (its spans go to the histograms apart).
    fn add_row(&mut self, r: &GoroutineRow) {
        self.count += 1;
        self.running_ns = self.running_ns.saturating_add(r.running_ns);
        self.runnable_ns = self.runnable_ns.saturating_add(r.runnable_ns);
        self.blocked_ns = self.blocked_ns.saturating_add(r.blocked_ns);
        self.syscall_ns = self.syscall_ns.saturating_add(r.syscall_ns);
    }

    /// Adds another group of the same function (times are never negative,
    /// so the saturating sums do not depend on the order).
    fn merge(&mut self, o: &FunctionGroup) {
        self.count += o.count;
        self.running_ns = self.running_ns.saturating_add(o.running_ns);
        self.runnable_ns = self.runnable_ns.saturating_add(o.runnable_ns);
        self.blocked_ns = self.blocked_ns.saturating_add(o.blocked_ns);
        self.syscall_ns = self.syscall_ns.saturating_add(o.syscall_ns);
        self.blocked.merge(&o.blocked);
        self.runnable.merge(&o.runnable);
    }
}

/// Rows and groups computed so far.
#[derive(Debug, Default)]
pub struct GoroutineTable {
    /// One row per goroutine done, in goroutine order.
    pub rows: Vec<GoroutineRow>,
    /// One group per start function seen, in order of first appearance.
    pub groups: Vec<FunctionGroup>,
    by_fn: FxHashMap<StrId, u32>,
    next: usize,
}

impl GoroutineTable {
    /// Goroutines a step takes at once (about 6 ms of work on one core of a
    /// busy trace), spread over the threads in chunks.
    pub const BATCH: usize = 4096;

    /// The whole table at once.
    pub fn compute(tl: &Timeline) -> GoroutineTable {
        let mut t = GoroutineTable::default();
        t.step(tl, Duration::MAX);
        t
    }

    /// Whether every goroutine of `tl` has its row.
    pub fn is_done(&self, tl: &Timeline) -> bool {
        self.next >= tl.goroutines.len()
    }

    /// How many goroutines have their row.
    pub fn done_count(&self) -> usize {
        self.next
    }

    /// Adds rows batch by batch until all are done or `budget` is spent
    /// (at least one batch is done per call).
    pub fn step(&mut self, tl: &Timeline, budget: Duration) {
        let started = Instant::now();
        self.rows.reserve(tl.goroutines.len().saturating_sub(self.rows.len()));
        while let Some(batch) = tl.goroutines.get(self.next..).filter(|rest| !rest.is_empty()) {
            let batch = batch.get(..Self::BATCH.min(batch.len())).unwrap_or(batch);
            let first = self.next;
            // Chunks on all threads, absorbed in order: rows stay in
            // goroutine order and groups in order of first appearance.
            let parts: Vec<Part> =
                batch.par_chunks(CHUNK).enumerate().map(|(c, gs)| Part::collect(tl, first + c * CHUNK, gs)).collect();
            for p in parts {
                self.absorb(p);
            }
            self.next += batch.len();
            if started.elapsed() >= budget {
                break;
            }
        }
    }

    /// Takes a chunk's rows and groups.
    fn absorb(&mut self, part: Part) {
        let global: Vec<u32> = part
            .groups
            .iter()
            .map(|g| {
                let i = *self.by_fn.entry(g.start_fn).or_insert_with(|| {
                    self.groups.push(FunctionGroup::new(g.start_fn));
                    (self.groups.len() - 1) as u32
                });
                if let Some(mine) = self.groups.get_mut(i as usize) {
                    mine.merge(g);
                }
                i
            })
            .collect();
        self.rows.extend(part.rows.into_iter().map(|mut r| {
            r.group = global.get(r.group as usize).copied().unwrap_or(r.group);
            r
        }));
    }
}

/// The rows of a chunk of goroutines, their groups numbered within it.
struct Part {
    rows: Vec<GoroutineRow>,
    groups: Vec<FunctionGroup>,
}

impl Part {
    /// The rows of `gs`, the goroutines from index `first` on.
    fn collect(tl: &Timeline, first: usize, gs: &[Goroutine]) -> Part {
        let mut part = Part { rows: Vec::with_capacity(gs.len()), groups: Vec::new() };
        let mut by_fn: FxHashMap<StrId, u32> = FxHashMap::default();
        for (k, g) in gs.iter().enumerate() {
            let group = *by_fn.entry(g.start_fn()).or_insert_with(|| {
                part.groups.push(FunctionGroup::new(g.start_fn()));
                (part.groups.len() - 1) as u32
            });
            let Some(grp) = part.groups.get_mut(group as usize) else { continue };
            let totals = add_spans(g, grp);
            let row = row_from_totals(tl, first + k, group, g, &totals);
            grp.add_row(&row);
            part.rows.push(row);
        }
        part
    }
}

/// Time per state of `g`, its blocked and runnable spans counted in `grp`.
fn add_spans(g: &Goroutine, grp: &mut FunctionGroup) -> [i64; GState::COUNT] {
    let mut totals = [0i64; GState::COUNT];
    for bi in 0..g.track.block_count() {
        g.track.for_each_in_block(bi, |s| {
            let state = Goroutine::state(&s);
            let d = s.end_ns - s.start_ns;
            match state.category() {
                Category::Blocked => grp.blocked.add(d),
                Category::Runnable => grp.runnable.add(d),
                _ => {}
            }
            if let Some(t) = totals.get_mut(state as usize) {
                *t = t.saturating_add(d);
            }
        });
    }
    totals
}

/// A goroutine's row from its time per state.
fn row_from_totals(tl: &Timeline, gi: usize, group: u32, g: &Goroutine, totals: &[i64; GState::COUNT]) -> GoroutineRow {
    let sum = |c: Category| {
        GState::ALL.iter().zip(totals).filter(|(s, _)| s.category() == c).fold(0i64, |a, (_, t)| a.saturating_add(*t))
    };
    let top_block = GState::ALL
        .iter()
        .zip(totals)
        .filter(|(s, t)| s.is_blocked() && **t > 0)
        .max_by_key(|(s, t)| (**t, std::cmp::Reverse(**s)))
        .map(|(s, t)| (*s, *t));
    let start_ns = g.created_ns().or(g.track.start_ns()).unwrap_or(tl.start_ns);
    let end_ns = g.exited_ns().unwrap_or(tl.end_ns).max(start_ns);
    GoroutineRow {
        gi: gi as u32,
        group,
        start_ns,
        end_ns,
        running_ns: sum(Category::Running),
        runnable_ns: sum(Category::Runnable),
        blocked_ns: sum(Category::Blocked),
        syscall_ns: sum(Category::Syscall),
        top_block,
    }
}
