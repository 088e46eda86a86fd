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

use rustc_hash::FxHashMap;

use super::LogHist;
use crate::model::{Goroutine, Timeline};
use crate::state::{Category, GState};
use crate::strings::StrId;

/// One goroutine's row: its lifetime and time per kind of state, as
/// [`GoroutineTable::row`] assembles it.
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

/// The times of a row, in [`RowTime`] order.
const TIMES: usize = 6;
/// The times a packed row keeps: all but the lifetime, which is the sum
/// of the first four (a goroutine's spans tile its life).
const PACKED: usize = TIMES - 1;
/// In a row's top-block byte: its times are in [`GoroutineTable::big`].
const ON_SIDE: u8 = 0x80;
/// The top-block state of a goroutine that never blocked.
const NO_BLOCK: u8 = 0x7f;

/// One of the times a goroutine row keeps, for sorting by it without
/// assembling rows ([`GoroutineTable::time`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowTime {
    /// [`GoroutineRow::lifetime_ns`].
    Lifetime,
    /// [`GoroutineRow::running_ns`].
    Running,
    /// [`GoroutineRow::runnable_ns`].
    Runnable,
    /// [`GoroutineRow::blocked_ns`].
    Blocked,
    /// [`GoroutineRow::syscall_ns`].
    Syscall,
    /// The time of [`GoroutineRow::top_block`] (0 if it never blocked).
    TopBlock,
}

/// Rows and groups computed so far.
///
/// Rows are kept packed, not as [`GoroutineRow`]s: a 1 GB trace has 7.4 M
/// goroutines, whose 72-byte rows took 534 MB, half the file again on top
/// of the timeline. A row keeps five times in 32 bits each and its top
/// block reason in a byte, 21 bytes in all. The lifetime is not kept: a
/// goroutine's spans tile its life, so it is the sum of the time running,
/// runnable, blocked and in system calls. A row with a time over 4.29 s,
/// or whose lifetime is not that sum, keeps its times on the side (few
/// do). The rest (start, end, group) comes from the goroutine's record
/// when a row is asked for.
#[derive(Debug, Default)]
pub struct GoroutineTable {
    /// Per goroutine done, in goroutine order: its times in [`RowTime`]
    /// order without the lifetime (meaningless for a row on the side).
    times: Vec<[u32; PACKED]>,
    /// Per goroutine done: the [`GState`] it was blocked in longest, or
    /// [`NO_BLOCK`]; with [`ON_SIDE`] if its times are in `big`.
    top_block: Vec<u8>,
    /// The times of rows kept on the side, by goroutine index (ascending:
    /// rows are added in goroutine order).
    big: Vec<(u32, [i64; TIMES])>,
    /// One group per start function seen, in order of first appearance.
    pub groups: Vec<FunctionGroup>,
    by_fn: FxHashMap<StrId, u32>,
    next: usize,
}

impl GoroutineTable {
    /// Goroutines a step takes at once (about 6 ms of work on one core of a
    /// busy trace), spread over the threads by weight.
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

    /// How many rows there are: the goroutines with indices below this
    /// have one.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether there are no rows yet.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// One time of the row of goroutine `gi` (its index in
    /// [`Timeline::goroutines`]), if it has a row.
    pub fn time(&self, gi: usize, which: RowTime) -> Option<i64> {
        let packed = self.times.get(gi)?;
        if self.top_block.get(gi).is_some_and(|b| b & ON_SIDE != 0) {
            let at = self.big.binary_search_by_key(&(gi as u32), |(i, _)| *i).ok()?;
            return self.big.get(at).and_then(|(_, t)| t.get(which as usize)).copied();
        }
        match which {
            RowTime::Lifetime => Some(packed.iter().take(4).map(|&t| i64::from(t)).sum()),
            _ => (which as usize).checked_sub(1).and_then(|i| packed.get(i)).map(|&t| i64::from(t)),
        }
    }

