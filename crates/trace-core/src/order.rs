//! Go's ordering rules: the goroutine / P / M state machine that decides
//! whether the next event of an M's batch can happen yet, validates it,
//! and fills in what the wire leaves implicit (previous states, task names).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::event::{Event, ExtraStrings, GoState, ProcState, go_state_of_status, go_status, proc_status};
use crate::generation::EvTable;
use crate::gtable::GTable;
use crate::ids::{GoroutineId, ProcId, StringId, TaskId, ThreadId, TimeNs};
use crate::spec::{self, EventType, ev};
use crate::tracked::Tracked;

/// An event as read from a batch: type, absolute time and raw arguments.
#[derive(Clone, Copy, Debug, Default)]
pub struct BaseEvent {
    /// Wire type.
    pub typ: EventType,
    /// Absolute time in ns.
    pub time: TimeNs,
    /// Arguments after the timestamp.
    pub args: [u64; crate::event::ARG_SLOTS],
    /// File offset of the event.
    pub offset: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Seq {
    pub(crate) generation: u64,
    pub(crate) seq: u64,
}

impl Seq {
    fn succeeds(self, prev: Seq) -> bool {
        self.generation == prev.generation && Some(self.seq) == prev.seq.checked_add(1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RangeType {
    pub(crate) typ: EventType,
    pub(crate) desc: u64,
}

pub(crate) fn range_type(typ: EventType, desc: u64) -> RangeType {
    let start = spec::spec_of(typ).map_or(ev::NONE, |s| s.start_ev);
    RangeType { typ: if start != ev::NONE { start } else { typ }, desc }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct RangeState {
    pub(crate) in_flight: Vec<RangeType>,
}

impl RangeState {
    fn begin(&mut self, t: RangeType) -> Result<(), String> {
        if self.in_flight.contains(&t) {
            return Err(format!("discovered event already in-flight for when starting event {}", name_of(t.typ)));
        }
        self.in_flight.push(t);
        Ok(())
    }

    fn active(&mut self, t: RangeType, initial_gen: bool) -> Result<(), String> {
        if initial_gen {
            if self.in_flight.contains(&t) {
                return Err(format!("found named active range already in first generation: {}", name_of(t.typ)));
            }
            self.in_flight.push(t);
        } else if !self.in_flight.contains(&t) {
            return Err(format!("resource is missing active range: {}", name_of(t.typ)));
        }
        Ok(())
    }

    fn end(&mut self, typ: EventType) -> Result<u64, String> {
        let start = spec::spec_of(typ).map_or(ev::NONE, |s| s.start_ev);
        let Some(i) = self.in_flight.iter().position(|r| r.typ == start) else {
            return Err(format!("tried to end event {}, but not in-flight", name_of(start)));
        };
        Ok(self.in_flight.swap_remove(i).desc)
    }
}

fn name_of(t: EventType) -> &'static str {
    spec::spec_of(t).map_or("?", |s| s.name)
}

/// Per-goroutine scheduling state; kept small because there are many.
/// Regions and ranges, which few goroutines have, live in side tables.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct GState {
    pub(crate) status: u64,
    pub(crate) seq: Seq,
}

#[derive(Clone, Debug)]
pub(crate) struct PState {
    pub(crate) status: u64,
    pub(crate) seq: Seq,
    pub(crate) ranges: RangeState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MState {
    pub(crate) g: GoroutineId,
    pub(crate) p: ProcId,
}

/// Thread states in a vector, so the hot path indexes by slot instead of hashing.
#[derive(Clone, Debug, Default)]
pub(crate) struct MTable {
    slots: FxHashMap<i64, usize>,
    states: Vec<(i64, MState)>,
    /// Threads first seen while speculating (their real state is unknown).
    pub(crate) misses: Option<Vec<i64>>,
}

impl MTable {
    pub(crate) fn slot(&mut self, m: i64) -> usize {
        let next = self.states.len();
        let i = *self.slots.entry(m).or_insert(next);
        if i == next {
            if let Some(ms) = self.misses.as_mut() {
                ms.push(m);
            }
            self.states.push((m, MState { g: GoroutineId::NONE, p: ProcId::NONE }));
        }
        i
    }
    pub(crate) fn at(&self, i: usize) -> Option<&MState> {
        self.states.get(i).map(|e| &e.1)
    }
    pub(crate) fn at_mut(&mut self, i: usize) -> Option<&mut MState> {
        self.states.get_mut(i).map(|e| &mut e.1)
    }
    pub(crate) fn peek(&self, m: &i64) -> Option<&MState> {
        self.slots.get(m).and_then(|&i| self.at(i))
    }
    fn note(&mut self, m: i64) {
        if let Some(ms) = self.misses.as_mut() {
            ms.push(m);
        }
    }
    fn get(&mut self, m: &i64) -> Option<&MState> {
        if !self.slots.contains_key(m) {
            self.note(*m);
        }
        self.slots.get(m).and_then(|&i| self.states.get(i).map(|e| &e.1))
    }
    fn get_mut(&mut self, m: &i64) -> Option<&mut MState> {
        let Some(&i) = self.slots.get(m) else {
            self.note(*m);
            return None;
        };
        self.at_mut(i)
    }
    fn insert(&mut self, m: i64, st: MState) {
        let i = self.slot(m);
        if let Some(s) = self.at_mut(i) {
            *s = st;
        }
    }
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i64, &MState)> {
        self.states.iter().map(|(m, s)| (*m, s))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GcState {
    Undetermined,
    NotRunning,
    Running,
}

/// The G, P and M an event runs in. `m` sits between `g` and `p` on
/// purpose: copying `g` and `p` into the thread's state is then two 8-byte
/// moves, not one 16-byte load from two 8-byte stores (which stalls on
/// store forwarding when a step has just written them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Ctx {
    g: GoroutineId,
    m: ThreadId,
    p: ProcId,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    MustNot,
    May,
    Must,
}

const USER_GO: (Need, Need, Need) = (Need::Must, Need::Must, Need::Must);

#[inline(always)]
fn validate(ctx: Ctx, (m, p, g): (Need, Need, Need)) -> Result<(), String> {
    let ok = |need: Need, have: bool| match need {
        Need::Must => have,
        Need::MustNot => !have,
        Need::May => true,
    };
    if ok(m, ctx.m.is_some()) && ok(p, ctx.p.is_some()) && ok(g, ctx.g.is_some()) {
        return Ok(());
    }
    Err(validation_error(ctx, (m, p, g)))
}

#[cold]
fn validation_error(ctx: Ctx, needs: (Need, Need, Need)) -> String {
    let fields = [
        (needs.0, ctx.m.is_some(), "thread"),
        (needs.1, ctx.p.is_some(), "proc"),
        (needs.2, ctx.g.is_some(), "goroutine"),
    ];
    for (need, have, what) in fields {
        match (need, have) {
            (Need::Must, false) => return format!("expected a {what} but didn't have one"),
            (Need::MustNot, true) => return format!("expected no {what} but had one"),
            _ => {}
        }
    }
    String::from("invalid context")
}

fn go_status_name(s: u64) -> &'static str {
    match s {
        go_status::RUNNABLE => "Runnable",
        go_status::RUNNING => "Running",
        go_status::SYSCALL => "Syscall",
        go_status::WAITING => "Waiting",
        _ => "Bad",
    }
}

fn proc_status_name(s: u64) -> &'static str {
    match s {
        proc_status::RUNNING => "Running",
        proc_status::IDLE => "Idle",
        proc_status::SYSCALL => "Syscall",
        proc_status::SYSCALL_ABANDONED => "SyscallAbandoned",
        _ => "Bad",
    }
}

/// Open user regions of a goroutine, innermost last: (task, name).
pub(crate) type RegionStack = Vec<(TaskId, Box<[u8]>)>;

/// The ordering state machine, carried across generations.
#[derive(Clone, Debug)]
pub struct Ordering {
    pub(crate) g_states: GTable,
    pub(crate) g_regions: Tracked<i64, RegionStack>,
    pub(crate) g_ranges: GTable<RangeState>,
    pub(crate) p_states: Tracked<i64, PState>,
    pub(crate) m_states: MTable,
    pub(crate) active_tasks: Tracked<u64, (Box<[u8]>, TaskId)>,
    pub(crate) gc_seq: u64,
    pub(crate) gc_state: GcState,
    pub(crate) initial_gen: u64,
    queue: VecDeque<Event>,
    /// What a speculative run did that the real starting state must confirm.
    pub(crate) spec: Option<Box<crate::speculate::SpecNotes>>,
    /// Strings the orderer creates (task names at task ends).
    pub extra: ExtraStrings,
}

impl Default for Ordering {
    fn default() -> Self {
        Ordering {
            g_states: GTable::default(),
            g_regions: Tracked::default(),
            g_ranges: GTable::default(),
            p_states: Tracked::default(),
            m_states: MTable::default(),
            active_tasks: Tracked::default(),
            gc_seq: 0,
            gc_state: GcState::Undetermined,
            initial_gen: 0,
            queue: VecDeque::new(),
            spec: None,
            extra: ExtraStrings::default(),
        }
    }
}

type Step = Result<Option<Ctx>, String>;

/// Where an ordering step puts its events: the first straight into the
/// caller's slot, any more (a few steps make several) into the queue.
pub struct Emit<'o> {
    out: &'o mut Event,
    filled: bool,
}

impl<'o> Emit<'o> {
    /// An empty emitter writing into `out`.
    #[inline]
    pub fn new(out: &'o mut Event) -> Self {
        Emit { out, filled: false }
    }

