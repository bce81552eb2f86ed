//! Fitting a model into GPU memory: which `--isq` level `auto` picks, and
//! what to suggest when loading runs out of memory.
//!
//! Sizes are estimates from the checkpoint's bytes on disk (bf16 weights) and
//! the KV cache the context needs; free memory comes from `nvidia-smi`, which
//! every CUDA machine has, so the estimate needs no CUDA call before mistralrs
//! owns the device.

use serde_json::Value;

use super::options::IsqChoice;

/// Size of the weights after each ISQ level relative to bf16 (16 bits):
/// Q8_0 is 8.5 bits, FP8 8, Q6K 6.56, Q4K 4.5 (block scales included).
/// Ordered from most to least precise.
const LEVELS: [(IsqChoice, f64); 5] = [
    (IsqChoice::None, 1.0),
    (IsqChoice::Q8_0, 8.5 / 16.0),
    (IsqChoice::Fp8, 8.0 / 16.0),
    (IsqChoice::Q6k, 6.5625 / 16.0),
    (IsqChoice::Q4k, 4.5 / 16.0),
];

/// Memory kept free for activations, CUDA context and fragmentation.
const HEADROOM: f64 = 0.10;

/// Bytes the KV cache needs per token of context, from `config.json`:
/// MLA models cache the latent (kv_lora_rank + qk_rope_head_dim) per layer;
/// others keys and values per KV head. bf16 (2 bytes per value).
pub fn kv_bytes_per_token(config: &Value) -> Option<u64> {
    let get = |key: &str| config.get(key).and_then(Value::as_u64);
    let layers = get("num_hidden_layers")?;
    if let (Some(rank), Some(rope)) = (get("kv_lora_rank"), get("qk_rope_head_dim")) {
        return Some(layers * (rank + rope) * 2);
    }
    let heads = get("num_attention_heads")?;
    let kv_heads = get("num_key_value_heads").unwrap_or(heads);
    let head_dim = get("head_dim").or_else(|| Some(get("hidden_size")? / heads))?;
    Some(layers * kv_heads * head_dim * 2 * 2)
}

/// What a load needs: weights as stored (bf16) and the KV cache.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryNeed {
    pub weight_bytes: u64,
    pub kv_bytes: u64,
}

impl MemoryNeed {
    fn at(&self, factor: f64) -> u64 {
        (self.weight_bytes as f64 * factor) as u64 + self.kv_bytes
    }
}

/// The highest-precision level whose weights and KV cache fit in `free`
/// bytes with headroom, or `None` when even Q4K does not fit.
pub fn choose_isq(need: MemoryNeed, free: u64) -> Option<IsqChoice> {
    let budget = (free as f64 * (1.0 - HEADROOM)) as u64;
    LEVELS
        .iter()
        .find(|(_, factor)| need.at(*factor) <= budget)
        .map(|(level, _)| *level)
}

/// A one-line explanation of an out-of-memory load, naming the level that
/// would fit (or saying that none does).
pub fn out_of_memory_advice(need: MemoryNeed, free: Option<u64>, tried: IsqChoice) -> String {
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let Some(free) = free else {
        return "not enough GPU memory; try a smaller --isq (q8_0, q6k, q4k) or a smaller --max-context".into();
    };
    match choose_isq(need, free) {
        Some(level) if level != tried => format!(
            "not enough GPU memory ({:.1} GiB free); --isq {} should fit (about {:.1} GiB with the KV cache)",
            gib(free),
            level.name(),
            gib(need.at(factor_of(level)))
        ),
        _ => format!(
            "not enough GPU memory ({:.1} GiB free); even --isq q4k needs about {:.1} GiB with a {:.1} GiB KV cache: lower --max-context",
            gib(free),
            gib(need.at(factor_of(IsqChoice::Q4k))),
            gib(need.kv_bytes)
        ),
    }
}

