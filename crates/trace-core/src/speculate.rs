//! Speculative decoding of a generation without its predecessor.
//!
//! A generation's events depend on the state the previous generation ended
//! in (goroutine and P statuses, what each thread was running, open tasks,
//! GC sequence). Go restates most of it at each generation's start, so that
//! state can be *predicted* from the generation's own status events. A
//! speculative run starts from the prediction and logs every lookup that
//! found nothing. Once the previous generation has really been decoded, the
//! prediction and the misses are checked against its true end state: if
//! they agree, the speculative run produced exactly the events a sequential
//! decode would have, and its end state is merged in; if not, the caller
//! decodes the generation again from the true state.

use rustc_hash::FxHashMap;

use crate::event::{go_status, proc_status};
use crate::generation::Generation;
use crate::gtable::GTable;
use crate::ids::{GoroutineId, ProcId};
use crate::order::{GState, GcState, MState, Ordering, PState, RangeState, RangeType, Seq, range_type};
use crate::spec::ev;
use crate::wire::uvarint;

/// Side effects of a speculative run that need checking later.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpecNotes {
    /// Goroutines destroyed during the run.
    pub(crate) destroyed: Vec<i64>,
    /// Searches for the thread holding a P: (P, thread found).
    pub(crate) scans: Vec<(i64, Option<i64>)>,
    /// Whether GC state was consulted.
    pub(crate) gc_read: bool,
    /// Regions ended that were opened before the generation: (G, task, name).
    pub(crate) region_pops: Vec<(i64, crate::ids::TaskId, Box<[u8]>)>,
    /// Tasks begun (their IDs must not be open before the generation).
    pub(crate) task_begins: Vec<u64>,
    /// Tasks ended that were not begun in the generation.
    pub(crate) task_end_misses: Vec<u64>,
}

/// A task end whose task began in an earlier generation: the speculative
/// run reported no parent and an empty type; these are the true values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskFix {
    /// The task.
    pub task: crate::ids::TaskId,
    /// Its parent.
    pub parent: crate::ids::TaskId,
    /// Its type (name).
    pub typ: Box<[u8]>,
}

/// The predicted starting state of a generation.
#[derive(Clone, Debug, Default)]
pub struct Prediction {
    /// Goroutines and their statuses, in order of first restatement.
    g: Vec<(i64, u64)>,
    /// The ranges in flight of the goroutines in `g` that have any (mark
    /// assists, a few), sorted by goroutine: kept apart, as a server's
    /// hundreds of thousands of idle goroutines have none.
    g_ranges: Vec<(i64, Vec<RangeType>)>,
    p: Vec<(i64, u64, Vec<RangeType>)>,
    m: Vec<(i64, MState)>,
    gc: Option<(u64, GcState)>,
}

/// Everything a speculative run read from its predicted start.
#[derive(Clone, Debug, Default)]
pub struct ReadLog {
    g: Vec<i64>,
    p: Vec<i64>,
    m: Vec<i64>,
    ranges: Vec<i64>,
    notes: SpecNotes,
}

/// A sequence number that nothing succeeds, so events that need a fresh
/// status wait for it exactly as they would after a real predecessor.
const STALE: Seq = Seq { generation: 0, seq: u64::MAX };

/// Reads the wire events of every M in `generation` in batch order.
/// Event types whose arguments the prediction reads.
static INTERESTING: [bool; 256] = {
    let mut t = [false; 256];
    let types = [
        ev::GO_STATUS,
        ev::GO_STATUS_STACK,
        ev::PROC_STATUS,
        ev::PROC_STEAL,
        ev::GC_ACTIVE,
        ev::GC_BEGIN,
        ev::GC_END,
        ev::GC_SWEEP_ACTIVE,
        ev::GC_MARK_ASSIST_ACTIVE,
    ];
    let mut i = 0;
    while i < types.len() {
        t[types[i] as usize] = true;
        i += 1;
    }
    t
};

/// Skips `n` varints starting at `pos`; `None` if the data ends first.
#[inline(always)]
fn skip_varints(data: &[u8], pos: usize, n: usize) -> Option<usize> {
    // Most events' arguments end within 8 bytes: find the `n`th byte with
    // its top bit clear in one word instead of byte by byte.
    if n > 0
        && let Some(word) = data.get(pos..pos.wrapping_add(8)).and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        let mut ends = !u64::from_le_bytes(word) & 0x8080_8080_8080_8080;
        for _ in 1..n {
            ends &= ends.wrapping_sub(1);
        }
        if ends != 0 {
            return Some(pos + ends.trailing_zeros() as usize / 8 + 1);
        }
    }
    skip_varints_bytewise(data, pos, n)
}

