"""Teacher-forced agreement between glint and transformers on the same token ids (issue 17, device item 2).

  compare_logits.py reference DIR IDS_FILE DTYPE=PREFIX [DTYPE=PREFIX ...]
      runs transformers (DTYPE bf16 or fp32) on the checkpoint in DIR over the ids once, and writes PREFIX.f32
      (positions x vocab, little-endian f32; row i = logits after ids[0..=i]) and PREFIX.json
      ({"positions","vocab","ids","argmax"}; argmax as torch.argmax picks it: the FIRST maximum), the format of
      `glint dev logits`. A dtype whose weights cannot fit in the GPU's free memory is reported as not run.
      Each dtype runs in a process of its own (so the next finds the memory free). Prints one JSON line per dtype. Needs PyTorch, transformers (glm4_moe_lite) and a CUDA device.
  compare_logits.py compare [--layers L] [--jobs N] LABEL=PREFIX LABEL=PREFIX [...]
      compares every pair of the given logit files position by position and prints one JSON line per file
      ("logits_file": which tie convention its argmax follows) and per pair ("agreement"). Plain Python.

Per pair: top1_agree (both rows' first maximum, one convention for all), top1_agree_greedy (each file's own
argmax list: glint's greedy sampler keeps the LAST maximum, torch the first; they differ only on tied rows, which
bf16's coarse logits make common), top5_overlap (|top5 A n top5 B| / 5, mean over positions), max_abs_diff
(largest |A - B| over every position and id) and mean_row_max_abs_diff, and at each position where top-1 differs
the top-1/top-2 gap of each side (a gap within bf16's rounding means the disagreement is noise, not a bug).
Known differences, from the issue: greedy argmax ties (above); the router weight rounded to bf16 in mistralrs
(transformers keeps it fp32); the q/kv low-rank RMSNorm eps (1e-5 vs 1e-6). They show as systematic max_abs_diff
against transformers fp32 that bf16 alone does not explain (compare the hf-bf16/hf-fp32 pair).
"""
import array
import heapq
import json
import mmap
import operator
import os
import subprocess
import sys
import time
from multiprocessing import Pool

TOP_K = 5
MAX_LISTED = 16

# --- reference (transformers) ----------------------------------------------------------------------------------


def reference(directory, ids_file, dtype_name, prefix):
    import torch
    from transformers import AutoModelForCausalLM

    ids = [int(x) for x in open(ids_file, encoding="utf-8").read().replace(",", " ").split()]
    on_disk = sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory)
                  if n.endswith(".safetensors"))
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}.get(dtype_name)
    if dtype is None:
        raise SystemExit(f"compare_logits.py: dtype {dtype_name!r} is not bf16 or fp32")
    # The checkpoint is bf16 on disk: fp32 doubles it. Leave 4 GiB for activations and the CUDA context.
    need = on_disk * (2 if dtype is torch.float32 else 1) + 4 * 2**30
    free, total = torch.cuda.mem_get_info()
    row = {"kind": "reference", "dtype": dtype_name, "positions": len(ids)}
    if need > free:
        row.update({"status": "not_run", "reason": f"needs ~{need / 2**30:.1f} GiB, "
                    f"{free / 2**30:.1f} of {total / 2**30:.1f} GiB free"})
        print(json.dumps(row), flush=True)
        return
    started = time.time()
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype, device_map="cuda").eval()
    loaded = time.time()
    with torch.no_grad():
        logits = model(torch.tensor([ids], device="cuda")).logits[0].float()
    torch.cuda.synchronize()
    forward = time.time()
    argmax = logits.argmax(dim=-1).tolist()
    logits.cpu().numpy().astype("<f4").tofile(prefix + ".f32")
    with open(prefix + ".json", "w", encoding="utf-8") as f:
        json.dump({"positions": logits.shape[0], "vocab": logits.shape[1], "ids": ids, "argmax": argmax}, f)
    row.update({"status": "ok", "vocab": logits.shape[1], "load_seconds": round(loaded - started, 2),
                "forward_seconds": round(forward - loaded, 3), "transformers_dtype": str(dtype)})
    print(json.dumps(row), flush=True)


