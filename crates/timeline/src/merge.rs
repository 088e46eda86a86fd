//! Stitching generation parts together, in generation order.

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use trace_core::{GoroutineId, ProcId, ThreadId};

use crate::loglist::LogList;
use crate::model::{Counters, CpuSample, LogEntry, Proc, RangeKind, RangeSpan, Region, Thread, Timeline};
use crate::origins::Origins;
use crate::paged::{Packing, PagedBytes};
use crate::part::{Edge, GenPart, MetricKind, PartSizes, Retime, SHARDS, Seg, ShardPieces, StackMap};
use crate::ranges::RangeList;
use crate::regions::RegionList;
use crate::shard::{Done, Shard};
use crate::sorted_runs::SortedRuns;
use crate::stacks::{Frame, StackId, StackTree};
use crate::state::{MState, PState};
use crate::strings::{StrId, Strings};
use crate::tasklist::TaskList;
use crate::track::TrackBuilder;
use crate::user::{NO_STRING, UserKind, UserRecs};

/// Closed blocks a P or thread track holds before packing them away: a few
/// pages' worth, so each spill compresses whole pages.
const SPILL_BYTES: usize = 8 * crate::paged::PAGE_BYTES;

/// How far past the expected final size the vectors that grow all
/// through the trace are reserved: the room reserved is resident, and at
/// 10% it raised a busy 1 GB trace's peak by about 45 MiB.
const SLACK: f64 = 1.02;

/// Goroutine counters keep at most one sample per this many ns.
pub(crate) const COUNTER_RESOLUTION_NS: i64 = 10_000;

/// Appends a P's or thread's piece of the next generation, leaving out its
/// first span if it restates the state the track is in, or is idle before
/// anything happened.
fn stitch_simple(b: &mut TrackBuilder, seg: Seg, retime: Option<&Retime>, is_idle: impl Fn(u8) -> bool) {
    // Only the head's state matters here, which retiming leaves alone.
    let Some(head) = seg.track.first() else { return };
    let last = b.last_state();
    let idle = is_idle(head.state);
    let drop = (seg.head_restate && last == Some(head.state))
        || (b.is_empty() && idle && !seg.head_restate)
        || (last == Some(head.state) && idle);
    match retime {
        Some(r) => b.append_retimed(seg.track, drop, r.limit_ns, |t| r.apply(t)),
        None => b.append(seg.track, drop),
    }
}

/// One shard's goroutines of each part merged: (part, its goroutines).
type PartPieces = Vec<(usize, ShardPieces)>;

/// Accumulates parts in generation order.
pub(crate) struct Merger {
    parallel: bool,
    strings: Strings,
    stacks: StackTree,
    shards: Vec<Shard>,
    procs: FxHashMap<i64, TrackBuilder>,
    threads: FxHashMap<i64, TrackBuilder>,
    counts: [i64; 4],
    /// The last bucket of counts changes, kept open for the next part:
    /// its first events may fall in the same bucket.
    open_counts: Option<(i64, [i32; 4])>,
    counters: Counters,
    open_ranges: FxHashMap<(RangeKind, i64), (i64, StrId)>,
    /// GC cycles and pauses that ended (with no begin seen: from `i64::MIN`,
    /// the trace start once known).
    ranges: Vec<RangeSpan>,
    /// Sweeps and mark assists that ended, packed: there are millions.
    gc_work: RangeList,
    tasks: TaskList,
    open_regions: FxHashMap<i64, Vec<Region>>,
    regions: SortedRuns<Region>,
    logs: SortedRuns<LogEntry>,
    samples: Vec<CpuSample>,
    events: u64,
    generations: usize,
    start_ns: Option<i64>,
    end_ns: i64,
    /// The trace's size, and how far into it the parts merged so far reach.
    file_bytes: u64,
    merged_bytes: u64,
    /// The sizes of the part merged last.
    part_sizes: PartSizes,
}

