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

/// The rows to show, in order. Cached in the view state: rebuilding the
/// list for a million goroutines every frame would cost milliseconds.
pub fn rows(tl: &Timeline, state: &mut TraceViewState) -> Arc<[Row]> {
    let key = RowKey {
        flags: [state.show_procs, state.show_threads, state.show_goroutines, state.show_system_goroutines],
        counts: [tl.procs.len(), tl.threads.len(), tl.goroutines.len()],
    };
    if let Some((k, rows)) = &state.t.rows
        && *k == key
    {
        return rows.clone();
    }
    let rows: Arc<[Row]> = build_rows(tl, state).into();
    state.t.rows = Some((key, rows.clone()));
    rows
}

fn build_rows(tl: &Timeline, state: &TraceViewState) -> Vec<Row> {
    let mut out = Vec::with_capacity(tl.procs.len() + tl.goroutines.len() + 3);
    out.push(Row::Header(Section::Procs));
    if state.show_procs {
        out.extend((0..tl.procs.len()).map(Row::Proc));
    }
    out.push(Row::Header(Section::Threads));
    if state.show_threads {
        out.extend((0..tl.threads.len()).map(Row::Thread));
    }
    out.push(Row::Header(Section::Goroutines));
    if state.show_goroutines {
        let show_system = state.show_system_goroutines;
        out.extend(
            tl.goroutines
                .iter()
                .enumerate()
                .filter(|(_, g)| show_system || !g.is_system())
                .map(|(i, _)| Row::Goroutine(i)),
        );
    }
    out
}

/// Where a row sorts in the list [`rows`] builds: sections in order, each
/// header before its tracks, tracks by index.
fn rank(row: Row) -> (u8, usize) {
    match row {
        Row::Header(Section::Procs) => (0, 0),
        Row::Proc(i) => (1, i),
        Row::Header(Section::Threads) => (2, 0),
        Row::Thread(i) => (3, i),
        Row::Header(Section::Goroutines) => (4, 0),
        Row::Goroutine(i) => (5, i),
    }
}

/// The position of `row` in `rows` (a list [`rows`] built), found by
/// bisection: the selection is looked up every frame, and a big trace has
/// millions of rows.
pub fn row_index(rows: &[Row], row: Row) -> Option<usize> {
    rows.binary_search_by_key(&rank(row), |r| rank(*r)).ok()
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

    /// Bisection finds every row where a scan finds it, whichever sections
    /// are open, and finds no row that is not shown.
    #[test]
    fn row_index_equals_a_scan() {
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
            let rows = build_rows(&tl, &state);
            for (i, r) in rows.iter().enumerate() {
                assert_eq!(row_index(&rows, *r), Some(i), "{r:?} with flags {bits:04b}");
            }
            let all = (0..tl.goroutines.len()).map(Row::Goroutine).chain((0..tl.procs.len()).map(Row::Proc));
            for r in all.chain((0..tl.threads.len()).map(Row::Thread)) {
                assert_eq!(row_index(&rows, r).is_some(), rows.contains(&r), "{r:?} with flags {bits:04b}");
            }
        }
    }
}
