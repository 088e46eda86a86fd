//! A generation's user annotations (task, region and log events), kept in
//! order until the merge replays them.
//!
//! A program that annotates every request (a task, a few regions, a log
//! line) has as many of these events as scheduling ones, and a generation
//! holds them all until it is merged. So each is a 40-byte record in
//! chunks (never copied while growing), naming its strings by an index
//! into the generation's own list (types and categories listed once each).

use rustc_hash::FxHashMap;
use trace_core::{EventContext, StringId};

use crate::chunked::Chunked;

/// Records per chunk: 40 KiB.
const CHUNK: usize = 1024;

/// Which user annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UserKind {
    TaskBegin,
    TaskEnd,
    RegionBegin,
    RegionEnd,
    Log,
}

/// One task, region or log event.
#[derive(Clone, Copy, Debug)]
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
    recs: Chunked<UserRec, CHUNK>,
    /// The strings they name, each once.
    strings: Vec<&'a [u8]>,
    /// Index in `strings` by the generation's string ID.
    by_id: FxHashMap<u64, u32>,
}

impl<'a> UserRecs<'a> {
    /// The strings the events name, by index, and the events in order
    /// (each chunk freed once read).
    pub fn into_parts(self) -> (Vec<&'a [u8]>, impl Iterator<Item = UserRec>) {
        (self.strings, self.recs.into_iter())
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
        self.recs.push(rec);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_forty_bytes() {
        assert_eq!(std::mem::size_of::<UserRec>(), 40);
    }

    #[test]
    fn a_task_keeps_its_whole_parent() {
        let extra = trace_core::event::ExtraStrings::default();
        let ctx = EventContext { table: None, extra: &extra };
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
