//! `glint dev logits` on the tiny GLM-4.7-Flash checkpoint (CPU, F32): the
//! dump's shape, its f32 file read back, each row's greedy choice against
//! what greedy decoding after the same ids produces, and one token
//! prefilled per position.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use futures::StreamExt;
use glint::dev::logits::{self, LogitsDump};
use glint::dev::steps::greedy_argmax;
use glint::dev::tiny_glm::{self, WeightType};
use glint::engine::local::LocalEngine;
use glint::engine::local::prefill::PrefillLog;
use tempfile::TempDir;
use tracing_subscriber::layer::SubscriberExt;

mod common;

use common::{greedy, load, tiny_glm_options};

/// The tests of this binary share one prefill log, so they run one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn prefill_log() -> &'static PrefillLog {
    static LOG: OnceLock<PrefillLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = PrefillLog::new();
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(log.layer()))
            .expect("one subscriber per test binary");
        log
    })
}

fn checkpoint() -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    tiny_glm::write(dir.path(), &tiny_glm_options(WeightType::F32, 5)).expect("checkpoint");
    dir
}

/// A short GLM prompt's ids, as the model's tokenizer splits it.
async fn prompt_ids(engine: &LocalEngine) -> Vec<u32> {
    let ids = engine
        .tokenize("[gMASK]<sop><|user|>Count the files, then stop.<|assistant|><think>")
        .await
        .expect("tokenizes");
    assert!(ids.len() >= 8, "a prompt of several tokens: {ids:?}");
    ids
}

