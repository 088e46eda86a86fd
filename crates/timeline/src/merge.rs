//! Stitching generation parts together, in generation order.

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use trace_core::{GoroutineId, ProcId, ThreadId, TimeNs};

use crate::model::{
    Counters, CpuSample, Goroutine, LogEntry, Proc, RangeKind, RangeSpan, Region, Task, Thread, Timeline,
};
use crate::part::{Edge, GenPart, Log, MetricKind, Rec, SHARDS, Tag, UserKind};
use crate::stacks::{Frame, StackId, StackTree};
use crate::state::{GState, MState, PState};
use crate::strings::{StrId, Strings};
use crate::track::TrackBuilder;

/// Goroutine counters keep at most one sample per this many ns.
pub(crate) const COUNTER_RESOLUTION_NS: i64 = 10_000;

struct GBuild {
    track: TrackBuilder,
    parent: i64,
    creation_stack: StackId,
    start_stack: StackId,
    first_stack: StackId,
    created_ns: Option<i64>,
    exited_ns: Option<i64>,
}

/// The tracks of the resources whose records go to one shard log.
#[derive(Default)]
struct Shard {
    goroutines: FxHashMap<i64, GBuild>,
    procs: FxHashMap<i64, TrackBuilder>,
    threads: FxHashMap<i64, TrackBuilder>,
}

impl Shard {
    /// Applies one part's log for this shard.
    fn apply(&mut self, log: &Log, stacks: &[StackId], floor: Option<TimeNs>) {
        let stack = |i: u32| stacks.get(i as usize).copied().unwrap_or_default();
        for mut r in log.iter() {
            r.time = fix(floor, r.time, r.ord);
            match r.tag {
                t if t == Tag::G as u8 => {
                    let g = self.goroutines.entry(r.id).or_insert_with(GBuild::new);
                    push_goroutine(g, &r, r.time, stack(r.stack));
                }
                t if t == Tag::Created as u8 => {
                    let g = self.goroutines.entry(r.id).or_insert_with(GBuild::new);
                    g.parent = r.a;
                    g.creation_stack = stack(r.stack);
                    g.start_stack = stack(r.b as u32);
                    g.created_ns = Some(r.time);
                }
                t if t == Tag::Label as u8 => {
                    if let Some(g) = self.goroutines.get_mut(&r.id)
                        && g.track.last_state() == Some(GState::Running as u8)
                    {
                        g.track.set_last_b(r.a);
                    }
                }
                t if t == Tag::P as u8 => {
                    push_simple(self.procs.entry(r.id).or_default(), &r, |s| s == PState::Idle as u8);
                }
                _ => push_simple(self.threads.entry(r.id).or_default(), &r, |s| s == MState::Idle as u8),
            }
        }
    }
}

/// Accumulates parts in generation order.
pub(crate) struct Merger {
    parallel: bool,
    strings: Strings,
    stacks: StackTree,
    shards: Vec<Shard>,
    counts: [i64; 4],
    counters: Counters,
    open_ranges: FxHashMap<(RangeKind, i64), (i64, StrId)>,
    /// Range ends seen with no begin: their start is the trace start.
    ranges: Vec<RangeSpan>,
    tasks: FxHashMap<u64, Task>,
    open_regions: FxHashMap<i64, Vec<Region>>,
    regions: Vec<Region>,
    logs: Vec<LogEntry>,
    samples: Vec<CpuSample>,
    events: u64,
    generations: usize,
    start_ns: Option<i64>,
    end_ns: i64,
}

impl GBuild {
    fn new() -> GBuild {
        GBuild {
            track: TrackBuilder::default(),
            parent: -1,
            creation_stack: StackId::NONE,
            start_stack: StackId::NONE,
            first_stack: StackId::NONE,
            created_ns: None,
            exited_ns: None,
        }
    }
}

