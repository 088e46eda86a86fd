//! Go 1.11-1.21 (v1 format) traces, converted into the v2 event model the
//! way Go's `internal/trace` does (`tracev1.go`): the whole trace is one
//! generation with one string and stack table, framed by two Sync events.
//!
//! The v1 format has to be read completely before the first event can be
//! returned (the frequency and the stack table come last, and the per-P
//! batches are merged globally), so [`Converter::new`] parses, orders and
//! validates everything and [`Converter::next_event`] converts lazily.
//!
//! Go yields nothing for a truncated or damaged v1 trace. Here the events of
//! the batches read completely before the damage are kept, as far as they can
//! be ordered consistently (a per-P stream stops where an event's
//! predecessor on another P was lost); they are returned framed by the two
//! Syncs, then the error (its message says how many events were kept). Such
//! a trace usually lacks the frequency (times then stay in ticks) and the
//! stack table.
//!
//! Go also refuses some complete v1 traces: runtimes before Go 1.22 leave
//! out the events that bring the goroutines of C threads calling Go into
//! the trace (golang/go#29707), so no order of the events satisfies Go's
//! rules. Such a trace is ordered again, assuming each time nothing can be
//! ordered that the earliest waiting event's goroutine is in the state the
//! event needs (and then in time order); every event is returned, then an
//! [`ErrorKind::Inconsistent`] error saying what was assumed and where first.

mod parse;
mod reclist;

use std::collections::VecDeque;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, EventContext, ExtraStrings, go_status, proc_status};
use crate::generation::{EvTable, Frame};
use crate::ids::{GoroutineId, ProcId, StackId, StringId, ThreadId, TimeNs};
use crate::spec::{self, EventType, ev};
use crate::version::Version;

use parse::{GIds, Rec, TickScale, V1Event, t};

/// Strings the converter adds: block reasons, then STW kinds.
const BUILTIN_STRINGS: [&str; 29] = [
    "forever",
    "preempted",
    "runtime.Gosched",
    "sleep",
    "chan send",
    "chan receive",
    "network",
    "sync",
    "sync.(*Cond).Wait",
    "select",
    "",
    "GC mark assist wait for work",
    // STW kinds, by reason number.
    "",
    "GC mark termination",
    "GC sweep termination",
    "write heap dump",
    "goroutine profile",
    "goroutine profile cleanup",
    "all goroutine stack trace",
    "read mem stats",
    "AllThreadsSyscall",
    "GOMAXPROCS",
    "start trace",
    "stop trace",
    "CountPagesInUse (test)",
    "ReadMetricsSlow (test)",
    "ReadMemStatsSlow (test)",
    "PageCachePagesLeaked (test)",
    "ResetDebugLog (test)",
];

const S_FOREVER: usize = 0;
const S_PREEMPTED: usize = 1;
const S_GOSCHED: usize = 2;
const S_SLEEP: usize = 3;
const S_CHAN_SEND: usize = 4;
const S_CHAN_RECV: usize = 5;
const S_NETWORK: usize = 6;
const S_SYNC: usize = 7;
const S_SYNC_COND: usize = 8;
const S_SELECT: usize = 9;
const S_EMPTY: usize = 10;
const S_MARK_ASSIST_WAIT: usize = 11;
const S_STW_UNKNOWN: usize = 12;
const NUM_STW_REASONS: u64 = 17;

