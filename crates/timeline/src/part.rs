//! What one generation contributes to the timeline, collected on its own
//! thread before the generations are stitched together in order.

use rustc_hash::FxHashMap;
use trace_core::event::RangeName;
use trace_core::spec::ev;
use trace_core::{Event, EventContext, EventKind, GoState, ProcState, ResolvedFrame, ResourceId};

use crate::state::{GState, MState, PState};

/// Times are clamped to +-2^61 ns (73 years), far beyond any real trace.
pub(crate) const MAX_TIME_NS: i64 = 1 << 61;

/// Goroutine, P and thread records are spread over this many logs by
/// resource, so the merge can run one log index per thread.
pub(crate) const SHARDS: usize = 64;

/// Kinds of records in a shard log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tag {
    /// A goroutine state change.
    G = 0,
    /// A P state change.
    P = 1,
    /// A thread state change.
    M = 2,
    /// A goroutine creation (parent, creation stack, start stack).
    Created = 3,
    /// A GC mark worker mode for the goroutine's running span.
    Label = 4,
}

const RESTATE: u8 = 0x80;

/// One decoded log record.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rec {
    pub tag: u8,
    /// A restatement (status event): ignored if the state is already known.
    pub restate: bool,
    pub id: i64,
    pub time: i64,
    /// The event's number in its generation (Sync = 0), for time fix-ups.
    pub ord: u32,
    pub state: u8,
    /// Local stack index (0 = none); for Created, the creation stack.
    pub stack: u32,
    /// For Created: the parent.
    pub a: i64,
    /// For Created: the start stack.
    pub b: i64,
}

/// A compact, time-ordered byte log of records.
#[derive(Default)]
pub(crate) struct Log {
    bytes: Vec<u8>,
    last_time: i64,
    last_ord: u32,
}

impl Log {
    fn push(&mut self, r: &Rec) {
        // Encode into a stack buffer: one capacity check per record.
        let mut buf = [0u8; 64];
        buf[0] = r.tag | if r.restate { RESTATE } else { 0 };
        let mut n = put_at(&mut buf, 1, zz(r.id));
        n = put_at(&mut buf, n, zz(r.time - self.last_time));
        n = put_at(&mut buf, n, u64::from(r.ord.wrapping_sub(self.last_ord)));
        if let Some(b) = buf.get_mut(n) {
            *b = r.state;
        }
        n = put_at(&mut buf, n + 1, u64::from(r.stack));
        n = put_at(&mut buf, n, zz(r.a));
        n = put_at(&mut buf, n, zz(r.b));
        self.last_time = r.time;
        self.last_ord = r.ord;
        self.bytes.extend_from_slice(buf.get(..n).unwrap_or_default());
    }

    /// The records, in order.
    pub fn iter(&self) -> LogIter<'_> {
        LogIter { bytes: &self.bytes, time: 0, ord: 0 }
    }
}

/// Iterates a [`Log`].
pub(crate) struct LogIter<'l> {
    bytes: &'l [u8],
    time: i64,
    ord: u32,
}

impl Iterator for LogIter<'_> {
    type Item = Rec;

    fn next(&mut self) -> Option<Rec> {
        let (&tag, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        let id = unzz(get(&mut self.bytes));
        self.time += unzz(get(&mut self.bytes));
        self.ord = self.ord.wrapping_add(get(&mut self.bytes) as u32);
        let (&state, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        let stack = get(&mut self.bytes) as u32;
        let a = unzz(get(&mut self.bytes));
        let b = unzz(get(&mut self.bytes));
        let (time, ord) = (self.time, self.ord);
        Some(Rec { tag: tag & !RESTATE, restate: tag & RESTATE != 0, id, time, ord, state, stack, a, b })
    }
}

/// Writes a varint at `buf[at..]`, returning the new end (at most 10
/// bytes; a full buffer drops the rest, which 7 varints of 64 bytes never hit).
fn put_at(buf: &mut [u8; 64], mut at: usize, mut v: u64) -> usize {
    while v >= 0x80 {
        if let Some(b) = buf.get_mut(at) {
            *b = v as u8 | 0x80;
        }
        at += 1;
        v >>= 7;
    }
    if let Some(b) = buf.get_mut(at) {
        *b = v as u8;
    }
    at + 1
}

fn get(bytes: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    let mut shift = 0u32;
    while let Some((&b, rest)) = bytes.split_first() {
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift.min(63);
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    v
}

fn zz(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzz(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// The shard log a resource's records go to.
pub(crate) fn shard_of(tag: Tag, id: i64) -> usize {
    let kind = match tag {
        Tag::P => 1u64,
        Tag::M => 2,
        _ => 0,
    };
    let h = (id as u64 ^ (kind << 61)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 58) as usize % SHARDS
}

/// Phase of a range event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Edge {
    Begin,
    Active,
    End,
}

/// A runtime range event.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RangeRec<'a> {
    pub time: i64,
    pub ord: u32,
    pub kind: crate::model::RangeKind,
    pub edge: Edge,
    pub scope: i64,
    pub reason: &'a [u8],
}

/// A task, region or log event.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserRec<'a> {
    pub time: i64,
    pub ord: u32,
    pub what: UserKind,
    pub g: i64,
    pub id: u64,
    pub parent: u64,
    pub s1: &'a [u8],
    pub s2: &'a [u8],
}

/// Which user annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UserKind {
    TaskBegin,
    TaskEnd,
    RegionBegin,
    RegionEnd,
    Log,
}

