//! What the task mentions: files, by path or by a name only a few files
//! have, and identifiers the workspace defines. The ranking leans toward
//! them, as Aider's map leans toward the files in the chat.

use std::collections::{HashMap, HashSet};

use super::index::Index;

/// What the conversation mentions: files (by path or unique name) and
/// identifiers that the workspace defines.
#[derive(Debug, Clone, Default)]
pub(super) struct Mentions {
    /// By file.
    pub(super) files: Vec<bool>,
    /// By name.
    pub(super) idents: Vec<bool>,
}

impl Mentions {
    /// The mentions in `text` of `index`'s files and definitions.
    pub(super) fn find(index: &Index, text: &str) -> Mentions {
        let words: HashSet<&str> = text
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|word| word.len() >= 3)
            .collect();
        let tokens: HashSet<&str> = text
            .split(|c: char| c.is_whitespace() || "`'\"()[]{}<>,;:".contains(c))
            .map(|token| token.trim_end_matches(['.', '?', '!']))
            .map(|token| token.strip_prefix("./").unwrap_or(token))
            .filter(|token| !token.is_empty())
            .collect();
        let mut base_names: HashMap<&str, usize> = HashMap::new();
        for path in index.paths() {
            *base_names.entry(base_name(path)).or_default() += 1;
        }
        let files = index
            .files
            .iter()
            .map(|file| {
                let path = file.path.as_str();
                let base = base_name(path);
                tokens.contains(path)
                    || (tokens.contains(base) && base_names.get(base).is_some_and(|n| *n <= 3))
                    || tokens.iter().any(|token| {
                        token.contains('/')
                            && path.ends_with(token)
                            && path[..path.len() - token.len()].ends_with('/')
                    })
            })
            .collect();
        // Most names cannot be a word of the task: their first byte and
        // length match none. Only the rest are hashed.
        let mut shapes = vec![false; 256 * 64];
        let shape = |word: &str| usize::from(word.as_bytes()[0]) * 64 + word.len().min(63);
        for word in &words {
            shapes[shape(word)] = true;
        }
        let mut idents = vec![false; index.names.len()];
        for def in index.files.iter().flat_map(|file| file.defs.iter()) {
            let name = index.name(def.name);
            if !name.is_empty() && shapes[shape(name)] && words.contains(name) {
                idents[def.name as usize] = true;
            }
        }
        Mentions { files, idents }
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
