//! What gotv remembers across runs: recent files, theme, window size and the
//! trace view's state, as RON in the platform's config directory.
//!
//! The directory is `$GOTV_CONFIG_DIR` when set (tests use it so they never
//! touch the real home), else `$XDG_CONFIG_HOME/gotv` or `~/.config/gotv` on
//! Linux and the BSDs, `~/Library/Application Support/gotv` on macOS and
//! `%APPDATA%\gotv` on Windows.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::theme::ThemeChoice;
use crate::view::TraceViewState;

/// Environment variable that overrides the config directory.
pub const CONFIG_DIR_ENV: &str = "GOTV_CONFIG_DIR";

/// File name of the settings inside the config directory.
pub const SETTINGS_FILE: &str = "settings.ron";

/// Everything persisted. Missing fields take their defaults, so files
/// written by older versions load.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Recently opened traces, most recent first, at most [`Settings::MAX_RECENT`].
    pub recent: Vec<PathBuf>,
    /// Dark or light palette.
    pub theme: ThemeChoice,
    /// Inner size of the main window in points, if it was ever shown.
    pub window_size: Option<[f32; 2]>,
    /// The trace view's state (zoom, scroll, …).
    pub view: TraceViewState,
}

/// The fields of [`Settings`] that do not depend on other modules' types:
/// what is kept when the view's state in a file no longer deserializes.
#[derive(Default, Deserialize)]
#[serde(default)]
struct CoreSettings {
    recent: Vec<PathBuf>,
    theme: ThemeChoice,
    window_size: Option<[f32; 2]>,
}

impl Settings {
    /// How many recent files are kept.
    pub const MAX_RECENT: usize = 10;

    /// Puts `path` at the front of the recent files (moving it if it is
    /// already listed) and drops the oldest beyond [`Settings::MAX_RECENT`].
    pub fn add_recent(&mut self, path: &Path) {
        let path = normalize(path);
        self.recent.retain(|p| *p != path);
        self.recent.insert(0, path);
        self.recent.truncate(Self::MAX_RECENT);
    }

    /// Removes `path` from the recent files.
    pub fn remove_recent(&mut self, path: &Path) {
        self.recent.retain(|p| p != path);
    }

    /// Parses settings from RON text. If the view's state no longer parses
    /// (its type changed), the other fields are kept.
    pub fn from_ron(text: &str) -> anyhow::Result<Settings> {
        match ron::from_str::<Settings>(text) {
            Ok(s) => Ok(s),
            Err(full) => match ron::from_str::<CoreSettings>(text) {
                Ok(core) => Ok(Settings {
                    recent: core.recent,
                    theme: core.theme,
                    window_size: core.window_size,
                    view: TraceViewState::default(),
                }),
                Err(_) => Err(full.into()),
            },
        }
    }

    /// Settings as RON text.
    pub fn to_ron(&self) -> anyhow::Result<String> {
        Ok(ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())?)
    }

    /// Loads the settings at `path`. A missing file gives the defaults; an
    /// unreadable or corrupt one gives the defaults and a message saying so.
    pub fn load(path: &Path) -> (Settings, Option<String>) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Settings::default(), None),
            Err(e) => {
                return (Settings::default(), Some(format!("cannot read settings {}: {e}", path.display())));
            }
        };
        match Settings::from_ron(&text) {
            Ok(mut s) => {
                s.sanitize();
                (s, None)
            }
            Err(e) => (
                Settings::default(),
                Some(format!("ignoring corrupt settings file {} ({e:#}); using defaults", path.display())),
            ),
        }
    }

    /// Writes the settings to `path` (through a temporary file, so a crash
    /// never leaves half a file), creating the directory if needed.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = self.to_ron()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let tmp = path.with_extension("ron.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
        Ok(())
    }

    /// Drops values a hand-edited file could hold but the app cannot use.
    fn sanitize(&mut self) {
        self.recent.retain(|p| !p.as_os_str().is_empty());
        let mut seen = Vec::with_capacity(self.recent.len());
        self.recent.retain(|p| {
            let new = !seen.contains(p);
            seen.push(p.clone());
            new
        });
        self.recent.truncate(Self::MAX_RECENT);
        if let Some([w, h]) = self.window_size
            && !(w.is_finite() && h.is_finite() && (200.0..=20_000.0).contains(&w) && (150.0..=20_000.0).contains(&h))
        {
            self.window_size = None;
        }
    }
}

