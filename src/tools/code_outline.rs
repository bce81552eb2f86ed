//! `code_outline`: the definitions in a source file, or in every source
//! file under a directory, with their line ranges, so the model can read
//! only the part of a file it needs instead of the whole file.

use std::path::Path;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::support::code::{
    Lang, MAX_FILE_BYTES, Outline, Source, human_size, outline, parallel_map, read_source,
    source_files, supported_extensions,
};
use super::{
    MAX_OUTPUT_BYTES, Tool, ToolContext, ToolError, ToolOutput, run_blocking_cancellable,
    truncate_output,
};
use crate::workspace::Workspace;

/// Source files outlined at most in one call; a directory with more gets a
/// marker saying how many were left out.
pub const MAX_FILES: usize = 200;
/// Room kept under [`MAX_OUTPUT_BYTES`] for the closing notes, so the
/// registry's own cap never cuts them off.
const NOTE_RESERVE_BYTES: usize = 400;

pub struct CodeOutline;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    path: String,
}

impl Tool for CodeOutline {
    const NAME: &'static str = "code_outline";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        // An empty path is what a model writes when it means "here".
        let given = match args.path.trim() {
            "" => ".",
            p => p,
        };
        let path = ctx.workspace.resolve_existing(given)?;
        let workspace = ctx.workspace.clone();
        let cancel = ctx.cancel.clone();
        run_blocking_cancellable(ctx, move || {
            if path.is_dir() {
                outline_dir(&workspace, &path, &cancel)
            } else {
                outline_file(&workspace, &path)
            }
        })
        .await
    }
}

fn outline_file(workspace: &Workspace, path: &Path) -> Result<ToolOutput, ToolError> {
    let shown = workspace.display(path);
    if !path.is_file() {
        return Err(ToolError::Failed(format!(
            "`{shown}` is not a regular file or directory; code_outline reads source files"
        )));
    }
    let Some(lang) = Lang::from_path(path) else {
        return Err(ToolError::Failed(format!(
            "`{shown}` is not a supported source file; code_outline reads {}. Use read_file to read other files",
            supported_extensions()
        )));
    };
    let io_failed = |e: std::io::Error| ToolError::Failed(format!("cannot read `{shown}`: {e}"));
    let source = match read_source(path).map_err(io_failed)? {
        Source::Text(bytes) => bytes,
        Source::TooLarge(size) => {
            return Err(ToolError::Failed(format!(
                "`{shown}` is {}, over the {} code_outline parses; use grep to find definitions in it, or read_file to page through it",
                human_size(size),
                human_size(MAX_FILE_BYTES)
            )));
        }
        Source::Binary => {
            return Err(ToolError::Failed(format!(
                "`{shown}` looks binary (it contains NUL bytes); code_outline parses only source text"
            )));
        }
    };
    let outline = outline(lang, &source).map_err(ToolError::Failed)?;
    let line_count = source.split(|&b| b == b'\n').count()
        - usize::from(source.ends_with(b"\n") || source.is_empty());
    let count = outline.defs.len();
    let summary = format!("{shown}: {count} {}", plural(count, "definition"));
    let mut header = format!(
        "{shown} ({}, {line_count} {}): {count} {}",
        lang.name(),
        plural(line_count, "line"),
        plural(count, "definition")
    );
    if outline.has_errors {
        header.push_str("; the file has syntax errors, so this is what the parser recovered");
    }
    let budget = MAX_OUTPUT_BYTES.saturating_sub(NOTE_RESERVE_BYTES);
    let mut content = header;
    for (i, def) in outline.defs.iter().enumerate() {
        let line = def.outline_line();
        if content.len() + 1 + line.len() > budget {
            content.push_str(&format!(
                "\n[... {} more definitions; read_file from line {} shows the rest of the file]",
                count - i,
                def.start_line
            ));
            break;
        }
        content.push('\n');
        content.push_str(&line);
    }
    Ok(ToolOutput { content, summary })
}

