//! The quantized cache on CPU with the tiny GLM checkpoint: an `--isq` load
//! writes its quantized copy, the next load reads it (no quantizing) and
//! computes bit-identical logits, in both expert layouts; a changed
//! checkpoint is quantized again; a damaged copy is reported in one line,
//! rewritten, and the load still answers.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use glint::dev::tiny_glm::{self, ExpertLayout, WeightType};
use glint::engine::local::{
    IsqChoice, LoadEvent, LoadSettings, LocalEngine, QuantizedCache, QuantizedCacheUse,
};

const PROMPT: &str = "[gMASK]<sop><|user|>hello there<|assistant|>";
const NEW_TOKENS: usize = 5;

/// A load's engine and the messages it reported.
struct Loaded {
    engine: LocalEngine,
    messages: Vec<String>,
}

impl Loaded {
    /// Whether one of the load's messages contains `part`.
    fn said(&self, part: &str) -> bool {
        self.messages.iter().any(|m| m.contains(part))
    }
}

async fn load(checkpoint: &Path, isq: IsqChoice, cache: QuantizedCache) -> Loaded {
    let mut options = common::greedy(&checkpoint.display().to_string(), NEW_TOKENS);
    options.isq = isq;
    let messages = Arc::new(Mutex::new(Vec::new()));
    let seen = messages.clone();
    let progress = Arc::new(move |event: LoadEvent| {
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event.message);
    });
    let settings = LoadSettings {
        memory_limit: None,
        quantized_cache: cache,
    };
    let engine = match LocalEngine::load_with(&options, &settings, progress).await {
        Ok(engine) => engine,
        Err(e) => panic!("{} does not load: {e}", checkpoint.display()),
    };
    let messages = messages
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Loaded { engine, messages }
}

/// Every decoding step's logits and the text of a greedy completion.
async fn logits_of(engine: &LocalEngine) -> (Vec<Vec<f32>>, String) {
    let steps = Arc::new(Mutex::new(Vec::new()));
    let kept = steps.clone();
    engine.set_step_hook(Some(Arc::new(
        move |logits: &mistralrs::Tensor, _context: &[u32]| {
            let row = logits
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| e.to_string())?;
            kept.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(row);
            Ok(())
        },
    )));
    let text = common::completion_text(engine, PROMPT)
        .await
        .unwrap_or_else(|e| panic!("the completion failed: {e}"));
    let steps = std::mem::take(&mut *steps.lock().unwrap_or_else(PoisonError::into_inner));
    // A random model may end its answer early, with a stop token.
    assert!(
        (2..=NEW_TOKENS + 1).contains(&steps.len()),
        "{} rows of logits for {NEW_TOKENS} tokens",
        steps.len()
    );
    assert_ne!(
        steps[0], steps[1],
        "the logits are the model's, not constant"
    );
    (steps, text)
}

/// The tiny checkpoint with its MLA latent widened from 16 to 32 (zeros):
/// mistralrs 0.8.1 cannot serialize a layer that ISQ left unquantized (a
/// row shorter than the level's block, as `kv_b_proj`'s 16), so every
/// layer must quantize for a copy to be written, as in GLM-4.7-Flash.
fn checkpoint(dir: &Path, layout: ExpertLayout, hidden: Option<usize>, seed: u64) {
    let options = tiny_glm::TinyGlmOptions {
        layout,
        hidden,
        ..common::tiny_glm_options(WeightType::Bf16, seed)
    };
    tiny_glm::write(dir, &options).expect("checkpoint written");
    widen_latent(dir, 32);
}

