//! Ranking, as Aider's repo map does it: PageRank over the reference graph
//! ([`super::links`]), personalised toward the files the task mentions and
//! with the names it mentions weighing more; then each definition scored
//! by the rank that flows to it along its name's edges.

use super::index::Index;
use super::links::Links;
use super::mentions::Mentions;

/// PageRank's damping factor (the usual 0.85).
const DAMPING: f64 = 0.85;
const MAX_ITERATIONS: usize = 100;
/// Stop once an iteration moves the ranks less than this per file, in
/// total (networkx's default, which Aider's ranks come from).
const TOLERANCE: f64 = 1e-6;
/// How much more the uses of a name the task mentions weigh (Aider's).
const MENTION_FACTOR: f64 = 10.0;
/// The share of the teleport mass that goes to mentioned files, when the
/// task mentions any (the rest stays spread over all files, so the map
/// still shows the workspace's core as well).
const MENTION_SHARE: f64 = 0.5;
/// The share of a file's own rank its definitions get whether or not
/// anything uses them, so a mentioned file's definitions show even when
/// nothing else references them yet.
const OWN_SHARE: f64 = 0.1;

/// Ranks of files and scores of definitions.
#[derive(Debug, Clone)]
pub(super) struct Ranking {
    /// By file, summing to 1.
    pub file_rank: Vec<f64>,
    /// By file, then by definition (as in the file's `defs`).
    pub def_score: Vec<Vec<f64>>,
}

/// Ranks `index`'s files and definitions, personalised toward `mentions`.
pub(super) fn rank(index: &Index, mentions: &Mentions) -> Ranking {
    let links = index.links();
    let n = index.files.len();
    let mentioned = |name: u32| mentions.idents.get(name as usize).copied().unwrap_or(false);

    // Mentioned names' extra weight, as edges on top of the fixed ones.
    let mut out_weight = links.out_weight.clone();
    let mut extra: Vec<(u32, u32, f64)> = Vec::new();
    if mentions.idents.contains(&true) {
        for (file, out) in out_weight.iter_mut().enumerate() {
            for used in links.uses_of(file) {
                if mentioned(used.name) {
                    let more = used.weight * (MENTION_FACTOR - 1.0);
                    extra.push((file as u32, links.slot_file[used.slot as usize], more));
                    *out += more;
                }
            }
        }
    }
    let teleport = teleport(n, &mentions.files);
    let file_rank = pagerank(links, &extra, &out_weight, &teleport);

    let mut slot_score = vec![0.0; links.slot_file.len()];
    for (file, out) in out_weight.iter().enumerate() {
        if *out <= 0.0 {
            continue;
        }
        let share = file_rank[file] / out;
        for used in links.uses_of(file) {
            let factor = if mentioned(used.name) {
                MENTION_FACTOR
            } else {
                1.0
            };
            slot_score[used.slot as usize] += share * used.weight * factor;
        }
    }
    let def_score = links
        .def_slot
        .iter()
        .enumerate()
        .map(|(file, slots)| {
            let own = if slots.is_empty() {
                0.0
            } else {
                file_rank[file] * OWN_SHARE / slots.len() as f64
            };
            slots
                .iter()
                .map(|slot| slot_score[*slot as usize] + own)
                .collect()
        })
        .collect();
    Ranking {
        file_rank,
        def_score,
    }
}

/// Where a random surfer restarts: uniformly, or with [`MENTION_SHARE`] of
/// it on the mentioned files.
fn teleport(n: usize, mentioned: &[bool]) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    let count = mentioned.iter().filter(|m| **m).count();
    if count == 0 {
        return vec![1.0 / n as f64; n];
    }
    let base = (1.0 - MENTION_SHARE) / n as f64;
    let boost = MENTION_SHARE / count as f64;
    mentioned
        .iter()
        .map(|m| if *m { base + boost } else { base })
        .collect()
}

/// PageRank by power iteration over the fixed edges and the `extra` ones;
/// a file that uses nothing (a dangling node) hands its rank out as the
/// teleport does.
fn pagerank(
    links: &Links,
    extra: &[(u32, u32, f64)],
    out_weight: &[f64],
    teleport: &[f64],
) -> Vec<f64> {
    let n = teleport.len();
    let mut rank = teleport.to_vec();
    let mut next = vec![0.0; n];
    for _ in 0..MAX_ITERATIONS {
        let dangling: f64 = (0..n)
            .filter(|file| out_weight[*file] <= 0.0)
            .map(|file| rank[file])
            .sum();
        for (file, value) in next.iter_mut().enumerate() {
            *value = (1.0 - DAMPING + DAMPING * dangling) * teleport[file];
        }
        for (file, out) in out_weight.iter().enumerate() {
            if *out <= 0.0 {
                continue;
            }
            let give = DAMPING * rank[file] / out;
            for &(target, weight) in links.edges_of(file) {
                next[target as usize] += give * weight;
            }
        }
        for &(from, to, weight) in extra {
            let from = from as usize;
            next[to as usize] += DAMPING * rank[from] / out_weight[from] * weight;
        }
        let moved: f64 = rank.iter().zip(&next).map(|(a, b)| (a - b).abs()).sum();
        std::mem::swap(&mut rank, &mut next);
        if moved < TOLERANCE * n as f64 {
            break;
        }
    }
    rank
}
