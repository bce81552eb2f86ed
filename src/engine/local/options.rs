//! Options of the local engine and how they map onto mistralrs's builders.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use mistralrs::{
    Device, DeviceMapSetting, GgufModelBuilder, IsqType, MemoryGpuConfig, ModelDType,
    PagedAttentionMetaBuilder, TextModelBuilder, UqffTextModelBuilder,
};

use super::prefill_chunks::PrefillChunk;
use super::source::ModelSource;
use crate::engine::paged_attn::{self, DeviceKind, PagedAttnChoice};

/// Context used when the model does not state its window.
pub const DEFAULT_MAX_CONTEXT: usize = 32_768;

/// In-situ quantization of the weights at load time (`--isq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IsqChoice {
    /// On CUDA, the most precise level whose weights and KV cache fit the
    /// free GPU memory; elsewhere the checkpoint's own precision.
    Auto,
    Q4k,
    Q6k,
    #[value(name = "q8_0")]
    Q8_0,
    Fp8,
    None,
}

impl IsqChoice {
    /// The value `--isq` takes for this level.
    pub fn name(self) -> &'static str {
        match self {
            IsqChoice::Auto => "auto",
            IsqChoice::Q4k => "q4k",
            IsqChoice::Q6k => "q6k",
            IsqChoice::Q8_0 => "q8_0",
            IsqChoice::Fp8 => "fp8",
            IsqChoice::None => "none",
        }
    }

    pub(super) fn isq_type(self) -> Option<IsqType> {
        match self {
            IsqChoice::Q4k => Some(IsqType::Q4K),
            IsqChoice::Q6k => Some(IsqType::Q6K),
            IsqChoice::Q8_0 => Some(IsqType::Q8_0),
            IsqChoice::Fp8 => Some(IsqType::F8E4M3),
            IsqChoice::Auto | IsqChoice::None => None,
        }
    }
}

/// Where the model runs (`--device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The first CUDA GPU or Metal device this build supports, else the CPU.
    Auto,
    Cpu,
    Cuda(usize),
    Metal,
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "metal" => Ok(DeviceChoice::Metal),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            _ => value
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| {
                    format!("`{value}` is not a device; use auto, cpu, cuda:N or metal")
                }),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => write!(f, "auto"),
            DeviceChoice::Cpu => write!(f, "cpu"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
            DeviceChoice::Metal => write!(f, "metal"),
        }
    }
}

impl DeviceChoice {
    /// The device to load on; a GPU this build cannot drive is refused with
    /// the build flag that would.
    pub fn resolve(self) -> Result<Device, String> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Auto => mistralrs::best_device(false)
                .map_err(|e| format!("cannot pick a device ({e}); pass --device cpu")),
            DeviceChoice::Cuda(ordinal) => {
                if !cfg!(feature = "cuda") {
                    return Err(format!(
                        "--device cuda:{ordinal}: this glint was built without CUDA; rebuild with `cargo build --release --features cuda` (add flash-attn on H100/H200), or use --device cpu"
                    ));
                }
                Device::new_cuda(ordinal).map_err(|e| {
                    format!("--device cuda:{ordinal}: no usable CUDA device ({e}); check nvidia-smi, or use --device cpu")
                })
            }
            DeviceChoice::Metal => {
                if !cfg!(feature = "metal") {
                    return Err(
                        "--device metal: this glint was built without Metal; rebuild with `cargo build --release --features metal`, or use --device cpu".into(),
                    );
                }
                Device::new_metal(0).map_err(|e| {
                    format!("--device metal: no usable Metal device ({e}); use --device cpu")
                })
            }
        }
    }
}

/// How tokens are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// 0 means greedy.
    pub temperature: f64,
    pub top_p: f64,
    /// Most tokens generated per turn; the context's room when unset.
    pub max_tokens: Option<usize>,
}

impl Default for Sampling {
    /// GLM-4.7-Flash's recommendation for agentic coding.
    fn default() -> Self {
        Sampling {
            temperature: 0.7,
            top_p: 1.0,
            max_tokens: None,
        }
    }
}

