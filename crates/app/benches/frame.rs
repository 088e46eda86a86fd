//! One full frame of the trace view, planned and tessellated headless: the
//! work the UI thread does per frame while panning and zooming (GPU upload
//! and drawing excluded). Uses a committed trace, and a big one when
//! `GOTV_BENCH_TRACE` names it.

use criterion::{Criterion, criterion_group, criterion_main};
use gotv::theme::{Theme, ThemeChoice};
use gotv::view::{TraceViewState, ViewCommand, trace_view_ui};
use timeline::{Progress, Timeline};

fn load(path: &std::path::Path) -> std::sync::Arc<Timeline> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::sync::Arc::new(timeline::build(&bytes, &Progress::default()).expect("trace builds"))
}

fn input(t: f64) -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1920.0, 1080.0))),
        time: Some(t),
        ..Default::default()
    }
}

/// Runs one frame at the given window and tessellates it; returns the
/// number of triangles' worth of indices (so nothing is optimised away).
fn frame(
    ctx: &egui::Context,
    tl: &std::sync::Arc<Timeline>,
    state: &mut TraceViewState,
    window: (i64, i64),
    t: f64,
) -> usize {
    state.t.commands.push(ViewCommand::ShowRange { start_ns: window.0, end_ns: window.1 });
    let theme = Theme::new(ThemeChoice::Dark);
    let mut out = ctx.run_ui(input(t), |ui| trace_view_ui(ui, tl, &theme, state));
    // No GPU here: font atlas uploads are dropped.
    out.textures_delta.clear();
    let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
    prims
        .iter()
        .map(|p| match &p.primitive {
            egui::epaint::Primitive::Mesh(m) => m.indices.len(),
            egui::epaint::Primitive::Callback(_) => 0,
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/go1.27");
    let mut inputs = vec![("manyg", load(&root.join("manyg.trace")))];
    if let Some(p) = std::env::var_os("GOTV_BENCH_TRACE") {
        inputs.push(("big", load(std::path::Path::new(&p))));
    }
    for (name, tl) in &inputs {
        let ctx = egui::Context::default();
        let mut state = TraceViewState::default();
        let len = tl.end_ns - tl.start_ns;
        let mut t = 0.0;
        // Warm up fonts and layout caches.
        frame(&ctx, tl, &mut state, (tl.start_ns, tl.end_ns), t);
        let mut g = c.benchmark_group(format!("frame/{name}"));
        for (zoom, width) in [("whole", len), ("1pct", len / 100), ("10us", 10_000)] {
            g.bench_function(zoom, |b| {
                let mut k = 0i64;
                b.iter(|| {
                    // Pan a little every frame, as while dragging.
                    k += 1;
                    let start = tl.start_ns + (k * width / 50) % (len - width).max(1);
                    t += 1.0 / 60.0;
                    frame(&ctx, tl, &mut state, (start, start + width), t)
                })
            });
        }
        // Zooming in and out around the middle: a new scale every frame.
        g.bench_function("zooming", |b| {
            let mut k = 0i64;
            b.iter(|| {
                k += 1;
                let width = len / (1 + k % 20);
                let start = tl.start_ns + (len - width) / 2;
                t += 1.0 / 60.0;
                frame(&ctx, tl, &mut state, (start, start + width), t)
            })
        });
        g.finish();
    }
}

#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, bench);
}
use group::benches;
criterion_main!(benches);
