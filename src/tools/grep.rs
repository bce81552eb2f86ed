//! `grep`: a regex search over the workspace, built on ripgrep's own crates
//! (`grep-regex`, `grep-searcher`, `ignore`).
//!
//! Files are searched in parallel by the walker's threads, then the results
//! are sorted by path, so the output is the same from run to run and
//! `offset` pages through it reliably.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::support::search::matches::{FileResult, Mode, fill_lines, search_file, searcher};
use super::support::search::{Batch, PathPattern, count_of, sort_paths, visit_parallel};
use super::support::spill::{SpillArea, resolve_readable, spill_note};
use super::{
    MAX_OUTPUT_BYTES, Tool, ToolContext, ToolError, ToolOutput, one_line, run_blocking_cancellable,
};
use crate::workspace::Workspace;

/// Entries (matching lines, files or counts) shown when `head_limit` is not
/// given.
pub const DEFAULT_HEAD_LIMIT: u64 = 200;
/// The largest `head_limit` honoured.
pub const MAX_HEAD_LIMIT: u64 = 2000;
/// The most context lines shown on each side of a match.
pub const MAX_CONTEXT: u64 = 20;
/// The longest `pattern` taken, in bytes. The lazy DFA's states for a
/// long, self-similar pattern (`aaa…ab` over a line of `a`s) cost time that
/// grows with the square of the pattern's length, whatever the cache size
/// (measured on a 1 MiB line: 1,000 bytes 7 ms, 2,000 26 ms, 4,096 84 ms,
/// 10,000 0.56 s); at this bound a search stays under about 0.1 s per file.
/// Ordinary patterns (words, identifiers) cost well under 1 ms.
pub const MAX_PATTERN_BYTES: usize = 4096;
/// The most memory the regex's compiled program may take (grep-regex's
/// default is 100 MiB); a pattern whose repetitions expand past it
/// (`(\w{100}){100}`) is refused instead of compiled for seconds.
const REGEX_SIZE_LIMIT: usize = 10 << 20;
/// Room kept under [`MAX_OUTPUT_BYTES`] for the paging marker and the
/// note naming the spill file.
const NOTE_RESERVE_BYTES: usize = 1600;

pub struct Grep;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    pattern: String,
    path: Option<String>,
    glob: Option<String>,
    case_insensitive: Option<bool>,
    literal: Option<bool>,
    context: Option<i64>,
    output_mode: Option<String>,
    head_limit: Option<i64>,
    offset: Option<i64>,
}

/// The checked arguments the blocking search needs.
struct Request {
    pattern: String,
    mode: Mode,
    context: u64,
    limit: u64,
    /// Whether the model chose `head_limit`: a cut at its own limit is no
    /// reason for a spill file, only grep's default or byte budget is.
    limit_given: bool,
    offset: u64,
    filter: Option<(PathPattern, String)>,
}

