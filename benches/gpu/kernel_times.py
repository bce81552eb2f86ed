"""Kernel time by name from an nsys GPU trace (issue 17, device item 4), as JSON lines for results.jsonl.

  kernel_times.py TRACE_CSV SPEED_JSONL [--top N]
  kernel_times.py --ncu NCU_CSV
TRACE_CSV is `nsys stats --report cuda_gpu_trace --format csv` of a `glint dev speed` run that measured one decode
(`--decode-after N --decode-tokens T`) as its last GPU work; SPEED_JSONL is that run's --json output. The decode
window is the last T / tokens_per_s seconds of GPU activity, so the prefill and the load are left out. Prints one
line for the whole run and one for the decode window: per kernel name its calls, total ms, ms per decode step,
share of the window's kernel time and its most common grid and block (a decode attention kernel launched on a
handful of blocks, whatever the context, cannot fill the GPU's 132 SMs). With --ncu: one line holding each
kernel launch that `ncu --csv --metrics ...` measured (name, grid, block and every metric). Plain Python."""
import collections
import csv
import json
import sys

NAME_LIMIT = 200


def column(header, *prefixes):
    for prefix in prefixes:
        for index, name in enumerate(header):
            if name.strip().lower().startswith(prefix.lower()):
                return index
    raise SystemExit(f"kernel_times.py: the trace has no column {prefixes[0]!r} (columns: {header})")


def read_trace(path):
    with open(path, newline="", encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    # nsys prints notes before the CSV header on some versions: start at the header row.
    start = next((i for i, line in enumerate(lines) if "Duration" in line and "Name" in line), None)
    if start is None:
        raise SystemExit(f"kernel_times.py: {path} holds no GPU trace table")
    rows = list(csv.reader(lines[start:]))
    header, body = rows[0], rows[1:]
    at, duration, name = column(header, "Start"), column(header, "Duration"), column(header, "Name")
    grid = [column(header, g) for g in ("GrdX", "GrdY", "GrdZ")] if "GrdX" in header else None
    block = [column(header, b) for b in ("BlkX", "BlkY", "BlkZ")] if "BlkX" in header else None
    kernels = []
    for row in body:
        if len(row) <= max(at, duration, name):
            continue
        label = row[name]
        if label.startswith("[CUDA mem"):  # copies and memsets are not kernels
            continue
        try:
            begin, length = float(row[at]), float(row[duration])
        except ValueError:
            continue
        shape = lambda cols: "x".join(row[c] for c in cols) if cols else ""
        kernels.append((begin, length, label[:NAME_LIMIT], shape(grid), shape(block)))
    return kernels


def summary(kernels, steps):
    by_name = collections.defaultdict(lambda: [0, 0.0, collections.Counter(), collections.Counter()])
    for _, length, label, grid, block in kernels:
        entry = by_name[label]
        entry[0] += 1
        entry[1] += length
        entry[2][grid] += 1
        entry[3][block] += 1
    total = sum(entry[1] for entry in by_name.values())
    rows = []
    for label, (calls, ns, grids, blocks) in sorted(by_name.items(), key=lambda item: -item[1][1]):
        row = {"name": label, "calls": calls, "total_ms": round(ns / 1e6, 3),
               "share": round(ns / total, 4) if total else None,
               "grid": grids.most_common(1)[0][0], "block": blocks.most_common(1)[0][0]}
        if steps:
            row["ms_per_step"] = round(ns / 1e6 / steps, 4)
        rows.append(row)
    return total, rows


def ncu_launches(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.reader(f) if row]
    if not rows or "Metric Name" not in rows[0]:
        raise SystemExit(f"kernel_times.py: {path} holds no ncu --csv table")
    header = rows[0]
    field = {name: header.index(name) for name in header}
    launches = {}
    for row in rows[1:]:
        if len(row) != len(header):
            continue
        launch = launches.setdefault(row[field["ID"]], {
            "kernel": row[field["Kernel Name"]][:NAME_LIMIT],
            "grid": row[field["Grid Size"]] if "Grid Size" in field else None,
            "block": row[field["Block Size"]] if "Block Size" in field else None, "metrics": {}})
        unit = row[field["Metric Unit"]] if "Metric Unit" in field else ""
        launch["metrics"][row[field["Metric Name"]]] = f"{row[field['Metric Value']]} {unit}".strip()
    return list(launches.values())


def main(argv):
    if len(argv) == 2 and argv[0] == "--ncu":
        launches = ncu_launches(argv[1])
        if not launches:
            raise SystemExit("kernel_times.py: ncu measured no launch (did the kernel name match?)")
        print(json.dumps({"kind": "ncu", "launches": launches}), flush=True)
        return
    if len(argv) < 2:
        raise SystemExit(__doc__)
    top = int(argv[argv.index("--top") + 1]) if "--top" in argv else 25
    kernels = sorted(read_trace(argv[0]))
    decode = None
    with open(argv[1], encoding="utf-8") as f:
        for line in f:
            if line.startswith("{"):
                row = json.loads(line)
                if row.get("kind") == "decode":
                    decode = row
    if not kernels:
        raise SystemExit("kernel_times.py: the trace holds no kernel")
    total, rows = summary(kernels, None)
    print(json.dumps({"kind": "kernels", "window": "whole_run", "kernel_ms": round(total / 1e6, 2),
                      "kernels": len(kernels), "top": rows[:top]}), flush=True)
    if decode is None or not decode.get("tokens_per_s"):
        raise SystemExit("kernel_times.py: the speed output holds no decode line: no decode window")
    steps = decode["tokens"]
    window_ns = steps / decode["tokens_per_s"] * 1e9
    last_end = max(begin + length for begin, length, *_ in kernels)
    inside = [k for k in kernels if k[0] >= last_end - window_ns]
    total, rows = summary(inside, steps)
    print(json.dumps({"kind": "kernels", "window": "decode", "after": decode.get("after"), "steps": steps,
                      "window_ms": round(window_ns / 1e6, 2), "kernel_ms": round(total / 1e6, 2),
                      "gpu_busy": round(total / window_ns, 4), "kernels": len(inside),
                      "top": rows[:top]}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
