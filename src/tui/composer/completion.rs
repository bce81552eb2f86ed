//! `@path` completion: the workspace's files, listed once in a background
//! thread (honouring .gitignore and friends through the `ignore` crate), and
//! a fuzzy subsequence match that ranks them for a partial path.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Most files listed; a huge tree must not hold the whole list in memory.
const MAX_FILES: usize = 100_000;

/// The workspace's file list, filled in by a background walk started on
/// first use.
#[derive(Debug)]
pub struct FileIndex {
    root: PathBuf,
    files: Arc<OnceLock<Vec<String>>>,
    started: bool,
}

impl FileIndex {
    pub fn new(root: PathBuf) -> FileIndex {
        FileIndex {
            root,
            files: Arc::new(OnceLock::new()),
            started: false,
        }
    }

    /// Starts the walk (once); cheap to call again.
    pub fn start(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        let root = self.root.clone();
        let files = Arc::clone(&self.files);
        let spawned = std::thread::Builder::new()
            .name("glint-file-index".into())
            .spawn(move || {
                let _ = files.set(walk(&root));
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "could not start the file index thread");
            let _ = self.files.set(Vec::new());
        }
    }

    /// The files, once the walk has finished.
    pub fn files(&self) -> Option<&[String]> {
        self.files.get().map(Vec::as_slice)
    }
}

/// Lists the files under `root` as `/`-separated relative paths, sorted by
/// depth then name. Ignore files apply even outside a git repository; `.git`
/// itself is skipped; hidden files are listed.
fn walk(root: &Path) -> Vec<String> {
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|entry| entry.file_name() != ".git")
        .build();
    let mut files = Vec::new();
    for entry in walker.flatten() {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(root) else {
            continue;
        };
        let parts: Vec<_> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect();
        files.push(parts.join("/"));
        if files.len() >= MAX_FILES {
            break;
        }
    }
    files.sort_by(|a, b| {
        let depth = |p: &str| p.matches('/').count();
        depth(a).cmp(&depth(b)).then_with(|| a.cmp(b))
    });
    files
}

/// A file that matches the query, with where the query's characters matched
/// (char indices into `path`, for highlighting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub path: String,
    pub positions: Vec<usize>,
    score: i64,
}

/// The best `limit` files for `query`, best first. Matching ignores case
/// unless the query has an upper-case letter.
pub fn rank(files: &[String], query: &str, limit: usize) -> Vec<Match> {
    let case_sensitive = query.chars().any(char::is_uppercase);
    let query: Vec<char> = query.chars().collect();
    let mut matches: Vec<Match> = files
        .iter()
        .filter_map(|path| score(path, &query, case_sensitive))
        .collect();
    matches.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.path.len().cmp(&b.path.len()))
            .then_with(|| a.path.cmp(&b.path))
    });
    matches.truncate(limit);
    matches
}

/// Scores `path` for `query` (a subsequence match), or `None` if the query's
/// characters do not all appear in order. Consecutive runs, matches at the
/// start of a path segment or word, and matches inside the file name score
/// higher; long paths score a little lower.
fn score(path: &str, query: &[char], case_sensitive: bool) -> Option<Match> {
    let chars: Vec<char> = path.chars().collect();
    let fold = |c: char| {
        if case_sensitive {
            c
        } else {
            c.to_lowercase().next().unwrap_or(c)
        }
    };
    let name_start = chars.iter().rposition(|&c| c == '/').map_or(0, |i| i + 1);
    // Prefer matching inside the file name: try the name alone first.
    let positions = subsequence(&chars[name_start..], query, fold)
        .map(|p| p.into_iter().map(|i| i + name_start).collect())
        .or_else(|| subsequence(&chars, query, fold))?;
    let mut score: i64 = 0;
    let mut previous: Option<usize> = None;
    for &i in &positions {
        score += 1;
        if previous.is_some_and(|p| p + 1 == i) {
            score += 8;
        }
        let at_boundary = i == 0
            || matches!(chars[i - 1], '/' | '_' | '-' | '.' | ' ')
            || (chars[i].is_uppercase() && chars[i - 1].is_lowercase());
        if at_boundary {
            score += 6;
        }
        if i >= name_start {
            score += 4;
        }
        previous = Some(i);
    }
    if !query.is_empty() && positions.first() == Some(&name_start) {
        score += 10;
    }
    score -= chars.len() as i64 / 8;
    Some(Match {
        path: path.to_owned(),
        positions,
        score,
    })
}

/// Greedy left-to-right subsequence match of `query` in `chars`.
fn subsequence(chars: &[char], query: &[char], fold: impl Fn(char) -> char) -> Option<Vec<usize>> {
    let mut positions = Vec::with_capacity(query.len());
    let mut next = 0;
    for &q in query {
        let q = fold(q);
        let found = chars[next..].iter().position(|&c| fold(c) == q)? + next;
        positions.push(found);
        next = found + 1;
    }
    Some(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ranks_file_name_matches_first() {
        let files = paths(&["src/main.rs", "docs/manual.md", "src/tui/mod.rs"]);
        let ranked = rank(&files, "main", 10);
        assert_eq!(ranked[0].path, "src/main.rs");
        assert_eq!(ranked[0].positions, vec![4, 5, 6, 7]);
        assert!(rank(&files, "zzz", 10).is_empty());
    }

    #[test]
    fn matches_across_directories() {
        let files = paths(&["src/tui/mod.rs", "src/lib.rs"]);
        let ranked = rank(&files, "stm", 10);
        assert_eq!(ranked.len(), 1);
        assert_eq!(ranked[0].path, "src/tui/mod.rs");
    }

    #[test]
    fn upper_case_query_is_case_sensitive() {
        let files = paths(&["README.md", "readme.txt"]);
        assert_eq!(rank(&files, "READ", 10).len(), 1);
        assert_eq!(rank(&files, "read", 10).len(), 2);
    }
}
