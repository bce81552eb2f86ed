//! Code navigation for `code_outline` and `find_symbol`: which files are
//! source code, parsing them with tree-sitter, and pulling out definitions.
//!
//! Definitions are found by walking the syntax tree over node kinds
//! (`extract` and one module per language family) rather than with
//! tree-sitter queries: nesting (methods under their class, items inside a
//! module) falls out of the walk, and each language's rules read as one
//! `match` over the node kinds of its grammar.

mod c_family;
mod extract;
mod javascript;
mod langs;
pub mod syntax;

use std::fs::File;
use std::io::Read;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use ignore::WalkBuilder;
use tokio_util::sync::CancellationToken;

use crate::tools::ToolError;

/// Source files larger than this are skipped: they are almost always
/// generated or vendored, and parsing them would cost time for an outline
/// nobody reads.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// How much of a file is searched for a NUL byte to tell binary files apart.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;
/// Parser threads at most; parsing is CPU-bound and the machine may be
/// small, so more threads would only compete with the agent itself.
const MAX_THREADS: usize = 8;

/// The definition kinds the walk reports, for validating `find_symbol`'s
/// `kind` filter and for listing them to the model.
pub const KINDS: &[&str] = &[
    "function",
    "method",
    "constructor",
    "prototype",
    "class",
    "struct",
    "union",
    "enum",
    "trait",
    "impl",
    "interface",
    "record",
    "annotation",
    "type",
    "const",
    "static",
    "var",
    "module",
    "namespace",
    "macro",
];

/// A language glint can outline, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Go,
    C,
    Cpp,
    Java,
}

/// Extensions and their language. `.h` is read as C: it is the common case,
/// and the C grammar still recovers most of a C++ header.
const EXTENSIONS: &[(&str, Lang)] = &[
    ("rs", Lang::Rust),
    ("py", Lang::Python),
    ("pyi", Lang::Python),
    ("js", Lang::JavaScript),
    ("mjs", Lang::JavaScript),
    ("cjs", Lang::JavaScript),
    ("jsx", Lang::JavaScript),
    ("ts", Lang::TypeScript),
    ("mts", Lang::TypeScript),
    ("cts", Lang::TypeScript),
    ("tsx", Lang::Tsx),
    ("go", Lang::Go),
    ("c", Lang::C),
    ("h", Lang::C),
    ("cc", Lang::Cpp),
    ("cpp", Lang::Cpp),
    ("cxx", Lang::Cpp),
    ("hpp", Lang::Cpp),
    ("hh", Lang::Cpp),
    ("hxx", Lang::Cpp),
    ("java", Lang::Java),
];

impl Lang {
    /// The language of a file, by its extension (case-insensitive).
    pub fn from_path(path: &Path) -> Option<Lang> {
        let ext = path.extension()?.to_str()?;
        EXTENSIONS
            .iter()
            .find(|(e, _)| e.eq_ignore_ascii_case(ext))
            .map(|(_, lang)| *lang)
    }

    /// The name shown to the model.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::JavaScript => "JavaScript",
            Lang::TypeScript => "TypeScript",
            Lang::Tsx => "TSX",
            Lang::Go => "Go",
            Lang::C => "C",
            Lang::Cpp => "C++",
            Lang::Java => "Java",
        }
    }

    fn grammar(self) -> tree_sitter::Language {
        match self {
            Lang::Rust => tree_sitter_rust::LANGUAGE.into(),
            Lang::Python => tree_sitter_python::LANGUAGE.into(),
            Lang::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Lang::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Lang::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Lang::Go => tree_sitter_go::LANGUAGE.into(),
            Lang::C => tree_sitter_c::LANGUAGE.into(),
            Lang::Cpp => tree_sitter_cpp::LANGUAGE.into(),
            Lang::Java => tree_sitter_java::LANGUAGE.into(),
        }
    }
}