impl Tool for Grep {
    const NAME: &'static str = "grep";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let invalid = |problem: String| ToolError::invalid(Self::NAME, problem);
        if args.pattern.is_empty() {
            return Err(invalid(
                "`pattern` is empty; give a regular expression such as `fn main` or `TODO|FIXME`"
                    .into(),
            ));
        }
        if args.pattern.len() > MAX_PATTERN_BYTES {
            return Err(invalid(format!(
                "`pattern` is {} bytes long, more than the {MAX_PATTERN_BYTES} allowed; search for a shorter distinctive part of the text",
                args.pattern.len()
            )));
        }
        if args.pattern.contains('\0') {
            return Err(invalid(
                "`pattern` contains a NUL byte; files containing NUL bytes are binary and never searched, so it cannot match"
                    .into(),
            ));
        }
        for (name, value) in [("path", &args.path), ("glob", &args.glob)] {
            if value.as_deref().is_some_and(|v| v.contains('\0')) {
                return Err(invalid(format!(
                    "`{name}` contains a NUL byte, which no path can hold"
                )));
            }
        }
        let mode = match args.output_mode.as_deref() {
            None | Some("content") => Mode::Content,
            Some("files_with_matches") => Mode::Files,
            Some("count") => Mode::Count,
            Some(other) => {
                return Err(invalid(format!(
                    "`output_mode` must be \"content\", \"files_with_matches\" or \"count\", got \"{}\"",
                    one_line(other, 40)
                )));
            }
        };
        let context = match args.context {
            None => 0,
            Some(n) if n < 0 => {
                return Err(invalid(format!("`context` must be 0 or more, got {n}")));
            }
            Some(n) => (n as u64).min(MAX_CONTEXT),
        };
        let limit = match args.head_limit {
            None => DEFAULT_HEAD_LIMIT,
            Some(n) if n < 1 => {
                return Err(invalid(format!(
                    "`head_limit` must be at least 1 (at most {MAX_HEAD_LIMIT}), got {n}"
                )));
            }
            Some(n) => (n as u64).min(MAX_HEAD_LIMIT),
        };
        let offset = match args.offset {
            None => 0,
            Some(n) if n < 0 => {
                return Err(invalid(format!("`offset` must be 0 or more, got {n}")));
            }
            Some(n) => n as u64,
        };
        let literal = args.literal.unwrap_or(false);
        let matcher = RegexMatcherBuilder::new()
            .case_insensitive(args.case_insensitive.unwrap_or(false))
            .fixed_strings(literal)
            // Lets the searcher find candidate lines with a fast literal
            // scan, as ripgrep does; grep matches within one line anyway.
            .line_terminator(Some(b'\n'))
            // Binary files (with a NUL) are never searched, so a pattern
            // that needs one is an error rather than a silent no-match.
            .ban_byte(Some(b'\0'))
            .size_limit(REGEX_SIZE_LIMIT)
            .build(&args.pattern)
            .map_err(|e| invalid(regex_problem(&e.to_string())))?;
        let root = ctx.workspace.root().to_path_buf();
        let filter = match args.glob.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(glob) => {
                let compiled = PathPattern::new(glob, &root, true).map_err(|problem| {
                    invalid(format!(
                        "`glob` is not a valid glob ({problem}); use e.g. `*.rs` or `src/**/*.{{ts,tsx}}`"
                    ))
                })?;
                Some((compiled, glob.to_string()))
            }
        };
        let given = match args.path.as_deref() {
            None | Some("") => ".",
            Some(p) => p,
        };
        // A spill file (a whole output too long for a result) may be
        // searched too.
        let (dir, _) = resolve_readable(ctx, given)?;
        let request = Request {
            pattern: args.pattern,
            mode,
            context,
            limit,
            limit_given: args.head_limit.is_some(),
            offset,
            filter,
        };
        let workspace = ctx.workspace.clone();
        let cancel = ctx.cancel.clone();
        let spill = ctx.spill.clone();
        run_blocking_cancellable(ctx, move || {
            grep(&workspace, &dir, &matcher, &request, &cancel, &spill)
        })
        .await
    }
}

/// The regex parser's multi-line report as one line, with a hint.
fn regex_problem(message: &str) -> String {
    let detail: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '^' || c == '~'))
        .collect();
    let detail = one_line(&detail.join(" "), 300);
    if detail.contains("size limit") {
        return format!(
            "`pattern` compiles to a regular expression larger than grep allows ({detail}); use fewer or smaller repetitions, or a shorter pattern"
        );
    }
    format!(
        "`pattern` is not a valid regular expression ({}); escape special characters such as ( ) [ ] {{ }} . * + ? | \\ with a backslash, or set `literal` to true to search for the text as written",
        detail
    )
}

fn grep(
    workspace: &Workspace,
    dir: &Path,
    matcher: &RegexMatcher,
    request: &Request,
    cancel: &CancellationToken,
    spill: &SpillArea,
) -> Result<ToolOutput, ToolError> {
    let root = workspace.root();
    // Content is filled in afterwards for the shown matches only.
    let walk_mode = match request.mode {
        Mode::Content => Mode::Count,
        other => other,
    };
    let found: Mutex<Vec<FileResult>> = Mutex::new(Vec::new());
    let unreadable = AtomicUsize::new(0);
    let stats = visit_parallel(dir, cancel, || {
        let mut searcher = searcher(walk_mode, 0);
        let mut batch = Batch::new(&found);
        let unreadable = &unreadable;
        move |entry: &ignore::DirEntry| {
            // Symlinks are skipped: their targets inside the workspace are
            // searched under their own paths.
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return true;
            }
            let path = entry.path();
            if let Some((filter, _)) = &request.filter {
                if !filter.matches(path, dir, root) {
                    return true;
                }
            }
            match search_file(&mut searcher, matcher, walk_mode, 0, path, cancel) {
                Ok(Some(result)) => batch.push(result),
                Ok(None) => {}
                Err(_) => {
                    unreadable.fetch_add(1, Ordering::Relaxed);
                }
            }
            true
        }
    })?;
    let mut results = found.into_inner().unwrap_or_else(|e| e.into_inner());
    sort_paths(&mut results, |r| &r.path);
    if request.mode == Mode::Content {
        let window = (request.offset, request.offset + request.limit);
        fill_lines(
            &mut results,
            matcher,
            request.context as usize,
            window,
            cancel,
        )?;
    }
    let unreadable = stats.unreadable + unreadable.into_inner();
    let (mut output, cut) = render(workspace, dir, request, &results, unreadable)?;
    if cut {
        match spill_whole(workspace, matcher, request, &results, cancel, spill) {
            Ok(note) => {
                output.content.push('\n');
                output.content.push_str(&note);
            }
            Err(e) => tracing::warn!("cannot write a spill file for grep: {e}"),
        }
    }
    Ok(output)
}