/// Converts a v1 trace into the v2 event model.
#[derive(Debug)]
pub struct Converter<'a> {
    minor: u32,
    table: EvTable<'a>,
    extra: ExtraStrings,
    /// The whole file: the merged events' arguments and stacks are decoded
    /// again from it.
    data: &'a [u8],
    /// The merged events still to convert, times in ticks.
    events: reclist::IntoIter,
    /// Ticks to nanoseconds.
    scale: TickScale,
    /// The time of the first merged event.
    first_ts: Option<i64>,
    gids: GIds,
    inline_map: FxHashMap<&'a [u8], u64>,
    scratch: Vec<u64>,
    /// For each GoSysCall, whether the goroutine's next event is GoSysBlock.
    blocked: FxHashSet<usize>,
    pos: usize,
    pending: VecDeque<Event>,
    pre_init: bool,
    /// Goroutines created during the initial dump, in creation order.
    created_pre_init: Vec<u64>,
    created_set: FxHashSet<u64>,
    tasks: FxHashMap<u64, (u64, &'a [u8])>,
    seen_procs: FxHashSet<i32>,
    proc_ms: FxHashMap<i32, i64>,
    last_ts: i64,
    last_stw_reason: u64,
    inline_ids: Vec<u64>,
    builtin_ids: [u64; BUILTIN_STRINGS.len()],
    syncs: u64,
    finished: bool,
    /// For a truncated or damaged trace, the error returned after the
    /// events that could be kept and the final Sync.
    damage: Option<Error>,
}

