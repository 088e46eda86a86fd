//! The timeline canvas: axis, plots, GC/STW rows and the virtualised track
//! rows, with zoom, pan, selection, hover and click.

use egui::{Align2, Color32, FontId, Mesh, Pos2, Rect, Sense, Shape, Stroke, Ui, pos2, vec2};
use timeline::ticks::{format_duration, format_offset, tick_step_ns, ticks};
use timeline::{GState, MState, PState, PlanItem, RangeSpan, Timeline, Track, View};

use super::rows::{Row, RowList, row_label, rows};
use super::{SpanRef, TraceViewState, TrackRef, ViewCommand, plots};
use crate::theme::Theme;

/// Width of the label column.
pub const LABEL_W: f32 = 230.0;
/// Height of a track row.
pub const ROW_H: f32 = 18.0;
const AXIS_H: f32 = 22.0;
const MIN_SPAN_PX: f32 = 1.0;

/// Geometry shared by everything painted in one frame.
#[derive(Clone, Copy)]
pub struct Frame {
    /// Left edge of the time area.
    pub time_x0: f32,
    /// The time window over the time area.
    pub view: View,
}

impl Frame {
    /// Screen x of a time.
    pub fn x(&self, t_ns: i64) -> f32 {
        self.time_x0 + self.view.x_from_time(t_ns)
    }

    /// Time at a screen x.
    pub fn t(&self, x: f32) -> i64 {
        self.view.time_from_x(x - self.time_x0)
    }

    /// The part of `full` (the canvas) right of the labels, where times are.
    pub fn time_area(&self, full: Rect) -> Rect {
        Rect::from_min_max(pos2(self.time_x0, full.top()), full.max)
    }
}

/// Paints the canvas and handles its input.
pub fn canvas_ui(ui: &mut Ui, tl: &Timeline, theme: &Theme, state: &mut TraceViewState) {
    let full = ui.available_rect_before_wrap();
    let (w0, w1) = state.window(tl);
    let time_x0 = full.left() + LABEL_W;
    let width_px = (full.right() - time_x0).max(10.0);
    let frame = Frame { time_x0, view: View { start_ns: w0, end_ns: w1, width_px } };

    let axis = ui.allocate_exact_size(vec2(full.width(), AXIS_H), Sense::hover()).0;
    paint_axis(ui, tl, theme, frame, axis);
    if state.show_plots {
        plots::plots_ui(ui, tl, theme, frame);
    }
    fixed_rows_ui(ui, tl, theme, frame, state);
    tracks_ui(ui, tl, theme, frame, state);
    zoom_and_pan(ui, frame, full, state);
    super::keys::keys_ui(ui, frame, full, state);
    paint_overlays(ui, tl, theme, frame, full, state);
}

/// Ctrl+scroll zooms at the cursor; horizontal scroll pans.
fn zoom_and_pan(ui: &Ui, frame: Frame, full: Rect, state: &mut TraceViewState) {
    let Some(pos) = ui.input(|i| i.pointer.hover_pos()) else { return };
    let time_area = frame.time_area(full);
    if !time_area.contains(pos) {
        return;
    }
    let (zoom, pan_x) = ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta.x));
    let (s, e) = (frame.view.start_ns, frame.view.end_ns);
    if zoom != 1.0 {
        let at = frame.t(pos.x);
        let (ns, ne) = zoom_window(s, e, at, f64::from(zoom));
        state.t.window = Some((ns, ne));
    } else if pan_x != 0.0 {
        let shift = (f64::from(-pan_x) * frame.view.ns_per_px()) as i64;
        state.t.window = Some((s + shift, e + shift));
    }
}

/// The window after zooming by `factor` (>1 = in) around `at`.
pub fn zoom_window(start_ns: i64, end_ns: i64, at: i64, factor: f64) -> (i64, i64) {
    let factor = factor.clamp(0.01, 100.0);
    let left = ((at - start_ns) as f64 / factor) as i64;
    let right = ((end_ns - at) as f64 / factor) as i64;
    let (s, e) = (at - left, at + right);
    // Never closer than 100 ns across the window.
    if e - s < 100 { (at - 50, at + 50) } else { (s, e) }
}

