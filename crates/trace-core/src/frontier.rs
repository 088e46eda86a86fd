//! Merging a generation's per-M batches into one ordered stream.
//!
//! Each M's events are read in order; the next event overall is taken from
//! the M whose pending event is earliest *and* can happen according to the
//! ordering rules. This keeps Go's exact min-heap so ties resolve the same.

use crate::error::{Error, Result};
use crate::event::Event;
use crate::generation::Generation;
use crate::ids::{ThreadId, TimeNs};
use crate::order::{BaseEvent, Emit, Ordering};
use crate::spec::{self, ev};

#[derive(Clone, Debug)]
struct Cursor<'a> {
    m: ThreadId,
    /// Index of this M in `Generation::batches`.
    mi: usize,
    /// The M's slot in the ordering's thread table, once known.
    slot: Option<Option<usize>>,
    /// Index of the current batch in the M's list.
    batch: usize,
    /// Unread bytes of the current batch (borrowed from the file).
    rest: &'a [u8],
    /// File offset of `rest`.
    rest_offset: u64,
    last_ts: TimeNs,
    ev: BaseEvent,
}

/// Reads a generation's events in order, driving an [`Ordering`].
#[derive(Debug)]
pub struct GenerationDecoder<'a> {
    /// The generation being decoded.
    pub generation: Generation<'a>,
    /// One cursor per M with events left.
    cursors: Vec<Cursor<'a>>,
    /// Min-heap over the cursors by their next event's time. Entries are
    /// small so sifting moves 16 bytes, not whole cursors.
    frontier: Vec<HeapEntry>,
    cpu_next: usize,
}

impl<'a> GenerationDecoder<'a> {
    /// Prepares the frontier: every M's first event.
    pub fn new(generation: Generation<'a>) -> Result<Self> {
        let mut d = GenerationDecoder { generation, cursors: Vec::new(), frontier: Vec::new(), cpu_next: 0 };
        for mi in 0..d.generation.batches.len() {
            let (m, first) = match d.generation.batches.get(mi) {
                Some((m, list)) => (*m, list.first()),
                None => continue,
            };
            let mut c = Cursor {
                m,
                mi,
                slot: None,
                batch: 0,
                rest: first.map_or(&[][..], |b| b.data),
                rest_offset: first.map_or(0, |b| b.data_offset),
                last_ts: TimeNs(0),
                ev: BaseEvent::default(),
            };
            if refill(&d.generation, &mut c)? {
                d.frontier.push(HeapEntry { time: c.ev.time, cursor: d.cursors.len() });
                d.cursors.push(c);
                let n = d.frontier.len() - 1;
                sift_up(&mut d.frontier, n);
            }
        }
        Ok(d)
    }

    /// The sync event's time for this generation.
    pub fn start_time(&self) -> TimeNs {
        self.generation.table.ticks_to_ns(self.generation.min_ts)
    }

    /// Produces the next event into `order`'s queue; `Ok(false)` when done.
    pub fn step(&mut self, order: &mut Ordering) -> Result<Option<Event>> {
        let mut e = Event::EMPTY;
        Ok(self.step_into(order, &mut e)?.then_some(e))
    }

    /// [`GenerationDecoder::step`] writing into `out`; `Ok(false)` when done.
    #[inline]
    pub fn step_into(&mut self, order: &mut Ordering, out: &mut Event) -> Result<bool> {
        if let Some(s) = self.generation.cpu_samples.get(self.cpu_next)
            && (self.frontier.is_empty() || s.time < self.frontier[0].time)
        {
            self.cpu_next += 1;
            *out = Event {
                time: s.time,
                g: s.g,
                p: s.p,
                m: s.m,
                typ: ev::CPU_SAMPLE,
                args: [s.stack.0, 0, 0, 0],
                offset: 0,
            };
            return Ok(true);
        }
        if self.frontier.is_empty() {
            return Ok(false);
        }
        let mut em = Emit::new(out);
        if !self.try_advance(0, order, &mut em)? {
            // The earliest event must wait; try the others in time order.
            crate::gosort::sort_by(&mut self.frontier, |a, b| a.time.cmp(&b.time));
            let mut ok = false;
            for i in 1..self.frontier.len() {
                if self.try_advance(i, order, &mut em)? {
                    ok = true;
                    break;
                }
            }
            if !ok {
                let at = self
                    .frontier
                    .first()
                    .and_then(|h| self.cursors.get(h.cursor))
                    .map_or(self.generation.start_offset, |c| c.ev.offset);
                return Err(Error::invalid(
                    at,
                    "event",
                    format!(
                        "broken trace: failed to advance: no M's next event can happen (generation {})",
                        self.generation.generation
                    ),
                ));
            }
        }
        if em.filled() {
            return Ok(true);
        }
        Ok(order.pop_into(out))
    }

