//! Expert selection of glint's patch 0006 of mistralrs-core: GLM's one-group
//! routing takes the top experts directly, with the same result as the full
//! group-limited computation it replaces.

use mistralrs::core::moe_routing::{select_experts, select_experts_grouped};
use mistralrs::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TOKENS: usize = 7;
const EXPERTS: usize = 64;

/// Router scores as GLM makes them: a sigmoid plus a correction bias.
fn scores(seed: u64) -> (Vec<f32>, Tensor) {
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<f32> = (0..TOKENS * EXPERTS)
        .map(|_| rng.gen_range(0.0f32..1.0) + rng.gen_range(-0.05f32..0.05))
        .collect();
    let tensor = Tensor::from_vec(values.clone(), (TOKENS, EXPERTS), &Device::Cpu).expect("scores");
    (values, tensor)
}

fn rows(indices: &Tensor) -> Vec<Vec<u32>> {
    indices.to_vec2::<u32>().expect("indices")
}

#[test]
fn one_group_routing_picks_the_best_experts_of_each_token() {
    for seed in 0..5 {
        let (values, tensor) = scores(seed);
        let selected = rows(&select_experts(&tensor, 1, 1, 4).expect("selected"));
        for (token, chosen) in selected.iter().enumerate() {
            let row = &values[token * EXPERTS..(token + 1) * EXPERTS];
            let mut order: Vec<u32> = (0..EXPERTS as u32).collect();
            order.sort_by(|&a, &b| row[b as usize].total_cmp(&row[a as usize]));
            assert_eq!(chosen, &order[..4], "seed {seed} token {token}");
        }
    }
}

#[test]
fn the_fast_path_selects_what_the_full_group_computation_selects() {
    // GLM-4.7-Flash: one group; and any routing where every group stays
    // eligible.
    for seed in 0..5 {
        let (_, tensor) = scores(seed);
        for (n_group, topk_group, top_k) in [(1, 1, 4), (1, 1, 8), (8, 8, 4), (4, 4, 6)] {
            let fast = select_experts(&tensor, n_group, topk_group, top_k).expect("fast");
            let full = select_experts_grouped(&tensor, n_group, topk_group, top_k).expect("full");
            assert_eq!(
                rows(&fast),
                rows(&full),
                "seed {seed}, {n_group} groups, {topk_group} kept, top {top_k}"
            );
        }
    }
}

#[test]
fn limited_groups_still_take_the_group_computation() {
    // DeepSeek-V3-like routing (8 groups, 4 kept): only experts of the 4
    // groups with the best top-2 sums may be chosen.
    let (values, tensor) = scores(11);
    let selected = rows(&select_experts(&tensor, 8, 4, 8).expect("selected"));
    let per_group = EXPERTS / 8;
    for (token, chosen) in selected.iter().enumerate() {
        let row = &values[token * EXPERTS..(token + 1) * EXPERTS];
        let mut group_scores: Vec<(usize, f32)> = (0..8)
            .map(|g| {
                let mut group: Vec<f32> = row[g * per_group..(g + 1) * per_group].to_vec();
                group.sort_by(|a, b| b.total_cmp(a));
                (g, group[0] + group[1])
            })
            .collect();
        group_scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        let kept: Vec<usize> = group_scores[..4].iter().map(|(g, _)| *g).collect();
        for expert in chosen {
            assert!(
                kept.contains(&(*expert as usize / per_group)),
                "token {token}: expert {expert} is outside the kept groups {kept:?}"
            );
        }
    }
}
