//! `write_file`: create or replace a whole file, atomically.
//!
//! The content goes to a temporary file in the target's directory which is
//! then renamed over the target, so a crash or a full disk never leaves a
//! half-written source file, and editors or build tools watching the file
//! see one complete change.
//!
//! The user's protections are respected: a file glint's user may not write
//! (by access(2), with effective ids), or one with no write bit at all
//! (checked on the mode itself, because root may write anything), is
//! refused. A replaced file keeps its owner, group and mode (setuid and
//! setgid included): the temporary file gets them before the rename, and
//! where that is impossible (glint's user may not give the file away, the
//! kernel drops a bit) or renaming would lose something else (other hard
//! links to the file, extended attributes such as ACLs), the new content is
//! written into the existing file instead, which keeps all of it but is not
//! atomic.

use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::support::after_edit;
use super::{Tool, ToolContext, ToolError, ToolOutput, count_lines, run_blocking};
use crate::workspace::Workspace;

pub struct WriteFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    path: String,
    content: String,
}

impl Tool for WriteFile {
    const NAME: &'static str = "write_file";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let target = ctx.workspace.resolve_for_write(&args.path)?;
        let workspace = ctx.workspace.clone();
        let path = target.clone();
        // Not cancellable once started: the write is short and atomic,
        // and the model must be told truthfully whether it happened.
        let (output, before) = run_blocking(move || {
            let before = after_edit::errors_before(&target);
            let output = write(&workspace, &target, args.content.as_bytes())?;
            Ok((output, before))
        })
        .await?;
        Ok(after_edit::after_change(ctx, path, before, output).await)
    }
}

pub(crate) fn write(
    workspace: &Workspace,
    target: &Path,
    content: &[u8],
) -> Result<ToolOutput, ToolError> {
    let shown = workspace.display(target);
    let failed = |what: &str, e: std::io::Error| {
        ToolError::Failed(format!("cannot write `{shown}`: {what}: {e}"))
    };

    let existing = match std::fs::symlink_metadata(target) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(failed("cannot inspect it", e)),
    };
    if let Some(meta) = &existing {
        if meta.is_dir() {
            return Err(ToolError::Failed(format!(
                "`{shown}` is a directory; give the path of a file to write"
            )));
        }
        if !meta.is_file() {
            return Err(ToolError::Failed(format!(
                "`{shown}` is not a regular file; glint writes only regular files"
            )));
        }
    }

    let Some(parent) = target.parent() else {
        return Err(ToolError::Failed(format!(
            "`{shown}` has no parent directory"
        )));
    };
    let created_dir = first_missing_ancestor(parent);
    std::fs::create_dir_all(parent).map_err(|e| failed("cannot create its directory", e))?;
    // Re-check now the directories exist: resolution already ensured this,
    // but it costs little and guards against the tree changing under us.
    let parent_real =
        std::fs::canonicalize(parent).map_err(|e| failed("cannot resolve its directory", e))?;
    if !parent_real.starts_with(workspace.root()) {
        return Err(ToolError::Failed(format!(
            "`{shown}` is no longer inside the workspace {}; use a path inside it",
            workspace.root().display()
        )));
    }

    let mut in_place_note = None;
    match &existing {
        Some(meta) => {
            check_writable(target, meta, &shown)?;
            match replace(target, &parent_real, meta, content, &failed)? {
                Replaced::Atomically => {}
                Replaced::InPlace(why) => in_place_note = Some(why),
            }
        }
        None => create(target, &parent_real, content, &failed)?,
    }

    let bytes = content.len();
    let lines = std::str::from_utf8(content).map(count_lines).unwrap_or(0);
    let verb = if existing.is_some() {
        "Overwrote"
    } else {
        "Created"
    };
    let mut message = format!(
        "{verb} {shown}: wrote {bytes} {} ({lines} {}).",
        if bytes == 1 { "byte" } else { "bytes" },
        if lines == 1 { "line" } else { "lines" }
    );
    if let Some(dir) = created_dir {
        message.push_str(&format!(" Created directory {}.", workspace.display(&dir)));
    }
    if let Some(why) = in_place_note {
        message.push_str(&format!(" (Written in place, to keep {why}.)"));
    }
    Ok(ToolOutput {
        summary: format!(
            "{shown}: {} ({bytes} {})",
            verb.to_lowercase(),
            if bytes == 1 { "byte" } else { "bytes" }
        ),
        content: message,
    })
}

/// The outermost directory that `create_dir_all(dir)` will create, if any,
/// so the result can tell the model which directories appeared.
fn first_missing_ancestor(dir: &Path) -> Option<PathBuf> {
    let mut missing = None;
    let mut current = Some(dir);
    while let Some(d) = current {
        if std::fs::symlink_metadata(d).is_ok() {
            break;
        }
        missing = Some(d.to_path_buf());
        current = d.parent();
    }
    missing
}

/// Refuses a file the user protected from writing: no write bit at all
/// (even for root, who could write it anyway), or no write permission for
/// glint's user.
pub(crate) fn check_writable(target: &Path, meta: &Metadata, shown: &str) -> Result<(), ToolError> {
    let mode = meta.mode() & 0o7777;
    if mode & 0o222 == 0 {
        return Err(ToolError::Failed(format!(
            "`{shown}` is read-only (mode {mode:04o}: nobody may write it), so glint leaves it alone; if it should change, ask the user to make it writable (e.g. `chmod u+w {shown}`), then retry"
        )));
    }
    if let Err(e) = access_writable(target) {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        return Err(ToolError::Failed(format!(
            "`{shown}` is not writable by glint's user (uid {euid}; the file is owned by uid {}, group {}, mode {mode:04o}): {e}; glint does not override a file's permissions, so ask the user to change them if it should be edited",
            meta.uid(),
            meta.gid()
        )));
    }
    Ok(())
}