fn paint_axis(ui: &Ui, tl: &Timeline, theme: &Theme, frame: Frame, rect: Rect) {
    let painter = ui.painter_at(rect);
    let step = tick_step_ns(frame.view.ns_per_px(), 90.0);
    for tick in ticks(tl.start_ns, frame.view.start_ns, frame.view.end_ns, step) {
        let x = frame.x(tick.time_ns);
        if x < frame.time_x0 {
            continue;
        }
        painter.line_segment([pos2(x, rect.bottom() - 6.0), pos2(x, rect.bottom())], Stroke::new(1.0, theme.weak()));
        painter.text(
            pos2(x + 3.0, rect.center().y - 2.0),
            Align2::LEFT_CENTER,
            format_offset(tick.time_ns - tl.start_ns, step),
            FontId::proportional(11.0),
            theme.text(),
        );
    }
    let span = format_duration(frame.view.end_ns - frame.view.start_ns);
    painter.text(
        pos2(rect.left() + 4.0, rect.center().y),
        Align2::LEFT_CENTER,
        format!("window {span}"),
        FontId::proportional(11.0),
        theme.weak(),
    );
}

/// GC and STW rows, always visible above the scrolling tracks.
fn fixed_rows_ui(ui: &mut Ui, tl: &Timeline, theme: &Theme, frame: Frame, state: &mut TraceViewState) {
    for (label, ranges) in [("GC", &tl.gc), ("STW", &tl.stw)] {
        let (rect, resp) = ui.allocate_exact_size(vec2(ui.available_width(), ROW_H), Sense::click());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, theme.row_bg(label == "STW"));
        painter.text(
            pos2(rect.left() + 6.0, rect.center().y),
            Align2::LEFT_CENTER,
            format!("{label} ({})", ranges.len()),
            FontId::proportional(12.0),
            theme.text(),
        );
        let time_rect = Rect::from_min_max(pos2(frame.time_x0, rect.top()), rect.max);
        let painter = ui.painter_at(time_rect);
        let mut mesh = Mesh::default();
        let mut last_px = f32::NEG_INFINITY;
        let first = ranges.partition_point(|r| r.end_ns < frame.view.start_ns);
        for r in ranges.iter().skip(first).take_while(|r| r.start_ns <= frame.view.end_ns) {
            let (x0, x1) = (frame.x(r.start_ns), frame.x(r.end_ns).max(frame.x(r.start_ns) + MIN_SPAN_PX));
            if x1 <= last_px {
                continue;
            }
            mesh.add_colored_rect(
                Rect::from_min_max(pos2(x0.max(last_px), rect.top() + 2.0), pos2(x1, rect.bottom() - 2.0)),
                theme.range(r.kind),
            );
            last_px = x1;
        }
        painter.add(Shape::mesh(mesh));
        if let Some(pos) = resp.hover_pos()
            && let Some(r) = range_at(ranges, frame, pos.x)
        {
            let r = *r;
            resp.clone().on_hover_ui_at_pointer(|ui| range_tooltip(ui, tl, &r));
            if resp.double_clicked() {
                state.t.commands.push(ViewCommand::zoom_to(r.start_ns, r.end_ns));
            }
        }
    }
}

fn range_at(ranges: &[RangeSpan], frame: Frame, x: f32) -> Option<&RangeSpan> {
    let t = frame.t(x);
    let slack = (frame.view.ns_per_px() * 2.0) as i64;
    let i = ranges.partition_point(|r| r.end_ns + slack < t);
    ranges.get(i).filter(|r| r.start_ns - slack <= t)
}

fn range_tooltip(ui: &mut Ui, tl: &Timeline, r: &RangeSpan) {
    let what = match r.kind {
        timeline::RangeKind::GcMark => "GC mark phase".to_string(),
        timeline::RangeKind::Stw => format!("stop-the-world: {}", tl.strings.get(r.reason)),
        timeline::RangeKind::Sweep => "sweep".to_string(),
        timeline::RangeKind::MarkAssist => "mark assist".to_string(),
    };
    ui.strong(what);
    ui.label(format!("start {}", format_duration(r.start_ns - tl.start_ns)));
    ui.label(format!("duration {}", format_duration(r.duration_ns())));
}

