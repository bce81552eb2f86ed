//! `--apply never --patch-out FILE`: a headless run in a scratch copy of
//! the workspace, handed back as a patch instead of applied.
//!
//! The scratch tree is a fresh repository in glint's cache directory (never
//! inside the user's tree), holding the user's current files (HEAD plus
//! their uncommitted and untracked, not ignored, files) and sharing their
//! history read-only (see [`copy`]), so the agent can build, test and use
//! git there as at home. After the run the difference between that
//! starting point and the scratch tree becomes the patch ([`patch`]); it
//! applies with `git apply` to the user's tree as it was.
//!
//! Why a copy and not `git worktree add`: a linked worktree registers
//! itself in the user's `.git/worktrees/` and needs a branch or a detached
//! HEAD there, and everything the agent does in it (objects, checkpoint
//! refs, commits, a stash) lands in the user's repository. A separate
//! repository with alternates writes nothing outside the scratch directory,
//! so the user's tree, index, refs and stash stay byte-identical.
//!
//! The scratch directory is removed when the [`Scratch`] is dropped (also
//! on errors and panics), by [`remove_live`] when glint exits at once on a
//! second Ctrl-C, and, should glint have been killed, by the next run,
//! which sweeps directories whose process is gone.

mod copy;
mod files;
mod patch;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use git2::{ErrorCode, Oid, Repository};

pub use patch::Patch;

/// `--apply`: whether a headless run's edits land in the workspace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ApplyMode {
    /// Edit the workspace itself.
    #[default]
    Always,
    /// Work in a scratch copy and write the changes as a patch
    /// (`--patch-out FILE`); the workspace is not touched.
    Never,
}

/// Why a scratch run could not be set up or its patch made. Each message
/// is one line saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error(
        "--apply never needs a git repository (the patch is made against it); run `git init` in {} first, or use --apply always",
        .0.display()
    )]
    NotARepository(PathBuf),
    #[error(
        "--apply never needs a repository with a working tree; run glint in a checkout, not a bare repository"
    )]
    Bare,
    #[error(
        "no directory for the scratch tree outside the workspace; set XDG_CACHE_HOME or TMPDIR to one"
    )]
    NoPlace,
    #[error("scratch tree: {0}; check `git status` in the workspace works")]
    Git(#[from] git2::Error),
    #[error("scratch tree: {}: {reason}", path.display())]
    Io { path: PathBuf, reason: String },
}

impl ScratchError {
    fn io(path: &Path, error: std::io::Error) -> Self {
        ScratchError::Io {
            path: path.to_path_buf(),
            reason: error.to_string(),
        }
    }
}

