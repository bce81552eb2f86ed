//! The repo map: the workspace's most used definitions, file by file, in
//! the system prompt, so the model knows where things are before its first
//! tool call.
//!
//! Built as Aider builds its map: tree-sitter finds each file's definitions
//! and the identifiers it uses ([`tags`], sharing the code tools' parsers);
//! the files form a graph, an edge from each file to the files defining
//! what it uses; PageRank over it, personalised toward the files and names
//! the task mentions, ranks files and definitions ([`rank`]); the best
//! definitions that fit a token budget are listed ([`render`]). The tags
//! are cached per workspace under the user's cache directory, keyed by
//! each file's path, size and modification time ([`cache`]), and built on
//! a thread of their own ([`RepoMapJob`]) while the app starts.

mod cache;
mod index;
mod job;
mod links;
mod mentions;
mod rank;
mod render;
mod tags;

use std::path::{Path, PathBuf};

pub use index::{Index, IndexStats, MAX_FILES};
pub use job::RepoMapJob;
pub use render::estimate_tokens;

use crate::config::Config;

/// The map's budget unless `repo_map.max_tokens` says otherwise: about a
/// screenful, a small share of GLM-4.7-Flash's context.
pub const DEFAULT_MAX_TOKENS: usize = 1024;

/// Whether there is a map and how large it may be (config `repo_map.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoMapSettings {
    pub enabled: bool,
    pub max_tokens: usize,
}

impl Default for RepoMapSettings {
    fn default() -> Self {
        RepoMapSettings {
            enabled: true,
            max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

impl RepoMapSettings {
    /// The settings `config` gives, defaults for what it leaves out.
    pub fn from_config(config: &Config) -> Self {
        let defaults = RepoMapSettings::default();
        RepoMapSettings {
            enabled: config.repo_map.unwrap_or(defaults.enabled),
            max_tokens: config.repo_map_max_tokens.map_or(defaults.max_tokens, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            }),
        }
    }

    /// Starts building the map of the workspace at `root` in the
    /// background, cached under [`default_cache_dir`]; `None` when the map
    /// is turned off.
    pub fn start(&self, root: &Path) -> Option<RepoMapJob> {
        self.enabled
            .then(|| RepoMapJob::spawn(root.to_path_buf(), default_cache_dir(), self.max_tokens))
    }
}

/// Where the maps' caches live: `glint/repomap` in the user's cache
/// directory (`$XDG_CACHE_HOME`, else `~/.cache`).
pub fn default_cache_dir() -> Option<PathBuf> {
    Some(dirs::cache_dir()?.join("glint").join("repomap"))
}

impl Index {
    /// The map for a conversation about `text` (the task): the
    /// definitions that fit in `max_tokens`, best first. Empty when the
    /// workspace defines nothing glint can parse.
    pub fn render(&self, text: &str, max_tokens: usize) -> String {
        if self.files.is_empty() {
            return String::new();
        }
        let mentions = mentions::Mentions::find(self, text);
        let ranking = rank::rank(self, &mentions);
        render::render(self, &ranking, max_tokens)
    }

    /// Every file with its rank for a conversation about `text`, best
    /// first (ties in path order).
    pub fn ranked_files(&self, text: &str) -> Vec<(String, f64)> {
        let mentions = mentions::Mentions::find(self, text);
        let ranking = rank::rank(self, &mentions);
        let mut files: Vec<(String, f64)> = self
            .files
            .iter()
            .zip(ranking.file_rank)
            .map(|(file, rank)| (file.path.clone(), rank))
            .collect();
        files.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        files
    }
}
