//! The screens around a load: progress, failure, the damaged-trace banner,
//! and the veil shown while a file is dragged over the window.

use egui::RichText;

use crate::app::{AppContext, LoadFailure};
use crate::command::{Command, Commands};
use crate::loader::{Loader, file_name};
use crate::theme::Theme;

const MB: f64 = 1e6;

/// The progress of a load: phase, megabytes, percentage, Cancel.
pub fn loading_ui(ui: &mut egui::Ui, ctx: &AppContext<'_>, loader: &Loader, cmds: &mut Commands) {
    let progress = loader.progress();
    let (done, total) = progress.bytes();
    let fraction = progress.fraction();
    let capturing = loader.capture().filter(|_| total == 0);
    let text = if let Some(c) = capturing {
        let received = c.received.load(std::sync::atomic::Ordering::Relaxed);
        format!("capturing a trace from the program — {:.1} MB received", received as f64 / MB)
    } else if total == 0 {
        "opening file…".to_owned()
    } else {
        format!(
            "{} — {:.1} of {:.1} MB ({:.0}%)",
            progress.phase().name(),
            done as f64 / MB,
            total as f64 / MB,
            fraction * 100.0
        )
    };
    ui.vertical_centered(|ui| {
        ui.add_space((ui.available_height() * 0.3).clamp(12.0, 240.0));
        let title = match capturing {
            Some(_) => "Capturing a trace".to_owned(),
            None => format!("Loading {}", file_name(loader.path())),
        };
        ui.label(RichText::new(title).size(20.0).strong());
        ui.label(RichText::new(loader.path().display().to_string()).color(ctx.theme.weak()));
        ui.add_space(12.0);
        let width = ui.available_width().clamp(120.0, 480.0);
        // Not animated: an animated bar repaints continuously, and with
        // software GL that took a core from the build (a 1 GB trace loaded
        // in 43 s instead of 25 s).
        ui.add(egui::ProgressBar::new(fraction).desired_width(width).text(text));
        ui.add_space(12.0);
        if ui.button("Cancel").clicked() {
            cmds.send(Command::CancelLoad);
        }
    });
}

/// Why a file did not open, with the way back.
pub fn failure_ui(ui: &mut egui::Ui, ctx: &AppContext<'_>, failure: &LoadFailure, cmds: &mut Commands) {
    let name = file_name(&failure.path);
    ui.vertical_centered(|ui| {
        ui.add_space((ui.available_height() * 0.2).clamp(12.0, 200.0));
        let title =
            if failure.cancelled { format!("Loading {name} was cancelled") } else { format!("Could not open {name}") };
        ui.label(RichText::new(title).size(20.0).strong());
        ui.label(RichText::new(failure.path.display().to_string()).color(ctx.theme.weak()));
        ui.add_space(12.0);
        if !failure.cancelled {
            let width = ui.available_width().min(720.0);
            ui.allocate_ui(egui::vec2(width, 0.0), |ui| {
                ui.add(egui::Label::new(RichText::new(&failure.message).color(ctx.theme.error()).size(15.0)).wrap());
            });
            ui.add_space(12.0);
        }
        ui.horizontal(|ui| {
            // Centre the row of buttons.
            let buttons_width = 420.0;
            ui.add_space(((ui.available_width() - buttons_width) / 2.0).max(0.0));
            if ui.button("Back to start page").clicked() {
                cmds.send(Command::CloseTrace);
            }
            if ui.button("Open another file…").clicked() {
                cmds.send(Command::OpenDialog);
            }
            if ui.button("Try again").clicked() {
                cmds.send(Command::Open(failure.path.clone()));
            }
        });
    });
}

/// Start of the banner shown over a damaged trace.
pub const DAMAGE_BANNER: &str = "Trace damaged — showing everything decodable before the damage";

/// Start of the banner shown over a trace read whole although Go's reader
/// refuses it ([`trace_core::ErrorKind::Inconsistent`]).
pub const INCONSISTENT_BANNER: &str = "Go's reader refuses this trace — shown whole, with what its events lack assumed";

/// The banner at the top of a trace that did not decode to the end, or
/// whose events Go's rules refuse.
pub fn damage_banner_ui(ui: &mut egui::Ui, ctx: &AppContext<'_>, error: &trace_core::Error, cmds: &mut Commands) {
    egui::Frame::new().fill(ctx.theme.warning_bg()).inner_margin(egui::Margin::symmetric(10, 6)).corner_radius(4).show(
        ui,
        |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui.button("Dismiss").clicked() {
                        cmds.send(Command::DismissWarning);
                    }
                    ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                        let start = match error.kind {
                            trace_core::ErrorKind::Inconsistent => INCONSISTENT_BANNER,
                            _ => DAMAGE_BANNER,
                        };
                        let text = format!("{start}: {error}");
                        ui.add(egui::Label::new(RichText::new(text).color(ctx.theme.warning_text())).wrap());
                    });
                });
            });
        },
    );
    ui.add_space(4.0);
}

/// Veils the window while files are dragged over it.
pub fn drop_overlay(ctx: &egui::Context, theme: &Theme) {
    let hovering = ctx.input(|i| !i.raw.hovered_files.is_empty());
    if !hovering {
        return;
    }
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, egui::Id::unique("gotv_drop_overlay")));
    let rect = ctx.content_rect();
    painter.rect_filled(rect, 0.0, theme.drop_overlay());
    painter.text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        "Drop a trace file to open it",
        egui::FontId::proportional(24.0),
        theme.drop_text(),
    );
}