fn widen_latent(dir: &Path, rank: usize) {
    use safetensors::{Dtype, SafeTensors, tensor::TensorView};

    let config_path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).expect("config"))
            .expect("json");
    let old = config["kv_lora_rank"].as_u64().expect("kv_lora_rank") as usize;
    config["kv_lora_rank"] = rank.into();
    std::fs::write(&config_path, config.to_string()).expect("config written");
    let shards = std::fs::read_dir(dir)
        .expect("checkpoint")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"));
    for shard in shards {
        let bytes = std::fs::read(&shard).expect("shard");
        let tensors = SafeTensors::deserialize(&bytes).expect("safetensors");
        let mut out: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for (name, view) in tensors.tensors() {
            let (shape, data) = (view.shape().to_vec(), view.data());
            let widening = [
                "kv_a_proj_with_mqa.weight",
                "kv_a_layernorm.weight",
                "kv_b_proj.weight",
            ];
            if widening.iter().any(|w| name.ends_with(w)) {
                assert_eq!(view.dtype(), Dtype::BF16, "{name}");
            }
            let widened = if name.ends_with("kv_a_proj_with_mqa.weight") {
                // Rows: the latent, then the rope key; zero rows between.
                let row = shape[1] * 2;
                let mut data = data.to_vec();
                let at = old * row;
                data.splice(at..at, vec![0u8; (rank - old) * row]);
                (vec![shape[0] + rank - old, shape[1]], data)
            } else if name.ends_with("kv_a_layernorm.weight") {
                let mut data = data.to_vec();
                data.extend([0x80u8, 0x3f].repeat(rank - old));
                (vec![rank], data)
            } else if name.ends_with("kv_b_proj.weight") {
                let mut wide = Vec::new();
                for row in data.chunks(old * 2) {
                    wide.extend_from_slice(row);
                    wide.extend(vec![0u8; (rank - old) * 2]);
                }
                (vec![shape[0], rank], wide)
            } else {
                (shape, data.to_vec())
            };
            out.push((name.to_string(), view.dtype(), widened.0, widened.1));
        }
        let views = out.iter().map(|(name, dtype, shape, data)| {
            let view = TensorView::new(*dtype, shape.clone(), data).expect("view");
            (name.clone(), view)
        });
        safetensors::serialize_to_file(views, None, &shard).expect("shard written");
    }
}

/// [`load`] at Q8_0 through the cache in `cache`.
async fn load_q8_0(checkpoint: &Path, cache: &Path) -> Loaded {
    load(checkpoint, IsqChoice::Q8_0, QuantizedCache::at(cache)).await
}

/// A per-expert checkpoint whose first Q8_0 load has written its copy, with
/// that load's answer: the starting point of the stale and damaged copies.
struct WrittenCopy {
    model: tempfile::TempDir,
    cache: tempfile::TempDir,
    entry: std::path::PathBuf,
    logits: Vec<Vec<f32>>,
    text: String,
}

async fn write_copy() -> WrittenCopy {
    let model = tempfile::tempdir().expect("temp dir");
    let cache = tempfile::tempdir().expect("temp dir");
    checkpoint(model.path(), ExpertLayout::PerExpert, None, 3);
    let first = load_q8_0(model.path(), cache.path()).await;
    let entry = written_dir(first.engine.quantized_cache_use());
    let (logits, text) = logits_of(&first.engine).await;
    WrittenCopy {
        model,
        cache,
        entry,
        logits,
        text,
    }
}

fn written_dir(used: &QuantizedCacheUse) -> std::path::PathBuf {
    match used {
        QuantizedCacheUse::Written { dir, .. } => dir.clone(),
        other => panic!("the load should have written its copy: {other:?}"),
    }
}

/// The copy's single UQFF shard.
fn shard(entry: &Path) -> std::path::PathBuf {
    let path = entry.join("weights-0.uqff");
    assert!(
        path.is_file(),
        "{} holds no weights-0.uqff",
        entry.display()
    );
    path
}

