//! The workspace root and path confinement.
//!
//! Every path the model gives a tool goes through [`Workspace`] before the
//! filesystem is touched, so that a tool can never read or write outside the
//! directory the user started glint in. The check is done on canonical paths
//! (symlinks resolved), because a purely lexical check is defeated by a
//! symlink inside the workspace that points outside it.
//!
//! The checks are made before the tool acts, so a concurrent process that
//! swaps a directory for a symlink between the check and the use could still
//! redirect it; glint guards against a confused model, not a hostile local
//! process.
//!
//! Error messages are shown to the model verbatim: each is one line and says
//! what to do instead.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The directory the agent works in, stored canonical so that every check is
/// a simple prefix test on canonical paths.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

/// Why a path was refused. The `Display` text is what the model sees.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("cannot use {path} as the workspace root: {reason}")]
    InvalidRoot { path: PathBuf, reason: String },

    #[error(
        "the path is empty; give a path relative to the workspace root {root}, such as `src/main.rs`, or `.` for the root itself"
    )]
    EmptyPath { root: PathBuf },

    #[error("path `{path}` is outside the workspace {root}; use a path inside it")]
    Outside { path: String, root: PathBuf },

    #[error(
        "path `{path}` goes through a symlink to {target}, which is outside the workspace {root}; use a path inside it"
    )]
    SymlinkOutside {
        path: String,
        target: PathBuf,
        root: PathBuf,
    },

    #[error("`{path}` does not exist; check the path, or call list_dir to see what is there")]
    NotFound { path: String },

    #[error("`{path}` is a symlink whose target does not exist; use another path")]
    BrokenSymlink { path: String },

    #[error(
        "`{parent}` is a file, not a directory, so `{path}` cannot exist under it; use another path"
    )]
    NotADirectory { path: String, parent: String },

    #[error(
        "path `{path}` has `..` after a directory that does not exist yet; write the path without `..`"
    )]
    DotDotInNewPath { path: String },

    #[error("cannot access `{path}`: {reason}")]
    Io { path: String, reason: String },
}

impl Workspace {
    /// Opens `root` as the workspace. The root is canonicalised once here so
    /// that later checks compare like with like (e.g. `/tmp` vs
    /// `/private/tmp` on macOS).
    pub fn new(root: impl AsRef<Path>) -> Result<Self, WorkspaceError> {
        let given = root.as_ref();
        let invalid = |reason: String| WorkspaceError::InvalidRoot {
            path: given.to_path_buf(),
            reason,
        };
        let root = fs::canonicalize(given).map_err(|e| invalid(e.to_string()))?;
        let meta = fs::metadata(&root).map_err(|e| invalid(e.to_string()))?;
        if !meta.is_dir() {
            return Err(invalid("it is not a directory".into()));
        }
        Ok(Workspace { root })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a model-given path (relative to the root, or absolute) for
    /// reading. The path must exist; the result is canonical (symlinks
    /// resolved) and lies inside the root.
    pub fn resolve_existing(&self, path: &str) -> Result<PathBuf, WorkspaceError> {
        let resolved = self.resolve(path)?;
        if let Some(first) = resolved.tail.first() {
            return Err(self.missing_error(path, &resolved, first));
        }
        Ok(resolved.ancestor)
    }

    /// Resolves a model-given path for writing a file that may not exist yet.
    ///
    /// The path is normalised lexically (`.` and `..` removed), then the
    /// deepest existing ancestor is canonicalised, so that a symlinked parent
    /// directory pointing outside is caught before anything is created
    /// through it. The part that does not exist yet must be plain names. If
    /// the target exists and is a symlink, its target is returned (and
    /// checked), so writing replaces the file the link points to, not the
    /// link.
    pub fn resolve_for_write(&self, path: &str) -> Result<PathBuf, WorkspaceError> {
        let resolved = self.resolve(path)?;
        let Some(first) = resolved.tail.first() else {
            return Ok(resolved.ancestor);
        };
        // Something that exists (per lstat) where canonicalize stopped is a
        // broken symlink; writing through it would create its target,
        // wherever that is.
        let first_path = resolved.ancestor.join(first);
        if fs::symlink_metadata(&first_path).is_ok() {
            return Err(self.missing_error(path, &resolved, first));
        }
        if !resolved.ancestor.is_dir() {
            return Err(WorkspaceError::NotADirectory {
                path: path.to_string(),
                parent: self.display(&resolved.ancestor),
            });
        }
        let mut out = resolved.ancestor;
        for part in &resolved.tail {
            out.push(part);
        }
        Ok(out)
    }

    /// A path relative to the root for display (`.` for the root itself);
    /// paths outside the root are shown in full.
    pub fn display(&self, abs: &Path) -> String {
        match abs.strip_prefix(&self.root) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => abs.to_string_lossy().into_owned(),
        }
    }