fn track_of(tl: &Timeline, r: Row) -> Option<(&Track, TrackRef)> {
    match r {
        Row::Header(_) => None,
        Row::Proc(i) => tl.procs.get(i).map(|p| (&p.track, TrackRef::Proc(i))),
        Row::Thread(i) => tl.threads.get(i).map(|t| (&t.track, TrackRef::Thread(i))),
        Row::Goroutine(i) => tl.goroutines.get(i).map(|g| (&g.track, TrackRef::Goroutine(i))),
    }
}

/// Colour of a plan item on a track.
fn item_color(theme: &Theme, track: TrackRef, state: u8) -> Color32 {
    match track {
        TrackRef::Goroutine(_) => theme.gstate(GState::from_u8(state).unwrap_or(GState::Blocked)),
        TrackRef::Proc(_) => theme.pstate(PState::from_u8(state).unwrap_or(PState::Idle)),
        TrackRef::Thread(_) => theme.mstate(MState::from_u8(state).unwrap_or(MState::Idle)),
    }
}

/// The scrolling, virtualised track rows.
fn tracks_ui(ui: &mut Ui, tl: &Timeline, theme: &Theme, frame: Frame, state: &mut TraceViewState) {
    let rows = rows(tl, state);
    let rows = &*rows;
    let scroll_to = state.t.scroll_to_row.take();
    let mut cache = std::mem::take(&mut state.t.plan_cache);
    let mut plan = Vec::new();
    egui::ScrollArea::vertical()
        .scroll_source(egui::scroll_area::ScrollSource {
            scroll_bar: true,
            mouse_wheel: true,
            ..egui::scroll_area::ScrollSource::NONE
        })
        .auto_shrink(false)
        .show_viewport(ui, |ui, viewport| {
            let total_h = rows.len() as f32 * ROW_H;
            ui.set_height(total_h);
            let top = ui.min_rect().top();
            if let Some(r) = scroll_to {
                let y = top + r as f32 * ROW_H;
                ui.scroll_to_rect(
                    Rect::from_min_size(pos2(ui.min_rect().left(), y), vec2(1.0, ROW_H)),
                    Some(egui::Align::Center),
                );
            }
            let first = (viewport.min.y / ROW_H).floor().max(0.0) as usize;
            let last = ((viewport.max.y / ROW_H).ceil() as usize).min(rows.len());
            let visible = Rect::from_min_max(
                pos2(ui.min_rect().left(), top + viewport.min.y),
                pos2(ui.min_rect().right().max(ui.max_rect().right()), top + viewport.max.y),
            );
            let time_area = Rect::from_min_max(pos2(frame.time_x0, visible.top()), visible.max);
            let resp = ui.interact(time_area, egui::Id::unique("gotv_tracks"), Sense::click_and_drag());
            state.t.geometry = Some(super::Geometry { frame, rows_top: top });
            let painter = ui.painter_at(visible);
            let mut mesh = Mesh::default();
            let mut hits: Vec<(usize, Vec<PlanItem>)> = Vec::new();
            for (ri, row) in (first..last).filter_map(|ri| Some((ri, rows.get(ri)?))) {
                let y = top + ri as f32 * ROW_H;
                let row_rect = Rect::from_min_max(pos2(visible.left(), y), pos2(visible.right(), y + ROW_H));
                paint_row(&painter, &mut mesh, tl, theme, frame, state, row, ri, row_rect, &mut cache, &mut plan);
                if matches!(row, Row::Header(_)) {
                    continue;
                }
                hits.push((ri, plan.clone()));
            }
            painter.add(Shape::mesh(mesh));
            for (ri, row) in (first..last).filter_map(|ri| Some((ri, rows.get(ri)?))) {
                let y = top + ri as f32 * ROW_H;
                let rect = Rect::from_min_max(pos2(visible.left(), y), pos2(frame.time_x0 - 4.0, y + ROW_H));
                row_label_ui(ui, tl, theme, frame, state, row, rect);
            }
            paint_selected(&painter, tl, theme, frame, state, rows, top);
            if let Some(arrow) = state.t.selected.and_then(|sel| super::wake::wake_arrow(tl, rows, sel)) {
                super::wake::paint_wake_arrow(&painter, theme, frame, arrow, top);
            }
            handle_track_input(ui, &resp, tl, frame, state, rows, top, &hits);
        });
    state.t.plan_cache = cache;
}