/// Bytes left for the KV cache once the weights are loaded at `isq`, with
/// headroom; `None` when the weights alone do not fit.
pub fn room_beside_weights(need: MemoryNeed, free: u64, isq: IsqChoice) -> Option<u64> {
    let budget = (free as f64 * (1.0 - HEADROOM)) as u64;
    budget.checked_sub(need.at(factor_of(isq)))
}

fn factor_of(level: IsqChoice) -> f64 {
    LEVELS
        .iter()
        .find(|(l, _)| *l == level)
        .map_or(1.0, |(_, f)| *f)
}

/// Free memory of CUDA device `ordinal` in bytes, from `nvidia-smi`.
pub fn free_gpu_memory(ordinal: usize) -> Option<u64> {
    let output = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=memory.free",
            "--format=csv,noheader,nounits",
            &format!("--id={ordinal}"),
        ])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let mib: u64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .ok()?;
    Some(mib * 1024 * 1024)
}

/// Whether a load error says the GPU ran out of memory.
pub fn is_out_of_memory(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("out of memory") || lower.contains("out_of_memory")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GIB: u64 = 1 << 30;

    #[test]
    fn glm_latent_kv_cache_is_about_54_kb_per_token() {
        let config = json!({"num_hidden_layers": 47, "kv_lora_rank": 512, "qk_rope_head_dim": 64,
                            "num_attention_heads": 20, "hidden_size": 2048});
        assert_eq!(kv_bytes_per_token(&config), Some(47 * 576 * 2));
        let llama = json!({"num_hidden_layers": 30, "num_attention_heads": 9,
                           "num_key_value_heads": 3, "hidden_size": 576});
        assert_eq!(kv_bytes_per_token(&llama), Some(30 * 3 * 64 * 4));
    }

    #[test]
    fn auto_picks_the_most_precise_level_that_fits() {
        // GLM-4.7-Flash: ~56 GiB of bf16 weights, 200k tokens of 54 KB.
        let need = MemoryNeed {
            weight_bytes: 56 * GIB,
            kv_bytes: 202_752 * 54_144,
        };
        // bf16 needs 56 + 10.2 GiB: fits an H100's 79 GiB with 10% headroom.
        assert_eq!(choose_isq(need, 79 * GIB), Some(IsqChoice::None));
        assert_eq!(choose_isq(need, 60 * GIB), Some(IsqChoice::Q8_0));
        assert_eq!(choose_isq(need, 40 * GIB), Some(IsqChoice::Q6k));
        assert_eq!(choose_isq(need, 30 * GIB), Some(IsqChoice::Q4k));
        assert_eq!(choose_isq(need, 20 * GIB), None);
    }

    #[test]
    fn out_of_memory_advice_names_a_level_or_the_context() {
        let need = MemoryNeed {
            weight_bytes: 56 * GIB,
            kv_bytes: 4 * GIB,
        };
        let advice = out_of_memory_advice(need, Some(24 * GIB), IsqChoice::None);
        assert!(advice.contains("--isq q4k"), "{advice}");
        let advice = out_of_memory_advice(need, Some(40 * GIB), IsqChoice::None);
        assert!(advice.contains("--isq q8_0"), "{advice}");
        let advice = out_of_memory_advice(need, Some(10 * GIB), IsqChoice::None);
        assert!(advice.contains("lower --max-context"), "{advice}");
        assert!(is_out_of_memory(
            "DriverError(CUDA_ERROR_OUT_OF_MEMORY, \"out of memory\")"
        ));
        assert!(!is_out_of_memory("file not found"));
        let weights = MemoryNeed {
            weight_bytes: 56 * GIB,
            kv_bytes: 0,
        };
        let room = room_beside_weights(weights, 79 * GIB, IsqChoice::None).expect("fits");
        assert_eq!(room, (79.0 * 0.9 * GIB as f64) as u64 - 56 * GIB);
        assert_eq!(
            room_beside_weights(weights, 50 * GIB, IsqChoice::None),
            None
        );
    }
}
