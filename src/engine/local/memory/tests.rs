use super::*;
use serde_json::json;

const GIB: u64 = 1 << 30;

/// GLM-4.7-Flash's latent KV cache: 47 layers of 512 + 64 values.
const GLM_KV_VALUES: u64 = 47 * 576;
const GLM_WINDOW: u64 = 202_752;

/// A bf16 safetensors checkpoint of `file_gib` GiB.
fn bf16(file_gib: u64) -> Weights {
    Weights {
        file_bytes: file_gib * GIB,
        params: Some(file_gib * GIB / 2),
    }
}

fn glm(isq: IsqChoice, context: Option<u64>) -> FitQuery {
    FitQuery {
        weights: bf16(56),
        kv_values_per_token: Some(GLM_KV_VALUES),
        window: Some(GLM_WINDOW),
        context,
        isq,
    }
}

fn gpu(free_gib: u64) -> Budget {
    Budget {
        kind: MemoryKind::Gpu,
        available: Some(free_gib * GIB),
        limit: None,
    }
}

fn ram(available_gib: u64, limit_gib: Option<u64>) -> Budget {
    Budget {
        kind: MemoryKind::Ram,
        available: Some(available_gib * GIB),
        limit: limit_gib.map(|l| l * GIB),
    }
}

fn isq_of(result: Result<Fit, String>) -> IsqChoice {
    result.unwrap_or_else(|e| panic!("refused: {e}")).isq
}

#[test]
fn glm_latent_kv_cache_holds_576_values_per_layer_and_token() {
    let config = json!({"num_hidden_layers": 47, "kv_lora_rank": 512, "qk_rope_head_dim": 64,
                        "num_attention_heads": 20, "hidden_size": 2048});
    assert_eq!(kv_values_per_token(&config), Some(GLM_KV_VALUES));
    let llama = json!({"num_hidden_layers": 30, "num_attention_heads": 9,
                       "num_key_value_heads": 3, "hidden_size": 576});
    assert_eq!(kv_values_per_token(&llama), Some(30 * 3 * 64 * 2));
}

#[test]
fn weights_load_as_bf16_on_a_gpu_as_f32_on_cpu_or_at_the_isq_level() {
    let weights = bf16(56);
    assert_eq!(
        weights.loaded_bytes(IsqChoice::None, MemoryKind::Gpu),
        56 * GIB
    );
    assert_eq!(
        weights.loaded_bytes(IsqChoice::None, MemoryKind::Ram),
        112 * GIB
    );
    // Quantized weights are the same size wherever they live.
    let q4k = (28.0 * GIB as f64 * 4.5 / 8.0) as u64;
    assert_eq!(weights.loaded_bytes(IsqChoice::Q4k, MemoryKind::Gpu), q4k);
    assert_eq!(weights.loaded_bytes(IsqChoice::Q4k, MemoryKind::Ram), q4k);
    // An f32 checkpoint loads as bf16 on a GPU.
    let f32_weights = Weights {
        file_bytes: 8 * GIB,
        params: Some(2 * GIB),
    };
    assert_eq!(
        f32_weights.loaded_bytes(IsqChoice::None, MemoryKind::Gpu),
        4 * GIB
    );
    // With --dtype f32 a GPU holds f32, as the CPU does, and a context's
    // KV cache doubles with it.
    assert_eq!(
        weights.loaded_bytes(IsqChoice::None, MemoryKind::GpuF32),
        112 * GIB
    );
    let query = glm(IsqChoice::None, Some(GLM_WINDOW));
    assert_eq!(
        query.need_at(IsqChoice::None, MemoryKind::GpuF32).1,
        2 * query.need_at(IsqChoice::None, MemoryKind::Gpu).1
    );
    // A GGUF loads as stored, whatever --isq says.
    let gguf = Weights {
        file_bytes: 3 * GIB,
        params: None,
    };
    assert_eq!(gguf.loaded_bytes(IsqChoice::Q4k, MemoryKind::Ram), 3 * GIB);
}