#[allow(clippy::too_many_arguments)]
fn paint_row(
    painter: &egui::Painter,
    mesh: &mut Mesh,
    tl: &Timeline,
    theme: &Theme,
    frame: Frame,
    state: &TraceViewState,
    row: Row,
    ri: usize,
    rect: Rect,
    cache: &mut super::plan_cache::PlanCache,
    plan: &mut Vec<PlanItem>,
) {
    plan.clear();
    let header = matches!(row, Row::Header(_));
    let bg = if header { theme.weak().gamma_multiply(0.35) } else { theme.row_bg(ri % 2 == 1) };
    mesh.add_colored_rect(rect, bg);
    let _ = painter;
    let Some((track, tref)) = track_of(tl, row) else { return };
    plan.extend_from_slice(cache.plan(row, track, frame.view, MIN_SPAN_PX));
    let (y0, y1) = (rect.top() + 2.0, rect.bottom() - 2.0);
    let found = state.t.search.found.as_ref();
    let row_hit = match (found, tref) {
        (Some(f), TrackRef::Goroutine(gi)) => f.goroutines.get(gi).copied().unwrap_or(false),
        (Some(_), _) => false,
        (None, _) => true,
    };
    for item in plan.iter() {
        let mut color = item_color(theme, tref, item.state);
        if color == Color32::TRANSPARENT {
            continue;
        }
        // A search dims what does not match: other rows, and on matching
        // rows the single spans that do not match.
        if let Some(f) = found {
            let hit = row_hit && (item.is_merged() || f.span_matches(item.state, item.stack));
            if !hit {
                color = theme.dim(color);
            }
        }
        let x0 = frame.x(item.start_ns).max(frame.time_x0);
        let x1 = frame.x(item.end_ns).max(x0 + MIN_SPAN_PX).min(rect.right());
        if x1 <= frame.time_x0 {
            continue;
        }
        // Merged runs of tiny spans are drawn a little darker and lower.
        let (c, top) = if item.is_merged() { (color.gamma_multiply(0.75), y0 + 3.0) } else { (color, y0) };
        mesh.add_colored_rect(Rect::from_min_max(pos2(x0, top), pos2(x1, y1)), c);
    }
    if let TrackRef::Goroutine(gi) = tref
        && let Some(g) = tl.goroutines.get(gi)
    {
        paint_regions(mesh, tl, g.id, theme, frame, rect);
        paint_logs(mesh, tl, g.id, theme, frame, rect);
    }
}

/// Width of a log marker, and how near the pointer must come to it.
const LOG_MARKER_PX: f32 = 7.0;

/// User logs (`trace.Log`) as small triangles along the top of the
/// goroutine's row, as timeline plans them: a log less than a marker's
/// width from the last drawn is left out (hovering there names the
/// nearest).
fn paint_logs(mesh: &mut Mesh, tl: &Timeline, g: trace_core::GoroutineId, theme: &Theme, frame: Frame, rect: Rect) {
    let half = LOG_MARKER_PX / 2.0;
    for t_ns in tl.logs.plan(g, &frame.view, LOG_MARKER_PX) {
        let x = frame.x(t_ns);
        let base = mesh.vertices.len() as u32;
        let color = theme.log_marker();
        mesh.colored_vertex(pos2(x - half, rect.top() + 1.0), color);
        mesh.colored_vertex(pos2(x + half, rect.top() + 1.0), color);
        mesh.colored_vertex(pos2(x, rect.top() + 1.0 + LOG_MARKER_PX), color);
        mesh.add_triangle(base, base + 1, base + 2);
    }
}

/// User regions (`trace.WithRegion`) as a thin bar along the bottom of the
/// goroutine's row, as timeline plans them (regions less than a pixel
/// apart drawn as one bar).
fn paint_regions(mesh: &mut Mesh, tl: &Timeline, g: trace_core::GoroutineId, theme: &Theme, frame: Frame, rect: Rect) {
    for (start_ns, end_ns) in tl.regions.plan(g, &frame.view) {
        let x0 = frame.x(start_ns).max(frame.time_x0);
        let x1 = frame.x(end_ns).max(x0 + MIN_SPAN_PX).min(rect.right());
        if x1 <= frame.time_x0 {
            continue;
        }
        let bar = Rect::from_min_max(pos2(x0, rect.bottom() - 3.0), pos2(x1, rect.bottom() - 1.0));
        mesh.add_colored_rect(bar, theme.region());
    }
}

