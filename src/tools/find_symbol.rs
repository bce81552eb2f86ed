//! `find_symbol`: where a function, type, constant... is defined, across
//! the workspace. Files are first screened by a fast literal search for
//! the name as a word, so only the files that mention it are parsed (on
//! several threads).

use std::path::{Path, PathBuf};

use grep_matcher::Matcher;
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::support::code::{
    Def, KINDS, Lang, MAX_FILE_BYTES, Source, human_size, outline, parallel_map, read_source,
    source_files, supported_extensions,
};
use super::{Tool, ToolContext, ToolError, ToolOutput, one_line, run_blocking_cancellable};
use crate::workspace::Workspace;

/// Matches shown at most; more get a marker telling the model to narrow
/// the search.
pub const MAX_MATCHES: usize = 100;
/// Characters of a definition's source line shown.
const MAX_SOURCE_CHARS: usize = 200;
/// Large files named at most in the skip note.
const MAX_SKIPPED_NAMED: usize = 5;

pub struct FindSymbol;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    name: String,
    path: Option<String>,
    kind: Option<String>,
}

/// The name asked for, optionally qualified by its container
/// (`Parser.parse`, `Parser::parse`).
#[derive(Debug, Clone)]
struct Query {
    name: String,
    container: Option<String>,
}

impl Query {
    fn parse(raw: &str) -> Result<Query, ToolError> {
        let invalid = |problem: &str| {
            ToolError::InvalidArguments(format!(
                "Invalid arguments for find_symbol: {problem}; give the bare name of a definition, such as `parse`, or `Parser.parse` for a method of Parser."
            ))
        };
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(invalid("`name` is empty"));
        }
        if raw.contains(char::is_whitespace) {
            return Err(invalid(&format!(
                "`name` must be one identifier, got `{}`",
                one_line(raw, 60)
            )));
        }
        let split = raw
            .rsplit_once("::")
            .or_else(|| raw.rsplit_once('.'))
            .filter(|(c, n)| !c.is_empty() && !n.is_empty());
        Ok(match split {
            Some((container, name)) => Query {
                name: name.to_string(),
                container: Some(container.to_string()),
            },
            None => Query {
                name: raw.to_string(),
                container: None,
            },
        })
    }

    fn matches(&self, def: &Def, fold: bool) -> bool {
        let same = |a: &str, b: &str| {
            if fold {
                a.to_lowercase() == b.to_lowercase()
            } else {
                a == b
            }
        };
        let container_ok = match (&self.container, &def.container) {
            (None, _) => true,
            (Some(want), Some(have)) => {
                let last = have.rsplit("::").next().unwrap_or(have);
                same(want, have) || same(want, last)
            }
            (Some(_), None) => false,
        };
        container_ok && same(&self.name, &def.name)
    }

    fn shown(&self) -> String {
        match &self.container {
            Some(c) => format!("{c}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// The cheap first pass over every file: the name as a whole word, in any
/// case (so the case-insensitive fallback sees every candidate). A file
/// that fails it cannot define the name and is never parsed.
fn screen(name: &str) -> Result<RegexMatcher, ToolError> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    // Whole-word matching needs word characters at both ends (`~Parser`
    // and `$el` are matched as plain substrings).
    let wordy = name.starts_with(is_word) && name.ends_with(is_word);
    RegexMatcherBuilder::new()
        .fixed_strings(true)
        .case_insensitive(true)
        .word(wordy)
        .build(name)
        .map_err(|e| ToolError::Failed(format!("internal error: cannot search for `{name}`: {e}")))
}

/// `fn` → `function` and the like, then checked against [`KINDS`].
fn normalise_kind(raw: &str) -> Result<&'static str, ToolError> {
    let lower = raw.trim().to_lowercase();
    let wanted = match lower.as_str() {
        "fn" | "func" | "def" | "functions" => "function",
        "constant" => "const",
        "variable" | "let" => "var",
        "mod" | "package" => "module",
        "typedef" | "alias" => "type",
        other => other,
    };
    KINDS.iter().copied().find(|k| *k == wanted).ok_or_else(|| {
        ToolError::InvalidArguments(format!(
            "Invalid arguments for find_symbol: unknown kind `{}`; use one of {}, or leave `kind` out.",
            one_line(raw, 40),
            KINDS.join(", ")
        ))
    })
}

impl Tool for FindSymbol {
    const NAME: &'static str = "find_symbol";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let query = Query::parse(&args.name)?;
        let kind = args.kind.as_deref().map(normalise_kind).transpose()?;
        let given = match args.path.as_deref().map(str::trim) {
            None | Some("") => ".",
            Some(p) => p,
        };
        let path = ctx.workspace.resolve_existing(given)?;
        let workspace = ctx.workspace.clone();
        let cancel = ctx.cancel.clone();
        run_blocking_cancellable(ctx, move || find(&workspace, &path, &query, kind, &cancel)).await
    }
}

