//! Session logs: every conversation, headless or in the app, is appended
//! record by record to a JSONL file, so the user can stop (or glint can
//! crash) and take the conversation up again exactly where it was:
//! `glint --continue`, `glint --resume ID`, `/resume` in the app.
//!
//! Logs live under the user's data directory, one directory per workspace:
//! `$XDG_DATA_HOME/glint/session-logs/<dir name>-<key>/<id>.jsonl` (key: a
//! hash of the workspace's canonical path, so two checkouts named alike
//! stay apart). The records are described in [`record`]; resuming appends
//! to the same file.
//!
//! "Exactly" means the prompt re-renders byte for byte: messages keep
//! their reasoning, `reasoning_details` and the model's `raw` output, which
//! the GLM renderer writes back verbatim, so the first turn after a resume
//! extends the last prompt before the stop and the prefix cache carries on.

pub mod command;
mod list;
mod log;
mod read;
pub mod record;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::conversation::Message;

pub use list::{Summary, format_table};
pub use log::{SessionLog, checkpoint_marks};
pub use read::{Loaded, load};
pub use record::{CallOutcome, Header, Record, Resumed, Settings};

/// How many past messages seed the app's composer history.
pub const HISTORY_ENTRIES: usize = 1_000;

/// Why a session log could not be read, found or written. Each message is
/// one line saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no data directory for session logs; set XDG_DATA_HOME")]
    NoDataDir,
    #[error("cannot read the session log {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "cannot write the session log {}: {error}; free some disk space or fix its permissions (this session goes on unrecorded)",
        path.display()
    )]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot encode a session record: {0}")]
    Encode(serde_json::Error),
    #[error(
        "the session log {}, line {line}, is not a valid record ({reason}); fix or delete that line to resume it",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(
        "the session log {} has no session header; it was not written by glint (delete it)",
        path.display()
    )]
    NoHeader { path: PathBuf },
    #[error(
        "the session log {} was written by a newer glint (format {version}); upgrade glint to resume it",
        path.display()
    )]
    NewerFormat { path: PathBuf, version: u32 },
    #[error("no session `{id}` in this workspace; `glint sessions` lists them")]
    NotFound { id: String },
    #[error("`{id}` matches {count} sessions; give more of the id (`glint sessions` lists them)")]
    Ambiguous { id: String, count: usize },
    #[error(
        "no earlier session in this workspace to continue; start one with `glint` or `glint --task \"...\"`"
    )]
    NoSessions,
}

/// Which session a run starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// A new session.
    New,
    /// The workspace's most recently active session (`--continue`).
    Latest,
    /// Session ID, or the one whose id starts with it (`--resume ID`).
    Id(String),
}

/// The session logs of one workspace, and what new sessions and resumes
/// there record about the run (model, settings).
#[derive(Debug, Clone)]
pub struct Sessions {
    dir: PathBuf,
    workspace: PathBuf,
    model: String,
    settings: Settings,
}

/// A session taken up again.
#[derive(Debug)]
pub struct Continued {
    /// Appends to the session's own log.
    pub log: SessionLog,
    /// The conversation to continue (with results for calls that glint
    /// stopped during, which the log now holds too).
    pub messages: Vec<Message>,
    /// Lines the user should see (a torn last line that was skipped).
    pub warnings: Vec<String>,
    pub turns: usize,
    /// How each tool call ended, by call id (as recorded; a call glint
    /// stopped during did not succeed).
    pub outcomes: HashMap<String, CallOutcome>,
}

impl Sessions {
    /// The sessions of the workspace at `root` under the user's data
    /// directory; `model` and `settings` go into what is recorded.
    pub fn for_workspace(
        root: &Path,
        model: &str,
        settings: Settings,
    ) -> Result<Sessions, SessionError> {
        let base = dirs::data_dir()
            .ok_or(SessionError::NoDataDir)?
            .join("glint")
            .join("session-logs");
        Ok(Sessions::under(&base, root, model, settings))
    }

    /// The sessions of the workspace at `root` kept under `base`.
    pub fn under(base: &Path, root: &Path, model: &str, settings: Settings) -> Sessions {
        Sessions {
            dir: base.join(workspace_dir(root)),
            workspace: root.to_path_buf(),
            model: model.to_string(),
            settings,
        }
    }