#[test]
fn auto_picks_the_most_precise_level_whose_weights_and_kv_cache_fit() {
    // The whole window's KV cache is 10.2 GiB in bf16.
    let query = glm(IsqChoice::Auto, Some(GLM_WINDOW));
    assert_eq!(isq_of(plan(&query, &gpu(79))), IsqChoice::None);
    assert_eq!(isq_of(plan(&query, &gpu(60))), IsqChoice::Q8_0);
    assert_eq!(isq_of(plan(&query, &gpu(40))), IsqChoice::Q6k);
    assert_eq!(isq_of(plan(&query, &gpu(30))), IsqChoice::Q4k);
    let refusal = plan(&query, &gpu(20)).expect_err("nothing fits 20 GiB");
    // Q4K weights (15.8 GiB) fit 18 GiB, but not with the whole window.
    let q4k = bf16(56).loaded_bytes(IsqChoice::Q4k, MemoryKind::Gpu);
    let tokens = (18 * GIB - q4k) / (GLM_KV_VALUES * 2);
    assert!(
        refusal.ends_with(&format!("; --max-context {tokens} should fit")),
        "{refusal}"
    );
    assert!(!refusal.contains('\n'), "{refusal}");
}

#[test]
fn without_max_context_the_context_is_what_fits_beside_the_weights() {
    let query = glm(IsqChoice::None, None);
    // 79 GiB: 71.1 usable - 56 of weights = 15.1 GiB, more than the window.
    let fit = plan(&query, &gpu(79)).expect("fits");
    assert_eq!(fit.context, Some(GLM_WINDOW));
    // 70 GiB: 63 - 56 = 7 GiB of KV cache, 54,144 bytes per token.
    let fit = plan(&query, &gpu(70)).expect("fits");
    assert_eq!(
        fit.context,
        Some((63 * GIB - 56 * GIB) / (GLM_KV_VALUES * 2))
    );
    // 63 GiB: 0.7 GiB left holds fewer tokens than an agent needs.
    let refusal = plan(&query, &gpu(63)).expect_err("too little context");
    assert!(refusal.contains("--isq q8_0 should fit"), "{refusal}");
    // A model whose window is shorter than the useful minimum still loads.
    let small = FitQuery {
        weights: bf16(1),
        kv_values_per_token: Some(1000),
        window: Some(2048),
        context: None,
        isq: IsqChoice::None,
    };
    assert_eq!(plan(&small, &gpu(2)).expect("fits").context, Some(2048));
}

#[test]
fn on_cpu_f32_weights_that_do_not_fit_are_refused_naming_a_level_that_does() {
    // 2 GiB of bf16 weights take 4 GiB as f32; an 8 GiB cap leaves 7.2.
    let query = FitQuery {
        weights: bf16(2),
        kv_values_per_token: Some(GLM_KV_VALUES),
        window: Some(GLM_WINDOW),
        context: Some(8192),
        isq: IsqChoice::Auto,
    };
    let fit = plan(&query, &ram(64, Some(8))).expect("fits the cap");
    assert_eq!(fit.isq, IsqChoice::None, "auto keeps f32 on CPU");
    assert_eq!(fit.context, Some(8192));
    let refusal = plan(&query, &ram(64, Some(4))).expect_err("f32 does not fit 3.6 GiB");
    // 4 GiB of f32 weights + 8,192 tokens × 27,072 values × 4 bytes.
    assert!(
        refusal.starts_with("the model needs about 4.8 GiB of RAM at f32"),
        "{refusal}"
    );
    assert!(refusal.contains("--memory-limit 4.0 GiB"), "{refusal}");
    assert!(refusal.contains("64.0 GiB of RAM available"), "{refusal}");
    // 1.06 GiB of Q8_0 weights + the same 0.83 GiB of KV cache.
    assert!(
        refusal.ends_with("--isq q8_0 should fit (about 1.9 GiB)"),
        "{refusal}"
    );
    // The smaller of what is available and the cap binds.
    assert!(plan(&query, &ram(4, Some(64))).is_err());
    // FP8 is not suggested on CPU: below Q8_0 comes Q6K.
    let tight = FitQuery {
        isq: IsqChoice::Q8_0,
        ..query
    };
    let refusal = plan(&tight, &ram(64, Some(2))).expect_err("q8_0 does not fit 1.8 GiB");
    assert!(refusal.contains("--isq q6k should fit"), "{refusal}");
}

#[test]
fn when_nothing_fits_the_refusal_says_so() {
    let query = glm(IsqChoice::Q4k, None);
    let refusal = plan(&query, &gpu(8)).expect_err("nothing fits");
    assert!(
        refusal.contains("nothing fits: even at --isq q4k"),
        "{refusal}"
    );
    let gguf = FitQuery {
        weights: Weights {
            file_bytes: 20 * GIB,
            params: None,
        },
        kv_values_per_token: None,
        window: None,
        context: None,
        isq: IsqChoice::Auto,
    };
    let refusal = plan(&gguf, &ram(16, None)).expect_err("a 20 GiB GGUF in 16 GiB");
    assert!(refusal.contains("at as stored"), "{refusal}");
    assert!(
        refusal.contains("smaller quantization of the model"),
        "{refusal}"
    );
    assert!(plan(&gguf, &ram(32, None)).is_ok());
}

