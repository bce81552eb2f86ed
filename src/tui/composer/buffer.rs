//! The composer's text and cursor, edited by grapheme cluster.
//!
//! Collapsed pastes live in the text as their visible label (`[Pasted 40
//! lines]`) plus an [`Element`] that remembers the label's byte range and the
//! real content. Every edit goes through [`TextBuffer::replace`], which keeps
//! those ranges in step, and every motion treats an element as one unit, so
//! the cursor never lands inside a label and Backspace removes it whole.

use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

/// An atomic token in the text: a label shown in place of `content`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// Byte range of the label in the text.
    pub range: Range<usize>,
    /// What the label stands for when the text is submitted.
    pub content: String,
}

/// A piece of text with its elements (ranges relative to the piece), so that
/// history entries and killed text keep their collapsed pastes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fragment {
    pub text: String,
    pub elements: Vec<Element>,
}

impl Fragment {
    /// Plain text without elements.
    pub fn plain(text: &str) -> Fragment {
        Fragment {
            text: text.to_owned(),
            elements: Vec::new(),
        }
    }

    /// The text with every label replaced by what it stands for.
    pub fn expanded(&self) -> String {
        let mut out = String::with_capacity(self.text.len());
        let mut at = 0;
        for element in &self.elements {
            out.push_str(&self.text[at..element.range.start]);
            out.push_str(&element.content);
            at = element.range.end;
        }
        out.push_str(&self.text[at..]);
        out
    }
}

/// What kind of unit a word motion is passing over.
#[derive(Clone, Copy, PartialEq, Eq)]
enum UnitClass {
    Space,
    Word,
    Punctuation,
    Element,
}

/// The editable text, the cursor (a byte offset on a unit boundary) and the
/// elements, sorted by position and never overlapping.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextBuffer {
    text: String,
    cursor: usize,
    elements: Vec<Element>,
}

impl TextBuffer {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn elements(&self) -> &[Element] {
        &self.elements
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The whole content as a fragment (for history).
    pub fn to_fragment(&self) -> Fragment {
        Fragment {
            text: self.text.clone(),
            elements: self.elements.clone(),
        }
    }

    /// Replaces everything with `fragment`, cursor at the end.
    pub fn set_fragment(&mut self, fragment: Fragment) {
        self.text = fragment.text;
        self.elements = fragment.elements;
        self.cursor = self.text.len();
    }

    /// The text with collapsed pastes expanded: what gets submitted.
    pub fn expanded(&self) -> String {
        self.to_fragment().expanded()
    }

    /// Moves the cursor to `pos`, snapped to a char boundary and out of any
    /// element (to the element's end).
    pub fn set_cursor(&mut self, pos: usize) {
        let mut pos = pos.min(self.text.len());
        while !self.text.is_char_boundary(pos) {
            pos -= 1;
        }
        if let Some(element) = self.element_containing(pos) {
            pos = element.range.end;
        }
        self.cursor = pos;
    }

    /// The element whose label strictly contains `pos` (not at its edges).
    fn element_containing(&self, pos: usize) -> Option<&Element> {
        self.elements
            .iter()
            .find(|e| e.range.start < pos && pos < e.range.end)
    }

    /// Replaces `range` (on unit boundaries) with `fragment`, keeping element
    /// ranges in step; elements inside `range` are dropped.
    pub fn replace(&mut self, range: Range<usize>, fragment: &Fragment) {
        let removed = range.end - range.start;
        let added = fragment.text.len();
        self.text.replace_range(range.clone(), &fragment.text);
        let mut elements = Vec::with_capacity(self.elements.len() + fragment.elements.len());
        for element in self.elements.drain(..) {
            if element.range.end <= range.start {
                elements.push(element);
            } else if element.range.start >= range.end {
                let start = element.range.start - removed + added;
                let end = element.range.end - removed + added;
                elements.push(Element {
                    range: start..end,
                    content: element.content,
                });
            }
        }
        for element in &fragment.elements {
            elements.push(Element {
                range: element.range.start + range.start..element.range.end + range.start,
                content: element.content.clone(),
            });
        }
        elements.sort_by_key(|e| e.range.start);
        self.elements = elements;
        if self.cursor >= range.end {
            self.cursor = self.cursor - removed + added;
        } else if self.cursor > range.start {
            self.cursor = range.start;
        }
    }