fn paint_selected(
    painter: &egui::Painter,
    tl: &Timeline,
    theme: &Theme,
    frame: Frame,
    state: &TraceViewState,
    rows: &RowList,
    top: f32,
) {
    let Some(sel) = state.t.selected else { return };
    let row = match sel.track {
        TrackRef::Goroutine(i) => Row::Goroutine(i),
        TrackRef::Proc(i) => Row::Proc(i),
        TrackRef::Thread(i) => Row::Thread(i),
    };
    let Some(ri) = rows.index_of(row) else { return };
    let Some((track, _)) = track_of(tl, row) else { return };
    let Some(span) = track.span(sel.index) else { return };
    let y = top + ri as f32 * ROW_H;
    let x0 = frame.x(span.start_ns).max(frame.time_x0 - 2.0);
    let x1 = frame.x(span.end_ns).max(x0 + 2.0);
    painter.rect_stroke(
        Rect::from_min_max(pos2(x0, y + 1.0), pos2(x1, y + ROW_H - 1.0)),
        1.0,
        Stroke::new(2.0, theme.highlight()),
        egui::StrokeKind::Outside,
    );
}

#[allow(clippy::too_many_arguments)]
fn handle_track_input(
    ui: &Ui,
    resp: &egui::Response,
    tl: &Timeline,
    frame: Frame,
    state: &mut TraceViewState,
    rows: &RowList,
    top: f32,
    hits: &[(usize, Vec<PlanItem>)],
) {
    let pointer = resp.interact_pointer_pos().or(resp.hover_pos());
    if resp.drag_started()
        && let Some(p) = ui.input(|i| i.pointer.press_origin()).or(pointer)
    {
        // From where the button went down, not where the drag was noticed.
        let shift = ui.input(|i| i.modifiers.shift);
        state.t.drag_from = Some((frame.t(p.x), shift));
    }
    if resp.dragged() {
        match state.t.drag_from {
            Some((from, true)) => {
                if let Some(p) = pointer {
                    let to = frame.t(p.x);
                    state.t.range = Some((from.min(to), from.max(to)));
                }
            }
            _ => {
                let dx = resp.drag_delta().x;
                let shift = (f64::from(-dx) * frame.view.ns_per_px()) as i64;
                state.t.window = Some((frame.view.start_ns + shift, frame.view.end_ns + shift));
            }
        }
    }
    if resp.drag_stopped() {
        state.t.drag_from = None;
    }
    let Some(p) = pointer else { return };
    let ri = ((p.y - top) / ROW_H).floor();
    if ri < 0.0 {
        return;
    }
    let ri = ri as usize;
    let Some(row) = rows.get(ri) else { return };
    let Some((track, tref)) = track_of(tl, row) else { return };
    let Some(item) = hit_item(hits, ri, frame, p.x) else { return };
    // Nothing is drawn for an exited goroutine or an idle P or thread.
    if item_color(&Theme { dark: true }, tref, item.state) == Color32::TRANSPARENT {
        return;
    }
    if resp.double_clicked() {
        state.t.commands.push(ViewCommand::zoom_to(item.start_ns, item.end_ns));
    } else if resp.clicked() {
        let index = if item.is_merged() {
            track.index_at(frame.t(p.x)).unwrap_or(item.first_index as usize)
        } else {
            item.first_index as usize
        };
        state.t.commands.push(ViewCommand::Select(SpanRef { track: tref, index }));
    }
    if !resp.dragged() {
        let t_ns = frame.t(p.x);
        let on_marker = p.y - (top + ri as f32 * ROW_H) <= LOG_MARKER_PX + 2.0;
        let slack_ns = (f64::from(LOG_MARKER_PX / 2.0) * frame.view.ns_per_px()) as i64;
        let log = match tref {
            TrackRef::Goroutine(gi) if on_marker => {
                tl.goroutines.get(gi).and_then(|g| tl.log_near(g.id, t_ns, slack_ns))
            }
            _ => None,
        };
        match log {
            Some(log) => resp.clone().on_hover_ui_at_pointer(|ui| super::details::log_tooltip(ui, tl, &log)),
            None => {
                resp.clone().on_hover_ui_at_pointer(|ui| super::details::span_tooltip(ui, tl, tref, track, &item, t_ns))
            }
        };
    }
}

