#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs them.
# Usage: bash tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s ==\n' "$*"; }

step "toolchain targets"
# rust-toolchain.toml names them, but RUSTUP_AUTO_INSTALL may be off: add them explicitly.
rustup target add wasm32-unknown-unknown wasm32-wasip1 >/dev/null
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "browser for the dashboard test (Debian's chromium)"
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

step "real clients (pinned, installed once into tests/clients)"
clients=tests/clients
if [ ! -x "$clients/node_modules/.bin/claude" ] || [ "$clients/package-lock.json" -nt "$clients/node_modules/.installed" ]; then
  (cd "$clients" && npm ci --no-audit --no-fund && touch node_modules/.installed)
fi
# npm may skip Claude Code's postinstall (allowScripts): it only links the native binary.
if ! "$clients/node_modules/.bin/claude" --version >/dev/null 2>&1; then
  (cd "$clients/node_modules/@anthropic-ai/claude-code" && node install.cjs)
fi
if [ ! -x "$clients/.venv/bin/python" ] || [ "$clients/requirements.txt" -nt "$clients/.venv/.installed" ]; then
  python3 -m venv "$clients/.venv"
  "$clients/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$clients/requirements.txt"
  touch "$clients/.venv/.installed"
fi

step "wasm-bindgen CLI (the version pinned in web/Cargo.toml)"
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen 0.2.130" ]; then
  cargo install wasm-bindgen-cli --version 0.2.130
fi

step "worker-build (pinned; builds the edge Worker)"
if [ "$(worker-build --version 2>/dev/null)" != "worker-build 0.8.7" ]; then
  cargo install worker-build --version 0.8.7
fi

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

step "wasm builds of the core (the dashboard's proxy-web build is made by host/build.rs)"
cargo build -p proxy-vector-runner --target wasm32-wasip1 --release

step "the edge Worker (worker-build; run in workerd by host/tests/edge.rs)"
# worker-build would fetch wasm-bindgen from GitHub: give it the pinned CLI installed above.
(cd edge && WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" worker-build --release)

step "tests (native; the vectors also under wasmtime (wasip1) and in Node (wasm-bindgen))"
cargo test --workspace

step "fuzz smoke (every cargo-fuzz target over its committed corpus, then new inputs: 50,000 or 9 s each)"
# The nightly and cargo-fuzz that fuzz/README.md pins (a newer nightly may not build them).
rustup toolchain install nightly-2026-05-20 --profile minimal >/dev/null
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz 0.13.2" ]; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
NICE=0 SECS=9 bash fuzz/smoke.sh