/// Which metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MetricKind {
    HeapAlloc,
    HeapGoal,
    Gomaxprocs,
}

/// Everything one generation contributes.
pub(crate) struct GenPart<'a> {
    /// Local stacks, innermost frame first; index 0 is the empty stack.
    pub stacks: Vec<Vec<ResolvedFrame<'a>>>,
    stack_index: FxHashMap<u64, u32>,
    /// Goroutine, P and thread records by [`shard_of`].
    pub shards: Vec<Log>,
    /// Goroutine category changes, summed per counter bucket: (bucket
    /// start, first event number, deltas for runnable, running, syscall,
    /// blocked).
    pub counts: Vec<(i64, u32, [i32; 4])>,
    pub metrics: Vec<(i64, u32, MetricKind, u64)>,
    pub ranges: Vec<RangeRec<'a>>,
    pub user: Vec<UserRec<'a>>,
    /// CPU samples: (time, event number, g, p, m, local stack).
    pub samples: Vec<(i64, u32, i64, i64, i64, u32)>,
    pub events: u64,
    pub first_time: Option<i64>,
    pub last_time: i64,
    pub end_offset: u64,
    /// The number of the event being added.
    cur_ord: u32,
    /// Counter bucket width.
    pub bucket_ns: i64,
}

impl<'a> Default for GenPart<'a> {
    fn default() -> Self {
        GenPart::new(10_000)
    }
}

impl<'a> GenPart<'a> {
    /// An empty part. Times stay as the run reported them; the merge
    /// applies the chain's time floor using each record's event number.
    pub fn new(bucket_ns: i64) -> Self {
        GenPart {
            stacks: Vec::new(),
            stack_index: FxHashMap::default(),
            shards: (0..SHARDS).map(|_| Log::default()).collect(),
            counts: Vec::new(),
            metrics: Vec::new(),
            ranges: Vec::new(),
            user: Vec::new(),
            samples: Vec::new(),
            events: 0,
            first_time: None,
            last_time: 0,
            end_offset: 0,
            cur_ord: 0,
            bucket_ns: bucket_ns.max(1),
        }
    }

    /// Reserves about `bytes` in total across the shard logs.
    pub fn reserve_logs(&mut self, bytes: usize) {
        for log in &mut self.shards {
            log.bytes.reserve(bytes / SHARDS);
        }
    }

    /// Interns a generation stack locally.
    fn stack(&mut self, ctx: &EventContext<'_, 'a>, id: trace_core::StackId) -> u32 {
        if id.0 == 0 {
            return 0;
        }
        if self.stacks.is_empty() {
            self.stacks.push(Vec::new());
        }
        if let Some(&i) = self.stack_index.get(&id.0) {
            return i;
        }
        let frames = ctx.table.map(|t| t.resolved_frames(id).to_vec()).unwrap_or_default();
        if frames.is_empty() {
            return 0;
        }
        let i = self.stacks.len() as u32;
        self.stacks.push(frames);
        self.stack_index.insert(id.0, i);
        i
    }

