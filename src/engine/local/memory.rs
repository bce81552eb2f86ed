//! Fitting a model into the memory it will run in, before anything is
//! downloaded or loaded: which `--isq` level `auto` picks, how long a context
//! fits beside the weights, and a one-line refusal naming what would fit when
//! nothing the user asked for does.
//!
//! Sizes are estimates from the checkpoint's parameter count (safetensors
//! headers, the Hub's metadata) or its bytes (a GGUF loads as stored), at the
//! precision they will be held in: bf16 on a GPU, f32 on CPU (glint loads CPU
//! models as f32), or the ISQ level's bits per weight. The KV cache is counted
//! for the whole context at the device's precision.

use serde_json::Value;

use super::options::IsqChoice;

/// Bits per weight of each ISQ level (block scales included), from most to
/// least precise: Q8_0 8.5, FP8 8, Q6K 6.5625, Q4K 4.5.
const ISQ_BITS: [(IsqChoice, f64); 4] = [
    (IsqChoice::Q8_0, 8.5),
    (IsqChoice::Fp8, 8.0),
    (IsqChoice::Q6k, 6.5625),
    (IsqChoice::Q4k, 4.5),
];

/// Memory kept free for activations, the runtime and fragmentation.
const HEADROOM: f64 = 0.10;

/// A context shorter than this leaves an agent little room beyond its system
/// prompt and tools: without `--max-context`, a load that leaves less room
/// beside its weights is refused (the model's own window, when shorter).
pub const MIN_USEFUL_CONTEXT: u64 = 16_384;

const GIB: f64 = (1u64 << 30) as f64;

/// Where the weights and KV cache live, which sets their precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    /// A GPU's own memory: weights and KV cache in bf16.
    Gpu,
    /// A GPU's own memory with `--dtype f32`: everything in f32.
    GpuF32,
    /// The machine's RAM, running on CPU: everything in f32.
    Ram,
}

impl MemoryKind {
    fn name(self) -> &'static str {
        match self {
            MemoryKind::Gpu | MemoryKind::GpuF32 => "GPU memory",
            MemoryKind::Ram => "RAM",
        }
    }

    /// Bytes per value of unquantized weights and of the KV cache.
    fn bytes_per_value(self) -> u64 {
        match self {
            MemoryKind::Gpu => 2,
            MemoryKind::GpuF32 | MemoryKind::Ram => 4,
        }
    }

    /// The ISQ levels worth suggesting here: FP8 is a GPU format, and
    /// `--dtype f32` refuses `--isq` (it measures unquantized f32), so no
    /// level is a way for it to fit.
    fn levels(self) -> impl Iterator<Item = IsqChoice> {
        ISQ_BITS
            .iter()
            .map(|(level, _)| *level)
            .filter(move |level| match self {
                MemoryKind::Gpu => true,
                MemoryKind::Ram => *level != IsqChoice::Fp8,
                MemoryKind::GpuF32 => false,
            })
    }
}

/// A checkpoint's weights as stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Bytes of the weight files.
    pub file_bytes: u64,
    /// How many parameters they hold; `None` for a GGUF, which mistralrs
    /// loads as stored (already quantized, no ISQ).
    pub params: Option<u64>,
}

impl Weights {
    /// Bytes the weights take once loaded at `isq` into `kind` memory.
    pub fn loaded_bytes(&self, isq: IsqChoice, kind: MemoryKind) -> u64 {
        let Some(params) = self.params else {
            return self.file_bytes;
        };
        match isq_bits(isq) {
            Some(bits) => (params as f64 * bits / 8.0) as u64,
            // On a GPU a checkpoint stored more compactly than bf16 (FP8)
            // stays so; one stored wider (f32) is loaded as bf16.
            None => match kind {
                MemoryKind::Gpu => self.file_bytes.min(params * 2),
                MemoryKind::GpuF32 | MemoryKind::Ram => params * 4,
            },
        }
    }

    /// Whether `--isq` applies (not to a GGUF).
    fn quantizable(&self) -> bool {
        self.params.is_some()
    }
}

fn isq_bits(level: IsqChoice) -> Option<f64> {
    ISQ_BITS
        .iter()
        .find(|(l, _)| *l == level)
        .map(|(_, bits)| *bits)
}

