//! Split-KV planning for MLA decode (glint's patch 0007 of mistralrs-core,
//! with the kernel side in patch 0001 of mistralrs-paged-attn). The kernel
//! needs CUDA; the plan that decides which thread block reads which tokens is
//! arithmetic, checked here: every request's context is covered exactly once,
//! the grid budget is kept, the chunk is the smallest that keeps it, and
//! attention merged from the planned chunks equals attention over the whole
//! context.

use mistralrs::core::mla_split_kv::{self as split_kv, MIN_CHUNK_TOKENS, SplitKvPlan};

/// Checks everything a plan promises the kernel and the merge.
fn assert_valid(plan: &SplitKvPlan, kv_lens: &[usize], page_size: usize, budget: usize) {
    let requests = kv_lens.len();
    assert_eq!(
        plan.o_indptr.len(),
        requests + 1,
        "o_indptr has one entry per request and an end"
    );
    assert_eq!(plan.o_indptr[0], 0);
    assert_eq!(plan.o_indptr[requests] as usize, plan.num_work_items());
    assert_eq!(plan.kv_tile_indices.len(), plan.num_work_items());
    for (request, &len) in kv_lens.iter().enumerate() {
        let (first, end) = (
            plan.o_indptr[request] as usize,
            plan.o_indptr[request + 1] as usize,
        );
        assert!(end > first, "request {request} has no work item");
        for item in first..end {
            assert_eq!(
                plan.request_indices[item] as usize, request,
                "items of a request are consecutive"
            );
        }
        let chunks = plan.chunks_of(request, len);
        assert_eq!(chunks.len(), end - first);
        let mut next = 0;
        for chunk in &chunks {
            assert_eq!(
                chunk.start, next,
                "request {request}: gap or overlap at {next} in {chunks:?}"
            );
            assert!(
                chunk.end > chunk.start || len == 0,
                "request {request}: empty chunk {chunk:?}"
            );
            next = chunk.end;
        }
        assert_eq!(
            next, len,
            "request {request}: chunks {chunks:?} do not end at its length {len}"
        );
    }
    if plan.is_split() {
        assert!(
            plan.num_work_items() <= budget,
            "{} work items over a budget of {budget}",
            plan.num_work_items()
        );
        assert_eq!(plan.kv_chunk_size % page_size, 0, "chunks are whole pages");
        assert!(plan.kv_chunk_size >= MIN_CHUNK_TOKENS);
        // The smallest chunk that keeps the budget: one page less would not.
        let smaller = plan.kv_chunk_size - page_size;
        if smaller >= MIN_CHUNK_TOKENS {
            let items: usize = kv_lens.iter().map(|len| len.div_ceil(smaller).max(1)).sum();
            assert!(
                items > budget,
                "a chunk of {smaller} tokens ({items} items) would also fit {budget}"
            );
        }
    } else {
        assert_eq!(
            plan.num_work_items(),
            requests,
            "an unsplit step has one item per request"
        );
    }
}

#[test]
fn batch_one_long_context_fills_the_grid() {
    // GLM-4.7-Flash after 16k of context on an H100: 132 SMs x 2 resident
    // blocks over 2 head groups leaves 132 work items.
    let kv_lens = [16_384];
    let plan = split_kv::plan(&kv_lens, 32, 132);
    assert_valid(&plan, &kv_lens, 32, 132);
    assert!(plan.is_split());
    assert_eq!(plan.kv_chunk_size, 128);
    assert_eq!(plan.num_work_items(), 128);

    let kv_lens = [131_072];
    let plan = split_kv::plan(&kv_lens, 32, 132);
    assert_valid(&plan, &kv_lens, 32, 132);
    assert_eq!(plan.num_work_items(), 128, "chunk {}", plan.kv_chunk_size);
    assert_eq!(plan.kv_chunk_size, 1024);
}