/// access(2) with W_OK for the effective user and groups.
fn access_writable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid NUL-terminated path; integer flags only.
    let rc = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::W_OK,
            libc::AT_EACCESS,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// How an existing file was replaced.
enum Replaced {
    Atomically,
    /// Written into the file itself; says what that kept.
    InPlace(&'static str),
}

/// Creates a new file atomically, with the usual 0666-minus-umask mode.
fn create(
    target: &Path,
    parent: &Path,
    content: &[u8],
    failed: &dyn Fn(&str, std::io::Error) -> ToolError,
) -> Result<(), ToolError> {
    let temp = temp_with(
        parent,
        content,
        std::fs::Permissions::from_mode(0o666),
        failed,
    )?;
    temp.persist(target)
        .map_err(|e| failed("cannot move it into place", e.error))?;
    Ok(())
}

/// A temporary file in `parent` holding `content`.
fn temp_with(
    parent: &Path,
    content: &[u8],
    mode: std::fs::Permissions,
    failed: &dyn Fn(&str, std::io::Error) -> ToolError,
) -> Result<tempfile::NamedTempFile, ToolError> {
    let mut temp = tempfile::Builder::new()
        .prefix(".glint-write-")
        .suffix(".tmp")
        .permissions(mode)
        .tempfile_in(parent)
        .map_err(|e| failed("cannot create a temporary file", e))?;
    temp.write_all(content)
        .map_err(|e| failed("write failed", e))?;
    Ok(temp)
}

/// Replaces an existing regular file, keeping its owner, group and mode.
fn replace(
    target: &Path,
    parent: &Path,
    meta: &Metadata,
    content: &[u8],
    failed: &dyn Fn(&str, std::io::Error) -> ToolError,
) -> Result<Replaced, ToolError> {
    if meta.nlink() > 1 {
        return write_in_place(target, meta, content, failed)
            .map(|()| Replaced::InPlace("its other hard links"));
    }
    if has_xattrs(target) {
        return write_in_place(target, meta, content, failed)
            .map(|()| Replaced::InPlace("its extended attributes (ACLs, labels)"));
    }
    let mode = meta.mode() & 0o7777;
    let temp = temp_with(
        parent,
        content,
        std::fs::Permissions::from_mode(0o600),
        failed,
    )?;
    let file = temp.as_file();
    // Owner first: chown clears setuid/setgid, so the mode comes after.
    let owned = std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid())).is_ok();
    let moded = file
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .is_ok();
    let kept = owned
        && moded
        && file.metadata().is_ok_and(|m| {
            m.uid() == meta.uid() && m.gid() == meta.gid() && m.mode() & 0o7777 == mode
        });
    if !kept {
        // glint's user cannot make the replacement look like the original
        // (not the owner, not in the group, or the kernel dropped a bit):
        // renaming would change who owns the file, so write into it.
        drop(temp);
        return write_in_place(target, meta, content, failed)
            .map(|()| Replaced::InPlace("its owner, group and mode"));
    }
    file.sync_all()
        .map_err(|e| failed("cannot flush it to disk", e))?;
    temp.persist(target)
        .map_err(|e| failed("cannot move it into place", e.error))?;
    Ok(Replaced::Atomically)
}

/// Whether the file has extended attributes (ACLs, capabilities, user
/// attributes), which a rename would not carry over. The SELinux label is
/// not counted: a new file in the same directory gets its label by the
/// same policy.
fn has_xattrs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; a null buffer of size 0 asks
    // only for the size of the list.
    let size = unsafe { libc::listxattr(c_path.as_ptr(), std::ptr::null_mut(), 0) };
    let Ok(size) = usize::try_from(size) else {
        return false;
    };
    if size == 0 {
        return false;
    }
    let mut names = vec![0u8; size];
    // SAFETY: the buffer is `size` bytes long and writable.
    let got = unsafe { libc::listxattr(c_path.as_ptr(), names.as_mut_ptr().cast(), size) };
    let Ok(got) = usize::try_from(got) else {
        // The list changed size meanwhile: assume attributes are there.
        return true;
    };
    names[..got.min(size)]
        .split(|&b| b == 0)
        .any(|name| !name.is_empty() && name != b"security.selinux")
}

/// Overwrites the file itself: the same inode keeps its owner, group, mode,
/// links and attributes. Not atomic, so used only where renaming would lose
/// one of those.
fn write_in_place(
    target: &Path,
    meta: &Metadata,
    content: &[u8],
    failed: &dyn Fn(&str, std::io::Error) -> ToolError,
) -> Result<(), ToolError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(target)
        .map_err(|e| failed("cannot open it for writing", e))?;
    let now = file
        .metadata()
        .map_err(|e| failed("cannot inspect it", e))?;
    if !now.is_file() || now.ino() != meta.ino() || now.dev() != meta.dev() {
        return Err(failed(
            "it was replaced while glint was writing it",
            std::io::Error::other("read it again and retry"),
        ));
    }
    file.write_all(content)
        .map_err(|e| failed("write failed", e))?;
    file.set_len(content.len() as u64)
        .map_err(|e| failed("cannot truncate it", e))?;
    file.sync_all()
        .map_err(|e| failed("cannot flush it to disk", e))?;
    Ok(())
}
