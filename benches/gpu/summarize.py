"""Turns device-run.sh's results.jsonl files (one per device call; give them in the order they ran) into the
Markdown for BENCHMARKS.md: the device, date and commands, then one table per issue-17 item that ran, and the
steps that did not run or failed, listed as still to run. Plain Python.

Usage: summarize.py RESULTS.jsonl [RESULTS.jsonl ...] > section.md"""
import json
import sys


def load(paths):
    rows = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise SystemExit(f"summarize.py: {path}:{number}: not JSON ({error})")
    return rows


def fmt(value, digits=3):
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(header, rows):
    cell = lambda value: fmt(value).replace("|", "\\|")
    out = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def of(rows, stage=None, kind=None):
    return [r for r in rows if (stage is None or r.get("stage") == stage) and (kind is None or r.get("kind") == kind)]


def header_lines(rows):
    lines = []
    for device in of(rows, "setup", "device"):
        build = device.get("build") if isinstance(device.get("build"), dict) else {}
        built = ""
        if build:
            built = (f"; glint {str(build.get('commit', '?'))[:10]} built with `--features {build.get('features')}` "
                     f"(sm_90a, {fmt(build.get('packed_bytes'))} bytes packed)")
        lines.append(f"- {device.get('date')}, {device.get('gpu')}{built}: `bash benches/gpu/{device.get('argv')}`")
    for ck in of(rows, "setup", "checkpoint"):
        lines.append(f"- checkpoint {ck.get('layers')} layers (hidden {ck.get('hidden_size')}): "
                     f"{ck.get('bytes', 0) / 2**30:.2f} GiB; one decode step reads "
                     f"{fmt(ck.get('active_weight_bytes_per_token'))} weight bytes + "
                     f"{fmt(ck.get('kv_bytes_per_context_token'))} KV bytes per token of context")
    return lines


def cache_lines(rows):
    cache = [r for r in rows if r.get("stage") in ("cache", "cache-f32") and r.get("kind") not in ("step", "stage")]
    if not cache:
        return []
    lines = ["", "### 1. Cached turns against cold prefills (`glint dev cache-check`)", ""]
    # One row per run: PagedAttention on or off, and the precision (`--dtype f32` rows carry dtype=f32).
    by_run = {}
    for r in cache:
        by_run.setdefault((r.get("paged"), r.get("dtype", "auto")), []).append(r)
    body = []
    others = []
    def finite(r):
        d = r.get("max_abs_logit_diff")
        return d if isinstance(d, (int, float)) and d == d else float("inf")

    for (paged, dtype), group in by_run.items():
        rows_ = [r for r in group if "turn" in r and "max_abs_logit_diff" in r]
        # The split-prefill rows are the noise the turns and probes are judged against (cache-check's verdict
        # leaves them out too).
        noise = [r for r in rows_ if r.get("kind") == "split_prefill"]
        turns = [r for r in rows_ if r.get("kind") != "split_prefill"]
        if turns:
            worst = max(turns, key=finite)
            above = [r for r in turns if finite(r) > 0.1]
            body.append([paged, dtype, len(turns), f"{len(turns) - len(above)}/{len(turns)}",
                         f"{sum(1 for r in turns if r.get('first_divergence') is None)}/{len(turns)}",
                         finite(worst), ", ".join(str(r.get("turn")) for r in above) or "none",
                         len(noise), f"{sum(1 for r in noise if finite(r) > 0.1)}/{len(noise)}",
                         max(map(finite, noise)) if noise else None,
                         f"{sum(1 for r in noise if r.get('first_divergence') is not None)}/{len(noise)}",
                         turns[-1].get("ttft_ms")])
        others += [r for r in group if r not in rows_]
    if body:
        lines += table(["paged", "dtype", "turns and probes", "logits within 0.1", "greedy equal", "max |Δlogit|",
                        "turns above 0.1", "noise rows", "noise above 0.1", "noise max |Δlogit|",
                        "noise greedy parted", "ttft_ms (last)"], body)
    for r in others:
        shown = {k: v for k, v in r.items() if k not in ("stage", "t")}
        lines.append(f"- {json.dumps(shown)}")
    return lines


