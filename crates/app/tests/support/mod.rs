//! Helpers shared by the integration tests that run Go.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The go binary: `GOTV_GO`, the pinned /opt/go/v1.27.3/bin/go, or `go` on
/// `PATH`, whichever comes first and runs. `None` (with a note) when there
/// is none and `GOTV_SKIP_GO_TESTS=1`; otherwise a missing Go fails the test.
pub fn go_or_skip(test: &str) -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("GOTV_GO").filter(|v| !v.is_empty()) {
        Some(go) => vec![PathBuf::from(go)],
        None => vec![PathBuf::from("/opt/go/v1.27.3/bin/go"), PathBuf::from("go")],
    };
    let mut why = Vec::new();
    for go in candidates {
        match Command::new(&go).arg("version").env("GOTOOLCHAIN", "local").output() {
            Ok(o) if o.status.success() => return Some(go),
            Ok(o) => why.push(format!("`{} version` failed: {}", go.display(), String::from_utf8_lossy(&o.stderr))),
            Err(e) => why.push(format!("cannot run `{} version`: {e}", go.display())),
        }
    }
    let why = why.join("; ");
    if std::env::var("GOTV_SKIP_GO_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("{test}: SKIPPED because GOTV_SKIP_GO_TESTS=1 and no Go was found: {why}");
        return None;
    }
    panic!(
        "{test}: no Go installation to compare with: {why}\n\
         Set GOTV_GO to a go binary (Go 1.27.3 is what CI installs), \
         or GOTV_SKIP_GO_TESTS=1 to skip this test."
    );
}

/// `go ARGS`, with its stdout; fails the test if it fails.
pub fn run_go(go: &Path, args: &[&OsStr]) -> Vec<u8> {
    let mut cmd = Command::new(go);
    cmd.args(args).env("GOTOOLCHAIN", "local");
    // `go tool` builds the tool into the build cache on first use.
    if ["GOCACHE", "HOME", "XDG_CACHE_HOME"].iter().all(|v| std::env::var_os(v).is_none()) {
        cmd.env("GOCACHE", Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-cache"));
    }
    let o = cmd.output().expect("go runs");
    assert!(o.status.success(), "go {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}