    /// Where this workspace's logs are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The model later sessions and resumes record (after `/model`).
    pub fn set_model(&mut self, model: &str) {
        self.model = model.to_string();
    }

    /// A new session's log (the file appears with its first record).
    pub fn new_log(&self) -> SessionLog {
        let id = new_id();
        let header = Header {
            version: record::VERSION,
            id: id.clone(),
            time: record::now(),
            workspace: self.workspace.display().to_string(),
            model: self.model.clone(),
            settings: self.settings.clone(),
        };
        SessionLog::create(self.dir.join(format!("{id}.jsonl")), header)
    }

    /// The log of session `id` (or the one session whose id starts with
    /// it); with no id, the most recently active one other than `except`
    /// (the session in progress). Cheap: the logs are not read.
    pub fn locate(&self, id: Option<&str>, except: Option<&str>) -> Result<PathBuf, SessionError> {
        match id {
            Some(id) => list::find(&self.dir, id),
            None => list::latest(&self.dir, except),
        }
    }

    /// Takes up the session whose log is at `path` (from
    /// [`Sessions::locate`]): reads it, and from now on appends to it.
    pub fn resume_at(&self, path: &Path) -> Result<Continued, SessionError> {
        let loaded = read::load(path)?;
        let log = SessionLog::append_to(
            &loaded,
            Resumed {
                time: record::now(),
                model: self.model.clone(),
                settings: self.settings.clone(),
            },
        );
        let missing = loaded.missing_results();
        let mut outcomes = loaded.outcomes;
        for message in &missing {
            let outcome = CallOutcome {
                ok: false,
                summary: "glint stopped before it finished".into(),
            };
            log.tool_result(message, outcome.clone())?;
            if let Message::Tool { tool_call_id, .. } = message {
                outcomes.insert(tool_call_id.clone(), outcome);
            }
        }
        let mut messages = loaded.messages;
        messages.extend(missing);
        Ok(Continued {
            log,
            messages,
            warnings: loaded.warnings,
            turns: loaded.turns,
            outcomes,
        })
    }

    /// [`Sessions::locate`], then [`Sessions::resume_at`].
    pub fn resume(
        &self,
        id: Option<&str>,
        except: Option<&str>,
    ) -> Result<Continued, SessionError> {
        self.resume_at(&self.locate(id, except)?)
    }

    /// Every session of the workspace, newest first.
    pub fn list(&self) -> Result<Vec<Summary>, SessionError> {
        list::summaries(&self.dir)
    }

    /// What the user sent in past sessions, newest last.
    pub fn history(&self) -> Vec<String> {
        list::history(&self.dir, HISTORY_ENTRIES)
    }
}

/// The session a front end starts with, found but not yet read (the app
/// reads it in the background, so a long log never delays its first frame).
#[derive(Debug)]
pub struct Located {
    /// `None` where there is no data directory (then nothing is recorded).
    pub sessions: Option<Sessions>,
    /// A new session's log; `None` when resuming (or not recording).
    pub log: Option<SessionLog>,
    /// The log of the session to take up again.
    pub resume: Option<PathBuf>,
    pub warnings: Vec<String>,
}

/// Finds the session `start` names in the workspace at `root`. A new
/// session without a data directory runs unrecorded, with a warning; a
/// session to resume that is not there is an error.
pub fn locate(
    root: &Path,
    model: &str,
    settings: Settings,
    start: &Start,
) -> Result<Located, SessionError> {
    let sessions = match Sessions::for_workspace(root, model, settings) {
        Ok(sessions) => sessions,
        Err(error) if *start == Start::New => {
            return Ok(Located {
                sessions: None,
                log: None,
                resume: None,
                warnings: vec![format!("this session is not recorded: {error}")],
            });
        }
        Err(error) => return Err(error),
    };
    let (log, resume) = match start {
        Start::New => (Some(sessions.new_log()), None),
        Start::Latest => (None, Some(sessions.locate(None, None)?)),
        Start::Id(id) => (None, Some(sessions.locate(Some(id), None)?)),
    };
    Ok(Located {
        sessions: Some(sessions),
        log,
        resume,
        warnings: Vec::new(),
    })
}

