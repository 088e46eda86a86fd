//! A generation's user annotations (task, region and log events), kept in
//! order until the merge replays them.
//!
//! A program that annotates every request (a task, a few regions, a log
//! line) has as many of these events as scheduling ones, and a generation
//! holds them all until it is merged. So each is packed as it comes: a
//! kind byte and varint deltas from the event before (about 8 bytes a
//! region event, against 40 for the record the merge reads back), in
//! chunks that are never copied while growing and are freed as the merge
//! reads them. Strings are named by an index into the generation's own
//! list (types and categories listed once each).

use rustc_hash::FxHashMap;
use trace_core::{EventContext, StringId};

use crate::varint::{read_uvarint, unzigzag, write_uvarint, zigzag};

/// Bytes per chunk of packed events.
const CHUNK_BYTES: usize = 64 * 1024;

/// The most bytes one packed event takes: a kind byte and at most five
/// varints of at most 10 bytes.
const MAX_EVENT_BYTES: usize = 1 + 5 * 10;

/// Which user annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UserKind {
    TaskBegin,
    TaskEnd,
    RegionBegin,
    RegionEnd,
    Log,
}

impl UserKind {
    const ALL: [UserKind; 5] =
        [UserKind::TaskBegin, UserKind::TaskEnd, UserKind::RegionBegin, UserKind::RegionEnd, UserKind::Log];
}

/// One task, region or log event, as the merge reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UserRec {
    pub time: i64,
    pub g: i64,
    /// The task (of a region or log: the task it belongs to).
    pub id: u64,
    /// Task or region type, or log category (an index in [`UserRecs::strings`]).
    pub s1: u32,
    /// A log's message; a task's parent's low half.
    s2: u32,
    /// Where a region began (local stack); a task's parent's high half.
    stack: u32,
    pub what: UserKind,
}

impl UserRec {
    /// A begun task's parent (`u64::MAX` when it has none); 0 for the
    /// other kinds.
    pub fn parent(&self) -> u64 {
        match self.what {
            UserKind::TaskBegin => u64::from(self.stack) << 32 | u64::from(self.s2),
            _ => 0,
        }
    }

    /// Where a region began (a local stack); 0 for the other kinds.
    pub fn stack(&self) -> u32 {
        match self.what {
            UserKind::RegionBegin | UserKind::RegionEnd => self.stack,
            _ => 0,
        }
    }

    /// A log's message (as `s1`); [`NO_STRING`] for the other kinds.
    pub fn message(&self) -> u32 {
        match self.what {
            UserKind::Log => self.s2,
            _ => NO_STRING,
        }
    }
}

/// The index of the empty string.
pub(crate) const NO_STRING: u32 = u32::MAX;

/// A generation's user annotation events, in order.
#[derive(Debug, Default)]
pub(crate) struct UserRecs<'a> {
    /// The events packed, in chunks of about [`CHUNK_BYTES`].
    chunks: Vec<Vec<u8>>,
    /// The event packed last in the last chunk, which the next is packed
    /// against.
    last: Last,
    /// The strings they name, each once.
    strings: Vec<&'a [u8]>,
    /// Index in `strings` by the generation's string ID.
    by_id: FxHashMap<u64, u32>,
}

/// The fields an event is packed against: those of the event before.
#[derive(Clone, Copy, Debug, Default)]
struct Last {
    time: i64,
    g: i64,
    id: u64,
}

impl<'a> UserRecs<'a> {
    /// The strings the events name, by index, and the events in order
    /// (each chunk freed once read).
    pub fn into_parts(self) -> (Vec<&'a [u8]>, impl Iterator<Item = UserRec>) {
        let recs = self.chunks.into_iter().flat_map(|chunk| {
            let (mut pos, mut last) = (0, Last::default());
            std::iter::from_fn(move || {
                let mut rest = chunk.get(pos..).filter(|r| !r.is_empty())?;
                let before = rest.len();
                let rec = unpack(&mut rest, &mut last);
                pos += before - rest.len();
                rec
            })
        });
        (self.strings, recs)
    }

