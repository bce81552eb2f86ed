//! The words the model is told after a review, kept in `prompts/review.md`
//! so they can be read and edited as prose.

const REVIEW_PROMPTS: &str = include_str!("../../prompts/review.md");

/// The `## name` section of `prompts/review.md`, trimmed, with each
/// `{key}` replaced by its value.
pub(super) fn words(name: &str, values: &[(&str, &str)]) -> String {
    let mut text = section(name)
        // A missing section is a bug caught by this module's tests; the
        // model still gets a usable message.
        .unwrap_or_else(|| format!("glint: {name}"));
    for (key, value) in values {
        text = text.replace(&format!("{{{key}}}"), value);
    }
    text
}

fn section(name: &str) -> Option<String> {
    REVIEW_PROMPTS.split("\n## ").skip(1).find_map(|section| {
        let (title, body) = section.split_once('\n')?;
        (title.trim() == name).then(|| body.trim().to_string())
    })
}

/// The user's note as its own paragraph, or `otherwise` when there is none.
pub(super) fn note_or(note: &str, otherwise: Option<&str>) -> Option<String> {
    let note = note.trim();
    if note.is_empty() {
        otherwise.map(|name| words(name, &[]))
    } else {
        Some(words("note", &[("note", note)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_its_section() {
        for name in [
            "rejected",
            "rejected_no_note",
            "note",
            "partial",
            "applied_hunks",
            "rejected_hunks",
            "excerpt",
            "edited",
            "stale",
            "write_failed",
        ] {
            assert!(section(name).is_some(), "prompts/review.md lacks ## {name}");
        }
        assert_eq!(
            words("note", &[("note", "keep it short")]),
            "The user's note: keep it short"
        );
    }
}
