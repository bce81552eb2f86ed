#!/usr/bin/env bash
# glint's `grep` tool against ripgrep on the same large tree.
#
#   benches/grep_vs_ripgrep.sh            # 7 timed runs per case (after one warm-up)
#   RUNS=11 benches/grep_vs_ripgrep.sh
#   TREE=/some/big/checkout benches/grep_vs_ripgrep.sh
#   GREP_BENCH=path/to/grep_bench benches/grep_vs_ripgrep.sh   # skip the build
#
# The tree is $(rustc --print sysroot)/lib/rustlib/src when the rust-src
# component is installed, otherwise a generated git repository of 50,000
# text files (plus an ignored build/ directory and a few binary files) under
# ${BENCH_DIR:-/tmp/glint-grep-bench}, made once and reused.
#
# glint runs through examples/grep_bench.rs, which calls the registered grep
# tool exactly as the agent loop does (head_limit 2000): it walks and
# searches the whole tree, sorts the results by path and formats the first
# entries. ripgrep runs with its defaults (parallel, unsorted, printing every
# match to /dev/null) plus --hidden --glob '!.git', which is glint's choice of
# files. Wall-clock times of whole processes, the two tools alternating; median
# of RUNS runs each, warm cache. A pattern that matches nothing in the tree
# (ripgrep's and grep's exit status 1) is reported as "no matches"; any other
# failure of either tool stops the script with its status and message.
set -euo pipefail
# TREE is relative to where the script was started, not to the checkout.
if [[ -n "${TREE:-}" ]]; then
    if [[ ! -d "$TREE" ]]; then
        echo "error: TREE=$TREE is not a directory" >&2
        exit 2
    fi
    TREE="$(cd "$TREE" && pwd)"
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/glint/target}"
RUNS="${RUNS:-7}"
RG="${RG:-rg}"

generate() {
    local dir="$1"
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "generating 50,000 files under $dir ..." >&2
    awk -v root="$dir" '
    function rnd(n) { seed = (seed * 16807) % 2147483647; return seed % n }
    BEGIN {
        seed = 42
        nw = split("alpha beta gamma delta parse config buffer stream token value index node tree " \
                   "cache entry state event queue worker handle error result option layout render " \
                   "window socket packet header length offset count total limit reader writer", w, " ")
        for (d = 0; d < 250; d++) {
            for (s = 0; s < 4; s++) {
                sub_dir = sprintf("%s/mod%03d/part%d", root, d, s)
                system("mkdir -p " sub_dir)
                for (f = 0; f < 50; f++) {
                    file = sprintf("%s/%s_%d.rs", sub_dir, w[rnd(nw) + 1], f)
                    lines = 5 + rnd(150)
                    for (l = 0; l < lines; l++) {
                        r = rnd(1000)
                        a = w[rnd(nw) + 1]; b = w[rnd(nw) + 1]; c = w[rnd(nw) + 1]
                        if (r == 0) line = "    // needle_token: " a " " b
                        else if (r < 4) line = "pub fn " a "_handler(" b ": &" c ") -> Result<(), Error> {"
                        else if (r < 300) line = "    let " a "_" b " = " c "(" rnd(10000) ");"
                        else if (r < 500) line = "    if " a ".len() > " rnd(100) " { return " b "; }"
                        else if (r < 700) line = "    // " a " " b " " c " the " a " of " b
                        else if (r < 850) line = "    self." a "." b "(&mut " c ", " rnd(64) ")?;"
                        else line = "}"
                        print line > file
                    }
                    close(file)
                }
            }
        }
        system("mkdir -p " root "/build")
        for (f = 0; f < 1000; f++) {
            file = sprintf("%s/build/gen_%d.rs", root, f)
            print "// needle_token generated; pub fn gen_handler(x: &u8) -> Result<(), Error> {" > file
            close(file)
        }
    }'
    printf 'build/\n' > "$dir/.gitignore"
    for i in 1 2 3 4 5; do
        printf 'needle_token\0binary pub fn blob_handler(x: &y) -> Result<(), Error> {\n' > "$dir/blob$i.bin"
    done
    git -C "$dir" init -q
    touch "$dir/.complete"
}