/// [`skip_varints`] a byte at a time.
fn skip_varints_bytewise(data: &[u8], mut pos: usize, n: usize) -> Option<usize> {
    for _ in 0..n {
        loop {
            let b = *data.get(pos)?;
            pos += 1;
            if b < 0x80 {
                break;
            }
        }
    }
    Some(pos)
}

/// Walks the wire events of every M in `generation` in batch order. `f`
/// gets the M's index, the event type, its raw time in ticks and its
/// arguments, for the types the prediction reads and for each M's first
/// event of any other type (which ends that M's restatements).
fn for_each_wire_event(generation: &Generation<'_>, mut f: impl FnMut(usize, u8, u64, &[u64; 4])) {
    for (mi, (_, batches)) in generation.batches.iter().enumerate() {
        let mut other_seen = false;
        for b in batches {
            let mut ticks = b.time;
            let mut pos = 0usize;
            let data = b.data;
            while let Some(&typ) = data.get(pos) {
                let nargs = crate::frontier::TIMED_ARGS[typ as usize] as usize;
                if nargs == 0 {
                    break;
                }
                pos += 1;
                // Time deltas are nearly always one byte.
                let dt = match data.get(pos) {
                    Some(&b) if b < 0x80 => {
                        pos += 1;
                        u64::from(b)
                    }
                    _ => {
                        let Some((dt, n)) = uvarint(data.get(pos..).unwrap_or_default()) else { break };
                        pos += n;
                        dt
                    }
                };
                ticks = ticks.wrapping_add(dt);
                let interesting = INTERESTING[typ as usize];
                if !interesting && other_seen {
                    match skip_varints(data, pos, nargs - 1) {
                        Some(p) => pos = p,
                        None => break,
                    }
                    continue;
                }
                let mut args = [0u64; 4];
                let mut ok = true;
                for a in args.iter_mut().take(nargs - 1) {
                    match uvarint(data.get(pos..).unwrap_or_default()) {
                        Some((v, n)) => {
                            pos += n;
                            *a = v;
                        }
                        None => {
                            ok = false;
                            break;
                        }
                    }
                }
                if !ok {
                    break;
                }
                if !interesting {
                    other_seen = true;
                }
                f(mi, typ, ticks, &args);
            }
        }
    }
}