/// One definition that matched, with its file and source line.
struct Hit {
    path: PathBuf,
    def: Def,
    source: String,
}

/// What searching one file found.
#[derive(Default)]
struct FileHits {
    exact: Vec<Hit>,
    folded: Vec<Hit>,
    /// The size, when the file was too large to search.
    too_large: Option<u64>,
}

fn find(
    workspace: &Workspace,
    path: &Path,
    query: &Query,
    kind: Option<&'static str>,
    cancel: &CancellationToken,
) -> Result<ToolOutput, ToolError> {
    let shown = workspace.display(path);
    let files = if path.is_dir() {
        source_files(path, cancel)?
    } else if !path.is_file() {
        return Err(ToolError::Failed(format!(
            "`{shown}` is not a regular file or directory; give a directory or a source file as `path`"
        )));
    } else if Lang::from_path(path).is_some() {
        vec![path.to_path_buf()]
    } else {
        return Err(ToolError::Failed(format!(
            "`{shown}` is not a supported source file; find_symbol reads {}. Give a directory or a source file as `path`",
            supported_extensions()
        )));
    };
    let screen = screen(&query.name)?;
    let results = parallel_map(&files, cancel, |file| search_file(file, query, &screen))?;
    let mut found = Found {
        files: files.len(),
        ..Found::default()
    };
    let mut folded = Vec::new();
    for (file, hits) in files.iter().zip(results) {
        found.hits.extend(hits.exact);
        folded.extend(hits.folded);
        if let Some(size) = hits.too_large {
            let rel = workspace.display(file);
            found.skipped.push(format!("{rel} ({})", human_size(size)));
        }
    }
    if found.hits.is_empty() {
        found.hits = folded;
        found.ignoring_case = true;
    }
    if let Some(kind) = kind {
        found.unfiltered = found.hits.len();
        let (kept, others): (Vec<Hit>, Vec<Hit>) =
            found.hits.into_iter().partition(|h| h.def.kind == kind);
        found.hits = kept;
        for other in others {
            if !found.other_kinds.contains(&other.def.kind) {
                found.other_kinds.push(other.def.kind);
            }
        }
    }
    Ok(render(workspace, &shown, query, kind, found))
}

/// Everything a search found, for [`render`].
#[derive(Default)]
struct Found {
    /// Matches of the wanted kind, sorted by path and line.
    hits: Vec<Hit>,
    /// Nothing matched exactly, so `hits` match ignoring case.
    ignoring_case: bool,
    /// Matches before the kind filter.
    unfiltered: usize,
    /// The kinds the filter left out.
    other_kinds: Vec<&'static str>,
    /// Source files searched.
    files: usize,
    /// `path (size)` of files too large to search.
    skipped: Vec<String>,
}

