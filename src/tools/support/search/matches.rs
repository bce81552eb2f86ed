//! Searching files for `grep`: one searcher per thread.
//!
//! A content search runs in two phases: the walk only counts matching lines
//! per file, then, once the counts are sorted by path, the few files holding
//! the matches that will be shown are searched again for their lines. So
//! however many lines match, only the shown ones are ever copied, and the
//! walk runs as fast as a count.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_util::sync::CancellationToken;

use super::Batch;
use crate::tools::ToolError;
use crate::tools::support::blocking::contained;

use grep_regex::RegexMatcher;
use grep_searcher::{
    BinaryDetection, Searcher, SearcherBuilder, Sink, SinkContext, SinkContextKind, SinkMatch,
};

/// What a search reports per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Matching lines, with context.
    Content,
    /// Only whether the file matches (the search stops at the first match).
    Files,
    /// The number of matching lines.
    Count,
}

/// Characters of one line kept before it is cut; keeps minified files and
/// data blobs from filling the output with one line.
pub(crate) const MAX_LINE_CHARS: usize = 500;

/// One line of a file's result: a match or a context line.
#[derive(Debug)]
pub(crate) struct Line {
    pub number: u64,
    pub is_match: bool,
    pub text: String,
}

/// The matches found in one file.
#[derive(Debug)]
pub(crate) struct FileResult {
    pub path: PathBuf,
    /// Matching lines in the file (1 in [`Mode::Files`]).
    pub matches: u64,
    /// In [`Mode::Content`], the lines of the first matches (as many as can
    /// be shown) with their context, in file order; empty otherwise.
    pub lines: Vec<Line>,
}

/// A searcher set up for one mode; each walker thread owns one.
pub(crate) fn searcher(mode: Mode, context: usize) -> Searcher {
    let context = if mode == Mode::Content { context } else { 0 };
    SearcherBuilder::new()
        // Files with a NUL byte are binary: stop and drop them, as
        // ripgrep does for files found by walking.
        .binary_detection(BinaryDetection::quit(b'\0'))
        .line_number(mode == Mode::Content)
        .before_context(context)
        .after_context(context)
        .build()
}

/// Searches one file. `keep` is how many matches' lines may be stored
/// (more are only counted). `None` for a binary file or a file without
/// matches. `cancel` is checked before every chunk read from the file and
/// after every match, so a cancelled search of a large file stops soon.
pub(crate) fn search_file(
    searcher: &mut Searcher,
    matcher: &RegexMatcher,
    mode: Mode,
    keep: u64,
    path: &Path,
    cancel: &CancellationToken,
) -> io::Result<Option<FileResult>> {
    let mut sink = FileSink {
        mode,
        keep,
        matches: 0,
        lines: Vec::new(),
        binary: false,
        cancel,
    };
    let file = std::fs::File::open(path)?;
    searcher.search_reader(
        matcher,
        CancellableReader {
            inner: file,
            cancel,
        },
        &mut sink,
    )?;
    if cancel.is_cancelled() {
        return Err(cancelled());
    }
    if sink.binary || sink.matches == 0 {
        return Ok(None);
    }
    Ok(Some(FileResult {
        path: path.to_path_buf(),
        matches: sink.matches,
        lines: sink.lines,
    }))
}

/// The I/O error a cancelled search stops with (not `Interrupted`, which
/// readers retry).
fn cancelled() -> io::Error {
    io::Error::other("cancelled")
}

/// A file read in chunks that fails once the search is cancelled.
struct CancellableReader<'a, R> {
    inner: R,
    cancel: &'a CancellationToken,
}

impl<R: io::Read> io::Read for CancellableReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(cancelled());
        }
        self.inner.read(buf)
    }
}

struct FileSink<'a> {
    mode: Mode,
    keep: u64,
    matches: u64,
    lines: Vec<Line>,
    binary: bool,
    cancel: &'a CancellationToken,
}

impl FileSink<'_> {
    fn push(&mut self, number: Option<u64>, is_match: bool, bytes: &[u8]) {
        self.lines.push(Line {
            number: number.unwrap_or(0),
            is_match,
            text: line_text(bytes),
        });
    }
}

