//! The language-neutral half of finding definitions: walking the tree,
//! tracking nesting, and turning what a language module found into
//! [`Def`]s. Each language module only answers "what is this node?".

use tree_sitter::Node;

use super::{Def, Lang, c_family, javascript, langs};

/// How deep the walk goes; real code nests far less, and the bound keeps a
/// pathological file from exhausting a thread's stack.
const MAX_NESTING: usize = 48;
/// Names longer than this are cut (C++ operators and computed keys can be
/// whole expressions).
const MAX_NAME_CHARS: usize = 100;

/// What kind of body the walk is in, which decides how a function is named
/// (`method` inside a type) and whether variables count (not inside a
/// function, where they are locals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScopeKind {
    /// A file, module or namespace.
    Top,
    /// A class, struct, impl, trait or interface body.
    Type,
    /// A function body.
    Function,
}

/// Where the walk is.
pub(super) struct Scope<'a> {
    pub kind: ScopeKind,
    /// The name of the enclosing definition.
    pub container: Option<&'a str>,
}

impl Scope<'_> {
    /// `method` inside a type, else `function`.
    pub fn function_kind(&self) -> &'static str {
        if self.kind == ScopeKind::Type {
            "method"
        } else {
            "function"
        }
    }

    /// Whether variables and constants here are definitions worth listing
    /// (not locals of a function).
    pub fn keeps_variables(&self) -> bool {
        self.kind != ScopeKind::Function
    }
}

/// A definition a language module recognised.
pub(super) struct Found<'t> {
    kind: &'static str,
    name: String,
    label: Option<String>,
    container: Option<String>,
    node: Node<'t>,
    name_node: Node<'t>,
    body: Option<(Node<'t>, ScopeKind)>,
    owner: Option<String>,
}

impl<'t> Found<'t> {
    /// A definition spanning `node`, named by the text of `name_node`;
    /// `None` when the name is empty (an anonymous class, say).
    pub fn new(
        kind: &'static str,
        node: Node<'t>,
        name_node: Node<'t>,
        src: &[u8],
    ) -> Option<Self> {
        let name = text(name_node, src);
        (!name.is_empty()).then_some(Found {
            kind,
            name,
            label: None,
            container: None,
            node,
            name_node,
            body: None,
            owner: None,
        })
    }

    /// Like [`Found::new`] with the name given (for `(anonymous)`).
    pub fn named(kind: &'static str, node: Node<'t>, name: String) -> Self {
        Found {
            kind,
            name,
            label: None,
            container: None,
            node,
            name_node: node,
            body: None,
            owner: None,
        }
    }

    /// Where nested definitions live, and what kind of scope that is.
    pub fn body(mut self, body: Option<Node<'t>>, kind: ScopeKind) -> Self {
        self.body = body.map(|b| (b, kind));
        self
    }

    /// What the outline shows instead of the name.
    pub fn label(mut self, label: String) -> Self {
        self.label = Some(label);
        self
    }

    /// The owner, where it is not the enclosing definition.
    pub fn container(mut self, container: String) -> Self {
        self.container = Some(container);
        self
    }

    /// The name nested definitions give as their container, where it is
    /// not this definition's name (an impl's methods belong to its type).
    pub fn owner(mut self, owner: String) -> Self {
        self.owner = Some(owner);
        self
    }
}

/// What a language module says about one node.
pub(super) enum Action<'t> {
    /// Not a definition and nothing inside counts.
    Skip,
    /// Not a definition, but its children may be (an export statement, a
    /// template, a preprocessor conditional).
    Descend,
    /// One or more definitions (a declaration may declare several).
    Defs(Vec<Found<'t>>),
}

impl<'t> Action<'t> {
    /// One definition, or [`Action::Skip`] if there is none.
    pub fn one(found: Option<Found<'t>>) -> Self {
        match found {
            Some(f) => Action::Defs(vec![f]),
            None => Action::Skip,
        }
    }
}

/// The text of a node on one line (whitespace runs become one space), cut
/// to [`MAX_NAME_CHARS`]. Invalid UTF-8 is replaced, not refused.
pub(super) fn text(node: Node, src: &[u8]) -> String {
    let raw = src.get(node.byte_range()).unwrap_or_default();
    let joined = String::from_utf8_lossy(raw)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match joined.char_indices().nth(MAX_NAME_CHARS) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

/// The child in field `field`.
pub(super) fn field<'t>(node: Node<'t>, field: &str) -> Option<Node<'t>> {
    node.child_by_field_name(field)
}

/// The named children of a node.
pub(super) fn named_children(node: Node) -> Vec<Node> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

/// Whether a node has a direct child (named or not) of kind `kind`, e.g.
/// the `const` keyword of a declaration.
pub(super) fn has_child_kind(node: Node, kind: &str) -> bool {
    let mut cursor = node.walk();
    node.children(&mut cursor).any(|c| c.kind() == kind)
}

/// Every definition under `root`, in source order.
pub(super) fn collect(lang: Lang, root: Node, src: &[u8]) -> Vec<Def> {
    let mut out = Vec::new();
    let top = Scope {
        kind: ScopeKind::Top,
        container: None,
    };
    walk(lang, root, src, &top, 0, 0, &mut out);
    out
}

fn walk(
    lang: Lang,
    node: Node,
    src: &[u8],
    scope: &Scope,
    depth: usize,
    nesting: usize,
    out: &mut Vec<Def>,
) {
    if nesting > MAX_NESTING {
        return;
    }
    for child in named_children(node) {
        match classify(lang, child, src, scope) {
            Action::Skip => {}
            Action::Descend => walk(lang, child, src, scope, depth, nesting + 1, out),
            Action::Defs(found) => {
                for f in found {
                    let (start_line, end_line) = lines(f.node);
                    let nested = f.container.is_none() && scope.container.is_some();
                    let container = f.container.or(scope.container.map(str::to_string));
                    out.push(Def {
                        kind: f.kind,
                        label: f.label.unwrap_or_else(|| f.name.clone()),
                        name: f.name.clone(),
                        container,
                        nested,
                        depth,
                        start_line,
                        end_line,
                        name_line: f.name_node.start_position().row + 1,
                    });
                    if let Some((body, kind)) = f.body {
                        let owner = f.owner.unwrap_or(f.name);
                        let inner = Scope {
                            kind,
                            container: Some(&owner),
                        };
                        walk(lang, body, src, &inner, depth + 1, nesting + 1, out);
                    }
                }
            }
        }
    }
}

fn classify<'t>(lang: Lang, node: Node<'t>, src: &[u8], scope: &Scope) -> Action<'t> {
    match lang {
        Lang::Rust => langs::rust(node, src, scope),
        Lang::Python => langs::python(node, src, scope),
        Lang::Go => langs::go(node, src, scope),
        Lang::Java => langs::java(node, src, scope),
        Lang::JavaScript | Lang::TypeScript | Lang::Tsx => javascript::classify(node, src, scope),
        Lang::C => c_family::classify(node, src, scope, false),
        Lang::Cpp => c_family::classify(node, src, scope, true),
    }
}

/// First and last line (from 1). A node that ends at column 0 ended with
/// the previous line's newline (preprocessor lines do), so that line is
/// its last.
fn lines(node: Node) -> (usize, usize) {
    let start = node.start_position().row;
    let end = node.end_position();
    let last = if end.column == 0 && end.row > start {
        end.row - 1
    } else {
        end.row
    };
    (start + 1, last + 1)
}