/// Scratch directories in use by this process, for [`remove_live`].
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes every scratch tree of this process now: for an exit that skips
/// destructors (`std::process::exit` on a second Ctrl-C).
pub fn remove_live() {
    let dirs = match LIVE.lock() {
        Ok(mut live) => std::mem::take(&mut *live),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    for dir in dirs {
        remove_tree(&dir);
    }
}

/// A scratch copy of a workspace's repository, removed on drop.
#[derive(Debug)]
pub struct Scratch {
    /// Held for its drop, which removes the whole scratch tree.
    _dir: Dir,
    /// The scratch repository's top (inside `dir`).
    top: PathBuf,
    /// The workspace inside it: the user's workspace's place in their repo.
    workspace: PathBuf,
    /// The tree of the scratch's starting point (the user's current state).
    base: Oid,
}

impl Scratch {
    /// Copies the repository that holds `workspace` (a canonical directory)
    /// into a new scratch tree, as it is now.
    pub fn create(workspace: &Path) -> Result<Scratch, ScratchError> {
        let user = match Repository::discover(workspace) {
            Ok(repo) => repo,
            Err(error) if error.code() == ErrorCode::NotFound => {
                return Err(ScratchError::NotARepository(workspace.to_path_buf()));
            }
            Err(error) => return Err(error.into()),
        };
        let user_top = user.workdir().ok_or(ScratchError::Bare)?;
        let user_top = fs::canonicalize(user_top).map_err(|e| ScratchError::io(user_top, e))?;
        let sub = workspace
            .strip_prefix(&user_top)
            .map_err(|_| ScratchError::NotARepository(workspace.to_path_buf()))?
            .to_path_buf();
        let base_dir = place(&user_top)?;
        sweep_stale(&base_dir);
        // From here on, returning early (or unwinding) removes the directory.
        let dir = Dir::new(&base_dir)?;
        let top = dir.0.join("repo");
        let repo = copy::populate(&user, &top)?;
        let base = patch::working_tree(&repo)?;
        let workspace = top.join(&sub);
        fs::create_dir_all(&workspace).map_err(|e| ScratchError::io(&workspace, e))?;
        Ok(Scratch {
            _dir: dir,
            top,
            workspace,
            base,
        })
    }

    /// Where the agent works: the scratch counterpart of the workspace.
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }

    /// What the agent changed since the scratch tree was made, as a patch
    /// relative to the repository's top.
    pub fn patch(&self) -> Result<Patch, ScratchError> {
        let repo = Repository::open(&self.top)?;
        let head = patch::working_tree(&repo)?;
        patch::between(&repo, self.base, head)
    }

    /// Writes [`Scratch::patch`] to `out` (an empty file when nothing
    /// changed) and returns it.
    pub fn write_patch(&self, out: &Path) -> Result<Patch, ScratchError> {
        let patch = self.patch()?;
        fs::write(out, &patch.text).map_err(|e| ScratchError::io(out, e))?;
        Ok(patch)
    }
}

/// A scratch directory, `<base>/<pid>-<random>`: known to [`remove_live`]
/// while it exists, removed on drop.
#[derive(Debug)]
struct Dir(PathBuf);

impl Dir {
    fn new(base: &Path) -> Result<Dir, ScratchError> {
        let path = tempfile::Builder::new()
            .prefix(&format!("{}-", std::process::id()))
            .tempdir_in(base)
            .map_err(|e| ScratchError::io(base, e))?
            .keep();
        if let Ok(mut live) = LIVE.lock() {
            live.push(path.clone());
        }
        Ok(Dir(path))
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|dir| dir != &self.0);
        }
        remove_tree(&self.0);
    }
}

/// The directory scratch trees go in: glint's cache directory, else the
/// temporary directory; whichever does not lie inside the user's tree.
fn place(user_top: &Path) -> Result<PathBuf, ScratchError> {
    let candidates = [
        dirs::cache_dir().map(|dir| dir.join("glint/scratch")),
        Some(std::env::temp_dir().join(format!("glint-scratch-{}", user_id()))),
    ];
    for dir in candidates.into_iter().flatten() {
        if fs::create_dir_all(&dir).is_err() {
            continue;
        }
        let Ok(dir) = fs::canonicalize(&dir) else {
            continue;
        };
        if !dir.starts_with(user_top) {
            return Ok(dir);
        }
    }
    Err(ScratchError::NoPlace)
}

/// The user's id, so users sharing a temporary directory do not share
/// scratch directories.
fn user_id() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// Removes scratch directories in `base` left by glint processes that no
/// longer run (killed before they could clean up).
fn sweep_stale(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        if !crate::pids::is_running(pid) {
            remove_tree(&entry.path());
        }
    }
}

/// Removes `dir` and everything in it, making read-only directories (which
/// a build or the agent may have left) writable first when needed. Failure
/// is reported, not fatal: the run's result stands.
fn remove_tree(dir: &Path) {
    if fs::remove_dir_all(dir).is_ok() || !dir.exists() {
        return;
    }
    make_writable(dir);
    if let Err(error) = fs::remove_dir_all(dir) {
        eprintln!(
            "glint: warning: cannot remove the scratch tree {} ({error}); delete it by hand",
            dir.display()
        );
    }
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            make_writable(&entry.path());
        }
    }
}