    /// Whether the step wrote an event into the slot.
    #[inline]
    pub fn filled(&self) -> bool {
        self.filled
    }
}

impl Ordering {
    /// Takes the next ordered event, if any is queued.
    #[inline]
    pub fn pop_event(&mut self) -> Option<Event> {
        self.queue.pop_front()
    }

    /// Moves the next queued event into `out`; `false` if none is queued.
    #[inline]
    pub fn pop_into(&mut self, out: &mut Event) -> bool {
        if self.queue.is_empty() {
            return false;
        }
        match self.queue.pop_front() {
            Some(e) => {
                *out = e;
                true
            }
            None => false,
        }
    }

    /// Tries to advance `ev`, read from M `m`'s batch in generation `generation`.
    ///
    /// Returns `Ok(false)` when the event cannot happen yet (another M must
    /// go first), `Ok(true)` when it was accepted and queued.
    pub fn advance(&mut self, ev: &mut BaseEvent, table: &EvTable<'_>, m: ThreadId, generation: u64) -> Result<bool> {
        let slot = self.thread_slot(m);
        let mut unused = Event::EMPTY;
        // Marked filled, so every event of the step goes to the queue.
        let mut em = Emit { out: &mut unused, filled: true };
        let ok = self.advance_at(&mut em, ev, table, m, slot, generation)?;
        Ok(ok)
    }

