//! Full timeline build (decode + tracks) on committed traces, and on a big
//! trace when `GOTV_BENCH_TRACE` names one (see scripts/gen-big-trace.sh).

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use timeline::{Mode, Progress, build_with};

fn inputs() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces");
    let mut v = Vec::new();
    for (name, path) in [("go1.27-net", "go1.27/net.trace"), ("go1.27-manyg", "go1.27/manyg.trace")] {
        v.push((name.to_string(), std::fs::read(root.join(path)).unwrap_or_default()));
    }
    if let Some(p) = std::env::var_os("GOTV_BENCH_TRACE") {
        v.push(("big".to_string(), std::fs::read(&p).unwrap_or_default()));
    }
    v
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("build");
    g.sample_size(10);
    for (name, bytes) in inputs() {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        for (mode, label) in [(Mode::Parallel, "parallel"), (Mode::Sequential, "sequential")] {
            g.bench_function(format!("{name}/{label}"), |b| {
                b.iter(|| build_with(&bytes, &Progress::default(), mode).map(|t| t.event_count).unwrap_or(0))
            });
        }
    }
    g.finish();
}

#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, bench);
}
use group::benches;
criterion_main!(benches);
