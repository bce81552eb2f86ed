//! The sessions of one workspace: listing them (`glint sessions`,
//! `/sessions`), finding the one to resume, and the past messages the app's
//! composer history starts with.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::SessionError;
use super::read;
use crate::tools::{one_line, printable};

/// Log files end in this.
const EXTENSION: &str = "jsonl";

/// One session, as a list shows it.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: String,
    pub path: PathBuf,
    /// When the session was last written to.
    pub modified: SystemTime,
    /// Model turns.
    pub turns: usize,
    pub first_task: Option<String>,
    /// Why the log could not be read, when it could not.
    pub error: Option<String>,
}

/// The log files in `dir` with their ids, newest (last written) first.
fn log_files(dir: &Path) -> Result<Vec<(String, PathBuf, SystemTime)>, SessionError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(SessionError::Read {
                path: dir.to_path_buf(),
                error,
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
            continue;
        }
        let Some(id) = path.file_stem().and_then(|s| s.to_str()).map(String::from) else {
            continue;
        };
        let modified = entry
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        files.push((id, path, modified));
    }
    // Ids start with their start time, so they break ties in order.
    files.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| b.0.cmp(&a.0)));
    Ok(files)
}

/// Every session in `dir`, newest first; an unreadable one is listed with
/// its error rather than hiding the others.
pub fn summaries(dir: &Path) -> Result<Vec<Summary>, SessionError> {
    Ok(log_files(dir)?
        .into_iter()
        .map(|(id, path, modified)| match read::load(&path) {
            Ok(loaded) => Summary {
                id,
                modified,
                turns: loaded.turns,
                first_task: loaded.first_task().map(String::from),
                error: None,
                path,
            },
            Err(error) => Summary {
                id,
                path,
                modified,
                turns: 0,
                first_task: None,
                error: Some(error.to_string()),
            },
        })
        .collect())
}

/// The log of session `id` (or of the one session whose id starts with it).
pub fn find(dir: &Path, id: &str) -> Result<PathBuf, SessionError> {
    let files = log_files(dir)?;
    if let Some((_, path, _)) = files.iter().find(|(name, _, _)| name == id) {
        return Ok(path.clone());
    }
    let matching: Vec<&PathBuf> = files
        .iter()
        .filter(|(name, _, _)| !id.is_empty() && name.starts_with(id))
        .map(|(_, path, _)| path)
        .collect();
    match matching.as_slice() {
        [path] => Ok((*path).clone()),
        [] => Err(SessionError::NotFound { id: id.to_string() }),
        many => Err(SessionError::Ambiguous {
            id: id.to_string(),
            count: many.len(),
        }),
    }
}

/// The log written to last, other than session `except`.
pub fn latest(dir: &Path, except: Option<&str>) -> Result<PathBuf, SessionError> {
    log_files(dir)?
        .into_iter()
        .find(|(id, _, _)| Some(id.as_str()) != except)
        .map(|(_, path, _)| path)
        .ok_or(SessionError::NoSessions)
}

/// What the user sent in past sessions, oldest first (the newest last, as
/// a composer history wants them), at most `max`. Unreadable logs are
/// skipped: history is a convenience.
pub fn history(dir: &Path, max: usize) -> Vec<String> {
    let files = log_files(dir).unwrap_or_default();
    let mut tasks: Vec<String> = Vec::new();
    for (_, path, _) in files.iter().rev() {
        if let Ok(loaded) = read::load(path) {
            tasks.extend(loaded.tasks);
        }
    }
    let excess = tasks.len().saturating_sub(max);
    tasks.drain(..excess);
    tasks
}

/// The table `glint sessions` and `/sessions` print: id, last active,
/// turns, first message.
pub fn format_table(sessions: &[Summary]) -> String {
    let id_width = sessions
        .iter()
        .map(|s| s.id.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let mut out = format!(
        "{:<id_width$}  {:<16}  {:>5}  first message\n",
        "id", "last active", "turns"
    );
    for session in sessions {
        let when = chrono::DateTime::<chrono::Local>::from(session.modified)
            .format("%Y-%m-%d %H:%M")
            .to_string();
        let what = match (&session.error, &session.first_task) {
            (Some(error), _) => format!("(unreadable: {error})"),
            (None, Some(task)) => one_line(task.trim(), 60),
            (None, None) => "(no message yet)".to_string(),
        };
        out.push_str(&format!(
            "{:<id_width$}  {when:<16}  {:>5}  {}\n",
            session.id,
            session.turns,
            printable(&what)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log for session `id`, last written `age_s` seconds ago.
    fn write_log(dir: &Path, id: &str, task: &str, age_s: u64) {
        let text = format!(
            "{{\"type\":\"session\",\"version\":1,\"id\":\"{id}\",\"time\":\"t\",\"workspace\":\"/w\",\"model\":\"m\"}}\n{{\"type\":\"message\",\"message\":{{\"role\":\"user\",\"content\":\"{task}\"}},\"task\":true}}\n"
        );
        let path = dir.join(format!("{id}.jsonl"));
        std::fs::write(&path, text).unwrap();
        let when = SystemTime::now() - std::time::Duration::from_secs(age_s);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_modified(when))
            .unwrap();
    }

    #[test]
    fn finds_by_id_or_unique_prefix() {
        let dir = tempfile::tempdir().unwrap();
        write_log(dir.path(), "20250101-100000-aaaa", "one", 60);
        write_log(dir.path(), "20250101-110000-bbbb", "two", 0);
        let path = find(dir.path(), "20250101-11").unwrap();
        assert!(path.ends_with("20250101-110000-bbbb.jsonl"));
        assert!(matches!(
            find(dir.path(), "2025"),
            Err(SessionError::Ambiguous { count: 2, .. })
        ));
        assert!(matches!(
            find(dir.path(), "nope"),
            Err(SessionError::NotFound { .. })
        ));
    }

    #[test]
    fn history_is_oldest_first_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        // Written last, though its id sorts first: last activity counts.
        write_log(dir.path(), "20250101-110000-bbbb", "two", 0);
        write_log(dir.path(), "20250101-100000-aaaa", "one", 60);
        assert_eq!(history(dir.path(), 10), vec!["one", "two"]);
        assert_eq!(history(dir.path(), 1), vec!["two"]);
    }

    #[test]
    fn no_directory_is_no_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none");
        assert!(summaries(&missing).unwrap().is_empty());
        assert!(matches!(
            latest(&missing, None),
            Err(SessionError::NoSessions)
        ));
    }
}