# --- comparison (plain Python, one position per task) ------------------------------------------------------------

FILES = []  # per worker: (label, mmap, vocab)


def open_files(specs):
    for label, prefix, vocab in specs:
        with open(prefix + ".f32", "rb") as f:
            FILES.append((label, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), vocab))


def read_row(index, position):
    _, data, vocab = FILES[index]
    row = array.array("f")
    row.frombytes(data[position * vocab * 4:(position + 1) * vocab * 4])
    if sys.byteorder != "little":
        row.byteswap()
    return row


def row_summary(row):
    """First and last index of the maximum, the top-k ids (value descending, then id ascending) and the gap
    between the largest and second-largest value (0 on a tie)."""
    best = max(row)
    first = row.index(best)
    ties = row.count(best)
    last = first if ties == 1 else len(row) - 1 - row[::-1].index(best)
    largest = heapq.nlargest(TOP_K, row)
    threshold = largest[-1]
    candidates = [i for i, v in enumerate(row) if v >= threshold]
    candidates.sort(key=lambda i: (-row[i], i))
    gap = 0.0 if ties > 1 else best - largest[1]
    finite = best == best and abs(best) != float("inf")
    return {"first": first, "last": last, "ties": ties, "top": candidates[:TOP_K], "gap": gap, "finite": finite}


def position_task(position):
    rows = [read_row(i, position) for i in range(len(FILES))]
    summaries = [row_summary(r) for r in rows]
    diffs = {}
    for a in range(len(rows)):
        for b in range(a + 1, len(rows)):
            diffs[(a, b)] = max(map(abs, map(operator.sub, rows[a], rows[b])))
    return position, summaries, diffs


def load_meta(prefix):
    with open(prefix + ".json", encoding="utf-8") as f:
        meta = json.load(f)
    size = os.path.getsize(prefix + ".f32")
    if meta["positions"] * meta["vocab"] * 4 != size:
        raise SystemExit(f"compare_logits.py: {prefix}.f32 holds {size} bytes, not positions x vocab x 4 "
                         f"({meta['positions']} x {meta['vocab']} x 4)")
    return meta


def compare(specs, layers, jobs):
    metas = [load_meta(prefix) for _, prefix in specs]
    vocab = {m["vocab"] for m in metas}
    if len(vocab) != 1:
        raise SystemExit(f"compare_logits.py: the files' vocab sizes differ: {sorted(vocab)}")
    ids = [m["ids"] for m in metas]
    positions = min(m["positions"] for m in metas)
    common = next(iter(vocab))
    for label_ids in ids[1:]:
        if label_ids[:positions] != ids[0][:positions]:
            raise SystemExit("compare_logits.py: the files were made from different token ids")
    open_specs = [(label, prefix, common) for label, prefix in specs]
    with Pool(jobs, initializer=open_files, initargs=(open_specs,)) as pool:
        results = sorted(pool.imap_unordered(position_task, range(positions), chunksize=1))
    head = {"layers": layers} if layers is not None else {}
    for index, ((label, _), meta) in enumerate(zip(specs, metas)):
        rows = [summaries[index] for _, summaries, _ in results]
        argmax = meta.get("argmax", [])[:positions]
        tied = [p for p, r in enumerate(rows) if r["ties"] > 1]
        line = dict(head, kind="logits_file", label=label, positions=positions, vocab=common,
                    tied_top1_rows=len(tied), non_finite_rows=sum(1 for r in rows if not r["finite"]))
        if len(argmax) == positions:
            line["argmax_is_first_max"] = sum(1 for a, r in zip(argmax, rows) if a == r["first"])
            line["argmax_is_last_max"] = sum(1 for a, r in zip(argmax, rows) if a == r["last"])
            line["argmax_on_tied_rows"] = [
                {"position": p, "argmax": argmax[p], "first": rows[p]["first"], "last": rows[p]["last"]}
                for p in tied[:MAX_LISTED]]
        print(json.dumps(line), flush=True)
    for a in range(len(specs)):
        for b in range(a + 1, len(specs)):
            print(json.dumps(dict(head, **pair_line(a, b, specs, metas, results, positions))), flush=True)


