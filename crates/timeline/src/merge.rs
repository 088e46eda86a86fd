//! Stitching generation parts together, in generation order.

use rustc_hash::FxHashMap;
use trace_core::{GoroutineId, ProcId, ThreadId, TimeNs};

use crate::model::{
    Counters, CpuSample, Goroutine, LogEntry, Proc, RangeKind, RangeSpan, Region, Task, Thread, Timeline,
};
use crate::part::{Edge, GenPart, MetricKind, Rec, UserKind};
use crate::stacks::{Frame, StackId, StackTree};
use crate::state::{GState, MState, PState};
use crate::strings::{StrId, Strings};
use crate::track::TrackBuilder;

/// Goroutine counters keep at most one sample per this many ns.
const COUNTER_RESOLUTION_NS: i64 = 1_000;

#[derive(Default)]
struct GBuild {
    track: TrackBuilder,
    parent: i64,
    creation_stack: StackId,
    start_stack: StackId,
    first_stack: StackId,
    created_ns: Option<i64>,
    exited_ns: Option<i64>,
}

/// Accumulates parts in generation order.
#[derive(Default)]
pub(crate) struct Merger {
    strings: Strings,
    stacks: StackTree,
    goroutines: FxHashMap<i64, GBuild>,
    procs: FxHashMap<i64, TrackBuilder>,
    threads: FxHashMap<i64, TrackBuilder>,
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

impl Merger {
    /// Adds the next generation's part. `floor` is the chain's time floor
    /// for a speculative run (see `trace_core::parallel::Chained`).
    pub fn merge(&mut self, part: GenPart<'_>, floor: Option<TimeNs>) {
        let fix = |t: i64, ord: u32| match floor {
            Some(f) => t.max(f.0.saturating_add(1 + i64::from(ord))),
            None => t,
        };
        self.generations += 1;
        self.events += part.events;
        if let Some(t) = part.first_time {
            self.start_ns.get_or_insert(fix(t, 0));
            self.end_ns = self.end_ns.max(fix(part.last_time, part.events.saturating_sub(1) as u32));
        }
        let stacks: Vec<StackId> = part.stacks.iter().map(|frames| self.intern_stack(frames)).collect();
        let stack = |i: u32| stacks.get(i as usize).copied().unwrap_or_default();

        for c in &part.created {
            let g = self.goroutines.entry(c.g).or_default();
            g.parent = c.parent;
            g.creation_stack = stack(c.creation_stack);
            g.start_stack = stack(c.start_stack);
            g.created_ns = Some(fix(c.time, c.ord));
        }
        for (id, recs) in &part.goroutines {
            let g = self.goroutines.entry(*id).or_insert_with(|| GBuild { parent: -1, ..GBuild::default() });
            for r in recs {
                push_goroutine(g, r, fix(r.time, r.ord), stack(r.stack));
            }
        }
        for (id, recs) in &part.procs {
            let b = self.procs.entry(*id).or_default();
            for r in recs {
                push_simple(b, r, fix(r.time, r.ord), |s| s == PState::Idle as u8);
            }
        }
        for (id, recs) in &part.threads {
            let b = self.threads.entry(*id).or_default();
            for r in recs {
                push_simple(b, r, fix(r.time, r.ord), |s| s == MState::Idle as u8);
            }
        }
        self.merge_counts(&part, &fix);
        for &(t, ord, kind, v) in &part.metrics {
            let c = match kind {
                MetricKind::HeapAlloc => &mut self.counters.heap_alloc,
                MetricKind::HeapGoal => &mut self.counters.heap_goal,
                MetricKind::Gomaxprocs => &mut self.counters.gomaxprocs,
            };
            c.push(fix(t, ord), v as i64);
        }
        for r in &part.ranges {
            let t = fix(r.time, r.ord);
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
        self.merge_user(&part, &fix);
        for &(t, ord, g, p, m, s) in &part.samples {
            self.samples.push(CpuSample {
                time_ns: fix(t, ord),
                g: GoroutineId(g),
                p: ProcId(p),
                m: ThreadId(m),
                stack: stack(s),
            });
        }
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

    fn merge_counts(&mut self, part: &GenPart<'_>, fix: &impl Fn(i64, u32) -> i64) {
        for &(t, ord, from, to) in &part.counts {
            let t = fix(t, ord);
            for (c, d) in [(from, -1), (to, 1)] {
                let Some(c) = c else { continue };
                let Some(n) = self.counts.get_mut(c as usize) else { continue };
                *n = (*n + d).max(0);
                let v = *n;
                let counter = match c {
                    0 => &mut self.counters.runnable,
                    1 => &mut self.counters.running,
                    2 => &mut self.counters.syscall,
                    _ => &mut self.counters.blocked,
                };
                // Coalesce bursts: one sample per resolution step.
                let t = t - t.rem_euclid(COUNTER_RESOLUTION_NS);
                counter.push(t, v);
            }
        }
    }

    fn merge_user(&mut self, part: &GenPart<'_>, fix: &impl Fn(i64, u32) -> i64) {
        for u in &part.user {
            let t = fix(u.time, u.ord);
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
        let mut goroutines: Vec<Goroutine> = self
            .goroutines
            .drain()
            .map(|(id, g)| {
                let from = if g.start_stack != StackId::NONE { g.start_stack } else { g.first_stack };
                let start_fn = self.stacks.start_function(from, &self.strings);
                let name = self.strings.get(start_fn);
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
            })
            .collect();
        goroutines.sort_by_key(|g| g.id);
        let mut procs: Vec<Proc> =
            self.procs.drain().map(|(id, b)| Proc { id: ProcId(id), track: b.finish(end_ns) }).collect();
        procs.sort_by_key(|p| p.id);
        let mut threads: Vec<Thread> =
            self.threads.drain().map(|(id, b)| Thread { id: ThreadId(id), track: b.finish(end_ns) }).collect();
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
fn push_simple(b: &mut TrackBuilder, r: &Rec, t: i64, is_idle: impl Fn(u8) -> bool) {
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