    /// Shared resolution: normalise, find the deepest existing ancestor,
    /// canonicalise it and check it lies inside the root.
    fn resolve(&self, path: &str) -> Result<Resolved, WorkspaceError> {
        if path.is_empty() {
            return Err(WorkspaceError::EmptyPath {
                root: self.root.clone(),
            });
        }
        let joined = self.root.join(path);
        let normalized = normalize(&joined);
        let lexically_inside = normalized.starts_with(&self.root);

        // Walk up from the full path until something canonicalises.
        let mut tail: Vec<std::ffi::OsString> = Vec::new();
        let mut current = normalized.as_path();
        let ancestor = loop {
            match fs::canonicalize(current) {
                Ok(canonical) => break canonical,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    match (current.parent(), current.file_name()) {
                        (Some(parent), Some(name)) => {
                            tail.push(name.to_os_string());
                            current = parent;
                        }
                        // Only the filesystem root has no parent, and it
                        // always exists; treat failure as an I/O error.
                        _ => return Err(io_error(path, &e)),
                    }
                }
                Err(e) => {
                    // Permission denied and the like: refuse outside paths
                    // without saying more about them.
                    if !lexically_inside {
                        return Err(self.outside(path));
                    }
                    return Err(io_error(path, &e));
                }
            }
        };
        tail.reverse();

        if !ancestor.starts_with(&self.root) {
            if lexically_inside {
                return Err(WorkspaceError::SymlinkOutside {
                    path: path.to_string(),
                    target: ancestor,
                    root: self.root.clone(),
                });
            }
            return Err(self.outside(path));
        }
        // `normalize` leaves no `..` or `.` behind, but keep the invariant
        // explicit: the non-existing tail is made of plain names only.
        if tail.iter().any(|part| {
            !matches!(
                Path::new(part).components().next(),
                Some(Component::Normal(_))
            )
        }) {
            return Err(WorkspaceError::DotDotInNewPath {
                path: path.to_string(),
            });
        }
        Ok(Resolved { ancestor, tail })
    }

    fn outside(&self, path: &str) -> WorkspaceError {
        WorkspaceError::Outside {
            path: path.to_string(),
            root: self.root.clone(),
        }
    }

    /// The error for a path whose component `first` (directly under the
    /// deepest existing ancestor) could not be resolved.
    fn missing_error(
        &self,
        path: &str,
        resolved: &Resolved,
        first: &std::ffi::OsStr,
    ) -> WorkspaceError {
        let first_path = resolved.ancestor.join(first);
        match fs::symlink_metadata(&first_path) {
            Ok(meta) if meta.file_type().is_symlink() => WorkspaceError::BrokenSymlink {
                path: self.display(&first_path),
            },
            Ok(_) => WorkspaceError::Io {
                path: path.to_string(),
                reason: "it exists but cannot be resolved".into(),
            },
            Err(_) if !resolved.ancestor.is_dir() => WorkspaceError::NotADirectory {
                path: path.to_string(),
                parent: self.display(&resolved.ancestor),
            },
            Err(_) => WorkspaceError::NotFound {
                path: path.to_string(),
            },
        }
    }
}

/// A path split into its deepest existing ancestor (canonical, inside the
/// root) and the names below it that do not exist yet.
struct Resolved {
    ancestor: PathBuf,
    tail: Vec<std::ffi::OsString>,
}

fn io_error(path: &str, e: &io::Error) -> WorkspaceError {
    WorkspaceError::Io {
        path: path.to_string(),
        reason: e.to_string(),
    }
}

/// Removes `.` components and folds `..` into the preceding name, without
/// touching the filesystem. `..` at the filesystem root stays at the root,
/// as the OS does.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                // `pop` refuses to remove the root (or a prefix), which is
                // exactly the OS behaviour of `/..`.
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
