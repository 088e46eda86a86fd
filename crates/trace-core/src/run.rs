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
        if self.error.is_some() {
            return Ok(None);
        }
        match self.next_inner() {
            Ok(r) => Ok(r),
            Err(e) => {
                self.error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn next_inner(&mut self) -> Result<Option<Event>> {
        let e = match self.sync.take() {
            Some(s) => s,
            None => match self.order.pop_event() {
                Some(e) => e,
                None => match self.dec.step(&mut self.order)? {
                    Some(e) => e,
                    None => return Ok(None),
                },
            },
        };
        Ok(Some(self.finish_event(e)?))
    }

    #[inline]
    fn finish_event(&mut self, mut e: Event) -> Result<Event> {
        if e.typ != ev::SYNC_PSEUDO {
            validate_ids(&e, &self.dec.generation)?;
        }
        if e.time <= self.last_ts {
            e.time = TimeNs(self.last_ts.0.wrapping_add(1));
        }
        self.last_ts = e.time;
        self.count += 1;
        Ok(e)
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

fn validate_ids(e: &Event, generation: &Generation<'_>) -> Result<()> {
    let Some(s) = spec::spec_of(e.typ) else { return Ok(()) };
    let table = &generation.table;
    for &i in s.stack_ids {
        let id = StackId(e.args.get(i - 1).copied().unwrap_or(0));
        if !table.has_stack(id) {
            return Err(Error::invalid(
                e.offset,
                "event",
                format!("found invalid stack ID {} for event {}", id.0, s.name),
            ));
        }
    }
    for &i in s.string_ids {
        let id = StringId(e.args.get(i - 1).copied().unwrap_or(0));
        if !table.has_string(id) {
            return Err(Error::invalid(
                e.offset,
                "event",
                format!("found invalid string ID {} for event {}", id.0, s.name),
            ));
        }
    }
    Ok(())
}
