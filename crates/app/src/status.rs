//! The status line at the bottom of the window.

use std::time::Duration;

use egui::RichText;

use crate::app::{AppContext, Screen};
use crate::loader::file_name;

/// Draws the status line: what is open and how big, or what is happening;
/// `notice` (a settings problem) on the right.
pub fn status_line_ui(ui: &mut egui::Ui, ctx: &AppContext<'_>, screen: &Screen, notice: Option<&str>) {
    ui.horizontal(|ui| {
        match screen {
            Screen::Start => {
                ui.label(
                    RichText::new("Open a trace with File > Open…, or drop one on the window").color(ctx.theme.weak()),
                );
            }
            Screen::Loading(loader) => {
                ui.label(format!("Loading {}…", file_name(loader.path())));
            }
            Screen::Failed(failure) => {
                let what = if failure.cancelled { "cancelled" } else { "failed to open" };
                ui.label(format!("{}: {what}", file_name(&failure.path)));
            }
            Screen::Trace(open) => {
                let t = &open.trace;
                let tl = &t.timeline;
                ui.label(RichText::new(t.file_name()).strong()).on_hover_text(t.path.display().to_string());
                ui.separator();
                let size = if t.disk_bytes != 0 && t.disk_bytes != tl.file_bytes {
                    format!("{} ({} uncompressed)", format_bytes(t.disk_bytes), format_bytes(tl.file_bytes))
                } else {
                    format_bytes(tl.file_bytes)
                };
                ui.label(size);
                ui.separator();
                ui.label(format!("{} events", format_count(tl.event_count)));
                ui.separator();
                ui.label(format!("{} goroutines", format_count(tl.goroutines.len() as u64)));
                ui.separator();
                ui.label(format!("loaded in {}", format_duration(t.load_time)));
                if let Some(e) = &tl.error {
                    ui.separator();
                    let word = match e.kind {
                        trace_core::ErrorKind::Inconsistent => "inconsistent",
                        _ => "damaged",
                    };
                    ui.label(RichText::new(word).color(ctx.theme.error()));
                }
            }
        }
        if let Some(notice) = notice {
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(RichText::new(notice).color(ctx.theme.error()));
            });
        }
    });
}

/// `812 B`, `42.1 KB`, `12.3 MB`, `1.20 GB` (decimal units).
pub fn format_bytes(n: u64) -> String {
    let f = n as f64;
    if n < 1000 {
        format!("{n} B")
    } else if f < 1e6 {
        format!("{:.1} KB", f / 1e3)
    } else if f < 1e9 {
        format!("{:.1} MB", f / 1e6)
    } else {
        format!("{:.2} GB", f / 1e9)
    }
}

/// `1,234,567`.
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `35 ms`, `1.25 s`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 1.0 {
        "<1 ms".to_owned()
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1000), "1,000");
        assert_eq!(format_count(1_234_567), "1,234,567");
        assert_eq!(format_bytes(812), "812 B");
        assert_eq!(format_bytes(42_100), "42.1 KB");
        assert_eq!(format_bytes(12_300_000), "12.3 MB");
        assert_eq!(format_bytes(1_200_000_000), "1.20 GB");
        assert_eq!(format_duration(Duration::from_millis(35)), "35 ms");
        assert_eq!(format_duration(Duration::from_millis(1250)), "1.25 s");
    }
}
