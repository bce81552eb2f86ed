//! One file's tags: the definitions it makes (from the code tools' own
//! tree-sitter walk, so the map and `code_outline` agree on what a
//! definition is) and how often it uses each identifier, from one parse.

use std::collections::HashMap;
use std::path::Path;

use tree_sitter::Tree;

use crate::tools::code::{self, KINDS, Lang, Source};

/// Identifiers shorter than this are left out: one-letter names are
/// locals and loop counters, never what ties one file to another.
const MIN_IDENT_CHARS: usize = 2;

/// Set in a use count when the uses are member accesses (`x.name`,
/// `x.name()`): those can only mean a definition inside a type, never a
/// free function of the same name (`x.collect()` is not `fn collect`).
pub(super) const MEMBER_USE: u32 = 1 << 31;

/// Identifier kinds that are always member accesses; Python's are
/// `identifier`s in an `attribute`'s `attribute` field.
const MEMBER_KINDS: &[&str] = &["field_identifier", "property_identifier"];

/// Subtrees whose identifiers are not uses of the workspace's code: Rust
/// attributes (`#[derive(Debug)]`, `#[cfg(not(test))]`) name compiler
/// features, and counting them ties every file to whatever defines `cfg`,
/// `not` or `feature`. (Inside a macro's tokens an attribute is `#` and a
/// `token_tree`: see [`count_identifiers`].)
const SKIPPED_KINDS: &[&str] = &["attribute_item", "inner_attribute_item"];

/// Rust's standard macros: a crate that defines its own `assert_eq!` or
/// `vec!` would otherwise collect every use of the standard one.
const STD_MACROS: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "cfg",
    "concat",
    "dbg",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "env",
    "eprint",
    "eprintln",
    "format",
    "format_args",
    "include",
    "include_bytes",
    "include_str",
    "matches",
    "panic",
    "print",
    "println",
    "stringify",
    "thread_local",
    "todo",
    "unimplemented",
    "unreachable",
    "vec",
    "write",
    "writeln",
];

/// A definition as parsed, before its strings are interned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ParsedDef {
    pub name: String,
    /// Index into [`KINDS`].
    pub kind: u8,
    /// The line holding the name, from 1.
    pub line: u32,
    pub container: Option<String>,
}

/// What one file defines and uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ParsedFile {
    pub defs: Vec<ParsedDef>,
    /// Each identifier the file uses other than to define it, with how
    /// often; member accesses counted apart, flagged [`MEMBER_USE`].
    pub refs: Vec<(String, u32)>,
}

/// Parses the file at `path`. Files the code tools skip (too large,
/// binary, unreadable, not a supported language) have no tags: an empty
/// [`ParsedFile`], which the cache keeps so they are not read again.
pub(super) fn parse_file(path: &Path) -> ParsedFile {
    let Some(lang) = Lang::from_path(path) else {
        return ParsedFile::default();
    };
    let source = match code::read_source(path) {
        Ok(Source::Text(bytes)) => bytes,
        Ok(Source::TooLarge(_) | Source::Binary) | Err(_) => return ParsedFile::default(),
    };
    parse_source(lang, &source)
}

/// The tags of `source`, written in `lang`.
pub(super) fn parse_source(lang: Lang, source: &[u8]) -> ParsedFile {
    let Ok((outline, tree)) = code::outline_with_tree(lang, source) else {
        return ParsedFile::default();
    };
    let mut counts = count_identifiers(&tree, source);
    let mut defs = Vec::with_capacity(outline.defs.len());
    for def in outline.defs {
        // An impl block names a type; it does not define it.
        if def.kind == "impl" {
            continue;
        }
        let Some(kind) = KINDS.iter().position(|k| *k == def.kind) else {
            continue;
        };
        // The definition's own name is not a use of it (a JavaScript
        // method's name is a property identifier).
        if let Some([plain, member]) = counts.get_mut(def.name.as_str()) {
            if *plain > 0 {
                *plain -= 1;
            } else {
                *member = member.saturating_sub(1);
            }
        }
        defs.push(ParsedDef {
            name: def.name,
            kind: kind as u8,
            line: u32::try_from(def.name_line).unwrap_or(u32::MAX),
            container: def.container,
        });
    }
    let mut refs: Vec<(String, u32)> = Vec::with_capacity(counts.len());
    for (name, [plain, member]) in counts {
        if plain > 0 {
            refs.push((name.to_string(), plain.min(MEMBER_USE - 1)));
        }
        if member > 0 {
            refs.push((name.to_string(), member.min(MEMBER_USE - 1) | MEMBER_USE));
        }
    }
    refs.sort_unstable();
    ParsedFile { defs, refs }
}

