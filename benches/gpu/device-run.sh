#!/usr/bin/env bash
# The one prepared script for a lent GPU machine (issue 17): GLM-4.7-Flash's real shape on CUDA, measured.
#
# On the device (no network; PyTorch, transformers, nvcc there), after benches/gpu/build-cuda.sh ran here:
#   run(command="bash benches/gpu/device-run.sh", carry=[".gpu-carry"], timeout_s=540)
#   then, at once while the machine is warm (checkpoints in /dev/shm survive):
#   run(command="bash benches/gpu/device-run.sh --from STAGE", carry=[".gpu-carry"], timeout_s=540)
# where STAGE is the one the first call's output names as next. Every result is appended to $OUT/results.jsonl
# as it is known (python3 benches/gpu/summarize.py results.jsonl... turns them into BENCHMARKS.md rows);
# $OUT/run.log is this script's log, $OUT/details.tar.gz every command's own log and the profiler tables.
#
# Stages, in priority order (issue 17's items 1-4; the long-context prefills last, as they alone can take
# a whole call):
#   cache        1. cached == cold: glint dev cache-check, real dims, 2 layers, 30 turns, PagedAttention on/off
#   cache-f32    1. the same not paged in f32 (--dtype f32: what bf16 rounding explains; needs core 0012)
#   agree-small  2. agreement with transformers (bf16 and fp32), teacher-forced, 1 and 2 layers, paged on/off
#   agree-47     2. the same with 47 layers (fp32 only where it fits: 112 GiB of weights)
#   speed        3. copy bandwidth (torch); load, prefill 1k/8k/32k, decode after 1k/8k/32k, turn 30 of 30
#                   cached vs cold; the KV cache sized by glint's default --max-context
#   profile      4. nsys of 64 decode steps after 1k and 16k (kernel time by name in the decode window; where the
#                   device has no nsys, the same table from benches/gpu/cupti_trace.cpp, a CUPTI kernel tracer
#                   build-cuda.sh packs into .gpu-carry/cupti/) and ncu of the FlashInfer MLA decode kernel after
#                   16k (its grid: split-KV or not)
#   ab           issue 18's before/after pairs, same binary, same run, each switch off (0.8.1's path) and on,
#                   newest first: decode after 1k with the fused router (GLINT_FUSED_ROUTER; core 0011), and its
#                   logits against the unfused router's on 2 layers;
#                   ISQ q4k load, prefill 1k/8k and decode with the quantized-MoE kernels (GLINT_MOE_KERNELS;
#                   core 0008/0009, quant 0002/0003), on 8 layers (ISQ of all 47 took over 174 s on an H200),
#                   beside the same checkpoint in bf16 (issue 18's 4-bit / bf16 decode ratio); then MLA decode
#                   after 1k/8k/32k with split-KV (MISTRALRS_MLA_SPLIT_KV; paged-attn 0001, core 0007)
#   flash        issue 18: the flash-attn build's prefill 1k/8k/32k (flash-attn for a prompt with no cached
#                   prefix) against the plain build's, both binaries in one call (mistralrs has no runtime switch)
#   speed-64k    3. prefill 64k
#   speed-128k   3. prefill 128k and decode after it
#
# Options:
#   --from STAGE        start at STAGE (the ones before it are left out)
#   --only S1,S2        run just these stages, in this order
#   --budget SECONDS    stop starting stages once this much wall time is spent (default 420; cap each command
#                       by what is left, so the call ends inside the device tool's limit)
#   --cpu-smoke         check this script on a machine without a GPU: glint's tiny checkpoint on the CPU,
#                       small sizes, PagedAttention off, no transformers or profiler (each reported as not run);
#                       needs GLINT_BIN (a CPU build of glint)
#   --list              print the stages and exit
# Environment: GLINT_BIN (a glint binary; default: unpack $GLINT_CARRY_DIR/glint-cuda.xz; GLINT_CARRY_DIR defaults
#   to .gpu-carry, and .gpu-carry/flash-attn holds the flash-attn build), OUT (default ./device-out),
#   GLINT_CKPT_ROOT (default /dev/shm/glint-ckpt), GLINT_WORK (default /tmp/glint-device-run), PYTHON (python3).
# Exit status: 0 when every step that ran succeeded, 1 when one failed or ran out of time (the rows say which).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
here=benches/gpu
STAGES=(cache cache-f32 agree-small agree-47 speed profile ab flash speed-64k speed-128k)