    #[inline(always)]
    fn try_advance(&mut self, i: usize, order: &mut Ordering, em: &mut Emit<'_>) -> Result<bool> {
        let Some(&HeapEntry { cursor, .. }) = self.frontier.get(i) else { return Ok(false) };
        let Some(c) = self.cursors.get_mut(cursor) else { return Ok(false) };
        let m = c.m;
        let slot = match c.slot {
            Some(s) => s,
            None => *c.slot.insert(order.thread_slot(m)),
        };
        if !order.advance_at(em, &mut c.ev, &self.generation.table, m, slot, self.generation.generation)? {
            return Ok(false);
        }
        if refill(&self.generation, c)? {
            let time = c.ev.time;
            if let Some(h) = self.frontier.get_mut(i) {
                h.time = time;
            }
            if sift_up(&mut self.frontier, i) == i {
                sift_down(&mut self.frontier, i);
            }
        } else {
            remove(&mut self.frontier, i);
        }
        Ok(true)
    }
}

/// A frontier heap entry: a cursor's next event time and the cursor.
#[derive(Clone, Copy, Debug)]
struct HeapEntry {
    time: TimeNs,
    cursor: usize,
}

/// Reads the cursor's next event; `false` when its batches are exhausted.
#[inline(always)]
fn refill<'a>(generation: &Generation<'a>, c: &mut Cursor<'a>) -> Result<bool> {
    if c.rest.is_empty() {
        let Some((_, batches)) = generation.batches.get(c.mi) else { return Ok(false) };
        loop {
            c.batch += 1;
            let Some(b) = batches.get(c.batch) else { return Ok(false) };
            c.last_ts = TimeNs(0);
            c.rest = b.data;
            c.rest_offset = b.data_offset;
            if !c.rest.is_empty() {
                break;
            }
        }
    }
    if c.last_ts == TimeNs(0) {
        let time = generation.batches.get(c.mi).and_then(|(_, l)| l.get(c.batch)).map_or(0, |b| b.time);
        c.last_ts = generation.table.ticks_to_ns(time);
    }
    let (n, dt) = read_timed_event(c.rest, c.rest_offset, &mut c.ev)?;
    c.ev.time = TimeNs(generation.table.ticks_to_ns(dt).0.wrapping_add(c.last_ts.0));
    c.last_ts = c.ev.time;
    c.rest = c.rest.get(n..).unwrap_or_default();
    c.rest_offset += n as u64;
    Ok(true)
}

/// Reads one timed event; returns bytes used and the raw time delta.
#[inline(always)]
fn read_timed_event(b: &[u8], offset: u64, e: &mut BaseEvent) -> Result<(usize, u64)> {
    let mut it = b.iter();
    let Some(&typ) = it.next() else {
        return Err(Error::truncated(offset, "event"));
    };
    // Number of varints after the type byte (timestamp included); 0 = not a timed event.
    let nargs = TIMED_ARGS[typ as usize] as usize;
    if nargs == 0 {
        return Err(bad_event_type(typ, offset));
    }
    e.typ = typ;
    e.offset = offset;
    let Some(dt) = varint(&mut it) else {
        return Err(Error::corrupt(offset, "event", "found invalid uvarint for timestamp"));
    };
    e.args = [0; crate::event::ARG_SLOTS];
    for slot in e.args.iter_mut().take(nargs - 1) {
        let Some(v) = varint(&mut it) else {
            return Err(Error::corrupt(offset, "event", "found invalid uvarint"));
        };
        *slot = v;
    }
    Ok((b.len() - it.as_slice().len(), dt))
}