/// Writes every entry of the search (from the first, whatever `offset`
/// and `head_limit` were), as the result renders them, to a spill file;
/// returns the note naming it. Matching lines are read again one file at a
/// time and streamed to the file, so only one file's lines are held.
fn spill_whole(
    workspace: &Workspace,
    matcher: &RegexMatcher,
    request: &Request,
    results: &[FileResult],
    cancel: &CancellationToken,
    spill: &SpillArea,
) -> std::io::Result<String> {
    let mut file = spill.create(Grep::NAME)?;
    let mut lines = 0usize;
    match request.mode {
        Mode::Content => {
            let whole = Request {
                pattern: String::new(),
                mode: Mode::Content,
                context: request.context,
                limit: u64::MAX,
                limit_given: true,
                offset: 0,
                filter: None,
            };
            let mut searcher = searcher(Mode::Content, request.context as usize);
            let mut first = true;
            for result in results {
                if cancel.is_cancelled() {
                    file.discard();
                    return Err(std::io::Error::other("the search was cancelled"));
                }
                let Ok(Some(found)) = search_file(
                    &mut searcher,
                    matcher,
                    Mode::Content,
                    u64::MAX,
                    &result.path,
                    cancel,
                ) else {
                    continue;
                };
                let (text, _) =
                    render_lines(workspace, &whole, std::slice::from_ref(&found), usize::MAX);
                if text.is_empty() {
                    continue;
                }
                if !first && request.context > 0 {
                    file.write(b"--\n");
                    lines += 1;
                }
                first = false;
                file.write(text.as_bytes());
                file.write(b"\n");
                lines += text.lines().count();
            }
        }
        Mode::Files | Mode::Count => {
            for r in results {
                let line = match request.mode {
                    Mode::Count => format!("{}:{}\n", workspace.display(&r.path), r.matches),
                    _ => format!("{}\n", workspace.display(&r.path)),
                };
                file.write(line.as_bytes());
                lines += 1;
            }
        }
    }
    let path = file.finish()?;
    Ok(spill_note(&path, lines))
}