/// Values the KV cache holds per token of context, from `config.json`: MLA
/// models cache the latent (kv_lora_rank + qk_rope_head_dim) per layer;
/// others keys and values per KV head.
pub fn kv_values_per_token(config: &Value) -> Option<u64> {
    let get = |key: &str| config.get(key).and_then(Value::as_u64);
    let layers = get("num_hidden_layers")?;
    if let (Some(rank), Some(rope)) = (get("kv_lora_rank"), get("qk_rope_head_dim")) {
        return Some(layers * (rank + rope));
    }
    let heads = get("num_attention_heads")?;
    let kv_heads = get("num_key_value_heads").unwrap_or(heads);
    let head_dim = get("head_dim").or_else(|| Some(get("hidden_size")? / heads))?;
    Some(layers * kv_heads * head_dim * 2)
}

/// How much memory glint may use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub kind: MemoryKind,
    /// Free GPU memory or available RAM, when it can be measured.
    pub available: Option<u64>,
    /// The user's cap (`--memory-limit`).
    pub limit: Option<u64>,
}

impl Budget {
    /// Bytes weights and KV cache may take: the smaller of what is available
    /// and the cap, less the headroom; `None` when neither is known.
    fn usable(&self) -> Option<u64> {
        let bound = match (self.available, self.limit) {
            (Some(a), Some(l)) => a.min(l),
            (a, l) => a.or(l)?,
        };
        Some((bound as f64 * (1.0 - HEADROOM)) as u64)
    }

    /// "12.0 GiB usable (13.3 GiB of RAM available)", for messages.
    fn describe(&self, usable: u64) -> String {
        let mut sources = Vec::new();
        if let Some(available) = self.available {
            sources.push(format!(
                "{} of {} available",
                size(available),
                self.kind.name()
            ));
        }
        if let Some(limit) = self.limit {
            sources.push(format!("--memory-limit {}", size(limit)));
        }
        format!(
            "{} is usable ({}, {:.0}% kept free)",
            size(usable),
            sources.join(", "),
            HEADROOM * 100.0
        )
    }
}

/// What a load asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitQuery {
    pub weights: Weights,
    pub kv_values_per_token: Option<u64>,
    /// The model's own context window.
    pub window: Option<u64>,
    /// `--max-context`; `None`: as long as fits, up to the window.
    pub context: Option<u64>,
    pub isq: IsqChoice,
}

/// What a load will use: the ISQ level and the context to size for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    pub isq: IsqChoice,
    /// The context (`--max-context` as given, or what fits); `None` when
    /// neither was given nor can be computed.
    pub context: Option<u64>,
}

impl FitQuery {
    fn kv_bytes_per_token(&self, kind: MemoryKind) -> Option<u64> {
        Some(self.kv_values_per_token? * kind.bytes_per_value())
    }

    /// The shortest context worth loading for.
    fn min_context(&self) -> u64 {
        self.window
            .map_or(MIN_USEFUL_CONTEXT, |w| w.min(MIN_USEFUL_CONTEXT))
    }

    /// The levels a load at `self.isq` may use, most precise first.
    fn candidates(&self, kind: MemoryKind) -> Vec<IsqChoice> {
        match self.isq {
            _ if !self.weights.quantizable() => vec![IsqChoice::None],
            // `auto` picks among all levels on a GPU; on CPU it keeps the
            // checkpoint's precision (the refusal then names a level).
            IsqChoice::Auto if kind == MemoryKind::Gpu => std::iter::once(IsqChoice::None)
                .chain(kind.levels())
                .collect(),
            IsqChoice::Auto => vec![IsqChoice::None],
            level => vec![level],
        }
    }

    /// The context the weights at `isq` leave room for within `usable`
    /// bytes, `Some(None)` when that cannot be computed, `None` when they do
    /// not fit with the asked (or a useful) context.
    fn context_at(&self, isq: IsqChoice, kind: MemoryKind, usable: u64) -> Option<Option<u64>> {
        let room = usable.checked_sub(self.weights.loaded_bytes(isq, kind))?;
        let Some(per_token) = self.kv_bytes_per_token(kind) else {
            return Some(self.context);
        };
        let tokens = room / per_token.max(1);
        match self.context {
            Some(asked) => (asked <= tokens).then_some(Some(asked)),
            None => {
                let context = self.window.map_or(tokens, |w| w.min(tokens));
                (context >= self.min_context()).then_some(Some(context))
            }
        }
    }