impl<'a> Converter<'a> {
    /// Parses, orders and validates the whole trace (`data` is the whole
    /// file, header included).
    pub fn new(data: &'a [u8], version: Version) -> Result<Self> {
        if !version.is_v1() {
            return Err(Error::new(ErrorKind::UnsupportedVersion, 0, "header", "not a v1 trace"));
        }
        let minor = version.minor();
        let parsed = parse::parse(data, minor)?;
        let damage = parsed.damage;
        let too_many = || Error::corrupt(0, "string table", "trace contains too many strings");

        let max = parsed.strings.keys().copied().max().unwrap_or(0);
        let mut strings: Vec<(u64, &'a [u8])> = parsed.strings.into_iter().collect();
        let n_inline = parsed.inline_strings.len() as u64;
        max.checked_add(n_inline).ok_or_else(too_many)?;
        let mut inline_ids = Vec::with_capacity(parsed.inline_strings.len());
        for (i, s) in parsed.inline_strings.into_iter().enumerate() {
            let id = max + 1 + i as u64;
            inline_ids.push(id);
            strings.push((id, s));
        }
        let max = max + n_inline;
        max.checked_add(BUILTIN_STRINGS.len() as u64).ok_or_else(too_many)?;
        let mut builtin_ids = [0u64; BUILTIN_STRINGS.len()];
        for (i, s) in BUILTIN_STRINGS.iter().enumerate() {
            let id = max + 1 + i as u64;
            builtin_ids[i] = id;
            strings.push((id, s.as_bytes()));
        }
        let frames: FxHashMap<u64, Frame> = parsed
            .pcs
            .iter()
            .map(|(&pc, f)| (pc, Frame { pc, func: StringId(f.func), file: StringId(f.file), line: f.line }))
            .collect();
        let stacks: Vec<(u64, Vec<u64>)> = parsed.stacks.into_iter().map(|(id, s)| (u64::from(id), s)).collect();
        let table = EvTable::from_parts(strings, stacks, frames, 1.0)
            .map_err(|d| Error::corrupt(0, "string table", format!("couldn't add strings: duplicate ID {}", d.0)))?;

        let events = parsed.events;
        let blocked = parsed.blocked;
        let scale = parsed.scale;
        let first_ts = events.first().map(|r| scale.ns(r.ts));

        Ok(Converter {
            minor,
            table,
            extra: ExtraStrings::default(),
            data,
            events: events.into_iter(),
            scale,
            first_ts,
            gids: parsed.gids,
            inline_map: parsed.inline_map,
            scratch: Vec::with_capacity(16),
            blocked,
            pos: 0,
            pending: VecDeque::new(),
            pre_init: true,
            created_pre_init: Vec::new(),
            created_set: FxHashSet::default(),
            tasks: FxHashMap::default(),
            seen_procs: FxHashSet::default(),
            proc_ms: FxHashMap::default(),
            last_ts: -1,
            last_stw_reason: 0,
            inline_ids,
            builtin_ids,
            syncs: 0,
            finished: false,
            damage,
        })
    }

    /// The next converted event: a Sync first, the converted events, and a
    /// final Sync; `Ok(None)` after that. For a truncated or damaged trace,
    /// the events that could be ordered before the damage, the final Sync,
    /// then the error.
    pub fn next_event(&mut self) -> Result<Option<Event>> {
        if self.finished {
            return match self.damage.take() {
                Some(e) => Err(e),
                None => Ok(None),
            };
        }
        if self.syncs == 0
            && let Some(first_ts) = self.first_ts
        {
            self.syncs += 1;
            return Ok(Some(sync(first_ts.wrapping_sub(1), self.syncs, true)));
        }
        match self.next_converted()? {
            Some(e) => Ok(Some(e)),
            None => {
                self.finished = true;
                self.syncs += 1;
                Ok(Some(sync(self.last_ts.wrapping_add(1), self.syncs, false)))
            }
        }
    }

    /// Resolution context for converted events.
    pub fn context(&self) -> EventContext<'_, 'a> {
        EventContext { table: Some(&self.table), extra: &self.extra }
    }

    fn next_converted(&mut self) -> Result<Option<Event>> {
        loop {
            let e = match self.pending.pop_front() {
                Some(e) => e,
                None => {
                    let i = self.pos;
                    let Some(r) = self.events.next() else { return Ok(None) };
                    self.pos += 1;
                    let v = self.expand(&r);
                    match self.convert(i, &v)? {
                        Some(e) => e,
                        None => continue,
                    }
                }
            };
            let mut e = e;
            // Converted events must have strictly increasing times.
            if e.time.0 <= self.last_ts {
                e.time = TimeNs(self.last_ts.wrapping_add(1));
            }
            self.last_ts = e.time.0;
            return Ok(Some(e));
        }
    }

    fn builtin(&self, i: usize) -> u64 {
        self.builtin_ids.get(i).copied().unwrap_or(0)
    }

    fn stw_reason(&self, kind: u64) -> usize {
        let r = if self.minor < 21 {
            if kind <= 1 { kind + 1 } else { 0 }
        } else if kind < NUM_STW_REASONS {
            kind
        } else {
            0
        };
        S_STW_UNKNOWN + r as usize
    }

    /// The M a P's events run on, defaulting to 0 as Go's map lookup does.
    fn proc_m_or_zero(&self, p: i32) -> ThreadId {
        ThreadId(self.proc_ms.get(&p).copied().unwrap_or(0))
    }

    /// The whole event of a merged record, its arguments and stack decoded
    /// again from the file; a stack missing from the table becomes 0.
    fn expand(&mut self, r: &Rec) -> V1Event {
        let offset = r.offset();
        let (args, mut stk) = parse::decode_args(self.data, offset, &self.inline_map, &mut self.scratch);
        if stk != 0 && !self.table.has_stack(StackId(u64::from(stk))) {
            stk = 0;
        }
        V1Event { ts: self.scale.ns(r.ts), g: self.gids.get(r.g), args, stk, p: r.p, typ: r.typ(), offset }
    }

    /// Converts one v1 event; `None` when it produces no event right away.
    fn convert(&mut self, idx: usize, v: &V1Event) -> Result<Option<Event>> {
        let mut args = [v.args[0], v.args[1], v.args[2], 0];
        let time = TimeNs(v.ts);
        let mk = |typ: EventType, time: TimeNs, g: GoroutineId, p: ProcId, m: ThreadId, args: [u64; 4]| Event {
            time,
            g,
            p,
            m,
            typ,
            args,
            offset: v.offset,
        };
        let stk = u64::from(v.stk);
        let reason = |s: &Self, i: usize| [s.builtin(i), stk, 0, 0];
        let typ = match v.typ {
            t::GOMAXPROCS => {
                if self.pre_init {
                    self.pre_init = false;
                    for &g in &self.created_pre_init {
                        if !self.created_set.contains(&g) {
                            continue;
                        }
                        self.pending.push_back(mk(
                            ev::GO_STATUS,
                            time,
                            GoroutineId::NONE,
                            ProcId::NONE,
                            ThreadId::NONE,
                            [g, u64::MAX, go_status::RUNNABLE, 0],
                        ));
                    }
                    self.created_pre_init.clear();
                    self.created_set.clear();
                    return Ok(None);
                }
                ev::PROCS_CHANGE
            }
            t::PROC_START => {
                self.proc_ms.insert(v.p, v.args[0] as i64);
                if self.seen_procs.contains(&v.p) {
                    args = [v.p as i64 as u64, 0, 0, 0];
                    ev::PROC_START
                } else {
                    self.seen_procs.insert(v.p);
                    args = [v.p as i64 as u64, proc_status::RUNNING, 0, 0];
                    ev::PROC_STATUS
                }
            }
            t::PROC_STOP => {
                if self.seen_procs.contains(&v.p) {
                    args = [v.p as i64 as u64, 0, 0, 0];
                    ev::PROC_STOP
                } else {
                    self.seen_procs.insert(v.p);
                    args = [v.p as i64 as u64, proc_status::IDLE, 0, 0];
                    ev::PROC_STATUS
                }
            }
            t::GC_START => ev::GC_BEGIN,
            t::GC_DONE => ev::GC_END,
            t::STW_START => {
                let sid = self.builtin(self.stw_reason(v.args[0]));
                self.last_stw_reason = sid;
                args = [sid, 0, 0, 0];
                ev::STW_BEGIN
            }
            t::STW_DONE => {
                args = [self.last_stw_reason, 0, 0, 0];
                ev::STW_END
            }
            t::GC_SWEEP_START => ev::GC_SWEEP_BEGIN,
            t::GC_SWEEP_DONE => ev::GC_SWEEP_END,
            t::GO_CREATE => {
                if self.pre_init {
                    if self.created_set.insert(v.args[0]) {
                        self.created_pre_init.push(v.args[0]);
                    }
                    return Ok(None);
                }
                ev::GO_CREATE
            }
            t::GO_START => {
                if self.pre_init {
                    args = [v.args[0], u64::MAX, go_status::RUNNING, 0];
                    self.created_set.remove(&v.args[0]);
                    ev::GO_STATUS
                } else {
                    ev::GO_START
                }
            }
            t::GO_START_LABEL => {
                let g = GoroutineId::from_wire(v.g);
                let p = ProcId(i64::from(v.p));
                let m = self.proc_m_or_zero(v.p);
                self.pending = VecDeque::from([mk(ev::GO_LABEL, time, g, p, m, [v.args[2], 0, 0, 0])]);
                return Ok(Some(mk(ev::GO_START, time, g, p, m, args)));
            }
            t::GO_END => ev::GO_DESTROY,
            t::GO_STOP => {
                args = reason(self, S_FOREVER);
                ev::GO_BLOCK
            }
            t::GO_SCHED => {
                args = reason(self, S_GOSCHED);
                ev::GO_STOP
            }
            t::GO_PREEMPT => {
                args = reason(self, S_PREEMPTED);
                ev::GO_STOP
            }
            t::GO_SLEEP => {
                args = reason(self, S_SLEEP);
                ev::GO_BLOCK
            }
            t::GO_BLOCK => {
                args = reason(self, S_EMPTY);
                ev::GO_BLOCK
            }
            t::GO_UNBLOCK => ev::GO_UNBLOCK,
            t::GO_BLOCK_SEND => {
                args = reason(self, S_CHAN_SEND);
                ev::GO_BLOCK
            }
            t::GO_BLOCK_RECV => {
                args = reason(self, S_CHAN_RECV);
                ev::GO_BLOCK
            }
            t::GO_BLOCK_SELECT => {
                args = reason(self, S_SELECT);
                ev::GO_BLOCK
            }
            t::GO_BLOCK_SYNC => {
                args = reason(self, S_SYNC);
                ev::GO_BLOCK
            }
            t::GO_BLOCK_COND => {
                args = reason(self, S_SYNC_COND);
                ev::GO_BLOCK
            }
            t::GO_BLOCK_NET => {
                args = reason(self, S_NETWORK);
                ev::GO_BLOCK
            }
            t::GO_BLOCK_GC => {
                args = reason(self, S_MARK_ASSIST_WAIT);
                ev::GO_BLOCK
            }
            t::GO_SYS_CALL => {
                args = [0, stk, 0, 0];
                if !self.blocked.contains(&idx) {
                    // An instantaneous syscall becomes a 1 ns begin/end pair.
                    let g = GoroutineId::from_wire(v.g);
                    let p = ProcId(i64::from(v.p));
                    let m = self.proc_m_or_zero(v.p);
                    let end = TimeNs(v.ts.wrapping_add(1));
                    self.pending.push_back(mk(ev::GO_SYSCALL_END, end, g, p, m, [0; 4]));
                    return Ok(Some(mk(ev::GO_SYSCALL_BEGIN, time, g, p, m, args)));
                }
                ev::GO_SYSCALL_BEGIN
            }
            t::GO_SYS_EXIT => ev::GO_SYSCALL_END_BLOCKED,
            t::GO_SYS_BLOCK => return Ok(None),
            t::GO_WAITING | t::GO_IN_SYSCALL => {
                let status = if v.typ == t::GO_WAITING { go_status::WAITING } else { go_status::SYSCALL };
                args = [v.args[0], u64::MAX, status, 0];
                self.created_set.remove(&v.args[0]);
                ev::GO_STATUS
            }
            t::HEAP_ALLOC => ev::HEAP_ALLOC,
            t::HEAP_GOAL => ev::HEAP_GOAL,
            t::GC_MARK_ASSIST_START => ev::GC_MARK_ASSIST_BEGIN,
            t::GC_MARK_ASSIST_DONE => ev::GC_MARK_ASSIST_END,
            t::USER_TASK_CREATE => {
                let parent = if v.args[1] == 0 { u64::MAX } else { v.args[1] };
                args = [v.args[0], parent, v.args[2], stk];
                let name = self.table.string(StringId(v.args[2])).unwrap_or_default();
                self.tasks.insert(v.args[0], (v.args[1], name));
                ev::USER_TASK_BEGIN
            }
            t::USER_TASK_END => {
                args = match self.tasks.remove(&v.args[0]) {
                    Some((parent, name)) => [v.args[0], v.args[1], parent, self.extra.add(name)],
                    None => [v.args[0], v.args[1], u64::MAX, self.extra.add(b"")],
                };
                ev::USER_TASK_END
            }
            t::USER_REGION => {
                args = [v.args[0], v.args[2], stk, 0];
                match v.args[1] {
                    0 => ev::USER_REGION_BEGIN,
                    1 => ev::USER_REGION_END,
                    _ => ev::NONE,
                }
            }
            t::USER_LOG => {
                let value = usize::try_from(v.args[2]).ok().and_then(|i| self.inline_ids.get(i)).copied();
                args = [v.args[0], v.args[1], value.unwrap_or(0), stk];
                ev::USER_LOG
            }
            t::CPU_SAMPLE => {
                args = [stk, u64::MAX, v.p as i64 as u64, v.g];
                ev::CPU_SAMPLE
            }
            other => {
                return Err(Error::invalid(v.offset, "event", format!("unexpected event type {other}")));
            }
        };
        if parse::desc(v.typ).stack
            && let Some(&slot) = spec::spec_of(typ).and_then(|s| s.stack_ids.first())
            && let Some(a) = slot.checked_sub(1).and_then(|i| args.get_mut(i))
        {
            *a = stk;
        }
        let mut m = ThreadId::NONE;
        if v.p != -1
            && v.typ != t::CPU_SAMPLE
            && let Some(&th) = self.proc_ms.get(&v.p)
        {
            m = ThreadId(th);
        }
        if v.typ == t::PROC_STOP {
            self.proc_ms.remove(&v.p);
        }
        let g = if v.g == 0 { GoroutineId::NONE } else { GoroutineId::from_wire(v.g) };
        Ok(Some(mk(typ, time, g, ProcId(i64::from(v.p)), m, args)))
    }
}

fn sync(time: i64, n: u64, has_table: bool) -> Event {
    crate::run::sync_event(TimeNs(time), n, has_table)
}
