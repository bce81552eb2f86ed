//! The repo map's on-disk cache: every file's tags, keyed by path, size and
//! modification time, in one file per workspace under the user's cache
//! directory, so a warm start parses only what changed.
//!
//! The format is a small binary one (length-prefixed strings, little-endian
//! integers, identifiers interned once): a large tree's cache is read in a
//! few milliseconds, where JSON would take most of the warm start's budget.
//! Anything unexpected in it (another version, a truncated write, a bad
//! index) makes it a miss, never an error: the map is then rebuilt.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::index::{DefTag, FileEntry, NO_CONTAINER};
use crate::tools::code::KINDS;

const MAGIC: &[u8; 8] = b"GLINTMAP";
/// Bumped whenever what a file's tags hold changes (the extraction, the
/// format), so an old cache is never read as a new one.
const VERSION: u32 = 2;
/// Cache files kept at most (one per workspace); the least recently
/// written go first.
const MAX_CACHE_FILES: usize = 32;

/// What a cache file holds: the interned names and every file's entry.
pub(super) struct Cached {
    pub names: Vec<String>,
    pub files: Vec<FileEntry>,
}

/// `DIR/HASH.bin` for the workspace at `root` (canonical).
pub(super) fn path_for(dir: &Path, root: &Path) -> PathBuf {
    dir.join(format!(
        "{:016x}.bin",
        fnv1a(root.as_os_str().as_encoded_bytes())
    ))
}

/// The cache of `root` in `dir`, if there is a usable one.
pub(super) fn load(dir: &Path, root: &Path) -> Option<Cached> {
    let bytes = std::fs::read(path_for(dir, root)).ok()?;
    let cached = decode(&bytes, root);
    if cached.is_none() {
        tracing::debug!(
            "repo map cache for {} is unusable; rebuilding",
            root.display()
        );
    }
    cached
}

/// Writes the cache of `root` into `dir` (atomically: a reader sees the
/// old file or the new one) and drops the oldest caches beyond
/// [`MAX_CACHE_FILES`].
pub(super) fn store(
    dir: &Path,
    root: &Path,
    names: &[String],
    files: &[FileEntry],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(&encode(root, names, files))?;
    file.persist(path_for(dir, root)).map_err(|e| e.error)?;
    prune(dir);
    Ok(())
}

fn encode(root: &Path, names: &[String], files: &[FileEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, VERSION);
    put_str(&mut out, &root.to_string_lossy());
    put_u32(&mut out, names.len() as u32);
    for name in names {
        put_str(&mut out, name);
    }
    put_u32(&mut out, files.len() as u32);
    for file in files {
        put_str(&mut out, &file.path);
        out.extend_from_slice(&file.size.to_le_bytes());
        out.extend_from_slice(&file.mtime_ns.to_le_bytes());
        put_u32(&mut out, file.defs.len() as u32);
        for def in &file.defs {
            put_u32(&mut out, def.name);
            out.push(def.kind);
            put_u32(&mut out, def.line);
            put_u32(&mut out, def.container);
        }
        put_u32(&mut out, file.refs.len() as u32);
        for (name, count) in &file.refs {
            put_u32(&mut out, *name);
            put_u32(&mut out, *count);
        }
    }
    out
}

fn decode(bytes: &[u8], root: &Path) -> Option<Cached> {
    let mut r = Reader { bytes, pos: 0 };
    if r.take(MAGIC.len())? != MAGIC || r.u32()? != VERSION {
        return None;
    }
    if r.str()? != root.to_string_lossy() {
        return None;
    }
    let name_count = r.u32()?;
    let mut names = Vec::with_capacity(r.capacity(name_count, 4));
    for _ in 0..name_count {
        names.push(r.str()?.to_string());
    }
    let known = |id: u32| (id as usize) < names.len();
    let file_count = r.u32()?;
    let mut files = Vec::with_capacity(r.capacity(file_count, 28));
    for _ in 0..file_count {
        let path = r.str()?.to_string();
        let size = r.u64()?;
        let mtime_ns = r.u64()?;
        let def_count = r.u32()?;
        let mut defs = Vec::with_capacity(r.capacity(def_count, 13));
        for _ in 0..def_count {
            let def = DefTag {
                name: r.u32()?,
                kind: r.u8()?,
                line: r.u32()?,
                container: r.u32()?,
            };
            let container_ok = def.container == NO_CONTAINER || known(def.container);
            if !known(def.name) || usize::from(def.kind) >= KINDS.len() || !container_ok {
                return None;
            }
            defs.push(def);
        }
        let ref_count = r.u32()?;
        let mut refs = Vec::with_capacity(r.capacity(ref_count, 8));
        for _ in 0..ref_count {
            let name = r.u32()?;
            let count = r.u32()?;
            if !known(name) {
                return None;
            }
            refs.push((name, count));
        }
        files.push(FileEntry {
            path,
            size,
            mtime_ns,
            defs,
            refs,
        });
    }
    (r.pos == bytes.len()).then_some(Cached { names, files })
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u32(out, text.len() as u32);
    out.extend_from_slice(text.as_bytes());
}

/// Reads the format back, every read bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let slice = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }

    /// A capacity for `count` items of at least `min_bytes` each, never
    /// more than the bytes left could hold (a corrupt count must not
    /// allocate gigabytes).
    fn capacity(&self, count: u32, min_bytes: usize) -> usize {
        (count as usize).min((self.bytes.len() - self.pos) / min_bytes)
    }
}

/// Removes all but the [`MAX_CACHE_FILES`] most recently written caches.
fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut caches: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "bin"))
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .collect();
    if caches.len() <= MAX_CACHE_FILES {
        return;
    }
    caches.sort();
    for (_, path) in &caches[..caches.len() - MAX_CACHE_FILES] {
        let _ = std::fs::remove_file(path);
    }
}

/// FNV-1a: a stable hash of the workspace path for the cache's file name
/// (std's hasher may change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