/// `.rs, .py, ...`, for error messages that tell the model what works.
pub fn supported_extensions() -> String {
    EXTENSIONS
        .iter()
        .map(|(e, _)| format!(".{e}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One definition found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Def {
    /// One of [`KINDS`].
    pub kind: &'static str,
    /// The name `find_symbol` matches (for an `impl`, the type's name).
    pub name: String,
    /// What the outline shows after the kind (`Display for Parser`).
    pub label: String,
    /// The type, module or function the definition belongs to.
    pub container: Option<String>,
    /// Whether the container is the enclosing outline entry; when it is not
    /// (a Go method, a C++ method defined out of its class) the outline
    /// names it.
    pub nested: bool,
    /// Nesting depth in the outline, 0 at the top.
    pub depth: usize,
    /// First and last line of the definition, counting from 1.
    pub start_line: usize,
    pub end_line: usize,
    /// The line holding the name, which is where `find_symbol` points.
    pub name_line: usize,
}

impl Def {
    /// `  method parse (12-30)`: indented two spaces per level.
    pub fn outline_line(&self) -> String {
        let owner = match (&self.container, self.nested) {
            (Some(c), false) => format!(" in {c}"),
            _ => String::new(),
        };
        format!(
            "{}{} {}{owner} ({}-{})",
            "  ".repeat(self.depth),
            self.kind,
            self.label,
            self.start_line,
            self.end_line
        )
    }

    /// `method parse in Parser`.
    pub fn describe(&self) -> String {
        match &self.container {
            Some(c) => format!("{} {} in {c}", self.kind, self.label),
            None => format!("{} {}", self.kind, self.label),
        }
    }
}

/// The definitions of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    /// In source order, containers before what they contain.
    pub defs: Vec<Def>,
    /// The parser met syntax errors; `defs` is what it recovered.
    pub has_errors: bool,
}

/// Parses `source` and lists its definitions. Syntax errors do not fail:
/// tree-sitter recovers a tree around them and the outline says so.
pub fn outline(lang: Lang, source: &[u8]) -> Result<Outline, String> {
    outline_with_tree(lang, source).map(|(outline, _)| outline)
}

/// [`outline`], also returning the syntax tree, for callers that read more
/// from it than definitions (the repo map counts identifiers) without
/// parsing the file twice.
pub fn outline_with_tree(
    lang: Lang,
    source: &[u8],
) -> Result<(Outline, tree_sitter::Tree), String> {
    let mut parser = tree_sitter::Parser::new();
    parser.set_language(&lang.grammar()).map_err(|e| {
        format!(
            "internal error: cannot load the {} grammar: {e}",
            lang.name()
        )
    })?;
    let tree = parser
        .parse(source, None)
        .ok_or_else(|| format!("the {} parser gave up on this file", lang.name()))?;
    let root = tree.root_node();
    let outline = Outline {
        defs: extract::collect(lang, root, source),
        has_errors: root.has_error(),
    };
    Ok((outline, tree))
}

/// A source file's bytes, or why it was not read.
pub enum Source {
    Text(Vec<u8>),
    /// Over [`MAX_FILE_BYTES`]; the size in bytes.
    TooLarge(u64),
    Binary,
}

/// Reads a file for parsing, refusing large and binary ones, and anything
/// but a regular file (opening a FIFO could block forever).
pub fn read_source(path: &Path) -> std::io::Result<Source> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let size = meta.len();
    if size > MAX_FILE_BYTES {
        return Ok(Source::TooLarge(size));
    }
    let mut bytes = Vec::new();
    // `take` guards against a file that grew since the size check.
    File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Ok(Source::TooLarge(bytes.len() as u64));
    }
    if bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0) {
        return Ok(Source::Binary);
    }
    Ok(Source::Text(bytes))
}

/// `1.4 MiB`, for skip notes.
pub fn human_size(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Every supported source file under `dir`, sorted by path. Honours
/// `.gitignore` (also outside a git repository), `.ignore` and global git
/// excludes, skips hidden files, and never follows symlinks, so the walk
/// cannot leave the workspace.
pub fn source_files(dir: &Path, cancel: &CancellationToken) -> Result<Vec<PathBuf>, ToolError> {
    let walker = WalkBuilder::new(dir)
        .follow_links(false)
        .require_git(false)
        .build();
    let mut files = Vec::new();
    for entry in walker {
        if cancel.is_cancelled() {
            return Err(ToolError::Cancelled);
        }
        // An unreadable directory loses only its own entries.
        let Ok(entry) = entry else { continue };
        let is_file = entry.file_type().is_some_and(|t| t.is_file());
        if is_file && Lang::from_path(entry.path()).is_some() {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(files)
}

/// Runs `work` on every item on a few threads and returns the results in
/// item order. Stops early with [`ToolError::Cancelled`] once `cancel`
/// fires (a file already being parsed is finished first).
pub fn parallel_map<T, R, F>(
    items: &[T],
    cancel: &CancellationToken,
    work: F,
) -> Result<Vec<R>, ToolError>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .clamp(1, MAX_THREADS)
        .min(items.len());
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        while !cancel.is_cancelled() {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            done.push((i, work(item)));
        }
        done
    };
    let batches = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, worker).ok())
            .collect();
        // If no thread could be started, do the work here.
        let mut batches = if handles.is_empty() {
            vec![worker()]
        } else {
            Vec::new()
        };
        for handle in handles {
            batches.push(handle.join().map_err(|_| {
                ToolError::Failed("internal error: a parser thread panicked".into())
            })?);
        }
        Ok::<_, ToolError>(batches)
    })?;
    if cancel.is_cancelled() {
        return Err(ToolError::Cancelled);
    }
    let mut all: Vec<(usize, R)> = batches.into_iter().flatten().collect();
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, r)| r).collect())
}