    /// Bytes of weights at `isq` and the KV cache for the asked context (or
    /// the shortest useful one).
    fn need_at(&self, isq: IsqChoice, kind: MemoryKind) -> (u64, u64) {
        let context = self.context.unwrap_or_else(|| self.min_context());
        let kv = self.kv_bytes_per_token(kind).map_or(0, |b| b * context);
        (self.weights.loaded_bytes(isq, kind), kv)
    }
}

/// The level and context a load uses, or a one-line refusal naming what
/// would fit (another `--isq` level, a shorter `--max-context`) or saying
/// that nothing does. With no known budget, the options as given (`auto`:
/// the checkpoint's precision).
pub fn plan(query: &FitQuery, budget: &Budget) -> Result<Fit, String> {
    let as_given = query.isq;
    let Some(usable) = budget.usable() else {
        let isq = if as_given == IsqChoice::Auto {
            IsqChoice::None
        } else {
            as_given
        };
        return Ok(Fit {
            isq,
            context: query.context,
        });
    };
    let candidates = query.candidates(budget.kind);
    for isq in &candidates {
        if let Some(context) = query.context_at(*isq, budget.kind, usable) {
            return Ok(Fit { isq: *isq, context });
        }
    }
    Err(refusal(query, budget, usable, &candidates))
}

/// Whether writing the quantized copy of a model loaded at `isq` fits:
/// mistralrs serializes every quantized layer into RAM before writing any
/// (`write_uqff`), so the copy needs as much RAM again as the quantized
/// weights, beside the model itself on CPU. `Err` says what is missing; an
/// unknown budget does not refuse.
pub fn copy_fits(query: &FitQuery, budget: &Budget, isq: IsqChoice) -> Result<(), String> {
    let copy = query.weights.loaded_bytes(isq, budget.kind);
    let (usable, in_use) = match budget.kind {
        MemoryKind::Ram => {
            let (weights, kv) = query.need_at(isq, MemoryKind::Ram);
            (budget.usable(), weights + kv)
        }
        // On a GPU the model stays in GPU memory; the copy is made in RAM.
        MemoryKind::Gpu | MemoryKind::GpuF32 => {
            let ram = Budget {
                kind: MemoryKind::Ram,
                available: available_ram(),
                limit: None,
            };
            (ram.usable(), 0)
        }
    };
    match usable {
        Some(usable) if usable < in_use + copy => Err(format!(
            "writing it needs another {} of RAM for a while, and {} is spare",
            size(copy),
            size(usable.saturating_sub(in_use))
        )),
        _ => Ok(()),
    }
}

/// Why the `tried` levels do not fit and what would.
fn refusal(query: &FitQuery, budget: &Budget, usable: u64, tried: &[IsqChoice]) -> String {
    let kind = budget.kind;
    let last = tried.last().copied().unwrap_or(IsqChoice::None);
    let (weights, kv) = query.need_at(last, kind);
    let precision = match (last, kind) {
        _ if !query.weights.quantizable() => "as stored".to_string(),
        (IsqChoice::None, MemoryKind::Ram) => "f32 (how glint runs models on CPU)".to_string(),
        (IsqChoice::None, MemoryKind::Gpu) => "bf16".to_string(),
        (IsqChoice::None, MemoryKind::GpuF32) => "f32 (--dtype f32)".to_string(),
        (level, _) => format!("--isq {}", level.name()),
    };
    let kv_part = match (kv, query.context) {
        (0, _) => String::new(),
        (_, Some(context)) => format!(" + {} of KV cache for {context} tokens", size(kv)),
        (_, None) => format!(
            " + {} of KV cache for a {}-token context",
            size(kv),
            query.min_context()
        ),
    };
    format!(
        "the model needs about {} of {} at {precision} ({} of weights{kv_part}) but {}; {}",
        size(weights + kv),
        kind.name(),
        size(weights),
        budget.describe(usable),
        suggestion(query, kind, usable, tried).unwrap_or_else(|| nothing_fits(query, kind))
    )
}

