//! `glint dev tiny-glm DIR`: a random-weight checkpoint of GLM-4.7-Flash's
//! architecture (`glm4_moe_lite`), for testing the real loading and inference
//! path without the 60 GB of real weights.
//!
//! It keeps the structure that matters to an inference engine: MLA attention
//! with low-rank q and kv projections, a dense first layer, MoE layers with
//! routed experts plus a shared expert and the router's score-correction bias,
//! GLM's full vocabulary with its special tokens at their real ids, and
//! Hugging Face's shard naming. With `--real-dims` it has the real model's
//! dimensions (47 layers is the whole model's shape).

use std::fs;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use serde_json::{Value, json};

mod per_expert;
use per_expert::RawTensor;

/// GLM-4.7-Flash's vocabulary size; its special tokens sit at the top of it.
pub const VOCAB_SIZE: usize = 154_880;

/// GLM's special tokens at their real ids.
pub const SPECIAL_TOKENS: [(u32, &str); 10] = [
    (154_820, "<|endoftext|>"),
    (154_821, "[MASK]"),
    (154_822, "[gMASK]"),
    (154_823, "[sMASK]"),
    (154_824, "<sop>"),
    (154_825, "<eop>"),
    (154_826, "<|system|>"),
    (154_827, "<|user|>"),
    (154_828, "<|assistant|>"),
    (154_829, "<|observation|>"),
];

/// GLM's reasoning and tool-call tags, as single tokens that decode to their
/// text (so the output parser sees them), placed just above the specials.
pub const TAG_TOKENS: [(u32, &str); 10] = [
    (154_830, "<think>"),
    (154_831, "</think>"),
    (154_832, "<tool_call>"),
    (154_833, "</tool_call>"),
    (154_834, "<arg_key>"),
    (154_835, "</arg_key>"),
    (154_836, "<arg_value>"),
    (154_837, "</arg_value>"),
    (154_838, "<tool_response>"),
    (154_839, "</tool_response>"),
];

/// How routed experts are laid out in the safetensors files. The same seed
/// gives the same expert weights in either layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExpertLayout {
    /// `mlp.experts.gate_up_proj` [E, H, 2I] and `mlp.experts.down_proj`
    /// [E, I, H].
    Stacked,
    /// `mlp.experts.N.{gate,up,down}_proj.weight`: the official layout.
    PerExpert,
}

/// Element type of the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WeightType {
    Bf16,
    F32,
}

