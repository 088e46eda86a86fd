//! The list of track rows under the fixed rows, in display order.

use std::sync::Arc;

use timeline::Timeline;

use super::TraceViewState;

/// A collapsible group of rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    /// Processors.
    Procs,
    /// Threads.
    Threads,
    /// Goroutines.
    Goroutines,
}

impl Section {
    /// Header text.
    pub fn title(self) -> &'static str {
        match self {
            Section::Procs => "Procs",
            Section::Threads => "Threads",
            Section::Goroutines => "Goroutines",
        }
    }
}

/// One row of the scrolling track list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Row {
    /// A section header (click to collapse).
    Header(Section),
    /// A P track.
    Proc(usize),
    /// A thread track.
    Thread(usize),
    /// A goroutine track.
    Goroutine(usize),
}

/// What the row list depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowKey {
    flags: [bool; 4],
    counts: [usize; 3],
}

/// The rows to show, in order: each section's header, then its tracks.
///
/// Held as counts and the few goroutines left out, not as a list of rows:
/// a 1 GB trace's 7.4 M goroutine rows took 119 MB as 16-byte [`Row`]s,
/// a tenth of the viewer's memory. Rows are found by position
/// ([`RowList::get`]) and positions by row ([`RowList::index_of`]) by
/// bisection of the goroutines left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowList {
    /// P rows shown (0 if the section is folded).
    procs: usize,
    /// Thread rows shown.
    threads: usize,
    /// Goroutines in the trace if the section is open, else 0.
    goroutines: usize,
    /// Indices of the goroutines left out (runtime ones, when hidden),
    /// ascending.
    hidden: Vec<u32>,
}

impl RowList {
    /// The rows for a trace with `procs` P rows, `threads` thread rows and
    /// `goroutines` goroutines shown but for `hidden` (ascending).
    pub fn new(procs: usize, threads: usize, goroutines: usize, hidden: Vec<u32>) -> RowList {
        RowList { procs, threads, goroutines, hidden }
    }

    /// Number of rows, headers included.
    pub fn len(&self) -> usize {
        3 + self.procs + self.threads + self.goroutines.saturating_sub(self.hidden.len())
    }

    /// Whether there are no rows (never: the headers are always there).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Where the goroutine section's tracks begin.
    fn goroutines_at(&self) -> usize {
        3 + self.procs + self.threads
    }

    /// The row at position `i`.
    pub fn get(&self, i: usize) -> Option<Row> {
        let threads_at = 2 + self.procs;
        Some(match i {
            0 => Row::Header(Section::Procs),
            i if i < threads_at - 1 => Row::Proc(i - 1),
            i if i == threads_at - 1 => Row::Header(Section::Threads),
            i if i < self.goroutines_at() - 1 => Row::Thread(i - threads_at),
            i if i == self.goroutines_at() - 1 => Row::Header(Section::Goroutines),
            i => Row::Goroutine(self.nth_shown(i - self.goroutines_at())?),
        })
    }

