//! Search on committed traces, checked against brute force over the spans
//! and against Go's own parse (log messages).

use std::io::Read;
use std::path::Path;

use timeline::search::{Query, search};
use timeline::{GState, Progress, Timeline};

fn load(name: &str) -> Timeline {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/go1.27").join(name);
    timeline::build(&std::fs::read(path).unwrap(), &Progress::default()).unwrap()
}

#[test]
fn goroutines_by_function_and_id() {
    let tl = load("chan.trace");
    let found = search(&tl, &Query::Goroutine("BLOCKEDreceiver".into()), 100);
    assert_eq!(found.goroutine_count(), 1);
    let gi = found.goroutines.iter().position(|&b| b).unwrap();
    assert_eq!(tl.strings.get(tl.goroutines[gi].start_fn()), "main.blockedReceiver");
    let by_id = search(&tl, &Query::Goroutine(format!("g{}", tl.goroutines[gi].id.0)), 100);
    assert_eq!(by_id.goroutines, found.goroutines);
    assert_eq!(search(&tl, &Query::Goroutine("main.producer".into()), 100).goroutine_count(), 3);
}

#[test]
fn spans_by_state_equal_brute_force() {
    let tl = load("chan.trace");
    let found = search(&tl, &Query::State(GState::ChanRecv), 10_000);
    let brute: usize = tl
        .goroutines
        .iter()
        .map(|g| g.track.spans().iter().filter(|s| s.state == GState::ChanRecv as u8).count())
        .sum();
    assert_eq!(found.span_count, brute);
    assert!(
        found
            .spans
            .iter()
            .all(|h| tl.goroutines[h.goroutine].track.span(h.index).unwrap().state == GState::ChanRecv as u8)
    );
    // The 60 ms receive is among them.
    assert!(found.spans.iter().any(|h| (60_000_000..61_000_000).contains(&(h.end_ns - h.start_ns))));
}

#[test]
fn spans_by_frame_find_the_waker_stack() {
    let tl = load("chan.trace");
    let found = search(&tl, &Query::Frame("delayedsender".into()), 10_000);
    assert!(found.span_count > 0);
    for h in &found.spans {
        let s = tl.goroutines[h.goroutine].track.span(h.index).unwrap();
        let funcs: Vec<&str> = tl.stacks.frames(s.stack).iter().map(|f| tl.strings.get(f.func)).collect();
        assert!(funcs.contains(&"main.delayedSender"), "{funcs:?}");
    }
    // The receiver's wake-up span carries the sender's stack.
    let g = tl.goroutines.iter().position(|g| tl.strings.get(g.start_fn()) == "main.blockedReceiver").unwrap();
    assert!(found.goroutines[g]);
}

#[test]
fn logs_by_text_match_go() {
    let tl = load("annotations.trace");
    let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/go1.27/annotations.parsed.txt.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(oracle).unwrap()).read_to_string(&mut text).unwrap();
    // Go lists events in time order; the search lists what it finds so.
    let field = |l: &str, key: &str| l.split(key).nth(1).and_then(|r| r.split([' ', '"']).next()).map(str::to_owned);
    let want: Vec<(String, String, String)> = text
        .lines()
        .filter(|l| l.contains(" Log ") && l.contains("handler"))
        .filter_map(|l| {
            Some((
                field(l, " G=")?,
                field(l, " Time=")?,
                l.split("Message=\"").nth(1)?.trim_end_matches('"').to_owned(),
            ))
        })
        .collect();
    assert!(want.len() > 1);
    let found = search(&tl, &Query::Log("HANDLER".into()), 100);
    let got: Vec<(String, String, String)> = found
        .logs
        .iter()
        .map(|&i| {
            let l = tl.logs.get(i).unwrap();
            (l.g.0.to_string(), l.time_ns.to_string(), tl.strings.get(l.message).to_owned())
        })
        .collect();
    assert_eq!(got, want);
    assert!(found.goroutine_count() >= 1);
}

#[test]
fn regions_of_a_goroutine_match_go() {
    let tl = load("annotations.trace");
    let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/go1.27/annotations.parsed.txt.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(oracle).unwrap()).read_to_string(&mut text).unwrap();
    // Go's RegionBegin events per goroutine.
    let mut want = std::collections::BTreeMap::<i64, usize>::new();
    for l in text.lines().filter(|l| l.contains(" RegionBegin ")) {
        let g: i64 = l.split(" G=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        *want.entry(g).or_default() += 1;
    }
    assert!(!want.is_empty());
    for (g, n) in want {
        let regions: Vec<_> = tl.regions_of(trace_core::GoroutineId(g)).collect();
        assert_eq!(regions.len(), n, "g{g}");
        for r in regions {
            let open = tl.regions_at(r.g, r.start_ns);
            assert!(open.iter().any(|o| o == &r), "g{g}: {r:?} open at its start");
            assert!(open.windows(2).all(|w| w[0].depth <= w[1].depth));
        }
    }
}
