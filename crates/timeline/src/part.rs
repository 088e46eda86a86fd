//! What one generation contributes to the timeline, collected on its own
//! thread before the generations are stitched together in order.

use rustc_hash::FxHashMap;
use trace_core::event::RangeName;
use trace_core::spec::ev;
use trace_core::{Event, EventContext, EventKind, GoState, ProcState, ResolvedFrame, ResourceId};

use crate::state::{GState, MState, PState};

/// One state change of one resource, as it happened in the generation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rec {
    pub time: i64,
    pub ord: u32,
    pub state: u8,
    /// A restatement (status event): ignored if the state is already known.
    pub restate: bool,
    /// Local stack index (0 = none).
    pub stack: u32,
    pub a: i64,
    pub b: i64,
}

/// A goroutine creation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Created {
    pub time: i64,
    pub ord: u32,
    pub g: i64,
    pub parent: i64,
    pub creation_stack: u32,
    pub start_stack: u32,
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
#[derive(Default)]
pub(crate) struct GenPart<'a> {
    /// Local stacks, innermost frame first; index 0 is the empty stack.
    pub stacks: Vec<Vec<ResolvedFrame<'a>>>,
    stack_index: FxHashMap<u64, u32>,
    pub goroutines: FxHashMap<i64, Vec<Rec>>,
    pub procs: FxHashMap<i64, Vec<Rec>>,
    pub threads: FxHashMap<i64, Vec<Rec>>,
    pub created: Vec<Created>,
    /// Goroutine category changes in event order: (time, ord, from, to),
    /// categories as in [`crate::state::Category`] (None = not counted).
    pub counts: Vec<(i64, u32, Option<u8>, Option<u8>)>,
    pub metrics: Vec<(i64, u32, MetricKind, u64)>,
    pub ranges: Vec<RangeRec<'a>>,
    pub user: Vec<UserRec<'a>>,
    /// CPU samples: (time, ord, g, p, m, local stack).
    pub samples: Vec<(i64, u32, i64, i64, i64, u32)>,
    pub events: u64,
    pub first_time: Option<i64>,
    pub last_time: i64,
    pub end_offset: u64,
}

impl<'a> GenPart<'a> {
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

    fn g(&mut self, g: i64, r: Rec) {
        self.goroutines.entry(g).or_default().push(r);
    }

    fn p(&mut self, p: i64, r: Rec) {
        if p >= 0 {
            self.procs.entry(p).or_default().push(r);
        }
    }

    fn m(&mut self, m: i64, r: Rec) {
        if m >= 0 {
            self.threads.entry(m).or_default().push(r);
        }
    }

    /// Adds one event (the `ord`-th of the generation, Sync = 0).
    pub fn add(&mut self, e: &Event, ctx: &EventContext<'_, 'a>, ord: u32) {
        let time = e.time.0;
        self.events += 1;
        self.first_time.get_or_insert(time);
        self.last_time = time;
        let (g, p, m) = (e.g.0, e.p.0, e.m.0);
        if let Some(st) = e.state_transition() {
            self.count(&st, time, ord);
        }
        match e.kind() {
            EventKind::StateTransition => self.transition(e, ctx, ord),
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
            _ => {}
        }
    }

    /// Goroutine counters: category changes.
    fn count(&mut self, st: &trace_core::StateTransition, time: i64, ord: u32) {
        let Some((_, from, to)) = st.goroutine() else { return };
        let cat = |s: Option<GoState>| match s {
            Some(GoState::Runnable) => Some(0u8),
            Some(GoState::Running) => Some(1),
            Some(GoState::Syscall) => Some(2),
            Some(GoState::Waiting) => Some(3),
            _ => None,
        };
        let (f, t) = (cat(from), cat(to));
        if f != t {
            self.counts.push((time, ord, f, t));
        }
    }

    fn transition(&mut self, e: &Event, ctx: &EventContext<'_, 'a>, ord: u32) {
        let time = e.time.0;
        let rec = |state: u8, stack: u32, a: i64, b: i64| Rec { time, ord, state, restate: false, stack, a, b };
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
                self.created.push(Created {
                    time,
                    ord,
                    g: arg_g,
                    parent,
                    creation_stack: creation,
                    start_stack: start,
                });
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
            ev::GO_STATUS | ev::GO_STATUS_STACK => self.go_status(e, ctx, ord),
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

    fn go_status(&mut self, e: &Event, ctx: &EventContext<'_, 'a>, ord: u32) {
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
        self.g(gid.0, Rec { time, ord, state: state as u8, restate: true, stack, a, b: -1 });
        let restate = |state: u8, a: i64, b: i64| Rec { time, ord, state, restate: true, stack: 0, a, b };
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