    /// Inserts a fragment at the cursor and moves the cursor past it.
    pub fn insert_fragment(&mut self, fragment: &Fragment) {
        let at = self.cursor;
        self.replace(at..at, fragment);
        self.cursor = at + fragment.text.len();
    }

    /// Inserts plain text at the cursor.
    pub fn insert_str(&mut self, text: &str) {
        self.insert_fragment(&Fragment::plain(text));
    }

    /// Inserts an atomic `label` that stands for `content`.
    pub fn insert_element(&mut self, label: &str, content: String) {
        self.insert_fragment(&Fragment {
            text: label.to_owned(),
            elements: vec![Element {
                range: 0..label.len(),
                content,
            }],
        });
    }

    /// Removes `range` and returns it as a fragment (for the kill buffer).
    pub fn cut(&mut self, range: Range<usize>) -> Fragment {
        let fragment = self.slice(range.clone());
        self.replace(range, &Fragment::default());
        fragment
    }

    /// A copy of `range` with the elements inside it.
    pub fn slice(&self, range: Range<usize>) -> Fragment {
        Fragment {
            text: self.text[range.clone()].to_owned(),
            elements: self
                .elements
                .iter()
                .filter(|e| e.range.start >= range.start && e.range.end <= range.end)
                .map(|e| Element {
                    range: e.range.start - range.start..e.range.end - range.start,
                    content: e.content.clone(),
                })
                .collect(),
        }
    }

    /// The unit boundary after `pos`: the end of an element starting there,
    /// else the end of the grapheme cluster there.
    pub fn next_boundary(&self, pos: usize) -> usize {
        if let Some(element) = self.elements.iter().find(|e| e.range.start == pos) {
            return element.range.end;
        }
        self.text[pos..]
            .graphemes(true)
            .next()
            .map_or(pos, |g| pos + g.len())
    }

    /// The unit boundary before `pos`.
    pub fn prev_boundary(&self, pos: usize) -> usize {
        if let Some(element) = self.elements.iter().find(|e| e.range.end == pos) {
            return element.range.start;
        }
        self.text[..pos]
            .graphemes(true)
            .next_back()
            .map_or(pos, |g| pos - g.len())
    }

    fn class_after(&self, pos: usize) -> Option<UnitClass> {
        let end = self.next_boundary(pos);
        (end > pos).then(|| self.class_of(pos..end))
    }

    fn class_before(&self, pos: usize) -> Option<UnitClass> {
        let start = self.prev_boundary(pos);
        (start < pos).then(|| self.class_of(start..pos))
    }

    fn class_of(&self, unit: Range<usize>) -> UnitClass {
        if self.elements.iter().any(|e| e.range == unit) {
            return UnitClass::Element;
        }
        match self.text[unit].chars().next() {
            Some(c) if c.is_whitespace() => UnitClass::Space,
            Some(c) if c.is_alphanumeric() || c == '_' => UnitClass::Word,
            _ => UnitClass::Punctuation,
        }
    }

    /// Start of the word before `pos` (Alt-B, Ctrl-W): skips spaces, then one
    /// run of word characters, of punctuation, or one element.
    pub fn word_start_before(&self, pos: usize) -> usize {
        let mut pos = pos;
        while self.class_before(pos) == Some(UnitClass::Space) {
            pos = self.prev_boundary(pos);
        }
        let Some(class) = self.class_before(pos) else {
            return pos;
        };
        if class == UnitClass::Element {
            return self.prev_boundary(pos);
        }
        while self.class_before(pos) == Some(class) {
            pos = self.prev_boundary(pos);
        }
        pos
    }