/// An absolute, canonical form of `path` where possible, so one file is
/// listed once however it was named.
fn normalize(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).or_else(|_| std::path::absolute(path)).unwrap_or_else(|_| path.to_path_buf())
}

/// gotv's config directory (see the module docs), if one can be found.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    platform_config_dir().map(|d| d.join("gotv"))
}

/// Where the settings file lives, if a config directory can be found.
pub fn settings_path() -> Option<PathBuf> {
    config_dir().map(|d| d.join(SETTINGS_FILE))
}

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).map(PathBuf::from).filter(|p| p.is_absolute())
}

#[cfg(target_os = "macos")]
fn platform_config_dir() -> Option<PathBuf> {
    env_dir("HOME").map(|h| h.join("Library/Application Support"))
}

#[cfg(windows)]
fn platform_config_dir() -> Option<PathBuf> {
    env_dir("APPDATA")
}

#[cfg(not(any(target_os = "macos", windows)))]
fn platform_config_dir() -> Option<PathBuf> {
    env_dir("XDG_CONFIG_HOME").or_else(|| env_dir("HOME").map(|h| h.join(".config")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gotv-settings-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn recent_files_are_most_recent_first_deduplicated_and_capped() {
        let dir = temp_dir("recent");
        let mut s = Settings::default();
        let files: Vec<PathBuf> = (0..13).map(|i| dir.join(format!("{i}.trace"))).collect();
        for f in &files {
            std::fs::write(f, b"x").unwrap();
            s.add_recent(f);
        }
        assert_eq!(s.recent.len(), Settings::MAX_RECENT);
        assert_eq!(s.recent[0], normalize(&files[12]));
        // Reopening an older file moves it to the front without duplicating it.
        s.add_recent(&files[5]);
        assert_eq!(s.recent[0], normalize(&files[5]));
        assert_eq!(s.recent.iter().filter(|p| **p == normalize(&files[5])).count(), 1);
        assert_eq!(s.recent.len(), Settings::MAX_RECENT);
        // Another spelling of the same file is the same entry.
        s.add_recent(&dir.join(".").join("12.trace"));
        assert_eq!(s.recent[0], normalize(&files[12]));
        assert_eq!(s.recent.len(), Settings::MAX_RECENT);
        s.remove_recent(&normalize(&files[12]));
        assert!(!s.recent.contains(&normalize(&files[12])));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn settings_round_trip_through_a_file() {
        let dir = temp_dir("roundtrip");
        let path = dir.join("sub").join(SETTINGS_FILE);
        let mut s = Settings { theme: ThemeChoice::Light, window_size: Some([1234.0, 777.0]), ..Default::default() };
        s.add_recent(Path::new("/nonexistent/a.trace"));
        s.add_recent(Path::new("/nonexistent/b.trace"));
        s.save(&path).unwrap();
        let (back, warning) = Settings::load(&path);
        assert_eq!(warning, None);
        assert_eq!(back.recent, vec![PathBuf::from("/nonexistent/b.trace"), PathBuf::from("/nonexistent/a.trace")]);
        assert_eq!(back.theme, ThemeChoice::Light);
        assert_eq!(back.window_size, Some([1234.0, 777.0]));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_corrupt_or_missing_file_gives_defaults() {
        let dir = temp_dir("corrupt");
        let path = dir.join(SETTINGS_FILE);
        let (s, warning) = Settings::load(&path);
        assert!(s.recent.is_empty() && warning.is_none());
        std::fs::write(&path, "(recent: [\"/x\"], theme: Purple, window_size: ").unwrap();
        let (s, warning) = Settings::load(&path);
        assert!(s.recent.is_empty());
        assert!(warning.is_some_and(|w| w.contains("corrupt")));
        std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        let (s, warning) = Settings::load(&path);
        assert!(s.recent.is_empty() && warning.is_some());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_view_state_that_no_longer_parses_keeps_the_rest() {
        let text = r#"(recent: ["/t/a.trace"], theme: Light, view: (start_ns: "not a number"))"#;
        let s = Settings::from_ron(text).unwrap();
        assert_eq!(s.recent, vec![PathBuf::from("/t/a.trace")]);
        assert_eq!(s.theme, ThemeChoice::Light);
    }

    #[test]
    fn silly_window_sizes_are_dropped() {
        let mut s = Settings::from_ron("(window_size: Some((1.0, 1e30)))").unwrap();
        s.sanitize();
        assert_eq!(s.window_size, None);
    }
}
