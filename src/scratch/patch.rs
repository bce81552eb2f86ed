//! The patch of what the agent changed in a scratch tree: the difference
//! between two snapshots of its working files, printed the way `git diff
//! --binary --full-index` prints it, so `git apply` takes it as is (new,
//! deleted and binary files, mode changes, missing final newlines).
//!
//! Snapshots store each file's bytes as they are on disk (no clean filters
//! or line-ending conversion), the same bytes the scratch copy started
//! from, so the patch is exactly the change to the working files.

use std::fs;
use std::os::unix::ffi::OsStrExt;

use git2::{Diff, DiffFormat, DiffOptions, Index, IndexEntry, IndexTime, Oid, Repository};

use super::ScratchError;
use super::files::{self, Found, Tree};

const MODE_FILE: u32 = 0o100644;
const MODE_EXEC: u32 = 0o100755;
const MODE_LINK: u32 = 0o120000;

/// The tree of the repository's working files now (see [`files`]), its
/// blobs written to the repository's object database. The index on disk is
/// not touched.
pub fn working_tree(repo: &Repository) -> Result<Oid, ScratchError> {
    let workdir = repo.workdir().ok_or(ScratchError::Bare)?;
    let top = fs::canonicalize(workdir).map_err(|e| ScratchError::io(workdir, e))?;
    let listing = files::list(repo)?;
    let mut tree = Tree::new(&top);
    let mut index = Index::new()?;
    for path in listing.paths {
        let Some(abs) = tree.path(&path) else {
            continue;
        };
        let (id, mode) = match tree.find(&abs)? {
            Found::File { exec } => {
                let bytes = fs::read(&abs).map_err(|e| ScratchError::io(&abs, e))?;
                (repo.blob(&bytes)?, if exec { MODE_EXEC } else { MODE_FILE })
            }
            Found::Link(target) => (repo.blob(target.as_os_str().as_bytes())?, MODE_LINK),
            Found::Nothing => continue,
        };
        index.add(&entry(path, id, mode))?;
    }
    // Submodules stay at the commit the index records: their working trees
    // are not part of the copy.
    for submodule in listing.submodules {
        index.add(&entry(submodule.path, submodule.id, files::MODE_GITLINK))?;
    }
    Ok(index.write_tree_to(repo)?)
}

fn entry(path: Vec<u8>, id: Oid, mode: u32) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: 0,
        id,
        flags: 0,
        flags_extended: 0,
        path,
    }
}

/// A patch and how many files it touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub files: usize,
    pub text: Vec<u8>,
}

/// The changes from tree `base` to tree `head` as a git patch; empty when
/// they are the same.
pub fn between(repo: &Repository, base: Oid, head: Oid) -> Result<Patch, ScratchError> {
    let base = repo.find_tree(base)?;
    let head = repo.find_tree(head)?;
    let mut options = DiffOptions::new();
    // Binary files travel as `GIT binary patch` data, which `git apply`
    // only accepts with full object ids on the `index` line.
    options.show_binary(true).id_abbrev(40);
    let diff = repo.diff_tree_to_tree(Some(&base), Some(&head), Some(&mut options))?;
    Ok(Patch {
        files: diff.deltas().len(),
        text: print(&diff)?,
    })
}

fn print(diff: &Diff<'_>) -> Result<Vec<u8>, ScratchError> {
    let mut text = Vec::new();
    diff.print(DiffFormat::Patch, |_delta, _hunk, line| {
        // Content lines come without their `+`, `-` or ` ` marker; headers,
        // binary data and "No newline" notes come whole.
        if let origin @ ('+' | '-' | ' ') = line.origin() {
            text.push(origin as u8);
        }
        text.extend_from_slice(line.content());
        true
    })?;
    Ok(text)
}