#[cold]
fn bad_event_type(typ: u8, offset: u64) -> Error {
    match spec::spec_of(typ) {
        None => Error::corrupt(offset, "event", format!("found invalid event type: {typ}")),
        Some(_) => Error::corrupt(offset, "event", format!("found event without a timestamp: type={typ}")),
    }
}

/// Reads a varint as Go's `binary.Uvarint` does (at most 10 bytes, no
/// overflow); `None` if the bytes end first or the value is invalid.
#[inline(always)]
fn varint(it: &mut std::slice::Iter<'_, u8>) -> Option<u64> {
    let b = *it.next()?;
    if b < 0x80 {
        return Some(u64::from(b));
    }
    let mut x = u64::from(b & 0x7f);
    let mut s = 7u32;
    loop {
        let b = *it.next()?;
        if b < 0x80 {
            if s == 63 && b > 1 {
                return None;
            }
            return Some(x | (u64::from(b) << s));
        }
        x |= u64::from(b & 0x7f) << s;
        s += 7;
        if s == 70 {
            return None;
        }
    }
}

/// For each type byte, the argument count of a timed event (0 otherwise).
pub(crate) static TIMED_ARGS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < spec::SPECS.len() {
        if spec::SPECS[i].timed {
            t[i] = spec::SPECS[i].args.len() as u8;
        }
        i += 1;
    }
    t
};

fn sift_up(h: &mut [HeapEntry], mut i: usize) -> usize {
    while i > 0 && h[(i - 1) / 2].time > h[i].time {
        h.swap((i - 1) / 2, i);
        i = (i - 1) / 2;
    }
    i
}

/// Go's `heapDown`. Mostly the entry just refilled stays where it is (the
/// same M's next event is still the earliest), so that check is inlined
/// and only a move goes to [`sift_down_loop`].
#[inline(always)]
fn sift_down(h: &mut [HeapEntry], i: usize) {
    let Some(t) = h.get(i).map(|e| e.time) else { return };
    let earlier = |j: usize| h.get(j).is_some_and(|c| c.time < t);
    if earlier(2 * i + 1) || earlier(2 * i + 2) {
        sift_down_loop(h, i);
    }
}

#[inline(never)]
fn sift_down_loop(h: &mut [HeapEntry], mut i: usize) {
    loop {
        let m = min3(h, i, 2 * i + 1, 2 * i + 2);
        if m == i {
            return;
        }
        h.swap(i, m);
        i = m;
    }
}

fn min3(h: &[HeapEntry], i0: usize, i1: usize, i2: usize) -> usize {
    let mut min_i = i0;
    let mut min_t = TimeNs::MAX;
    if let Some(c) = h.get(i0) {
        min_t = c.time;
    }
    if let Some(c) = h.get(i1)
        && c.time < min_t
    {
        min_t = c.time;
        min_i = i1;
    }
    if let Some(c) = h.get(i2)
        && c.time < min_t
    {
        min_i = i2;
    }
    min_i
}

fn remove(h: &mut Vec<HeapEntry>, mut i: usize) {
    while i > 0 {
        h.swap((i - 1) / 2, i);
        i = (i - 1) / 2;
    }
    let last = h.len() - 1;
    h.swap(0, last);
    h.pop();
    sift_down(h, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_matches_uvarint() {
        let mut cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0x7f],
            vec![0x80],
            vec![0x80, 0x01],
            vec![0xff, 0xff, 0x03],
            [vec![0xff; 9], vec![0x01]].concat(),
            [vec![0xff; 9], vec![0x02]].concat(),
            vec![0x80; 10],
            vec![0x80; 11],
        ];
        // Random strings, mostly of continuation bytes so every length shows up.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let len = (x >> 60) as usize % 13;
            let bytes = (0..len)
                .map(|i| {
                    let b = (x >> (i * 4 % 56)) as u8;
                    if i + 1 < len && (x >> (i % 60)) & 7 != 0 { b | 0x80 } else { b }
                })
                .collect();
            cases.push(bytes);
        }
        for c in &cases {
            let mut it = c.iter();
            let got = varint(&mut it).map(|v| (v, c.len() - it.as_slice().len()));
            assert_eq!(got, crate::wire::uvarint(c), "{c:02x?}");
        }
    }
}
