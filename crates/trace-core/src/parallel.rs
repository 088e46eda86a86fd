//! Decoding generations independently, for parallel consumers.
//!
//! [`ParallelDecode::run`] gives a run for any generation that needs
//! nothing from the others: the first generation runs exactly, later ones
//! speculatively (see [`crate::speculate`]). A caller runs them on as many
//! threads as it likes, then calls [`ParallelDecode::chain`] once, in order:
//! it confirms each speculative run against the true end state of the one
//! before, and re-runs exactly the few it cannot confirm. The events every
//! confirmed or re-run generation produced are exactly what [`crate::Reader`]
//! produces, Sync events and repaired timestamps included.
//!
//! trace-core starts no threads itself; `timeline` drives this with rayon.

use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::generation::{Generation, GenerationIndex, blame_truncation};
use crate::ids::TimeNs;
use crate::order::Ordering;
use crate::run::{GenerationRun, RunEnd, sync_event};
use crate::speculate::TaskFix;
use crate::version::Version;

/// A trace prepared for per-generation decoding.
pub struct ParallelDecode<'a> {
    version: Version,
    index: GenerationIndex<'a>,
}

/// The outcome of [`ParallelDecode::chain`].
pub struct Chained<T> {
    /// One value per generation that was decoded, in order.
    pub values: Vec<T>,
    /// Generations whose speculative run was replaced by an exact one.
    pub redone: Vec<usize>,
    /// Per generation, the time floor to apply: the `i`-th event (Sync = 0)
    /// of a speculative run really happened at `max(time, floor + 1 + i)`.
    /// `None` where the run was exact.
    pub time_floors: Vec<Option<TimeNs>>,
    /// Per generation, task ends whose task began earlier: the run reported
    /// no parent and an empty type for them; these are the true values.
    pub task_fixes: Vec<Vec<TaskFix>>,
    /// The Sync event after the last generation (Go emits it at the end and
    /// before reporting an unreadable generation).
    pub final_sync: Option<Event>,
    /// The error that ended decoding early, if any.
    pub error: Option<Error>,
}

/// What a speculative or first run left for [`ParallelDecode::chain`].
pub struct Started<T> {
    value: T,
    end: Result<RunEnd>,
}

impl<T> Started<T> {
    /// The consumer's value, without confirming the run (for a consumer
    /// that re-runs a generation it already knows to be confirmed).
    pub fn into_value(self) -> T {
        self.value
    }
}

impl<'a> ParallelDecode<'a> {
    /// Scans the trace's generations.
    pub fn new(data: &'a [u8]) -> Result<Self> {
        let version = Version::from_header(data)?;
        if version.is_v1() {
            return Err(Error::new(
                ErrorKind::UnsupportedVersion,
                0,
                "header",
                format!("Go 1.{} execution traces (the pre-1.22 format) are not supported yet", version.minor()),
            ));
        }
        Ok(ParallelDecode { version, index: GenerationIndex::scan(data, version) })
    }

    /// Number of generations found.
    pub fn len(&self) -> usize {
        self.index.generations.len()
    }

    /// Whether the trace has no generations.
    pub fn is_empty(&self) -> bool {
        self.index.generations.is_empty()
    }