from="" only="" budget="" smoke=0
while (($#)); do
    case $1 in
        --from) from=${2:?--from needs a stage}; shift 2 ;;
        --only) only=${2:?--only needs stages}; shift 2 ;;
        --budget) budget=${2:?--budget needs seconds}; shift 2 ;;
        --cpu-smoke) smoke=1; shift ;;
        --list) printf '%s\n' "${STAGES[@]}"; exit 0 ;;
        *) echo "device-run.sh: unknown option $1 (see the comments at the top of $0)" >&2; exit 2 ;;
    esac
done
for s in ${from} ${only//,/ }; do
    [[ " ${STAGES[*]} " == *" $s "* ]] || { echo "device-run.sh: no stage '$s' (stages: ${STAGES[*]})" >&2; exit 2; }
done

export GLINT_RUN_START=$(date +%s.%N)
start_s=${GLINT_RUN_START%.*}
PY=${PYTHON:-python3}
WORK=${GLINT_WORK:-/tmp/glint-device-run}
OUT=${OUT:-$PWD/device-out}
CKPT_ROOT=${GLINT_CKPT_ROOT:-/dev/shm/glint-ckpt}
mkdir -p "$WORK/logs" "$WORK/logits" "$OUT" "$CKPT_ROOT" || exit 2
RESULTS=$OUT/results.jsonl
# The carried build to run (GLINT_CARRY_DIR=.gpu-carry/flash-attn for the flash-attn build beside the plain one).
CARRY=${GLINT_CARRY_DIR:-.gpu-carry}
RUNLOG=$OUT/run.log
failures=0
budget_cut=0  # set when a step was cut short or left out for the budget: the stage is to be resumed

if ((smoke)); then
    budget=${budget:-900} DEV=cpu PAGED=(off) SPEED_PAGED=off TURNS=3 POSITIONS=12 BIG=3 NOTE=" (cpu smoke)"
    CACHE_EXTRA=(--no-tools --noise-probes 2)  # a short prompt: the smoke checks the script, not the model
    SPEED_ARGS=(--prefill 64,128 --decode-after 64 --decode-tokens 4 --session-turns 3 --session-first 256
        --session-new 16 --session-output 4 --max-context 8192)
    SPEED64=(--prefill 256 --decode-after 64 --decode-tokens 2 --session-turns 0 --max-context 8192)
    SPEED128=(--prefill 512 --decode-after 512 --decode-tokens 2 --session-turns 0 --max-context 8192)
    AB_DECODE=(--prefill 64 --decode-after 64,256 --decode-tokens 4 --session-turns 0 --max-context 8192)
    MOE_RUN=(--prefill 64 --decode-after 64 --decode-tokens 4 --session-turns 0 --max-context 8192) MOE_ISQ=q8_0
    MOE_LAYERS=$BIG
    ROUTER_RUN=(--prefill 64 --decode-after 64 --decode-tokens 4 --session-turns 0 --max-context 8192)
else
    budget=${budget:-420} DEV=cuda:0 PAGED=(on off) SPEED_PAGED=on TURNS=30 POSITIONS=128 BIG=47 NOTE=""
    # 16 split-prefill noise rows: on 2026-11-27 (H200) 1 to 3 of 32 cached turns differed from a cold prefill
    # by ~0.65 where the one noise row and the other turns differed by ~0.045; how often do split prefills?
    CACHE_EXTRA=(--noise-probes 16)
    SPEED_ARGS=(--prefill 1024,8192,32768 --decode-after 1024,8192,32768 --decode-tokens 64 --session-turns 30)
    # Each measurement prefills its own prompt. With the flash-attn build (2026-11-28, H200) a 64k prefill took
    # 26 s and a 128k one 68 s; the 128k prompt in one forward pass ran out of memory beside the default
    # 202,752-token KV cache (about 70 GB of activations), which --prefill-chunk (8192 by default with
    # PagedAttention) bounds: speed-128k checks that the default now fits, in a call of its own
    # (--only speed-128k --budget 400, timeout_s 450: two 128k prefills and a load).
    SPEED64=(--prefill 65536 --decode-after 1024 --decode-tokens 8 --session-turns 0)
    SPEED128=(--prefill 131072 --decode-after 131072 --decode-tokens 16 --session-turns 0)
    AB_DECODE=(--prefill 1024 --decode-after 1024,8192,32768 --decode-tokens 32 --session-turns 0)
    # The MoE kernels (core 0008/0009) serve GGUF-quantized experts only: ISQ q4k, prefill (grouped GEMM from
    # 32 tokens) and decode (fused GEMVs).
    MOE_RUN=(--prefill 1024,8192 --decode-after 1024 --decode-tokens 32 --session-turns 0) MOE_ISQ=q4k
    MOE_LAYERS=8
    ROUTER_RUN=(--prefill 1024 --decode-after 1024 --decode-tokens 64 --session-turns 0)
    # Prefill is where flash-attn acts (no cached prefix); decode after 1k stays in as a check it is unchanged.
    FLASH_RUN=(--prefill 1024,8192,32768 --decode-after 1024 --decode-tokens 32 --session-turns 0)
fi

say() { echo "[$(($(date +%s) - start_s))s] $*" | tee -a "$RUNLOG" >&2; }
left() { echo $((budget - ($(date +%s) - start_s))); }
row() { "$PY" "$here/results.py" row "$RESULTS" "$@"; }

# Packs every command's log (and the profiler tables) into one file: the device returns at most 8 files.
pack() { tar -czf "$OUT/details.tar.gz" -C "$WORK" logs $(cd "$WORK" && ls -d nsys-*.csv ncu-*.csv 2>/dev/null) 2>/dev/null; }

# run_step STAGE STEP CAP CMD...: runs CMD under min(CAP, what the budget leaves), its JSON lines tagged into
# results.jsonl with STAGE, STEP and the fields in the FIELDS array, everything else into its log.
FIELDS=()
run_step() {
    local stage=$1 step=$2 cap=$3; shift 3
    local remaining capped=0 shown="${*//"$GLINT"/glint}"
    remaining=$(left)
    ((remaining - 5 < cap)) && cap=$((remaining - 5)) capped=1
    if ((cap < 10)); then
        row --stage "$stage" --step "$step" kind=step status=not_run reason=budget "${FIELDS[@]}" "command=$shown"
        say "[$stage/$step] not run: the budget is spent"
        budget_cut=1
        return 3
    fi
    local log=$WORK/logs/$stage.$step.log began=$(date +%s.%N)
    say "[$stage/$step] (cap ${cap}s) $shown"
    echo "\$ $shown" >"$log"
    timeout --kill-after=15 "$cap" "$@" 2>>"$log" \
        | "$PY" "$here/results.py" tag "$RESULTS" --stage "$stage" --step "$step" --log "$log" "${FIELDS[@]}"
    local rc=${PIPESTATUS[0]} status=ok
    local seconds; seconds=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $began}")
    if ((rc == 124 || rc == 137)); then status=timeout budget_cut=$((budget_cut | capped)); elif ((rc != 0)); then status=failed; fi
    local tail_text=""
    # The last lines say why: an error line on stderr, or a {"kind":"error"} row.
    [[ $status != ok ]] && tail_text=$(tail -n 3 "$log" | tr '\n' ' ' | cut -c1-400)
    row --stage "$stage" --step "$step" kind=step "status=$status" "rc=$rc" "seconds=$seconds" "${FIELDS[@]}" \
        "command=$shown" "stderr_tail=$tail_text"
    say "[$stage/$step] $status (rc $rc, ${seconds}s)"
    [[ $status == ok ]] || failures=$((failures + 1))
    pack
    [[ $status == ok ]]
}