    /// End of the word after `pos` (Alt-F, Alt-D).
    pub fn word_end_after(&self, pos: usize) -> usize {
        let mut pos = pos;
        while self.class_after(pos) == Some(UnitClass::Space) {
            pos = self.next_boundary(pos);
        }
        let Some(class) = self.class_after(pos) else {
            return pos;
        };
        if class == UnitClass::Element {
            return self.next_boundary(pos);
        }
        while self.class_after(pos) == Some(class) {
            pos = self.next_boundary(pos);
        }
        pos
    }

    /// Start of the logical line holding `pos`.
    pub fn line_start(&self, pos: usize) -> usize {
        self.text[..pos].rfind('\n').map_or(0, |i| i + 1)
    }

    /// End of the logical line holding `pos` (before its newline).
    pub fn line_end(&self, pos: usize) -> usize {
        self.text[pos..]
            .find('\n')
            .map_or(self.text.len(), |i| pos + i)
    }

    pub fn move_left(&mut self) {
        self.cursor = self.prev_boundary(self.cursor);
    }

    pub fn move_right(&mut self) {
        self.cursor = self.next_boundary(self.cursor);
    }

    pub fn move_word_left(&mut self) {
        self.cursor = self.word_start_before(self.cursor);
    }

    pub fn move_word_right(&mut self) {
        self.cursor = self.word_end_after(self.cursor);
    }

    pub fn move_line_start(&mut self) {
        self.cursor = self.line_start(self.cursor);
    }

    pub fn move_line_end(&mut self) {
        self.cursor = self.line_end(self.cursor);
    }

    /// Backspace: removes the unit before the cursor (a whole element).
    pub fn delete_backward(&mut self) {
        let start = self.prev_boundary(self.cursor);
        self.replace(start..self.cursor, &Fragment::default());
    }

    /// Delete: removes the unit after the cursor.
    pub fn delete_forward(&mut self) {
        let end = self.next_boundary(self.cursor);
        self.replace(self.cursor..end, &Fragment::default());
    }

    /// Ctrl-W: cuts the word before the cursor.
    pub fn cut_word_backward(&mut self) -> Fragment {
        let start = self.word_start_before(self.cursor);
        self.cut(start..self.cursor)
    }

    /// Alt-D: cuts the word after the cursor.
    pub fn cut_word_forward(&mut self) -> Fragment {
        let end = self.word_end_after(self.cursor);
        self.cut(self.cursor..end)
    }

    /// Ctrl-U: cuts back to the start of the line; at the start of a line,
    /// joins it to the previous one.
    pub fn cut_to_line_start(&mut self) -> Fragment {
        let start = self.line_start(self.cursor);
        if start == self.cursor && start > 0 {
            return self.cut(start - 1..start);
        }
        self.cut(start..self.cursor)
    }

    /// Ctrl-K: cuts to the end of the line; at the end of a line, joins the
    /// next one to it.
    pub fn cut_to_line_end(&mut self) -> Fragment {
        let end = self.line_end(self.cursor);
        if end == self.cursor && end < self.text.len() {
            return self.cut(end..end + 1);
        }
        self.cut(self.cursor..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(text: &str) -> TextBuffer {
        let mut buffer = TextBuffer::default();
        buffer.insert_str(text);
        buffer
    }

    #[test]
    fn elements_shift_with_edits_before_them() {
        let mut b = buffer("ab");
        b.insert_element("[P]", "pasted".into());
        b.set_cursor(0);
        b.insert_str("xyz");
        assert_eq!(b.text(), "xyzab[P]");
        assert_eq!(b.elements()[0].range, 5..8);
        assert_eq!(b.expanded(), "xyzabpasted");
    }

    #[test]
    fn cursor_never_lands_inside_an_element() {
        let mut b = buffer("a");
        b.insert_element("[Pasted]", "x".into());
        b.set_cursor(3);
        assert_eq!(b.cursor(), 9);
        b.move_left();
        assert_eq!(b.cursor(), 1);
    }

    #[test]
    fn slice_keeps_elements_relative() {
        let mut b = buffer("ab ");
        b.insert_element("[P]", "content".into());
        let fragment = b.slice(1..6);
        assert_eq!(fragment.text, "b [P]");
        assert_eq!(fragment.elements[0].range, 2..5);
        assert_eq!(fragment.expanded(), "b content");
    }
}
