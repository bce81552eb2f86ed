//! Syntax errors of a source file, as tree-sitter sees them, and which of
//! them an edit introduced.
//!
//! A local model's edit that breaks the file's syntax (an unclosed bracket,
//! a lost colon) otherwise goes unnoticed until a build many turns later.
//! Comparing the file's ERROR and MISSING nodes before and after each edit
//! lets write_file and edit_file name the new ones at once, while errors
//! the file already had (or that tree-sitter's grammar gets wrong) are not
//! blamed on the edit.

use std::path::Path;

use super::Lang;

/// Files larger than this are not parsed (a generated or minified file's
/// syntax is not the model's to fix, and parsing it costs time).
pub const MAX_CHECK_BYTES: usize = 2 << 20;
/// New errors listed in one result; the rest are counted.
const MAX_REPORTED: usize = 5;
/// Characters of source shown after `near`.
const NEAR_CHARS: usize = 40;

/// One ERROR or MISSING node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line and column (the column counts characters).
    pub line: usize,
    pub column: usize,
    /// The source text at the error, on one line, for the message.
    pub near: String,
    /// What is missing, for a MISSING node (`)`, `:`, `identifier`).
    pub missing: Option<String>,
    /// Identifies the error across an edit that moved it: the node's kind
    /// and its text (or the text of its line, for a MISSING node, whose
    /// own text is empty).
    key: (bool, String),
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "syntax error at {}:{} near `{}`",
            self.line, self.column, self.near
        )?;
        if let Some(missing) = &self.missing {
            write!(f, " (missing `{missing}`)")?;
        }
        Ok(())
    }
}

/// The syntax errors of `source`, in source order; `None` when the file's
/// language is not one glint parses, the file is too large or the parser
/// gave up.
pub fn syntax_errors(path: &Path, source: &str) -> Option<(Lang, Vec<SyntaxError>)> {
    let lang = Lang::from_path(path)?;
    if source.len() > MAX_CHECK_BYTES {
        return None;
    }
    let mut parser = tree_sitter::Parser::new();
    parser.set_language(&lang.grammar()).ok()?;
    let tree = parser.parse(source, None)?;
    let mut errors = Vec::new();
    collect(tree.root_node(), source, &mut errors);
    Some((lang, errors))
}

/// Walks only the subtrees that hold errors; an ERROR node is reported
/// whole, not what is inside it.
fn collect(node: tree_sitter::Node<'_>, source: &str, out: &mut Vec<SyntaxError>) {
    if node.is_missing() || node.is_error() {
        out.push(describe(node, source));
        return;
    }
    if !node.has_error() {
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect(child, source, out);
    }
}

fn describe(node: tree_sitter::Node<'_>, source: &str) -> SyntaxError {
    let start = node.start_position();
    let line_text = source.lines().nth(start.row).unwrap_or_default();
    // tree-sitter's column counts bytes; the model counts characters.
    let byte_col = start.column.min(line_text.len());
    let before = line_text.get(..byte_col).unwrap_or(line_text);
    let column = before.chars().count() + 1;
    let missing = node.is_missing().then(|| node.kind().to_string());
    let own_text = source.get(node.byte_range()).unwrap_or_default();
    let shown = if own_text.trim().is_empty() {
        // A MISSING node has no text: show the line up to where the
        // token belongs.
        line_text.trim().to_string()
    } else {
        own_text.trim().to_string()
    };
    let near = one_line_prefix(&shown, NEAR_CHARS);
    let key_text = if missing.is_some() {
        line_text.trim().to_string()
    } else {
        own_text.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    SyntaxError {
        line: start.row + 1,
        column,
        near,
        missing: missing.clone(),
        key: (missing.is_some(), format!("{}\u{0}{key_text}", node.kind())),
    }
}

/// The first line of `text`, at most `max` characters, `…` when cut.
fn one_line_prefix(text: &str, max: usize) -> String {
    let first = text.lines().next().unwrap_or_default();
    let cut: String = first.chars().take(max).collect();
    if cut.len() < text.trim_end().len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// The errors of `after` that `before` did not have: each error of
/// `before` excuses one equal error (same kind and text) of `after`,
/// wherever the edit moved it.
pub fn new_errors(before: &[SyntaxError], after: &[SyntaxError]) -> Vec<SyntaxError> {
    let mut excused: Vec<bool> = vec![false; before.len()];
    let mut new = Vec::new();
    for error in after {
        let old = before
            .iter()
            .enumerate()
            .position(|(i, b)| !excused[i] && b.key == error.key);
        match old {
            Some(i) => excused[i] = true,
            None => new.push(error.clone()),
        }
    }
    new
}

/// The note appended to an edit's result for the errors it introduced;
/// `None` when there are none.
pub fn report(lang: Lang, shown: &str, new: &[SyntaxError]) -> Option<String> {
    if new.is_empty() {
        return None;
    }
    let count = new.len();
    let mut note = format!(
        "Syntax check ({}): this change introduced {count} syntax {} in `{shown}`; fix {} before going on:",
        lang.name(),
        if count == 1 { "error" } else { "errors" },
        if count == 1 { "it" } else { "them" },
    );
    for error in new.iter().take(MAX_REPORTED) {
        note.push('\n');
        note.push_str(&error.to_string());
    }
    if count > MAX_REPORTED {
        note.push_str(&format!("\n[... {} more]", count - MAX_REPORTED));
    }
    Some(note)
}
