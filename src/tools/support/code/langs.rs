//! Definitions in Rust, Python, Go and Java, by node kind of each grammar.

use tree_sitter::Node;

use super::extract::{
    Action, Found, Scope, ScopeKind, field, has_child_kind, named_children, text,
};

pub(super) fn rust<'t>(node: Node<'t>, src: &[u8], scope: &Scope) -> Action<'t> {
    let named = |kind| field(node, "name").and_then(|n| Found::new(kind, node, n, src));
    let body = field(node, "body");
    match node.kind() {
        "function_item" => {
            Action::one(named(scope.function_kind()).map(|f| f.body(body, ScopeKind::Function)))
        }
        "function_signature_item" => Action::one(named(scope.function_kind())),
        "struct_item" => Action::one(named("struct")),
        "enum_item" => Action::one(named("enum")),
        "union_item" => Action::one(named("union")),
        "type_item" | "associated_type" => Action::one(named("type")),
        "trait_item" => Action::one(named("trait").map(|f| f.body(body, ScopeKind::Type))),
        "mod_item" => Action::one(named("module").map(|f| f.body(body, ScopeKind::Top))),
        "macro_definition" => Action::one(named("macro")),
        "const_item" if scope.keeps_variables() => Action::one(named("const")),
        "static_item" if scope.keeps_variables() => Action::one(named("static")),
        "impl_item" => Action::one(rust_impl(node, src)),
        // `extern "C" { ... }` holds declarations at the same level.
        "foreign_mod_item" | "declaration_list" => Action::Descend,
        _ => Action::Skip,
    }
}

/// `impl Trait for Type`: named by the type (so `find_symbol Parser` finds
/// its impls), labelled with the trait; its methods belong to the type.
fn rust_impl<'t>(node: Node<'t>, src: &[u8]) -> Option<Found<'t>> {
    let ty = field(node, "type")?;
    let base = rust_base_type(ty);
    let label = match field(node, "trait") {
        Some(tr) => format!("{} for {}", text(tr, src), text(ty, src)),
        None => text(ty, src),
    };
    let found = Found::new("impl", node, base, src)?;
    let owner = text(base, src);
    Some(
        found
            .label(label)
            .owner(owner)
            .body(field(node, "body"), ScopeKind::Type),
    )
}

/// `Parser` in `Parser<T>`, `&Parser` or `crate::Parser`.
fn rust_base_type(node: Node) -> Node {
    let next = match node.kind() {
        "generic_type" | "reference_type" | "pointer_type" => field(node, "type"),
        "scoped_type_identifier" => field(node, "name"),
        _ => None,
    };
    next.map_or(node, rust_base_type)
}

pub(super) fn python<'t>(node: Node<'t>, src: &[u8], scope: &Scope) -> Action<'t> {
    let named = |kind| field(node, "name").and_then(|n| Found::new(kind, node, n, src));
    let body = field(node, "body");
    match node.kind() {
        "function_definition" => {
            Action::one(named(scope.function_kind()).map(|f| f.body(body, ScopeKind::Function)))
        }
        "class_definition" => Action::one(named("class").map(|f| f.body(body, ScopeKind::Type))),
        "decorated_definition" => Action::Descend,
        // Module-level `NAME = value`; class attributes and locals are not
        // listed.
        "expression_statement" if scope.kind == ScopeKind::Top => {
            let Some(assignment) = node.named_child(0).filter(|a| a.kind() == "assignment") else {
                return Action::Skip;
            };
            let Some(left) = field(assignment, "left").filter(|l| l.kind() == "identifier") else {
                return Action::Skip;
            };
            let kind = if is_constant_name(&text(left, src)) {
                "const"
            } else {
                "var"
            };
            Action::one(Found::new(kind, node, left, src))
        }
        _ => Action::Skip,
    }
}

