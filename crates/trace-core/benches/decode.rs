//! Decoder throughput on committed traces, and on a big trace when
//! `GOTV_BENCH_TRACE` names one (see scripts/gen-big-trace.sh).

use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use trace_core::{ParallelDecode, Reader};

fn load(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn inputs() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces");
    let mut v = vec![
        ("go1.27-net".to_string(), load(&root.join("go1.27/net.trace"))),
        ("go1.27-manyg".to_string(), load(&root.join("go1.27/manyg.trace"))),
        ("go1.22-timers".to_string(), load(&root.join("go1.22/timers.trace"))),
    ];
    if let Some(p) = std::env::var_os("GOTV_BENCH_TRACE") {
        v.push(("big".to_string(), load(Path::new(&p))));
    }
    v
}

/// Every event decoded, every stack's frames and names touched.
fn decode_sequential(bytes: &[u8]) -> u64 {
    let mut r = Reader::new(bytes).expect("valid trace");
    let mut sum = 0u64;
    while let Ok(Some(ev)) = r.next_event() {
        if let Some(t) = r.table() {
            for f in t.stack_frames(ev.stack()) {
                sum += f.line + t.string(f.func).map_or(0, |s| s.len() as u64);
            }
        }
        sum += 1;
    }
    sum
}

/// Generations decoded independently on this thread, then chained.
fn decode_by_generation(bytes: &[u8]) -> u64 {
    let pd = ParallelDecode::new(bytes).expect("valid trace");
    let count = |run: &mut trace_core::GenerationRun<'_>| {
        let mut n = 0u64;
        while let Ok(Some(_)) = run.next_event() {
            n += 1;
        }
        n
    };
    let started = (0..pd.len()).map(|i| pd.run(i, count)).collect();
    pd.chain(started, count).values.iter().sum()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for (name, bytes) in inputs() {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        if bytes.len() > 50 << 20 {
            g.sample_size(10);
        }
        g.bench_with_input(BenchmarkId::new("sequential", &name), &bytes, |b, bytes| {
            b.iter(|| decode_sequential(bytes))
        });
        g.bench_with_input(BenchmarkId::new("by-generation", &name), &bytes, |b, bytes| {
            b.iter(|| decode_by_generation(bytes))
        });
    }
    g.finish();
}

#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion_group!(benches, bench);
}
use harness::benches;
criterion_main!(benches);