if [[ -z "${TREE:-}" ]]; then
    src="$(rustc --print sysroot)/lib/rustlib/src"
    if [[ -d "$src" ]]; then
        TREE="$src"
    else
        TREE="${BENCH_DIR:-/tmp/glint-grep-bench}"
        [[ -f "$TREE/.complete" ]] || generate "$TREE"
    fi
fi

if [[ -n "${GREP_BENCH:-}" ]]; then
    GLINT="$GREP_BENCH"
else
    cargo build --release --quiet --example grep_bench
    GLINT="$CARGO_TARGET_DIR/release/examples/grep_bench"
fi

# Wall-clock milliseconds of one run of "$@".
time_ms() {
    local start end
    start=$(date +%s%N)
    "$@" > /dev/null 2>&1 || true
    end=$(date +%s%N)
    echo $(( (end - start) / 1000000 ))
}

median() {
    printf '%s\n' "$@" | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'
}

files=$(find "$TREE" -type f -not -path '*/.git/*' | wc -l)
rg_version=$("$RG" --version)
rg_version=${rg_version%%$'\n'*}
echo "tree: $TREE ($files files), $(nproc) CPUs, $rg_version, $RUNS runs"
echo
printf '| case | glint ms | rg ms | glint/rg | results (glint / rg) |\n|---|---:|---:|---:|---|\n'

bench() {
    local name="$1" pattern="$2" mode="$3"
    local rg_mode=(-n)
    [[ "$mode" == files_with_matches ]] && rg_mode=(-l)
    [[ "$mode" == count ]] && rg_mode=(-c)
    local rg_cmd=("$RG" --hidden --glob '!.git' "${rg_mode[@]}" -e "$pattern" "$TREE")
    local glint_cmd=("$GLINT" "$TREE" "$pattern" "$mode")
    # Sanity check: both see the same number of matching lines or files.
    # Exit status 1 means "no matches" to ripgrep (and grep): under
    # pipefail it would end the script without a word, so each status is
    # taken apart from the pipeline and judged here.
    local ours theirs status=0
    ours=$(set +o pipefail; "${glint_cmd[@]}" 2>&1 >/dev/null | sed -E 's/.*`: //'; exit "${PIPESTATUS[0]}") || status=$?
    if (( status != 0 )); then
        echo "error: glint's grep failed (exit $status) on case '$name': $ours" >&2
        exit "$status"
    fi
    theirs=$(set +o pipefail; "${rg_cmd[@]}" 2>/dev/null | wc -l; exit "${PIPESTATUS[0]}") || status=$?
    case "$status" in
        0) ;;
        1) theirs="0 (no matches)" ;;
        *)
            echo "error: $RG failed (exit $status) on case '$name':" >&2
            "${rg_cmd[@]}" > /dev/null || true
            exit "$status"
            ;;
    esac
    # One warm-up each, then the two alternate so that background load
    # affects both alike.
    time_ms "${glint_cmd[@]}" > /dev/null
    time_ms "${rg_cmd[@]}" > /dev/null
    local gs=() rs=()
    for _ in $(seq "$RUNS"); do
        gs+=("$(time_ms "${glint_cmd[@]}")")
        rs+=("$(time_ms "${rg_cmd[@]}")")
    done
    local g r
    g=$(median "${gs[@]}")
    r=$(median "${rs[@]}")
    local ratio
    ratio=$(awk -v g="$g" -v r="$r" 'BEGIN { printf "%.2f", (r > 0 ? g / r : 0) }')
    printf '| %s | %s | %s | %s× | %s / %s |\n' "$name" "$g" "$r" "$ratio" "$ours" "$theirs"
}

bench "literal, files_with_matches" 'needle_token' files_with_matches
bench "literal, content" 'needle_token' content
bench "regex, files_with_matches" 'fn [a-z]+_handler\(' files_with_matches
bench "regex, content" 'fn [a-z]+_handler\(' content
bench "frequent literal, content" 'let' content
bench "frequent literal, count" 'let' count