#[test]
fn with_dtype_f32_a_refusal_never_suggests_isq_which_f32_refuses() {
    let f32_gpu = |free_gib: u64| Budget {
        kind: MemoryKind::GpuF32,
        ..gpu(free_gib)
    };
    // 112 GiB of f32 weights fit 140 GiB, but not with the whole window's
    // 20.4 GiB of f32 KV cache: a shorter context is the way, not a level.
    let query = glm(IsqChoice::None, Some(GLM_WINDOW));
    let refusal = plan(&query, &f32_gpu(130)).expect_err("the window does not fit");
    assert!(refusal.contains("at f32 (--dtype f32)"), "{refusal}");
    assert!(refusal.contains("--max-context"), "{refusal}");
    assert!(!refusal.contains("--isq"), "{refusal}");
    // The weights alone do not fit: the precision is what to change.
    let refusal = plan(&query, &f32_gpu(80)).expect_err("112 GiB in 80");
    assert!(
        refusal.contains("nothing fits in f32") && refusal.contains("drop --dtype f32"),
        "{refusal}"
    );
    assert!(!refusal.contains("--isq"), "{refusal}");
    let advice = out_of_memory_advice(&query, &f32_gpu(80), IsqChoice::None);
    assert!(
        advice.ends_with("; drop --dtype f32 or try a smaller --max-context"),
        "{advice}"
    );
    // The same budget in bf16 still names a level.
    assert!(
        plan(&query, &gpu(40))
            .expect_err("bf16 needs 66 GiB")
            .contains("--isq")
    );
}

#[test]
fn an_unknown_budget_keeps_the_options_as_given() {
    let unknown = Budget {
        kind: MemoryKind::Gpu,
        available: None,
        limit: None,
    };
    let fit = plan(&glm(IsqChoice::Auto, None), &unknown).expect("not checked");
    assert_eq!(
        fit,
        Fit {
            isq: IsqChoice::None,
            context: None
        }
    );
    let fit = plan(&glm(IsqChoice::Q6k, Some(9000)), &unknown).expect("not checked");
    assert_eq!(
        fit,
        Fit {
            isq: IsqChoice::Q6k,
            context: Some(9000)
        }
    );
    // A cap alone is a budget.
    let capped = Budget {
        limit: Some(10 * GIB),
        ..unknown
    };
    assert!(plan(&glm(IsqChoice::None, None), &capped).is_err());
}

#[test]
fn out_of_memory_advice_names_a_more_compact_level_or_the_context() {
    let query = glm(IsqChoice::None, Some(20_000));
    let advice = out_of_memory_advice(&query, &gpu(24), IsqChoice::None);
    assert!(advice.contains("--isq q4k should fit"), "{advice}");
    let advice = out_of_memory_advice(&query, &gpu(40), IsqChoice::None);
    assert!(advice.contains("--isq q8_0 should fit"), "{advice}");
    // Q4K was estimated to fit with 40,000 tokens: the advice is a shorter
    // context, never the 44,620 the estimate would allow.
    let long = glm(IsqChoice::Q4k, Some(40_000));
    assert!(plan(&long, &gpu(20)).is_ok());
    let advice = out_of_memory_advice(&long, &gpu(20), IsqChoice::Q4k);
    assert!(
        advice.ends_with("; try a more compact --isq or a smaller --max-context"),
        "{advice}"
    );
    assert!(is_out_of_memory(
        "DriverError(CUDA_ERROR_OUT_OF_MEMORY, \"out of memory\")"
    ));
    assert!(!is_out_of_memory("file not found"));
}

#[test]
fn mem_available_is_read_from_meminfo() {
    let meminfo =
        "MemTotal:       16314300 kB\nMemFree:         1202212 kB\nMemAvailable:    9876543 kB\n";
    assert_eq!(mem_available(meminfo), Some(9_876_543 * 1024));
    assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
    // This machine's own value parses.
    if std::path::Path::new("/proc/meminfo").exists() {
        assert!(available_ram().is_some_and(|b| b > 0));
    }
}