impl Merger {
    /// A merger; `parallel` spreads the track work over rayon's threads.
    pub fn new(parallel: bool) -> Merger {
        Merger {
            parallel,
            strings: Strings::default(),
            stacks: StackTree::default(),
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            counts: [0; 4],
            counters: Counters::default(),
            open_ranges: FxHashMap::default(),
            ranges: Vec::new(),
            tasks: FxHashMap::default(),
            open_regions: FxHashMap::default(),
            regions: Vec::new(),
            logs: Vec::new(),
            samples: Vec::new(),
            events: 0,
            generations: 0,
            start_ns: None,
            end_ns: 0,
        }
    }

    /// Adds the next generations' parts, in order, each with the chain's
    /// time floor for it (see `trace_core::parallel::Chained`).
    pub fn merge(&mut self, parts: &[(GenPart<'_>, Option<TimeNs>)]) {
        let maps: Vec<Vec<StackId>> = parts.iter().map(|(p, floor)| self.merge_global(p, *floor)).collect();
        let apply = |(s, shard): (usize, &mut Shard)| {
            for ((part, floor), map) in parts.iter().zip(&maps) {
                if let Some(log) = part.shards.get(s) {
                    shard.apply(log, map, *floor);
                }
            }
        };
        if self.parallel {
            self.shards.par_iter_mut().enumerate().for_each(apply);
        } else {
            self.shards.iter_mut().enumerate().for_each(apply);
        }
    }

    /// Everything of a part that is not per resource; returns its stack map.
    fn merge_global(&mut self, part: &GenPart<'_>, floor: Option<TimeNs>) -> Vec<StackId> {
        self.generations += 1;
        self.events += part.events;
        if let Some(t) = part.first_time {
            self.start_ns.get_or_insert(fix(floor, t, 0));
            let last_ord = part.events.saturating_sub(1).min(u64::from(u32::MAX)) as u32;
            self.end_ns = self.end_ns.max(fix(floor, part.last_time, last_ord));
        }
        let stacks: Vec<StackId> = part.stacks.iter().map(|frames| self.intern_stack(frames)).collect();
        let stack = |i: u32| stacks.get(i as usize).copied().unwrap_or_default();

        self.merge_counts(part, floor);
        for &(t, ord, kind, v) in &part.metrics {
            let t = fix(floor, t, ord);
            let c = match kind {
                MetricKind::HeapAlloc => &mut self.counters.heap_alloc,
                MetricKind::HeapGoal => &mut self.counters.heap_goal,
                MetricKind::Gomaxprocs => &mut self.counters.gomaxprocs,
            };
            c.push(t, v as i64);
        }
        for r in &part.ranges {
            let t = fix(floor, r.time, r.ord);
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
                    self.ranges.push(RangeSpan { kind: r.kind, start_ns, end_ns: t, reason, scope: r.scope });
                }
            }
        }
        self.merge_user(part, floor);
        for &(t, ord, g, p, m, s) in &part.samples {
            self.samples.push(CpuSample {
                time_ns: fix(floor, t, ord),
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

    fn merge_counts(&mut self, part: &GenPart<'_>, floor: Option<TimeNs>) {
        for &(t, ord, deltas) in &part.counts {
            let t = fix(floor, t, ord);
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
    }

    fn merge_user(&mut self, part: &GenPart<'_>, floor: Option<TimeNs>) {
        for u in &part.user {
            let t = fix(floor, u.time, u.ord);
            match u.what {
                UserKind::TaskBegin | UserKind::TaskEnd => {
                    let typ = if u.what == UserKind::TaskBegin { self.strings.intern(u.s1) } else { StrId(0) };
                    let task = self.tasks.entry(u.id).or_insert_with(|| Task {
                        id: u.id,
                        parent: 0,
                        typ: StrId(0),
                        start_ns: None,
                        end_ns: None,
                        goroutines: Vec::new(),
                    });
                    if u.what == UserKind::TaskBegin {
                        task.start_ns = Some(t);
                        task.parent = if u.parent == u64::MAX { 0 } else { u.parent };
                        task.typ = typ;
                    } else {
                        task.end_ns = Some(t);
                    }
                    add_goroutine(task, u.g);
                }
                UserKind::RegionBegin => {
                    let typ = self.strings.intern(u.s1);
                    let open = self.open_regions.entry(u.g).or_default();
                    let depth = open.len() as u32;
                    open.push(Region { g: GoroutineId(u.g), start_ns: t, end_ns: t, task: u.id, typ, depth });
                    self.touch_task(u.id, u.g);
                }
                UserKind::RegionEnd => {
                    let typ = self.strings.intern(u.s1);
                    let open = self.open_regions.entry(u.g).or_default();
                    let found = open.iter().rposition(|r| r.typ == typ);
                    let region = match found {
                        Some(i) => {
                            let mut r = open.remove(i);
                            r.end_ns = t;
                            r
                        }
                        None => {
                            Region { g: GoroutineId(u.g), start_ns: i64::MIN, end_ns: t, task: u.id, typ, depth: 0 }
                        }
                    };
                    self.regions.push(region);
                }
                UserKind::Log => {
                    let (category, message) = (self.strings.intern(u.s1), self.strings.intern(u.s2));
                    self.logs.push(LogEntry { time_ns: t, g: GoroutineId(u.g), task: u.id, category, message });
                    self.touch_task(u.id, u.g);
                }
            }
        }
    }

    fn touch_task(&mut self, id: u64, g: i64) {
        if id != 0
            && let Some(t) = self.tasks.get_mut(&id)
        {
            add_goroutine(t, g);
        }
    }

    /// Closes everything still open at the end of the trace.
    pub fn finish(mut self, error: Option<trace_core::Error>, file_bytes: u64) -> Timeline {
        let start_ns = self.start_ns.unwrap_or(0);
        let end_ns = self.end_ns.max(start_ns);
        let shards = std::mem::take(&mut self.shards);
        let (strings, stacks) = (&self.strings, &self.stacks);
        let finish_shard = |shard: Shard| {
            let gs: Vec<Goroutine> =
                shard.goroutines.into_iter().map(|(id, g)| finish_goroutine(id, g, end_ns, strings, stacks)).collect();
            let ps: Vec<Proc> =
                shard.procs.into_iter().map(|(id, b)| Proc { id: ProcId(id), track: b.finish(end_ns) }).collect();
            let ms: Vec<Thread> =
                shard.threads.into_iter().map(|(id, b)| Thread { id: ThreadId(id), track: b.finish(end_ns) }).collect();
            (gs, ps, ms)
        };
        let done: Vec<_> = if self.parallel {
            shards.into_par_iter().map(finish_shard).collect()
        } else {
            shards.into_iter().map(finish_shard).collect()
        };
        let (mut goroutines, mut procs, mut threads) = (Vec::new(), Vec::new(), Vec::new());
        for (gs, ps, ms) in done {
            goroutines.extend(gs);
            procs.extend(ps);
            threads.extend(ms);
        }
        goroutines.sort_by_key(|g| g.id);
        procs.sort_by_key(|p| p.id);
        threads.sort_by_key(|t| t.id);

        let mut ranges = std::mem::take(&mut self.ranges);
        let mut open: Vec<_> = self.open_ranges.drain().collect();
        open.sort_by_key(|&((k, s), (t, _))| (t, k, s));
        for ((kind, scope), (start, reason)) in open {
            ranges.push(RangeSpan { kind, start_ns: start, end_ns, reason, scope });
        }
        for r in &mut ranges {
            r.start_ns = r.start_ns.max(start_ns);
        }
        ranges.sort_by_key(|r| (r.start_ns, r.end_ns, r.kind, r.scope));
        let (gc, rest): (Vec<_>, Vec<_>) = ranges.into_iter().partition(|r| r.kind == RangeKind::GcMark);
        let (stw, gc_work): (Vec<_>, Vec<_>) = rest.into_iter().partition(|r| r.kind == RangeKind::Stw);

        let mut regions = std::mem::take(&mut self.regions);
        for (_, open) in self.open_regions.drain() {
            regions.extend(open.into_iter().map(|r| Region { end_ns, ..r }));
        }
        for r in &mut regions {
            r.start_ns = r.start_ns.max(start_ns);
        }
        regions.sort_by_key(|r| (r.g, r.start_ns, r.depth, r.end_ns));
        let mut tasks: Vec<Task> = self.tasks.drain().map(|(_, t)| t).collect();
        tasks.sort_by_key(|t| t.id);

        Timeline {
            start_ns,
            end_ns,
            goroutines,
            procs,
            threads,
            gc,
            stw,
            gc_work,
            counters: self.counters,
            tasks,
            regions,
            logs: self.logs,
            cpu_samples: self.samples,
            stacks: self.stacks,
            strings: self.strings,
            event_count: self.events,
            generations: self.generations,
            file_bytes,
            error,
        }
    }
}

fn finish_goroutine(id: i64, g: GBuild, end_ns: i64, strings: &Strings, stacks: &StackTree) -> Goroutine {
    let from = if g.start_stack != StackId::NONE { g.start_stack } else { g.first_stack };
    let start_fn = stacks.start_function(from, strings);
    let name = strings.get(start_fn);
    let is_system = name.starts_with("runtime.") && name != "runtime.main";
    Goroutine {
        id: GoroutineId(id),
        parent: GoroutineId(g.parent),
        start_fn,
        creation_stack: g.creation_stack,
        start_stack: g.start_stack,
        created_ns: g.created_ns,
        exited_ns: g.exited_ns,
        is_system,
        track: g.track.finish(end_ns),
    }
}

/// Go's timestamp repair across a generation boundary, for the `ord`-th
/// event of a speculatively decoded generation.
fn fix(floor: Option<TimeNs>, t: i64, ord: u32) -> i64 {
    let t = match floor {
        Some(f) => t.max(f.0.saturating_add(1 + i64::from(ord))),
        None => t,
    };
    t.clamp(-crate::part::MAX_TIME_NS, crate::part::MAX_TIME_NS)
}

fn add_goroutine(task: &mut Task, g: i64) {
    let g = GoroutineId(g);
    if g.is_some()
        && let Err(i) = task.goroutines.binary_search(&g)
    {
        task.goroutines.insert(i, g);
    }
}

/// Appends a goroutine record, skipping restatements of a known state.
fn push_goroutine(g: &mut GBuild, r: &Rec, t: i64, stack: StackId) {
    let state = GState::from_u8(r.state).unwrap_or(GState::Blocked);
    if r.restate
        && let Some(last) = g.track.last_state().and_then(GState::from_u8)
        && last.category() == state.category()
    {
        return;
    }
    if g.first_stack == StackId::NONE
        && stack != StackId::NONE
        && (state.is_blocked() || matches!(state, GState::Syscall | GState::Preempted | GState::Yielded))
    {
        g.first_stack = stack;
    }
    if state == GState::Exited {
        g.exited_ns = Some(t);
    }
    g.track.push(t, r.state, stack, r.a, r.b);
}

/// Appends a P or thread record, skipping restatements of a known state and
/// the leading idle spans before anything happened.
fn push_simple(b: &mut TrackBuilder, r: &Rec, is_idle: impl Fn(u8) -> bool) {
    let t = r.time;
    if r.restate && b.last_state() == Some(r.state) {
        return;
    }
    if b.is_empty() && is_idle(r.state) && !r.restate {
        return;
    }
    if b.last_state() == Some(r.state) && is_idle(r.state) {
        return;
    }
    b.push(t, r.state, StackId::NONE, r.a, r.b);
}
