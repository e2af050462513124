#!/usr/bin/env bash
# Fold new fuzzer units into the committed corpus, keeping it small:
#
#   fuzz/minimize.sh DIR          # DIR/<target>/ holds the units a fuzzing run found
#
# Per target: the `seed-*` files (from seed.py) stay as they are; units of at most MAX_UNIT
# bytes from DIR/<target> and the current non-seed corpus are merged in (libFuzzer
# -set_cover_merge: only units that add coverage features), then the largest non-seed units
# are dropped until they take at most BUDGET bytes. Built binaries are expected in
# $CARGO_TARGET_DIR (default fuzz/target); run fuzz/smoke.sh or `cargo fuzz build` first.
#
# Environment: MAX_UNIT (default 1024), BUDGET (default 122880), NICE (default 19).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
found=${1:?usage: minimize.sh DIR-with-<target>-subdirectories}
max_unit=${MAX_UNIT:-1024}
budget=${BUDGET:-122880}
nice_level=${NICE:-19}
bin="${CARGO_TARGET_DIR:-$here/target}/x86_64-unknown-linux-gnu/release"
export PROXY_FUZZ_SKIP_KNOWN=1

for dir in "$here"/corpus/*/; do
    t=$(basename "$dir")
    [ -x "$bin/$t" ] || { echo "skip $t (not built)"; continue; }
    work=$(mktemp -d)
    mkdir -p "$work/out" "$work/in"
    cp "$dir"seed-* "$work/out/" 2>/dev/null || true
    for src in "$dir" "$found/$t"; do
        [ -d "$src" ] || continue
        find "$src" -maxdepth 1 -type f ! -name 'seed-*' -size -"$((max_unit + 1))"c \
            -exec cp -t "$work/in/" {} +
    done
    (cd "$work" && nice -n "$nice_level" "$bin/$t" -set_cover_merge=1 -timeout=10 \
        "$work/out" "$work/in" > "$work/merge.log" 2>&1) || {
        echo "merge failed for $t:"; tail -5 "$work/merge.log"; rm -rf "$work"; exit 1; }
    # Trim the non-seed units to the budget, largest first.
    total=0
    while read -r size f; do
        if [ $((total + size)) -le "$budget" ]; then
            total=$((total + size))
        else
            rm -f "$f"
        fi
    done < <(find "$work/out" -type f ! -name 'seed-*' -printf '%s %p\n' | sort -n)
    rm -rf "$dir"
    mv "$work/out" "$dir"
    rm -rf "$work"
    n=$(ls "$dir" | wc -l)
    bytes=$(cat "$dir"* | wc -c)
    echo "$t: $n files, $bytes bytes"
done
echo "total: $(cat "$here"/corpus/*/* | wc -c) bytes"