# --- the binary and the device --------------------------------------------------------------------------------
# unpack_build DIR DEST: unpacks DIR/glint-cuda.xz to DEST (once per machine) and checks it is the binary
# DIR/glint-cuda.json describes, built from this tree's patches/; says why and returns 1 otherwise.
unpack_build() {
    local dir=$1 dest=$2
    local want; want=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' \
        "$dir/glint-cuda.json" 2>/dev/null) || { say "no $dir/glint-cuda.json: run benches/gpu/build-cuda.sh and carry .gpu-carry"; return 1; }
    if [[ ! -x $dest || $(sha256sum "$dest" | cut -d' ' -f1) != "$want" ]]; then
        xz -dc "$dir/glint-cuda.xz" >"$dest" && chmod +x "$dest" || { say "cannot unpack $dir/glint-cuda.xz"; return 1; }
        [[ $(sha256sum "$dest" | cut -d' ' -f1) == "$want" ]] || { say "the binary unpacked from $dir is not the one its glint-cuda.json describes"; return 1; }
    fi
    # A binary built from other engine patches would measure the wrong
    # engine: refuse it before any device time goes into it.
    local built_patches; built_patches=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("patches_sha256", ""))' "$dir/glint-cuda.json")
    local tree_patches; tree_patches=$(cat patches/*/*.patch | sha256sum | cut -d' ' -f1)
    [[ $built_patches == "$tree_patches" ]] || { say "the binary in $dir was built from other patches/ than this tree's: rerun benches/gpu/build-cuda.sh"; return 1; }
}

setup() {
    if [[ -n ${GLINT_BIN:-} ]]; then
        GLINT=$GLINT_BIN
    else
        GLINT=$WORK/glint
        unpack_build "$CARRY" "$GLINT" || exit 2
    fi
    if ((!smoke)); then
        local cu13; cu13=$("$PY" -c 'import nvidia, os; print(next((os.path.join(p, "cu13", "lib") for p in nvidia.__path__ if os.path.isdir(os.path.join(p, "cu13", "lib"))), ""))' 2>/dev/null)
        export LD_LIBRARY_PATH=${cu13:-/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
        if ldd "$GLINT" | grep -q 'not found'; then
            say "glint's libraries are missing: $(ldd "$GLINT" | grep 'not found' | tr '\n' ' ')"
            exit 2
        fi
        local gpu; gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -n1)
        row --stage setup --step device kind=device "gpu=$gpu" "date=$(date -u +%Y-%m-%d)" \
            "build=$(tr -d '\n' <"$CARRY/glint-cuda.json")" "argv=$ARGV"
    else
        row --stage setup --step device kind=device "gpu=none (cpu smoke: $(nproc) cores)" \
            "date=$(date -u +%Y-%m-%d)" "argv=$ARGV"
    fi
    NSYS=$(command -v nsys || ls /usr/local/cuda*/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys \
        /usr/local/cuda*/nsight-systems*/bin/nsys 2>/dev/null | head -n1)
    NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -n1)
    # The CUPTI kernel tracer (benches/gpu/build-tracer.sh), for a device without nsys: beside the plain build.
    TRACER="" TRACER_LIBS=""
    local dir
    for dir in "$CARRY/cupti" .gpu-carry/cupti; do
        if [[ -f $dir/libglint_cupti_trace.so ]]; then
            TRACER=$(realpath "$dir/libglint_cupti_trace.so") TRACER_LIBS=$(realpath "$dir")
            break
        fi
    done
    say "glint: $GLINT; nsys: ${NSYS:-none}; kernel tracer: ${TRACER:-none}; ncu: ${NCU:-none}; budget ${budget}s"
}

