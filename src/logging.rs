//! glint's log file. mistralrs reports through `tracing`; its messages go
//! here rather than to the terminal, which belongs to glint's front ends.

use std::path::PathBuf;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Where the log goes: `$GLINT_LOG_FILE`, else `glint.log` in the cache
/// directory (`$XDG_CACHE_HOME/glint` or `~/.cache/glint`).
pub fn log_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("GLINT_LOG_FILE") {
        return Some(PathBuf::from(path));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(cache.join("glint").join("glint.log"))
}

/// Sends `tracing` output (filtered by `$GLINT_LOG`, default `info`) to the
/// log file, appending. Returns the path, or `None` when no file could be
/// opened (then logging is off: it must never break a run).
pub fn init() -> Option<PathBuf> {
    let path = log_path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).ok()?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let filter = EnvFilter::try_from_env("GLINT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init()
        .ok()?;
    Some(path)
}
