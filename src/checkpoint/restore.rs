//! Change sets and undo: what differs between two snapshots, whether the
//! workspace still holds what the agent left, and putting files back.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use git2::Repository;

use super::CheckpointError;
use super::snapshot::{Entry, MODE_EXEC, MODE_LINK, Snapshot};
use super::store::{ChangeKind, FileChange};

/// Each changed path with its state before and after (`None`: absent).
pub type Changes = BTreeMap<Vec<u8>, (Option<Entry>, Option<Entry>)>;

/// The paths whose state differs between `before` and `after`, leaving out
/// any whose state is unknown in either.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Changes {
    let mut changes = Changes::new();
    for (path, old) in &before.files {
        if after.files.get(path) != Some(old) {
            changes.insert(path.clone(), (Some(*old), after.files.get(path).copied()));
        }
    }
    for (path, new) in &after.files {
        if !before.files.contains_key(path) {
            changes.insert(path.clone(), (None, Some(*new)));
        }
    }
    changes.retain(|path, _| !before.is_unknown(path) && !after.is_unknown(path));
    changes
}

/// The change set as the listing and the model see it.
pub fn describe(changes: &Changes) -> Vec<FileChange> {
    changes
        .iter()
        .map(|(path, (old, new))| FileChange {
            path: String::from_utf8_lossy(path).into_owned(),
            change: match (old, new) {
                (None, _) => ChangeKind::Created,
                (Some(_), None) => ChangeKind::Deleted,
                (Some(a), Some(b)) if a.oid == b.oid => ChangeKind::Mode,
                _ => ChangeKind::Modified,
            },
        })
        .collect()
}

/// Puts every path of `target` back: `Some` entries written byte for byte
/// with their mode, `None` removed. Removals go first (and directories left
/// empty by them, unless `keep_dir` says the restored state has files under
/// them), so a file can replace a directory and the other way round.
pub fn apply(
    repo: &Repository,
    root: &Path,
    target: &BTreeMap<Vec<u8>, Option<Entry>>,
    restored: &Snapshot,
) -> Result<(), CheckpointError> {
    for (path, entry) in target {
        if entry.is_none() {
            let abs = inside(root, path)?;
            match fs::symlink_metadata(&abs) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => fs::remove_file(&abs).map_err(|e| io_error(path, e))?,
                Err(_) => {}
            }
            remove_empty_parents(root, &abs, restored);
        }
    }
    for (path, entry) in target {
        let Some(entry) = entry else { continue };
        let abs = inside(root, path)?;
        if let Some(parent) = abs.parent() {
            fs::create_dir_all(parent).map_err(|e| io_error(path, e))?;
        }
        let blob = repo.find_blob(entry.oid)?;
        write_entry(&abs, entry.mode, blob.content()).map_err(|e| io_error(path, e))?;
    }
    Ok(())
}

/// Writes one file or symlink. An existing regular file is rewritten in
/// place (keeping its owner, permissions and hard links) with only its
/// executable bits set from `mode`.
fn write_entry(abs: &Path, mode: u32, content: &[u8]) -> std::io::Result<()> {
    let existing = fs::symlink_metadata(abs).ok();
    if mode == MODE_LINK {
        if let Some(meta) = &existing {
            if meta.is_dir() {
                fs::remove_dir_all(abs)?;
            } else {
                fs::remove_file(abs)?;
            }
        }
        return std::os::unix::fs::symlink(OsStr::from_bytes(content), abs);
    }
    let exec = mode == MODE_EXEC;
    match existing {
        Some(meta) if meta.is_file() => {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(abs)?;
            file.write_all(content)?;
            file.sync_data()?;
            let old = meta.permissions().mode() & 0o7777;
            let new = if exec {
                old | ((old & 0o444) >> 2)
            } else {
                old & !0o111
            };
            if new != old {
                fs::set_permissions(abs, fs::Permissions::from_mode(new))?;
            }
            Ok(())
        }
        other => {
            if let Some(meta) = other {
                if meta.is_dir() {
                    fs::remove_dir_all(abs)?;
                } else {
                    fs::remove_file(abs)?;
                }
            }
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(if exec { 0o777 } else { 0o666 })
                .open(abs)?;
            file.write_all(content)?;
            file.sync_data()
        }
    }
}

/// Removes directories above `abs` that are now empty and hold no file of
/// the restored state, up to (not including) the root.
fn remove_empty_parents(root: &Path, abs: &Path, restored: &Snapshot) {
    let mut dir = abs.parent();
    while let Some(current) = dir {
        if current == root || !current.starts_with(root) {
            break;
        }
        let Some(rel) = current.strip_prefix(root).ok() else {
            break;
        };
        let mut prefix = rel.as_os_str().as_bytes().to_vec();
        prefix.push(b'/');
        let needed = restored
            .files
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(path, _)| path.starts_with(&prefix));
        if needed || fs::remove_dir(current).is_err() {
            break;
        }
        dir = current.parent();
    }
}

/// The absolute path of `rel`, refusing one that would leave the root
/// through `..` or through a symlinked directory (which the user or a
/// command may have put there since).
fn inside(root: &Path, rel: &[u8]) -> Result<PathBuf, CheckpointError> {
    let rel_path = Path::new(OsStr::from_bytes(rel));
    let mut abs = root.to_path_buf();
    let components: Vec<_> = rel_path.components().collect();
    for (i, component) in components.iter().enumerate() {
        match component {
            std::path::Component::Normal(part) => abs.push(part),
            _ => return Err(CheckpointError::Unsafe(display(rel))),
        }
        let last = i + 1 == components.len();
        if !last
            && let Ok(meta) = fs::symlink_metadata(&abs)
            && meta.file_type().is_symlink()
        {
            return Err(CheckpointError::Unsafe(display(rel)));
        }
    }
    Ok(abs)
}

fn io_error(path: &[u8], error: std::io::Error) -> CheckpointError {
    CheckpointError::Restore {
        path: display(path),
        reason: error.to_string(),
    }
}

/// A path for messages.
pub fn display(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}
