//! The arrow from the goroutine that woke the selected goroutine to where
//! it woke it: the unblock edge the details panel names, drawn on the
//! rows, so "who woke whom" is seen where it happened.

use egui::{Painter, Shape, Stroke, pos2, vec2};
use timeline::{GState, Goroutine, Timeline};

use super::canvas::{Frame, ROW_H};
use super::rows::{Row, RowList};
use super::{SpanRef, TrackRef};
use crate::theme::Theme;

/// An unblock edge between two rows, at one time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakeArrow {
    /// When the goroutine was made runnable.
    pub time_ns: i64,
    /// Row of the goroutine that woke it.
    pub from_row: usize,
    /// Row of the goroutine woken.
    pub to_row: usize,
}

/// The wake edge of the selected span, if it has one whose two goroutines
/// both have rows: for a blocked span, the wake that ended it; for a
/// runnable span, the wake that began it.
pub fn wake_arrow(tl: &Timeline, rows: &RowList, sel: SpanRef) -> Option<WakeArrow> {
    let TrackRef::Goroutine(gi) = sel.track else { return None };
    let g = tl.goroutines.get(gi)?;
    let span = g.track.span(sel.index)?;
    let (time_ns, by) = if Goroutine::state(&span) == GState::Runnable && span.a >= 0 {
        (span.start_ns, trace_core::GoroutineId(span.a))
    } else {
        let (by, _) = g.unblocked_by(sel.index)?;
        (span.end_ns, by)
    };
    let by = tl.goroutine_index(by).filter(|&i| i != gi)?;
    let row_of = |i: usize| rows.index_of(Row::Goroutine(i));
    Some(WakeArrow { time_ns, from_row: row_of(by)?, to_row: row_of(gi)? })
}

/// Paints `arrow` over the rows whose first lies at `top` (the painter
/// clips it to the rows shown, so a waker scrolled away is a line coming
/// in from the edge).
pub fn paint_wake_arrow(painter: &Painter, theme: &Theme, frame: Frame, arrow: WakeArrow, top: f32) {
    let x = frame.x(arrow.time_ns);
    let y_of = |ri: usize| top + (ri as f32 + 0.5) * ROW_H;
    let (from, to) = (pos2(x, y_of(arrow.from_row)), pos2(x, y_of(arrow.to_row)));
    // Stop short of the woken row's middle, so the head sits on its span.
    let dir = if to.y > from.y { 1.0 } else { -1.0 };
    let tip = to - vec2(0.0, dir * ROW_H * 0.3);
    let color = theme.wake_arrow();
    painter.circle_filled(from, 2.5, color);
    painter.line_segment([from, tip], Stroke::new(1.5, color));
    // A small head of its own (egui's arrow scales its head with the
    // length, which across many rows is huge).
    let back = tip - vec2(0.0, dir * HEAD_PX);
    let head = vec![tip, back - vec2(HEAD_PX * 0.6, 0.0), back + vec2(HEAD_PX * 0.6, 0.0)];
    painter.add(Shape::convex_polygon(head, color, Stroke::NONE));
}

/// Length of the arrow's head.
const HEAD_PX: f32 = 7.0;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::TraceViewState;
    use crate::view::rows::rows;

    fn chan() -> Timeline {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/go1.27/chan.trace");
        timeline::build(&std::fs::read(path).unwrap(), &timeline::Progress::default()).unwrap()
    }

    /// chan.trace's blocked receiver (g21) is woken by main (g1) when the
    /// delayed send arrives: the arrow runs from g1's row to g21's at the
    /// end of the receive, for the blocked span and the runnable one after.
    #[test]
    fn the_blocked_receiver_is_woken_by_main() {
        let tl = chan();
        let mut state = TraceViewState::default();
        let rows = rows(&tl, &mut state);
        let gi = tl.goroutines.iter().position(|g| tl.strings.get(g.start_fn()) == "main.blockedReceiver").unwrap();
        let g1 = tl.goroutine_index(trace_core::GoroutineId(1)).unwrap();
        let spans = tl.goroutines[gi].track.spans();
        let recv = spans.iter().position(|s| s.state == GState::ChanRecv as u8).unwrap();
        let row = |i| (0..rows.len()).position(|k| rows.get(k) == Some(Row::Goroutine(i))).unwrap();
        let expect = WakeArrow { time_ns: spans[recv].end_ns, from_row: row(g1), to_row: row(gi) };
        let sel = |index| SpanRef { track: TrackRef::Goroutine(gi), index };
        assert_eq!(wake_arrow(&tl, &rows, sel(recv)), Some(expect));
        assert_eq!(wake_arrow(&tl, &rows, sel(recv + 1)), Some(expect), "the runnable span after it");
        // Its first span was not a wake; neither is a P's span.
        assert_eq!(wake_arrow(&tl, &rows, sel(0)), None);
        assert_eq!(wake_arrow(&tl, &rows, SpanRef { track: TrackRef::Proc(0), index: 1 }), None);
        // No row for the waker (all other goroutines left out): no arrow.
        let others = (0..tl.goroutines.len() as u32).filter(|&i| i as usize != gi).collect();
        let only_g21 = RowList::new(0, 0, tl.goroutines.len(), others);
        assert!(only_g21.index_of(Row::Goroutine(gi)).is_some());
        assert_eq!(wake_arrow(&tl, &only_g21, sel(recv)), None);
    }
}
