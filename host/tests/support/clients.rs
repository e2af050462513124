//! The real clients (pinned under tests/clients): where they are, running their scripts, and
//! what "the streamed answer equals the non-streaming one" means.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/clients")
}

pub fn need(path: &Path, what: &str) {
    assert!(
        path.exists(),
        "{what} is not installed at {}: run `bash tests/run.sh` (it installs the pinned clients)",
        path.display()
    );
}

pub fn python() -> PathBuf {
    clients_dir().join(".venv/bin/python")
}

/// Run a client script; returns its JSON output.
pub fn run(cmd: &mut Command) -> Value {
    let out = cmd
        .stdin(Stdio::null())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .output()
        .expect("run client");
    assert!(
        out.status.success(),
        "client failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "client output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The streamed final message equals the non-streaming answer (ids aside).
pub fn assert_same(v: &Value, what: &str) {
    let strip = |m: &Value| {
        let mut m = m.clone();
        if let Some(o) = m.as_object_mut() {
            o.remove("id");
            // The SDKs differ in how they fill optional fields; compare what both carry.
            for k in ["container", "stop_details", "context_management"] {
                o.remove(k);
            }
        }
        m
    };
    // Each call gets fresh upstream ids (and so fresh tool ids) and reasoning blobs: compare
    // blocks without them, after checking both carry them.
    let blocks = |m: &Value| -> Value {
        let mut c = m["content"].clone();
        for b in c.as_array_mut().into_iter().flatten() {
            let o = b.as_object_mut().expect("block is an object");
            for k in ["id", "signature", "tool_use_id"] {
                if let Some(x) = o.remove(k) {
                    assert!(!x.as_str().unwrap_or("").is_empty(), "{what}: empty {k}");
                }
            }
        }
        c
    };
    let (mut s, mut p) = (strip(&v["streamed"]), strip(&v["plain"]));
    s["content"] = blocks(&s);
    p["content"] = blocks(&p);
    assert_eq!(s["content"], p["content"], "{what}: content differs");
    assert_eq!(
        s["stop_reason"], p["stop_reason"],
        "{what}: stop_reason differs"
    );
    assert_eq!(
        s["usage"]["output_tokens"], p["usage"]["output_tokens"],
        "{what}: usage differs"
    );
    assert_eq!(
        s["usage"]["input_tokens"], p["usage"]["input_tokens"],
        "{what}: usage differs"
    );
    assert_eq!(s["model"], p["model"], "{what}: model differs");
    assert!(
        !s["content"].as_array().is_none_or(Vec::is_empty),
        "{what}: empty content"
    );
}

/// The scenario's block kinds arrived (a thinking block with reasoning, a tool call with tools).
pub fn check_kinds(v: &Value, scenario: &str) {
    let kinds: Vec<&str> = v["plain"]["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["type"].as_str())
        .collect();
    match scenario {
        "reasoning" => assert!(
            kinds.contains(&"thinking") && kinds.contains(&"text"),
            "{kinds:?}"
        ),
        "tools" => assert!(kinds.contains(&"tool_use"), "{kinds:?}"),
        "web_search" => {
            assert_eq!(
                kinds,
                ["server_tool_use", "web_search_tool_result", "text"],
                "{kinds:?}"
            );
            // The SDK folded the citations_delta events into the text block.
            let cites = &v["streamed"]["content"][2]["citations"];
            assert_eq!(cites.as_array().map(Vec::len), Some(2), "{cites}");
            assert_eq!(cites[0]["cited_text"], "released on 2026-11-20");
        }
        _ => assert!(kinds.contains(&"text"), "{kinds:?}"),
    }
}

/// Claude Code in print mode (`-p`, JSON output, at most `max_turns` turns) against `base`
/// with `api_key`, asked `prompt`, in `dir/work` with a fresh `dir/home`; `args` and `envs`
/// are added to its command line and environment.
pub fn claude_print(
    base: &str,
    api_key: &str,
    prompt: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    dir: &Path,
) -> std::process::Output {
    let claude = clients_dir().join("node_modules/.bin/claude");
    need(&claude, "@anthropic-ai/claude-code");
    let work = dir.join("work");
    let home = dir.join("home");
    std::fs::create_dir_all(&work).expect("work dir");
    std::fs::create_dir_all(&home).expect("home dir");
    Command::new("timeout")
        .arg("120")
        .arg(&claude)
        .args(["-p", prompt, "--output-format", "json"])
        .args(args)
        .current_dir(&work)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &home)
        .env("ANTHROPIC_BASE_URL", base)
        .env("ANTHROPIC_API_KEY", api_key)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("CLAUDE_CODE_MAX_RETRIES", "1")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run claude")
}

/// Claude Code in print mode with the Write tool allowed (at most 5 turns), asked to write the
/// file `dir/work/hello.txt` by the fakes' `claude_code_write` scenario. Returns the process
/// output and the file's path.
pub fn claude_writes_a_file(
    base: &str,
    api_key: &str,
    extra: &[&str],
    dir: &Path,
) -> (std::process::Output, PathBuf) {
    let target = dir.join("work").join("hello.txt");
    let prompt = format!(
        "Create the file. [[scenario:claude_code_write]] [[write:{}]]",
        target.display()
    );
    let mut args = vec!["--allowedTools", "Write", "--max-turns", "5"];
    args.extend_from_slice(extra);
    let out = claude_print(base, api_key, &prompt, &args, &[], dir);
    (out, target)
}
