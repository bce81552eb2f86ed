//! The layout arithmetic of MLA attention output (glint's patch 0003 of
//! mistralrs-core): the prefix-cache branch computes token-major attention,
//! and the attention layers read SDPA's layout when the attention mask is
//! present and token-major when it is absent. The branch itself needs CUDA
//! and PagedAttention; its arithmetic runs here on CPU.

use candle_core::D;
use mistralrs::core::mla_layout::{
    AttentionOutputLayout, attention_output_to_hidden, token_major_to,
};
use mistralrs::{DType, Device, Tensor};

const HEADS: usize = 3;
const V_DIM: usize = 4;

/// A value unique to each (batch, token, head, value dim).
fn value(b: usize, s: usize, h: usize, d: usize) -> f32 {
    (b * 1000 + s * 100 + h * 10 + d) as f32
}

/// Token-major attention output, (bs * seq, heads, v_dim), as the prefix
/// branch concatenates it.
fn token_major(bs: usize, seq: usize) -> Tensor {
    let mut data = Vec::new();
    for b in 0..bs {
        for s in 0..seq {
            for h in 0..HEADS {
                for d in 0..V_DIM {
                    data.push(value(b, s, h, d));
                }
            }
        }
    }
    Tensor::from_vec(data, (bs * seq, HEADS, V_DIM), &Device::Cpu).expect("tensor")
}

fn elements(t: &Tensor) -> Vec<f32> {
    t.contiguous()
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1())
        .expect("elements")
}

/// (bs, seq, heads * v_dim), each token's heads side by side.
fn expected_hidden(bs: usize, seq: usize) -> Vec<f32> {
    let mut out = vec![0.0; bs * seq * HEADS * V_DIM];
    for b in 0..bs {
        for s in 0..seq {
            for h in 0..HEADS {
                for d in 0..V_DIM {
                    out[(b * seq + s) * HEADS * V_DIM + h * V_DIM + d] = value(b, s, h, d);
                }
            }
        }
    }
    out
}

const SHAPES: [(usize, usize); 4] = [(1, 1), (1, 5), (2, 1), (2, 5)];

#[test]
fn the_mask_decides_the_layout() {
    assert_eq!(
        AttentionOutputLayout::for_mask(true),
        AttentionOutputLayout::Sdpa
    );
    assert_eq!(
        AttentionOutputLayout::for_mask(false),
        AttentionOutputLayout::TokenMajor
    );
}

#[test]
fn token_major_output_in_sdpa_layout_puts_heads_before_tokens() {
    for (bs, seq) in SHAPES {
        let sdpa = token_major_to(&token_major(bs, seq), bs, seq, AttentionOutputLayout::Sdpa)
            .expect("arranged");
        assert_eq!(sdpa.dims(), [bs, HEADS, seq, V_DIM]);
        let got = elements(&sdpa);
        for b in 0..bs {
            for h in 0..HEADS {
                for s in 0..seq {
                    for d in 0..V_DIM {
                        let at = ((b * HEADS + h) * seq + s) * V_DIM + d;
                        assert_eq!(
                            got[at],
                            value(b, s, h, d),
                            "bs {bs} seq {seq} [{b},{h},{s},{d}]"
                        );
                    }
                }
            }
        }
        let token_major_layout = token_major_to(
            &token_major(bs, seq),
            bs,
            seq,
            AttentionOutputLayout::TokenMajor,
        )
        .expect("arranged");
        assert_eq!(token_major_layout.dims(), [bs, seq, HEADS, V_DIM]);
    }
}

#[test]
fn either_mask_gives_the_callers_every_tokens_heads_in_order() {
    for (bs, seq) in SHAPES {
        for mask in [true, false] {
            let layout = AttentionOutputLayout::for_mask(mask);
            let arranged =
                token_major_to(&token_major(bs, seq), bs, seq, layout).expect("arranged");
            let hidden = attention_output_to_hidden(&arranged, bs, seq, layout).expect("hidden");
            assert_eq!(hidden.dims(), [bs, seq, HEADS * V_DIM]);
            assert_eq!(
                elements(&hidden),
                expected_hidden(bs, seq),
                "bs {bs} seq {seq} mask {mask}"
            );
        }
    }
}