    /// The slot of thread `m`'s state, creating it (no G, no P) if new.
    /// `None` for the "no thread" ID.
    pub fn thread_slot(&mut self, m: ThreadId) -> Option<usize> {
        m.is_some().then(|| self.m_states.slot(m.0))
    }

    /// [`Ordering::advance`] with the thread's slot already looked up. The
    /// step's first event goes to `em`, any further ones to the queue.
    #[inline(always)]
    pub fn advance_at(
        &mut self,
        em: &mut Emit<'_>,
        ev: &mut BaseEvent,
        table: &EvTable<'_>,
        m: ThreadId,
        slot: Option<usize>,
        generation: u64,
    ) -> Result<bool> {
        if self.initial_gen == 0 {
            self.initial_gen = generation;
        }
        let cur = match slot.and_then(|i| self.m_states.at(i)) {
            Some(ms) => Ctx { g: ms.g, p: ms.p, m },
            None => Ctx { g: GoroutineId::NONE, p: ProcId::NONE, m },
        };
        match self.dispatch(em, ev, table, generation, cur) {
            Ok(Some(new)) => {
                if let Some(ms) = slot.and_then(|i| self.m_states.at_mut(i)) {
                    ms.p = new.p;
                    ms.g = new.g;
                }
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(msg) => Err(Error::invalid(ev.offset, "event", msg)),
        }
    }

    #[inline(always)]
    fn emit(&mut self, em: &mut Emit<'_>, e: Event) {
        if em.filled {
            self.queue.push_back(e);
        } else {
            *em.out = e;
            em.filled = true;
        }
    }

    #[inline(always)]
    fn push(&mut self, em: &mut Emit<'_>, ctx: Ctx, ev: &BaseEvent) {
        if em.filled {
            self.queue.push_back(Event {
                time: ev.time,
                g: ctx.g,
                p: ctx.p,
                m: ctx.m,
                typ: ev.typ,
                args: ev.args,
                offset: ev.offset,
            });
            return;
        }
        // Field by field, so nothing is assembled on the stack first.
        let o = &mut *em.out;
        o.time = ev.time;
        o.g = ctx.g;
        o.p = ctx.p;
        o.m = ctx.m;
        o.typ = ev.typ;
        o.args = ev.args;
        o.offset = ev.offset;
        em.filled = true;
    }

    fn push_made(&mut self, em: &mut Emit<'_>, ctx: Ctx, typ: EventType, time: TimeNs, args: &[u64], offset: u64) {
        let mut a = [0u64; crate::event::ARG_SLOTS];
        for (d, s) in a.iter_mut().zip(args) {
            *d = *s;
        }
        self.emit(em, Event { time, g: ctx.g, p: ctx.p, m: ctx.m, typ, args: a, offset });
    }

    #[inline(always)]
    fn dispatch(
        &mut self,
        em: &mut Emit<'_>,
        ev: &mut BaseEvent,
        table: &EvTable<'_>,
        generation: u64,
        cur: Ctx,
    ) -> Step {
        match ev.typ {
            ev::PROCS_CHANGE | ev::GO_LABEL | ev::USER_LOG => self.annotation(em, ev, cur),
            ev::PROC_START => self.proc_start(em, ev, generation, cur),
            ev::PROC_STOP => self.proc_stop(em, ev, cur),
            ev::PROC_STEAL => self.proc_steal(em, ev, generation, cur),
            ev::PROC_STATUS => self.proc_status(em, ev, generation, cur),
            ev::GO_CREATE | ev::GO_CREATE_BLOCKED => self.go_create(em, ev, generation, cur),
            ev::GO_CREATE_SYSCALL => self.go_create_syscall(em, ev, generation, cur),
            ev::GO_START => self.go_start(em, ev, generation, cur),
            ev::GO_DESTROY | ev::GO_STOP | ev::GO_BLOCK => self.go_stop_exec(em, ev, cur),
            ev::GO_DESTROY_SYSCALL => self.go_destroy_syscall(em, ev, cur),
            ev::GO_UNBLOCK => self.go_unblock(em, ev, generation, cur),
            ev::GO_SYSCALL_BEGIN => self.go_syscall_begin(em, ev, generation, cur),
            ev::GO_SYSCALL_END => self.go_syscall_end(em, ev, cur),
            ev::GO_SYSCALL_END_BLOCKED => self.go_syscall_end_blocked(em, ev, cur),
            ev::GO_STATUS | ev::GO_STATUS_STACK => self.go_status(em, ev, generation, cur),
            ev::STW_BEGIN | ev::GC_MARK_ASSIST_BEGIN => self.go_range_begin(em, ev, cur),
            ev::STW_END | ev::GC_MARK_ASSIST_END => self.go_range_end(em, ev, cur),
            ev::GC_MARK_ASSIST_ACTIVE => self.go_range_active(em, ev, generation, cur),
            ev::GC_ACTIVE => self.gc_active(em, ev, generation, cur),
            ev::GC_BEGIN => self.gc_begin(em, ev, cur),
            ev::GC_END => self.gc_end(em, ev, cur),
            ev::GC_SWEEP_ACTIVE => self.gc_sweep_active(em, ev, generation, cur),
            ev::GC_SWEEP_BEGIN => self.gc_sweep_begin(em, ev, cur),
            ev::GC_SWEEP_END => self.gc_sweep_end(em, ev, cur),
            ev::HEAP_ALLOC | ev::HEAP_GOAL => self.heap_metric(em, ev, cur),
            ev::USER_TASK_BEGIN => self.task_begin(em, ev, table, cur),
            ev::USER_TASK_END => self.task_end(em, ev, cur),
            ev::USER_REGION_BEGIN | ev::USER_REGION_END => self.region(em, ev, table, cur),
            ev::GO_SWITCH | ev::GO_SWITCH_DESTROY => self.go_switch(em, ev, generation, cur),
            ev::SPAN..=ev::GOROUTINE_STACK_FREE => self.alloc_free(em, ev, cur),
            t => Err(format!("bad event type found while ordering: {t}")),
        }
    }

    fn note_gc_read(&mut self) {
        if let Some(n) = self.spec.as_mut() {
            n.gc_read = true;
        }
    }

    fn forget_g(&mut self, g: GoroutineId) {
        if let Some(n) = self.spec.as_mut() {
            n.destroyed.push(g.0);
        }
        self.g_states.discard(&g.0);
        // Few goroutines have regions; skip the lookup when none do. Ranges
        // are paged by ID like the states, so dropping them is cheap.
        if !self.g_regions.is_empty() {
            self.g_regions.discard(&g.0);
        }
        self.g_ranges.discard(&g.0);
    }

    fn set_extra(ev: &mut BaseEvent, i: usize, v: u64) {
        let idx = Event::extra_index(ev.typ) + i;
        if let Some(slot) = ev.args.get_mut(idx) {
            *slot = v;
        }
    }

    #[inline(never)]
    fn proc_status(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, generation: u64, mut cur: Ctx) -> Step {
        let pid = ProcId::from_wire(ev.args[0]);
        let status = ev.args[1];
        if status >= proc_status::COUNT {
            return Err(format!("invalid status for proc {pid}: {status}"));
        }
        let mut old = crate::event::proc_state_of_status(status) as u8;
        let initial = generation == self.initial_gen;
        match self.p_states.get_mut(&pid.0) {
            Some(s) => {
                if status == proc_status::SYSCALL_ABANDONED && s.status == proc_status::SYSCALL {
                    old = ProcState::Running as u8;
                    ev.args[1] = proc_status::SYSCALL;
                } else if status == proc_status::SYSCALL_ABANDONED && s.status == proc_status::SYSCALL_ABANDONED {
                    old = ProcState::Idle as u8;
                    ev.args[1] = proc_status::SYSCALL_ABANDONED;
                } else if s.status != status {
                    return Err(format!(
                        "inconsistent status for proc {pid}: old {} vs. new {}",
                        proc_status_name(s.status),
                        proc_status_name(status)
                    ));
                }
                s.seq = Seq { generation, seq: 0 };
            }
            None => {
                self.p_states
                    .insert(pid.0, PState { status, seq: Seq { generation, seq: 0 }, ranges: RangeState::default() });
                old = if initial { ProcState::Undetermined as u8 } else { ProcState::NotExist as u8 };
            }
        }
        Self::set_extra(ev, 0, u64::from(old));
        let mut new = cur;
        if status == proc_status::RUNNING || status == proc_status::SYSCALL {
            new.p = pid;
        }
        if status == proc_status::SYSCALL_ABANDONED && old == ProcState::Running as u8 {
            // Go scans its M map here; pick the lowest matching M so the
            // answer never depends on hash order.
            let found =
                self.m_states.iter().filter(|(_, ms)| ms.p == pid).map(|(mid, ms)| (mid, ms.g)).min_by_key(|e| e.0);
            if let Some(n) = self.spec.as_mut() {
                n.scans.push((pid.0, found.map(|f| f.0)));
            }
            let Some((mid, g)) = found else {
                return Err(format!("failed to find sched context for proc {pid} that's about to be stolen"));
            };
            cur = Ctx { m: ThreadId(mid), p: pid, g };
        }
        self.push(em, cur, ev);
        Ok(Some(new))
    }

    #[inline]
    fn proc_start(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, generation: u64, cur: Ctx) -> Step {
        let pid = ProcId::from_wire(ev.args[0]);
        let seq = Seq { generation, seq: ev.args[1] };
        match self.p_states.get(&pid.0) {
            Some(s) if s.status == proc_status::IDLE && seq.succeeds(s.seq) && !cur.p.is_some() => {}
            _ => return Ok(None),
        }
        validate(cur, (Need::Must, Need::MustNot, Need::May))?;
        if let Some(s) = self.p_states.get_mut(&pid.0) {
            s.status = proc_status::RUNNING;
            s.seq = seq;
        }
        self.push(em, cur, ev);
        Ok(Some(Ctx { p: pid, ..cur }))
    }

    #[inline]
    fn proc_stop(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        let name = name_of(ev.typ);
        let Some(s) = self.p_states.get_mut(&cur.p.0) else {
            return Err(format!("event {name} for proc ({}) that doesn't exist", cur.p));
        };
        if s.status != proc_status::RUNNING && s.status != proc_status::SYSCALL {
            return Err(format!("{name} event for proc that's not Running or Syscall"));
        }
        validate(cur, (Need::Must, Need::Must, Need::May))?;
        s.status = proc_status::IDLE;
        self.push(em, cur, ev);
        Ok(Some(Ctx { p: ProcId::NONE, ..cur }))
    }

    #[inline(never)]
    fn proc_steal(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, generation: u64, cur: Ctx) -> Step {
        let pid = ProcId::from_wire(ev.args[0]);
        let seq = Seq { generation, seq: ev.args[1] };
        let old_status = match self.p_states.get(&pid.0) {
            Some(s)
                if (s.status == proc_status::SYSCALL || s.status == proc_status::SYSCALL_ABANDONED)
                    && seq.succeeds(s.seq) =>
            {
                s.status
            }
            _ => return Ok(None),
        };
        validate(cur, (Need::Must, Need::May, Need::May))?;
        Self::set_extra(ev, 0, old_status);
        if let Some(s) = self.p_states.get_mut(&pid.0) {
            s.status = proc_status::IDLE;
            s.seq = seq;
        }
        if old_status == proc_status::SYSCALL_ABANDONED {
            self.push(em, cur, ev);
            return Ok(Some(cur));
        }
        let mid = ThreadId::from_wire(ev.args[2]);
        if mid == cur.m {
            if cur.p != pid {
                return Err(format!("tried to self-steal proc {pid} (thread {mid}), but got proc {} instead", cur.p));
            }
            self.push(em, cur, ev);
            return Ok(Some(Ctx { p: ProcId::NONE, ..cur }));
        }
        let Some(ms) = self.m_states.get_mut(&mid.0) else {
            return Err(format!("stole proc from non-existent thread {mid}"));
        };
        if ms.p != pid {
            return Err(format!("tried to steal proc {pid} from thread {mid}, but got proc {} instead", ms.p));
        }
        ms.p = ProcId::NONE;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(never)]
    fn go_status(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, generation: u64, mut cur: Ctx) -> Step {
        let gid = GoroutineId::from_wire(ev.args[0]);
        let mid = ThreadId::from_wire(ev.args[1]);
        let status = ev.args[2];
        if status >= go_status::COUNT {
            return Err(format!("invalid status for goroutine {gid}: {status}"));
        }
        let mut old = go_state_of_status(status);
        if let Some(s) = self.g_states.get_mut(&gid.0) {
            if s.status != status {
                return Err(format!(
                    "inconsistent status for goroutine {gid}: old {} vs. new {}",
                    go_status_name(s.status),
                    go_status_name(status)
                ));
            }
            s.seq = Seq { generation, seq: 0 };
        } else if generation == self.initial_gen {
            self.g_states.insert(gid.0, new_gstate(status, generation));
            old = GoState::Undetermined;
        } else {
            return Err(format!(
                "found goroutine status for new goroutine after the first generation: id={gid} status={}",
                go_status_name(status)
            ));
        }
        ev.args[2] = (u64::from(old as u8) << 32) | status;
        let mut new = cur;
        if status == go_status::RUNNING {
            new.g = gid;
        } else if status == go_status::SYSCALL {
            if !mid.is_some() {
                return Err(format!("found goroutine {gid} in syscall without a thread"));
            }
            if mid == cur.m {
                if generation != self.initial_gen && cur.g != gid {
                    return Err(format!(
                        "inconsistent thread for syscalling goroutine {gid}: thread has goroutine {}",
                        cur.g
                    ));
                }
                new.g = gid;
            } else {
                match self.m_states.get(&mid.0) {
                    Some(ms) => {
                        if ms.g != gid {
                            return Err(format!(
                                "inconsistent thread for syscalling goroutine {gid}: thread has goroutine {}",
                                ms.g
                            ));
                        }
                        cur.g = ms.g;
                    }
                    None => {
                        self.m_states.insert(mid.0, MState { g: gid, p: ProcId::NONE });
                    }
                }
                cur.m = mid;
            }
        }
        self.push(em, cur, ev);
        Ok(Some(new))
    }

    #[inline]
    fn go_create(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, generation: u64, cur: Ctx) -> Step {
        validate(cur, (Need::Must, Need::Must, Need::May))?;
        if let Some(s) = self.g_states.get(&cur.g.0)
            && s.status != go_status::RUNNING
        {
            return Err(format!("{} event for goroutine that's not Running", name_of(ev.typ)));
        }
        let newg = GoroutineId::from_wire(ev.args[0]);
        if self.g_states.contains(&newg.0) {
            return Err(format!("tried to create goroutine ({newg}) that already exists"));
        }
        let status = if ev.typ == ev::GO_CREATE_BLOCKED { go_status::WAITING } else { go_status::RUNNABLE };
        self.g_states.insert(newg.0, new_gstate(status, generation));
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(always)]
    fn running_g(&mut self, typ: EventType, g: GoroutineId, want: u64) -> Result<&mut GState, String> {
        let Some(s) = self.g_states.get_mut(&g.0) else {
            return Err(no_such_g(typ, g));
        };
        if s.status != want {
            return Err(g_not_in(typ, want));
        }
        Ok(s)
    }

    #[inline(always)]
    fn go_stop_exec(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        validate(cur, USER_GO)?;
        let s = self.running_g(ev.typ, cur.g, go_status::RUNNING)?;
        match ev.typ {
            ev::GO_DESTROY => self.forget_g(cur.g),
            ev::GO_STOP => s.status = go_status::RUNNABLE,
            _ => s.status = go_status::WAITING,
        }
        self.push(em, cur, ev);
        Ok(Some(Ctx { g: GoroutineId::NONE, ..cur }))
    }

    #[inline(always)]
    fn go_start(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, generation: u64, cur: Ctx) -> Step {
        let gid = GoroutineId::from_wire(ev.args[0]);
        let seq = Seq { generation, seq: ev.args[1] };
        match self.g_states.get_mut(&gid.0) {
            Some(s) if s.status == go_status::RUNNABLE && seq.succeeds(s.seq) => {
                validate(cur, (Need::Must, Need::Must, Need::MustNot))?;
                s.status = go_status::RUNNING;
                s.seq = seq;
            }
            _ => return Ok(None),
        }
        self.push(em, cur, ev);
        Ok(Some(Ctx { g: gid, ..cur }))
    }

    #[inline(always)]
    fn go_unblock(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, generation: u64, cur: Ctx) -> Step {
        let gid = GoroutineId::from_wire(ev.args[0]);
        let seq = Seq { generation, seq: ev.args[1] };
        match self.g_states.get_mut(&gid.0) {
            Some(s) if s.status == go_status::WAITING && seq.succeeds(s.seq) => {
                s.status = go_status::RUNNABLE;
                s.seq = seq;
            }
            _ => return Ok(None),
        }
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(never)]
    fn go_switch(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, generation: u64, cur: Ctx) -> Step {
        validate(cur, USER_GO)?;
        self.running_g(ev.typ, cur.g, go_status::RUNNING)?;
        let next = GoroutineId::from_wire(ev.args[0]);
        let seq = Seq { generation, seq: ev.args[1] };
        match self.g_states.get(&next.0) {
            Some(s) if s.status == go_status::WAITING && seq.succeeds(s.seq) => {}
            _ => return Ok(None),
        }
        self.push(em, cur, ev);
        if ev.typ == ev::GO_SWITCH {
            if let Some(s) = self.g_states.get_mut(&cur.g.0) {
                s.status = go_status::WAITING;
            }
            self.push_made(em, cur, ev::GO_BLOCK, ev.time, &[0, 0], 0);
        } else {
            self.forget_g(cur.g);
            self.push_made(em, cur, ev::GO_DESTROY, ev.time, &[], 0);
        }
        if let Some(s) = self.g_states.get_mut(&next.0) {
            s.status = go_status::RUNNING;
            s.seq = seq;
        }
        let start_ctx = Ctx { g: GoroutineId::NONE, ..cur };
        self.push_made(em, start_ctx, ev::GO_START, ev.time, &[next.0 as u64, ev.args[1]], 0);
        Ok(Some(Ctx { g: next, ..cur }))
    }

    #[inline]
    fn go_syscall_begin(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, generation: u64, cur: Ctx) -> Step {
        validate(cur, USER_GO)?;
        let name = name_of(ev.typ);
        self.running_g(ev.typ, cur.g, go_status::RUNNING)?.status = go_status::SYSCALL;
        let Some(p) = self.p_states.get_mut(&cur.p.0) else {
            return Err(format!("uninitialized proc {} found during {name}", cur.p));
        };
        p.status = proc_status::SYSCALL;
        let pseq = Seq { generation, seq: ev.args[0] };
        if !pseq.succeeds(p.seq) {
            return Err(format!(
                "failed to advance {name}: can't make sequence: {} (generation={}) -> {} (generation={})",
                p.seq.seq, p.seq.generation, pseq.seq, pseq.generation
            ));
        }
        p.seq = pseq;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline]
    fn go_syscall_end(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        validate(cur, USER_GO)?;
        let name = name_of(ev.typ);
        let Some(s) = self.g_states.get_mut(&cur.g.0) else {
            return Err(format!("event {name} for goroutine ({}) that doesn't exist", cur.g));
        };
        if s.status != go_status::SYSCALL {
            return Err(format!("{name} event for goroutine that's not Running"));
        }
        s.status = go_status::RUNNING;
        let Some(p) = self.p_states.get_mut(&cur.p.0) else {
            return Err(format!("uninitialized proc {} found during {name}", cur.p));
        };
        if p.status != proc_status::SYSCALL {
            return Err(format!(
                "expected proc {} in state Syscall, but got {} instead",
                cur.p,
                proc_status_name(p.status)
            ));
        }
        p.status = proc_status::RUNNING;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(never)]
    fn go_syscall_end_blocked(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        let name = name_of(ev.typ);
        if cur.p.is_some() {
            let Some(p) = self.p_states.get(&cur.p.0) else {
                return Err(format!("uninitialized proc {} found during {name}", cur.p));
            };
            if p.status == proc_status::SYSCALL {
                return Ok(None);
            }
        }
        validate(cur, (Need::Must, Need::May, Need::Must))?;
        let Some(s) = self.g_states.get_mut(&cur.g.0) else {
            return Err(format!("event {name} for goroutine ({}) that doesn't exist", cur.g));
        };
        if s.status != go_status::SYSCALL {
            return Err(format!("{name} event for goroutine that's not Running"));
        }
        s.status = go_status::RUNNABLE;
        self.push(em, cur, ev);
        Ok(Some(Ctx { g: GoroutineId::NONE, ..cur }))
    }

    #[inline(never)]
    fn go_create_syscall(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, generation: u64, cur: Ctx) -> Step {
        validate(cur, (Need::Must, Need::May, Need::MustNot))?;
        let newg = GoroutineId::from_wire(ev.args[0]);
        if self.g_states.contains(&newg.0) {
            return Err(format!("tried to create goroutine ({newg}) in syscall that already exists"));
        }
        self.g_states.insert(newg.0, new_gstate(go_status::SYSCALL, generation));
        self.push(em, cur, ev);
        Ok(Some(Ctx { g: newg, ..cur }))
    }

    #[inline(never)]
    fn go_destroy_syscall(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        validate(cur, (Need::Must, Need::May, Need::Must))?;
        let name = name_of(ev.typ);
        let Some(s) = self.g_states.get(&cur.g.0) else {
            return Err(format!("event {name} for goroutine ({}) that doesn't exist", cur.g));
        };
        if s.status != go_status::SYSCALL {
            return Err(format!("{name} event for goroutine that's not Syscall"));
        }
        self.forget_g(cur.g);
        let mut new = Ctx { g: GoroutineId::NONE, ..cur };
        if cur.p.is_some() {
            let Some(p) = self.p_states.get_mut(&cur.p.0) else {
                return Err(format!("found invalid proc {} during {name}", cur.p));
            };
            if p.status != proc_status::SYSCALL {
                return Err(format!("proc {} in unexpected state {} during {name}", cur.p, proc_status_name(p.status)));
            }
            p.status = proc_status::SYSCALL_ABANDONED;
            new.p = ProcId::NONE;
            // A synthetic steal, so the P is seen to leave the thread.
            self.push_made(em, cur, ev::PROC_STEAL, ev.time, &[cur.p.0 as u64, 0, 0, proc_status::SYSCALL], 0);
        }
        self.push(em, cur, ev);
        Ok(Some(new))
    }

    #[inline(never)]
    fn task_begin(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, table: &EvTable<'_>, cur: Ctx) -> Step {
        let id = ev.args[0];
        if let Some(n) = self.spec.as_mut()
            && self.active_tasks.peek(&id).is_none()
        {
            n.task_begins.push(id);
        }
        if self.active_tasks.contains(&id) {
            return Err(format!("task ID conflict: {id}"));
        }
        let mut parent = TaskId(ev.args[1]);
        if parent == TaskId::BACKGROUND {
            parent = TaskId::NONE;
            ev.args[1] = TaskId::NONE.0;
        }
        let name_id = StringId(ev.args[2]);
        let Some(name) = table.string(name_id) else {
            return Err(format!("invalid string ID {} for {} event", name_id.0, ev.typ));
        };
        self.active_tasks.insert(id, (name.into(), parent));
        validate(cur, USER_GO)?;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(never)]
    fn task_end(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        let id = ev.args[0];
        if let Some(n) = self.spec.as_mut()
            && self.active_tasks.peek(&id).is_none()
        {
            n.task_end_misses.push(id);
        }
        let (parent, name) = match self.active_tasks.remove(&id) {
            Some((name, parent)) => (parent, self.extra.add(&name)),
            None => (TaskId::NONE, 0),
        };
        Self::set_extra(ev, 0, parent.0);
        Self::set_extra(ev, 1, name);
        validate(cur, USER_GO)?;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(never)]
    fn region(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, table: &EvTable<'_>, cur: Ctx) -> Step {
        validate(cur, USER_GO)?;
        let task = TaskId(ev.args[0]);
        let name_id = StringId(ev.args[1]);
        let Some(name) = table.string(name_id) else {
            return Err(format!("invalid string ID {} for {} event", name_id.0, ev.typ));
        };
        let begin = ev.typ == ev::USER_REGION_BEGIN;
        if !self.g_states.contains(&cur.g.0) {
            let which = if begin { "EvUserRegionBegin" } else { "EvUserRegionEnd" };
            return Err(format!("encountered {which} without known state for current goroutine {}", cur.g));
        }
        let regions = self.g_regions.entry_or_default(cur.g.0);
        if begin {
            regions.push((task, name.into()));
        } else if let Some((t, n)) = regions.last() {
            if *t != task || **n != *name {
                return Err(format!(
                    "misuse of region in goroutine {}: region end {{{} {}}} when the inner-most active region start event is {{{} {}}}",
                    cur.g,
                    task,
                    String::from_utf8_lossy(name),
                    t,
                    String::from_utf8_lossy(n)
                ));
            }
            regions.pop();
        } else if let Some(n) = self.spec.as_mut() {
            // Ending a region opened before this generation: the true stack
            // must have it on top; checked when the run is confirmed.
            n.region_pops.push((cur.g.0, task, name.into()));
        }
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(never)]
    fn gc_active(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, generation: u64, cur: Ctx) -> Step {
        self.note_gc_read();
        let seq = ev.args[0];
        if generation == self.initial_gen {
            if self.gc_state != GcState::Undetermined {
                return Err("GCActive in the first generation isn't first GC event".into());
            }
            self.gc_seq = seq;
            self.gc_state = GcState::Running;
            self.push(em, cur, ev);
            return Ok(Some(cur));
        }
        if Some(seq) != self.gc_seq.checked_add(1) {
            return Ok(None);
        }
        if self.gc_state != GcState::Running {
            return Err("encountered GCActive while GC was not in progress".into());
        }
        self.gc_seq = seq;
        validate(cur, USER_GO)?;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(never)]
    fn gc_begin(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        self.note_gc_read();
        let seq = ev.args[0];
        if self.gc_state == GcState::Undetermined {
            self.gc_seq = seq;
            self.gc_state = GcState::Running;
            self.push(em, cur, ev);
            return Ok(Some(cur));
        }
        if Some(seq) != self.gc_seq.checked_add(1) {
            return Ok(None);
        }
        if self.gc_state == GcState::Running {
            return Err("encountered GCBegin while GC was already in progress".into());
        }
        self.gc_seq = seq;
        self.gc_state = GcState::Running;
        validate(cur, USER_GO)?;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(never)]
    fn gc_end(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        self.note_gc_read();
        let seq = ev.args[0];
        if Some(seq) != self.gc_seq.checked_add(1) {
            return Ok(None);
        }
        match self.gc_state {
            GcState::NotRunning => return Err("encountered GCEnd when GC was not in progress".into()),
            GcState::Undetermined => {
                return Err("encountered GCEnd when GC was in an undetermined state".into());
            }
            GcState::Running => {}
        }
        self.gc_seq = seq;
        self.gc_state = GcState::NotRunning;
        validate(cur, USER_GO)?;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline]
    fn annotation(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        validate(cur, USER_GO)?;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline]
    fn heap_metric(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        validate(cur, (Need::Must, Need::Must, Need::May))?;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    fn proc_ranges(&mut self, p: ProcId) -> Result<&mut RangeState, String> {
        match self.p_states.get_mut(&p.0) {
            Some(s) => Ok(&mut s.ranges),
            None => Err(format!("uninitialized proc {p} found during GC sweep")),
        }
    }

    #[inline(never)]
    fn gc_sweep_begin(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        validate(cur, (Need::Must, Need::Must, Need::May))?;
        self.proc_ranges(cur.p)?.begin(range_type(ev.typ, 0))?;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(never)]
    fn gc_sweep_active(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, generation: u64, cur: Ctx) -> Step {
        let pid = ProcId::from_wire(ev.args[0]);
        let initial = generation == self.initial_gen;
        let Some(p) = self.p_states.get_mut(&pid.0) else {
            return Err(format!("encountered GCSweepActive for unknown proc {pid}"));
        };
        p.ranges.active(range_type(ev.typ, 0), initial)?;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(never)]
    fn gc_sweep_end(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        validate(cur, (Need::Must, Need::Must, Need::May))?;
        self.proc_ranges(cur.p)?.end(ev.typ)?;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    fn go_ranges(&mut self, typ: EventType, g: GoroutineId) -> Result<&mut RangeState, String> {
        if !self.g_states.contains(&g.0) {
            return Err(format!("encountered event of type {typ} without known state for current goroutine {g}"));
        }
        Ok(self.g_ranges.entry_or_default(g.0))
    }

    #[inline(never)]
    fn go_range_begin(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        validate(cur, USER_GO)?;
        let desc = if ev.typ == ev::STW_BEGIN { ev.args[0] } else { 0 };
        self.go_ranges(ev.typ, cur.g)?.begin(range_type(ev.typ, desc))?;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(never)]
    fn go_range_active(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, generation: u64, cur: Ctx) -> Step {
        let gid = GoroutineId::from_wire(ev.args[0]);
        let initial = generation == self.initial_gen;
        if !self.g_states.contains(&gid.0) {
            return Err(format!("uninitialized goroutine {gid} found during {}", name_of(ev.typ)));
        }
        self.g_ranges.entry_or_default(gid.0).active(range_type(ev.typ, 0), initial)?;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(never)]
    fn go_range_end(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        validate(cur, USER_GO)?;
        let desc = self.go_ranges(ev.typ, cur.g)?.end(ev.typ)?;
        if ev.typ == ev::STW_END {
            ev.args[0] = desc;
        }
        self.push(em, cur, ev);
        Ok(Some(cur))
    }

    #[inline(never)]
    fn alloc_free(&mut self, em: &mut Emit<'_>, ev: &mut BaseEvent, cur: Ctx) -> Step {
        validate(cur, (Need::Must, Need::May, Need::May))?;
        self.push(em, cur, ev);
        Ok(Some(cur))
    }
}

#[cold]
fn no_such_g(typ: EventType, g: GoroutineId) -> String {
    format!("event {} for goroutine ({}) that doesn't exist", name_of(typ), g)
}

#[cold]
fn g_not_in(typ: EventType, want: u64) -> String {
    format!("{} event for goroutine that's not {}", name_of(typ), go_status_name(want))
}

fn new_gstate(status: u64, generation: u64) -> GState {
    GState { status, seq: Seq { generation, seq: 0 } }
}
