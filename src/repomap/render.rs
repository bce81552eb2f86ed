//! The map as the model reads it: one line per file, `path: definitions`,
//! the best-scored definitions first, cut to a token budget.

use std::collections::{HashMap, HashSet};

use super::index::{Index, NO_CONTAINER};
use super::rank::Ranking;
use crate::tools::code::KINDS;

/// Definitions listed per file at most, so one large file cannot take the
/// whole budget.
const MAX_DEFS_PER_FILE: usize = 12;

/// A definition to list: its score, its file and its index in the file.
type Item = (f64, u32, u32);

/// Tokens a text takes, estimated as bytes / 4 (code and paths run a
/// little denser than prose; the budget is a bound, not an exact count).
pub fn estimate_tokens(text: &str) -> usize {
    text.len().div_ceil(4)
}

/// The largest map of the best-scored definitions that fits in
/// `max_tokens`: files in the order of their best definition, each file's
/// definitions in source order. Empty when nothing fits or nothing is
/// defined.
pub(super) fn render(index: &Index, ranking: &Ranking, max_tokens: usize) -> String {
    let mut items: Vec<Item> = ranking
        .def_score
        .iter()
        .enumerate()
        .flat_map(|(file, scores)| {
            scores
                .iter()
                .enumerate()
                .map(move |(def, score)| (*score, file as u32, def as u32))
        })
        .filter(|(score, _, _)| *score > 0.0)
        .collect();
    // Every item takes at least a token, so only the best few times the
    // budget can matter: sorting a large tree's every definition would
    // cost more than the ranking.
    let candidates = max_tokens.saturating_mul(4).max(16);
    let mut chosen = Vec::new();
    if items.len() > candidates {
        items.select_nth_unstable_by(candidates, best_first);
        let mut best = items[..candidates].to_vec();
        best.sort_by(best_first);
        chosen = distinct(index, best);
    }
    if chosen.is_empty() || estimate_tokens(&render_items(index, &chosen)) <= max_tokens {
        // The candidates do not fill the budget: take them all.
        items.sort_by(best_first);
        chosen = distinct(index, items);
    }

    // The most items whose rendering fits: rendering grows with the count.
    let (mut low, mut high) = (0, chosen.len());
    let mut best = String::new();
    while low < high {
        let mid = (low + high).div_ceil(2);
        let text = render_items(index, &chosen[..mid]);
        if estimate_tokens(&text) <= max_tokens {
            low = mid;
            best = text;
        } else {
            high = mid - 1;
        }
    }
    best
}

/// Highest score first; ties in file, then definition order.
fn best_first(a: &Item, b: &Item) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
}

/// `items` without repeats of a (file, name), which overloads and a Rust
/// type's several impls would give, and with at most
/// [`MAX_DEFS_PER_FILE`] of any file.
fn distinct(index: &Index, mut items: Vec<Item>) -> Vec<Item> {
    let mut seen = HashSet::new();
    let mut per_file: HashMap<u32, usize> = HashMap::new();
    items.retain(|&(_, file, def)| {
        let name = index.files[file as usize].defs[def as usize].name;
        let count = per_file.entry(file).or_default();
        if *count >= MAX_DEFS_PER_FILE || !seen.insert((file, name)) {
            return false;
        }
        *count += 1;
        true
    });
    items
}

/// `path: a(), struct B, C.d()` lines for these items.
fn render_items(index: &Index, items: &[Item]) -> String {
    let mut order: Vec<u32> = Vec::new();
    let mut chosen: HashMap<u32, Vec<u32>> = HashMap::new();
    for &(_, file, def) in items {
        chosen
            .entry(file)
            .or_insert_with(|| {
                order.push(file);
                Vec::new()
            })
            .push(def);
    }
    let mut out = String::new();
    for file in order {
        let entry = &index.files[file as usize];
        let Some(defs) = chosen.get_mut(&file) else {
            continue;
        };
        defs.sort_by_key(|def| (entry.defs[*def as usize].line, *def));
        out.push_str(&entry.path);
        out.push(':');
        for (i, def) in defs.iter().enumerate() {
            let def = entry.defs[*def as usize];
            out.push_str(if i == 0 { " " } else { ", " });
            let kind = KINDS.get(usize::from(def.kind)).copied().unwrap_or("");
            let container = (def.container != NO_CONTAINER).then(|| index.name(def.container));
            out.push_str(&label(kind, index.name(def.name), container));
        }
        out.push('\n');
    }
    out
}

/// `name()` for a function, `Type.name()` for a method, `kind name` for
/// the rest.
fn label(kind: &str, name: &str, container: Option<&str>) -> String {
    match (kind, container) {
        ("method" | "constructor", Some(container)) => format!("{container}.{name}()"),
        ("function" | "method" | "constructor" | "prototype", _) => format!("{name}()"),
        _ => format!("{kind} {name}"),
    }
}
