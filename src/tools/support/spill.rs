//! Spill files: the whole of a tool output that was too long for the model's
//! context, kept outside the user's tree for the length of the session.
//!
//! The result the model sees keeps only the head and tail of such an output;
//! the spill file holds all of it, so nothing is lost: the model pages
//! through it with `read_file` or searches it with `grep`, the only two tools
//! that may read there. The files live under the session's data directory
//! (`DATA_DIR/glint/sessions/ID/spill`, or a temporary directory where there
//! is no data directory), never in the workspace, so they neither show up in
//! `git status` nor can a sandboxed command rewrite them (the sandbox leaves
//! only the workspace and temporary directories writable). The directory is
//! made on the first spill and removed when the last handle to the session's
//! [`SpillArea`] is dropped, which is when the agent core that owns it stops.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Where one session's spill files go. Cheap to clone: clones share the
/// directory, which is removed when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct SpillArea {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `.../sessions/ID/spill`: made on first use.
    dir: PathBuf,
    /// `.../sessions/ID`: removed too when nothing else was put there.
    session_dir: PathBuf,
    /// The canonical `dir`, once it exists.
    made: Mutex<Option<PathBuf>>,
    /// Numbers the files of this session.
    next: AtomicU64,
}

impl Default for SpillArea {
    fn default() -> Self {
        Self::new_session()
    }
}

impl SpillArea {
    /// A fresh session under the user's data directory (or the temporary
    /// directory where there is none). Nothing is created until a spill.
    pub fn new_session() -> Self {
        let base = dirs::data_dir()
            .map(|d| d.join("glint").join("sessions"))
            .unwrap_or_else(|| std::env::temp_dir().join("glint-sessions"));
        Self::under(&base, &session_id())
    }

    /// A session `id` under `sessions` (its files go to
    /// `sessions/ID/spill`).
    pub fn under(sessions: &Path, id: &str) -> Self {
        let session_dir = sessions.join(id);
        SpillArea {
            inner: Arc::new(Inner {
                dir: session_dir.join("spill"),
                session_dir,
                made: Mutex::new(None),
                next: AtomicU64::new(1),
            }),
        }
    }

    /// The directory the files go to (it may not exist yet).
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// A new, empty spill file for `tool`'s output, readable only by the
    /// user.
    pub fn create(&self, tool: &str) -> io::Result<SpillFile> {
        let dir = self.make_dir()?;
        let n = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{n:04}-{tool}.txt"));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        Ok(SpillFile {
            path,
            writer: BufWriter::with_capacity(64 * 1024, file),
            failed: None,
        })
    }

    /// Writes `text` whole to a new spill file for `tool`; returns its path.
    pub fn write(&self, tool: &str, text: &str) -> io::Result<PathBuf> {
        let mut file = self.create(tool)?;
        file.write(text.as_bytes());
        file.finish()
    }

    /// `given` as a path inside this session's spill directory, when it is
    /// one (after resolving symlinks and `..`): the one place outside the
    /// workspace that `read_file` and `grep` may read.
    pub fn resolve(&self, given: &str) -> Option<PathBuf> {
        let dir = self.lock().clone()?;
        let path = Path::new(given);
        if !path.is_absolute() {
            return None;
        }
        let resolved = fs::canonicalize(path).ok()?;
        resolved.starts_with(&dir).then_some(resolved)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<PathBuf>> {
        self.inner.made.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the directory (owner-only) on first use; returns it canonical.
    fn make_dir(&self) -> io::Result<PathBuf> {
        let mut made = self.lock();
        if let Some(dir) = made.as_ref() {
            return Ok(dir.clone());
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.inner.dir)?;
        let dir = fs::canonicalize(&self.inner.dir)?;
        *made = Some(dir.clone());
        Ok(dir)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let made = self.made.get_mut().unwrap_or_else(|e| e.into_inner());
        if made.is_some() {
            let _ = fs::remove_dir_all(&self.dir);
            // Only when empty: other parts of glint may keep things there.
            let _ = fs::remove_dir(&self.session_dir);
        }
    }
}

/// A spill file being written. Write errors (a full disk) are kept rather
/// than returned from each write, so a command's output keeps flowing to
/// the model; [`SpillFile::finish`] reports the first one.
#[derive(Debug)]
pub struct SpillFile {
    path: PathBuf,
    writer: BufWriter<File>,
    failed: Option<io::Error>,
}

impl SpillFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `bytes`; after a failure, does nothing.
    pub fn write(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            if let Err(e) = self.writer.write_all(bytes) {
                self.failed = Some(e);
            }
        }
    }

    /// Flushes the file; the path, or the first write error (the file is
    /// then removed, since it is incomplete).
    pub fn finish(mut self) -> io::Result<PathBuf> {
        if self.failed.is_none() {
            if let Err(e) = self.writer.flush() {
                self.failed = Some(e);
            }
        }
        match self.failed.take() {
            None => Ok(self.path),
            Some(e) => {
                let _ = fs::remove_file(&self.path);
                Err(e)
            }
        }
    }

    /// Drops the file: the output fitted, so no one needs it.
    pub fn discard(self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// The sentence appended where an output was cut: where the whole of it is
/// and how to read it.
pub fn spill_note(path: &Path, lines: usize) -> String {
    let path = path.display();
    let lines = if lines == 1 {
        "1 line".to_string()
    } else {
        format!("{lines} lines")
    };
    format!(
        "[The whole output ({lines}) is in {path}; page through it with read_file (path \"{path}\", offset, limit) or search it with grep (path \"{path}\"). It is removed when this session ends.]"
    )
}

/// A session id unique on this machine: the time, glint's pid and a count.
fn session_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}-{}",
        chrono::Local::now().format("%Y%m%dT%H%M%S"),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A path `read_file` or `grep` was given, resolved inside the workspace or
/// else inside the session's spill directory (nowhere else), with the name
/// to show for it. A path that is neither gets the workspace's refusal, so
/// the message stays about the workspace.
pub fn resolve_readable(
    ctx: &crate::tools::ToolContext,
    given: &str,
) -> Result<(PathBuf, String), crate::workspace::WorkspaceError> {
    match ctx.workspace.resolve_existing(given) {
        Ok(path) => {
            let shown = ctx.workspace.display(&path);
            Ok((path, shown))
        }
        Err(refused) => match ctx.spill.resolve(given) {
            Some(path) => {
                let shown = path.display().to_string();
                Ok((path, shown))
            }
            None => Err(refused),
        },
    }
}
