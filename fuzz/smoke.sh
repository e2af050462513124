#!/usr/bin/env bash
# Build every fuzz target and run each for a fixed number of executions over the committed
# corpus; exit non-zero if any target crashes (a panic, a broken invariant, a timeout).
#
#   fuzz/smoke.sh            # all targets
#   fuzz/smoke.sh exchange   # some targets
#
# Environment:
#   RUNS=N                   executions per target after the corpus is replayed (default 50000)
#   SECS=S                   also stop each target after S seconds (the test command's budget)
#   CARGO_TARGET_DIR=dir     where to build (default fuzz/target)
#   PROXY_FUZZ_SKIP_KNOWN=1  step around the findings of README.md ("Findings"); all are
#                            fixed in core, so by default (0) every one trips its target
#                            again. Their reproducers under fuzz/artifacts-found/ are
#                            replayed and reported either way.
#   NICE=n                   niceness of the build and the runs (default 19)
#   FUZZ_TOOLCHAIN=t         the nightly to build with (default the pinned one below; the
#                            test command installs it)
#
# Needs that nightly and cargo-fuzz (README.md, "Setup").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
runs=${RUNS:-50000}
limit=()
[ -n "${SECS:-}" ] && limit=(-max_total_time="$SECS")
nice_level=${NICE:-19}
target_dir=${CARGO_TARGET_DIR:-$here/target}
export PROXY_FUZZ_SKIP_KNOWN=${PROXY_FUZZ_SKIP_KNOWN:-0}
# Pinned: a newer nightly may not build the pinned cargo-fuzz or libfuzzer-sys.
toolchain=${FUZZ_TOOLCHAIN:-nightly-2026-05-20}

all=(sse_decoder convert_request convert_chat openai_inbound codex_stream chat_stream exchange
     signature jwt_claims import claude_settings config_toml continuation)
if [ $# -eq 0 ]; then targets=("${all[@]}"); else targets=("$@"); fi

start=$(date +%s)
echo "== build (nightly, cargo-fuzz, no sanitizer) into $target_dir"
build() {
    (cd "$root" && CARGO_TARGET_DIR="$target_dir" nice -n "$nice_level" \
        cargo "+$toolchain" fuzz build --sanitizer none --target-dir "$target_dir" "$@")
}
if [ $# -eq 0 ]; then
    build
else
    for t in "${targets[@]}"; do build "$t"; done
fi
built=$(date +%s)
bin="$target_dir/x86_64-unknown-linux-gnu/release"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
echo "== run: $runs executions per target after the corpus (PROXY_FUZZ_SKIP_KNOWN=$PROXY_FUZZ_SKIP_KNOWN)"
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t/new" "$scratch/$t/artifacts"
    dict=()
    [ -f "$here/dicts/$t.dict" ] && dict=(-dict="$here/dicts/$t.dict")
    t0=$(date +%s)
    if (cd "$scratch/$t" && nice -n "$nice_level" "$bin/$t" "$scratch/$t/new" "$here/corpus/$t" \
            -runs="$runs" "${limit[@]}" -seed=1 -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$scratch/$t/artifacts/" "${dict[@]}" > "$scratch/$t/log" 2>&1); then
        echo "ok    $t ($(( $(date +%s) - t0 )) s)"
    else
        echo "CRASH $t ($(( $(date +%s) - t0 )) s)"
        grep -m1 -A2 -E "panicked|ERROR: libFuzzer" "$scratch/$t/log" | sed 's/^/      /' || true
        mkdir -p "$here/artifacts/$t"
        cp "$scratch/$t/artifacts/"* "$here/artifacts/$t/" 2>/dev/null || true
        echo "      reproducer(s) copied to fuzz/artifacts/$t/"
        failed+=("$t")
    fi
done

# The known findings: report whether each still reproduces (informational).
if [ -d "$here/artifacts-found" ]; then
    echo "== known findings (fuzz/artifacts-found, replayed with PROXY_FUZZ_SKIP_KNOWN=0)"
    for dir in "$here"/artifacts-found/*/; do
        t=$(basename "$dir")
        [ -x "$bin/$t" ] || continue
        for f in "$dir"*; do
            case "$f" in *.scenario.json|*.md) continue ;; esac
            if PROXY_FUZZ_SKIP_KNOWN=0 "$bin/$t" "$f" > /dev/null 2>&1; then
                echo "fixed $t/$(basename "$f")"
            else
                echo "open  $t/$(basename "$f")"
            fi
        done
    done
fi

end=$(date +%s)
echo "== build $(( built - start )) s, runs $(( end - built )) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all ${#targets[@]} targets passed"