def agree_lines(rows):
    pairs = [r for r in rows if r.get("kind") == "agreement"]
    refs = [r for r in rows if r.get("kind") == "reference"]
    files = [r for r in rows if r.get("kind") == "logits_file"]
    if not (pairs or refs):
        return []
    lines = ["", "### 2. Teacher-forced agreement with transformers (`glint dev logits`, `compare_logits.py`)", ""]
    if pairs:
        lines += table(["layers", "A", "B", "positions", "top-1 equal", "greedy equal", "top-5 overlap",
                        "max |Δ|", "mean row max |Δ|", "largest top1-top2 gap where top-1 differs"],
                       [[r.get("layers"), r["a"], r["b"], r["positions"], r["top1_agree"], r["top1_agree_greedy"],
                         r["top5_overlap"], r["max_abs_diff"], r["mean_row_max_abs_diff"],
                         r["max_gap_where_top1_differs"]] for r in pairs])
    for r in files:
        lines.append(f"- {r.get('layers')} layers, {r['label']}: {r['tied_top1_rows']} of {r['positions']} rows "
                     f"have a tied maximum; argmax is the first maximum on {fmt(r.get('argmax_is_first_max'))}, "
                     f"the last on {fmt(r.get('argmax_is_last_max'))}")
    for r in refs:
        if r.get("status") == "ok":
            lines.append(f"- transformers {r.get('layers')} layers {r['dtype']}: load {fmt(r.get('load_seconds'))} s, "
                         f"forward of {r['positions']} positions {fmt(r.get('forward_seconds'))} s")
        else:
            lines.append(f"- transformers {r.get('layers')} layers {r['dtype']}: not run ({r.get('reason')})")
    return lines


def speed_lines(rows):
    speed = [r for r in rows if str(r.get("stage", "")).startswith("speed") and r.get("kind") not in ("step", "stage")]
    if not speed:
        return []
    bandwidth = next((r for r in speed if r.get("kind") == "bandwidth"), None)
    ck = {r.get("layers"): r for r in of(rows, "setup", "checkpoint")}
    lines = ["", "### 3. Speed with the full context (`glint dev speed`)", ""]
    if bandwidth:
        lines.append(f"- copy bandwidth (read + written, torch, same call): {fmt(bandwidth['copy_gb_per_s'])} GB/s")
    for r in speed:
        if r.get("kind") == "load":
            lines.append(f"- load: {fmt(r.get('seconds'))} s ({r.get('stage')})")
        elif r.get("kind") == "session":
            lines.append(f"- turn {r.get('turns')} of a {r.get('turns')}-turn session: time to first token "
                         f"{fmt(r.get('ttft_cached_ms'))} ms cached, {fmt(r.get('ttft_cold_ms'))} ms cold")
        elif r.get("kind") == "error":
            lines.append(f"- error at {r.get('stage')}: {r.get('message')}")
        elif r.get("kind") not in ("prefill", "decode", "bandwidth"):
            lines.append(f"- {json.dumps({k: v for k, v in r.items() if k not in ('t',)})}")
    prefill = [r for r in speed if r.get("kind") == "prefill"]
    if prefill:
        lines += [""] + table(["prefill context", "tokens/s", "seconds"],
                              [[r.get("context"), r.get("tokens_per_s"), r.get("seconds")] for r in prefill])
    decode = [r for r in speed if r.get("kind") == "decode"]
    if decode:
        body = []
        for r in decode:
            model = ck.get(r.get("layers"), {})
            bound = None
            if bandwidth and model.get("active_weight_bytes_per_token"):
                step_bytes = model["active_weight_bytes_per_token"] + (r.get("after") or 0) * model.get("kv_bytes_per_context_token", 0)
                bound = bandwidth["copy_gb_per_s"] * 1e9 / step_bytes
            ratio = r["tokens_per_s"] / bound if bound and r.get("tokens_per_s") else None
            body.append([r.get("after"), r.get("tokens"), r.get("tokens_per_s"), bound,
                         f"{ratio:.1%}" if ratio is not None else None])
        lines += [""] + table(["decode after", "tokens", "tokens/s", "bandwidth bound tokens/s", "of the bound"], body)
    return lines