impl Merger {
    /// A merger; `parallel` spreads the track work over rayon's threads.
    /// `file_bytes` (the trace's size) lets it size the tracks that grow
    /// all through the trace ahead of time.
    pub fn new(parallel: bool, file_bytes: u64) -> Merger {
        Merger {
            parallel,
            strings: Strings::default(),
            stacks: StackTree::default(),
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            procs: FxHashMap::default(),
            threads: FxHashMap::default(),
            counts: [0; 4],
            open_counts: None,
            counters: Counters::default(),
            open_ranges: FxHashMap::default(),
            ranges: Vec::new(),
            gc_work: RangeList::new(),
            tasks: TaskList::default(),
            open_regions: FxHashMap::default(),
            regions: SortedRuns::default(),
            logs: SortedRuns::default(),
            samples: Vec::new(),
            events: 0,
            generations: 0,
            start_ns: None,
            end_ns: 0,
            file_bytes,
            merged_bytes: 0,
            part_sizes: PartSizes::default(),
        }
    }

    /// How much the vectors that grow all through the trace will still
    /// grow, from how far into the file the merge is (with some slack);
    /// `None` before it is far enough in to tell.
    fn growth_ahead(&self) -> Option<f64> {
        let done = self.merged_bytes as f64;
        (done >= self.file_bytes as f64 / 64.0 && done > 0.0)
            .then(|| (self.file_bytes as f64 / done * SLACK).clamp(1.0, 64.0))
    }

    /// Grows the P, thread and counter vectors ahead (see
    /// [`TrackBuilder::reserve_scaled`]).
    fn reserve_ahead(&mut self) {
        let Some(scale) = self.growth_ahead() else { return };
        for b in self.procs.values_mut().chain(self.threads.values_mut()) {
            b.reserve_scaled(scale);
        }
        let c = &mut self.counters;
        for counter in [&mut c.running, &mut c.runnable, &mut c.blocked, &mut c.syscall, &mut c.heap_alloc] {
            counter.reserve_scaled(scale);
        }
    }

    /// The sizes of the part merged last, for sizing the next parts.
    pub fn part_sizes(&self) -> PartSizes {
        self.part_sizes
    }

    /// Packs the goroutine tracks it stitches as `packing` says (the
    /// default, [`Packing::Entropy`], packs spans about 1.5x in less than
    /// half the time [`Packing::Matched`] takes for about 1.9x).
    pub fn with_goroutine_packing(mut self, packing: Packing) -> Self {
        self.shards = (0..SHARDS).map(|_| Shard::with_packing(packing)).collect();
        self
    }

