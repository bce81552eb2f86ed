//! Definitions in C and C++. Both grammars share most node kinds; C++ adds
//! classes, namespaces, templates and qualified names (`Parser::parse`).

use tree_sitter::Node;

use super::extract::{Action, Found, Scope, ScopeKind, field, named_children, text};

/// How many declarator layers (`*`, `&`, `()`, `[]`) are followed at most.
const MAX_DECLARATOR_DEPTH: usize = 16;

pub(super) fn classify<'t>(node: Node<'t>, src: &[u8], scope: &Scope, cpp: bool) -> Action<'t> {
    match node.kind() {
        "function_definition" => {
            let Some((name, is_function)) = field(node, "declarator").and_then(declared_name)
            else {
                return Action::Skip;
            };
            if !is_function {
                return Action::Skip;
            }
            Action::one(function(node, name, src, scope.function_kind()))
        }
        "declaration" | "field_declaration" if scope.keeps_variables() => {
            declaration(node, src, scope, cpp)
        }
        "struct_specifier" | "union_specifier" | "enum_specifier" | "class_specifier" => {
            Action::one(specifier(node, src, cpp))
        }
        "type_definition" => {
            let mut defs: Vec<Found> = field(node, "type")
                .and_then(|t| specifier(t, src, cpp))
                .into_iter()
                .collect();
            let mut cursor = node.walk();
            let declarators: Vec<Node> = node
                .children_by_field_name("declarator", &mut cursor)
                .collect();
            defs.extend(declarators.into_iter().filter_map(|d| {
                let (name, _) = declared_name(d)?;
                Found::new("type", node, name, src)
            }));
            Action::Defs(defs)
        }
        "alias_declaration" => {
            Action::one(field(node, "name").and_then(|n| Found::new("type", node, n, src)))
        }
        "namespace_definition" => {
            let name =
                field(node, "name").map_or_else(|| "(anonymous)".to_string(), |n| text(n, src));
            Action::one(Some(
                Found::named("namespace", node, name).body(field(node, "body"), ScopeKind::Top),
            ))
        }
        "preproc_def" | "preproc_function_def" => {
            Action::one(field(node, "name").and_then(|n| Found::new("macro", node, n, src)))
        }
        // Wrappers whose children are the definitions: templates,
        // `extern "C" { ... }`, and preprocessor conditionals (every header
        // guard).
        "template_declaration"
        | "linkage_specification"
        | "declaration_list"
        | "preproc_ifdef"
        | "preproc_if"
        | "preproc_else"
        | "preproc_elif"
        | "preproc_elifdef" => Action::Descend,
        _ => Action::Skip,
    }
}

/// A function definition or declaration whose declarator names `name`:
/// `Parser::parse` is a method of `Parser` wherever it is defined.
fn function<'t>(
    node: Node<'t>,
    name: Node<'t>,
    src: &[u8],
    kind: &'static str,
) -> Option<Found<'t>> {
    match split_qualified(name, src) {
        (Some(owner), last) => Some(Found::new("method", node, last, src)?.container(owner)),
        (None, last) => Found::new(kind, node, last, src),
    }
}

/// `int x = 1;`, `int parse(void);`, or a struct defined in a declaration.
/// Outside types: functions are `prototype`s, variables `var`/`const`.
/// Inside a C++ class: function declarations are `method`s, data members
/// are left out.
fn declaration<'t>(node: Node<'t>, src: &[u8], scope: &Scope, cpp: bool) -> Action<'t> {
    let mut defs: Vec<Found> = field(node, "type")
        .and_then(|t| specifier(t, src, cpp))
        .into_iter()
        .collect();
    let constant = named_children(node).into_iter().any(|c| {
        c.kind() == "type_qualifier" && matches!(text(c, src).as_str(), "const" | "constexpr")
    });
    let in_type = scope.kind == ScopeKind::Type;
    let mut cursor = node.walk();
    let declarators: Vec<Node> = node
        .children_by_field_name("declarator", &mut cursor)
        .collect();
    for declarator in declarators {
        let Some((name, is_function)) = declared_name(declarator) else {
            continue;
        };
        let found = match (is_function, in_type) {
            (true, true) => function(node, name, src, "method"),
            (true, false) => function(node, name, src, "prototype"),
            (false, true) => None,
            (false, false) => Found::new(if constant { "const" } else { "var" }, node, name, src),
        };
        defs.extend(found);
    }
    Action::Defs(defs)
}

/// A struct, union, enum or class with a body (a bare `struct foo` is a
/// use, not a definition). C++ types hold methods; C struct bodies hold
/// only fields, so they are not walked.
fn specifier<'t>(node: Node<'t>, src: &[u8], cpp: bool) -> Option<Found<'t>> {
    let kind = match node.kind() {
        "struct_specifier" => "struct",
        "union_specifier" => "union",
        "enum_specifier" => "enum",
        "class_specifier" => "class",
        _ => return None,
    };
    let body = field(node, "body")?;
    let name = field(node, "name")?;
    let found = Found::new(kind, node, name, src)?;
    Some(if cpp && kind != "enum" {
        found.body(Some(body), ScopeKind::Type)
    } else {
        found
    })
}

/// Follows a declarator down to the declared name; the flag says whether
/// it declares a function (`int *f(void)` does, `int (*f)(void)` is a
/// pointer variable).
fn declared_name(node: Node) -> Option<(Node, bool)> {
    let mut node = node;
    let mut is_function = false;
    for _ in 0..MAX_DECLARATOR_DEPTH {
        match node.kind() {
            "identifier"
            | "field_identifier"
            | "type_identifier"
            | "qualified_identifier"
            | "destructor_name"
            | "operator_name"
            | "template_function"
            | "primitive_type" => {
                return Some((node, is_function));
            }
            "function_declarator" => is_function = true,
            "pointer_declarator" => is_function = false,
            "reference_declarator"
            | "parenthesized_declarator"
            | "array_declarator"
            | "init_declarator"
            | "attributed_declarator" => {}
            _ => return None,
        }
        node = field(node, "declarator").or_else(|| node.named_child(0))?;
    }
    None
}

/// `text::Parser::parse` → (`text::Parser`, `parse`); a plain name has no
/// scope. A template's arguments stay in the scope (`Box<T>::get`).
fn split_qualified<'t>(node: Node<'t>, src: &[u8]) -> (Option<String>, Node<'t>) {
    let mut scopes = Vec::new();
    let mut node = node;
    while node.kind() == "qualified_identifier" {
        let (Some(scope), Some(name)) = (field(node, "scope"), field(node, "name")) else {
            break;
        };
        scopes.push(text(scope, src));
        node = name;
    }
    let scope = (!scopes.is_empty()).then(|| scopes.join("::"));
    (scope, node)
}
