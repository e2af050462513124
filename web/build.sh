#!/usr/bin/env bash
# Builds the browser playground's converter (the core compiled to wasm32-unknown-unknown and
# wrapped by wasm-bindgen, `--target web`) into web/pkg. The binary has the same build inside
# (host/build.rs); this copy is for `web_dir` / CCP_WEB_DIR, which serves it instead.
# Usage: bash web/build.sh [out-dir]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/web/pkg}"
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen 0.2.130" ]; then
  cargo install wasm-bindgen-cli --version 0.2.130
fi
cargo build --manifest-path "$root/Cargo.toml" -p proxy-web --target wasm32-unknown-unknown --release
target="$(cargo metadata --manifest-path "$root/Cargo.toml" --format-version 1 --no-deps \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
wasm-bindgen --target web --no-typescript --out-dir "$out" \
  "$target/wasm32-unknown-unknown/release/proxy_web.wasm"
echo "playground converter written to $out"