#[test]
fn the_unpatched_return_swaps_heads_with_value_dims_under_a_mask() {
    // What 0.8.1 returned: the token-major concatenation as is, read by a
    // caller with a mask as SDPA's layout.
    for (bs, seq) in [(1, 5), (2, 5)] {
        let hidden =
            attention_output_to_hidden(&token_major(bs, seq), bs, seq, AttentionOutputLayout::Sdpa)
                .expect("hidden");
        assert_ne!(
            elements(&hidden),
            expected_hidden(bs, seq),
            "bs {bs} seq {seq}"
        );
    }
}

/// softmax(q kᵀ) v over (bs, heads, seq, dim) tensors: SDPA's layout.
fn attention(q: &Tensor, k: &Tensor, v: &Tensor) -> Tensor {
    let scores = q.matmul(&k.t().expect("kᵀ")).expect("scores");
    let max = scores.max_keepdim(D::Minus1).expect("max");
    let exp = scores
        .broadcast_sub(&max)
        .and_then(|t| t.exp())
        .expect("exp");
    let sum = exp.sum_keepdim(D::Minus1).expect("sum");
    let weights = exp.broadcast_div(&sum).expect("softmax");
    weights.matmul(v).expect("attention")
}

fn ramp(shape: (usize, usize, usize, usize), scale: f64) -> Tensor {
    let count = shape.0 * shape.1 * shape.2 * shape.3;
    Tensor::arange(0u32, count as u32, &Device::Cpu)
        .and_then(|t| t.to_dtype(DType::F32))
        .and_then(|t| (t * scale)?.sin())
        .and_then(|t| t.reshape(shape))
        .expect("ramp")
}

#[test]
fn per_sequence_attention_arranged_for_a_mask_equals_batched_sdpa() {
    // The prefix branch attends each sequence on its own and turns the
    // (1, heads, seq, v) result into (seq, heads, v) before concatenating.
    for (bs, seq) in SHAPES {
        let q = ramp((bs, HEADS, seq, 6), 0.37);
        let k = ramp((bs, HEADS, seq, 6), 0.53);
        let v = ramp((bs, HEADS, seq, V_DIM), 0.71);
        let batched = attention(&q, &k, &v);
        let per_sequence: Vec<Tensor> = (0..bs)
            .map(|b| {
                let one = |t: &Tensor| t.narrow(0, b, 1).expect("narrow");
                attention(&one(&q), &one(&k), &one(&v))
                    .squeeze(0)
                    .and_then(|t| t.transpose(0, 1))
                    .expect("token-major")
            })
            .collect();
        let concatenated = Tensor::cat(&per_sequence, 0).expect("cat");
        let arranged =
            token_major_to(&concatenated, bs, seq, AttentionOutputLayout::Sdpa).expect("arranged");
        assert_eq!(arranged.dims(), batched.dims());
        for (got, want) in elements(&arranged).iter().zip(elements(&batched)) {
            assert!(
                (got - want).abs() <= 1e-6,
                "bs {bs} seq {seq}: {got} vs {want}"
            );
        }
    }
}

/// The prefix branch's causal mask (core patch 0013 builds it on the device
/// from index ranges) equals the host-built one it replaced: new token i,
/// after `prefix` cached tokens, sees keys 0..=prefix + i.
#[test]
fn the_prefix_mask_built_on_the_device_equals_the_host_formula() {
    use mistralrs::core::mla_prefix_mask::prefix_causal_mask;
    for (cur, prefix) in [(2, 0), (3, 5), (7, 64), (1, 9), (33, 31)] {
        let keys = cur + prefix;
        let mask = prefix_causal_mask(cur, prefix, DType::F32, &Device::Cpu).expect("mask");
        assert_eq!(mask.dims(), &[cur, keys]);
        let got = elements(&mask);
        for i in 0..cur {
            for j in 0..keys {
                // The formula the branch used: hidden where j + cur > i + keys.
                let hidden = j + cur > i + keys;
                let value = got[i * keys + j];
                assert_eq!(
                    value,
                    if hidden { f32::NEG_INFINITY } else { 0.0 },
                    "cur {cur} prefix {prefix}: query {i}, key {j}"
                );
            }
        }
    }
}
