//! The sequential reader: whole trace in, ordered events out, with Go's
//! exact Sync placement, timestamp fix-ups and error semantics.

use crate::error::{Error, Result};
use crate::event::{Event, EventContext};
use crate::frontier::GenerationDecoder;
use crate::generation::{EvTable, Generation, GenerationIndex};
use crate::ids::{GoroutineId, ProcId, StackId, StringId, ThreadId, TimeNs};
use crate::order::Ordering;
use crate::spec::{self, ev};
use crate::version::Version;

/// Reads a v2 trace (Go 1.22+) event by event.
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
    current: Option<GenerationDecoder<'a>>,
    order: Ordering,
    last_ts: TimeNs,
    syncs: u64,
    ending: Option<Ending>,
    done: bool,
    v1: Option<crate::v1::Converter<'a>>,
}

impl<'a> Reader<'a> {
    /// Opens a trace held in memory (e.g. a memory-mapped file).
    pub fn new(data: &'a [u8]) -> Result<Self> {
        let version = Version::from_header(data)?;
        let mut r = Reader {
            version,
            index: GenerationIndex { version, generations: Vec::new(), tail_error: None },
            next_gen: 0,
            current: None,
            order: Ordering::default(),
            last_ts: TimeNs(0),
            syncs: 0,
            ending: None,
            done: false,
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
        EventContext { table: self.current.as_ref().map(|d| &d.generation.table), extra: &self.order.extra }
    }

    /// The current generation's tables.
    pub fn table(&self) -> Option<&EvTable<'a>> {
        self.context().table
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
        match self.next_inner() {
            Ok(Some(mut e)) => {
                if e.typ != ev::SYNC_PSEUDO {
                    self.validate_ids(&e)?;
                }
                if e.time <= self.last_ts {
                    e.time = TimeNs(self.last_ts.0.wrapping_add(1));
                }
                self.last_ts = e.time;
                Ok(Some(e))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    fn next_inner(&mut self) -> Result<Option<Event>> {
        if let Some(e) = self.order.next() {
            return Ok(Some(e));
        }
        match self.ending.take() {
            Some(Ending::Clean) => return Ok(None),
            Some(Ending::Failed(e)) => return Err(e),
            None => {}
        }
        if self.current.as_ref().is_none_or(|d| d.is_done()) {
            return Ok(Some(self.next_generation()));
        }
        let Some(dec) = self.current.as_mut() else { return Ok(None) };
        match dec.step(&mut self.order)? {
            Some(e) => Ok(Some(e)),
            None => Ok(Some(self.next_generation())),
        }
    }

    /// Installs the next generation and returns its Sync event, or the
    /// final Sync (and queues the end or the error).
    fn next_generation(&mut self) -> Event {
        let span = self.index.generations.get(self.next_gen).cloned();
        self.current = None;
        match span {
            Some(span) => {
                self.next_gen += 1;
                match Generation::build(&span, self.version).and_then(GenerationDecoder::new) {
                    Ok(dec) => {
                        let t = dec.start_time();
                        let has_table = u64::from(dec.generation.table.clock.is_some());
                        self.current = Some(dec);
                        self.sync_event(t, has_table)
                    }
                    Err(e) => {
                        self.ending = Some(Ending::Failed(e));
                        self.sync_event(self.last_ts, 0)
                    }
                }
            }
            None => {
                self.ending = Some(match self.index.tail_error.take() {
                    Some(e) => Ending::Failed(e),
                    None => Ending::Clean,
                });
                self.sync_event(self.last_ts, 0)
            }
        }
    }

    fn sync_event(&mut self, t: TimeNs, has_table: u64) -> Event {
        self.syncs += 1;
        Event {
            time: t,
            g: GoroutineId::NONE,
            p: ProcId::NONE,
            m: ThreadId::NONE,
            typ: ev::SYNC_PSEUDO,
            args: [self.syncs, has_table, 0, 0],
            offset: 0,
        }
    }

    fn validate_ids(&self, e: &Event) -> Result<()> {
        let Some(table) = self.current.as_ref().map(|d| &d.generation.table) else { return Ok(()) };
        let Some(s) = spec::spec_of(e.typ) else { return Ok(()) };
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
}

/// What follows the last Sync event.
enum Ending {
    Clean,
    Failed(Error),
}

impl Iterator for Reader<'_> {
    type Item = Result<Event>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}