/// Quantizing (cache off), writing the copy, and reading it give the same
/// logits bit for bit; the read quantizes nothing.
async fn second_load_reads_the_copy(layout: ExpertLayout, hidden: Option<usize>, isq: IsqChoice) {
    let model = tempfile::tempdir().expect("temp dir");
    let cache = tempfile::tempdir().expect("temp dir");
    checkpoint(model.path(), layout, hidden, 3);

    let off = load(model.path(), isq, QuantizedCache::off()).await;
    assert_eq!(off.engine.quantized_cache_use(), &QuantizedCacheUse::Unused);
    let (quantized, _) = logits_of(&off.engine).await;
    drop(off);
    assert_eq!(
        std::fs::read_dir(cache.path()).expect("cache dir").count(),
        0,
        "the cache was off"
    );

    let first = load(model.path(), isq, QuantizedCache::at(cache.path())).await;
    let entry = written_dir(first.engine.quantized_cache_use());
    assert!(entry.starts_with(cache.path()));
    assert!(
        first.said("kept the quantized weights"),
        "{:?}",
        first.messages
    );
    let (written, _) = logits_of(&first.engine).await;
    drop(first);
    shard(&entry);

    let second = load(model.path(), isq, QuantizedCache::at(cache.path())).await;
    assert_eq!(
        second.engine.quantized_cache_use(),
        &QuantizedCacheUse::Read { dir: entry.clone() }
    );
    let (read, _) = logits_of(&second.engine).await;
    assert!(
        quantized == written,
        "{layout:?}: writing the copy changed the logits"
    );
    assert!(
        read == written,
        "{layout:?}: the copy's logits differ from quantizing's"
    );
    // Only the entry: no temporary directory left behind.
    let names: Vec<_> = std::fs::read_dir(cache.path())
        .expect("cache dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(names, vec![entry]);
}

#[tokio::test(flavor = "multi_thread")]
async fn per_expert_checkpoint_q8_0_reads_its_copy_with_identical_logits() {
    second_load_reads_the_copy(ExpertLayout::PerExpert, None, IsqChoice::Q8_0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stacked_checkpoint_q8_0_reads_its_copy_with_identical_logits() {
    second_load_reads_the_copy(ExpertLayout::Stacked, None, IsqChoice::Q8_0).await;
}

/// Q4K quantizes rows of 256: a hidden size of 256 gives it layers to
/// quantize (the experts' down projections, 32 wide, stay unquantized).
#[tokio::test(flavor = "multi_thread")]
async fn per_expert_checkpoint_q4k_reads_its_copy_with_identical_logits() {
    second_load_reads_the_copy(ExpertLayout::PerExpert, Some(256), IsqChoice::Q4k).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_checkpoint_is_quantized_again_not_read_stale() {
    let WrittenCopy {
        model,
        cache,
        entry,
        logits: old,
        ..
    } = write_copy().await;

    // Other weights of the same shapes: the files keep their names and sizes.
    checkpoint(model.path(), ExpertLayout::PerExpert, None, 4);
    let changed = load_q8_0(model.path(), cache.path()).await;
    match changed.engine.quantized_cache_use() {
        QuantizedCacheUse::Written {
            dir,
            replaced: None,
            ..
        } => assert_eq!(dir, &entry, "the stale copy's entry is replaced"),
        other => panic!("a stale copy is replaced without a warning: {other:?}"),
    }
    let (new, _) = logits_of(&changed.engine).await;
    assert!(old != new, "the changed weights must give other logits");
    drop(changed);

    let again = load_q8_0(model.path(), cache.path()).await;
    assert_eq!(
        again.engine.quantized_cache_use(),
        &QuantizedCacheUse::Read { dir: entry }
    );
    assert!(logits_of(&again.engine).await.0 == new);
}

/// Damages the copy with `damage`, then loads: one warning line, the copy
/// rewritten, the same answer as before.
async fn a_damaged_copy_is_rewritten(damage: fn(&Path), what: &str) {
    let WrittenCopy {
        model,
        cache,
        entry,
        logits: before,
        text: text_before,
    } = write_copy().await;

    damage(&shard(&entry));
    let after = load_q8_0(model.path(), cache.path()).await;
    let warnings: Vec<_> = after
        .messages
        .iter()
        .filter(|m| m.starts_with("warning: the quantized copy"))
        .collect();
    assert_eq!(warnings.len(), 1, "{what}: {:?}", after.messages);
    assert!(!warnings[0].contains('\n'), "one line: {}", warnings[0]);
    match after.engine.quantized_cache_use() {
        QuantizedCacheUse::Written {
            dir,
            replaced: Some(_),
            ..
        } => assert_eq!(dir, &entry),
        other => panic!("{what}: the copy should have been rewritten: {other:?}"),
    }
    let (logits, text) = logits_of(&after.engine).await;
    assert!(
        logits == before,
        "{what}: quantizing again changed the logits"
    );
    assert_eq!(text, text_before);
    drop(after);

    let again = load_q8_0(model.path(), cache.path()).await;
    assert_eq!(
        again.engine.quantized_cache_use(),
        &QuantizedCacheUse::Read { dir: entry },
        "{what}: the rewritten copy is read"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_copy_falls_back_with_a_warning_and_still_answers() {
    fn truncate(path: &Path) {
        let size = std::fs::metadata(path).expect("shard").len();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .expect("shard opens");
        file.set_len(size / 2).expect("truncated");
    }
    a_damaged_copy_is_rewritten(truncate, "truncated").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_mistralrs_cannot_parse_falls_back_with_a_warning() {
    // Same size, so only mistralrs's reading can tell: the safetensors
    // header's length field says more than the file holds.
    fn scramble_header(path: &Path) {
        let mut bytes = std::fs::read(path).expect("shard");
        bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(path, bytes).expect("written");
    }
    a_damaged_copy_is_rewritten(scramble_header, "unparsable").await;
}

/// The tiny checkpoint as generated: `kv_b_proj`'s rows of 16 are too short
/// for Q8_0, ISQ leaves it unquantized and mistralrs 0.8.1 cannot write it.
/// The first start still loads (a second time, without the copy) and
/// records why; later starts load once and say so.
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_mistralrs_cannot_write_is_not_tried_again() {
    let model = tempfile::tempdir().expect("temp dir");
    let cache = tempfile::tempdir().expect("temp dir");
    let options = tiny_glm::TinyGlmOptions {
        layout: ExpertLayout::PerExpert,
        ..common::tiny_glm_options(WeightType::Bf16, 3)
    };
    tiny_glm::write(model.path(), &options).expect("checkpoint written");
    let retried = "while writing its quantized copy failed";

    let first = load_q8_0(model.path(), cache.path()).await;
    assert!(
        matches!(
            first.engine.quantized_cache_use(),
            QuantizedCacheUse::NotWritten { .. }
        ),
        "{:?}",
        first.engine.quantized_cache_use()
    );
    assert!(first.said(retried), "{:?}", first.messages);
    let (answer, _) = logits_of(&first.engine).await;
    drop(first);

    let second = load_q8_0(model.path(), cache.path()).await;
    assert!(!second.said(retried), "{:?}", second.messages);
    assert!(second.said("could not write them"), "{:?}", second.messages);
    assert!(logits_of(&second.engine).await.0 == answer);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_isq_the_cache_is_not_involved() {
    let model = tempfile::tempdir().expect("temp dir");
    let cache = tempfile::tempdir().expect("temp dir");
    checkpoint(model.path(), ExpertLayout::Stacked, None, 3);
    let loaded = load(
        model.path(),
        IsqChoice::None,
        QuantizedCache::at(cache.path()),
    )
    .await;
    assert_eq!(
        loaded.engine.quantized_cache_use(),
        &QuantizedCacheUse::Unused
    );
    assert_eq!(
        std::fs::read_dir(cache.path()).expect("cache dir").count(),
        0
    );
}
