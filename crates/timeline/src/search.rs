//! Search: goroutines by start function or ID, spans by stack frame or
//! state, logs by text. Results are deterministic (trace order).

use crate::model::Timeline;
use crate::stacks::StackId;
use crate::state::GState;

/// What to look for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// Goroutines whose start function contains the text, or whose ID is it
    /// (`123` or `g123`).
    Goroutine(String),
    /// Spans whose stack has a frame (function or file) containing the text.
    Frame(String),
    /// Spans in a state.
    State(GState),
    /// Logs whose category or message contains the text.
    Log(String),
}

/// One span that matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanHit {
    /// Goroutine index in [`Timeline::goroutines`].
    pub goroutine: usize,
    /// Span index in its track.
    pub index: usize,
    /// Span start.
    pub start_ns: i64,
    /// Span end.
    pub end_ns: i64,
}

/// What a query found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    /// Per goroutine index: whether the goroutine matched (or has a match).
    pub goroutines: Vec<bool>,
    /// Per stack node: whether a span with that stack matches (frame search).
    pub stacks: Vec<bool>,
    /// The state searched for, if any.
    pub state: Option<GState>,
    /// Matching spans, in goroutine then time order, at most the limit.
    pub spans: Vec<SpanHit>,
    /// Total matching spans (may exceed `spans.len()`).
    pub span_count: usize,
    /// Matching log entries (indices into [`Timeline::logs`]).
    pub logs: Vec<usize>,
}

impl Found {
    /// Number of goroutines that matched.
    pub fn goroutine_count(&self) -> usize {
        self.goroutines.iter().filter(|&&b| b).count()
    }

    /// Whether a span with this state and stack matches (for highlighting).
    pub fn span_matches(&self, state: u8, stack: StackId) -> bool {
        if let Some(s) = self.state {
            return s as u8 == state;
        }
        if !self.stacks.is_empty() {
            return self.stacks.get(stack.0 as usize).copied().unwrap_or(false);
        }
        true
    }
}

/// Runs a query; at most `limit` spans are listed (all are counted).
pub fn search(tl: &Timeline, query: &Query, limit: usize) -> Found {
    match query {
        Query::Goroutine(text) => Found { goroutines: goroutines_matching(tl, text), ..Found::default() },
        Query::Frame(text) => {
            let stacks = stacks_matching(tl, text);
            let mut found = spans_where(tl, limit, |_, stack| stacks.get(stack.0 as usize).copied().unwrap_or(false));
            found.stacks = stacks;
            found
        }
        Query::State(state) => {
            let mut found = spans_where(tl, limit, |s, _| s == *state as u8);
            found.state = Some(*state);
            found
        }
        Query::Log(text) => {
            let needle = text.to_lowercase();
            let mut goroutines = vec![false; tl.goroutines.len()];
            // Found in the list's order (by goroutine), listed by time.
            let mut found: Vec<(i64, usize)> = Vec::new();
            for (i, l) in tl.logs.iter().enumerate() {
                if tl.strings.get(l.message).to_lowercase().contains(&needle)
                    || tl.strings.get(l.category).to_lowercase().contains(&needle)
                {
                    found.push((l.time_ns, i));
                    if let Some(slot) = tl.goroutine_index(l.g).and_then(|gi| goroutines.get_mut(gi)) {
                        *slot = true;
                    }
                }
            }
            found.sort_unstable();
            let logs: Vec<usize> = found.into_iter().map(|(_, i)| i).collect();
            Found { goroutines, logs, ..Found::default() }
        }
    }
}

/// Goroutines by start function substring (case-insensitive) or exact ID.
fn goroutines_matching(tl: &Timeline, text: &str) -> Vec<bool> {
    let t = text.trim();
    let id = t.strip_prefix('g').unwrap_or(t).parse::<i64>().ok();
    let needle = t.to_lowercase();
    tl.goroutines
        .iter()
        .map(|g| {
            Some(g.id.0) == id || (!needle.is_empty() && tl.strings.get(g.start_fn()).to_lowercase().contains(&needle))
        })
        .collect()
}

/// Per stack node, whether the stack has a frame whose function or file
/// contains `text`. A node matches if its own frame or its caller's does, so
/// one pass over the nodes in creation order (parents first) suffices.
pub fn stacks_matching(tl: &Timeline, text: &str) -> Vec<bool> {
    let needle = text.trim().to_lowercase();
    let n = tl.stacks.len();
    let mut out = vec![false; n];
    if needle.is_empty() {
        return out;
    }
    for i in 1..n {
        let id = StackId(i as u32);
        let parent = tl.stacks.parent(id).0 as usize;
        let inherited = parent < i && out.get(parent).copied().unwrap_or(false);
        let own = tl.stacks.top(id).is_some_and(|f| {
            tl.strings.get(f.func).to_lowercase().contains(&needle)
                || tl.strings.get(f.file).to_lowercase().contains(&needle)
        });
        if let Some(slot) = out.get_mut(i) {
            *slot = inherited || own;
        }
    }
    out
}

fn spans_where(tl: &Timeline, limit: usize, keep: impl Fn(u8, StackId) -> bool) -> Found {
    let mut found = Found { goroutines: vec![false; tl.goroutines.len()], ..Found::default() };
    for (gi, g) in tl.goroutines.iter().enumerate() {
        g.track.for_each_in(i64::MIN, i64::MAX, |index, s| {
            if s.state == GState::Exited as u8 || !keep(s.state, s.stack) {
                return;
            }
            found.span_count += 1;
            if let Some(slot) = found.goroutines.get_mut(gi) {
                *slot = true;
            }
            if found.spans.len() < limit {
                found.spans.push(SpanHit { goroutine: gi, index, start_ns: s.start_ns, end_ns: s.end_ns });
            }
        });
    }
    found
}