    /// The index of the `j`th goroutine shown.
    fn nth_shown(&self, j: usize) -> Option<usize> {
        // `hidden[k] - k` goroutines are shown before the `k`th hidden one,
        // and never fewer before a later one: those before which at most
        // `j` are shown come before the `j`th shown, the others after it.
        let (mut lo, mut hi) = (0, self.hidden.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let shown_before = self.hidden.get(mid).map_or(usize::MAX, |&h| (h as usize).saturating_sub(mid));
            if shown_before <= j {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Some(j + lo).filter(|&gi| gi < self.goroutines)
    }

    /// The position of `row`, if it is shown.
    pub fn index_of(&self, row: Row) -> Option<usize> {
        match row {
            Row::Header(Section::Procs) => Some(0),
            Row::Proc(i) => (i < self.procs).then_some(1 + i),
            Row::Header(Section::Threads) => Some(1 + self.procs),
            Row::Thread(i) => (i < self.threads).then_some(2 + self.procs + i),
            Row::Header(Section::Goroutines) => Some(self.goroutines_at() - 1),
            Row::Goroutine(gi) => {
                let g = u32::try_from(gi).ok().filter(|_| gi < self.goroutines)?;
                let before = self.hidden.binary_search(&g).err()?;
                Some(self.goroutines_at() + gi - before)
            }
        }
    }
}

/// The rows to show, in order. Cached in the view state: rebuilding the
/// list for a million goroutines every frame would cost milliseconds.
pub fn rows(tl: &Timeline, state: &mut TraceViewState) -> Arc<RowList> {
    let key = RowKey {
        flags: [state.show_procs, state.show_threads, state.show_goroutines, state.show_system_goroutines],
        counts: [tl.procs.len(), tl.threads.len(), tl.goroutines.len()],
    };
    if let Some((k, rows)) = &state.t.rows
        && *k == key
    {
        return rows.clone();
    }
    let rows = Arc::new(build_rows(tl, state));
    state.t.rows = Some((key, rows.clone()));
    rows
}

fn build_rows(tl: &Timeline, state: &TraceViewState) -> RowList {
    let shown = |open: bool, n: usize| if open { n } else { 0 };
    let hidden = if state.show_goroutines && !state.show_system_goroutines {
        let system = tl.goroutines.iter().enumerate().filter(|(_, g)| g.is_system());
        system.map(|(i, _)| i as u32).collect()
    } else {
        Vec::new()
    };
    RowList::new(
        shown(state.show_procs, tl.procs.len()),
        shown(state.show_threads, tl.threads.len()),
        shown(state.show_goroutines, tl.goroutines.len()),
        hidden,
    )
}

/// The label of a row.
pub fn row_label(tl: &Timeline, state: &TraceViewState, row: Row) -> String {
    let arrow = |open: bool| if open { "[-]" } else { "[+]" };
    match row {
        Row::Header(s) => {
            let (open, n) = match s {
                Section::Procs => (state.show_procs, tl.procs.len()),
                Section::Threads => (state.show_threads, tl.threads.len()),
                Section::Goroutines => (state.show_goroutines, tl.goroutines.len()),
            };
            format!("{} {} ({n})", arrow(open), s.title())
        }
        Row::Proc(i) => tl.procs.get(i).map_or_else(String::new, |p| format!("P{}", p.id.0)),
        Row::Thread(i) => tl.threads.get(i).map_or_else(String::new, |t| format!("M{}", t.id.0)),
        Row::Goroutine(i) => tl.goroutines.get(i).map_or_else(String::new, |g| tl.goroutine_label(g)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows as a plain list: each section's header, then its tracks.
    fn plain(tl: &Timeline, state: &TraceViewState) -> Vec<Row> {
        let mut out = vec![Row::Header(Section::Procs)];
        if state.show_procs {
            out.extend((0..tl.procs.len()).map(Row::Proc));
        }
        out.push(Row::Header(Section::Threads));
        if state.show_threads {
            out.extend((0..tl.threads.len()).map(Row::Thread));
        }
        out.push(Row::Header(Section::Goroutines));
        if state.show_goroutines {
            let shown =
                tl.goroutines.iter().enumerate().filter(|(_, g)| state.show_system_goroutines || !g.is_system());
            out.extend(shown.map(|(i, _)| Row::Goroutine(i)));
        }
        out
    }

    /// The row list finds every row where the plain list has it, and
    /// every position's row, whichever sections are open; it finds no row
    /// that is not shown.
    #[test]
    fn row_list_equals_the_plain_list() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/go1.27/manyg.trace");
        let tl = timeline::build(&std::fs::read(path).unwrap(), &timeline::Progress::default()).unwrap();
        assert!(!tl.threads.is_empty() && tl.goroutines.iter().any(|g| g.is_system()));
        for bits in 0..16u8 {
            let state = TraceViewState {
                show_procs: bits & 1 != 0,
                show_threads: bits & 2 != 0,
                show_goroutines: bits & 4 != 0,
                show_system_goroutines: bits & 8 != 0,
                ..TraceViewState::default()
            };
            let (list, want) = (build_rows(&tl, &state), plain(&tl, &state));
            assert_eq!(list.len(), want.len(), "flags {bits:04b}");
            for (i, r) in want.iter().enumerate() {
                assert_eq!(list.get(i), Some(*r), "position {i} with flags {bits:04b}");
                assert_eq!(list.index_of(*r), Some(i), "{r:?} with flags {bits:04b}");
            }
            assert_eq!(list.get(want.len()), None);
            let all = (0..tl.goroutines.len() + 2).map(Row::Goroutine).chain((0..tl.procs.len() + 2).map(Row::Proc));
            for r in all.chain((0..tl.threads.len() + 2).map(Row::Thread)) {
                assert_eq!(list.index_of(r).is_some(), want.contains(&r), "{r:?} with flags {bits:04b}");
            }
        }
    }

    /// Goroutines left out in runs, at the ends and alone.
    #[test]
    fn goroutines_left_out_anywhere_are_skipped() {
        for hidden in [vec![], vec![0], vec![0, 1, 2], vec![9], vec![3, 4, 7], vec![0, 5, 9], (0..10).collect()] {
            let list = RowList::new(0, 0, 10, hidden.clone());
            let shown: Vec<usize> = (0..10).filter(|i| !hidden.contains(&(*i as u32))).collect();
            let got: Vec<Row> = (3..list.len()).filter_map(|i| list.get(i)).collect();
            assert_eq!(got, shown.iter().map(|&i| Row::Goroutine(i)).collect::<Vec<_>>(), "{hidden:?}");
            for (j, &gi) in shown.iter().enumerate() {
                assert_eq!(list.index_of(Row::Goroutine(gi)), Some(3 + j), "{hidden:?}");
            }
        }
    }
}
