//! Bracketed paste: cleaning pasted text and collapsing long pastes into a
//! short label, so a pasted log does not push everything else off screen.

/// A paste with more lines than this collapses to a label.
pub const COLLAPSE_LINES: usize = 5;
/// A paste with more characters than this collapses to a label.
pub const COLLAPSE_CHARS: usize = 1_000;

/// Normalises line endings to `\n` and drops control characters other than
/// newline and tab (a pasted escape sequence must not reach the terminal).
pub fn clean(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    text.chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}

/// The label a paste collapses to, or `None` when it is short enough to
/// insert as text.
pub fn collapsed_label(text: &str) -> Option<String> {
    let lines = text.lines().count();
    let chars = text.chars().count();
    if lines > COLLAPSE_LINES {
        Some(format!("[Pasted {} lines]", thousands(lines)))
    } else if chars > COLLAPSE_CHARS {
        Some(format!("[Pasted {} chars]", thousands(chars)))
    } else {
        None
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_long_pastes_only() {
        assert_eq!(collapsed_label("a\nb\nc\nd\ne"), None);
        assert_eq!(
            collapsed_label(&"x\n".repeat(1234)).as_deref(),
            Some("[Pasted 1,234 lines]")
        );
        assert_eq!(
            collapsed_label(&"y".repeat(1001)).as_deref(),
            Some("[Pasted 1,001 chars]")
        );
    }

    #[test]
    fn cleans_line_endings_and_controls() {
        assert_eq!(clean("a\r\nb\rc\x1b[31m\td"), "a\nb\nc[31m\td");
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