/// Predicts the state a generation starts from, from its own restatements.
pub fn predict(generation: &Generation<'_>) -> Prediction {
    // The goroutines restated so far, in a table by ID: a hash map of them
    // took 40 MB a generation for 500 000 goroutines.
    let mut g_seen: GTable<()> = GTable::default();
    let mut g: Vec<(i64, u64)> = Vec::new();
    let mut g_ranges: Vec<(i64, RangeType)> = Vec::new();
    let mut p: FxHashMap<i64, (u64, Vec<RangeType>)> = FxHashMap::default();
    let mut p_order: Vec<i64> = Vec::new();
    let mut lead_g: FxHashMap<i64, i64> = FxHashMap::default();
    let mut lead_p: FxHashMap<i64, i64> = FxHashMap::default();
    let mut leading: Vec<bool> = vec![true; generation.batches.len()];
    // Per P, the earliest steal: (ticks, thread stolen from).
    let mut first_steal: FxHashMap<i64, (u64, i64)> = FxHashMap::default();
    let mut syscall_g_on: Vec<(i64, i64)> = Vec::new();
    let mut gc_first: Option<(u64, u8)> = None;
    let ms: Vec<i64> = generation.batches.iter().map(|(m, _)| m.0).collect();
    for_each_wire_event(generation, |mi, typ, ticks, a| {
        let m = ms.get(mi).copied().unwrap_or(-1);
        let lead = leading.get(mi).copied().unwrap_or(false);
        match typ {
            ev::GO_STATUS | ev::GO_STATUS_STACK => {
                let (gid, mid, st) = (a[0] as i64, a[1] as i64, a[2]);
                if g_seen.peek(&gid).is_none() {
                    g_seen.insert(gid, ());
                    g.push((gid, st));
                }
                if st == go_status::SYSCALL && mid != -1 && mid != m {
                    syscall_g_on.push((mid, gid));
                }
                if lead && (st == go_status::RUNNING || (st == go_status::SYSCALL && mid == m)) {
                    lead_g.entry(m).or_insert(gid);
                }
            }
            ev::PROC_STATUS => {
                let (pid, st) = (a[0] as i64, a[1]);
                if let std::collections::hash_map::Entry::Vacant(e) = p.entry(pid) {
                    // An abandoned P was most likely in a syscall before.
                    let prev = if st == proc_status::SYSCALL_ABANDONED { proc_status::SYSCALL } else { st };
                    e.insert((prev, Vec::new()));
                    p_order.push(pid);
                }
                if lead && (st == proc_status::RUNNING || st == proc_status::SYSCALL) {
                    lead_p.entry(m).or_insert(pid);
                }
            }
            ev::PROC_STEAL => {
                let e = first_steal.entry(a[0] as i64).or_insert((ticks, a[2] as i64));
                if ticks < e.0 {
                    *e = (ticks, a[2] as i64);
                }
            }
            ev::GC_SWEEP_ACTIVE => {
                let pid = a[0] as i64;
                if let Some(e) = p.get_mut(&pid) {
                    e.1.push(range_type(ev::GC_SWEEP_ACTIVE, 0));
                }
            }
            ev::GC_MARK_ASSIST_ACTIVE => {
                let gid = a[0] as i64;
                if g_seen.peek(&gid).is_some() {
                    g_ranges.push((gid, range_type(ev::GC_MARK_ASSIST_ACTIVE, 0)));
                }
            }
            ev::GC_ACTIVE | ev::GC_BEGIN | ev::GC_END if gc_first.is_none_or(|(seq, _)| a[0] < seq) => {
                gc_first = Some((a[0], typ));
            }
            _ => {}
        }
        // Restatements open a thread's first batch; anything else ends them.
        let restates = matches!(
            typ,
            ev::GO_STATUS
                | ev::GO_STATUS_STACK
                | ev::PROC_STATUS
                | ev::GC_ACTIVE
                | ev::GC_SWEEP_ACTIVE
                | ev::GC_MARK_ASSIST_ACTIVE
        );
        if !restates && let Some(l) = leading.get_mut(mi) {
            *l = false;
        }
    });
    let mut m_pred: FxHashMap<i64, MState> = FxHashMap::default();
    let mut m_order: Vec<i64> = Vec::new();
    let mut touch = |m: i64, f: &mut dyn FnMut(&mut MState)| {
        let e = m_pred.entry(m).or_insert_with(|| {
            m_order.push(m);
            MState { g: GoroutineId::NONE, p: ProcId::NONE }
        });
        f(e);
    };
    for &m in &ms {
        touch(m, &mut |_| {});
    }
    for (&m, &gid) in &lead_g {
        touch(m, &mut |s| s.g = GoroutineId(gid));
    }
    for &(m, gid) in &syscall_g_on {
        touch(m, &mut |s| {
            if !s.g.is_some() {
                s.g = GoroutineId(gid);
            }
        });
    }
    for (&m, &pid) in &lead_p {
        touch(m, &mut |s| s.p = ProcId(pid));
    }
    // A P that starts the generation in a syscall is held by the thread its
    // first steal takes it from, whatever that thread does later; unless a
    // thread restates it first thing, as its own: then that thread holds
    // it, and it may have passed to others by the first steal.
    let mut steals: Vec<(i64, i64)> = first_steal.iter().map(|(&p, &(_, m))| (p, m)).collect();
    steals.sort_unstable();
    for &(pid, m) in &steals {
        let in_syscall = p.get(&pid).is_some_and(|e| e.0 == proc_status::SYSCALL);
        if in_syscall && !lead_p.values().any(|&led| led == pid) {
            touch(m, &mut |s| s.p = ProcId(pid));
        }
    }
    let gc = gc_first.map(|(seq, typ)| {
        let state = if typ == ev::GC_BEGIN { GcState::NotRunning } else { GcState::Running };
        (seq.wrapping_sub(1), state)
    });
    m_order.sort_unstable();
    Prediction {
        g,
        g_ranges: group_by_goroutine(g_ranges),
        p: p_order.into_iter().filter_map(|k| p.remove(&k).map(|(s, r)| (k, s, r))).collect(),
        m: m_order.into_iter().filter_map(|k| m_pred.get(&k).map(|s| (k, *s))).collect(),
        gc,
    }
}

