//! Which files of a repository's working tree make up its current state,
//! and reading them safely.
//!
//! "Current state" is what `git add --all` would record: every path in the
//! index as it is on disk now (gone if deleted), plus every untracked file
//! that is not ignored. Tracked files stay in even when a `.gitignore`
//! pattern matches them, as in git. Both the copy into the scratch tree and
//! the snapshots the patch is made from use this one definition, so the
//! patch holds exactly what the agent changed.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use git2::{IndexEntry, Repository, Status, StatusOptions};

use super::ScratchError;

/// Git's mode for a submodule (a commit inside the tree).
pub const MODE_GITLINK: u32 = 0o160000;

/// The paths that make up a working tree's current state.
pub struct Listing {
    /// Files and symlinks (`/`-separated, relative to the top). Some may be
    /// missing on disk: deleted in the working tree.
    pub paths: BTreeSet<Vec<u8>>,
    /// Submodules, from the index: their contents belong to another
    /// repository and are never read.
    pub submodules: Vec<IndexEntry>,
}

/// Lists the working tree of `repo` (read only: nothing is written to the
/// repository, not even a refreshed index).
pub fn list(repo: &Repository) -> Result<Listing, ScratchError> {
    let mut paths = BTreeSet::new();
    let mut submodules = Vec::new();
    for entry in repo.index()?.iter() {
        if entry.mode == MODE_GITLINK {
            submodules.push(entry);
        } else {
            paths.insert(entry.path);
        }
    }
    let mut options = StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true);
    for status in repo.statuses(Some(&mut options))?.iter() {
        if status.status().contains(Status::WT_NEW) {
            paths.insert(status.path_bytes().to_vec());
        }
    }
    Ok(Listing { paths, submodules })
}

/// What a listed path is on disk.
pub enum Found {
    File {
        exec: bool,
    },
    Link(PathBuf),
    /// Deleted, a directory (a nested repository), a special file, or
    /// reached through a symlink out of the tree: not content.
    Nothing,
}

/// A working tree's files, read without following a directory that has
/// become a symlink out of the tree since git recorded a path under it.
pub struct Tree {
    top: PathBuf,
    /// Directories checked to lie inside `top`, and the verdict.
    inside: HashMap<PathBuf, bool>,
}

impl Tree {
    /// `top` must be canonical.
    pub fn new(top: &Path) -> Tree {
        Tree {
            top: top.to_path_buf(),
            inside: HashMap::new(),
        }
    }

    /// The absolute path of listed path `path`, or `None` for one that
    /// could step outside the tree or into a `.git` directory.
    pub fn path(&self, path: &[u8]) -> Option<PathBuf> {
        relative_path(path).map(|rel| self.top.join(rel))
    }

    /// What `path` (absolute, from [`Tree::path`]) is on disk.
    pub fn find(&mut self, path: &Path) -> Result<Found, ScratchError> {
        let Some(parent) = path.parent() else {
            return Ok(Found::Nothing);
        };
        if !self.is_inside(parent) {
            return Ok(Found::Nothing);
        }
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Found::Nothing);
            }
            Err(error) => return Err(ScratchError::io(path, error)),
        };
        Ok(if meta.file_type().is_symlink() {
            Found::Link(fs::read_link(path).map_err(|e| ScratchError::io(path, e))?)
        } else if meta.is_file() {
            Found::File {
                exec: meta.permissions().mode() & 0o111 != 0,
            }
        } else {
            Found::Nothing
        })
    }

    fn is_inside(&mut self, dir: &Path) -> bool {
        if let Some(&verdict) = self.inside.get(dir) {
            return verdict;
        }
        let verdict = fs::canonicalize(dir)
            .map(|real| real.starts_with(&self.top))
            .unwrap_or(false);
        self.inside.insert(dir.to_path_buf(), verdict);
        verdict
    }
}

/// A git path (`/`-separated bytes) as a relative path, or `None` for one
/// that could step outside the tree or into a `.git` directory.
pub fn relative_path(path: &[u8]) -> Option<PathBuf> {
    let rel = Path::new(OsStr::from_bytes(path.strip_suffix(b"/").unwrap_or(path)));
    let mut parts = 0;
    for component in rel.components() {
        match component {
            Component::Normal(name) if !name.eq_ignore_ascii_case(".git") => parts += 1,
            _ => return None,
        }
    }
    (parts > 0).then(|| rel.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_paths_that_could_escape_are_refused() {
        assert_eq!(relative_path(b"a/b.txt"), Some(PathBuf::from("a/b.txt")));
        assert_eq!(relative_path(b"dir/"), Some(PathBuf::from("dir")));
        assert_eq!(relative_path(b"../x"), None);
        assert_eq!(relative_path(b"/etc/passwd"), None);
        assert_eq!(relative_path(b"a/.git/config"), None);
        assert_eq!(relative_path(b"a/.GIT/hooks/x"), None);
        assert_eq!(relative_path(b""), None);
    }

    #[test]
    fn a_directory_swapped_for_a_symlink_out_of_the_tree_is_not_followed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let base = fs::canonicalize(dir.path()).expect("canonical");
        let top = base.join("top");
        fs::create_dir_all(top.join("real")).expect("mkdir");
        fs::write(top.join("real/f"), "inside").expect("write");
        fs::create_dir(base.join("outside")).expect("mkdir");
        fs::write(base.join("outside/f"), "secret").expect("write");
        std::os::unix::fs::symlink(base.join("outside"), top.join("moved")).expect("symlink");
        let mut tree = Tree::new(&top);
        let inside = tree.path(b"real/f").expect("path");
        assert!(matches!(
            tree.find(&inside),
            Ok(Found::File { exec: false })
        ));
        let outside = tree.path(b"moved/f").expect("path");
        assert!(matches!(tree.find(&outside), Ok(Found::Nothing)));
        let link = tree.path(b"moved").expect("path");
        assert!(matches!(tree.find(&link), Ok(Found::Link(_))));
    }
}
