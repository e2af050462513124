//! Builds the dashboard playground's converter into the binary: the `proxy-web` crate (the
//! core for `wasm32-unknown-unknown`) compiled by a nested cargo, then wrapped by wasm-bindgen
//! used as a library at the pinned version. `cargo build`, `cargo run` and `cargo install
//! --path host` thus ship the playground with no extra command, and it is always the current
//! core (a stale bundle cannot ship: there is no committed one).
//!
//! The nested build uses its own target directory (`<target>/ui-wasm`): the outer cargo holds
//! the lock of the main one. When the wasm target is missing the binary still builds, with a
//! warning; its playground then says what to install.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .parent()
        .expect("host sits in the workspace")
        .to_path_buf();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("ui-wasm");
    for p in [
        "core/src",
        "core/Cargo.toml",
        "web/src",
        "web/Cargo.toml",
        "tests/runner/src",
        "tests/runner/Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=CCP_SKIP_WASM");
    std::fs::create_dir_all(&out).expect("OUT_DIR is writable");
    let result = if std::env::var_os("CCP_SKIP_WASM").is_some() {
        Err("CCP_SKIP_WASM is set".to_owned())
    } else {
        build(&root, &out)
    };
    if let Err(why) = result {
        println!("cargo:warning=the playground's wasm is not built into this binary: {why}");
        // Empty files: the server answers the playground's requests with how to get it.
        for f in ["proxy_web.js", "proxy_web_bg.wasm"] {
            std::fs::write(out.join(f), b"").expect("OUT_DIR is writable");
        }
    }
}

fn build(root: &Path, out: &Path) -> Result<(), String> {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("ui-wasm");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "-p", "proxy-web"])
        .args(["--target", "wasm32-unknown-unknown"])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // What the outer cargo sets for this script is not meant for the nested build: clippy's
    // wrapper, the host's rustflags, the outer target dir.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(
            "the nested `cargo build -p proxy-web --target wasm32-unknown-unknown` failed (is the target installed? `rustup target add wasm32-unknown-unknown`)"
                .into(),
        );
    }
    let wasm = target_dir.join("wasm32-unknown-unknown/release/proxy_web.wasm");
    let mut bindgen = wasm_bindgen_cli_support::Bindgen::new();
    bindgen
        .input_path(&wasm)
        .web(true)
        .map_err(|e| e.to_string())?
        .typescript(false)
        .out_name("proxy_web");
    bindgen
        .generate(out)
        .map_err(|e| format!("wasm-bindgen: {e}"))
}