/// What became of one file of a directory.
enum FileOutline {
    Parsed(Outline),
    Skipped(String),
}

fn outline_one(path: &Path) -> FileOutline {
    let Some(lang) = Lang::from_path(path) else {
        return FileOutline::Skipped("not a supported source file".into());
    };
    match read_source(path) {
        Ok(Source::Text(bytes)) => match outline(lang, &bytes) {
            Ok(outline) => FileOutline::Parsed(outline),
            Err(e) => FileOutline::Skipped(e),
        },
        Ok(Source::TooLarge(size)) => FileOutline::Skipped(format!(
            "{}, over the {} limit",
            human_size(size),
            human_size(MAX_FILE_BYTES)
        )),
        Ok(Source::Binary) => FileOutline::Skipped("binary".into()),
        Err(e) => FileOutline::Skipped(format!("cannot read it: {e}")),
    }
}

fn outline_dir(
    workspace: &Workspace,
    dir: &Path,
    cancel: &CancellationToken,
) -> Result<ToolOutput, ToolError> {
    let shown = workspace.display(dir);
    let files = source_files(dir, cancel)?;
    if files.is_empty() {
        return Ok(ToolOutput {
            content: format!(
                "`{shown}` has no supported source files ({}); hidden files and files ignored by .gitignore are skipped.",
                supported_extensions()
            ),
            summary: format!("{shown}: no source files"),
        });
    }
    let total = files.len();
    let chosen = &files[..total.min(MAX_FILES)];
    let outlines = parallel_map(chosen, cancel, |path| outline_one(path))?;

    let budget = MAX_OUTPUT_BYTES.saturating_sub(NOTE_RESERVE_BYTES);
    let mut blocks = String::new();
    let mut definitions = 0;
    let mut empty = 0;
    // Index of the first file not shown, when the output filled up.
    let mut cut_at = None;
    for (i, (path, result)) in chosen.iter().zip(&outlines).enumerate() {
        let rel = workspace.display(path);
        let block = match result {
            FileOutline::Parsed(o) if o.defs.is_empty() => {
                empty += 1;
                continue;
            }
            FileOutline::Parsed(o) => {
                definitions += o.defs.len();
                let mut block = rel;
                if o.has_errors {
                    block.push_str(" (syntax errors; showing what the parser recovered)");
                }
                for def in &o.defs {
                    block.push_str("\n  ");
                    block.push_str(&def.outline_line());
                }
                block
            }
            FileOutline::Skipped(reason) => format!("{rel}: skipped ({reason})"),
        };
        if blocks.is_empty() && block.len() > budget {
            // One huge file: show as much of it as fits.
            blocks = truncate_output(&block, budget);
            cut_at = Some(i + 1);
            break;
        }
        if !blocks.is_empty() && blocks.len() + 2 + block.len() > budget {
            cut_at = Some(i);
            break;
        }
        if !blocks.is_empty() {
            blocks.push_str("\n\n");
        }
        blocks.push_str(&block);
    }

    let mut header = format!("{shown}: {total} source {}", plural(total, "file"));
    if empty > 0 {
        header.push_str(&format!(" ({empty} without definitions not listed)"));
    }
    let mut content = header;
    if !blocks.is_empty() {
        content.push_str("\n\n");
        content.push_str(&blocks);
    }
    let shown_files = cut_at.unwrap_or(chosen.len());
    let more = total - shown_files;
    if more > 0 {
        content.push_str(&format!(
            "\n[... {more} more {}; outline a subdirectory or a single file to see them]",
            plural(more, "file")
        ));
    }
    Ok(ToolOutput {
        content,
        summary: format!(
            "{shown}: {definitions} {} in {total} {}",
            plural(definitions, "definition"),
            plural(total, "file")
        ),
    })
}

/// `1 file`, `2 files`: the noun, plural unless `n` is 1.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        noun.to_string()
    } else {
        format!("{noun}s")
    }
}