fn render(
    workspace: &Workspace,
    shown: &str,
    query: &Query,
    kind: Option<&'static str>,
    found: Found,
) -> ToolOutput {
    let wanted = query.shown();
    let what = kind.unwrap_or("definition");
    let count = found.hits.len();
    let mut content = if count == 0 && found.unfiltered > 0 {
        format!(
            "No {what} named `{wanted}` under `{shown}`, but {} {} of other kinds ({}); call find_symbol again without `kind` to see them.",
            found.unfiltered,
            plural(found.unfiltered, "definition"),
            found.other_kinds.join(", ")
        )
    } else if count == 0 {
        format!(
            "No definition named `{wanted}` in {} source {} under `{shown}` (names must match exactly, or else ignoring case; hidden and .gitignore'd files are skipped). Use grep to search the text instead.",
            found.files,
            plural(found.files, "file")
        )
    } else if found.ignoring_case {
        format!(
            "No exact match for `{wanted}`; {count} {} {} ignoring case:",
            plural(count, what),
            if count == 1 { "matches" } else { "match" }
        )
    } else {
        format!("{count} {} of `{wanted}`:", plural(count, what))
    };
    for hit in found.hits.iter().take(MAX_MATCHES) {
        content.push_str(&format!(
            "\n{}:{}: {}\n    {}",
            workspace.display(&hit.path),
            hit.def.name_line,
            hit.def.describe(),
            hit.source
        ));
    }
    if count > MAX_MATCHES {
        content.push_str(&format!(
            "\n[... {} more matches; narrow the search with `path` or `kind`]",
            count - MAX_MATCHES
        ));
    }
    push_skipped(&mut content, &found.skipped);
    let summary = match count {
        0 => format!("find_symbol {wanted}: no match"),
        n => format!("find_symbol {wanted}: {n} {}", plural(n, "match")),
    };
    ToolOutput { content, summary }
}

fn push_skipped(content: &mut String, skipped: &[String]) {
    if skipped.is_empty() {
        return;
    }
    let named = skipped
        .iter()
        .take(MAX_SKIPPED_NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let rest = skipped.len().saturating_sub(MAX_SKIPPED_NAMED);
    let rest = if rest > 0 {
        format!(" and {rest} more")
    } else {
        String::new()
    };
    content.push_str(&format!(
        "\n(Not searched, over the {} limit: {named}{rest}; use grep for those.)",
        human_size(MAX_FILE_BYTES)
    ));
}

fn search_file(path: &Path, query: &Query, screen: &RegexMatcher) -> FileHits {
    let bytes = match read_source(path) {
        Ok(Source::Text(bytes)) => bytes,
        Ok(Source::TooLarge(size)) => {
            return FileHits {
                too_large: Some(size),
                ..FileHits::default()
            };
        }
        // Binary or unreadable files cannot hold a definition we could show.
        Ok(Source::Binary) | Err(_) => return FileHits::default(),
    };
    if !screen.is_match(&bytes).unwrap_or(true) {
        return FileHits::default();
    }
    let Some(outline) = Lang::from_path(path).and_then(|lang| outline(lang, &bytes).ok()) else {
        return FileHits::default();
    };
    let mut hits = FileHits::default();
    for def in outline.defs {
        let list = if query.matches(&def, false) {
            &mut hits.exact
        } else if query.matches(&def, true) {
            &mut hits.folded
        } else {
            continue;
        };
        let source = source_line(&bytes, def.name_line);
        list.push(Hit {
            path: path.to_path_buf(),
            def,
            source,
        });
    }
    hits.exact.sort_by_key(|h| h.def.name_line);
    hits.folded.sort_by_key(|h| h.def.name_line);
    hits
}

/// Line `n` (from 1) of the file, trimmed and cut for display.
fn source_line(bytes: &[u8], n: usize) -> String {
    let line = bytes
        .split(|&b| b == b'\n')
        .nth(n.saturating_sub(1))
        .unwrap_or_default();
    one_line(String::from_utf8_lossy(line).trim(), MAX_SOURCE_CHARS)
}

/// `1 match`, `2 matches`, `2 classes`: the noun, plural unless `n` is 1.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        noun.to_string()
    } else if ["s", "sh", "ch", "x"].iter().any(|end| noun.ends_with(end)) {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    }
}