/// The most precise way to fit: a level more compact than those `tried`
/// with the asked context, else a context shorter than the asked one.
fn suggestion(
    query: &FitQuery,
    kind: MemoryKind,
    usable: u64,
    tried: &[IsqChoice],
) -> Option<String> {
    let all: Vec<IsqChoice> = if query.weights.quantizable() {
        std::iter::once(IsqChoice::None)
            .chain(kind.levels())
            .collect()
    } else {
        vec![IsqChoice::None]
    };
    let first_tried = tried.first().copied().unwrap_or(IsqChoice::None);
    let last_tried = tried.last().copied().unwrap_or(IsqChoice::None);
    let from = |level: IsqChoice| all.iter().position(|l| *l == level).unwrap_or(0);
    let more_compact = all.get(from(last_tried) + 1..).unwrap_or_default();
    for level in more_compact {
        if query.context_at(*level, kind, usable).is_some() {
            let (weights, kv) = query.need_at(*level, kind);
            return Some(format!(
                "--isq {} should fit (about {})",
                level.name(),
                size(weights + kv)
            ));
        }
    }
    let asked = query
        .context
        .filter(|_| query.kv_values_per_token.is_some())?;
    let shorter = FitQuery {
        context: None,
        ..*query
    };
    all.get(from(first_tried)..)
        .unwrap_or_default()
        .iter()
        .find_map(|level| match shorter.context_at(*level, kind, usable) {
            Some(Some(context)) if context < asked => {
                let isq = if tried.contains(level) {
                    String::new()
                } else {
                    format!("--isq {} with ", level.name())
                };
                Some(format!("{isq}--max-context {context} should fit"))
            }
            _ => None,
        })
}

/// That not even the most compact level leaves room for a useful context.
fn nothing_fits(query: &FitQuery, kind: MemoryKind) -> String {
    if kind == MemoryKind::GpuF32 {
        // f32 takes no --isq: the way out is the precision itself.
        let (weights, kv) = query.need_at(IsqChoice::None, MemoryKind::Gpu);
        return format!(
            "nothing fits in f32, which doubles the weights and the KV cache; drop --dtype f32 (in bf16 the model needs about {}) or use a GPU with more memory",
            size(weights + kv)
        );
    }
    if !query.weights.quantizable() {
        return format!(
            "nothing fits: the weights alone take {}; use a smaller quantization of the model or a machine with more memory",
            size(query.weights.loaded_bytes(IsqChoice::None, kind))
        );
    }
    let smallest = kind.levels().last().unwrap_or(IsqChoice::None);
    format!(
        "nothing fits: even at --isq {} the weights take {} and leave too little for a {}-token context; use a smaller model or a machine with more memory",
        smallest.name(),
        size(query.weights.loaded_bytes(smallest, kind)),
        query.context.unwrap_or_else(|| query.min_context())
    )
}

/// A one-line explanation of a load that ran out of GPU memory anyway (the
/// estimate was short), naming a more compact level or a shorter context.
pub fn out_of_memory_advice(query: &FitQuery, budget: &Budget, tried: IsqChoice) -> String {
    let Some(usable) = budget.usable() else {
        return "not enough GPU memory; try a smaller --isq (q8_0, q6k, q4k) or a smaller --max-context".into();
    };
    let query = FitQuery {
        isq: tried,
        ..*query
    };
    format!(
        "not enough {} ({}); {}",
        budget.kind.name(),
        budget.describe(usable),
        suggestion(&query, budget.kind, usable, &[tried]).unwrap_or_else(|| match budget.kind {
            MemoryKind::GpuF32 => "drop --dtype f32 or try a smaller --max-context".into(),
            _ => "try a more compact --isq or a smaller --max-context".into(),
        })
    )
}

/// A size for messages: GiB to one decimal, or MiB below 1 GiB (a small
/// model would otherwise read "0.0 GiB").
pub(super) fn size(bytes: u64) -> String {
    let gib = bytes as f64 / GIB;
    if gib >= 1.0 {
        format!("{gib:.1} GiB")
    } else {
        format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

/// Free memory of CUDA device `ordinal` in bytes, from `nvidia-smi`, which
/// every CUDA machine has (no CUDA call before mistralrs owns the device).
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

/// RAM this process may still take: `MemAvailable` from /proc/meminfo, or
/// less where a cgroup (a container) caps the memory.
pub fn available_ram() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available = mem_available(&meminfo)?;
    let cgroup_room = || {
        let read = |name: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{name}")).ok();
        let max: u64 = read("memory.max")?.trim().parse().ok()?;
        let current: u64 = read("memory.current")?.trim().parse().ok()?;
        Some(max.saturating_sub(current))
    };
    Some(cgroup_room().map_or(available, |room| room.min(available)))
}

/// `MemAvailable` of a /proc/meminfo text, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

/// Whether a load error says the GPU ran out of memory.
pub fn is_out_of_memory(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("out of memory") || lower.contains("out_of_memory")
}

#[cfg(test)]
mod tests;
