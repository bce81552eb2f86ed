//! The workspace's tags: every source file walked (`.gitignore` honoured,
//! hidden files and symlinks skipped, as the code tools walk), each file's
//! definitions and identifier uses taken from the cache when its size and
//! modification time are unchanged and parsed otherwise.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use super::cache;
use super::links::Links;
use super::tags::{self, ParsedFile};
use crate::tools::code;

/// Files indexed at most: beyond this a tree is generated or vendored code
/// for the most part, and the map of its first files is as useful.
pub const MAX_FILES: usize = 50_000;

/// Files parsed between two saves of the work so far.
const PARSE_CHUNK: usize = 256;
/// How often a cold build saves what it parsed so far (an atomic rewrite
/// of the cache, a few milliseconds for a large tree).
const PARTIAL_SAVE_EVERY: Duration = Duration::from_millis(500);

/// [`DefTag::container`] of a definition that has none.
pub(super) const NO_CONTAINER: u32 = u32::MAX;

/// A definition, its strings interned in [`Index::names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DefTag {
    pub name: u32,
    /// Index into the code tools' `KINDS`.
    pub kind: u8,
    pub line: u32,
    /// [`NO_CONTAINER`] when none.
    pub container: u32,
}

/// One source file's tags, with the stat values they were read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileEntry {
    /// Relative to the workspace root, `/`-separated.
    pub path: String,
    pub size: u64,
    pub mtime_ns: u64,
    pub defs: Vec<DefTag>,
    /// `(name, uses)`, each name once.
    pub refs: Vec<(u32, u32)>,
}

/// What building an index did, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Source files in the workspace (up to [`MAX_FILES`]).
    pub files: usize,
    /// Files parsed by this build.
    pub parsed: usize,
    /// Files whose tags came from the cache.
    pub reused: usize,
    /// Whether a cache was found and read.
    pub cache_loaded: bool,
    /// Whether the cache was (re)written.
    pub cache_written: bool,
}

/// Every source file's definitions and identifier uses.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// Interned identifiers and container names.
    pub(super) names: Vec<String>,
    /// In path order.
    pub(super) files: Vec<FileEntry>,
    pub(super) stats: IndexStats,
    /// The reference graph, built at the first ranking.
    links: OnceLock<Links>,
}

impl Index {
    /// Indexes the workspace at `root`, through the cache in `cache_dir`
    /// when given (read, then rewritten if anything changed). Never fails:
    /// an unreadable file has no tags, an unusable cache is rebuilt.
    pub fn build(root: &Path, cache_dir: Option<&Path>) -> Index {
        Self::build_saving(root, cache_dir, PARTIAL_SAVE_EVERY, None)
    }

    /// [`Index::build`], saving the work so far every `save_every`;
    /// `killed_after` (tests) stops it after that many chunks, as a run
    /// that exits mid-build would.
    fn build_saving(
        root: &Path,
        cache_dir: Option<&Path>,
        save_every: Duration,
        killed_after: Option<usize>,
    ) -> Index {
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let walked = walk(&root);
        let cached = cache_dir.and_then(|dir| cache::load(dir, &root));
        let mut stats = IndexStats {
            files: walked.len(),
            cache_loaded: cached.is_some(),
            ..IndexStats::default()
        };
        let (mut names, old_files) = match cached {
            Some(cached) => (cached.names, cached.files),
            None => (Vec::new(), Vec::new()),
        };
        let old_count = old_files.len();
        let mut old: HashMap<String, FileEntry> = old_files
            .into_iter()
            .map(|entry| (entry.path.clone(), entry))
            .collect();

        // Reuse what is unchanged; parse the rest.
        let mut slots: Vec<Option<FileEntry>> = Vec::with_capacity(walked.len());
        let mut to_parse: Vec<(usize, &Walked)> = Vec::new();
        for file in &walked {
            match old.remove(&file.rel) {
                Some(entry) if entry.size == file.size && entry.mtime_ns == file.mtime_ns => {
                    slots.push(Some(entry));
                }
                _ => {
                    to_parse.push((slots.len(), file));
                    slots.push(None);
                }
            }
        }
        stats.reused = walked.len() - to_parse.len();
        stats.parsed = to_parse.len();

        // In chunks, with what is parsed so far saved now and then: a run
        // that ends before a cold build does (a short headless task) still
        // leaves the next start most of the work done. (Nothing to parse,
        // no interner: a warm start skips hashing the cached names.)
        if !to_parse.is_empty() {
            let mut interner = Interner::new(std::mem::take(&mut names));
            let mut last_save = Instant::now();
            let chunks: Vec<&[(usize, &Walked)]> = to_parse.chunks(PARSE_CHUNK).collect();
            for (number, chunk) in chunks.iter().enumerate() {
                let parsed = code::parallel_map(chunk, &CancellationToken::new(), |(_, file)| {
                    tags::parse_file(&file.abs)
                })
                .unwrap_or_default();
                for ((slot, file), tags) in chunk.iter().zip(parsed) {
                    slots[*slot] = Some(interner.entry(file, tags));
                }
                let more = number + 1 < chunks.len();
                if more
                    && last_save.elapsed() >= save_every
                    && let Some(dir) = cache_dir
                {
                    let so_far: Vec<FileEntry> = slots.iter().flatten().cloned().collect();
                    if let Err(e) = cache::store(dir, &root, &interner.names, &so_far) {
                        tracing::debug!(
                            "cannot save the repo map so far in {}: {e}",
                            dir.display()
                        );
                    }
                    last_save = Instant::now();
                }
                if killed_after == Some(number + 1) {
                    return Index::default();
                }
            }
            names = interner.names;
        }

        let changed = !to_parse.is_empty() || stats.reused != old_count;
        let files: Vec<FileEntry> = slots.into_iter().flatten().collect();
        let mut index = Index {
            names,
            files,
            stats,
            links: OnceLock::new(),
        };
        if changed {
            index.compact_names();
            if let Some(dir) = cache_dir {
                match cache::store(dir, &root, &index.names, &index.files) {
                    Ok(()) => index.stats.cache_written = true,
                    Err(e) => {
                        tracing::warn!("cannot write the repo map cache in {}: {e}", dir.display())
                    }
                }
            }
        }
        index
    }