#[test]
fn short_contexts_and_full_batches_stay_unsplit() {
    for (kv_lens, budget) in [
        (vec![1], 132),
        (vec![MIN_CHUNK_TOKENS], 132),
        (vec![5000; 200], 132),
        (vec![5000], 0),
        (vec![5000], 1),
        (vec![], 132),
    ] {
        let plan = split_kv::plan(&kv_lens, 16, budget);
        assert!(
            !plan.is_split(),
            "{kv_lens:?} with budget {budget} split: {plan:?}"
        );
        assert_valid(&plan, &kv_lens, 16, budget);
    }
}

#[test]
fn mixed_batches_cover_every_context_within_the_budget() {
    // A deterministic spread of lengths, page sizes and budgets.
    let mut state = 0x9e37_79b9_u64;
    let mut next = |modulus: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % modulus as u64) as usize
    };
    for _ in 0..2000 {
        let page_size = [1, 16, 32, 64][next(4)];
        let requests = 1 + next(12);
        let kv_lens: Vec<usize> = (0..requests).map(|_| 1 + next(70_000)).collect();
        let budget = next(600);
        let plan = split_kv::plan(&kv_lens, page_size, budget);
        assert_valid(&plan, &kv_lens, page_size, budget);
    }
}

/// softmax(q·K) V over `range` of the context, with its log-sum-exp (natural
/// log), as one split-KV work item computes it.
fn partial_attention(
    q: &[f32],
    keys: &[Vec<f32>],
    values: &[Vec<f32>],
    range: std::ops::Range<usize>,
) -> (Vec<f32>, f32) {
    let scores: Vec<f32> = keys[range.clone()]
        .iter()
        .map(|k| k.iter().zip(q).map(|(a, b)| a * b).sum::<f32>())
        .collect();
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f32 = weights.iter().sum();
    let mut out = vec![0.0; values[0].len()];
    for (w, v) in weights.iter().zip(&values[range]) {
        for (o, x) in out.iter_mut().zip(v) {
            *o += w * x / sum;
        }
    }
    (out, max + sum.ln())
}

#[test]
fn attention_merged_from_planned_chunks_equals_whole_context_attention() {
    let dim = 8;
    let len = 1000;
    let keys: Vec<Vec<f32>> = (0..len)
        .map(|t| {
            (0..dim)
                .map(|d| ((t * 7 + d * 3) % 11) as f32 / 11.0 - 0.5)
                .collect()
        })
        .collect();
    let values: Vec<Vec<f32>> = (0..len)
        .map(|t| {
            (0..dim)
                .map(|d| ((t * 5 + d * 13) % 17) as f32 / 17.0)
                .collect()
        })
        .collect();
    let q: Vec<f32> = (0..dim).map(|d| d as f32 / dim as f32 - 0.3).collect();

    let (whole, _) = partial_attention(&q, &keys, &values, 0..len);
    let plan = split_kv::plan(&[len], 16, 6);
    assert!(plan.is_split());
    let chunks = plan.chunks_of(0, len);
    assert!(chunks.len() > 1);
    // FlashInfer's merge: weight each normalized partial output by its
    // share of the total softmax mass, exp(lse_i - lse_total).
    let partials: Vec<(Vec<f32>, f32)> = chunks
        .iter()
        .map(|range| partial_attention(&q, &keys, &values, range.clone()))
        .collect();
    let lse_max = partials
        .iter()
        .map(|(_, lse)| *lse)
        .fold(f32::NEG_INFINITY, f32::max);
    let mass: f32 = partials.iter().map(|(_, lse)| (lse - lse_max).exp()).sum();
    let mut merged = vec![0.0; dim];
    for (out, lse) in &partials {
        let share = (lse - lse_max).exp() / mass;
        for (m, o) in merged.iter_mut().zip(out) {
            *m += share * o;
        }
    }
    for (m, w) in merged.iter().zip(&whole) {
        assert!((m - w).abs() < 1e-5, "merged {merged:?} != whole {whole:?}");
    }
}