def profile_lines(rows):
    kernels = [r for r in rows if r.get("kind") == "kernels" and r.get("window") == "decode"]
    ncu = [r for r in rows if r.get("kind") == "ncu"]
    if not (kernels or ncu):
        return []
    lines = ["", "### 4. Decode profile (kernel time by name from nsys or the CUPTI tracer, decode window only)", ""]
    for r in kernels:
        lines.append(f"After {fmt(r.get('after'))} tokens, {r.get('steps')} steps: {fmt(r.get('window_ms'))} ms, "
                     f"kernels busy {fmt(r.get('gpu_busy'))} of it.")
        lines.append("")
        lines += table(["kernel", "calls", "ms/step", "share", "grid", "block"],
                       [[k["name"][:90], k["calls"], k.get("ms_per_step"), k.get("share"),
                         k.get("grid"), k.get("block")] for k in r.get("top", [])[:12]])
        lines.append("")
    for r in ncu:
        for launch in r.get("launches", []):
            metrics = ", ".join(f"{k} {v}" for k, v in launch.get("metrics", {}).items())
            lines.append(f"- ncu after {fmt(r.get('after'))}: `{launch['kernel'][:80]}` grid {launch.get('grid')}, "
                         f"block {launch.get('block')}: {metrics}")
    return lines


def ab_lines(rows):
    """Issue 18's before/after pairs: one switch's runs off (0.8.1's path) and on (glint's patch), same run;
    the flash stage's pair is two binaries (plain and flash-attn builds) in one call."""
    measured = [r for r in rows if r.get("stage") in ("ab", "flash") and r.get("kind") in ("decode", "prefill", "load")]
    if not measured:
        return []
    lines = ["", "### Issue 18: each engine patch off and on, same run (flash-attn: the two builds)", ""]
    body = []
    for switch in dict.fromkeys(r.get("switch") for r in measured):
        for kind in ("load", "prefill", "decode"):
            runs = {str(r.get("switch_value")): {} for r in measured}
            for r in measured:
                if r.get("switch") == switch and r.get("kind") == kind:
                    key = r.get("after") if kind == "decode" else r.get("context")
                    runs[str(r.get("switch_value"))][key] = r
            off, on = runs.get("0", {}), runs.get("default", {})
            for key in sorted(set(off) | set(on), key=lambda k: (k is None, k or 0)):
                metric = "seconds" if kind == "load" else "tokens_per_s"
                before, after = off.get(key, {}).get(metric), on.get(key, {}).get(metric)
                gain = None
                if before and after:
                    gain = before / after if kind == "load" else after / before
                body.append([switch, kind, key, before, after, f"{gain:.2f}x" if gain else None])
    lines += table(["switch", "measure", "context", "off (0.8.1)", "on (patched)", "gain"], body)
    return lines


def missing_lines(rows):
    done = {(r.get("stage"), r.get("step")) for r in rows if r.get("kind") == "step" and r.get("status") == "ok"}
    lines = []
    for r in rows:
        if r.get("kind") == "step" and r.get("status") != "ok" and (r.get("stage"), r.get("step")) not in done:
            why = r.get("reason") or f"{r.get('status')} (rc {r.get('rc')}): {r.get('stderr_tail', '')[:200]}"
            lines.append(f"- {r.get('stage')}/{r.get('step')}: {why}")
        if r.get("kind") == "stage" and r.get("status") in ("not_run", "cut"):
            lines.append(f"- stage {r.get('stage')} and after: not run for the call's time; "
                         f"`bash benches/gpu/device-run.sh {r.get('resume')}`")
    return (["", "### Still to run, or failed", ""] + lines) if lines else []


def main(paths):
    if not paths:
        raise SystemExit(__doc__)
    rows = load(paths)
    lines = ["## GLM-4.7-Flash's real shape on CUDA (issue 17)", ""]
    lines += header_lines(rows)
    for part in (cache_lines, agree_lines, speed_lines, profile_lines, ab_lines, missing_lines):
        lines += part(rows)
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