fn render(
    workspace: &Workspace,
    dir: &Path,
    request: &Request,
    results: &[FileResult],
    unreadable: usize,
) -> Result<(ToolOutput, bool), ToolError> {
    let shown_pattern = one_line(&request.pattern, 40);
    let files = results.len();
    let total: u64 = match request.mode {
        Mode::Content => results.iter().map(|r| r.matches).sum(),
        Mode::Files | Mode::Count => files as u64,
    };
    let matches: u64 = results.iter().map(|r| r.matches).sum();
    let summary = match request.mode {
        Mode::Files => format!(
            "grep `{shown_pattern}`: {}",
            count_of(files, "file", "files")
        ),
        _ => format!(
            "grep `{shown_pattern}`: {} in {}",
            count_of(matches as usize, "match", "matches"),
            count_of(files, "file", "files")
        ),
    };
    if total == 0 {
        let mut content = format!(
            "No matches for `{}` in `{}`",
            request.pattern,
            workspace.display(dir)
        );
        if let Some((_, glob)) = &request.filter {
            content.push_str(&format!(" (files matching `{glob}`)"));
        }
        content.push_str("; ignored, binary and version-control files are not searched.");
        return Ok((ToolOutput { content, summary }, false));
    }
    if request.offset >= total {
        return Err(ToolError::Failed(format!(
            "offset {} is past the end of the results ({}); use an offset from 0 to {}",
            request.offset,
            count_of(total as usize, "entry", "entries"),
            total - 1
        )));
    }

    let budget = MAX_OUTPUT_BYTES - NOTE_RESERVE_BYTES;
    let (mut content, shown) = match request.mode {
        Mode::Content => render_lines(workspace, request, results, budget),
        Mode::Files | Mode::Count => {
            let mut out = String::new();
            let mut shown: u64 = 0;
            for r in results
                .iter()
                .skip(request.offset as usize)
                .take(request.limit as usize)
            {
                let line = match request.mode {
                    Mode::Count => format!("{}:{}", workspace.display(&r.path), r.matches),
                    _ => workspace.display(&r.path),
                };
                if shown > 0 && out.len() + 1 + line.len() > budget {
                    break;
                }
                if shown > 0 {
                    out.push('\n');
                }
                out.push_str(&line);
                shown += 1;
            }
            (out, shown)
        }
    };
    let next = request.offset + shown;
    // Cut by grep's own caps (its default limit or its byte budget), not by
    // a `head_limit` the model chose.
    let cut = next < total && (!request.limit_given || shown < request.limit);
    if next < total {
        let rest = (total - next) as usize;
        let what = match request.mode {
            Mode::Content => format!(
                "{rest} more matching {} in {}",
                if rest == 1 { "line" } else { "lines" },
                count_of(files_from(results, next), "file", "files")
            ),
            _ => format!("{rest} more {}", if rest == 1 { "file" } else { "files" }),
        };
        content.push_str(&format!(
            "\n[... {what}; call grep again with offset={next} to see them, or narrow the pattern, path or glob]"
        ));
    }
    if unreadable > 0 {
        content.push_str(&format!(
            "\n[{} could not be read and were skipped]",
            count_of(unreadable, "entry", "entries")
        ));
    }
    Ok((ToolOutput { content, summary }, cut))
}

/// `path:line:text` for matches and `path-line-text` for context, with `--`
/// between groups that are not adjacent (when context was asked for).
/// Returns the text and how many matches it shows.
fn render_lines(
    workspace: &Workspace,
    request: &Request,
    results: &[FileResult],
    budget: usize,
) -> (String, u64) {
    let (start, end) = (request.offset, request.offset + request.limit);
    let context = request.context;
    let mut out = String::new();
    let mut shown: u64 = 0;
    let mut first_of_file: u64 = 0;
    for result in results {
        let first = first_of_file;
        first_of_file += result.matches;
        if first_of_file <= start {
            continue;
        }
        if first >= end {
            break;
        }
        // Line numbers of the matches of this file that are shown.
        let shown_matches: Vec<u64> = (first..)
            .zip(result.lines.iter().filter(|l| l.is_match))
            .filter(|(index, _)| (start..end).contains(index))
            .map(|(_, line)| line.number)
            .collect();
        let path = workspace.display(&result.path);
        let mut previous: Option<u64> = None;
        for line in &result.lines {
            let is_shown_match = line.is_match && shown_matches.binary_search(&line.number).is_ok();
            // The nearest shown matches on either side decide whether a
            // line is context.
            let after = shown_matches.partition_point(|&m| m < line.number);
            let near = shown_matches
                .get(after)
                .is_some_and(|&m| m - line.number <= context)
                || (after > 0 && line.number - shown_matches[after - 1] <= context);
            if !is_shown_match && !near {
                continue;
            }
            let separator = if is_shown_match { ':' } else { '-' };
            let mut text = String::new();
            let contiguous = previous.is_some_and(|p| p + 1 == line.number);
            if context > 0 && !out.is_empty() && !contiguous {
                text.push_str("--\n");
            }
            text.push_str(&format!(
                "{path}{separator}{}{separator}{}",
                line.number, line.text
            ));
            if !out.is_empty() && out.len() + 1 + text.len() > budget {
                return (out, shown);
            }
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&text);
            previous = Some(line.number);
            if is_shown_match {
                shown += 1;
            }
        }
    }
    (out, shown)
}

/// How many files hold matches from global match index `next` on.
fn files_from(results: &[FileResult], next: u64) -> usize {
    let mut seen: u64 = 0;
    let mut files = 0;
    for r in results {
        seen += r.matches;
        if seen > next {
            files += 1;
        }
    }
    files
}