/// What a headless run starts with: the log to record to and the
/// conversation to continue (empty for a new session), read now.
#[derive(Debug)]
pub struct Opened {
    pub log: Option<SessionLog>,
    pub messages: Vec<Message>,
    pub warnings: Vec<String>,
}

/// [`locate`], then reads the session to resume.
pub fn open(
    root: &Path,
    model: &str,
    settings: Settings,
    start: &Start,
) -> Result<Opened, SessionError> {
    let located = locate(root, model, settings, start)?;
    match (located.resume, &located.sessions) {
        (Some(path), Some(sessions)) => {
            let continued = sessions.resume_at(&path)?;
            let mut warnings = located.warnings;
            warnings.extend(continued.warnings);
            Ok(Opened {
                log: Some(continued.log),
                messages: continued.messages,
                warnings,
            })
        }
        _ => Ok(Opened {
            log: located.log,
            messages: Vec::new(),
            warnings: located.warnings,
        }),
    }
}

/// A new session id: its start time (so ids sort in order) and six random
/// hex digits.
fn new_id() -> String {
    use rand::Rng;
    let suffix: u32 = rand::thread_rng().gen_range(0..0x100_0000);
    format!(
        "{}-{suffix:06x}",
        chrono::Local::now().format("%Y%m%d-%H%M%S")
    )
}

/// `<dir name>-<16 hex digits of the path's hash>`: readable, and unique
/// per workspace path.
fn workspace_dir(root: &Path) -> String {
    let name: String = crate::file_names::readable_file_name(root)
        .chars()
        .take(40)
        .collect();
    let key = git2::Oid::hash_object(git2::ObjectType::Blob, root.as_os_str().as_encoded_bytes())
        .map(|oid| oid.to_string()[..16].to_string())
        .unwrap_or_else(|_| "0000000000000000".into());
    if name.is_empty() {
        key
    } else {
        format!("{name}-{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspaces_named_alike_get_their_own_directory() {
        let a = workspace_dir(Path::new("/home/u/a/project"));
        let b = workspace_dir(Path::new("/home/u/b/project"));
        assert!(a.starts_with("project-") && b.starts_with("project-"));
        assert_ne!(a, b);
        assert_eq!(workspace_dir(Path::new("/home/u/a/project")), a);
    }

    #[test]
    fn a_new_log_appears_with_its_first_record_and_resumes() {
        let base = tempfile::tempdir().unwrap();
        let root = Path::new("/w");
        let sessions = Sessions::under(base.path(), root, "m", Settings::default());
        let log = sessions.new_log();
        assert!(!log.path().exists(), "nothing written before a record");
        log.message(&Message::user("first"), true).unwrap();
        log.message(&Message::user("second"), true).unwrap();
        let continued = sessions.resume(None, None).unwrap();
        assert_eq!(continued.log.id(), log.id());
        assert_eq!(
            continued.messages,
            vec![Message::user("first"), Message::user("second")]
        );
        continued
            .log
            .message(&Message::user("third"), true)
            .unwrap();
        let loaded = load(log.path()).unwrap();
        assert_eq!(loaded.tasks, vec!["first", "second", "third"]);
        assert_eq!(sessions.history(), vec!["first", "second", "third"]);
        assert!(matches!(
            sessions.resume(None, Some(log.id())),
            Err(SessionError::NoSessions)
        ));
    }

    #[test]
    fn appending_after_a_torn_line_cuts_it_off() {
        let base = tempfile::tempdir().unwrap();
        let sessions = Sessions::under(base.path(), Path::new("/w"), "m", Settings::default());
        let log = sessions.new_log();
        log.message(&Message::user("kept"), true).unwrap();
        let mut bytes = std::fs::read(log.path()).unwrap();
        bytes.extend_from_slice(b"{\"type\":\"mess");
        std::fs::write(log.path(), bytes).unwrap();
        let continued = sessions.resume(Some(log.id()), None).unwrap();
        assert_eq!(continued.warnings.len(), 1);
        continued.log.message(&Message::user("next"), true).unwrap();
        let loaded = load(log.path()).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(loaded.tasks, vec!["kept", "next"]);
    }
}
