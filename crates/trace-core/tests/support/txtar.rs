//! A small reader for the txtar archive format (`-- name --` marker lines)
//! and for the `expect` section of Go's trace golden tests.

use super::unquote::go_unquote;

/// One file of an archive.
#[derive(Debug, PartialEq, Eq)]
pub struct File {
    /// The name between the markers.
    pub name: String,
    /// Everything up to the next marker line, newline-terminated.
    pub data: String,
}

/// Returns the name in a marker line `-- name --`, if `line` is one.
fn marker_name(line: &str) -> Option<&str> {
    let inner = line.strip_prefix("-- ")?.strip_suffix(" --")?;
    let name = inner.trim();
    (!name.is_empty()).then_some(name)
}

/// Splits an archive into its files. The leading comment is dropped.
pub fn parse(text: &str) -> Vec<File> {
    let mut files: Vec<File> = Vec::new();
    for line in text.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        let bare = bare.strip_suffix('\r').unwrap_or(bare);
        if let Some(name) = marker_name(bare) {
            files.push(File { name: name.to_owned(), data: String::new() });
        } else if let Some(f) = files.last_mut() {
            f.data.push_str(line);
        }
    }
    for f in &mut files {
        if !f.data.is_empty() && !f.data.ends_with('\n') {
            f.data.push('\n');
        }
    }
    files
}

/// What a golden test expects of the reader.
#[derive(Debug, PartialEq, Eq)]
pub enum Expectation {
    /// Reading the whole trace succeeds.
    Success,
    /// Reading fails with an error matching this regular expression.
    Failure {
        /// The (unquoted) pattern Go matches the error text against.
        pattern: String,
    },
}

impl Expectation {
    /// Parses an `expect` section: `SUCCESS`, or `FAILURE "quoted regexp"`
    /// on the first line. An empty section means success.
    pub fn parse(section: &str) -> Result<Expectation, String> {
        let Some(first) = section.lines().next() else {
            return Ok(Expectation::Success);
        };
        let (word, rest) = match first.split_once(' ') {
            Some((w, r)) => (w, Some(r)),
            None => (first, None),
        };
        match (word, rest) {
            ("SUCCESS", _) => Ok(Expectation::Success),
            ("FAILURE", Some(quoted)) => {
                let bytes = go_unquote(quoted)?;
                let pattern = String::from_utf8(bytes).map_err(|e| format!("pattern is not UTF-8: {e}"))?;
                Ok(Expectation::Failure { pattern })
            }
            ("FAILURE", None) => Err(format!("FAILURE without an error pattern: {first:?}")),
            _ => Err(format!("bad expectation line: {first:?}")),
        }
    }

    /// Whether the trace should fail to read.
    pub fn is_failure(&self) -> bool {
        matches!(self, Expectation::Failure { .. })
    }
}