# ckpt LAYERS: the checkpoint's directory, made once per machine (real dims and layout on the device; glint's
# tiny checkpoint in the smoke run). The tokenizer is glint's own (tiny-glm's: GLM's specials and tags as added
# tokens), so the agent prompts cache-check renders tokenize as they do on the CPU.
ckpt() {
    local layers=$1 dir=$CKPT_ROOT/glm-$1
    CKPT=$dir CKPT_LAYERS=$layers
    [[ -f $dir/.complete ]] && return 0
    rm -rf "$dir"
    FIELDS=("layers=$layers")
    if ((smoke)); then
        run_step setup "checkpoint-$layers" 120 "$GLINT" dev tiny-glm "$dir" --layers "$layers" || return 1
    else
        run_step setup "checkpoint-$layers" 200 "$PY" "$here/make_glm_checkpoint.py" "$dir" "$layers" || return 1
        { [[ -f $WORK/tokenizer-source/tokenizer.json ]] \
            || "$GLINT" dev tiny-glm "$WORK/tokenizer-source" --layers 1 >/dev/null 2>&1; } \
            && cp "$WORK/tokenizer-source/tokenizer.json" "$dir/tokenizer.json" \
            || { say "cannot write glint's tokenizer: the checkpoint keeps make_glm_checkpoint.py's"; }
    fi
    "$PY" "$here/results.py" checkpoint "$RESULTS" "$dir" --stage setup --step "checkpoint-$layers"
    touch "$dir/.complete"
}

# --- stages -----------------------------------------------------------------------------------------------------
stage_cache() {
    ckpt 2 || return
    for paged in "${PAGED[@]}"; do
        FIELDS=(layers=2 "paged=$paged")
        run_step cache "cache-check-paged-$paged" 200 "$GLINT" dev cache-check "$CKPT" --device "$DEV" \
            --turns "$TURNS" --paged-attn "$paged" --max-context 32768 "${CACHE_EXTRA[@]}" --json
    done
}