/// The checkpoint's shape.
#[derive(Debug, Clone, clap::Args)]
pub struct TinyGlmOptions {
    /// Decoder layers (the first is dense, the rest MoE).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub layers: u32,
    /// Use GLM-4.7-Flash's real dimensions instead of tiny ones.
    #[arg(long)]
    pub real_dims: bool,
    #[arg(long)]
    pub hidden: Option<usize>,
    #[arg(long)]
    pub heads: Option<usize>,
    #[arg(long)]
    pub experts: Option<usize>,
    /// Routed experts active per token.
    #[arg(long)]
    pub active_experts: Option<usize>,
    #[arg(long, value_enum, default_value_t = ExpertLayout::Stacked)]
    pub layout: ExpertLayout,
    #[arg(long = "dtype", value_enum, default_value_t = WeightType::Bf16)]
    pub weight_type: WeightType,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Every dimension of the architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dims {
    hidden: usize,
    intermediate: usize,
    moe_intermediate: usize,
    heads: usize,
    q_lora_rank: usize,
    kv_lora_rank: usize,
    qk_nope: usize,
    qk_rope: usize,
    v_head: usize,
    experts: usize,
    active: usize,
}

impl Dims {
    fn from_options(options: &TinyGlmOptions) -> Result<Self, TinyGlmError> {
        let mut dims = if options.real_dims {
            Dims {
                hidden: 2048,
                intermediate: 10240,
                moe_intermediate: 1536,
                heads: 20,
                q_lora_rank: 768,
                kv_lora_rank: 512,
                qk_nope: 192,
                qk_rope: 64,
                v_head: 256,
                experts: 64,
                active: 4,
            }
        } else {
            // v_head = qk_nope + qk_rope, as in the real model (mistralrs
            // 0.8.1 assumes it).
            Dims {
                hidden: 64,
                intermediate: 128,
                moe_intermediate: 32,
                heads: 4,
                q_lora_rank: 32,
                kv_lora_rank: 16,
                qk_nope: 16,
                qk_rope: 8,
                v_head: 24,
                experts: 8,
                active: 2,
            }
        };
        if let Some(hidden) = options.hidden {
            dims.hidden = hidden;
        }
        if let Some(heads) = options.heads {
            dims.heads = heads;
        }
        if let Some(experts) = options.experts {
            dims.experts = experts;
        }
        if let Some(active) = options.active_experts {
            dims.active = active;
        }
        if dims.hidden == 0 || dims.heads == 0 || dims.experts == 0 {
            return Err(TinyGlmError::Shape(
                "--hidden, --heads and --experts must be at least 1".into(),
            ));
        }
        if dims.active == 0 || dims.active > dims.experts {
            return Err(TinyGlmError::Shape(format!(
                "--active-experts must be between 1 and the number of experts ({})",
                dims.experts
            )));
        }
        Ok(dims)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TinyGlmError {
    #[error("{0}")]
    Shape(String),
    #[error("cannot write {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot serialise {path}: {message}")]
    Serialize { path: PathBuf, message: String },
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TinyGlmSummary {
    pub tensors: usize,
    pub parameters: u64,
    pub bytes: u64,
}

/// Writes the checkpoint into `dir` (created if needed).
pub fn write(dir: &Path, options: &TinyGlmOptions) -> Result<TinyGlmSummary, TinyGlmError> {
    let dims = Dims::from_options(options)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| TinyGlmError::Io { path, error }
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    let layers = options.layers as usize;
    write_json(
        dir,
        "config.json",
        &config(&dims, layers, options.weight_type),
    )?;
    write_json(
        dir,
        "generation_config.json",
        &json!({"eos_token_id": [154_820, 154_827, 154_829], "pad_token_id": 154_820,
                "do_sample": true, "temperature": 0.7, "top_p": 1.0}),
    )?;
    write_json(dir, "tokenizer.json", &tokenizer())?;
    write_json(
        dir,
        "tokenizer_config.json",
        &json!({"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                "tokenizer_class": "PreTrainedTokenizerFast"}),
    )?;

    let mut writer = ShardWriter {
        dir,
        shards: layers + 2,
        rng: StdRng::seed_from_u64(options.seed),
        weight_type: options.weight_type,
        layout: options.layout,
        weight_map: serde_json::Map::new(),
        summary: TinyGlmSummary {
            tensors: 0,
            parameters: 0,
            bytes: 0,
        },
    };
    let h = dims.hidden;
    writer.shard(
        1,
        vec![Spec::random("model.embed_tokens.weight", &[VOCAB_SIZE, h])],
    )?;
    for layer in 0..layers {
        writer.shard(layer + 2, layer_tensors(&dims, layer))?;
    }
    writer.shard(
        layers + 2,
        vec![
            Spec::ones("model.norm.weight", &[h]),
            Spec::random("lm_head.weight", &[VOCAB_SIZE, h]),
        ],
    )?;
    let index = json!({"metadata": {}, "weight_map": Value::Object(writer.weight_map)});
    write_json(dir, "model.safetensors.index.json", &index)?;
    Ok(writer.summary)
}

fn config(dims: &Dims, layers: usize, weight_type: WeightType) -> Value {
    json!({
        "architectures": ["Glm4MoeLiteForCausalLM"],
        "model_type": "glm4_moe_lite",
        "vocab_size": VOCAB_SIZE,
        "hidden_size": dims.hidden,
        "intermediate_size": dims.intermediate,
        "moe_intermediate_size": dims.moe_intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": dims.heads,
        "num_key_value_heads": dims.heads,
        "q_lora_rank": dims.q_lora_rank,
        "kv_lora_rank": dims.kv_lora_rank,
        "qk_nope_head_dim": dims.qk_nope,
        "qk_rope_head_dim": dims.qk_rope,
        "v_head_dim": dims.v_head,
        "n_routed_experts": dims.experts,
        "n_shared_experts": 1,
        "num_experts_per_tok": dims.active,
        "first_k_dense_replace": 1,
        "routed_scaling_factor": 1.8,
        "n_group": 1,
        "topk_group": 1,
        "norm_topk_prob": true,
        "topk_method": "noaux_tc",
        "scoring_func": "sigmoid",
        "rms_norm_eps": 1e-5,
        "rope_theta": 1_000_000.0,
        "partial_rotary_factor": 1.0,
        "max_position_embeddings": 202_752,
        "hidden_act": "silu",
        "attention_bias": false,
        "tie_word_embeddings": false,
        "torch_dtype": match weight_type { WeightType::Bf16 => "bfloat16", WeightType::F32 => "float32" },
        "pad_token_id": 154_820,
        "eos_token_id": [154_820, 154_827, 154_829],
    })
}

/// A layer's tensors, routed experts stacked (the writer lays them out).
fn layer_tensors(dims: &Dims, layer: usize) -> Vec<Spec> {
    let p = format!("model.layers.{layer}.");
    let h = dims.hidden;
    let qk = dims.qk_nope + dims.qk_rope;
    let mut tensors = vec![
        Spec::ones(format!("{p}input_layernorm.weight"), &[h]),
        Spec::ones(format!("{p}post_attention_layernorm.weight"), &[h]),
        Spec::random(
            format!("{p}self_attn.q_a_proj.weight"),
            &[dims.q_lora_rank, h],
        ),
        Spec::ones(
            format!("{p}self_attn.q_a_layernorm.weight"),
            &[dims.q_lora_rank],
        ),
        Spec::random(
            format!("{p}self_attn.q_b_proj.weight"),
            &[dims.heads * qk, dims.q_lora_rank],
        ),
        Spec::random(
            format!("{p}self_attn.kv_a_proj_with_mqa.weight"),
            &[dims.kv_lora_rank + dims.qk_rope, h],
        ),
        Spec::ones(
            format!("{p}self_attn.kv_a_layernorm.weight"),
            &[dims.kv_lora_rank],
        ),
        Spec::random(
            format!("{p}self_attn.kv_b_proj.weight"),
            &[dims.heads * (dims.qk_nope + dims.v_head), dims.kv_lora_rank],
        ),
        Spec::random(
            format!("{p}self_attn.o_proj.weight"),
            &[h, dims.heads * dims.v_head],
        ),
    ];
    if layer == 0 {
        tensors.extend(mlp(&format!("{p}mlp."), h, dims.intermediate));
        return tensors;
    }
    let (e, mi) = (dims.experts, dims.moe_intermediate);
    tensors.push(Spec::random(format!("{p}mlp.gate.weight"), &[e, h]));
    tensors.push(Spec::zeros_f32(
        format!("{p}mlp.gate.e_score_correction_bias"),
        &[e],
    ));
    tensors.extend(mlp(&format!("{p}mlp.shared_experts."), h, mi));
    tensors.push(Spec::random(
        format!("{p}mlp.experts.gate_up_proj"),
        &[e, h, 2 * mi],
    ));
    tensors.push(Spec::random(
        format!("{p}mlp.experts.down_proj"),
        &[e, mi, h],
    ));
    tensors
}

/// A gated MLP's three projections.
fn mlp(prefix: &str, hidden: usize, intermediate: usize) -> [Spec; 3] {
    [
        Spec::random(format!("{prefix}gate_proj.weight"), &[intermediate, hidden]),
        Spec::random(format!("{prefix}up_proj.weight"), &[intermediate, hidden]),
        Spec::random(format!("{prefix}down_proj.weight"), &[hidden, intermediate]),
    ]
}

/// A word-level tokenizer over the whole vocabulary: token `i` is spelled
/// `i_`, so generated text maps back to ids; GLM's specials and tags are added
/// tokens. The ByteLevel decoder is what GLM's own tokenizer has (and
/// mistralrs requires one).
fn tokenizer() -> Value {
    let mut vocab = serde_json::Map::with_capacity(VOCAB_SIZE);
    let named: std::collections::HashMap<u32, &str> = SPECIAL_TOKENS
        .iter()
        .chain(TAG_TOKENS.iter())
        .copied()
        .collect();
    for id in 0..VOCAB_SIZE as u32 {
        let spelling = match named.get(&id) {
            Some(name) => (*name).to_string(),
            None => format!("{id}_"),
        };
        vocab.insert(spelling, json!(id));
    }
    let added: Vec<Value> = SPECIAL_TOKENS
        .iter()
        .map(|(id, text)| (id, text, true))
        .chain(TAG_TOKENS.iter().map(|(id, text)| (id, text, false)))
        .map(|(id, text, special)| {
            json!({"id": id, "content": text, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": special})
        })
        .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
        "model": {"type": "WordLevel", "vocab": Value::Object(vocab), "unk_token": "<|endoftext|>"},
    })
}

fn write_json(dir: &Path, name: &str, value: &Value) -> Result<(), TinyGlmError> {
    let path = dir.join(name);
    let text = serde_json::to_string(value).map_err(|e| TinyGlmError::Serialize {
        path: path.clone(),
        message: e.to_string(),
    })?;
    fs::write(&path, text).map_err(|error| TinyGlmError::Io { path, error })
}

/// How a tensor is filled.
enum Fill {
    Random,
    Ones,
    /// Always f32, like the real router bias.
    ZerosF32,
}

struct Spec {
    name: String,
    shape: Vec<usize>,
    fill: Fill,
}

impl Spec {
    fn random(name: impl Into<String>, shape: &[usize]) -> Self {
        Spec {
            name: name.into(),
            shape: shape.to_vec(),
            fill: Fill::Random,
        }
    }
    fn ones(name: impl Into<String>, shape: &[usize]) -> Self {
        Spec {
            name: name.into(),
            shape: shape.to_vec(),
            fill: Fill::Ones,
        }
    }
    fn zeros_f32(name: impl Into<String>, shape: &[usize]) -> Self {
        Spec {
            name: name.into(),
            shape: shape.to_vec(),
            fill: Fill::ZerosF32,
        }
    }
}

struct ShardWriter<'a> {
    dir: &'a Path,
    shards: usize,
    rng: StdRng,
    weight_type: WeightType,
    layout: ExpertLayout,
    weight_map: serde_json::Map<String, Value>,
    summary: TinyGlmSummary,
}

impl ShardWriter<'_> {
    /// Writes one `model-NNNNN-of-NNNNN.safetensors` file (mistralrs finds
    /// local weights only under Hugging Face's shard names).
    fn shard(&mut self, index: usize, specs: Vec<Spec>) -> Result<(), TinyGlmError> {
        let file = format!("model-{index:05}-of-{:05}.safetensors", self.shards);
        let path = self.dir.join(&file);
        let mut tensors = Vec::with_capacity(specs.len());
        for spec in &specs {
            let count: usize = spec.shape.iter().product();
            let (dtype, bytes) = match spec.fill {
                Fill::ZerosF32 => (Dtype::F32, vec![0u8; count * 4]),
                Fill::Ones => self.encode(count, |_| 1.0),
                Fill::Random => {
                    // Uniform with standard deviation 0.02, like a fresh init.
                    let bound = 0.02 * 3f32.sqrt();
                    let mut rng = StdRng::seed_from_u64(self.rng.r#gen());
                    self.encode(count, move |_| rng.gen_range(-bound..bound))
                }
            };
            self.summary.parameters += count as u64;
            let tensor = RawTensor {
                name: spec.name.clone(),
                shape: spec.shape.clone(),
                bytes,
            };
            // Experts are drawn stacked in either layout, so that a seed
            // gives the same weights in both.
            match per_expert_split(self.layout, &tensor, dtype.bitsize() / 8) {
                Some(split) => tensors.extend(split.into_iter().map(|t| (t, dtype))),
                None => tensors.push((tensor, dtype)),
            }
        }
        let views = tensors
            .iter()
            .map(|(tensor, dtype)| {
                TensorView::new(*dtype, tensor.shape.clone(), &tensor.bytes)
                    .map(|view| (tensor.name.clone(), view))
                    .map_err(|e| TinyGlmError::Serialize {
                        path: path.clone(),
                        message: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let metadata = Some(std::collections::HashMap::from([(
            "format".to_string(),
            "pt".to_string(),
        )]));
        safetensors::serialize_to_file(views, metadata, &path).map_err(|e| {
            TinyGlmError::Serialize {
                path: path.clone(),
                message: e.to_string(),
            }
        })?;
        for (tensor, _) in &tensors {
            self.weight_map.insert(tensor.name.clone(), json!(file));
        }
        self.summary.tensors += tensors.len();
        self.summary.bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Ok(())
    }

    fn encode(&self, count: usize, mut value: impl FnMut(usize) -> f32) -> (Dtype, Vec<u8>) {
        match self.weight_type {
            WeightType::F32 => {
                let mut bytes = Vec::with_capacity(count * 4);
                for i in 0..count {
                    bytes.extend_from_slice(&value(i).to_le_bytes());
                }
                (Dtype::F32, bytes)
            }
            WeightType::Bf16 => {
                let mut bytes = Vec::with_capacity(count * 2);
                for i in 0..count {
                    bytes.extend_from_slice(&bf16_bits(value(i)).to_le_bytes());
                }
                (Dtype::BF16, bytes)
            }
        }
    }
}

/// `tensor` as per-expert tensors when the layout asks for them and it is a
/// stacked expert tensor.
fn per_expert_split(
    layout: ExpertLayout,
    tensor: &RawTensor,
    element: usize,
) -> Option<Vec<RawTensor>> {
    match layout {
        ExpertLayout::Stacked => None,
        ExpertLayout::PerExpert => per_expert::split(tensor, element),
    }
}

/// The bfloat16 nearest to `value` (round to nearest even), as bits.
fn bf16_bits(value: f32) -> u16 {
    let bits = value.to_bits();
    if value.is_nan() {
        return 0x7fc0;
    }
    let rounding = 0x7fff + ((bits >> 16) & 1);
    ((bits + rounding) >> 16) as u16
}

#[cfg(test)]
mod tests {
    use super::bf16_bits;

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(bf16_bits(1.0), 0x3f80);
        assert_eq!(bf16_bits(-2.0), 0xc000);
        assert_eq!(bf16_bits(0.0), 0);
        // 1 + 2^-8 is exactly between two bf16 values: ties go to even.
        assert_eq!(bf16_bits(1.0 + 1.0 / 256.0), 0x3f80);
        assert_eq!(bf16_bits(1.0 + 3.0 / 256.0), 0x3f82);
    }
}
