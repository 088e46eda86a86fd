//! The gotv viewer: the application shell (start page, loading, settings,
//! menus) and the trace view, as a library so tests can drive the window
//! headless. The `gotv` binary (`main.rs`) adds the command-line tools.

pub mod alloc;
pub mod app;
pub mod capture;
pub mod command;
pub mod dialog;
pub mod frame_stats;
pub mod loader;
pub mod menu;
pub mod pages;
pub mod panels;
pub mod pprof;
pub mod settings;
pub mod start_page;
pub mod status;
pub mod theme;
pub mod trace_file;
pub mod view;

pub use app::{App, AppOptions};