def pair_line(a, b, specs, metas, results, positions):
    agree = agree_greedy = overlap = 0
    row_max = []
    differing = []
    greedy_a = metas[a].get("argmax", [])
    greedy_b = metas[b].get("argmax", [])
    for position, summaries, diffs in results:
        sa, sb = summaries[a], summaries[b]
        row_max.append(diffs[(a, b)])
        overlap += len(set(sa["top"]) & set(sb["top"])) / TOP_K
        if sa["first"] == sb["first"]:
            agree += 1
        else:
            differing.append({"position": position, "a_top1": sa["first"], "b_top1": sb["first"],
                              "a_gap": sa["gap"], "b_gap": sb["gap"]})
        if position < len(greedy_a) and position < len(greedy_b) and greedy_a[position] == greedy_b[position]:
            agree_greedy += 1
    finite = [d for d in row_max if d == d]
    line = {"kind": "agreement", "a": specs[a][0], "b": specs[b][0], "positions": positions,
            "top1_agree": agree, "top1_agree_frac": round(agree / positions, 4) if positions else None,
            "top1_agree_greedy": agree_greedy,
            "top5_overlap": round(overlap / positions, 4) if positions else None,
            "max_abs_diff": max(finite) if finite else None,
            "max_abs_diff_position": row_max.index(max(finite)) if finite else None,
            "mean_row_max_abs_diff": sum(finite) / len(finite) if finite else None,
            "non_finite_diff_rows": len(row_max) - len(finite),
            "top1_differs_at": differing[:MAX_LISTED],
            "max_gap_where_top1_differs": max((max(d["a_gap"], d["b_gap"]) for d in differing), default=None)}
    return line


def main(argv):
    if not argv or argv[0] not in ("reference", "compare"):
        raise SystemExit(__doc__)
    if argv[0] == "reference":
        if len(argv) < 4:
            raise SystemExit("usage: compare_logits.py reference DIR IDS_FILE DTYPE=PREFIX [...]")
        outputs = [tuple(spec.split("=", 1)) for spec in argv[3:]]
        if any(len(o) != 2 for o in outputs):
            raise SystemExit("compare_logits.py: outputs are DTYPE=PREFIX")
        if len(outputs) == 1:
            reference(argv[1], argv[2], *outputs[0])
            return
        # One process per dtype: in one process transformers kept the bf16 model's memory even after
        # del + gc.collect() + empty_cache(), so the fp32 load that followed found 83 of 140 GiB free beside the
        # 47-layer bf16 copy (H200, 2026-11-27 and again 2026-11-28). A process's exit returns all of it.
        failed = 0
        for dtype_name, prefix in outputs:
            child = subprocess.run([sys.executable, os.path.abspath(__file__), "reference", argv[1], argv[2],
                                    f"{dtype_name}={prefix}"])
            failed += child.returncode != 0
        if failed:
            raise SystemExit(f"compare_logits.py: {failed} of {len(outputs)} reference runs failed")
        return
    layers, jobs, specs = None, os.cpu_count() or 1, []
    rest = argv[1:]
    while rest:
        if rest[0] == "--layers" and len(rest) > 1:
            layers, rest = int(rest[1]), rest[2:]
        elif rest[0] == "--jobs" and len(rest) > 1:
            jobs, rest = max(1, int(rest[1])), rest[2:]
        else:
            label, sep, prefix = rest[0].partition("=")
            if not sep:
                raise SystemExit(f"compare_logits.py: expected LABEL=PREFIX, got {rest[0]!r}")
            specs.append((label, prefix))
            rest = rest[1:]
    if len(specs) < 2:
        raise SystemExit("compare_logits.py compare: give at least two LABEL=PREFIX files")
    compare(specs, layers, jobs)


if __name__ == "__main__":
    main(sys.argv[1:])
