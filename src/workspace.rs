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

use std::fs::{self, File};
use std::io::{self, Read};
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

    #[error(
        "`{path}` is not a regular file ({kind}); glint reads only regular files, so use another path"
    )]
    NotRegularFile { path: String, kind: &'static str },
}

/// The start of a text file read by [`Workspace::read_text_capped`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CappedText {
    /// The file's first bytes (at most the cap, cut back to a whole UTF-8
    /// character), decoded with invalid sequences replaced.
    pub text: String,
    /// Whether the file is longer than the cap, so `text` is only its start.
    pub truncated: bool,
    /// The file's size when it was opened.
    pub total_bytes: u64,
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

    /// Reads a file glint itself uses from the workspace (AGENTS.md, the
    /// project's config), at most `cap` bytes of it.
    ///
    /// `rel` goes through the same confinement as the file tools
    /// ([`Workspace::resolve_existing`]): symlinks are resolved and the file
    /// they lead to must lie inside the workspace, else the error is
    /// [`WorkspaceError::SymlinkOutside`] and nothing outside is opened.
    /// Only regular files are read: the file is opened non-blocking and
    /// without following a final symlink, and the opened descriptor is
    /// checked, so a FIFO never blocks and a device is never read. At most
    /// `cap + 1` bytes are read whatever the file's size. `None` when
    /// nothing exists at `rel`.
    pub fn read_text_capped(
        &self,
        rel: &str,
        cap: usize,
    ) -> Result<Option<CappedText>, WorkspaceError> {
        let path = match self.resolve_existing(rel) {
            Ok(path) => path,
            Err(WorkspaceError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let shown = self.display(&path);
        let (file, meta) = open_regular(&path).map_err(|e| e.into_workspace_error(&shown))?;
        let mut bytes = Vec::with_capacity(cap.min(64 * 1024) + 1);
        file.take(cap as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(&shown, &e))?;
        let truncated = bytes.len() > cap;
        if truncated {
            bytes.truncate(cap);
            // Do not leave half a character at the cut.
            if let Err(e) = std::str::from_utf8(&bytes)
                && e.error_len().is_none()
            {
                bytes.truncate(e.valid_up_to());
            }
        }
        Ok(Some(CappedText {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            truncated,
            total_bytes: meta.len().max(bytes.len() as u64),
        }))
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

/// Why [`open_regular`] refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("it is not a regular file ({kind})")]
    NotRegular { kind: &'static str },
}

impl OpenError {
    /// The error as a [`WorkspaceError`] about `shown`.
    pub fn into_workspace_error(self, shown: &str) -> WorkspaceError {
        match self {
            OpenError::Io(e) => io_error(shown, &e),
            OpenError::NotRegular { kind } => WorkspaceError::NotRegularFile {
                path: shown.to_string(),
                kind,
            },
        }
    }
}

/// Opens an already resolved path for reading, only if it is a regular
/// file: non-blocking (a FIFO's open never waits for a writer) and without
/// following a final symlink, then checked on the opened descriptor, so
/// what was checked is what is read even if the path changed meanwhile.
pub fn open_regular(path: &Path) -> Result<(File, fs::Metadata), OpenError> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    let file = options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            OpenError::NotRegular { kind: "a symlink" }
        } else {
            OpenError::Io(e)
        }
    })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(OpenError::NotRegular {
            kind: file_kind(&meta.file_type()),
        });
    }
    #[cfg(unix)]
    clear_nonblocking(&file)?;
    Ok((file, meta))
}

/// Reads of a regular file never block, but clear the flag anyway so the
/// descriptor behaves like any other file for whoever uses it next.
#[cfg(unix)]
fn clear_nonblocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A word for what a non-regular file is, for error messages.
pub fn file_kind(kind: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symlink"
    } else if kind.is_file() {
        "a regular file"
    } else {
        "a special file"
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
