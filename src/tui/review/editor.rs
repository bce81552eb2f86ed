//! Editing a proposal in the user's own editor (`$VISUAL`, else `$EDITOR`,
//! else `vi`): the app gives the terminal back (raw mode off, the normal
//! screen), the editor runs on the terminal with the proposed text in a
//! temporary file named like the real one (so the editor picks the right
//! syntax), and the app takes the terminal again and reads the file back.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::tui::terminal;

/// The review view asks for a file's proposed text to be edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditRequest {
    /// The tool call under review.
    pub id: String,
    /// The file's index in the proposal.
    pub file: usize,
    /// The file's path as the model gave it.
    pub path: String,
    /// The text to start from.
    pub text: String,
}

/// The editor to run: `$VISUAL`, then `$EDITOR`, then `vi` (as git does).
pub fn editor_command() -> String {
    ["VISUAL", "EDITOR"]
        .into_iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "vi".into())
}

/// Suspends the app's terminal, edits `request.text` in the user's editor
/// and takes the terminal back (in the alternate screen again when
/// `fullscreen`). `Ok(None)` when the text came back unchanged; `Err` is a
/// one-line message for the view.
pub(crate) fn edit_in_terminal(
    request: &EditRequest,
    fullscreen: bool,
) -> Result<Option<String>, String> {
    let mut tty = terminal::open_tty()
        .map_err(|error| format!("cannot open the terminal for the editor: {error}"))?;
    terminal::leave(&mut tty);
    let result = edit_text(&editor_command(), &request.path, &request.text, Some(&tty));
    let restored = terminal::enter(&mut tty).and_then(|()| {
        if fullscreen {
            terminal::enter_alternate_screen(&mut tty)
        } else {
            Ok(())
        }
    });
    if let Err(error) = restored {
        tracing::warn!(%error, "could not restore the terminal after the editor");
    }
    result
}

/// Writes `text` to a temporary file named after `path`, runs `editor` on
/// it (through `sh`, so `code --wait` and the like work) with `tty` as its
/// terminal (else the process's own), and reads the file back.
pub fn edit_text(
    editor: &str,
    path: &str,
    text: &str,
    tty: Option<&File>,
) -> Result<Option<String>, String> {
    let name = Path::new(path)
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("proposal.txt");
    let temp = tempfile::Builder::new()
        .prefix("glint-review-")
        .suffix(&format!("-{name}"))
        .tempfile()
        .map_err(|error| format!("cannot create a file for the editor: {error}"))?;
    std::fs::write(temp.path(), text)
        .map_err(|error| format!("cannot write {}: {error}", temp.path().display()))?;
    let stdio = |tty: Option<&File>| match tty.map(File::try_clone) {
        Some(Ok(file)) => Stdio::from(file),
        _ => Stdio::inherit(),
    };
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$@\""))
        .arg(editor)
        .arg(temp.path())
        .stdin(stdio(tty))
        .stdout(stdio(tty))
        .stderr(stdio(tty))
        .status()
        .map_err(|error| format!("cannot run the editor `{editor}`: {error}"))?;
    if status.code() == Some(127) {
        return Err(format!(
            "the editor `{editor}` was not found; set $VISUAL or $EDITOR to an editor (the proposal is unchanged)"
        ));
    }
    if !status.success() {
        return Err(format!(
            "the editor `{editor}` failed ({status}); the proposal is unchanged (set $VISUAL or $EDITOR to another editor)"
        ));
    }
    // Editors may replace the file rather than write into it: read it by
    // its path.
    let bytes = std::fs::read(temp.path())
        .map_err(|error| format!("cannot read back the edited text: {error}"))?;
    let edited = String::from_utf8(bytes).map_err(|_| {
        "the edited text is not UTF-8; the proposal is unchanged (save it as UTF-8)".to_string()
    })?;
    Ok((edited != text).then_some(edited))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_editor_that_changes_the_text_returns_it() {
        let edited = edit_text("sed -i s/old/new/", "src/a.rs", "old\n", None);
        assert_eq!(edited, Ok(Some("new\n".into())));
    }

    #[test]
    fn an_unchanged_text_is_no_edit() {
        assert_eq!(edit_text("true", "a.txt", "same\n", None), Ok(None));
    }

    #[test]
    fn the_temporary_file_keeps_the_files_name() {
        let edited = edit_text(
            "f() { basename \"$1\" > \"$1\"; }; f",
            "src/lib.rs",
            "",
            None,
        );
        let name = edited.unwrap_or_default().unwrap_or_default();
        assert!(
            name.starts_with("glint-review-") && name.ends_with("-lib.rs\n"),
            "{name}"
        );
    }

    #[test]
    fn a_failing_editor_is_a_one_line_message() {
        let error = edit_text("false", "a.txt", "x\n", None).unwrap_err();
        assert!(error.contains("`false` failed"), "{error}");
        assert!(!error.contains('\n'));
        let error = edit_text("no-such-editor-anywhere", "a.txt", "x\n", None).unwrap_err();
        assert!(error.contains("was not found"), "{error}");
    }
}