/// The label of a row, as a real widget (clickable, and findable by label
/// in UI tests): a header toggles its section, a goroutine opens its details.
fn row_label_ui(
    ui: &mut Ui,
    tl: &Timeline,
    theme: &Theme,
    frame: Frame,
    state: &mut TraceViewState,
    row: Row,
    rect: Rect,
) {
    let header = matches!(row, Row::Header(_));
    let text = egui::RichText::new(row_label(tl, state, row)).color(theme.text());
    let text = if header { text.strong() } else { text.monospace().size(11.5) };
    let inner = Rect::from_min_max(pos2(rect.left() + if header { 4.0 } else { 14.0 }, rect.top()), rect.max);
    let layout = egui::Layout::left_to_right(egui::Align::Center);
    let resp = ui
        .scope_builder(egui::UiBuilder::new().max_rect(inner).layout(layout), |ui| {
            ui.add(egui::Label::new(text).truncate().sense(Sense::click()))
        })
        .inner;
    if !resp.clicked() {
        return;
    }
    match row {
        Row::Header(s) => state.t.commands.push(ViewCommand::ToggleSection(s)),
        Row::Goroutine(g) => {
            let mid = (frame.view.start_ns + frame.view.end_ns) / 2;
            state.t.commands.push(ViewCommand::SelectGoroutineAt { goroutine: g, time_ns: Some(mid) });
        }
        Row::Proc(_) | Row::Thread(_) => {}
    }
}

/// The plan item under screen x on row `ri` (1 px of slack for thin items).
fn hit_item(hits: &[(usize, Vec<PlanItem>)], ri: usize, frame: Frame, x: f32) -> Option<PlanItem> {
    let (_, items) = hits.iter().find(|(r, _)| *r == ri)?;
    let t = frame.t(x);
    let slack = frame.view.ns_per_px() as i64 + 1;
    let i = items.partition_point(|it| it.end_ns + slack <= t);
    items.get(i).filter(|it| it.start_ns - slack <= t).copied()
}

/// Hover line, time selection and its duration.
fn paint_overlays(ui: &Ui, tl: &Timeline, theme: &Theme, frame: Frame, full: Rect, state: &TraceViewState) {
    let painter = ui.painter_at(frame.time_area(full));
    if let Some((s, e)) = state.t.range {
        let (x0, x1) = (frame.x(s), frame.x(e).max(frame.x(s) + 1.0));
        painter.rect_filled(Rect::from_min_max(pos2(x0, full.top()), pos2(x1, full.bottom())), 0.0, theme.selection());
        painter.text(
            pos2((x0 + x1) / 2.0, full.top() + AXIS_H + 2.0),
            Align2::CENTER_TOP,
            format_duration(e - s),
            FontId::proportional(13.0),
            theme.text(),
        );
    }
    if let Some(pos) = ui.input(|i| i.pointer.hover_pos())
        && pos.x >= frame.time_x0
        && full.contains(pos)
    {
        painter.line_segment([pos2(pos.x, full.top()), pos2(pos.x, full.bottom())], Stroke::new(1.0, theme.weak()));
        let t = frame.t(pos.x);
        let galley = painter.layout_no_wrap(format_duration(t - tl.start_ns), FontId::monospace(11.0), theme.text());
        let at = Pos2::new(pos.x + 4.0, full.top() + AXIS_H - galley.size().y - 1.0);
        painter.rect_filled(Rect::from_min_size(at, galley.size()).expand(2.0), 2.0, theme.row_bg(false));
        painter.galley(at, galley, theme.text());
    }
}

#[cfg(test)]
mod tests {
    use super::zoom_window;

    #[test]
    fn zoom_keeps_the_cursor_time_in_place() {
        let (s, e) = zoom_window(0, 1000, 250, 2.0);
        assert_eq!((s, e), (125, 625));
        let (s, e) = zoom_window(0, 1000, 250, 0.5);
        assert_eq!((s, e), (-250, 1750));
        assert_eq!(zoom_window(0, 120, 60, 10.0), (10, 110));
    }
}