/// The token greedy decoding picks after exactly `ids`: the context of the
/// second step ends with it. A request that stopped after one step sampled
/// an end-of-turn token (which is never in a context).
async fn greedy_after(engine: &LocalEngine, ids: &[u32]) -> Option<u32> {
    let contexts = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
    let seen = contexts.clone();
    engine.set_step_hook(Some(Arc::new(move |_, context| {
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(context.to_vec());
        Ok(())
    })));
    let mut stream = engine.complete_ids(ids.to_vec(), Vec::new());
    while let Some(chunk) = stream.next().await {
        chunk.expect("the greedy request streams");
    }
    engine.set_step_hook(None);
    let contexts = contexts.lock().unwrap_or_else(PoisonError::into_inner);
    assert!(!contexts.is_empty(), "the request ran no step");
    contexts.get(1).map(|context| {
        assert_eq!(&context[..ids.len()], ids);
        context[ids.len()]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dump_has_one_row_per_position_and_prefills_one_token_each() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let log = prefill_log();
    let dir = checkpoint();
    let engine = load(&greedy(&dir.path().display().to_string(), 1)).await;
    let ids = prompt_ids(&engine).await;
    log.take();
    let mut rows = Vec::new();
    let dump = logits::dump(&engine, &ids, &mut rows, "rows".as_ref())
        .await
        .expect("the dump runs");
    assert_eq!(dump.positions, ids.len());
    assert_eq!(dump.ids, ids);
    assert_eq!(dump.vocab, tiny_glm::VOCAB_SIZE);
    assert_eq!(dump.argmax.len(), ids.len());
    assert_eq!(rows.len(), ids.len() * dump.vocab * 4);
    // The vocabulary probe, then one request per position: the first
    // prefills its one token, each later one finds the earlier rows and
    // prefills only its last token.
    let records = log.take();
    let per_position: Vec<u64> = records
        .iter()
        .rev()
        .take(ids.len())
        .rev()
        .map(|r| r.prefill_tokens)
        .collect();
    assert_eq!(per_position, vec![1; ids.len()], "{records:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_writes_rows_whose_greedy_choice_is_what_decoding_picks() {
    let _serial = ONE_AT_A_TIME.lock().await;
    prefill_log();
    let dir = checkpoint();
    let model = dir.path().display().to_string();
    let engine = load(&greedy(&model, 1)).await;
    let ids = prompt_ids(&engine).await;
    let out = tempfile::tempdir().expect("temp dir");
    let ids_file = out.path().join("ids.txt");
    let text: Vec<String> = ids.iter().map(u32::to_string).collect();
    std::fs::write(&ids_file, text.join(" ") + "\n").expect("ids written");
    dev_logits(out.path(), &model, &["--paged-attn", "auto"], "run");

    let json = std::fs::read_to_string(out.path().join("run.json")).expect("the json file");
    let dump: LogitsDump = serde_json::from_str(&json).expect("the json parses");
    assert_eq!(
        (dump.positions, dump.vocab),
        (ids.len(), tiny_glm::VOCAB_SIZE)
    );
    assert_eq!(dump.ids, ids);
    let bytes = std::fs::read(out.path().join("run.f32")).expect("the f32 file");
    assert_eq!(bytes.len(), dump.positions * dump.vocab * 4);
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let rows: Vec<&[f32]> = values.chunks_exact(dump.vocab).collect();
    for (i, row) in rows.iter().enumerate() {
        assert!(row.iter().all(|v| v.is_finite()), "row {i} is not finite");
        assert_eq!(greedy_argmax(row), dump.argmax[i], "row {i}");
        let decoded = greedy_after(&engine, &ids[..=i]).await;
        match decoded {
            Some(token) => assert_eq!(token, dump.argmax[i], "position {i}"),
            None => assert!(
                glint::glm::STOP_TOKEN_IDS.contains(&dump.argmax[i]),
                "position {i}: decoding stopped at once, but the row's choice {} is no stop token",
                dump.argmax[i]
            ),
        }
    }
    // Distinct positions predict from distinct contexts.
    assert_ne!(rows[0], rows[rows.len() - 1]);

    // `--dtype f32` is how the CPU always runs: the same rows, bit for bit.
    dev_logits(out.path(), &model, &["--dtype", "f32"], "run-f32");
    let f32_bytes = std::fs::read(out.path().join("run-f32.f32")).expect("the f32 run's file");
    assert!(f32_bytes == bytes, "--dtype f32 changed the CPU's logits");
}

#[test]
fn f32_with_a_quantization_is_refused_in_one_line_by_the_dev_commands() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ids_file = dir.path().join("ids.txt");
    std::fs::write(&ids_file, "1 2 3").expect("written");
    let ids = ids_file.display().to_string();
    let out = dir.path().join("run").display().to_string();
    let common_args = [
        "no-such-model",
        "--device",
        "cpu",
        "--dtype",
        "f32",
        "--isq",
        "q4k",
    ];
    for command in [
        vec!["dev", "logits", "--ids", &ids, "--out", &out],
        vec!["dev", "cache-check"],
        vec!["dev", "speed"],
    ] {
        let output = common::glint(dir.path())
            .args(&command)
            .args(common_args)
            .output()
            .expect("glint runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{command:?}: {stderr}");
        assert!(
            stderr.contains("--dtype f32 loads unquantized weights; drop --isq q4k"),
            "{command:?}: {stderr}"
        );
    }
}

/// Runs `glint dev logits MODEL --device cpu EXTRA...` on `dir`'s ids.txt
/// into `dir/PREFIX.*`, failing the test when it fails.
fn dev_logits(dir: &Path, model: &str, extra: &[&str], prefix: &str) {
    let output = common::glint(dir)
        .args(["dev", "logits", model, "--device", "cpu"])
        .args(extra)
        .arg("--ids")
        .arg(dir.join("ids.txt"))
        .arg("--out")
        .arg(dir.join(prefix))
        .output()
        .expect("glint runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_bad_ids_file_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ids_file = dir.path().join("ids.txt");
    std::fs::write(&ids_file, "12 7x 3").expect("written");
    let output = common::glint(dir.path())
        .args(["dev", "logits", "no-such-model", "--device", "cpu"])
        .arg("--ids")
        .arg(&ids_file)
        .arg("--out")
        .arg(dir.path().join("run"))
        .output()
        .expect("glint runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("`7x` (word 2) is not a token id"),
        "{stderr}"
    );
}
