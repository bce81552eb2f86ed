//! Filling a scratch tree with the user's current state (see [`files`]) and
//! making it a repository that looks like theirs: same HEAD commit and
//! branch name, same index, so `git status`, `git diff` and `git log` there
//! show what they would show at home.
//!
//! Everything here only *reads* the user's repository. The scratch
//! repository borrows the user's objects through `objects/info/alternates`
//! (what `git clone --shared` does) instead of copying them, so a large
//! history costs nothing, and every object it makes (the base snapshot,
//! checkpoints, the agent's own commits) is written to the scratch's object
//! database, never the user's.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use git2::{IndexEntry, IndexTime, Repository};

use super::ScratchError;
use super::files::{self, Found, Tree};

/// The index flag bits that hold an entry's merge stage.
const STAGE_MASK: u16 = 0x3000;

/// Copies the user's current files into `dest` (which must not exist yet)
/// and makes it a repository sharing the user's history.
pub fn populate(user: &Repository, dest: &Path) -> Result<Repository, ScratchError> {
    let workdir = user.workdir().ok_or(ScratchError::Bare)?;
    let workdir = fs::canonicalize(workdir).map_err(|e| ScratchError::io(workdir, e))?;
    let listing = files::list(user)?;
    let mut tree = Tree::new(&workdir);
    for path in &listing.paths {
        let (Some(from), Some(rel)) = (tree.path(path), files::relative_path(path)) else {
            continue;
        };
        let to = dest.join(rel);
        let found = tree.find(&from)?;
        if matches!(found, Found::Nothing) {
            continue;
        }
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).map_err(|e| ScratchError::io(dir, e))?;
        }
        match found {
            Found::Link(target) => {
                std::os::unix::fs::symlink(target, &to).map_err(|e| ScratchError::io(&to, e))?;
            }
            // fs::copy keeps the permission bits, so executables stay so.
            Found::File { .. } => {
                fs::copy(&from, &to).map_err(|e| ScratchError::io(&from, e))?;
            }
            Found::Nothing => {}
        }
    }
    // Submodules are not copied (their objects live in another repository):
    // an empty directory is what an uninitialised submodule looks like.
    for entry in &listing.submodules {
        if let Some(rel) = files::relative_path(&entry.path) {
            let dir = dest.join(rel);
            fs::create_dir_all(&dir).map_err(|e| ScratchError::io(&dir, e))?;
        }
    }

    let scratch = Repository::init(dest)?;
    share_objects(user, &scratch)?;
    copy_excludes(user, &scratch)?;
    // Reopen, so the object database is loaded with the alternates in it.
    let scratch = Repository::open(dest)?;
    copy_head(user, &scratch)?;
    copy_index(user, &scratch)?;
    Ok(scratch)
}

/// Points the scratch repository's object database at the user's, read
/// only: objects are found there, never written there.
fn share_objects(user: &Repository, scratch: &Repository) -> Result<(), ScratchError> {
    let objects = user.commondir().join("objects");
    let objects = fs::canonicalize(&objects).map_err(|e| ScratchError::io(&objects, e))?;
    let info = scratch.path().join("objects/info");
    fs::create_dir_all(&info).map_err(|e| ScratchError::io(&info, e))?;
    let mut line = objects.as_os_str().as_bytes().to_vec();
    line.push(b'\n');
    let alternates = info.join("alternates");
    fs::write(&alternates, line).map_err(|e| ScratchError::io(&alternates, e))
}

/// Copies the user's private ignore patterns (`.git/info/exclude`), so
/// the files they keep out of git stay out of the patch too.
fn copy_excludes(user: &Repository, scratch: &Repository) -> Result<(), ScratchError> {
    let from = user.commondir().join("info/exclude");
    if !from.is_file() {
        return Ok(());
    }
    let to = scratch.path().join("info/exclude");
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).map_err(|e| ScratchError::io(dir, e))?;
    }
    fs::copy(&from, &to).map_err(|e| ScratchError::io(&from, e))?;
    Ok(())
}

/// Gives the scratch repository the user's HEAD: on a branch of the same
/// name at the same commit, detached at the same commit, or unborn on the
/// same branch name.
fn copy_head(user: &Repository, scratch: &Repository) -> Result<(), ScratchError> {
    let head = match user.head() {
        Ok(head) => head,
        Err(error) if error.code() == git2::ErrorCode::UnbornBranch => {
            let target = user
                .find_reference("HEAD")
                .ok()
                .and_then(|head| head.symbolic_target().ok().flatten().map(str::to_string));
            if let Some(target) = target {
                scratch.set_head(&target)?;
            }
            return Ok(());
        }
        Err(error) => return Err(error.into()),
    };
    let Some(commit) = head.target() else {
        return Ok(());
    };
    match head.name() {
        Ok(name) if head.is_branch() => {
            scratch.reference(name, commit, true, "glint: scratch copy of the workspace")?;
            scratch.set_head(name)?;
        }
        _ => scratch.set_head_detached(commit)?,
    }
    Ok(())
}

/// Gives the scratch repository the user's index, so what they staged
/// shows as staged there too.
fn copy_index(user: &Repository, scratch: &Repository) -> Result<(), ScratchError> {
    let mut index = scratch.index()?;
    for entry in user.index()?.iter() {
        // Conflicted paths (stages 1-3) stay out: their working file, with
        // its conflict markers, shows as a change.
        if entry.flags & STAGE_MASK != 0 {
            continue;
        }
        let path = String::from_utf8_lossy(&entry.path).into_owned();
        // Stat data from another tree would vouch for files it never saw;
        // zeroed, git reads them again.
        let entry = IndexEntry {
            ctime: IndexTime::new(0, 0),
            mtime: IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            uid: 0,
            gid: 0,
            file_size: 0,
            ..entry
        };
        // An entry libgit2 cannot take (an intent-to-add one, whose empty
        // blob may not exist) only makes that file untracked there.
        if let Err(error) = index.add(&entry) {
            tracing::debug!("scratch index: leaving out {path}: {error}");
        }
    }
    index.write()?;
    Ok(())
}
