//! Walking the workspace for `glob` and `grep`.
//!
//! Both tools walk with the `ignore` crate, so they skip what the project
//! itself ignores (`.gitignore` inside a git repository, `.ignore`,
//! `.git/info/exclude` and the user's global git excludes) the way ripgrep
//! does. Two choices differ from ripgrep's defaults, for a coding agent:
//!
//! - Hidden files are included (`.github/workflows/ci.yml`, `.env.example`
//!   and `.cargo/config.toml` matter when working on a project), but version
//!   control directories (`.git`, `.hg`, `.svn`, `.jj`) are never entered.
//! - Symlinks are never followed, so a walk cannot leave the workspace
//!   through a link; the tools decide per entry what to do with a link
//!   itself.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use ignore::{DirEntry, WalkBuilder, WalkState};
use tokio_util::sync::CancellationToken;

use super::blocking::contained;
use crate::tools::ToolError;

pub(crate) mod matches;

/// Directories that hold version-control metadata, never walked.
pub(crate) const VCS_DIRS: &[&str] = &[".git", ".hg", ".svn", ".jj"];

/// A walker over `dir` with the filters described in the module docs.
pub(crate) fn walker(dir: &Path) -> WalkBuilder {
    let mut builder = WalkBuilder::new(dir);
    builder
        .hidden(false)
        .follow_links(false)
        .filter_entry(|entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !(is_dir
                && entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| VCS_DIRS.contains(&n)))
        });
    builder
}

/// What a walk saw besides the entries it handed out.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WalkStats {
    /// Entries that could not be read (permission denied and the like).
    pub unreadable: usize,
}

/// Visits every entry under `dir` (not the directories themselves) on the
/// walker's thread pool. `make_visitor` is called once per thread, so each
/// thread can own its own searcher and buffers. A visitor returns `false` to
/// stop the whole walk early.
///
/// Returns [`ToolError::Cancelled`] if `cancel` fired during the walk; the
/// token is checked before every entry, so a cancelled walk stops promptly.
pub(crate) fn visit_parallel<F, V>(
    dir: &Path,
    cancel: &CancellationToken,
    mut make_visitor: F,
) -> Result<WalkStats, ToolError>
where
    F: FnMut() -> V,
    V: FnMut(&DirEntry) -> bool + Send,
{
    let unreadable = AtomicUsize::new(0);
    walker(dir).build_parallel().run(|| {
        let mut visit = make_visitor();
        let unreadable = &unreadable;
        // Contained: a panic on a walker thread is logged, not shown, and
        // reaches the tool as a failed call when the walk is joined.
        Box::new(move |result| {
            contained(|| {
                if cancel.is_cancelled() {
                    return WalkState::Quit;
                }
                let entry = match result {
                    Ok(entry) => entry,
                    Err(_) => {
                        unreadable.fetch_add(1, Ordering::Relaxed);
                        return WalkState::Continue;
                    }
                };
                if entry.file_type().is_some_and(|t| t.is_dir()) {
                    return WalkState::Continue;
                }
                if visit(&entry) {
                    WalkState::Continue
                } else {
                    WalkState::Quit
                }
            })
        })
    });
    if cancel.is_cancelled() {
        return Err(ToolError::Cancelled);
    }
    Ok(WalkStats {
        unreadable: unreadable.into_inner(),
    })
}

/// One walker thread's share of the results, moved into the shared list
/// when the thread's visitor is dropped at the end of the walk, so the lock
/// is taken once per thread rather than once per hit.
pub(crate) struct Batch<'a, T> {
    shared: &'a Mutex<Vec<T>>,
    local: Vec<T>,
}

impl<'a, T> Batch<'a, T> {
    pub(crate) fn new(shared: &'a Mutex<Vec<T>>) -> Self {
        Batch {
            shared,
            local: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        self.local.push(item);
    }
}

impl<T> Drop for Batch<'_, T> {
    fn drop(&mut self) {
        if self.local.is_empty() {
            return;
        }
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.append(&mut self.local);
    }
}