    /// How many rows keep their times on the side (a time over 4.29 s, or
    /// a lifetime that is not the sum of the time per kind of state).
    pub fn side_rows(&self) -> usize {
        self.big.len()
    }

    /// The group of goroutine `gi`'s start function, if it has a row.
    pub fn group_of(&self, tl: &Timeline, gi: usize) -> Option<u32> {
        let g = tl.goroutines.get(gi).filter(|_| gi < self.len())?;
        self.by_fn.get(&g.start_fn()).copied()
    }

    /// The row of goroutine `gi`, if it has one (`tl` is the timeline the
    /// table was computed from).
    pub fn row(&self, tl: &Timeline, gi: usize) -> Option<GoroutineRow> {
        let g = tl.goroutines.get(gi)?;
        let time = |which| self.time(gi, which);
        let start_ns = start_of(tl, g);
        let top_block = self
            .top_block
            .get(gi)
            .and_then(|&s| GState::from_u8(s & !ON_SIDE))
            .map(|s| (s, time(RowTime::TopBlock).unwrap_or(0)));
        Some(GoroutineRow {
            gi: gi as u32,
            group: self.group_of(tl, gi)?,
            start_ns,
            end_ns: start_ns.saturating_add(time(RowTime::Lifetime)?),
            running_ns: time(RowTime::Running)?,
            runnable_ns: time(RowTime::Runnable)?,
            blocked_ns: time(RowTime::Blocked)?,
            syscall_ns: time(RowTime::Syscall)?,
            top_block,
        })
    }

    /// Every row, in goroutine order.
    pub fn rows<'a>(&'a self, tl: &'a Timeline) -> impl Iterator<Item = GoroutineRow> + 'a {
        (0..self.len()).filter_map(move |gi| self.row(tl, gi))
    }

    /// Adds rows batch by batch until all are done or `budget` is spent
    /// (at least one batch is done per call).
    pub fn step(&mut self, tl: &Timeline, budget: Duration) {
        let started = Instant::now();
        let more = tl.goroutines.len().saturating_sub(self.times.len());
        self.times.reserve_exact(more);
        self.top_block.reserve_exact(more);
        while let Some(batch) = tl.goroutines.get(self.next..).filter(|rest| !rest.is_empty()) {
            let batch = batch.get(..Self::BATCH.min(batch.len())).unwrap_or(batch);
            let first = self.next;
            let weights: Vec<usize> = batch.iter().map(|g| g.track.encoded_len()).collect();
            self.absorb(Part::split_by_weight(tl, first, batch, &weights));
            self.next += batch.len();
            if started.elapsed() >= budget {
                break;
            }
        }
    }

    /// Takes a part's rows and groups.
    fn absorb(&mut self, part: Part) {
        for g in &part.groups {
            let i = *self.by_fn.entry(g.start_fn).or_insert_with(|| {
                self.groups.push(FunctionGroup::new(g.start_fn));
                (self.groups.len() - 1) as u32
            });
            if let Some(mine) = self.groups.get_mut(i as usize) {
                mine.merge(g);
            }
        }
        for r in &part.rows {
            self.push(r);
        }
    }

    /// Packs row `r` (the next goroutine's) at the end.
    fn push(&mut self, r: &GoroutineRow) {
        let top_ns = r.top_block.map_or(0, |(_, ns)| ns);
        let times = [r.lifetime_ns(), r.running_ns, r.runnable_ns, r.blocked_ns, r.syscall_ns, top_ns];
        let [lifetime_ns, kept @ ..] = times;
        let packed = kept.map(|t| u32::try_from(t).ok());
        let tiled = kept.iter().take(4).try_fold(0i64, |a, &t| a.checked_add(t)) == Some(lifetime_ns);
        let mut top = r.top_block.map_or(NO_BLOCK, |(s, _)| s as u8);
        if !tiled || packed.contains(&None) {
            self.big.push((self.times.len() as u32, times));
            top |= ON_SIDE;
        }
        self.times.push(packed.map(|t| t.unwrap_or(0)));
        self.top_block.push(top);
    }
}

