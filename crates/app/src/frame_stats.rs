//! `--frame-stats`: a small overlay with recent frame times.

use std::collections::VecDeque;

/// Frames kept for the averages.
const WINDOW: usize = 120;

/// Recent frame times, in milliseconds.
#[derive(Debug, Default)]
pub struct FrameStats {
    ui_ms: VecDeque<f32>,
    cpu_ms: VecDeque<f32>,
}

impl FrameStats {
    /// Records one frame: time in `App::ui`, and eframe's CPU time of the
    /// previous frame (UI plus tessellation) when it reports one.
    pub fn record(&mut self, ui_ms: f32, cpu_ms: Option<f32>) {
        push(&mut self.ui_ms, ui_ms);
        if let Some(c) = cpu_ms {
            push(&mut self.cpu_ms, c);
        }
    }

    /// "ui 1.2 ms avg / 3.4 max · cpu …" over the last frames.
    pub fn summary(&self) -> String {
        let mut s = format!("ui {}", stats(&self.ui_ms));
        if !self.cpu_ms.is_empty() {
            s += &format!("   frame cpu {}", stats(&self.cpu_ms));
        }
        s
    }

    /// Paints the overlay in the bottom-right corner, above the status bar
    /// (the toolbar ends on the right with controls it would cover).
    pub fn overlay_ui(&self, ctx: &egui::Context) {
        egui::Area::new(egui::Id::unique("gotv_frame_stats"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-8.0, -30.0))
            .interactable(false)
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    let text = egui::RichText::new(self.summary()).monospace().size(11.0);
                    ui.add(egui::Label::new(text).wrap_mode(egui::TextWrapMode::Extend));
                });
            });
    }
}

fn push(q: &mut VecDeque<f32>, v: f32) {
    if q.len() == WINDOW {
        q.pop_front();
    }
    q.push_back(v);
}

fn stats(q: &VecDeque<f32>) -> String {
    let n = q.len().max(1) as f32;
    let avg = q.iter().sum::<f32>() / n;
    let max = q.iter().copied().fold(0.0, f32::max);
    format!("{avg:.2} ms avg / {max:.2} max")
}

#[cfg(test)]
mod tests {
    use super::FrameStats;

    #[test]
    fn keeps_the_last_frames() {
        let mut s = FrameStats::default();
        for i in 0..200 {
            s.record(if i < 100 { 100.0 } else { 1.0 }, Some(2.0));
        }
        // The 100 ms frames fell out of the window except 20 of them.
        assert_eq!(s.summary(), "ui 17.50 ms avg / 100.00 max   frame cpu 2.00 ms avg / 2.00 max");
    }
}