/// How often each identifier occurs in the tree, by name, as `[plain,
/// member access]`: every named leaf whose kind ends in `identifier`
/// (`identifier`, `type_identifier`, `field_identifier`,
/// `property_identifier`, ... in every grammar glint ships), which is what
/// tree-sitter's own tag queries call references.
fn count_identifiers<'s>(tree: &Tree, source: &'s [u8]) -> HashMap<&'s str, [u32; 2]> {
    let language = tree.language();
    let kind_of = |id: usize| {
        let id = u16::try_from(id).unwrap_or(u16::MAX);
        language
            .node_kind_is_named(id)
            .then(|| language.node_kind_for_id(id))
            .flatten()
            .unwrap_or("")
    };
    let (is_identifier, is_skipped): (Vec<u8>, Vec<bool>) = (0..language.node_kind_count())
        .map(|id| {
            let kind = kind_of(id);
            let identifier = match kind {
                _ if MEMBER_KINDS.contains(&kind) => MEMBER,
                _ if kind.ends_with("identifier") => PLAIN,
                _ => 0,
            };
            (identifier, SKIPPED_KINDS.contains(&kind))
        })
        .unzip();
    let attribute = language.id_for_node_kind("attribute", true);
    let macro_kind = language.id_for_node_kind("macro_invocation", true);
    let token_tree = language.id_for_node_kind("token_tree", true);
    let text = |node: tree_sitter::Node<'_>| {
        source
            .get(node.start_byte()..node.end_byte())
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
    };
    let mut counts: HashMap<&str, [u32; 2]> = HashMap::new();
    // The name node of the last standard macro invocation met.
    let mut std_macro_name = None;
    let mut cursor = tree.walk();
    loop {
        let node = cursor.node();
        let kind = usize::from(node.kind_id());
        if macro_kind != 0 && node.kind_id() == macro_kind {
            std_macro_name = node
                .child_by_field_name("macro")
                .filter(|name| text(*name).is_some_and(|t| STD_MACROS.contains(&t)))
                .map(|name| name.id());
        }
        let identifier = is_identifier.get(kind).copied().unwrap_or(0);
        if identifier != 0 {
            let counted = text(node).filter(|t| t.len() >= MIN_IDENT_CHARS);
            if let Some(name) = counted.filter(|_| std_macro_name != Some(node.id())) {
                let member = identifier == MEMBER
                    || (attribute != 0
                        && cursor.field_name() == Some("attribute")
                        && node.parent().is_some_and(|p| p.kind_id() == attribute));
                counts.entry(name).or_default()[usize::from(member)] += 1;
            }
        } else {
            let skipped = is_skipped.get(kind).copied().unwrap_or(false)
                || (token_tree != 0 && node.kind_id() == token_tree && follows_hash(node));
            if !skipped && cursor.goto_first_child() {
                continue;
            }
        }
        // Next sibling, or up until there is one.
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return counts;
            }
        }
    }
}

/// An identifier kind's use: a plain name or a member access.
const PLAIN: u8 = 1;
const MEMBER: u8 = 2;

/// Whether a token tree comes right after `#`: an attribute written inside
/// a macro's tokens (`macro_rules!` bodies are full of `#[cfg(...)]`).
fn follows_hash(node: tree_sitter::Node<'_>) -> bool {
    node.prev_sibling().is_some_and(|prev| prev.kind() == "#")
}
