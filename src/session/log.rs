//! Writing a session log: one JSON record per line, each written whole with
//! a single `write` as it happens, so a crash loses at most the line being
//! written (which the loader then skips).
//!
//! The file is made on the first record, not when the session opens: an
//! app opened and closed without a message leaves no empty session behind.
//! Resuming appends to the same file after a `resumed` record, so one file
//! holds one conversation however often it was taken up again.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::SessionError;
use super::read::Loaded;
use super::record::{CallOutcome, CheckpointRecord, Header, Record, Resumed};
use crate::checkpoint::Checkpoints;
use crate::conversation::Message;

/// A session log being written. Cheap to clone: clones write to the same
/// file (the app hands the log to each agent it starts on a model switch).
#[derive(Debug, Clone)]
pub struct SessionLog {
    id: String,
    path: PathBuf,
    writer: Arc<Mutex<Writer>>,
}

#[derive(Debug)]
struct Writer {
    file: Option<File>,
    /// How to open the file on the first record.
    open: Open,
    /// Written once, before the first record (the header of a new
    /// session, or the `resumed` record of a continued one).
    preface: Option<Record>,
    /// A write failed: the log stops where it was (still a valid log) and
    /// the session goes on unrecorded.
    failed: bool,
}

#[derive(Debug, Clone, Copy)]
enum Open {
    /// A new file, which must not exist yet.
    Create,
    /// An existing log: cut to the end of its last good record, and given
    /// the newline that record lacks, before appending.
    Append { valid_len: u64, newline: bool },
}

impl SessionLog {
    /// A new session's log at `path`, starting with `header`.
    pub fn create(path: PathBuf, header: Header) -> SessionLog {
        SessionLog {
            id: header.id.clone(),
            path,
            writer: Arc::new(Mutex::new(Writer {
                file: None,
                open: Open::Create,
                preface: Some(Record::Session(header)),
                failed: false,
            })),
        }
    }

    /// Continues the log `loaded` was read from; the first record is
    /// preceded by `resumed`.
    pub fn append_to(loaded: &Loaded, resumed: Resumed) -> SessionLog {
        SessionLog {
            id: loaded.header.id.clone(),
            path: loaded.path.clone(),
            writer: Arc::new(Mutex::new(Writer {
                file: None,
                open: Open::Append {
                    valid_len: loaded.valid_len,
                    newline: !loaded.ends_with_newline,
                },
                preface: Some(Record::Resumed(resumed)),
                failed: false,
            })),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record. Only the first failure is an error (the caller
    /// warns once); after it the log is left as it was and later records
    /// are dropped.
    pub fn record(&self, record: &Record) -> Result<(), SessionError> {
        let mut writer = match self.writer.lock() {
            Ok(writer) => writer,
            Err(poisoned) => poisoned.into_inner(),
        };
        if writer.failed {
            return Ok(());
        }
        let result = writer.write(&self.path, record);
        if result.is_err() {
            writer.failed = true;
        }
        result
    }

    /// Records a message appended to the conversation; `task` marks the
    /// user message that starts a run.
    pub fn message(&self, message: &Message, task: bool) -> Result<(), SessionError> {
        self.record(&Record::Message {
            message: message.clone(),
            task,
            outcome: None,
        })
    }

    /// Records a tool call's result with how the call ended.
    pub fn tool_result(&self, message: &Message, outcome: CallOutcome) -> Result<(), SessionError> {
        self.record(&Record::Message {
            message: message.clone(),
            task: false,
            outcome: Some(outcome),
        })
    }

    /// Records the checkpoints `store` holds now that are not in `before`
    /// (what [`checkpoint_marks`] returned before the tool calls ran).
    pub fn new_checkpoints(
        &self,
        store: &Checkpoints,
        before: &HashSet<(u32, String)>,
    ) -> Result<(), SessionError> {
        let list = match store.list() {
            Ok(list) => list,
            Err(error) => {
                tracing::warn!("cannot list checkpoints for the session log: {error}");
                return Ok(());
            }
        };
        for checkpoint in list {
            if before.contains(&(checkpoint.id, checkpoint.after.to_string())) {
                continue;
            }
            self.record(&Record::Checkpoint(CheckpointRecord {
                checkpoint_session: store.session().to_string(),
                id: checkpoint.id,
                tool: checkpoint.meta.tool,
                summary: checkpoint.meta.summary,
                before: checkpoint.before.to_string(),
                after: checkpoint.after.to_string(),
                files: checkpoint.meta.files,
            }))?;
        }
        Ok(())
    }
}

/// The checkpoints `store` holds now, to tell the ones a turn's calls add
/// (ids alone are reused after an undo; with the after-tree they are not).
pub fn checkpoint_marks(store: &Checkpoints) -> HashSet<(u32, String)> {
    store
        .list()
        .unwrap_or_default()
        .into_iter()
        .map(|checkpoint| (checkpoint.id, checkpoint.after.to_string()))
        .collect()
}

impl Writer {
    fn write(&mut self, path: &Path, record: &Record) -> Result<(), SessionError> {
        let failed = |error: std::io::Error| SessionError::Write {
            path: path.to_path_buf(),
            error,
        };
        if self.file.is_none() {
            let mut file = open(path, self.open).map_err(failed)?;
            if let Some(preface) = self.preface.take() {
                file.write_all(&line(&preface)?).map_err(failed)?;
            }
            self.file = Some(file);
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.write_all(&line(record)?).map_err(failed)
    }
}

/// A record as one line, newline included, so it goes out in one write.
fn line(record: &Record) -> Result<Vec<u8>, SessionError> {
    let mut bytes = serde_json::to_vec(record).map_err(SessionError::Encode)?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn open(path: &Path, how: Open) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = OpenOptions::new();
    // Logs hold the user's code and conversation: readable by them only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match how {
        Open::Create => options.create_new(true).append(true).open(path),
        Open::Append { valid_len, newline } => {
            let file = options.write(true).open(path)?;
            // A half-written last line (the loader skipped it) must not
            // run into the next record.
            if file.metadata()?.len() > valid_len {
                file.set_len(valid_len)?;
            }
            drop(file);
            let mut file = OpenOptions::new().append(true).open(path)?;
            if newline {
                file.write_all(b"\n")?;
            }
            Ok(file)
        }
    }
}