/// Ranges by goroutine, grouped and sorted by goroutine, each goroutine's
/// in the order given.
fn group_by_goroutine(mut ranges: Vec<(i64, RangeType)>) -> Vec<(i64, Vec<RangeType>)> {
    ranges.sort_by_key(|r| r.0);
    let mut out: Vec<(i64, Vec<RangeType>)> = Vec::new();
    for (gid, r) in ranges {
        match out.last_mut() {
            Some((last, list)) if *last == gid => list.push(r),
            _ => out.push((gid, vec![r])),
        }
    }
    out
}

impl Prediction {
    /// The ranges predicted in flight for goroutine `gid`.
    fn ranges_of(&self, gid: i64) -> &[RangeType] {
        match self.g_ranges.binary_search_by_key(&gid, |r| r.0) {
            Ok(i) => self.g_ranges.get(i).map_or(&[][..], |r| &r.1[..]),
            Err(_) => &[],
        }
    }
}

impl Ordering {
    /// A state to decode a non-first generation from, built from a prediction.
    /// `initial_gen` is the number of the trace's first generation.
    pub fn speculative(pred: &Prediction, initial_gen: u64) -> Ordering {
        let mut o = Ordering::default();
        o.initial_gen = initial_gen;
        for &(gid, st) in &pred.g {
            o.g_states.insert(gid, GState { status: st, seq: STALE });
        }
        for (gid, ranges) in &pred.g_ranges {
            o.g_ranges.insert(*gid, RangeState { in_flight: ranges.clone() });
        }
        for (pid, st, ranges) in &pred.p {
            o.p_states
                .insert(*pid, PState { status: *st, seq: STALE, ranges: RangeState { in_flight: ranges.clone() } });
        }
        for (m, st) in &pred.m {
            let slot = o.m_states.slot(*m);
            if let Some(s) = o.m_states.at_mut(slot) {
                *s = *st;
            }
        }
        match pred.gc {
            Some((seq, state)) => {
                o.gc_seq = seq;
                o.gc_state = state;
            }
            None => o.gc_state = GcState::NotRunning,
        }
        o.g_states.set_logging(true);
        // Region stacks are not logged: ends below the prediction are noted
        // one by one instead (see `SpecNotes::region_pops`).
        o.g_ranges.set_logging(true);
        o.p_states.set_logging(true);
        o.m_states.misses = Some(Vec::new());
        o.spec = Some(Box::default());
        o
    }

    /// Ends speculation: stops logging and returns what was read.
    pub fn take_read_log(&mut self) -> ReadLog {
        let log = ReadLog {
            g: self.g_states.take_misses(),
            p: self.p_states.take_misses(),
            m: self.m_states.misses.take().unwrap_or_default(),
            ranges: self.g_ranges.take_misses(),
            notes: self.spec.take().map(|b| *b).unwrap_or_default(),
        };
        self.g_states.set_logging(false);
        self.g_regions.set_logging(false);
        self.g_ranges.set_logging(false);
        self.p_states.set_logging(false);
        self.active_tasks.set_logging(false);
        log
    }

    /// Whether a speculative run that started from `pred` and read `log`
    /// saw exactly what it would have seen starting from `self`, the true
    /// end state of the previous generation.
    pub fn confirms(&self, pred: &Prediction, log: &ReadLog) -> bool {
        let ranges_eq = |a: &[RangeType], b: Option<&RangeState>| {
            let b = b.map_or(&[][..], |r| &r.in_flight[..]);
            a.len() == b.len() && a.iter().all(|x| b.contains(x))
        };
        let g_ok = pred.g.iter().all(|(gid, st)| {
            let r = pred.ranges_of(*gid);
            self.g_states.peek(gid).is_some_and(|s| s.status == *st) && ranges_eq(r, self.g_ranges.peek(gid))
        });
        let p_ok = pred.p.iter().all(|(pid, st, r)| {
            self.p_states.peek(pid).is_some_and(|s| s.status == *st && ranges_eq(r, Some(&s.ranges)))
        });
        let none = MState { g: GoroutineId::NONE, p: ProcId::NONE };
        let m_state = |m: &i64| self.m_states.peek(m).copied().unwrap_or(none);
        let m_ok = pred.m.iter().all(|(m, st)| m_state(m) == *st) && log.m.iter().all(|m| m_state(m) == none);
        let misses_ok = log.g.iter().all(|g| self.g_states.peek(g).is_none())
            && log.p.iter().all(|p| self.p_states.peek(p).is_none())
            && log.notes.task_begins.iter().all(|t| self.active_tasks.peek(t).is_none())
            && self.region_pops_match(&log.notes.region_pops)
            && log.ranges.iter().all(|g| self.g_ranges.peek(g).is_none_or(|r| r.in_flight.is_empty()));
        let gc_ok = !log.notes.gc_read || pred.gc.is_some_and(|(seq, st)| seq == self.gc_seq && st == self.gc_state);
        let known_m = |m: i64| pred.m.iter().any(|e| e.0 == m) || log.m.contains(&m);
        let scans_ok =
            log.notes.scans.iter().all(|(pid, _)| self.m_states.iter().all(|(m, s)| s.p != ProcId(*pid) || known_m(m)));
        g_ok && p_ok && m_ok && misses_ok && gc_ok && scans_ok
    }

