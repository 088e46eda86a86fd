//! Helpers for running Go's own `internal/trace` golden tests against the
//! decoder: finding the Go tree, reading its txtar test files and turning
//! the text form of a trace into wire bytes.

pub mod goroot;
pub mod textfmt;
pub mod txtar;
pub mod unquote;