impl Sink for FileSink<'_> {
    type Error = io::Error;

    fn matched(&mut self, _: &Searcher, mat: &SinkMatch<'_>) -> Result<bool, io::Error> {
        if self.cancel.is_cancelled() {
            return Ok(false);
        }
        match self.mode {
            Mode::Files => {
                self.matches = 1;
                Ok(false)
            }
            Mode::Count => {
                self.matches += 1;
                Ok(true)
            }
            Mode::Content => {
                // Line-oriented searches report one line per call; iterate
                // anyway so a multi-line report is still counted right.
                let mut number = mat.line_number();
                for line in mat.lines() {
                    self.matches += 1;
                    if self.matches <= self.keep {
                        self.push(number, true, line);
                    }
                    number = number.map(|n| n + 1);
                }
                Ok(true)
            }
        }
    }

    fn context(&mut self, _: &Searcher, ctx: &SinkContext<'_>) -> Result<bool, io::Error> {
        // Context after the last kept match is still wanted; beyond that,
        // nothing more of this file can be shown.
        let wanted = match ctx.kind() {
            SinkContextKind::After => self.matches <= self.keep,
            _ => self.matches < self.keep,
        };
        if wanted {
            self.push(ctx.line_number(), false, ctx.bytes());
        }
        Ok(true)
    }

    fn binary_data(&mut self, _: &Searcher, _offset: u64) -> Result<bool, io::Error> {
        self.binary = true;
        Ok(false)
    }
}

/// A line's text without its terminator, lossily decoded, cut to
/// [`MAX_LINE_CHARS`] characters with a marker saying how much was cut.
fn line_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(MAX_LINE_CHARS) {
        None => text.into_owned(),
        Some((end, _)) => {
            let more = text[end..].chars().count();
            format!("{} [... {more} more characters]", &text[..end])
        }
    }
}

/// The second phase of a content search. `results` are sorted by path with
/// the counts of the first phase; the files holding the matches numbered
/// `start..end` (in path order) are searched again, in parallel, for their
/// lines. A file that cannot be read again keeps its count but shows no
/// lines.
pub(crate) fn fill_lines(
    results: &mut [FileResult],
    matcher: &RegexMatcher,
    context: usize,
    (start, end): (u64, u64),
    cancel: &CancellationToken,
) -> Result<(), ToolError> {
    // (index into results, how many of its matches may be shown)
    let mut jobs: Vec<(usize, u64)> = Vec::new();
    let mut first: u64 = 0;
    for (i, result) in results.iter().enumerate() {
        if first >= end {
            break;
        }
        let next = first + result.matches;
        if next > start {
            jobs.push((i, end - first));
        }
        first = next;
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len());
    let next_job = AtomicUsize::new(0);
    let filled: Mutex<Vec<(usize, Vec<Line>)>> = Mutex::new(Vec::new());
    let shared: &[FileResult] = results;
    std::thread::scope(|scope| {
        for _ in 0..threads {
            // Contained: a panic here is logged, not shown, and reaches the
            // tool as a failed call when the scope joins.
            scope.spawn(|| {
                contained(|| {
                    let mut searcher = searcher(Mode::Content, context);
                    let mut batch = Batch::new(&filled);
                    while !cancel.is_cancelled() {
                        let Some(&(i, keep)) = jobs.get(next_job.fetch_add(1, Ordering::Relaxed))
                        else {
                            break;
                        };
                        let path = &shared[i].path;
                        if let Ok(Some(found)) =
                            search_file(&mut searcher, matcher, Mode::Content, keep, path, cancel)
                        {
                            batch.push((i, found.lines));
                        }
                    }
                })
            });
        }
    });
    if cancel.is_cancelled() {
        return Err(ToolError::Cancelled);
    }
    for (i, lines) in filled.into_inner().unwrap_or_else(|e| e.into_inner()) {
        if let Some(result) = results.get_mut(i) {
            result.lines = lines;
        }
    }
    Ok(())
}