/// Everything `--model` and its companions say about the local engine.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub model: String,
    pub isq: IsqChoice,
    pub device: DeviceChoice,
    pub max_context: Option<usize>,
    pub sampling: Sampling,
    /// Reuse the KV cache of earlier prompts that this one extends (on by
    /// default; off only to measure a cold prefill).
    pub prefix_cache: bool,
    /// Whether the KV cache is kept in PagedAttention's blocks.
    pub paged_attn: PagedAttnChoice,
    /// The precision of an unquantized load.
    pub precision: Precision,
    /// How long prompts are split into forward passes (`--prefill-chunk`).
    pub prefill_chunk: PrefillChunk,
}

/// The precision the weights, activations and KV cache of an unquantized
/// load run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Precision {
    /// bf16 on a GPU (mistralrs's choice there), f32 on the CPU.
    #[default]
    Auto,
    /// f32 on every device: twice a GPU's bf16 memory, to measure what bf16
    /// rounding explains. Unquantized and without PagedAttention only (its
    /// MLA kernels take bf16); see [`Precision::check`].
    F32,
}

impl Precision {
    /// Refuses what cannot run in this precision, with what to do instead.
    pub fn check(self, isq: IsqChoice, paged_attn: PagedAttnChoice) -> Result<(), String> {
        if self != Precision::F32 {
            return Ok(());
        }
        if isq != IsqChoice::None {
            return Err(format!(
                "--dtype f32 loads unquantized weights; drop --isq {}",
                isq.name()
            ));
        }
        if paged_attn == PagedAttnChoice::On {
            return Err(
                "--dtype f32 runs without PagedAttention (its MLA kernels take bf16); \
                 use --paged-attn off"
                    .into(),
            );
        }
        Ok(())
    }
}

/// The PagedAttention config for `options` on `device`, or `None` when it
/// is off: a KV cache sized for the context instead of mistralrs's
/// 4,064-token default, in blocks of [`paged_attn::BLOCK_SIZE`] tokens.
/// A combination that cannot run is refused (see [`paged_attn::decide`]).
pub(super) fn paged_config(
    options: &LocalOptions,
    device: &Device,
) -> anyhow::Result<Option<mistralrs::PagedAttentionConfig>> {
    options
        .precision
        .check(options.isq, options.paged_attn)
        .map_err(anyhow::Error::msg)?;
    // `auto` turns PagedAttention on with CUDA, which f32 cannot run.
    let on = options.precision != Precision::F32
        && paged_attn::decide(
            options.paged_attn,
            DeviceKind::of(device),
            paged_attn::no_mla_from_env(),
        )?;
    if !on {
        return Ok(None);
    }
    let mut meta = PagedAttentionMetaBuilder::default().with_block_size(paged_attn::BLOCK_SIZE);
    if let Some(context) = options.max_context {
        meta = meta.with_gpu_memory(MemoryGpuConfig::ContextSize(context));
    }
    Ok(Some(meta.build()?))
}

/// How mistralrs places the model's layers on `device`: on a GPU, every
/// layer on that GPU; `None` (mistralrs's choice) elsewhere.
///
/// Why not mistralrs's automatic mapping: glint checks the fit itself
/// before loading (`memory::plan`, with each model's real KV cache), and
/// mistralrs 0.8.1's mapper sizes the PagedAttention cache as a standard
/// one for every model. For GLM-4.7-Flash that is 20 heads × 512 values per
/// token and layer instead of its 576-value MLA latent, 17.8× too much: on an
/// H200 with the 202,752-token window it refused a model that fits with 60
/// GiB to spare, and on a smaller card it would map layers to the CPU and
/// run many times slower without a word. A model that really does not fit
/// fails with an out-of-memory error, which the load turns into advice.
pub(super) fn device_mapping(on_gpu: bool) -> Option<DeviceMapSetting> {
    on_gpu.then(DeviceMapSetting::dummy)
}

/// Where a text model's weights come from (see `quantized_cache`).
#[derive(Debug, Clone)]
pub(super) enum WeightsFrom {
    /// The checkpoint, quantized at load time when `--isq` asks.
    Checkpoint,
    /// The checkpoint, quantized, and the result written as UQFF to this
    /// path for the next start.
    CheckpointWritingUqff(PathBuf),
    /// A quantized copy: the directory and its UQFF shards' names.
    Uqff { dir: PathBuf, shards: Vec<String> },
}

