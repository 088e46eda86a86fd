//! The sequential reader: whole trace in, ordered events out, with Go's
//! exact Sync placement, timestamp repair and error semantics.

use crate::error::{Error, Result};
use crate::event::{Event, EventContext, ExtraStrings};
use crate::generation::{EvTable, Generation, GenerationIndex};
use crate::ids::TimeNs;
use crate::order::Ordering;
use crate::run::{GenerationRun, sync_event};
use crate::version::Version;

/// Reads a trace event by event.
///
/// ```no_run
/// let bytes = std::fs::read("trace.out").unwrap();
/// let mut r = trace_core::Reader::new(&bytes).unwrap();
/// while let Some(ev) = r.next_event().unwrap() {
///     println!("{:?} at {}", ev.kind(), ev.time);
/// }
/// ```
pub struct Reader<'a> {
    version: Version,
    index: GenerationIndex<'a>,
    next_gen: usize,
    run: Option<GenerationRun<'a>>,
    /// Ordering state between runs.
    order: Option<Ordering>,
    last_ts: TimeNs,
    syncs: u64,
    ending: Option<Ending>,
    done: bool,
    no_extra: ExtraStrings,
    v1: Option<crate::v1::Converter<'a>>,
}

/// What follows the last Sync event.
enum Ending {
    Clean,
    Failed(Error),
}

impl<'a> Reader<'a> {
    /// Opens a trace held in memory (e.g. a memory-mapped file).
    pub fn new(data: &'a [u8]) -> Result<Self> {
        let version = Version::from_header(data)?;
        let mut r = Reader {
            version,
            index: GenerationIndex { version, generations: Vec::new(), tail_error: None },
            next_gen: 0,
            run: None,
            order: Some(Ordering::default()),
            last_ts: TimeNs(0),
            syncs: 0,
            ending: None,
            done: false,
            no_extra: ExtraStrings::default(),
            v1: None,
        };
        if version.is_v1() {
            r.v1 = Some(crate::v1::Converter::new(data, version)?);
        } else {
            r.index = GenerationIndex::scan(data, version);
        }
        Ok(r)
    }

    /// The trace's format version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The generations found in the file (empty for v1 traces).
    pub fn index(&self) -> &GenerationIndex<'a> {
        &self.index
    }

    /// Resolution context for the event last returned.
    pub fn context(&self) -> EventContext<'_, 'a> {
        if let Some(v1) = &self.v1 {
            return v1.context();
        }
        match &self.run {
            Some(run) => run.context(),
            None => EventContext { table: None, extra: self.order.as_ref().map_or(&self.no_extra, |o| &o.extra) },
        }
    }

    /// The current generation's tables.
    pub fn table(&self) -> Option<&EvTable<'a>> {
        self.run.as_ref().map(|r| &r.generation().table)
    }

    /// Reads the next event; `Ok(None)` at the end of the trace.
    ///
    /// After an error, further calls return `Ok(None)`.
    pub fn next_event(&mut self) -> Result<Option<Event>> {
        if self.done {
            return Ok(None);
        }
        if let Some(v1) = self.v1.as_mut() {
            let r = v1.next_event();
            if !matches!(r, Ok(Some(_))) {
                self.done = true;
            }
            return r;
        }
        let r = self.next_inner();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r.map_err(|e| self.explain(e))
    }

    /// Blames a failure in the last, truncated generation on the truncation.
    fn explain(&self, e: Error) -> Error {
        if self.next_gen >= self.index.generations.len() {
            crate::generation::blame_truncation(e, self.index.tail_error.as_ref())
        } else {
            e
        }
    }

    /// [`Reader::next_event`] writing into `out`, avoiding a copy per event;
    /// `Ok(false)` at the end of the trace.
    pub fn next_into(&mut self, out: &mut Event) -> Result<bool> {
        if !self.done
            && self.v1.is_none()
            && let Some(run) = self.run.as_mut()
        {
            match run.next_into(out) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) => {
                    self.done = true;
                    return Err(self.explain(e));
                }
            }
        }
        match self.next_event()? {
            Some(e) => {
                *out = e;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn next_inner(&mut self) -> Result<Option<Event>> {
        if let Some(run) = self.run.as_mut() {
            if let Some(e) = run.next_event()? {
                return Ok(Some(e));
            }
            if let Some(run) = self.run.take() {
                let end = run.finish();
                self.last_ts = end.last_ts;
                self.order = Some(end.order);
            }
        }
        match self.ending.take() {
            Some(Ending::Clean) => return Ok(None),
            Some(Ending::Failed(e)) => return Err(e),
            None => {}
        }
        self.next_generation()
    }

    /// Starts the next generation and returns its Sync event, or the final
    /// Sync (queueing the end or the error).
    fn next_generation(&mut self) -> Result<Option<Event>> {
        let i = self.next_gen;
        let Some(span) = self.index.generations.get(i) else {
            self.ending = Some(match self.index.tail_error.take() {
                Some(e) => Ending::Failed(e),
                None => Ending::Clean,
            });
            return Ok(Some(self.bare_sync()));
        };
        self.next_gen += 1;
        let generation = match Generation::build(span, self.version) {
            Ok(g) => g,
            Err(e) => {
                // Go reports a generation it cannot read after one more Sync.
                self.ending = Some(Ending::Failed(e));
                return Ok(Some(self.bare_sync()));
            }
        };
        let order = self.order.take().unwrap_or_default();
        // Go fails without a Sync when an M's first event is unreadable.
        let mut run = GenerationRun::exact(generation, order, self.last_ts, self.syncs as usize)?;
        self.syncs += 1;
        let first = run.next_event();
        self.run = Some(run);
        first
    }

    /// A Sync event between generations (no tables), repaired like any event.
    fn bare_sync(&mut self) -> Event {
        self.syncs += 1;
        let mut e = sync_event(self.last_ts, self.syncs, false);
        if e.time <= self.last_ts {
            e.time = TimeNs(self.last_ts.0.wrapping_add(1));
        }
        self.last_ts = e.time;
        e
    }
}

impl Iterator for Reader<'_> {
    type Item = Result<Event>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}