/// When goroutine `g` was created, or first seen (its end, an exit, is
/// costlier to find: it is in the last block, which may be compressed).
fn start_of(tl: &Timeline, g: &Goroutine) -> i64 {
    g.track.start_ns().unwrap_or(tl.start_ns)
}

/// The rows of a run of goroutines, and their groups in order of first
/// appearance (a row's `group` numbers its group within the part).
#[derive(Default)]
struct Part {
    rows: Vec<GoroutineRow>,
    groups: Vec<FunctionGroup>,
    by_fn: FxHashMap<StrId, u32>,
}

/// Encoded span bytes below which a part's goroutines are done on one
/// thread (about a millisecond of work).
const PART_BYTES: usize = 64 * 1024;

impl Part {
    /// The rows of `gs`, the goroutines from index `first` on, `weights`
    /// their encoded lengths: halved by weight, the halves done on all
    /// threads, down to parts of about [`PART_BYTES`] or one goroutine.
    ///
    /// Split by weight, not in chunks of so many goroutines: a few can
    /// hold most spans (busy-300mb's 20 largest hold 47% of them, side by
    /// side), and in chunks of 512, one thread did most of the work while
    /// the other waited. The halves are joined in order, so rows stay in
    /// goroutine order and groups in order of first appearance.
    fn split_by_weight(tl: &Timeline, first: usize, gs: &[Goroutine], weights: &[usize]) -> Part {
        let total: usize = weights.iter().sum();
        if gs.len() <= 1 || total <= PART_BYTES {
            let mut part = Part::default();
            for (k, g) in gs.iter().enumerate() {
                part.add(tl, first + k, g);
            }
            return part;
        }
        // The first goroutine at which the running weight reaches half,
        // kept off both ends so each half has one.
        let mut sum = 0;
        let mid = weights.iter().position(|w| {
            sum += w;
            sum * 2 >= total
        });
        let mid = mid.unwrap_or(0).clamp(1, gs.len() - 1);
        let ((left, right), (lw, rw)) = (gs.split_at(mid), weights.split_at(mid));
        let (a, b) = rayon::join(
            || Part::split_by_weight(tl, first, left, lw),
            || Part::split_by_weight(tl, first + mid, right, rw),
        );
        a.append(b)
    }

    /// Adds the row of goroutine `g`, index `gi`, after the others.
    fn add(&mut self, tl: &Timeline, gi: usize, g: &Goroutine) {
        let group = self.group(g.start_fn());
        let Some(grp) = self.groups.get_mut(group as usize) else { return };
        let spans = add_spans(g, grp);
        let row = row_from_spans(tl, gi, group, &spans);
        grp.add_row(&row);
        self.rows.push(row);
    }

    /// The number of `start_fn`'s group, added if new.
    fn group(&mut self, start_fn: StrId) -> u32 {
        *self.by_fn.entry(start_fn).or_insert_with(|| {
            self.groups.push(FunctionGroup::new(start_fn));
            (self.groups.len() - 1) as u32
        })
    }

    /// This part followed by `next` (the goroutines after this part's).
    fn append(mut self, next: Part) -> Part {
        let numbers: Vec<u32> = next
            .groups
            .iter()
            .map(|g| {
                let i = self.group(g.start_fn);
                if let Some(mine) = self.groups.get_mut(i as usize) {
                    mine.merge(g);
                }
                i
            })
            .collect();
        self.rows.extend(next.rows.into_iter().map(|mut r| {
            r.group = numbers.get(r.group as usize).copied().unwrap_or(r.group);
            r
        }));
        self
    }
}

/// What a row needs of a goroutine's spans.
struct SpanSums {
    /// Time per state.
    totals: [i64; GState::COUNT],
    /// The start of the first span.
    first_ns: Option<i64>,
    /// The start of the last span if it is the exit.
    exit_ns: Option<i64>,
}