    /// Adds the next generations' parts, in order.
    pub fn merge(&mut self, parts: Vec<(GenPart<'_>, Option<Retime>)>) {
        // Per shard, each part's goroutine pieces with its stack map.
        let mut by_shard: Vec<PartPieces> = (0..SHARDS).map(|_| Vec::new()).collect();
        let mut maps = Vec::with_capacity(parts.len());
        let mut retimes = Vec::with_capacity(parts.len());
        for (pi, (mut part, retime)) in parts.into_iter().enumerate() {
            self.merged_bytes = self.merged_bytes.max(part.end_offset);
            self.part_sizes = part.sizes();
            let r = retime.as_ref();
            maps.push(self.merge_global(&mut part, r));
            for (s, pieces) in part.take_goroutines().into_iter().enumerate() {
                if let Some(list) = by_shard.get_mut(s) {
                    list.push((pi, pieces));
                }
            }
            for seg in part.take_procs() {
                stitch_simple(self.procs.entry(seg.id).or_default(), seg, r, |s| s == PState::Idle as u8);
            }
            for seg in part.take_threads() {
                stitch_simple(self.threads.entry(seg.id).or_default(), seg, r, |s| s == MState::Idle as u8);
            }
            retimes.push(retime);
        }
        self.reserve_ahead();
        let (strings, stacks) = (&self.strings, &self.stacks);
        let apply = |(shard, list): (&mut Shard, PartPieces)| {
            for (pi, (finished, pieces)) in list {
                let map = maps.get(pi).and_then(|m: &Option<Vec<StackId>>| m.as_deref());
                let retime = retimes.get(pi).and_then(Option::as_ref);
                for f in finished {
                    shard.add_finished(f, retime, strings, stacks);
                }
                for piece in pieces.into_pieces() {
                    shard.stitch(piece, map, retime, strings, stacks);
                }
            }
        };
        // Ps and threads pack their closed blocks meanwhile.
        let spill = |b: &mut TrackBuilder| b.spill(SPILL_BYTES, PagedBytes::new);
        let (shards, procs, threads) = (&mut self.shards, &mut self.procs, &mut self.threads);
        if self.parallel {
            rayon::join(
                || shards.par_iter_mut().zip(by_shard.into_par_iter()).for_each(apply),
                || procs.values_mut().chain(threads.values_mut()).for_each(spill),
            );
        } else {
            shards.iter_mut().zip(by_shard).for_each(apply);
            procs.values_mut().chain(threads.values_mut()).for_each(spill);
        }
    }

    /// Interns a generation's strings and stacks, in ID order, before it
    /// is collected, so its spans carry trace-wide stack numbers from the
    /// start. (All its strings: the merge interns some of them later, and
    /// the numbering must not depend on how merges and generations
    /// interleave.)
    pub fn intern_table(&mut self, table: &trace_core::EvTable<'_>) -> StackMap {
        for (_, s) in table.strings() {
            self.strings.intern(s);
        }
        let mut map = StackMap::default();
        for id in table.stack_ids() {
            let frames = table.resolved_frames(id);
            if !frames.is_empty() {
                map.insert(id.0, self.intern_stack(frames));
            }
        }
        map
    }

    /// Everything of a part that is not per resource; returns its stack
    /// map, if its stacks are numbered locally.
    fn merge_global(&mut self, part: &mut GenPart<'_>, retime: Option<&Retime>) -> Option<Vec<StackId>> {
        let fix = |t: i64| retime.map_or(t, |r| r.apply(t));
        self.generations += 1;
        self.events += part.events;
        if let Some(t) = part.first_time {
            self.start_ns.get_or_insert(fix(t));
            self.end_ns = self.end_ns.max(fix(part.last_time));
        }
        let stacks: Option<Vec<StackId>> =
            (!part.is_premapped()).then(|| part.stacks.iter().map(|frames| self.intern_stack(frames)).collect());
        let stack = |i: u32| match &stacks {
            Some(map) => map.get(i as usize).copied().unwrap_or_default(),
            None => StackId(i),
        };

        self.merge_counts(part, &fix);
        for &(t, kind, v) in &part.metrics {
            let t = fix(t);
            let c = match kind {
                MetricKind::HeapAlloc => &mut self.counters.heap_alloc,
                MetricKind::HeapGoal => &mut self.counters.heap_goal,
                MetricKind::Gomaxprocs => &mut self.counters.gomaxprocs,
            };
            c.push(t, v as i64);
        }
        for r in &part.ranges {
            let t = fix(r.time);
            let key = (r.kind, r.scope);
            match r.edge {
                Edge::Begin => {
                    let reason = self.strings.intern(r.reason);
                    self.open_ranges.insert(key, (t, reason));
                }
                Edge::Active => {
                    if !self.open_ranges.contains_key(&key) {
                        let reason = self.strings.intern(r.reason);
                        self.open_ranges.insert(key, (t, reason));
                    }
                }
                Edge::End => {
                    let (start_ns, reason) = match self.open_ranges.remove(&key) {
                        Some(open) => open,
                        None => (i64::MIN, self.strings.intern(r.reason)),
                    };
                    let range = RangeSpan { kind: r.kind, start_ns, end_ns: t, reason, scope: r.scope };
                    if r.kind.is_gc_work() {
                        // The first part with events set the trace start.
                        let trace_start = self.start_ns.unwrap_or(i64::MIN);
                        self.gc_work.push(RangeSpan { start_ns: start_ns.max(trace_start), ..range });
                    } else {
                        self.ranges.push(range);
                    }
                }
            }
        }
        self.merge_user(std::mem::take(&mut part.user), &fix, &stack);
        for &(t, g, p, m, s) in &part.samples {
            let t = fix(t);
            self.samples.push(CpuSample {
                time_ns: t,
                g: GoroutineId(g),
                p: ProcId(p),
                m: ThreadId(m),
                stack: stack(s),
            });
        }
        stacks
    }

    fn intern_stack(&mut self, frames: &[trace_core::ResolvedFrame<'_>]) -> StackId {
        let frames: Vec<Frame> = frames
            .iter()
            .map(|f| Frame {
                func: self.strings.intern(f.func),
                file: self.strings.intern(f.file),
                line: f.line.min(u64::from(u32::MAX)) as u32,
            })
            .collect();
        self.stacks.insert(&frames)
    }

    /// The goroutine counts: the first events' changes one by one, moved
    /// by the floor and then bucketed as the part buckets the rest (so a
    /// part retimed gives what one collected with its floor gives), then
    /// the part's buckets, which no floor moves. The last bucket stays
    /// open for the next part ([`Merger::finish`] closes it).
    fn merge_counts(&mut self, part: &GenPart<'_>, fix: &impl Fn(i64) -> i64) {
        let bucket_ns = part.bucket_ns.max(1);
        let early = part.early_count_changes().map(|(t, from, to)| {
            let t = fix(t);
            let mut deltas = [0; 4];
            if let Some(d) = from.and_then(|i| deltas.get_mut(i)) {
                *d -= 1;
            }
            if let Some(d) = to.and_then(|i| deltas.get_mut(i)) {
                *d += 1;
            }
            (t - t.rem_euclid(bucket_ns), deltas)
        });
        let mut open = self.open_counts.take();
        for (bucket, deltas) in early.chain(part.counts.iter().copied()) {
            match open.as_mut() {
                Some((b, sum)) if *b == bucket => sum.iter_mut().zip(deltas).for_each(|(s, d)| *s += d),
                _ => {
                    if let Some(done) = open.replace((bucket, deltas)) {
                        self.push_counts(done);
                    }
                }
            }
        }
        self.open_counts = open;
    }

    /// One bucket's changes to the goroutine counts.
    fn push_counts(&mut self, (t, deltas): (i64, [i32; 4])) {
        for (c, d) in deltas.into_iter().enumerate() {
            if d == 0 {
                continue;
            }
            let Some(n) = self.counts.get_mut(c) else { continue };
            *n = (*n + i64::from(d)).max(0);
            let v = *n;
            let counter = match c {
                0 => &mut self.counters.runnable,
                1 => &mut self.counters.running,
                2 => &mut self.counters.syscall,
                _ => &mut self.counters.blocked,
            };
            counter.push(t, v);
        }
    }

    fn merge_user(&mut self, user: UserRecs<'_>, fix: &impl Fn(i64) -> i64, stack: &impl Fn(u32) -> StackId) {
        let (strings, recs) = user.into_parts();
        // Each string the part names is interned once, not once per event.
        let names: Vec<StrId> = strings.iter().map(|s| self.strings.intern(s)).collect();
        let name = |i: u32| if i == NO_STRING { StrId(0) } else { names.get(i as usize).copied().unwrap_or(StrId(0)) };
        for u in recs {
            let t = fix(u.time);
            match u.what {
                UserKind::TaskBegin => {
                    let parent = u.parent();
                    let parent = if parent == u64::MAX { 0 } else { parent };
                    self.tasks.begin(u.id, t, parent, name(u.s1), u.g);
                }
                UserKind::TaskEnd => self.tasks.end(u.id, t, u.g),
                UserKind::RegionBegin => {
                    let typ = name(u.s1);
                    let open = self.open_regions.entry(u.g).or_default();
                    let depth = open.len() as u32;
                    let stack = stack(u.stack());
                    open.push(Region { g: GoroutineId(u.g), start_ns: t, end_ns: t, task: u.id, typ, depth, stack });
                    self.touch_task(u.id, u.g);
                }
                UserKind::RegionEnd => {
                    let typ = name(u.s1);
                    let open = self.open_regions.entry(u.g).or_default();
                    let found = open.iter().rposition(|r| r.typ == typ);
                    let region = match found {
                        Some(i) => {
                            let mut r = open.remove(i);
                            r.end_ns = t;
                            r
                        }
                        None => {
                            let (g, task) = (GoroutineId(u.g), u.id);
                            Region { g, start_ns: i64::MIN, end_ns: t, task, typ, depth: 0, stack: StackId::NONE }
                        }
                    };
                    // (As the end of the trace does with those still open.)
                    let start_ns = region.start_ns.max(self.start_ns.unwrap_or(i64::MIN));
                    self.regions.push(Region { start_ns, ..region });
                }
                UserKind::Log => {
                    let (category, message) = (name(u.s1), name(u.message()));
                    self.logs.push(LogEntry { time_ns: t, g: GoroutineId(u.g), task: u.id, category, message });
                    self.touch_task(u.id, u.g);
                }
            }
        }
    }

    fn touch_task(&mut self, id: u64, g: i64) {
        if id != 0 {
            self.tasks.touch(id, g);
        }
    }

    /// Closes everything still open at the end of the trace.
    pub fn finish(mut self, error: Option<trace_core::Error>, file_bytes: u64) -> Timeline {
        if let Some(last) = self.open_counts.take() {
            self.push_counts(last);
        }
        let start_ns = self.start_ns.unwrap_or(0);
        let end_ns = self.end_ns.max(start_ns);
        let shards = std::mem::take(&mut self.shards);
        let (strings, stacks) = (&self.strings, &self.stacks);
        let finish_shard = |shard: Shard| shard.finish(end_ns, strings, stacks);
        let done: Vec<(Done, Origins)> = if self.parallel {
            shards.into_par_iter().map(finish_shard).collect()
        } else {
            shards.into_iter().map(finish_shard).collect()
        };
        let mut goroutines = Vec::with_capacity(done.iter().map(|(gs, _)| gs.len()).sum());
        let mut origins = Origins::default();
        for (gs, shard_origins) in done {
            let offset = origins.append(shard_origins);
            goroutines.extend(gs.into_iter().map(|mut g| {
                g.origin.0 += offset;
                g
            }));
        }
        origins.seal();
        // Each P's and thread's track goes to a store of its own, so a view
        // showing them all keeps a few pages of each at hand.
        let stored = |b: TrackBuilder| {
            let track = b.finish(end_ns).into_store(&PagedBytes::new());
            track.seal();
            track
        };
        let procs: Vec<(i64, TrackBuilder)> = self.procs.drain().collect();
        let threads: Vec<(i64, TrackBuilder)> = self.threads.drain().collect();
        let proc = |(id, b): (i64, TrackBuilder)| Proc { id: ProcId(id), track: stored(b) };
        let thread = |(id, b): (i64, TrackBuilder)| Thread { id: ThreadId(id), track: stored(b) };
        let (mut procs, mut threads): (Vec<Proc>, Vec<Thread>) = if self.parallel {
            rayon::join(|| procs.into_par_iter().map(proc).collect(), || threads.into_par_iter().map(thread).collect())
        } else {
            (procs.into_iter().map(proc).collect(), threads.into_iter().map(thread).collect())
        };
        // IDs are unique, so an unstable sort gives the one order, without
        // the stable sort's scratch copy of half the records. (On all
        // threads: 4.75 M records of a 1 GB trace take a third of a second
        // on one, with the other idle at the very end of the build.)
        if self.parallel {
            goroutines.par_sort_unstable_by_key(|g| g.id);
        } else {
            goroutines.sort_unstable_by_key(|g| g.id);
        }
        crate::shard::join_named_again(&mut goroutines, &self.strings);
        procs.sort_unstable_by_key(|p| p.id);
        threads.sort_unstable_by_key(|t| t.id);

        let mut ranges = std::mem::take(&mut self.ranges);
        let mut open: Vec<_> = self.open_ranges.drain().collect();
        open.sort_by_key(|&((k, s), (t, _))| (t, k, s));
        let mut gc_work = std::mem::take(&mut self.gc_work);
        for ((kind, scope), (start, reason)) in open {
            let r = RangeSpan { kind, start_ns: start.max(start_ns), end_ns, reason, scope };
            if kind.is_gc_work() { gc_work.push(r) } else { ranges.push(r) }
        }
        gc_work.shrink_to_fit();
        for r in &mut ranges {
            r.start_ns = r.start_ns.max(start_ns);
        }
        ranges.sort_by_key(|r| (r.start_ns, r.end_ns, r.kind, r.scope));
        let (gc, stw): (Vec<_>, Vec<_>) = ranges.into_iter().partition(|r| r.kind == RangeKind::GcMark);

        let mut regions = std::mem::take(&mut self.regions);
        for (_, open) in self.open_regions.drain() {
            for r in open {
                regions.push(Region { start_ns: r.start_ns.max(start_ns), end_ns, ..r });
            }
        }
        let regions = RegionList::from_sorted(regions.into_sorted());
        let tasks = std::mem::take(&mut self.tasks).into_table();
        // Vectors grown by doubling hold up to twice what they need.
        let c = &mut self.counters;
        for counter in [
            &mut c.heap_alloc,
            &mut c.heap_goal,
            &mut c.gomaxprocs,
            &mut c.running,
            &mut c.runnable,
            &mut c.blocked,
            &mut c.syscall,
        ] {
            counter.shrink_to_fit();
        }
        self.samples.shrink_to_fit();

        Timeline {
            start_ns,
            end_ns,
            goroutines,
            procs,
            threads,
            threads_built: true,
            gc,
            stw,
            gc_work,
            counters: self.counters,
            tasks,
            regions,
            logs: LogList::from_sorted(std::mem::take(&mut self.logs).into_sorted()),
            cpu_samples: self.samples,
            origins,
            stacks: self.stacks,
            strings: self.strings,
            event_count: self.events,
            generations: self.generations,
            file_bytes,
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A region that ends without a beginning began before the trace (a
    /// flight recording starts mid-run): it starts at the trace's start.
    /// One never ended runs to the trace's end.
    #[test]
    fn regions_cut_by_the_trace_are_bounded_by_it() {
        let extra = trace_core::event::ExtraStrings::default();
        let ctx = trace_core::EventContext { table: None, extra: &extra };
        let typ = trace_core::StringId(0);
        let mut user = UserRecs::default();
        user.region((300, 7), false, 0, typ, 0, &ctx);
        user.region((400, 7), true, 0, typ, 0, &ctx);
        user.region((500, 7), false, 0, typ, 0, &ctx);
        user.region((600, 8), true, 0, typ, 0, &ctx);
        let mut m = Merger::new(false, 0);
        (m.start_ns, m.end_ns) = (Some(100), 1_000);
        m.merge_user(user, &|t| t, &|_| StackId::NONE);
        let tl = m.finish(None, 0);
        let got: Vec<(i64, i64, i64)> = tl.regions.iter().map(|r| (r.g.0, r.start_ns, r.end_ns)).collect();
        assert_eq!(got, [(7, 100, 300), (7, 400, 500), (8, 600, 1_000)]);
    }
}
