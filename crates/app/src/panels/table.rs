//! A small virtualised table: fixed-width columns (one flexible), a header
//! whose clicks choose the sort column, and rows painted directly (one
//! widget per row, whose accessible label is the row's text).

use egui::{Color32, FontId, Rect, Response, Sense, Ui, pos2, vec2};

use crate::theme::Theme;

/// Height of a table row.
pub const ROW_H: f32 = 18.0;

/// One column.
#[derive(Clone, Copy, Debug)]
pub struct Col {
    /// Header text.
    pub title: &'static str,
    /// Width in points; 0 takes what the fixed columns leave.
    pub width: f32,
    /// Numbers are right-aligned.
    pub right: bool,
    /// Header tooltip.
    pub tip: &'static str,
}

impl Col {
    /// A right-aligned column of numbers.
    pub const fn num(title: &'static str, width: f32, tip: &'static str) -> Col {
        Col { title, width, right: true, tip }
    }

    /// A left-aligned text column (`width` 0 = flexible).
    pub const fn text(title: &'static str, width: f32, tip: &'static str) -> Col {
        Col { title, width, right: false, tip }
    }
}

/// The sort order: a column and a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sort {
    /// Column index.
    pub col: usize,
    /// Largest (or last) first.
    pub descending: bool,
}

/// What a cell shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A small histogram: counts per bin, in this colour.
    Hist([u64; 8], Color32),
}

impl Cell {
    fn text(&self) -> &str {
        match self {
            Cell::Text(t) => t,
            Cell::Hist(..) => "",
        }
    }
}

/// Left and right edges of every column in `[left, left + width)`.
pub fn layout(cols: &[Col], left: f32, width: f32) -> Vec<(f32, f32)> {
    let fixed: f32 = cols.iter().map(|c| c.width).sum();
    let flex_n = cols.iter().filter(|c| c.width <= 0.0).count().max(1) as f32;
    let flex = ((width - fixed) / flex_n).max(160.0);
    let mut x = left;
    cols.iter()
        .map(|c| {
            let w = if c.width > 0.0 { c.width } else { flex };
            let span = (x, x + w);
            x += w;
            span
        })
        .collect()
}

/// The header row; clicking a column sorts by it (again: reverses).
/// Returns whether the sort changed.
pub fn header_ui(ui: &mut Ui, theme: &Theme, cols: &[Col], spans: &[(f32, f32)], sort: &mut Sort) -> bool {
    let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), ROW_H + 2.0), Sense::hover());
    let mut changed = false;
    for (i, (c, &(x0, x1))) in cols.iter().zip(spans).enumerate() {
        let cell = Rect::from_min_max(pos2(x0, rect.top()), pos2(x1, rect.bottom()));
        let arrow = match (sort.col == i, sort.descending) {
            (true, true) => " v",
            (true, false) => " ^",
            (false, _) => "",
        };
        let text = format!("{}{arrow}", c.title);
        let resp = ui.interact(cell, ui.scope_id().with(("table_header", i)), Sense::click());
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::ColumnHeader, true, &text));
        let color = if resp.hovered() { theme.highlight() } else { theme.text() };
        paint_text(ui, cell, &text, c.right, color, true);
        let resp = if c.tip.is_empty() { resp } else { resp.on_hover_text(c.tip) };
        if resp.clicked() {
            if sort.col == i {
                sort.descending = !sort.descending;
            } else {
                *sort = Sort { col: i, descending: c.right };
            }
            changed = true;
        }
    }
    ui.painter().hline(rect.x_range(), rect.bottom() - 0.5, (1.0, theme.weak()));
    changed
}

/// One row of cells; the whole row is one clickable widget labelled with
/// its cells' text.
pub fn row_ui(
    ui: &mut Ui,
    theme: &Theme,
    cols: &[Col],
    spans: &[(f32, f32)],
    cells: &[Cell],
    odd: bool,
    selected: bool,
) -> Response {
    let (rect, resp) = ui.allocate_exact_size(vec2(ui.available_width(), ROW_H), Sense::click());
    let label = cells.iter().map(Cell::text).filter(|t| !t.is_empty()).collect::<Vec<_>>().join("  ");
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Row, true, &label));
    if !ui.is_rect_visible(rect) {
        return resp;
    }
    let bg = if selected || resp.hovered() { theme.selection() } else { theme.row_bg(odd) };
    ui.painter().rect_filled(rect, 0.0, bg);
    for ((c, &(x0, x1)), cell) in cols.iter().zip(spans).zip(cells) {
        let r = Rect::from_min_max(pos2(x0, rect.top()), pos2(x1, rect.bottom()));
        match cell {
            Cell::Text(t) => paint_text(ui, r, t, c.right, theme.text(), false),
            Cell::Hist(counts, color) => paint_hist(ui, r.shrink2(vec2(4.0, 2.0)), counts, *color, theme),
        }
    }
    resp
}

/// Text in a cell, cut to fit it with an ellipsis (a long start function
/// or region site shows where it was cut, instead of ending mid-letter at
/// the next column); the row's label keeps the whole text.
fn paint_text(ui: &Ui, cell: Rect, text: &str, right: bool, color: Color32, strong: bool) {
    let inner = cell.shrink2(vec2(4.0, 0.0));
    let painter = ui.painter().with_clip_rect(inner.intersect(ui.clip_rect()));
    let font = if strong { FontId::proportional(12.5) } else { FontId::monospace(11.5) };
    let mut job = egui::text::LayoutJob::simple_singleline(text.to_owned(), font, color);
    job.wrap = egui::text::TextWrapping::truncate_at_width(inner.width().max(0.0));
    let galley = painter.layout_job(job);
    let size = galley.size();
    let x = if right { inner.right() - size.x } else { inner.left() };
    painter.galley(pos2(x, inner.center().y - size.y / 2.0), galley, color);
}

/// Bars of a small histogram, heights by the square root of the counts.
fn paint_hist(ui: &Ui, rect: Rect, counts: &[u64; 8], color: Color32, theme: &Theme) {
    let painter = ui.painter();
    let max = counts.iter().copied().max().unwrap_or(0);
    painter.hline(rect.x_range(), rect.bottom(), (1.0, theme.weak()));
    if max == 0 {
        return;
    }
    let w = rect.width() / counts.len() as f32;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let h = (rect.height() * ((c as f32).sqrt() / (max as f32).sqrt())).max(1.0);
        let x = rect.left() + i as f32 * w;
        let bar = Rect::from_min_max(pos2(x + 0.5, rect.bottom() - h), pos2(x + w - 0.5, rect.bottom()));
        painter.rect_filled(bar, 0.0, color);
    }
}

/// Escapes a CSV field.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flexible_columns_take_the_rest() {
        let cols = [Col::num("a", 50.0, ""), Col::text("b", 0.0, ""), Col::num("c", 100.0, "")];
        assert_eq!(layout(&cols, 10.0, 500.0), vec![(10.0, 60.0), (60.0, 410.0), (410.0, 510.0)]);
        // Never narrower than 160.
        assert_eq!(layout(&cols, 0.0, 200.0)[1], (50.0, 210.0));
    }

    #[test]
    fn csv_quotes_when_needed() {
        assert_eq!(csv_field("main.f"), "main.f");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