    /// The generation index.
    pub fn index(&self) -> &GenerationIndex<'a> {
        &self.index
    }

    fn initial_gen(&self) -> u64 {
        self.index.generations.first().map_or(0, |g| g.generation)
    }

    /// Builds generation `i`'s tables and batch lists, e.g. to read its
    /// stacks before decoding it with [`ParallelDecode::run_generation`].
    pub fn generation(&self, i: usize) -> Result<Generation<'a>> {
        self.build(i)
    }

    fn build(&self, i: usize) -> Result<Generation<'a>> {
        let span = self
            .index
            .generations
            .get(i)
            .ok_or_else(|| Error::new(ErrorKind::Invalid, 0, "generation", format!("no generation {i}")))?;
        Generation::build(span, self.version)
    }

    /// Decodes generation `i` independently, handing the run to `consume`.
    /// Safe to call for different `i` on different threads.
    pub fn run<T>(&self, i: usize, consume: impl FnOnce(&mut GenerationRun<'a>) -> T) -> Started<T>
    where
        T: Default,
    {
        self.run_generation(i, self.build(i), consume)
    }

    /// [`ParallelDecode::run`] with generation `i` already built by
    /// [`ParallelDecode::generation`].
    pub fn run_generation<T>(
        &self,
        i: usize,
        built: Result<Generation<'a>>,
        consume: impl FnOnce(&mut GenerationRun<'a>) -> T,
    ) -> Started<T>
    where
        T: Default,
    {
        let run = built.and_then(|g| {
            if i == 0 {
                GenerationRun::exact(g, Ordering::default(), TimeNs(0), 0)
            } else {
                GenerationRun::speculative(g, self.initial_gen(), i)
            }
        });
        match run {
            Ok(mut run) => {
                let value = consume(&mut run);
                Started { value, end: Ok(run.finish()) }
            }
            Err(e) => Started { value: T::default(), end: Err(e) },
        }
    }

    /// Confirms the runs in order, re-running unconfirmed ones with `redo`.
    pub fn chain<T>(&self, started: Vec<Started<T>>, mut redo: impl FnMut(&mut GenerationRun<'a>) -> T) -> Chained<T> {
        let mut c = self.chainer();
        for s in started {
            if c.is_stopped() {
                break;
            }
            c.feed(s, &mut redo);
        }
        c.finish()
    }

    /// An incremental [`ParallelDecode::chain`]: feed runs in generation
    /// order as they finish, so their logs need not all be kept.
    pub fn chainer<T>(&self) -> Chainer<'_, 'a, T> {
        Chainer {
            pd: self,
            out: Chained {
                values: Vec::new(),
                redone: Vec::new(),
                time_floors: Vec::new(),
                task_fixes: Vec::new(),
                final_sync: None,
                error: None,
            },
            state: Ordering::default(),
            last_ts: TimeNs(0),
            next: 0,
            stopped: false,
        }
    }
}

/// Confirms runs one by one, in generation order; see [`ParallelDecode::chainer`].
pub struct Chainer<'p, 'a, T> {
    pd: &'p ParallelDecode<'a>,
    out: Chained<T>,
    state: Ordering,
    last_ts: TimeNs,
    next: usize,
    stopped: bool,
}

impl<'a, T> Chainer<'_, 'a, T> {
    /// Whether decoding stopped at an error (further runs are ignored).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Confirms the run of the next generation, or re-runs it with `redo`.
    pub fn feed(&mut self, s: Started<T>, mut redo: impl FnMut(&mut GenerationRun<'a>) -> T) {
        if self.stopped {
            return;
        }
        let i = self.next;
        self.next += 1;
        let confirmed = match &s.end {
            Ok(end) if end.error.is_none() => match &end.speculation {
                None => true,
                Some((pred, log)) => self.state.confirms(pred, log),
            },
            _ => false,
        };
        match (confirmed, s.end) {
            (true, Ok(end)) => {
                let out = &mut self.out;
                out.values.push(s.value);
                match &end.speculation {
                    Some((_, log)) => {
                        out.time_floors.push(Some(self.last_ts));
                        out.task_fixes.push(self.state.task_fixes(log));
                        self.state.absorb(&end.order, log);
                        // The last event is number count-1 after the Sync's 0.
                        let floor = TimeNs(self.last_ts.0.saturating_add(end.count as i64));
                        self.last_ts = end.last_ts.max(floor);
                    }
                    None => {
                        out.time_floors.push(None);
                        out.task_fixes.push(Vec::new());
                        self.state = end.order;
                        self.last_ts = end.last_ts;
                    }
                }
            }
            _ => self.rerun(i, &mut redo),
        }
    }

    /// Decodes generation `i` again from the true state.
    fn rerun(&mut self, i: usize, redo: &mut impl FnMut(&mut GenerationRun<'a>) -> T) {
        let out = &mut self.out;
        let last = i + 1 >= self.pd.len();
        let generation = match self.pd.build(i) {
            Ok(g) => g,
            Err(e) => {
                out.final_sync = Some(bump(sync_event(self.last_ts, i as u64 + 1, false), &mut self.last_ts));
                out.error = Some(if last { blame_truncation(e, self.pd.index.tail_error.as_ref()) } else { e });
                self.stopped = true;
                return;
            }
        };
        let mut run = match GenerationRun::exact(generation, self.state.clone(), self.last_ts, i) {
            Ok(r) => r,
            Err(e) => {
                out.error = Some(e);
                self.stopped = true;
                return;
            }
        };
        out.values.push(redo(&mut run));
        out.time_floors.push(None);
        out.task_fixes.push(Vec::new());
        if i > 0 {
            out.redone.push(i);
        }
        let end = run.finish();
        if let Some(e) = end.error {
            out.error = Some(if last { blame_truncation(e, self.pd.index.tail_error.as_ref()) } else { e });
            self.stopped = true;
            return;
        }
        // An exact run's end state is the true state.
        self.state = end.order;
        self.last_ts = end.last_ts;
    }

    /// Takes the values confirmed so far, each with its time floor and task
    /// fixes, so a consumer can fold them in as it goes; [`Chainer::finish`]
    /// then returns only the values not taken.
    pub fn take_confirmed(&mut self) -> Vec<(T, Option<TimeNs>, Vec<TaskFix>)> {
        let floors = std::mem::take(&mut self.out.time_floors);
        let fixes = std::mem::take(&mut self.out.task_fixes);
        self.out.values.drain(..).zip(floors).zip(fixes).map(|((v, f), x)| (v, f, x)).collect()
    }

    /// The values, and the final Sync or the error that ended decoding.
    pub fn finish(mut self) -> Chained<T> {
        if !self.stopped {
            let n = self.out.values.len() as u64 + 1;
            self.out.final_sync = Some(bump(sync_event(self.last_ts, n, false), &mut self.last_ts));
            self.out.error = self.pd.index.tail_error.clone();
        }
        self.out
    }
}

fn bump(mut e: Event, last_ts: &mut TimeNs) -> Event {
    if e.time <= *last_ts {
        e.time = TimeNs(last_ts.0.wrapping_add(1));
    }
    *last_ts = e.time;
    e
}