/// `MAX_DEPTH` but not `parser` or `_`: the convention for constants.
fn is_constant_name(name: &str) -> bool {
    name.chars().any(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

pub(super) fn go<'t>(node: Node<'t>, src: &[u8], scope: &Scope) -> Action<'t> {
    let named = |kind| field(node, "name").and_then(|n| Found::new(kind, node, n, src));
    match node.kind() {
        "function_declaration" => Action::one(named("function")),
        "method_declaration" => {
            let receiver = field(node, "receiver").and_then(|r| go_receiver_type(r, src));
            Action::one(named("method").map(|f| match receiver {
                Some(r) => f.container(r),
                None => f,
            }))
        }
        "type_declaration" => Action::Descend,
        "type_spec" | "type_alias" => {
            let ty = field(node, "type");
            let (kind, body) = match ty.map(|t| t.kind()) {
                Some("struct_type") => ("struct", None),
                Some("interface_type") => ("interface", ty),
                _ => ("type", None),
            };
            Action::one(named(kind).map(|f| f.body(body, ScopeKind::Type)))
        }
        "method_elem" => Action::one(named("method")),
        "const_declaration" | "var_declaration" | "var_spec_list" if scope.keeps_variables() => {
            Action::Descend
        }
        "const_spec" | "var_spec" => {
            let kind = if node.kind() == "const_spec" {
                "const"
            } else {
                "var"
            };
            let mut cursor = node.walk();
            let names: Vec<Node> = node.children_by_field_name("name", &mut cursor).collect();
            Action::Defs(
                names
                    .into_iter()
                    .filter_map(|n| Found::new(kind, node, n, src))
                    .collect(),
            )
        }
        _ => Action::Skip,
    }
}

/// `Parser` for a receiver `(p *Parser)` or `(p Parser[T])`.
fn go_receiver_type(receiver: Node, src: &[u8]) -> Option<String> {
    let param = named_children(receiver)
        .into_iter()
        .find(|p| p.kind() == "parameter_declaration")?;
    let mut ty = field(param, "type")?;
    for _ in 0..4 {
        ty = match ty.kind() {
            "pointer_type" => ty.named_child(0)?,
            "generic_type" => field(ty, "type")?,
            _ => break,
        };
    }
    Some(text(ty, src))
}

pub(super) fn java<'t>(node: Node<'t>, src: &[u8], scope: &Scope) -> Action<'t> {
    let named = |kind| field(node, "name").and_then(|n| Found::new(kind, node, n, src));
    let body = field(node, "body");
    let container = |kind| Action::one(named(kind).map(|f| f.body(body, ScopeKind::Type)));
    match node.kind() {
        "class_declaration" => container("class"),
        "interface_declaration" => container("interface"),
        "enum_declaration" => container("enum"),
        "record_declaration" => container("record"),
        "annotation_type_declaration" => container("annotation"),
        "enum_body_declarations" => Action::Descend,
        "method_declaration" => {
            Action::one(named("method").map(|f| f.body(body, ScopeKind::Function)))
        }
        "constructor_declaration" | "compact_constructor_declaration" => {
            Action::one(named("constructor").map(|f| f.body(body, ScopeKind::Function)))
        }
        // Constants: `static final` fields, and every field of an
        // interface. Other fields are state, not navigation targets.
        "field_declaration" | "constant_declaration" if scope.keeps_variables() => {
            let constant = node.kind() == "constant_declaration"
                || named_children(node).into_iter().any(|m| {
                    m.kind() == "modifiers"
                        && has_child_kind(m, "static")
                        && has_child_kind(m, "final")
                });
            if !constant {
                return Action::Skip;
            }
            let mut cursor = node.walk();
            let declarators: Vec<Node> = node
                .children_by_field_name("declarator", &mut cursor)
                .collect();
            Action::Defs(
                declarators
                    .into_iter()
                    .filter_map(|d| {
                        field(d, "name").and_then(|n| Found::new("const", node, n, src))
                    })
                    .collect(),
            )
        }
        _ => Action::Skip,
    }
}