stage_cache_f32() {
    ckpt 2 || return
    # The same session in f32 (without PagedAttention, whose MLA kernels take bf16): on 2026-11-27 and -28 the
    # same 1 to 3 of 30 turns jumped ~0.65 above the ~0.05 of every other turn and split prefill, in bf16. An
    # expert choice flipping on bf16 rounding vanishes in f32; a cache fault stays. On CUDA the f32 MoE runs
    # mistralrs's per-expert loop (core 0012; the fused kernels take bf16/f16 only).
    FIELDS=(layers=2 paged=off dtype=f32)
    run_step cache-f32 cache-check-f32 200 "$GLINT" dev cache-check "$CKPT" --device "$DEV" --turns "$TURNS" \
        --paged-attn off --dtype f32 --max-context 32768 "${CACHE_EXTRA[@]}" --json
}

ids_file() {
    local file=$WORK/ids-$POSITIONS.txt
    [[ -f $file ]] || "$PY" -c '
import random, sys
random.seed(17)
n = int(sys.argv[1])
print(" ".join(map(str, [154822, 154824] + [random.randrange(154820) for _ in range(n - 2)])))' "$POSITIONS" >"$file"
    echo "$file"
}

# agree LAYERS CAP: glint's logits (paged on and off), transformers' (bf16, fp32), every pair compared.
agree() {
    local layers=$1 stage=$2 ids; ids=$(ids_file)
    ckpt "$layers" || return
    local files=()
    for paged in "${PAGED[@]}"; do
        FIELDS=("layers=$layers" "paged=$paged")
        local prefix=$WORK/logits/glint-L$layers-paged-$paged
        run_step "$stage" "logits-L$layers-paged-$paged" 200 "$GLINT" dev logits "$CKPT" --ids "$ids" \
            --out "$prefix" --device "$DEV" --paged-attn "$paged" && files+=("glint-paged-$paged=$prefix")
    done
    FIELDS=("layers=$layers")
    if ((smoke)); then
        # No transformers here: a second glint run stands in for the reference, which also checks that the
        # CPU path is deterministic (every pair must agree exactly).
        local prefix=$WORK/logits/glint-L$layers-repeat
        row --stage "$stage" --step "transformers-L$layers" kind=step status=not_run "reason=cpu smoke: no transformers" "layers=$layers"
        run_step "$stage" "logits-L$layers-repeat" 200 "$GLINT" dev logits "$CKPT" --ids "$ids" --out "$prefix" \
            --device "$DEV" --paged-attn off && files+=("glint-repeat=$prefix")
    else
        local hf=$WORK/logits/hf-L$layers
        run_step "$stage" "transformers-L$layers" 300 "$PY" "$here/compare_logits.py" reference "$CKPT" "$ids" \
            "bf16=$hf-bf16" "fp32=$hf-fp32"
        for dtype in bf16 fp32; do [[ -f $hf-$dtype.f32 ]] && files+=("hf-$dtype=$hf-$dtype"); done
    fi
    if ((${#files[@]} >= 2)); then
        run_step "$stage" "compare-L$layers" 120 "$PY" "$here/compare_logits.py" compare --layers "$layers" "${files[@]}"
    else
        row --stage "$stage" --step "compare-L$layers" kind=step status=not_run "reason=fewer than two logit files" "layers=$layers"
        failures=$((failures + 1))
    fi
    rm -f "$WORK"/logits/*-L"$layers"-*.f32
}

stage_agree_small() { agree 1 agree-small; agree 2 agree-small; }
stage_agree_47() { agree "$BIG" agree-47; }

stage_speed() {
    ckpt "$BIG" || return
    FIELDS=("layers=$BIG")
    if ((smoke)); then
        row --stage speed --step bandwidth kind=step status=not_run "reason=cpu smoke: no GPU"
    else
        run_step speed bandwidth 60 "$PY" "$here/bandwidth.py"
    fi
    FIELDS=("layers=$BIG" "paged=$SPEED_PAGED")
    local began=$SECONDS rc=0
    run_step speed speed "$SPEED_TIMEOUT" "$GLINT" dev speed "$CKPT" --device "$DEV" --paged-attn "$SPEED_PAGED" \
        "${SPEED_ARGS[@]}" --json || rc=$?
    # A load refused at once (the default context, sized by glint, is what this step checks first): measure the
    # rest with a context given, rather than leave the stage's numbers to another lease. Not after a step left
    # out for the budget (3), nor one that ran a while (its measurements are in).
    ((rc != 0 && rc != 3 && SECONDS - began < 60)) || return
    FIELDS=("layers=$BIG" "paged=$SPEED_PAGED" "max_context=$FALLBACK_CONTEXT")
    run_step speed "speed-max-context-$FALLBACK_CONTEXT" "$SPEED_TIMEOUT" "$GLINT" dev speed "$CKPT" --device "$DEV" \
        --paged-attn "$SPEED_PAGED" "${SPEED_ARGS[@]}" --max-context "$FALLBACK_CONTEXT" --json
}

# One glint dev speed run per context, each profiled alone, so the decode is the run's last GPU work and
# kernel_times.py can cut the decode window off its end.
# profiled_run AFTER: sets PROFILED to the run nsys or the CUPTI tracer wraps: 64 decode steps after AFTER tokens.
profiled_run() {
    PROFILED=("$GLINT" dev speed "$CKPT" --device "$DEV" --paged-attn on --prefill 256 --decode-after "$1"
        --decode-tokens 64 --session-turns 0 --max-context $(($1 + 4096)) --json)
}

stage_profile() {
    ckpt "$BIG" || return
    if ((smoke)); then
        row --stage profile --step nsys kind=step status=not_run "reason=no GPU$NOTE"
    elif [[ -z $NSYS && -n $TRACER ]]; then
        for after in 1024 16384; do
            local name=trace-$after
            FIELDS=("layers=$BIG" paged=on "after=$after" profiled=cupti)
            profiled_run "$after"
            run_step profile "$name" 240 env CUDA_INJECTION64_PATH="$TRACER" GLINT_KERNEL_TRACE="$WORK/$name.csv" \
                LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$TRACER_LIBS" "${PROFILED[@]}" || continue
            run_step profile "$name-kernels" 60 "$PY" "$here/kernel_times.py" "$WORK/$name.csv" \
                "$WORK/logs/profile.$name.log"
        done
    elif [[ -z $NSYS ]]; then
        row --stage profile --step nsys kind=step status=not_run \
            "reason=no nsys on this machine and no kernel tracer in $CARRY/cupti (benches/gpu/build-tracer.sh)"
    else
        for after in 1024 16384; do
            local name=nsys-$after
            FIELDS=("layers=$BIG" paged=on "after=$after" profiled=nsys)
            profiled_run "$after"
            run_step profile "$name" 240 "$NSYS" profile --trace=cuda --sample=none --cpuctxsw=none \
                --force-overwrite=true -o "$WORK/$name" "${PROFILED[@]}" || continue
            [[ -f $WORK/$name.nsys-rep ]] || continue
            run_step profile "$name-stats" 120 "$NSYS" stats --report cuda_gpu_trace,cuda_gpu_kern_sum --format csv \
                --force-export=true --output "$WORK/$name" "$WORK/$name.nsys-rep"
            run_step profile "$name-kernels" 60 "$PY" "$here/kernel_times.py" "$WORK/${name}_cuda_gpu_trace.csv" \
                "$WORK/logs/profile.$name.log"
            (($(stat -c %s "$WORK/$name.nsys-rep") < 15 * 1024 * 1024)) && cp "$WORK/$name.nsys-rep" "$OUT/"
        done
    fi
    if ((smoke)) || [[ -z $NCU ]]; then
        row --stage profile --step ncu kind=step status=not_run "reason=no ncu on this machine$NOTE"
        return
    fi
    FIELDS=("layers=$BIG" paged=on after=16384 profiled=ncu)
    run_step profile ncu-mla-16384 180 "$NCU" --csv --kernel-name regex:BatchDecodeWithPagedKVCacheKernelMLA \
        --launch-count 4 --metrics gpu__time_duration.sum,launch__grid_size,launch__block_size,launch__waves_per_multiprocessor,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__throughput.avg.pct_of_peak_sustained_elapsed \
        "$GLINT" dev speed "$CKPT" --device "$DEV" --paged-attn on --prefill 256 --decode-after 16384 \
        --decode-tokens 4 --session-turns 0 --max-context 20480 --json
    grep '^"' "$WORK/logs/profile.ncu-mla-16384.log" >"$WORK/ncu-mla-16384.csv" 2>/dev/null
    run_step profile ncu-mla-16384-rows 30 "$PY" "$here/kernel_times.py" --ncu "$WORK/ncu-mla-16384.csv"
}

# ab_pair STEP VAR CHECKPOINT-ARGS...: the same glint dev speed run with VAR=0 (the engine as 0.8.1 had it)
# and without it (glint's patch on), so each patch's gain is a ratio measured in one run on one device. With
# AB_CACHE set, each run keeps its quantized copies in AB_CACHE/0 and AB_CACHE/default (XDG_CACHE_HOME).
ab_pair() {
    local step=$1 var=$2; shift 2
    local value cache=()
    for value in 0 default; do
        FIELDS=("layers=$CKPT_LAYERS" "paged=$SPEED_PAGED" "switch=$var" "switch_value=$value")
        [[ -n ${AB_CACHE:-} ]] && cache=("XDG_CACHE_HOME=$AB_CACHE/$value")
        switch_side "$var" "$value"
        run_step ab "$step-$SIDE" 240 env "${SETTING[@]}" "${cache[@]}" "$GLINT" dev speed "$CKPT" --device "$DEV" \
            --paged-attn "$SPEED_PAGED" "$@" --json
    done
}

# switch_side VAR VALUE: for one run of a pair, SIDE (off for VALUE 0, on for default) and SETTING, env's
# arguments for it (VAR=0: mistralrs 0.8.1's path; VAR unset: glint's patch).
switch_side() {
    if [[ $2 == 0 ]]; then SIDE=off SETTING=("$1=0"); else SIDE=on SETTING=(-u "$1"); fi
}

# The fused router's logits against the unfused path's, same ids, 2 layers: the router's scores agree to within
# an ulp of the sigmoid, so the two must agree on top-1 wherever the top two are not tied in bf16. On the CPU (the
# smoke run) the switch changes nothing and the files must be equal.
router_logits() {
    ckpt 2 || return
    local ids value files=(); ids=$(ids_file)
    for value in 0 default; do
        switch_side GLINT_FUSED_ROUTER "$value"
        local prefix=$WORK/logits/router-L2-$SIDE
        FIELDS=(layers=2 "paged=$SPEED_PAGED" switch=GLINT_FUSED_ROUTER "switch_value=$value")
        run_step ab "fused-router-logits-$SIDE" 120 env "${SETTING[@]}" "$GLINT" dev logits "$CKPT" --ids "$ids" \
            --out "$prefix" --device "$DEV" --paged-attn "$SPEED_PAGED" && files+=("router-$SIDE=$prefix")
    done
    FIELDS=(layers=2)
    if ((${#files[@]} == 2)); then
        run_step ab fused-router-compare 60 "$PY" "$here/compare_logits.py" compare --layers 2 "${files[@]}"
    else
        row --stage ab --step fused-router-compare kind=step status=not_run "reason=fewer than two logit files" layers=2
        failures=$((failures + 1))
    fi
    rm -f "$WORK"/logits/router-L2-*.f32
}

stage_ab() {
    # Newest first: a call cut short by the budget loses what earlier leases measured already.
    # The fused router (core 0011): a MoE layer's eight routing launches in one. Decode after 1k (where launch
    # overhead is most of a step), then the logits of the same ids with it off and on.
    ckpt "$BIG" || return
    ab_pair fused-router GLINT_FUSED_ROUTER "${ROUTER_RUN[@]}"
    router_logits
    ckpt "$MOE_LAYERS" || return
    # The same runs without --isq: the bf16 decode the 4-bit one is judged against.
    FIELDS=("layers=$MOE_LAYERS" "paged=$SPEED_PAGED" isq=none)
    run_step ab "bf16-L$MOE_LAYERS" 120 "$GLINT" dev speed "$CKPT" --device "$DEV" --paged-attn "$SPEED_PAGED" \
        "${MOE_RUN[@]}" --json
    # glint keeps a quantized copy of an --isq load (~/.cache/glint/quantized) and reads it at the next start:
    # each switch's run quantizes into a cache of its own, so both loads are ISQ loads, and a third run reads
    # the copy the second wrote (the pre-quantized load issue 18 compares with bf16's). Each load row says
    # what happened to the copy (quantized_copy: written, read, or not_written: the tiny CPU smoke checkpoint's
    # layers are too small to quantize, so mistralrs cannot serialize them). Their decode needs core 0010 (on
    # 2026-11-28 every ISQ decode failed at its first step without it).
    local cache=$WORK/quantized-cache
    rm -rf "$cache"
    AB_CACHE=$cache ab_pair moe-kernels GLINT_MOE_KERNELS --isq "$MOE_ISQ" "${MOE_RUN[@]}"
    FIELDS=("layers=$MOE_LAYERS" "paged=$SPEED_PAGED" "switch=quantized copy" switch_value=default)
    run_step ab moe-kernels-on-from-copy 240 env -u GLINT_MOE_KERNELS XDG_CACHE_HOME="$cache/default" "$GLINT" dev speed \
        "$CKPT" --device "$DEV" --paged-attn "$SPEED_PAGED" --isq "$MOE_ISQ" "${MOE_RUN[@]}" --json
    # Split-KV (measured 2026-11-27 and -28) runs only under PagedAttention (the MLA decode kernel); the smoke
    # run has neither, and checks that the switch leaves the CPU path alone.
    ckpt "$BIG" || return
    ab_pair split-kv MISTRALRS_MLA_SPLIT_KV "${AB_DECODE[@]}"
}

# The flash-attn build (benches/gpu/build-cuda.sh with GLINT_CUDA_FEATURES="cuda flash-attn", carried in
# .gpu-carry/flash-attn) against the plain one, the same prefills one after the other in this call: mistralrs
# picks flash-attn at compile time, so the pair is two binaries, not a switch.
stage_flash() {
    local flash_dir=.gpu-carry/flash-attn flash=$WORK/glint-flash-attn
    FIELDS=("layers=$BIG" "paged=$SPEED_PAGED")
    if ((smoke)); then
        row --stage flash --step flash-attn-on kind=step status=not_run "reason=cpu smoke: no flash-attn build" "${FIELDS[@]}"
        return
    fi
    if ! unpack_build "$flash_dir" "$flash"; then
        row --stage flash --step flash-attn-on kind=step status=failed "reason=no usable build in $flash_dir" "${FIELDS[@]}"
        failures=$((failures + 1))
        return
    fi
    ckpt "$BIG" || return
    FIELDS=("layers=$BIG" "paged=$SPEED_PAGED" switch=flash-attn switch_value=0)
    run_step flash flash-attn-off 240 "$GLINT" dev speed "$CKPT" --device "$DEV" --paged-attn "$SPEED_PAGED" \
        "${FLASH_RUN[@]}" --json
    FIELDS=("layers=$BIG" "paged=$SPEED_PAGED" switch=flash-attn switch_value=default)
    run_step flash flash-attn-on 240 "$flash" dev speed "$CKPT" --device "$DEV" --paged-attn "$SPEED_PAGED" \
        "${FLASH_RUN[@]}" --json
}

stage_speed_long() {
    local stage=$1; shift
    ckpt "$BIG" || return
    FIELDS=("layers=$BIG" "paged=$SPEED_PAGED")
    run_step "$stage" speed 590 "$GLINT" dev speed "$CKPT" --device "$DEV" --paged-attn "$SPEED_PAGED" "$@" --json
}

# --- main ---------------------------------------------------------------------------------------------------------
ARGV="device-run.sh${from:+ --from $from}${only:+ --only $only}${budget:+ --budget $budget}$( ((smoke)) && echo ' --cpu-smoke')"
SPEED_TIMEOUT=$( ((smoke)) && echo 300 || echo 420)
FALLBACK_CONTEXT=$( ((smoke)) && echo 8192 || echo 40960)
setup
# --only runs its stages in the order given (a call can put the one it most needs first); --from runs the rest
# of STAGES in priority order.
selected=()
if [[ -n $only ]]; then
    for s in ${only//,/ }; do [[ " ${selected[*]} " == *" $s "* ]] || selected+=("$s"); done
else
    started=0
    for s in "${STAGES[@]}"; do
        [[ -z $from || $s == "$from" ]] && started=1
        ((started)) && selected+=("$s")
    done
fi
for s in "${selected[@]}"; do
    if (($(left) < 30)); then
        say "budget spent: continue with  bash benches/gpu/device-run.sh --from $s"
        row --stage "$s" --step stage kind=stage status=not_run reason=budget "resume=--from $s"
        break
    fi
    say "== stage $s"
    case $s in
        cache) stage_cache ;;
        cache-f32) stage_cache_f32 ;;
        agree-small) stage_agree_small ;;
        agree-47) stage_agree_47 ;;
        speed) stage_speed ;;
        profile) stage_profile ;;
        ab) stage_ab ;;
        flash) stage_flash ;;
        speed-64k) stage_speed_long speed-64k "${SPEED64[@]}" ;;
        speed-128k) stage_speed_long speed-128k "${SPEED128[@]}" ;;
    esac
    if ((budget_cut)); then
        say "budget spent inside stage $s: continue with  bash benches/gpu/device-run.sh --from $s"
        row --stage "$s" --step stage kind=stage status=cut reason=budget "resume=--from $s"
        break
    fi
    row --stage "$s" --step stage kind=stage status=done
done
pack
say "done: $failures step(s) failed or ran out of time; results in $RESULTS"
((failures == 0))
