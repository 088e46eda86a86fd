//! Finding the Go tree whose `internal/trace` golden tests we run.
//!
//! Order: `GOTV_GOROOT`; else `go env GOROOT` run with the binary named by
//! `GOTV_GO`, or `/opt/go/v1.27.3/bin/go` when present, or `go` on `PATH`.
//! When nothing is found the tests fail, unless `GOTV_SKIP_GO_TESTS=1`.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Go toolchain the project pins.
const DEFAULT_GO: &str = "/opt/go/v1.27.3/bin/go";

/// Where the golden tests live inside GOROOT (Go 1.23+, then Go 1.22).
const GOLDEN_DIRS: [&str; 2] = ["src/internal/trace/testdata/tests", "src/internal/trace/v2/testdata/tests"];

fn non_empty_var(name: &str) -> Option<OsString> {
    env::var_os(name).filter(|v| !v.is_empty())
}

/// Finds GOROOT, or explains why it could not.
pub fn goroot() -> Result<PathBuf, String> {
    if let Some(root) = non_empty_var("GOTV_GOROOT") {
        return Ok(PathBuf::from(root));
    }
    let go = match non_empty_var("GOTV_GO") {
        Some(go) => PathBuf::from(go),
        None if Path::new(DEFAULT_GO).exists() => PathBuf::from(DEFAULT_GO),
        None => PathBuf::from("go"),
    };
    let out = Command::new(&go)
        .args(["env", "GOROOT"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .map_err(|e| format!("cannot run `{} env GOROOT`: {e}", go.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`{} env GOROOT` failed ({}): {}",
            go.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let root = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if root.is_empty() {
        return Err(format!("`{} env GOROOT` printed nothing", go.display()));
    }
    Ok(PathBuf::from(root))
}

/// The directory of `*.test` golden files, or why there is none.
pub fn golden_dir() -> Result<PathBuf, String> {
    let root = goroot()?;
    GOLDEN_DIRS.iter().map(|rel| root.join(rel)).find(|d| d.is_dir()).ok_or_else(|| {
        format!(
            "GOROOT {} has no internal/trace golden tests (looked for {}); Go 1.22 or later is needed",
            root.display(),
            GOLDEN_DIRS.join(" and ")
        )
    })
}

/// Whether the user asked to skip tests that need a Go installation.
pub fn skip_requested() -> bool {
    env::var("GOTV_SKIP_GO_TESTS").is_ok_and(|v| v == "1")
}

/// The golden directory; `None` (after a note on stderr) when Go is missing
/// and skipping was requested. Panics when Go is missing otherwise.
pub fn golden_dir_or_skip(test: &str) -> Option<PathBuf> {
    match golden_dir() {
        Ok(dir) => Some(dir),
        Err(e) if skip_requested() => {
            eprintln!("{test}: SKIPPED because GOTV_SKIP_GO_TESTS=1 and no Go tree was found: {e}");
            None
        }
        Err(e) => panic!(
            "{test}: no Go installation to take the golden tests from: {e}\n\
             Set GOTV_GOROOT to a Go 1.22+ GOROOT or GOTV_GO to a go binary, \
             or GOTV_SKIP_GO_TESTS=1 to skip this test."
        ),
    }
}

/// All `*.test` files of `dir`, sorted by name.
pub fn golden_files(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    files
}
