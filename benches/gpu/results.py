"""Appends rows to the device run's results.jsonl, one JSON object a line, flushed as each is known, so a run cut
short keeps everything measured before the cut. Used by device-run.sh; plain Python, no third-party package.

  results.py tag FILE --stage S --step T [--log LOG] [K=V ...]
      stdin's JSON-object lines (a glint --json command's output) each get stage, step, t and the K=V fields and
      are appended to FILE; other lines go to LOG (or stderr).
  results.py row FILE --stage S --step T [K=V ...]
      appends one row; V is read as JSON where it parses (numbers, true, null, lists), else kept as a string.
  results.py checkpoint FILE DIR --stage S --step T [K=V ...]
      appends a row describing the checkpoint in DIR: layers, bytes on disk, and the bytes one decode step reads
      at bf16 (the active weights: attention and dense or shared + routed top-k experts per layer, lm_head) and
      the KV-cache bytes per token of context (MLA caches kv_lora_rank + qk_rope_head_dim values per layer).
"""
import json
import os
import sys
import time

# Seconds since the run began: device-run.sh exports its start so every helper's rows share one clock.
START = float(os.environ.get("GLINT_RUN_START", time.time()))


def parse_fields(pairs):
    fields = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"results.py: expected K=V, got {pair!r}")
        try:
            fields[key] = json.loads(value)
        except json.JSONDecodeError:
            fields[key] = value
    return fields


def append(path, row):
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row, sort_keys=False) + "\n")


def stamped(stage, step, fields, row):
    head = {"stage": stage, "step": step, "t": round(time.time() - START, 1)}
    head.update(fields)
    head.update(row)
    return head


def tag(path, stage, step, log, fields):
    sink = open(log, "a", encoding="utf-8") if log else sys.stderr
    for line in sys.stdin:
        text = line.strip()
        row = None
        if text.startswith("{"):
            try:
                row = json.loads(text)
            except json.JSONDecodeError:
                row = None
        if isinstance(row, dict):
            append(path, stamped(stage, step, fields, row))
        if log or row is None:
            sink.write(line)
            sink.flush()


def active_bytes(config, dtype_bytes=2):
    """Bytes one decode step reads for weights, and KV-cache bytes per token of context, from a GLM-4.7-Flash
    (glm4_moe_lite) config: every layer's attention, the dense MLP of the first first_k_dense_replace layers,
    the gate, shared experts and num_experts_per_tok routed experts of the others, and lm_head."""
    h = config["hidden_size"]
    heads = config["num_attention_heads"]
    q_rank, kv_rank = config["q_lora_rank"], config["kv_lora_rank"]
    nope, rope, v = config["qk_nope_head_dim"], config["qk_rope_head_dim"], config["v_head_dim"]
    attention = (q_rank * h + heads * (nope + rope) * q_rank + (kv_rank + rope) * h
                 + heads * (nope + v) * kv_rank + h * heads * v)
    dense_mlp = 3 * config["intermediate_size"] * h
    expert = 3 * config["moe_intermediate_size"] * h
    moe = (config["n_routed_experts"] * h + config.get("n_shared_experts", 1) * expert
           + config["num_experts_per_tok"] * expert)
    layers = config["num_hidden_layers"]
    dense_layers = min(config.get("first_k_dense_replace", 1), layers)
    params = layers * attention + dense_layers * dense_mlp + (layers - dense_layers) * moe
    params += config["vocab_size"] * h  # lm_head (the embedding reads one row)
    kv_per_token = layers * (kv_rank + rope) * dtype_bytes
    return params * dtype_bytes, kv_per_token


def checkpoint(path, directory, stage, step, fields):
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    on_disk = sum(os.path.getsize(os.path.join(directory, name)) for name in os.listdir(directory)
                  if name.endswith(".safetensors"))
    row = {"kind": "checkpoint", "dir": directory, "layers": config["num_hidden_layers"],
           "hidden_size": config["hidden_size"], "bytes": on_disk}
    try:
        weights, kv = active_bytes(config)
        row.update({"active_weight_bytes_per_token": weights, "kv_bytes_per_context_token": kv})
    except KeyError as missing:
        row["note"] = f"no active-bytes estimate: config lacks {missing}"
    append(path, stamped(stage, step, fields, row))


def main(argv):
    if len(argv) < 2 or argv[0] not in ("tag", "row", "checkpoint"):
        raise SystemExit(__doc__)
    command, path, rest = argv[0], argv[1], argv[2:]
    directory = None
    if command == "checkpoint":
        if not rest:
            raise SystemExit("results.py checkpoint FILE DIR ...")
        directory, rest = rest[0], rest[1:]
    options = {"--stage": None, "--step": None, "--log": None}
    pairs = []
    i = 0
    while i < len(rest):
        if rest[i] in options and i + 1 < len(rest):
            options[rest[i]] = rest[i + 1]
            i += 2
        else:
            pairs.append(rest[i])
            i += 1
    if options["--stage"] is None or options["--step"] is None:
        raise SystemExit("results.py: --stage and --step are required")
    fields = parse_fields(pairs)
    if command == "tag":
        tag(path, options["--stage"], options["--step"], options["--log"], fields)
    elif command == "row":
        append(path, stamped(options["--stage"], options["--step"], fields, {}))
    else:
        checkpoint(path, directory, options["--stage"], options["--step"], fields)


if __name__ == "__main__":
    main(sys.argv[1:])