    /// Whether the true region stacks have the regions a run closed, in order.
    fn region_pops_match(&self, pops: &[(i64, crate::ids::TaskId, Box<[u8]>)]) -> bool {
        let mut depth: FxHashMap<i64, usize> = FxHashMap::default();
        pops.iter().all(|(g, task, name)| {
            let d = depth.entry(*g).or_insert(0);
            let stack = self.g_regions.peek(g).map_or(&[][..], |v| &v[..]);
            let ok = match stack.len().checked_sub(*d + 1).and_then(|i| stack.get(i)) {
                // Go ignores an end with no open region.
                None => true,
                Some((t, n)) => t == task && n == name,
            };
            *d += 1;
            ok
        })
    }

    /// The true parent and type of tasks a run ended without having seen begin.
    pub fn task_fixes(&self, log: &ReadLog) -> Vec<TaskFix> {
        log.notes
            .task_end_misses
            .iter()
            .filter_map(|id| {
                self.active_tasks.peek(id).map(|(name, parent)| TaskFix {
                    task: crate::ids::TaskId(*id),
                    parent: *parent,
                    typ: name.clone(),
                })
            })
            .collect()
    }

    /// Merges the end state of a confirmed speculative run into `self`.
    pub fn absorb(&mut self, end: &Ordering, log: &ReadLog) {
        for (g, _, _) in &log.notes.region_pops {
            if let Some(stack) = self.g_regions.get_mut(g) {
                stack.pop();
            }
        }
        for t in &log.notes.task_end_misses {
            self.active_tasks.discard(t);
        }
        for g in &log.notes.destroyed {
            self.g_states.discard(g);
            self.g_regions.discard(g);
            self.g_ranges.discard(g);
        }
        for (k, v) in end.g_states.iter() {
            self.g_states.insert(k, *v);
        }
        for (k, v) in end.g_regions.iter() {
            let stack = self.g_regions.entry_or_default(*k);
            stack.extend(v.iter().cloned());
        }
        for (k, v) in end.g_ranges.iter() {
            self.g_ranges.insert(k, v.clone());
        }
        for (k, v) in end.p_states.iter() {
            self.p_states.insert(*k, v.clone());
        }
        for (m, s) in end.m_states.iter() {
            let slot = self.m_states.slot(m);
            if let Some(dst) = self.m_states.at_mut(slot) {
                *dst = *s;
            }
        }
        for (k, v) in end.active_tasks.iter() {
            self.active_tasks.insert(*k, v.clone());
        }
        if log.notes.gc_read {
            self.gc_seq = end.gc_seq;
            self.gc_state = end.gc_state;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Skipping a word at a time lands where skipping byte by byte
        /// does, for any bytes, start, count and end of data.
        #[test]
        fn skipping_by_word_equals_skipping_by_byte(
            data in prop::collection::vec(any::<u8>(), 0..40),
            pos in 0usize..44,
            n in 0usize..6,
        ) {
            prop_assert_eq!(skip_varints(&data, pos, n), skip_varints_bytewise(&data, pos, n));
        }
    }

    #[test]
    fn skipping_varints_counts_bytes_with_the_top_bit_clear() {
        // 300 (two bytes), 1, 2^21 (four bytes), then more.
        let data = [0xac, 0x02, 0x01, 0x80, 0x80, 0x80, 0x01, 0x05, 0x06, 0x07];
        assert_eq!(skip_varints(&data, 0, 1), Some(2));
        assert_eq!(skip_varints(&data, 0, 2), Some(3));
        assert_eq!(skip_varints(&data, 0, 3), Some(7));
        assert_eq!(skip_varints(&data, 0, 4), Some(8));
        assert_eq!(skip_varints(&data, 3, 1), Some(7));
        assert_eq!(skip_varints(&data, 0, 0), Some(0));
        assert_eq!(skip_varints(&data[..6], 3, 1), None);
    }
}
