//! The reference graph's fixed part, built once per index: each file's
//! uses of definitions in other files, with their weight, and the
//! file-to-file edges those make. A ranking only adds what the task
//! changes (mentioned names weigh more), so ranking a large tree again for
//! another task costs milliseconds.
//!
//! Names are all there is to go by (no types are resolved), so a method
//! call `x.len()` could be a use of any `len` the workspace defines. A use
//! of a definition that lives inside a type or module (a method, an
//! associated item) counts fully only when the using file also names that
//! container: `entries.is_empty()` in a file that never says `Composer` is
//! most likely not a use of `Composer.is_empty()`. And a member access
//! (`x.collect()`) is never a use of a free function (`fn collect`).

use super::index::{Index, NO_CONTAINER};
use super::tags::MEMBER_USE;

/// Names defined in more files than this tie nothing together (`new`,
/// `fmt`, `run`...) and would add an edge from every user to every
/// definer: they are left out of the graph.
pub(super) const MAX_DEFINERS: usize = 32;
/// The weight left to a use of a contained definition by a file that
/// never names its container.
const UNRELATED_CONTAINER: f64 = 0.1;

/// A file defining a name.
#[derive(Debug, Clone, Copy)]
struct Definer {
    file: u32,
    /// The slot holding the score of the file's definitions of the name.
    slot: u32,
    /// The container all of them share, or [`NO_CONTAINER`].
    container: u32,
    /// Whether any of them is inside a type or module.
    contained: bool,
}

/// One file's use of the definitions of one name in another file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Use {
    pub name: u32,
    /// The slot holding the score of those definitions.
    pub slot: u32,
    pub weight: f64,
}

/// The graph without the task's mentions.
#[derive(Debug, Clone, Default)]
pub(super) struct Links {
    /// By slot: the file whose definitions of one name it scores.
    pub slot_file: Vec<u32>,
    /// By file, by definition: its slot.
    pub def_slot: Vec<Vec<u32>>,
    /// By file, in compressed rows: its uses.
    use_offsets: Vec<usize>,
    uses: Vec<Use>,
    /// File-to-file edges in compressed rows, weights summed per pair.
    offsets: Vec<usize>,
    edges: Vec<(u32, f64)>,
    /// By file, the sum of its edges' weights.
    pub out_weight: Vec<f64>,
}

impl Links {
    pub(super) fn build(index: &Index) -> Links {
        let n = index.files.len();
        let mut links = Links::default();
        let mut definers: Vec<Vec<Definer>> = vec![Vec::new(); index.names.len()];
        for (file, entry) in index.files.iter().enumerate() {
            let file = file as u32;
            let slots = entry
                .defs
                .iter()
                .map(|def| {
                    let list = &mut definers[def.name as usize];
                    match list.last_mut() {
                        Some(last) if last.file == file => {
                            if last.container != def.container {
                                last.container = NO_CONTAINER;
                            }
                            last.contained |= def.container != NO_CONTAINER;
                            last.slot
                        }
                        _ => {
                            let slot = links.slot_file.len() as u32;
                            list.push(Definer {
                                file,
                                slot,
                                container: def.container,
                                contained: def.container != NO_CONTAINER,
                            });
                            links.slot_file.push(file);
                            slot
                        }
                    }
                })
                .collect();
            links.def_slot.push(slots);
        }
        let weight: Vec<f64> = definers
            .iter()
            .enumerate()
            .map(|(name, files)| name_weight(index.name(name as u32), files.len()))
            .collect();

        // Each file's uses, then its edges summed per target in a dense row.
        let mut named = vec![false; index.names.len()];
        let mut row = vec![0.0; n];
        let mut touched: Vec<u32> = Vec::new();
        links.use_offsets.push(0);
        links.offsets.push(0);
        links.out_weight = vec![0.0; n];
        for (file, entry) in index.files.iter().enumerate() {
            for &(name, _) in &entry.refs {
                named[name as usize] = true;
            }
            for &(name, count) in &entry.refs {
                let base = weight[name as usize];
                if base <= 0.0 {
                    continue;
                }
                let member = count & MEMBER_USE != 0;
                let used = base * f64::from(count & !MEMBER_USE).sqrt();
                for definer in &definers[name as usize] {
                    let Definer {
                        file: definer,
                        slot,
                        container,
                        contained,
                    } = *definer;
                    if definer as usize == file || (member && !contained) {
                        continue;
                    }
                    let related = container == NO_CONTAINER || named[container as usize];
                    let weight = if related {
                        used
                    } else {
                        used * UNRELATED_CONTAINER
                    };
                    links.uses.push(Use { name, slot, weight });
                    if row[definer as usize] == 0.0 {
                        touched.push(definer);
                    }
                    row[definer as usize] += weight;
                }
            }
            for &(name, _) in &entry.refs {
                named[name as usize] = false;
            }
            links.use_offsets.push(links.uses.len());
            touched.sort_unstable();
            for &target in &touched {
                let weight = std::mem::take(&mut row[target as usize]);
                links.edges.push((target, weight));
                links.out_weight[file] += weight;
            }
            touched.clear();
            links.offsets.push(links.edges.len());
        }
        links
    }

    /// `file`'s uses of definitions elsewhere.
    pub(super) fn uses_of(&self, file: usize) -> &[Use] {
        &self.uses[self.use_offsets[file]..self.use_offsets[file + 1]]
    }

    /// `file`'s edges.
    pub(super) fn edges_of(&self, file: usize) -> &[(u32, f64)] {
        &self.edges[self.offsets[file]..self.offsets[file + 1]]
    }
}

/// Aider's weighting of one use of a name: long descriptive names
/// (`snake_case` or `camelCase`, 8 characters or more) count ten times,
/// private-looking ones (`_x`) and those defined in many files a tenth;
/// names defined nowhere, or too widely, not at all.
fn name_weight(name: &str, definers: usize) -> f64 {
    if definers == 0 || definers > MAX_DEFINERS {
        return 0.0;
    }
    let mut weight = 1.0;
    let snake = name.contains('_') && name.chars().any(char::is_alphabetic);
    let camel = name.chars().any(char::is_uppercase) && name.chars().any(char::is_lowercase);
    if (snake || camel) && name.chars().count() >= 8 {
        weight *= 10.0;
    }
    if name.starts_with('_') {
        weight *= 0.1;
    }
    if definers > 5 {
        weight *= 0.1;
    }
    weight
}