    /// Bytes held by the packed events.
    #[cfg(test)]
    fn packed_bytes(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    /// A task's beginning (`typ` [`None`] when the trace names no type).
    pub fn task_begin(
        &mut self,
        at: (i64, i64),
        id: u64,
        parent: u64,
        typ: Option<StringId>,
        ctx: &EventContext<'_, 'a>,
    ) {
        let s1 = typ.map_or(NO_STRING, |s| self.index(s, ctx));
        let (s2, stack) = (parent as u32, (parent >> 32) as u32);
        self.push(UserRec { time: at.0, g: at.1, id, s1, s2, stack, what: UserKind::TaskBegin });
    }

    /// A task's end.
    pub fn task_end(&mut self, at: (i64, i64), id: u64) {
        self.push(UserRec { time: at.0, g: at.1, id, s1: NO_STRING, s2: NO_STRING, stack: 0, what: UserKind::TaskEnd });
    }

    /// A region's beginning (`stack`: local) or end, in task `task`.
    pub fn region(
        &mut self,
        at: (i64, i64),
        begin: bool,
        task: u64,
        typ: StringId,
        stack: u32,
        ctx: &EventContext<'_, 'a>,
    ) {
        let what = if begin { UserKind::RegionBegin } else { UserKind::RegionEnd };
        let s1 = self.index(typ, ctx);
        self.push(UserRec { time: at.0, g: at.1, id: task, s1, s2: NO_STRING, stack, what });
    }

    /// A log message.
    pub fn log(
        &mut self,
        at: (i64, i64),
        task: u64,
        (category, message): (StringId, StringId),
        ctx: &EventContext<'_, 'a>,
    ) {
        // Messages are mostly distinct (formatted per call): listed as they
        // come, without the index entry that would find a repeat.
        let s1 = self.index(category, ctx);
        let s2 = self.list(ctx.string(message));
        self.push(UserRec { time: at.0, g: at.1, id: task, s1, s2, stack: 0, what: UserKind::Log });
    }

    fn push(&mut self, rec: UserRec) {
        // A chunk is never grown: a new one starts where the next event
        // might not fit, packed against nothing, so each chunk reads alone.
        let chunk = match self.chunks.last_mut() {
            Some(last) if last.len() + MAX_EVENT_BYTES <= CHUNK_BYTES => last,
            _ => {
                self.last = Last::default();
                self.chunks.push(Vec::with_capacity(CHUNK_BYTES));
                let Some(last) = self.chunks.last_mut() else { return };
                last
            }
        };
        pack(chunk, &rec, &mut self.last);
    }

    /// Lists `text`, returning its index.
    fn list(&mut self, text: &'a [u8]) -> u32 {
        if text.is_empty() {
            return NO_STRING;
        }
        self.strings.push(text);
        self.strings.len() as u32 - 1
    }

    /// The index of the generation's string `id`, listing it the first time.
    fn index(&mut self, id: StringId, ctx: &EventContext<'_, 'a>) -> u32 {
        if id.0 == 0 {
            return NO_STRING;
        }
        let next = self.strings.len() as u32;
        let i = *self.by_id.entry(id.0).or_insert(next);
        if i == next {
            self.strings.push(ctx.string(id));
        }
        i
    }
}

/// Appends `rec` packed against `last`: its kind, then its time, goroutine
/// and task or ID as deltas, then only the fields its kind has.
fn pack(out: &mut Vec<u8>, rec: &UserRec, last: &mut Last) {
    out.push(rec.what as u8);
    write_uvarint(out, zigzag(rec.time.wrapping_sub(last.time)));
    write_uvarint(out, zigzag(rec.g.wrapping_sub(last.g)));
    write_uvarint(out, zigzag(rec.id.wrapping_sub(last.id) as i64));
    let name = |i: u32| u64::from(i.wrapping_add(1));
    match rec.what {
        UserKind::TaskBegin => {
            write_uvarint(out, name(rec.s1));
            write_uvarint(out, rec.parent().wrapping_add(1));
        }
        UserKind::TaskEnd => {}
        UserKind::RegionBegin | UserKind::RegionEnd => {
            write_uvarint(out, name(rec.s1));
            write_uvarint(out, u64::from(rec.stack));
        }
        UserKind::Log => {
            write_uvarint(out, name(rec.s1));
            write_uvarint(out, name(rec.s2));
        }
    }
    *last = Last { time: rec.time, g: rec.g, id: rec.id };
}

/// The event packed at the front of `bytes` (advanced past it), or `None`
/// if its kind is unknown (never, for bytes [`pack`] wrote).
fn unpack(bytes: &mut &[u8], last: &mut Last) -> Option<UserRec> {
    let (&kind, rest) = bytes.split_first()?;
    *bytes = rest;
    let what = *UserKind::ALL.get(usize::from(kind))?;
    let time = last.time.wrapping_add(unzigzag(read_uvarint(bytes)));
    let g = last.g.wrapping_add(unzigzag(read_uvarint(bytes)));
    let id = last.id.wrapping_add(unzigzag(read_uvarint(bytes)) as u64);
    *last = Last { time, g, id };
    let name = |bytes: &mut &[u8]| (read_uvarint(bytes) as u32).wrapping_sub(1);
    let (mut s1, mut s2, mut stack) = (NO_STRING, NO_STRING, 0);
    match what {
        UserKind::TaskBegin => {
            s1 = name(bytes);
            let parent = read_uvarint(bytes).wrapping_sub(1);
            (s2, stack) = (parent as u32, (parent >> 32) as u32);
        }
        UserKind::TaskEnd => {}
        UserKind::RegionBegin | UserKind::RegionEnd => {
            s1 = name(bytes);
            stack = read_uvarint(bytes) as u32;
        }
        UserKind::Log => (s1, s2) = (name(bytes), name(bytes)),
    }
    Some(UserRec { time, g, id, s1, s2, stack, what })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx_with(extra: &trace_core::event::ExtraStrings) -> EventContext<'_, '_> {
        EventContext { table: None, extra }
    }

    /// A region event takes a few bytes, not a 40-byte record: a program
    /// that marks every step of every request holds millions of them.
    #[test]
    fn a_region_event_packs_to_a_few_bytes() {
        let extra = trace_core::event::ExtraStrings::default();
        let ctx = ctx_with(&extra);
        let mut u = UserRecs::default();
        let n = 100_000;
        for i in 0..n {
            let (g, t) = (1_000 + i % 7, 1_000_000_000 + i * 640);
            u.region((t, g), true, 0, StringId(0), (i % 3) as u32, &ctx);
            u.region((t + 320, g), false, 0, StringId(0), (i % 3) as u32, &ctx);
        }
        let per_event = u.packed_bytes() as f64 / (2 * n) as f64;
        assert!(per_event <= 8.0, "{per_event} bytes a region event");
        assert_eq!(u.into_parts().1.count(), 2 * n as usize);
    }

    proptest::proptest! {
        /// Whatever the values, the merge reads back the events as they
        /// were recorded, in order, across chunks.
        #[test]
        fn events_read_back_as_recorded(
            events in proptest::collection::vec(
                (0u8..5, proptest::num::i64::ANY, proptest::num::i64::ANY, proptest::num::u64::ANY,
                 proptest::num::u64::ANY, proptest::num::u32::ANY),
                0..3000,
            ),
        ) {
            let extra = trace_core::event::ExtraStrings::default();
            let ctx = ctx_with(&extra);
            let mut u = UserRecs::default();
            let mut want = Vec::new();
            for &(kind, time, g, id, other, stack) in &events {
                let at = (time, g);
                match kind {
                    0 => u.task_begin(at, id, other, None, &ctx),
                    1 => u.task_end(at, id),
                    2 | 3 => u.region(at, kind == 2, id, StringId(0), stack, &ctx),
                    _ => u.log(at, id, (StringId(0), StringId(0)), &ctx),
                }
                want.push(UserRec {
                    time,
                    g,
                    id,
                    s1: NO_STRING,
                    s2: if kind == 0 { other as u32 } else { NO_STRING },
                    stack: match kind {
                        0 => (other >> 32) as u32,
                        2 | 3 => stack,
                        _ => 0,
                    },
                    what: UserKind::ALL.get(usize::from(kind)).copied().unwrap_or(UserKind::Log),
                });
            }
            let got: Vec<UserRec> = u.into_parts().1.collect();
            proptest::prop_assert_eq!(got.len(), want.len());
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                proptest::prop_assert_eq!(a, b, "event {}", i);
            }
        }
    }

    #[test]
    fn a_task_keeps_its_whole_parent() {
        let extra = trace_core::event::ExtraStrings::default();
        let ctx = ctx_with(&extra);
        let mut u = UserRecs::default();
        let parent = 0x1234_5678_9abc_def0;
        u.task_begin((5, 7), 3, parent, None, &ctx);
        u.task_begin((6, 7), 4, u64::MAX, None, &ctx);
        u.task_end((8, 7), 3);
        let (strings, recs) = u.into_parts();
        let recs: Vec<UserRec> = recs.collect();
        let parents: Vec<u64> = recs.iter().map(UserRec::parent).collect();
        assert_eq!(parents, [parent, u64::MAX, 0]);
        assert!(strings.is_empty());
        assert!(recs.iter().all(|r| r.stack() == 0 && r.message() == NO_STRING && r.s1 == NO_STRING));
    }
}
