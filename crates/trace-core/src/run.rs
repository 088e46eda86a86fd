//! One generation's decode: its Sync event, then its events in order, with
//! Go's per-event checks (stack and string IDs resolve) and timestamp repair
//! (times strictly increase).

use crate::error::{Error, Result};
use crate::event::{Event, EventContext};
use crate::frontier::GenerationDecoder;
use crate::generation::Generation;
use crate::ids::{GoroutineId, ProcId, StackId, StringId, ThreadId, TimeNs};
use crate::order::Ordering;
use crate::spec::{self, ev};
use crate::speculate::{Prediction, ReadLog, predict};

/// Decodes one generation, exactly (from the true previous state) or
/// speculatively (from a state predicted from the generation itself).
pub struct GenerationRun<'a> {
    dec: GenerationDecoder<'a>,
    order: Ordering,
    last_ts: TimeNs,
    sync: Option<Event>,
    sync_time: TimeNs,
    pred: Option<Prediction>,
    error: Option<Error>,
    index: usize,
    count: u64,
}

/// How a run ended: the state to carry on from and what to verify.
pub struct RunEnd {
    /// Position of the generation in the trace.
    pub index: usize,
    /// Ordering state after the generation.
    pub order: Ordering,
    /// Time of the last event returned.
    pub last_ts: TimeNs,
    /// The error that stopped the run, if any.
    pub error: Option<Error>,
    /// The Sync event's time before repair.
    pub sync_time: TimeNs,
    /// Number of events returned, the Sync included.
    pub count: u64,
    /// For speculative runs: the prediction and what was read from it.
    pub speculation: Option<(Prediction, ReadLog)>,
}

/// A Sync event with sequence number `n`.
pub(crate) fn sync_event(time: TimeNs, n: u64, has_table: bool) -> Event {
    Event {
        time,
        g: GoroutineId::NONE,
        p: ProcId::NONE,
        m: ThreadId::NONE,
        typ: ev::SYNC_PSEUDO,
        args: [n, u64::from(has_table), 0, 0],
        offset: 0,
    }
}

impl<'a> GenerationRun<'a> {
    /// A run from the true state left by the previous generation.
    /// `index` is the generation's position (its Sync is number `index + 1`).
    pub fn exact(generation: Generation<'a>, order: Ordering, last_ts: TimeNs, index: usize) -> Result<Self> {
        Self::start(generation, order, last_ts, index, None)
    }

    /// A run from a state predicted from the generation's own restatements.
    /// `initial_gen` is the number of the trace's first generation.
    ///
    /// Its event times are repaired as if nothing came before; the true time
    /// of its `i`-th event (the Sync is 0) is `max(time, floor + 1 + i)`,
    /// where `floor` is what [`crate::ParallelDecode::chain`] reports.
    pub fn speculative(generation: Generation<'a>, initial_gen: u64, index: usize) -> Result<Self> {
        let pred = predict(&generation);
        let order = Ordering::speculative(&pred, initial_gen);
        Self::start(generation, order, TimeNs(i64::MIN), index, Some(pred))
    }

    fn start(
        generation: Generation<'a>,
        order: Ordering,
        last_ts: TimeNs,
        index: usize,
        pred: Option<Prediction>,
    ) -> Result<Self> {
        let dec = GenerationDecoder::new(generation)?;
        let sync_time = dec.start_time();
        let sync = sync_event(sync_time, index as u64 + 1, dec.generation.table.clock.is_some());
        Ok(GenerationRun { dec, order, last_ts, sync: Some(sync), sync_time, pred, error: None, index, count: 0 })
    }

    /// The generation being decoded.
    pub fn generation(&self) -> &Generation<'a> {
        &self.dec.generation
    }

    /// Resolution context for the events of this run.
    pub fn context(&self) -> EventContext<'_, 'a> {
        EventContext { table: Some(&self.dec.generation.table), extra: &self.order.extra }
    }

    /// The next event; `Ok(None)` at the end of the generation or after an error.
    pub fn next_event(&mut self) -> Result<Option<Event>> {
        let mut e = Event::EMPTY;
        Ok(self.next_into(&mut e)?.then_some(e))
    }

    /// [`GenerationRun::next_event`] writing into `out` (no copies on the
    /// hot path); `Ok(false)` at the end of the generation or after an error.
    #[inline]
    pub fn next_into(&mut self, out: &mut Event) -> Result<bool> {
        if self.error.is_some() {
            return Ok(false);
        }
        match self.next_inner(out) {
            Ok(r) => Ok(r),
            Err(e) => {
                self.error = Some(e.clone());
                Err(e)
            }
        }
    }

    #[inline]
    fn next_inner(&mut self, out: &mut Event) -> Result<bool> {
        if let Some(s) = self.sync.take() {
            *out = s;
        } else if !self.order.pop_into(out) && !self.dec.step_into(&mut self.order, out)? {
            return Ok(false);
        }
        if out.typ != ev::SYNC_PSEUDO {
            validate_ids(out, &self.dec.generation)?;
        }
        if out.time <= self.last_ts {
            out.time = TimeNs(self.last_ts.0.wrapping_add(1));
        }
        self.last_ts = out.time;
        self.count += 1;
        Ok(true)
    }

    /// Ends the run.
    pub fn finish(mut self) -> RunEnd {
        let speculation = self.pred.take().map(|p| (p, self.order.take_read_log()));
        RunEnd {
            index: self.index,
            order: self.order,
            last_ts: self.last_ts,
            error: self.error,
            sync_time: self.sync_time,
            count: self.count,
            speculation,
        }
    }
}

/// Per event type, bit masks of the argument slots holding stack and string IDs.
static ID_SLOTS: [(u8, u8); 256] = {
    let mut t = [(0u8, 0u8); 256];
    let mut i = 0;
    while i < spec::SPECS.len() {
        let s = &spec::SPECS[i];
        let mut j = 0;
        while j < s.stack_ids.len() {
            t[i].0 |= 1 << (s.stack_ids[j] - 1);
            j += 1;
        }
        let mut j = 0;
        while j < s.string_ids.len() {
            t[i].1 |= 1 << (s.string_ids[j] - 1);
            j += 1;
        }
        i += 1;
    }
    t
};

/// Go's check that every stack and string ID an event names exists.
#[inline(always)]
fn validate_ids(e: &Event, generation: &Generation<'_>) -> Result<()> {
    let (stacks, strings) = ID_SLOTS[e.typ as usize];
    if stacks | strings == 0 {
        return Ok(());
    }
    let table = &generation.table;
    let mut m = stacks;
    while m != 0 {
        let id = e.args.get(m.trailing_zeros() as usize).copied().unwrap_or(0);
        m &= m - 1;
        if id != 0 && !table.has_stack(StackId(id)) {
            return Err(bad_id(e, "stack", id));
        }
    }
    let mut m = strings;
    while m != 0 {
        let id = e.args.get(m.trailing_zeros() as usize).copied().unwrap_or(0);
        m &= m - 1;
        if id != 0 && !table.has_string(StringId(id)) {
            return Err(bad_id(e, "string", id));
        }
    }
    Ok(())
}

#[cold]
fn bad_id(e: &Event, what: &str, id: u64) -> Error {
    let name = spec::spec_of(e.typ).map_or("?", |s| s.name);
    Error::invalid(e.offset, "event", format!("found invalid {what} ID {id} for event {name}"))
}
