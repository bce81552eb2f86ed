//! A snapshot of the workspace's files as git objects: every file the walk
//! sees (`.gitignore` honoured, `.git` skipped) becomes a blob, and the set
//! of them a tree.
//!
//! Snapshots are taken twice per mutating tool call, so they must be cheap:
//! a [`StatCache`] remembers each file's stat data and blob id, and a file
//! whose stat is unchanged is not read again. Only files that changed since
//! the last snapshot are hashed (and written to the object database, which
//! is what lets undo bring them back).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use git2::{
    Index, IndexEntry, IndexTime, ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult,
};

use super::CheckpointError;

/// Files larger than this are left out of checkpoints (and so never undone):
/// copying them into the object database on every change would cost more
/// than undo is worth.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A workspace with more files than this is not checkpointed: walking it
/// twice per tool call would slow every edit down.
pub const MAX_FILES: usize = 200_000;

/// How recent (in seconds) a file's mtime may be for its cached
/// hash to be distrusted: a change within the filesystem's timestamp
/// granularity of the hashing could otherwise leave the stat unchanged.
const RACY_SECS: i64 = 2;

/// Git's modes for what a snapshot holds.
pub const MODE_FILE: u32 = 0o100644;
pub const MODE_EXEC: u32 = 0o100755;
pub const MODE_LINK: u32 = 0o120000;

/// One file in a snapshot: its content's blob and git mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub oid: Oid,
    pub mode: u32,
}

/// The workspace's files, by path relative to the root (`/`-separated bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub files: BTreeMap<Vec<u8>, Entry>,
    /// Paths (files or directories) that could not be read or were too
    /// large: their state is unknown, so no change set may include them.
    pub unknown: Vec<Vec<u8>>,
}

impl Snapshot {
    /// Whether `path` lies at or under a path whose state is unknown.
    pub fn is_unknown(&self, path: &[u8]) -> bool {
        self.unknown.iter().any(|prefix| {
            path == prefix.as_slice()
                || (path.starts_with(prefix) && path.get(prefix.len()) == Some(&b'/'))
        })
    }
}

/// Stat data that, unchanged, means the content is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    mtime: (i64, i64),
    ctime: (i64, i64),
    size: u64,
    ino: u64,
    dev: u64,
    mode: u32,
}

impl Stat {
    fn of(meta: &fs::Metadata) -> Stat {
        Stat {
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            size: meta.size(),
            ino: meta.ino(),
            dev: meta.dev(),
            mode: meta.mode(),
        }
    }
}

/// path → (stat, blob) for files whose stat was old enough to trust when
/// they were hashed.
#[derive(Debug, Default)]
pub struct StatCache {
    entries: HashMap<Vec<u8>, (Stat, Entry)>,
    /// How many files have been read and hashed, for tests and logs.
    pub hashed: u64,
}

/// Walks the workspace at `root` and returns its snapshot, hashing (and
/// storing in `repo`) only files the cache cannot vouch for. `store` (the
/// checkpoint repository's directory) is skipped should it lie inside the
/// workspace, so checkpoints never snapshot themselves.
pub fn take(
    repo: &Repository,
    root: &Path,
    store: &Path,
    cache: &mut StatCache,
) -> Result<Snapshot, CheckpointError> {
    let store = store.to_path_buf();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut snapshot = Snapshot::default();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .ignore(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |entry| entry.file_name() != ".git" && entry.path() != store)
        .build();
    let mut seen = HashSet::new();
    for item in walker {
        let entry = match item {
            Ok(entry) => entry,
            Err(error) => {
                tracing::debug!("checkpoint walk: {error}");
                if let Some(path) = error_path(&error)
                    && let Some(rel) = relative(root, path)
                {
                    snapshot.unknown.push(rel);
                }
                continue;
            }
        };
        let Some(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            continue;
        }
        let Some(rel) = relative(root, entry.path()) else {
            continue;
        };
        if rel.is_empty() {
            continue;
        }
        if snapshot.files.len() >= MAX_FILES {
            return Err(CheckpointError::TooManyFiles(MAX_FILES));
        }
        let meta = match fs::symlink_metadata(entry.path()) {
            Ok(meta) => meta,
            Err(_) => {
                snapshot.unknown.push(rel);
                continue;
            }
        };
        let stat = Stat::of(&meta);
        if let Some((cached_stat, cached)) = cache.entries.get(&rel)
            && *cached_stat == stat
        {
            seen.insert(rel.clone());
            snapshot.files.insert(rel, *cached);
            continue;
        }
        let hashed = if kind.is_symlink() {
            fs::read_link(entry.path())
                .ok()
                .map(|target| (target.as_os_str().as_bytes().to_vec(), MODE_LINK))
        } else if kind.is_file() && meta.size() <= MAX_FILE_BYTES {
            let exec = meta.mode() & 0o111 != 0;
            fs::read(entry.path())
                .ok()
                .map(|bytes| (bytes, if exec { MODE_EXEC } else { MODE_FILE }))
        } else {
            // Sockets, FIFOs and devices are not content; oversized files
            // are left out on purpose.
            if kind.is_file() {
                snapshot.unknown.push(rel);
            }
            continue;
        };
        let Some((bytes, mode)) = hashed else {
            snapshot.unknown.push(rel);
            continue;
        };
        let oid = repo.blob(&bytes)?;
        cache.hashed += 1;
        let file = Entry { oid, mode };
        // Any later write moves the mtime past an old one, so an old mtime
        // can be trusted (the ctime cannot: setting the mtime moves it).
        if stat.mtime.0 < now - RACY_SECS {
            cache.entries.insert(rel.clone(), (stat, file));
        } else {
            cache.entries.remove(&rel);
        }
        seen.insert(rel.clone());
        snapshot.files.insert(rel, file);
    }
    // Forget files that are gone, so the cache does not grow forever.
    cache.entries.retain(|path, _| seen.contains(path));
    Ok(snapshot)
}

fn error_path(error: &ignore::Error) -> Option<&Path> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

/// `path` relative to `root` as `/`-separated bytes.
fn relative(root: &Path, path: &Path) -> Option<Vec<u8>> {
    let rel = path.strip_prefix(root).ok()?;
    let mut out = Vec::new();
    for (i, part) in rel.components().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(part.as_os_str().as_bytes());
    }
    Some(out)
}

/// Writes the snapshot's files as a tree in `repo`.
pub fn write_tree(repo: &Repository, snapshot: &Snapshot) -> Result<Oid, CheckpointError> {
    let mut index = Index::new()?;
    for (path, file) in &snapshot.files {
        index.add(&IndexEntry {
            ctime: IndexTime::new(0, 0),
            mtime: IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode: file.mode,
            uid: 0,
            gid: 0,
            file_size: 0,
            id: file.oid,
            flags: 0,
            flags_extended: 0,
            path: path.clone(),
        })?;
    }
    Ok(index.write_tree_to(repo)?)
}

/// Reads a tree written by [`write_tree`] back into a snapshot.
pub fn read_tree(repo: &Repository, tree: Oid) -> Result<Snapshot, CheckpointError> {
    let tree = repo.find_tree(tree)?;
    let mut snapshot = Snapshot::default();
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() == Some(ObjectType::Blob) {
            let mut path = dir.as_bytes().to_vec();
            path.extend_from_slice(entry.name_bytes());
            snapshot.files.insert(
                path,
                Entry {
                    oid: entry.id(),
                    mode: entry.filemode() as u32,
                },
            );
        }
        TreeWalkResult::Ok
    })?;
    Ok(snapshot)
}
