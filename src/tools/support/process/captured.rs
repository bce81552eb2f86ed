//! A command's output kept as its first and last lines, so that a command
//! printing gigabytes uses bounded memory; the whole of it can stream to a
//! spill file as it arrives.

use std::collections::VecDeque;

use crate::tools::support::spill::SpillFile;

/// Lines kept from the start of the output.
const HEAD_LINES: usize = 100;
/// Lines kept from the end of the output.
const TAIL_LINES: usize = 200;
/// Bytes kept from the start of the output (whole lines).
const HEAD_BYTES: usize = 16 * 1024;
/// Bytes kept from the end of the output (whole lines).
const TAIL_BYTES: usize = 32 * 1024;
/// Bytes of one line shown before it is cut.
const LINE_BYTES: usize = 2000;

/// The output of a command, kept as its first and last lines so that a
/// command printing gigabytes uses bounded memory, with a count of the
/// lines in between.
#[derive(Debug)]
pub struct CapturedOutput {
    head: Vec<String>,
    head_bytes: usize,
    tail: VecDeque<String>,
    tail_bytes: usize,
    /// The line being received: at most [`LINE_BYTES`] of it.
    partial: Vec<u8>,
    /// The full length of the line being received.
    partial_len: usize,
    omitted: usize,
    total_lines: usize,
    total_bytes: usize,
    /// Where every byte also goes, unchanged, when the caller asked.
    spill: Option<SpillFile>,
}

impl CapturedOutput {
    /// Empty; when `spill` is given, every byte received is also written to
    /// it (memory use stays bounded: only head and tail are kept).
    pub fn new(spill: Option<SpillFile>) -> Self {
        CapturedOutput {
            head: Vec::new(),
            head_bytes: 0,
            tail: VecDeque::new(),
            tail_bytes: 0,
            partial: Vec::new(),
            partial_len: 0,
            omitted: 0,
            total_lines: 0,
            total_bytes: 0,
            spill,
        }
    }

    /// The spill file the output was streamed to, if any.
    pub fn take_spill(&mut self) -> Option<SpillFile> {
        self.spill.take()
    }

    /// Adds bytes as they arrive.
    pub fn push(&mut self, bytes: &[u8]) {
        if let Some(spill) = self.spill.as_mut() {
            spill.write(bytes);
        }
        self.total_bytes += bytes.len();
        let mut rest = bytes;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            self.extend_partial(&rest[..newline]);
            self.end_line();
            rest = &rest[newline + 1..];
        }
        self.extend_partial(rest);
    }

    /// Ends the last line if it had no newline.
    pub fn finish(&mut self) {
        if self.partial_len > 0 {
            self.end_line();
        }
    }

    /// Lines received (including omitted ones).
    pub fn total_lines(&self) -> usize {
        self.total_lines
    }

    /// Bytes received.
    pub fn total_bytes(&self) -> usize {
        self.total_bytes
    }

    /// Lines dropped from the middle.
    pub fn omitted_lines(&self) -> usize {
        self.omitted
    }

    /// The kept lines, with `[... N lines omitted ...]` where lines were
    /// dropped.
    pub fn render(&self) -> String {
        self.render_with(
            "to see them, rerun with the output redirected to a file and use grep or read_file on it",
        )
    }

    /// As [`CapturedOutput::render`], the marker saying `how` to see the
    /// omitted lines.
    pub fn render_with(&self, how: &str) -> String {
        let mut out: Vec<String> = self.head.clone();
        if self.omitted > 0 {
            let lines = if self.omitted == 1 { "line" } else { "lines" };
            out.push(format!("[... {} {lines} omitted; {how} ...]", self.omitted));
        }
        out.extend(self.tail.iter().cloned());
        out.join("\n")
    }

    fn extend_partial(&mut self, bytes: &[u8]) {
        let room = LINE_BYTES.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.partial_len += bytes.len();
    }

    fn end_line(&mut self) {
        let line = shown_line(&self.partial, self.partial_len);
        self.partial.clear();
        self.partial_len = 0;
        self.total_lines += 1;
        if self.tail.is_empty()
            && self.head.len() < HEAD_LINES
            && self.head_bytes + line.len() <= HEAD_BYTES
        {
            self.head_bytes += line.len() + 1;
            self.head.push(line);
            return;
        }
        self.tail_bytes += line.len() + 1;
        self.tail.push_back(line);
        while self.tail.len() > TAIL_LINES || (self.tail_bytes > TAIL_BYTES && self.tail.len() > 1)
        {
            if let Some(dropped) = self.tail.pop_front() {
                self.tail_bytes -= dropped.len() + 1;
                self.omitted += 1;
            }
        }
    }
}

/// A received line as text: invalid UTF-8 replaced, a trailing `\r`
/// dropped, and a line longer than [`LINE_BYTES`] cut with a marker.
fn shown_line(kept: &[u8], full_len: usize) -> String {
    // Do not split a multi-byte character at the cut.
    let end = match std::str::from_utf8(kept) {
        Err(e) if full_len > kept.len() && e.error_len().is_none() => e.valid_up_to(),
        _ => kept.len(),
    };
    let text = String::from_utf8_lossy(&kept[..end]);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    if full_len > kept.len() {
        format!("{text} [... {} more bytes in this line]", full_len - end)
    } else {
        text.to_string()
    }
}