    fn funcs(&self, stack: u32) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.stacks.get(stack as usize).into_iter().flatten().map(|f| f.func)
    }

    /// Classifies a goroutine found waiting by a status event from its stack.
    fn waiting_state(&self, stack: u32) -> GState {
        for f in self.funcs(stack) {
            let s = match f {
                b"runtime.chanrecv" | b"runtime.chanrecv1" | b"runtime.chanrecv2" => GState::ChanRecv,
                b"runtime.chansend" | b"runtime.chansend1" => GState::ChanSend,
                b"runtime.selectgo" | b"runtime.block" => GState::Select,
                b"time.Sleep" => GState::Sleep,
                b"internal/poll.runtime_pollWait" | b"runtime.netpollblock" => GState::Network,
                b"sync.runtime_notifyListWait" => GState::Cond,
                _ if f.starts_with(b"sync.") || f.starts_with(b"internal/sync.") => {
                    return GState::refine_sync(self.funcs(stack));
                }
                _ => continue,
            };
            return s;
        }
        GState::Blocked
    }

    fn rec(&mut self, tag: Tag, id: i64, r: Rec) {
        if tag != Tag::G && tag != Tag::Created && tag != Tag::Label && id < 0 {
            return;
        }
        if let Some(log) = self.shards.get_mut(shard_of(tag, id)) {
            log.push(&Rec { tag: tag as u8, id, ord: self.cur_ord, ..r });
        }
    }

    fn g(&mut self, g: i64, r: Rec) {
        self.rec(Tag::G, g, r);
    }

    /// P spans keep the goroutine only: the thread is on the thread's own
    /// track, and storing it here costs 2-3 bytes a span.
    fn p(&mut self, p: i64, r: Rec) {
        self.rec(Tag::P, p, Rec { b: -1, ..r });
    }

    /// Thread spans keep the goroutine only (its P is on the P's track).
    fn m(&mut self, m: i64, r: Rec) {
        self.rec(Tag::M, m, Rec { b: -1, ..r });
    }

    /// Adds one event (the `ord`-th of the generation, Sync = 0).
    pub fn add(&mut self, e: &Event, ctx: &EventContext<'_, 'a>, ord: u32) {
        // A damaged trace can carry absurd times (a saturated tick
        // conversion, a wrapped one): clamp them once here so no difference
        // of two times downstream can overflow.
        let mut clamped = *e;
        clamped.time = trace_core::TimeNs(e.time.0.clamp(-MAX_TIME_NS, MAX_TIME_NS));
        let e = &clamped;
        let time = e.time.0;
        self.cur_ord = ord;
        self.events += 1;
        self.first_time.get_or_insert(time);
        self.last_time = time;
        let (g, p, m) = (e.g.0, e.p.0, e.m.0);
        if let Some(st) = e.state_transition() {
            self.count(&st, time);
        }
        match e.kind() {
            EventKind::StateTransition => self.transition(e, ctx),
            EventKind::Metric => {
                let kind = match e.typ {
                    ev::HEAP_ALLOC => MetricKind::HeapAlloc,
                    ev::HEAP_GOAL => MetricKind::HeapGoal,
                    _ => MetricKind::Gomaxprocs,
                };
                self.metrics.push((time, ord, kind, e.args[0]));
            }
            EventKind::RangeBegin | EventKind::RangeActive | EventKind::RangeEnd => {
                let Some(r) = e.range() else { return };
                let edge = match e.kind() {
                    EventKind::RangeBegin => Edge::Begin,
                    EventKind::RangeActive => Edge::Active,
                    _ => Edge::End,
                };
                use crate::model::RangeKind as K;
                let (kind, reason) = match r.name {
                    RangeName::StopTheWorld(s) => (K::Stw, ctx.string(s)),
                    RangeName::GcMark => (K::GcMark, &b""[..]),
                    RangeName::GcSweep => (K::Sweep, &b""[..]),
                    RangeName::GcMarkAssist => (K::MarkAssist, &b""[..]),
                };
                let scope = match r.scope {
                    ResourceId::Proc(p) if kind == K::Sweep => p.0,
                    ResourceId::Goroutine(g) if kind == K::MarkAssist => g.0,
                    _ => -1,
                };
                self.ranges.push(RangeRec { time, ord, kind, edge, scope, reason });
            }
            EventKind::TaskBegin | EventKind::TaskEnd => {
                let Some(t) = e.task() else { return };
                let what = if e.kind() == EventKind::TaskBegin { UserKind::TaskBegin } else { UserKind::TaskEnd };
                let typ = match t.typ {
                    trace_core::event::StrRef::Table(s) => ctx.string(s),
                    trace_core::event::StrRef::Extra(_) => b"",
                };
                self.user.push(UserRec { time, ord, what, g, id: t.id.0, parent: t.parent.0, s1: typ, s2: b"" });
            }
            EventKind::RegionBegin | EventKind::RegionEnd => {
                let Some(r) = e.region() else { return };
                let what = if e.kind() == EventKind::RegionBegin { UserKind::RegionBegin } else { UserKind::RegionEnd };
                let typ = ctx.string(r.typ);
                self.user.push(UserRec { time, ord, what, g, id: r.task.0, parent: 0, s1: typ, s2: b"" });
            }
            EventKind::Log => {
                let Some(l) = e.log() else { return };
                let (cat, msg) = (ctx.string(l.category), ctx.string(l.message));
                self.user.push(UserRec {
                    time,
                    ord,
                    what: UserKind::Log,
                    g,
                    id: l.task.0,
                    parent: 0,
                    s1: cat,
                    s2: msg,
                });
            }
            EventKind::StackSample => {
                let stack = self.stack(ctx, e.stack());
                self.samples.push((time, ord, g, p, m, stack));
            }
            EventKind::Label => self.mark_worker_label(e, ctx),
            _ => {}
        }
    }

    /// A GC mark worker's mode label follows its GoStart: kept as the
    /// running span's `b` (see [`crate::analysis::MarkWorker`]).
    fn mark_worker_label(&mut self, e: &Event, ctx: &EventContext<'_, 'a>) {
        let Some(mode) = e.label().and_then(|l| crate::analysis::MarkWorker::from_label(ctx.string(l))) else { return };
        let r = Rec { time: e.time.0, a: mode as i64, b: -1, ..Rec::default() };
        self.rec(Tag::Label, e.g.0, r);
    }

    /// Goroutine counters: category changes.
    fn count(&mut self, st: &trace_core::StateTransition, time: i64) {
        let Some((_, from, to)) = st.goroutine() else { return };
        let cat = |s: Option<GoState>| match s {
            Some(GoState::Runnable) => Some(0usize),
            Some(GoState::Running) => Some(1),
            Some(GoState::Syscall) => Some(2),
            Some(GoState::Waiting) => Some(3),
            _ => None,
        };
        let (f, t) = (cat(from), cat(to));
        if f == t {
            return;
        }
        let bucket = time - time.rem_euclid(self.bucket_ns);
        if self.counts.last().is_none_or(|&(b, _, _)| b != bucket) {
            self.counts.push((bucket, self.cur_ord, [0; 4]));
        }
        if let Some((_, _, d)) = self.counts.last_mut() {
            if let Some(x) = f.and_then(|i| d.get_mut(i)) {
                *x -= 1;
            }
            if let Some(x) = t.and_then(|i| d.get_mut(i)) {
                *x += 1;
            }
        }
    }

    fn transition(&mut self, e: &Event, ctx: &EventContext<'_, 'a>) {
        let time = e.time.0;
        let rec = |state: u8, stack: u32, a: i64, b: i64| Rec { time, state, stack, a, b, ..Rec::default() };
        let (g, p, m) = (e.g.0, e.p.0, e.m.0);
        let arg_g = e.args[0] as i64;
        let none = -1i64;
        let idle_p = rec(PState::Scheduling as u8, 0, none, m);
        let idle_m = rec(MState::Idle as u8, 0, none, none);
        match e.typ {
            ev::GO_CREATE | ev::GO_CREATE_BLOCKED | ev::GO_CREATE_SYSCALL => {
                let start =
                    if e.typ == ev::GO_CREATE_SYSCALL { 0 } else { self.stack(ctx, trace_core::StackId(e.args[1])) };
                let creation = self.stack(ctx, e.stack());
                let state = match e.typ {
                    ev::GO_CREATE => GState::Created,
                    ev::GO_CREATE_BLOCKED => GState::Blocked,
                    _ => GState::Syscall,
                };
                let parent = if e.typ == ev::GO_CREATE_SYSCALL { none } else { g };
                let created = Rec { time, stack: creation, a: parent, b: i64::from(start), ..Rec::default() };
                self.rec(Tag::Created, arg_g, created);
                self.g(arg_g, rec(state as u8, start, none, none));
                if e.typ == ev::GO_CREATE_SYSCALL {
                    self.m(m, rec(MState::Syscall as u8, 0, arg_g, p));
                }
            }
            ev::GO_START => {
                self.g(arg_g, rec(GState::Running as u8, 0, p, none));
                self.p(p, rec(PState::Running as u8, 0, arg_g, m));
                self.m(m, rec(MState::Running as u8, 0, arg_g, p));
            }
            ev::GO_STOP | ev::GO_BLOCK => {
                let reason = ctx.string(trace_core::StringId(e.args[0]));
                let stack = self.stack(ctx, e.stack());
                let mut state = if e.typ == ev::GO_STOP {
                    GState::from_stop_reason(reason)
                } else {
                    GState::from_block_reason(reason)
                };
                if state == GState::Sync {
                    state = GState::refine_sync(self.funcs(stack));
                }
                self.g(g, rec(state as u8, stack, none, none));
                self.p(p, idle_p);
                self.m(m, idle_m);
            }
            ev::GO_DESTROY | ev::GO_DESTROY_SYSCALL => {
                self.g(g, rec(GState::Exited as u8, 0, none, none));
                if e.typ == ev::GO_DESTROY {
                    self.p(p, idle_p);
                }
                self.m(m, idle_m);
            }
            ev::GO_UNBLOCK | ev::GO_SWITCH | ev::GO_SWITCH_DESTROY => {
                let stack = self.stack(ctx, e.stack());
                self.g(arg_g, rec(GState::Runnable as u8, stack, g, none));
            }
            ev::GO_SYSCALL_BEGIN => {
                let stack = self.stack(ctx, e.stack());
                self.g(g, rec(GState::Syscall as u8, stack, none, none));
                self.p(p, rec(PState::Syscall as u8, 0, g, m));
                self.m(m, rec(MState::Syscall as u8, 0, g, p));
            }
            ev::GO_SYSCALL_END => {
                self.g(g, rec(GState::Running as u8, 0, p, none));
                self.p(p, rec(PState::Running as u8, 0, g, m));
                self.m(m, rec(MState::Running as u8, 0, g, p));
            }
            ev::GO_SYSCALL_END_BLOCKED => {
                self.g(g, rec(GState::Runnable as u8, 0, none, none));
                self.m(m, idle_m);
            }
            ev::GO_STATUS | ev::GO_STATUS_STACK => self.go_status(e, ctx),
            ev::PROC_START => self.p(arg_g, rec(PState::Scheduling as u8, 0, none, m)),
            ev::PROC_STOP => self.p(p, rec(PState::Idle as u8, 0, none, none)),
            ev::PROC_STEAL => self.p(arg_g, rec(PState::Idle as u8, 0, none, none)),
            ev::PROC_STATUS => {
                let Some((pid, _, to)) = e.state_transition().and_then(|s| s.proc()) else { return };
                let state = if to == Some(ProcState::Running) { PState::Scheduling } else { PState::Idle };
                self.p(pid.0, Rec { restate: true, ..rec(state as u8, 0, none, none) });
            }
            _ => {}
        }
    }

    fn go_status(&mut self, e: &Event, ctx: &EventContext<'_, 'a>) {
        let Some(st) = e.state_transition() else { return };
        let Some((gid, _, to)) = st.goroutine() else { return };
        let time = e.time.0;
        let stack = self.stack(ctx, st.stack);
        let (p, m) = (e.p.0, e.m.0);
        let state = match to {
            Some(GoState::Runnable) => GState::Runnable,
            Some(GoState::Running) => GState::Running,
            Some(GoState::Syscall) => GState::Syscall,
            Some(GoState::Waiting) => self.waiting_state(stack),
            _ => GState::Exited,
        };
        let a = if state == GState::Running { p } else { -1 };
        self.g(gid.0, Rec { time, state: state as u8, restate: true, stack, a, b: -1, ..Rec::default() });
        let restate = |state: u8, a: i64, b: i64| Rec { time, state, restate: true, a, b, ..Rec::default() };
        match state {
            GState::Running => {
                self.p(p, restate(PState::Running as u8, gid.0, m));
                self.m(m, restate(MState::Running as u8, gid.0, p));
            }
            GState::Syscall => {
                self.p(p, restate(PState::Syscall as u8, gid.0, m));
                self.m(m, restate(MState::Syscall as u8, gid.0, p));
            }
            _ => {}
        }
    }
}
