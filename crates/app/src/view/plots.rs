//! Heap and goroutine-count plots, their x-axis locked to the timeline.

use egui::{Align2, FontId, Rect, Sense, Ui, pos2, vec2};
use egui_plot::{Line, Plot, PlotBounds};
use timeline::{Counter, Timeline};

use super::canvas::Frame;
use crate::theme::Theme;

const PLOT_H: f32 = 56.0;

/// Both plots.
pub fn plots_ui(ui: &mut Ui, tl: &Timeline, theme: &Theme, frame: Frame) {
    let c = &tl.counters;
    let heap = [("heap in use", &c.heap_alloc, theme.heap_alloc()), ("heap goal", &c.heap_goal, theme.heap_goal())];
    plot_row(ui, "Heap", &heap, frame, theme, format_bytes, "heap");
    let gs = [
        ("running", &c.running, theme.gstate(timeline::GState::Running)),
        ("runnable", &c.runnable, theme.gstate(timeline::GState::Runnable)),
        ("syscall", &c.syscall, theme.gstate(timeline::GState::Syscall)),
    ];
    plot_row(ui, "Goroutines", &gs, frame, theme, |v| format!("{v}"), "goroutines");
}

/// Decimated polyline of a counter: per pixel column its min, max and last
/// value, so short spikes stay visible.
fn series(counter: &Counter, frame: Frame, base_ns: i64) -> Vec<[f64; 2]> {
    let cols = counter.decimate(frame.view.start_ns, frame.view.end_ns, frame.view.width_px.max(1.0) as usize);
    let mut pts = Vec::with_capacity(cols.len() * 3);
    for c in cols {
        let x = (c.start_ns - base_ns) as f64;
        pts.push([x, c.min as f64]);
        pts.push([x, c.max as f64]);
        pts.push([x, c.last as f64]);
    }
    if let Some(&[_, y]) = pts.last() {
        pts.push([(frame.view.end_ns - base_ns) as f64, y]);
    }
    pts
}

fn plot_row(
    ui: &mut Ui,
    title: &str,
    lines: &[(&str, &Counter, egui::Color32)],
    frame: Frame,
    theme: &Theme,
    fmt: impl Fn(i64) -> String,
    id: &str,
) {
    let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), PLOT_H), Sense::hover());
    let series: Vec<Vec<[f64; 2]>> = lines.iter().map(|(_, c, _)| series(c, frame, frame.view.start_ns)).collect();
    // The y scale fits what is in view.
    let max = series.iter().flatten().map(|p| p[1] as i64).max().unwrap_or(0).max(1);
    let painter = ui.painter_at(rect);
    painter.text(
        pos2(rect.left() + 6.0, rect.top() + 4.0),
        Align2::LEFT_TOP,
        title,
        FontId::proportional(12.0),
        theme.text(),
    );
    painter.text(
        pos2(frame.time_x0 - 6.0, rect.top() + 4.0),
        Align2::RIGHT_TOP,
        fmt(max),
        FontId::monospace(10.0),
        theme.weak(),
    );
    for (i, (name, c, color)) in lines.iter().enumerate() {
        let v = c.value_at(frame.view.end_ns.min(c.last_time().unwrap_or(0))).unwrap_or(0);
        painter.text(
            pos2(rect.left() + 6.0, rect.top() + 20.0 + i as f32 * 12.0),
            Align2::LEFT_TOP,
            format!("{name} {}", fmt(v)),
            FontId::proportional(10.0),
            *color,
        );
    }
    let plot_rect = Rect::from_min_max(pos2(frame.time_x0, rect.top()), rect.max);
    let base = frame.view.start_ns;
    let (x1, y1) = ((frame.view.end_ns - base) as f64, max as f64 * 1.05);
    let mut child = ui.new_child(egui::UiBuilder::new().max_rect(plot_rect));
    Plot::new(id)
        .width(plot_rect.width())
        .height(plot_rect.height())
        .show_axes(false)
        .show_grid(false)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .show_x(false)
        .show_y(false)
        .set_margin_fraction(vec2(0.0, 0.0))
        .show(&mut child, |plot| {
            plot.set_plot_bounds(PlotBounds::from_min_max([0.0, 0.0], [x1, y1]));
            for ((name, _, color), pts) in lines.iter().zip(series) {
                plot.line(Line::new(*name, pts).color(*color).width(1.2));
            }
        });
}

/// Bytes as KiB/MiB/GiB.
pub fn format_bytes(v: i64) -> String {
    let a = v as f64;
    if a >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", a / (1024.0 * 1024.0 * 1024.0))
    } else if a >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", a / (1024.0 * 1024.0))
    } else if a >= 1024.0 {
        format!("{:.0} KiB", a / 1024.0)
    } else {
        format!("{v} B")
    }
}