/// Whether a symlink found by a walk points (after resolving every link) to
/// a regular file inside `root`. Links out of the workspace are treated as
/// if they were not there.
pub(crate) fn link_to_file_inside(link: &Path, root: &Path) -> bool {
    match std::fs::canonicalize(link) {
        Ok(target) => target.starts_with(root) && target.is_file(),
        Err(_) => false,
    }
}

/// The longest glob pattern `glob` takes (and `grep` takes as its `glob`
/// filter), in bytes. Real globs are far shorter; a longer one only costs
/// time and memory when compiled.
pub const MAX_GLOB_BYTES: usize = 2048;

/// A glob pattern for paths, as `glob` takes it and `grep` filters by it.
///
/// `*` and `?` do not cross `/`; `**` does; `{a,b}` are alternatives. The
/// pattern is matched against the path relative to the searched directory
/// and, failing that, relative to the workspace root, because models often
/// repeat the directory in the pattern (`path: "src"`, `pattern:
/// "src/**/*.rs"`).
pub(crate) struct PathPattern {
    /// A set of one glob: unlike `Glob::compile_matcher`, which panics when
    /// the glob's regex is too big, building a set reports it as an error.
    matcher: GlobSet,
    /// Match only the file name: set for `grep`'s filter when the pattern
    /// has no `/`, as with ripgrep's `--glob`.
    name_only: bool,
}

impl PathPattern {
    /// Compiles `pattern`. With `name_only_without_slash`, a pattern without
    /// `/` matches file names at any depth (`*.rs`). The error is one line
    /// saying what is wrong with the pattern.
    pub(crate) fn new(
        pattern: &str,
        root: &Path,
        name_only_without_slash: bool,
    ) -> Result<Self, String> {
        if pattern.len() > MAX_GLOB_BYTES {
            return Err(format!(
                "it is {} bytes long, more than the {MAX_GLOB_BYTES} a glob may have",
                pattern.len()
            ));
        }
        if pattern.contains('\0') {
            return Err("it contains a NUL byte, which no path can hold".into());
        }
        let pattern = normalize_pattern(pattern, root);
        let name_only = name_only_without_slash && !pattern.contains('/');
        let glob = GlobBuilder::new(&pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| glob_error_line(&e))?;
        let matcher = GlobSetBuilder::new()
            .add(glob)
            .build()
            .map_err(|e| glob_error_line(&e))?;
        Ok(PathPattern { matcher, name_only })
    }

    /// Whether the file `abs` (under `dir`, under `root`) matches.
    pub(crate) fn matches(&self, abs: &Path, dir: &Path, root: &Path) -> bool {
        if self.name_only {
            return abs
                .file_name()
                .is_some_and(|name| self.matcher.is_match(name));
        }
        let relative = |base: &Path| abs.strip_prefix(base).ok().map(Path::to_path_buf);
        relative(dir).is_some_and(|p| self.matcher.is_match(p))
            || (dir != root && relative(root).is_some_and(|p| self.matcher.is_match(p)))
    }
}

/// Strips what models add in front of a relative pattern: `./`, or the
/// workspace root itself.
fn normalize_pattern(pattern: &str, root: &Path) -> String {
    let mut pattern = pattern.trim();
    let root = root.to_string_lossy();
    if let Some(rest) = pattern.strip_prefix(root.as_ref()) {
        if let Some(rest) = rest.strip_prefix('/') {
            pattern = rest;
        }
    }
    while let Some(rest) = pattern.strip_prefix("./") {
        pattern = rest;
    }
    pattern.to_string()
}

/// The glob error as one line for the model (a regex error's text can span
/// lines and quote the whole pattern).
pub(crate) fn glob_error_line(e: &globset::Error) -> String {
    match e.kind() {
        globset::ErrorKind::Regex(_) => {
            "it compiles to a matcher larger than glob allows; use a shorter, simpler pattern"
                .into()
        }
        kind => crate::tools::one_line(&kind.to_string(), 200),
    }
}

/// Sorts paths the way `ls -R` and `rg --sort path` do (component-wise),
/// so that output is the same from run to run despite the parallel walk.
pub(crate) fn sort_paths<T>(items: &mut [T], key: impl Fn(&T) -> &PathBuf) {
    items.sort_unstable_by(|a, b| key(a).cmp(key(b)));
}

/// `n` followed by the singular or plural noun.
pub(crate) fn count_of(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