/// Builds the mistralrs model. On CPU the activations run in f32 (fast and
/// exact there), and with `--dtype f32` everywhere; PagedAttention as
/// [`paged_config`] decides.
pub(super) async fn build(
    source: &ModelSource,
    options: &LocalOptions,
    device: Device,
    weights: WeightsFrom,
) -> anyhow::Result<mistralrs::Model> {
    let on_cpu = device.is_cpu();
    let mapping = device_mapping(device.is_cuda());
    let paged = paged_config(options, &device)?;
    match source {
        ModelSource::Gguf(path) => {
            let dir = path
                .parent()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| ".".into());
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            if options.precision == Precision::F32 {
                anyhow::bail!(
                    "--dtype f32 needs a checkpoint of unquantized weights, and {} is a GGUF file; drop --dtype",
                    path.display()
                );
            }
            let mut builder = GgufModelBuilder::new(dir, vec![file]).with_device(device);
            if let Some(mapping) = mapping {
                builder = builder.with_device_mapping(mapping);
            }
            if on_cpu {
                builder = builder.with_force_cpu();
            }
            if let Some(paged) = paged {
                builder = builder.with_paged_attn(paged);
            }
            if !options.prefix_cache {
                builder = builder.with_prefix_cache_n(None);
            }
            Ok(builder.build().await?)
        }
        ModelSource::Directory(_) | ModelSource::Hub(_) => {
            let id = match source {
                ModelSource::Directory(dir) => dir.display().to_string(),
                _ => options.model.clone(),
            };
            let mut builder = match weights {
                // The copy holds the quantized layers and everything else
                // (residual.safetensors, config, tokenizer): no ISQ runs.
                WeightsFrom::Uqff { dir, shards } => {
                    let shards = shards.into_iter().map(PathBuf::from).collect();
                    UqffTextModelBuilder::new(dir.display().to_string(), shards).into_inner()
                }
                WeightsFrom::Checkpoint => with_isq(TextModelBuilder::new(id), options),
                WeightsFrom::CheckpointWritingUqff(path) => {
                    with_isq(TextModelBuilder::new(id), options).write_uqff(path)
                }
            };
            builder = builder.with_device(device);
            if let Some(mapping) = mapping {
                builder = builder.with_device_mapping(mapping);
            }
            if on_cpu {
                builder = builder.with_force_cpu();
            }
            if on_cpu || options.precision == Precision::F32 {
                builder = builder.with_dtype(ModelDType::F32);
            }
            finish_text_builder(builder, options, paged).await
        }
    }
}

fn with_isq(builder: TextModelBuilder, options: &LocalOptions) -> TextModelBuilder {
    match options.isq.isq_type() {
        Some(isq) => builder.with_isq(isq),
        None => builder,
    }
}

async fn finish_text_builder(
    mut builder: TextModelBuilder,
    options: &LocalOptions,
    paged: Option<mistralrs::PagedAttentionConfig>,
) -> anyhow::Result<mistralrs::Model> {
    if let Some(paged) = paged {
        builder = builder.with_paged_attn(paged);
    }
    if !options.prefix_cache {
        builder = builder.with_prefix_cache_n(None);
    }
    builder.build().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gpu_model_is_mapped_whole_onto_its_gpu_and_a_cpu_one_left_to_mistralrs() {
        let gpu = device_mapping(true);
        assert!(
            matches!(&gpu, Some(DeviceMapSetting::Map(map)) if map.device_layers().is_none()),
            "a GPU load must bypass mistralrs's automatic mapper: {gpu:?}"
        );
        assert!(device_mapping(false).is_none());
    }

    #[test]
    fn f32_refuses_quantization_and_paged_attention_and_auto_refuses_nothing() {
        let f32 = Precision::F32;
        assert_eq!(f32.check(IsqChoice::None, PagedAttnChoice::Off), Ok(()));
        // `auto` is resolved to off at load (paged_config), not refused.
        assert_eq!(f32.check(IsqChoice::None, PagedAttnChoice::Auto), Ok(()));
        let paged = f32.check(IsqChoice::None, PagedAttnChoice::On);
        assert!(
            paged
                .as_ref()
                .is_err_and(|e| e.contains("--paged-attn off")),
            "{paged:?}"
        );
        let isq = f32.check(IsqChoice::Q4k, PagedAttnChoice::Off);
        assert!(
            isq.as_ref().is_err_and(|e| e.contains("drop --isq q4k")),
            "{isq:?}"
        );
        for isq in [IsqChoice::Q4k, IsqChoice::Auto] {
            assert_eq!(Precision::Auto.check(isq, PagedAttnChoice::On), Ok(()));
        }
    }
}
