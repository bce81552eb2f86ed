//! `read_file`: numbered lines of a text file, paged by offset/limit.
//!
//! The `{n}\t{line}` format (no padding) matches what GLM saw in training
//! transcripts and the reference renders, so the model can cite line numbers
//! and knows the prefix is not part of the file.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::Deserialize;

use crate::workspace::{OpenError, open_regular};

use super::support::spill::resolve_readable;
use super::{MAX_OUTPUT_BYTES, Tool, ToolContext, ToolError, ToolOutput, run_blocking_cancellable};

/// Lines returned when the model gives no `limit`, and the most it may ask
/// for in one call.
pub const DEFAULT_LIMIT: u64 = 2000;
/// Characters of one line shown before it is cut; keeps minified files and
/// data blobs from filling the context with one line.
pub const MAX_LINE_CHARS: usize = 2000;
/// How much of the start of a file is searched for a NUL byte, the usual
/// quick test for binary content.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;
/// Room kept under [`MAX_OUTPUT_BYTES`] for the paging note, so the note is
/// never cut off by the registry's own cap.
const NOTE_RESERVE_BYTES: usize = 200;

pub struct ReadFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    path: String,
    offset: Option<i64>,
    limit: Option<i64>,
}

impl Tool for ReadFile {
    const NAME: &'static str = "read_file";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let invalid = |problem: String| ToolError::invalid(Self::NAME, problem);
        // Models often count from 0; line 0 does not exist, so read from
        // the start rather than spend a turn on an error. Negative
        // offsets are refused: a model may mean "from the end", which
        // this tool does not do.
        let offset = match args.offset {
            None => 1,
            Some(n) if n < 0 => {
                return Err(invalid(format!(
                    "`offset` is a line number counting from 1, got {n}"
                )));
            }
            Some(n) => n.max(1) as u64,
        };
        let limit = match args.limit {
            None => DEFAULT_LIMIT,
            Some(n) if n < 1 => {
                return Err(invalid(format!(
                    "`limit` must be at least 1 (at most {DEFAULT_LIMIT}), got {n}; leave it out to read up to {DEFAULT_LIMIT} lines"
                )));
            }
            Some(n) => (n as u64).min(DEFAULT_LIMIT),
        };
        // Spill files (whole outputs too long for a result) are readable
        // too, so the model can page through them.
        let (path, shown) = resolve_readable(ctx, &args.path)?;
        run_blocking_cancellable(ctx, move || read(&path, &shown, offset, limit)).await
    }
}

fn read(path: &Path, shown: &str, offset: u64, limit: u64) -> Result<ToolOutput, ToolError> {
    let io_failed = |e: std::io::Error| ToolError::Failed(format!("cannot read `{shown}`: {e}"));
    let meta = std::fs::metadata(path).map_err(io_failed)?;
    if meta.is_dir() {
        return Err(ToolError::Failed(format!(
            "`{shown}` is a directory; use list_dir to see its entries"
        )));
    }
    if !meta.is_file() {
        // Reading a FIFO or device could block forever or never end.
        return Err(ToolError::Failed(format!(
            "`{shown}` is not a regular file; glint reads only regular text files"
        )));
    }
    let size = meta.len();
    let binary = || {
        ToolError::Failed(format!(
            "`{shown}` is a binary file ({size} bytes); glint reads only text files"
        ))
    };

    // Opened non-blocking and checked again on the descriptor, so a FIFO
    // or device swapped in since the check above never blocks or is read.
    let (mut file, _) = open_regular(path).map_err(|e| match e {
        OpenError::Io(e) => io_failed(e),
        OpenError::NotRegular { .. } => ToolError::Failed(format!(
            "`{shown}` is not a regular file; glint reads only regular text files"
        )),
    })?;
    let mut head = Vec::with_capacity(BINARY_SNIFF_BYTES);
    (&mut file)
        .take(BINARY_SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_failed)?;
    if head.contains(&0) {
        return Err(binary());
    }
    if head.is_empty() {
        return Ok(ToolOutput {
            content: format!("`{shown}` is empty (0 bytes)."),
            summary: format!("{shown}: empty"),
        });
    }

    // Stream the file so a large one is never held in memory whole: keep
    // only the requested lines, but count them all for the paging note.
    // UTF-8 is checked line by line, which is exact because a newline byte
    // never occurs inside a multi-byte character.
    let mut reader = BufReader::new(std::io::Cursor::new(head).chain(file));
    let mut raw = Vec::new();
    let mut output = String::new();
    let budget = MAX_OUTPUT_BYTES.saturating_sub(NOTE_RESERVE_BYTES);
    let mut total: u64 = 0;
    let mut last_shown: u64 = 0;
    // Set once the output budget is spent: later lines are only counted.
    let mut full = false;
    loop {
        raw.clear();
        let n = reader.read_until(b'\n', &mut raw).map_err(io_failed)?;
        if n == 0 {
            break;
        }
        total += 1;
        if raw.contains(&0) {
            return Err(binary());
        }
        let line = std::str::from_utf8(&raw).map_err(|_| binary())?;
        let wanted = total >= offset && total - offset < limit;
        if !wanted || full {
            continue;
        }
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let entry = format!("{total}\t{}", cut_line(line));
        // Always show at least one line, so paging always makes progress.
        if last_shown != 0 && output.len() + 1 + entry.len() > budget {
            full = true;
            continue;
        }
        if last_shown != 0 {
            output.push('\n');
        }
        output.push_str(&entry);
        last_shown = total;
    }

    if last_shown == 0 {
        return Err(ToolError::Failed(format!(
            "offset {offset} is past the end of `{shown}`, which has {total} {}; use an offset from 1 to {total}",
            plural(total, "line", "lines")
        )));
    }
    let first = offset;
    let remaining = total - last_shown;
    if remaining > 0 {
        output.push_str(&format!(
            "\n[... {remaining} more {}; call read_file with offset={} to continue]",
            plural(remaining, "line", "lines"),
            last_shown + 1
        ));
    }
    Ok(ToolOutput {
        content: output,
        summary: format!("{shown}: lines {first}-{last_shown} of {total}"),
    })
}

/// A line cut to [`MAX_LINE_CHARS`] characters, with a marker saying how
/// much was left out.
fn cut_line(line: &str) -> std::borrow::Cow<'_, str> {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        None => line.into(),
        Some((end, _)) => {
            let more = line[end..].chars().count();
            format!("{} [... {more} more characters]", &line[..end]).into()
        }
    }
}

fn plural<'s>(n: u64, one: &'s str, many: &'s str) -> &'s str {
    if n == 1 { one } else { many }
}