/// Time per state of `g`, its blocked and runnable spans counted in `grp`.
///
/// All in one read of its bytes: each of `Track`'s own methods looks them
/// up in their store again, under its lock, and with a read per block,
/// one per start and one for the exit, two threads spent more time
/// waiting for that lock than one thread took alone.
fn add_spans(g: &Goroutine, grp: &mut FunctionGroup) -> SpanSums {
    let mut totals = [0i64; GState::COUNT];
    let mut last = None;
    let first_ns = g.track.with_blocks(|blocks| {
        for bi in 0..blocks.count() {
            blocks.for_each_in_block(bi, |s| {
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
                last = Some((state, s.start_ns));
            });
        }
        blocks.get(0).map(|b| b.start_ns)
    });
    let exit_ns = last.filter(|(s, _)| *s == GState::Exited).map(|(_, t)| t);
    SpanSums { totals, first_ns, exit_ns }
}

/// A goroutine's row from its spans.
fn row_from_spans(tl: &Timeline, gi: usize, group: u32, spans: &SpanSums) -> GoroutineRow {
    let totals = &spans.totals;
    let sum = |c: Category| {
        GState::ALL.iter().zip(totals).filter(|(s, _)| s.category() == c).fold(0i64, |a, (_, t)| a.saturating_add(*t))
    };
    let top_block = GState::ALL
        .iter()
        .zip(totals)
        .filter(|(s, t)| s.is_blocked() && **t > 0)
        .max_by_key(|(s, t)| (**t, std::cmp::Reverse(**s)))
        .map(|(s, t)| (*s, *t));
    let start_ns = spans.first_ns.unwrap_or(tl.start_ns);
    let end_ns = spans.exit_ns.unwrap_or(tl.end_ns).max(start_ns);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(times: [i64; TIMES], top: Option<GState>) -> GoroutineRow {
        let [lifetime, running_ns, runnable_ns, blocked_ns, syscall_ns, top_ns] = times;
        GoroutineRow {
            gi: 0,
            group: 0,
            start_ns: 1_000,
            end_ns: 1_000 + lifetime,
            running_ns,
            runnable_ns,
            blocked_ns,
            syscall_ns,
            top_block: top.map(|s| (s, top_ns)),
        }
    }

    /// Times that do not fit in 32 bits, and lifetimes that are not the
    /// sum of the times per kind of state, come back exact, and only the
    /// rows that have one are kept on the side.
    #[test]
    fn packed_times_come_back_exact() {
        let big = u32::MAX as i64;
        let rows = [
            ([0, 0, 0, 0, 0, 0], None),
            ([10, 1, 2, 3, 4, 3], Some(GState::ChanRecv)),
            ([2 * big, big, big - 1, 1, 0, 1], Some(GState::Cond)),
            ([big, 1, 2, big + 1, 4, big], Some(GState::Select)),
            ([1 << 40, 1 << 39, 7, 8, i64::MAX, 8], Some(GState::Sleep)),
            ([10, 1, 2, 3, 3, 3], Some(GState::ChanSend)),
            ([0, 0, 0, 0, 1, 0], None),
            ([u32::MAX as i64, 1, 0, 0, 0, 0], None),
        ];
        let mut t = GoroutineTable::default();
        for (times, top) in rows {
            t.push(&row(times, top));
        }
        assert_eq!(t.len(), rows.len());
        assert_eq!(t.big.iter().map(|(gi, _)| *gi).collect::<Vec<_>>(), vec![3, 4, 5, 6, 7]);
        let all = [
            RowTime::Lifetime,
            RowTime::Running,
            RowTime::Runnable,
            RowTime::Blocked,
            RowTime::Syscall,
            RowTime::TopBlock,
        ];
        for (gi, (times, top)) in rows.iter().enumerate() {
            let got: Vec<Option<i64>> = all.iter().map(|&w| t.time(gi, w)).collect();
            assert_eq!(got, times.map(Some), "row {gi}");
            assert_eq!(t.top_block.get(gi).and_then(|&b| GState::from_u8(b & !ON_SIDE)), *top, "row {gi}");
        }
        assert_eq!(t.time(rows.len(), RowTime::Running), None);
    }
}