    pub fn stats(&self) -> IndexStats {
        self.stats
    }

    /// The workspace-relative paths indexed, in order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|file| file.path.as_str())
    }

    /// The reference graph, built once.
    pub(super) fn links(&self) -> &Links {
        self.links.get_or_init(|| Links::build(self))
    }

    pub(super) fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }

    /// Renumbers the names so that only those still used remain (files
    /// that changed or went leave theirs behind in the cache's table).
    fn compact_names(&mut self) {
        let mut new_id = vec![u32::MAX; self.names.len()];
        let mut names = Vec::new();
        let mut keep = |id: &mut u32| {
            let slot = &mut new_id[*id as usize];
            if *slot == u32::MAX {
                *slot = names.len() as u32;
                names.push(std::mem::take(&mut self.names[*id as usize]));
            }
            *id = *slot;
        };
        for file in &mut self.files {
            for def in &mut file.defs {
                keep(&mut def.name);
                if def.container != NO_CONTAINER {
                    keep(&mut def.container);
                }
            }
            for (name, _) in &mut file.refs {
                keep(name);
            }
        }
        self.names = names;
    }
}

/// A walked source file.
struct Walked {
    abs: PathBuf,
    rel: String,
    size: u64,
    mtime_ns: u64,
}

/// The workspace's source files with their size and modification time.
fn walk(root: &Path) -> Vec<Walked> {
    let paths = code::source_files(root, &CancellationToken::new()).unwrap_or_default();
    paths
        .into_iter()
        .take(MAX_FILES)
        .filter_map(|abs| {
            let meta = std::fs::metadata(&abs).ok()?;
            let rel = abs.strip_prefix(root).ok()?;
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let mtime_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            Some(Walked {
                abs,
                rel,
                size: meta.len(),
                mtime_ns,
            })
        })
        .collect()
}

/// Interns names for newly parsed files, on top of the cache's table.
struct Interner {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Interner {
    fn new(names: Vec<String>) -> Interner {
        let ids = names
            .iter()
            .enumerate()
            .map(|(id, name)| (name.clone(), id as u32))
            .collect();
        Interner { names, ids }
    }

    fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    fn entry(&mut self, file: &Walked, tags: ParsedFile) -> FileEntry {
        let defs = tags
            .defs
            .iter()
            .map(|def| DefTag {
                name: self.id(&def.name),
                kind: def.kind,
                line: def.line,
                container: def
                    .container
                    .as_deref()
                    .map_or(NO_CONTAINER, |c| self.id(c)),
            })
            .collect();
        let refs = tags
            .refs
            .iter()
            .map(|(name, count)| (self.id(name), *count))
            .collect();
        FileEntry {
            path: file.rel.clone(),
            size: file.size,
            mtime_ns: file.mtime_ns,
            defs,
            refs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_cut_short_leaves_its_work_so_far_for_the_next() {
        let tree = tempfile::tempdir().expect("temp dir");
        let cache = tempfile::tempdir().expect("temp dir");
        let files = PARSE_CHUNK * 2 + 10;
        for n in 0..files {
            std::fs::write(
                tree.path().join(format!("f{n}.rs")),
                format!("pub fn f{n}() {{}}\n"),
            )
            .expect("write");
        }
        // Stopped after two chunks, saving after each but the last.
        Index::build_saving(tree.path(), Some(cache.path()), Duration::ZERO, Some(2));
        let next = Index::build(tree.path(), Some(cache.path()));
        let stats = next.stats();
        assert!(stats.cache_loaded);
        assert_eq!((stats.files, stats.reused), (files, PARSE_CHUNK * 2));
        assert_eq!(stats.parsed, 10);
        assert!(stats.cache_written);
        let warm = Index::build(tree.path(), Some(cache.path())).stats();
        assert_eq!((warm.reused, warm.parsed), (files, 0));
        assert_eq!(next.paths().count(), files);
    }
}
