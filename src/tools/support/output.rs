//! Keeping tool output within what the model and a terminal can take.

/// The first line of `text`, cut to at most `max_chars` characters.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max_chars {
        line.to_string()
    } else {
        let cut: String = line.chars().take(max_chars).collect();
        format!("{cut}…")
    }
}

/// Cuts `text` to at most `max_bytes` bytes (plus the marker), at the last
/// line boundary that fits, and appends `[... N more lines]` so the model
/// knows output is missing. A single line longer than the cap is cut at a
/// character boundary; its remainder counts as one of the N lines.
pub fn truncate_output(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let mut cut = max_bytes;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    // Prefer to end on a whole line.
    if let Some(newline) = text[..cut].rfind('\n') {
        cut = newline + 1;
    }
    let kept = text[..cut].trim_end_matches('\n');
    let rest = &text[cut..];
    let more = count_lines(rest);
    let lines = if more == 1 { "line" } else { "lines" };
    format!("{kept}\n[... {more} more {lines}]")
}

/// Number of lines in `text`: a final line without a newline counts, a
/// trailing newline does not start a new one (`""` → 0, `"a\n"` → 1,
/// `"a\nb"` → 2).
pub fn count_lines(text: &str) -> usize {
    let newlines = text.bytes().filter(|&b| b == b'\n').count();
    if text.is_empty() || text.ends_with('\n') {
        newlines
    } else {
        newlines + 1
    }
}

/// `text` made safe to print to a terminal: control characters other than
/// newline and tab (escape sequences, carriage returns, backspaces, C1
/// controls) are shown as visible symbols instead of being sent, so text
/// from the model or from files can neither restyle nor rewrite the screen.
/// C0 controls become their Unicode "control picture" (ESC → `␛`, CR →
/// `␍`), DEL becomes `␡` and C1 controls `�`.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            '\u{7f}' => '\u{2421}',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect::<String>()
        .into()
}

/// Cuts `text` to at most `max_bytes` bytes (plus the marker) by keeping
/// its first third and its last two thirds, at line boundaries, with the
/// line `marker(N)` standing for the N lines left out between them. The end
/// of an output (the error, the summary line) is what a model most often
/// needs, so it gets the larger share. Text that fits is returned as is.
pub fn head_and_tail(text: &str, max_bytes: usize, marker: impl Fn(usize) -> String) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let mut head_end = max_bytes / 3;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    if let Some(newline) = text[..head_end].rfind('\n') {
        head_end = newline + 1;
    }
    let mut tail_start = text.len() - (max_bytes - max_bytes / 3);
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    if let Some(newline) = text[tail_start..].find('\n') {
        if tail_start + newline + 1 < text.len() {
            tail_start += newline + 1;
        }
    }
    let middle = &text[head_end..tail_start];
    let head = text[..head_end].trim_end_matches('\n');
    format!(
        "{head}\n{}\n{}",
        marker(count_lines(middle)),
        &text[tail_start..]
    )
}
