//! The golden-vector harness: every vector under `tests/vectors/` runs natively and through the
//! `wasm32-wasip1` build of `proxy-vector-runner` under wasmtime. Both results must be
//! byte-identical, and equal to the hand-written expectation.

use proptest::prelude::*;
use proxy_vector_runner::run_json;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn vectors() -> PathBuf {
    root().join("vectors")
}

/// Build one package of the workspace for a wasm target (a no-op when up to date) and
/// return the target directory. `proxy-web` is built where `host/build.rs` builds it for the
/// dashboard (`<target>/ui-wasm`), so the two share one build.
fn build_wasm(package: &str, target: &str) -> PathBuf {
    let workspace = root().join("..");
    let mut dir = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target"));
    if package == "proxy-web" {
        dir = dir.join("ui-wasm");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    if package == "proxy-web" {
        // As host/build.rs runs it: the same flags make the same build.
        cmd.env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS");
    }
    let status = cmd
        .current_dir(&workspace)
        .args([
            "build",
            "-q",
            "-p",
            package,
            "--target",
            target,
            "--release",
        ])
        .arg("--target-dir")
        .arg(&dir)
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "building {package} for {target} failed (is the target installed? `rustup target add {target}`)"
    );
    dir
}

struct Wasm {
    engine: Engine,
    module: Module,
    linker: Linker<WasiP1Ctx>,
}

impl Wasm {
    /// Build the runner for wasm32-wasip1 (a no-op when up to date) and compile it once.
    fn get() -> &'static Wasm {
        static W: OnceLock<Wasm> = OnceLock::new();
        W.get_or_init(|| {
            let target = build_wasm("proxy-vector-runner", "wasm32-wasip1");
            let path = target.join("wasm32-wasip1/release/proxy-vector-runner.wasm");
            let engine = Engine::default();
            let module = Module::from_file(&engine, &path).expect("compile the runner module");
            let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
            wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s| s).expect("link WASI");
            Wasm {
                engine,
                module,
                linker,
            }
        })
    }

    fn run(&self, input: &str) -> String {
        let stdout = MemoryOutputPipe::new(64 * 1024 * 1024);
        let ctx = WasiCtxBuilder::new()
            .stdin(MemoryInputPipe::new(input.as_bytes().to_vec()))
            .stdout(stdout.clone())
            .build_p1();
        let mut store = Store::new(&self.engine, ctx);
        let instance = self
            .linker
            .instantiate(&mut store, &self.module)
            .expect("instantiate");
        let start = instance
            .get_typed_func::<(), ()>(&mut store, "_start")
            .expect("_start");
        if let Err(e) = start.call(&mut store, ()) {
            // A clean `exit(0)` surfaces as an I32Exit error.
            match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(wasmtime_wasi::I32Exit(0)) => {}
                _ => panic!("wasm runner trapped: {e:?}"),
            }
        }
        drop(store);
        String::from_utf8(stdout.contents().to_vec()).expect("utf-8 output")
    }
}

/// Run a job on both targets; they must agree byte for byte.
fn run_both(job: &Value) -> Value {
    let input = job.to_string();
    let native = run_json(&input);
    let wasm = Wasm::get().run(&input);
    assert_eq!(native, wasm, "native and wasm32-wasip1 outputs differ");
    serde_json::from_str(&native).expect("runner output is JSON")
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn sorted_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

fn deg_set(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["path"].as_str().unwrap_or("").to_owned(),
                d["kind"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// First differing JSON path, for readable failures.
fn diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) => {
                        if let Some(d) = diff(v, w, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("{path}.{k}: missing in expected")),
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("{path}.{k}: missing in actual"))
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if let Some(d) = diff(v, w, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| {
                format!(
                    "{path}: length {} (actual) vs {} (expected)",
                    x.len(),
                    y.len()
                )
            })
        }
        _ => (a != b).then(|| {
            let s = |v: &Value| {
                let t = v.to_string();
                if t.len() > 300 {
                    format!("{}…", &t[..t.floor_char_boundary(300)])
                } else {
                    t
                }
            };
            format!("{path}: actual {} vs expected {}", s(a), s(b))
        }),
    }
}

fn report(failures: Vec<String>, total: usize) {
    assert!(
        failures.is_empty(),
        "{} of {total} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn request_vectors() {
    let big = check_requests("request", 40);
    assert!(
        big >= 2,
        "expected two Claude-Code-sized (>200 KB) request vectors"
    );
}

#[test]
fn chat_request_vectors() {
    check_requests("chat_request", 20);
}

/// Runs a directory of request vectors (the directory name is the runner's job kind);
/// returns how many are over 200 KB.
fn check_requests(kind: &str, min: usize) -> usize {
    let files = sorted_files(&vectors().join(kind), "json");
    assert!(
        files.len() >= min,
        "expected at least {min} {kind} vectors, found {}",
        files.len()
    );
    let mut big = 0;
    let mut failures = Vec::new();
    for f in &files {
        let name = file_name(f);
        let case = read_json(f);
        if std::fs::metadata(f).map(|m| m.len()).unwrap_or(0) > 200_000 {
            big += 1;
        }
        let out = run_both(&json!({"kind": kind, "case": case}));
        if let Some(want) = case.get("expected_error") {
            if out["error"]["type"] != want["type"] {
                failures.push(format!(
                    "{name}: expected error {want}, got {}",
                    out["error"]
                ));
            }
            continue;
        }
        if let Some(d) = diff(&out["body"], &case["expected"], "body") {
            failures.push(format!("{name}: {d} (error: {})", out["error"]));
            continue;
        }
        if kind == "request"
            && let Some(req) = case.get("request")
            && let Err(e) =
                serde_json::from_value::<proxy_core::wire::anthropic::MessagesRequest>(req.clone())
        {
            failures.push(format!(
                "{name}: request does not read as MessagesRequest: {e}"
            ));
        }
        if kind == "request"
            && let Err(e) = serde_json::from_value::<proxy_core::wire::responses::ResponsesRequest>(
                out["body"].clone(),
            )
        {
            failures.push(format!("{name}: body breaks the Codex request schema: {e}"));
        }
        let (got, want) = (
            deg_set(&out["degradations"]),
            deg_set(&case["degradations"]),
        );
        if got != want {
            failures.push(format!(
                "{name}: degradations\n  actual   {got:?}\n  expected {want:?}"
            ));
        }
    }
    report(failures, files.len());
    big
}

struct StreamCase {
    kind: &'static str,
    name: String,
    case: Value,
    upstream: String,
}

fn stream_cases() -> Vec<StreamCase> {
    let mut all = stream_cases_in("stream", "stream");
    all.extend(stream_cases_in("chat_stream", "chat_stream"));
    all
}

fn stream_cases_in(dir: &str, kind: &'static str) -> Vec<StreamCase> {
    let dir = vectors().join(dir);
    if !dir.exists() {
        return Vec::new();
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("stream vectors dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|d| StreamCase {
            kind,
            name: d
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            case: read_json(&d.join("case.json")),
            upstream: std::fs::read_to_string(d.join("upstream.sse")).expect("upstream.sse"),
        })
        .collect()
}

fn stream_job(c: &StreamCase, chunks: &[usize]) -> Value {
    json!({"kind": c.kind, "case": c.case, "upstream": c.upstream, "chunks": chunks})
}

#[test]
fn stream_vectors() {
    check_streams(stream_cases_in("stream", "stream"), 25);
}

#[test]
fn chat_stream_vectors() {
    check_streams(stream_cases_in("chat_stream", "chat_stream"), 15);
}

fn check_streams(cases: Vec<StreamCase>, min: usize) {
    assert!(
        cases.len() >= min,
        "expected at least {min} stream vectors, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for c in &cases {
        let out = run_both(&stream_job(c, &[]));
        let want_events = &c.case["expected"];
        let got_events: Vec<Value> = out["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| json!({"event": e["event"], "data": e["data"]}))
            .collect();
        if let Some(d) = diff(&Value::Array(got_events), want_events, "events") {
            failures.push(format!("{}: {d}", c.name));
            continue;
        }
        let (got, want, what) = match c.case.get("error") {
            Some(e) => (&out["error"], e, "error"),
            None => (&out["message"], &c.case["message"], "message"),
        };
        if let Some(d) = diff(got, want, what) {
            failures.push(format!("{}: {d}", c.name));
        }
        if what == "message"
            && let Err(e) =
                serde_json::from_value::<proxy_core::wire::anthropic::Message>(got.clone())
        {
            failures.push(format!("{}: not a valid Message: {e}", c.name));
        }
        // The wasm build must agree on an irregular chunking too.
        let chunked = run_both(&stream_job(c, &[7, 1, 13, 2]));
        if chunked["events"] != out["events"] {
            failures.push(format!("{}: output depends on chunking", c.name));
        }
    }
    report(failures, cases.len());
}

#[test]
fn stream_vectors_byte_by_byte() {
    for c in stream_cases() {
        let one = run_json(&stream_job(&c, &[]).to_string());
        let bytes = run_json(&stream_job(&c, &[1]).to_string());
        assert_eq!(one, bytes, "{}: one push vs byte-by-byte", c.name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    /// Any chunking of any transcript gives the same output as a single push.
    #[test]
    fn random_rechunking_is_invisible(
        pick in any::<prop::sample::Index>(),
        chunks in prop::collection::vec(1usize..64, 1..12),
    ) {
        static CASES: OnceLock<Vec<(String, String)>> = OnceLock::new();
        let cases = CASES.get_or_init(|| {
            stream_cases().iter().map(|c| (stream_job(c, &[]).to_string(), c.name.clone())).collect()
        });
        let (job, name) = &cases[pick.index(cases.len())];
        let mut v: Value = serde_json::from_str(job).expect("job");
        let whole = run_json(job);
        v["chunks"] = json!(chunks);
        let split = run_json(&v.to_string());
        prop_assert_eq!(whole, split, "{}", name);
    }
}

#[test]
fn error_vectors() {
    let files = sorted_files(&vectors().join("error"), "json");
    assert!(files.len() >= 10, "expected at least 10 error vectors");
    let mut failures = Vec::new();
    for f in &files {
        let name = file_name(f);
        let case = read_json(f);
        let out = run_both(&json!({"kind": "error", "case": case}));
        let want = &case["expected"];
        for k in ["type", "status", "retry_after", "action"] {
            if out[k] != want[k] {
                failures.push(format!(
                    "{name}: {k}: actual {} vs expected {}",
                    out[k], want[k]
                ));
            }
        }
    }
    report(failures, files.len());
}

/// Exchange scenarios (the request lifecycle with a scripted upstream and a virtual clock):
/// the same transcript natively and under wasmtime, and the host steps and client status the
/// vector names.
#[test]
fn exchange_vectors() {
    let files = sorted_files(&vectors().join("exchange"), "json");
    assert!(files.len() >= 3, "expected at least 3 exchange vectors");
    let mut failures = Vec::new();
    for f in &files {
        let name = file_name(f);
        let case = read_json(f);
        let out = run_both(&json!({"kind": "exchange", "case": case}));
        let want = &case["expected"];
        if out["steps"] != want["steps"] {
            failures.push(format!(
                "{name}: steps: actual {} vs expected {}",
                out["steps"], want["steps"]
            ));
        }
        if out["client"]["status"] != want["status"] {
            failures.push(format!(
                "{name}: status: actual {} vs expected {}",
                out["client"]["status"], want["status"]
            ));
        }
        for needle in want["body_contains"].as_array().into_iter().flatten() {
            let needle = needle.as_str().unwrap_or("");
            if !out["client"]["body"]
                .as_str()
                .unwrap_or("")
                .contains(needle)
            {
                failures.push(format!("{name}: body lacks {needle:?}"));
            }
        }
    }
    report(failures, files.len());
}

/// Request validation (docs/CONVERSION.md §11): the verdict on one body, the same on every
/// target; an error names its field (Anthropic: the message starts with the path; OpenAI:
/// `param`).
#[test]
fn validation_vectors() {
    let files = sorted_files(&vectors().join("validation"), "json");
    assert!(
        files.len() >= 30,
        "expected at least 30 validation vectors, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for f in &files {
        let name = file_name(f);
        let case = read_json(f);
        let out = run_both(&json!({"kind": "validation", "case": case}));
        let want = &case["expected"];
        let ok = want["ok"].as_bool().unwrap_or(false);
        if out["ok"].as_bool() != Some(ok) {
            failures.push(format!("{name}: verdict: actual {out} vs expected ok={ok}"));
            continue;
        }
        if ok {
            continue;
        }
        if out["status"] != want["status"] {
            failures.push(format!(
                "{name}: status {} vs {}",
                out["status"], want["status"]
            ));
        }
        let err = &out["body"]["error"];
        if err["type"] != "invalid_request_error" {
            failures.push(format!("{name}: type {}", err["type"]));
        }
        let path = want["path"].as_str().unwrap_or("");
        if case["dialect"] == "openai" {
            if err["param"].as_str().unwrap_or("") != path {
                failures.push(format!("{name}: param {} vs {path:?}", err["param"]));
            }
        } else {
            let message = err["message"].as_str().unwrap_or("");
            if !message.starts_with(&format!("{path}: ")) {
                failures.push(format!(
                    "{name}: message {message:?} does not name {path:?}"
                ));
            }
        }
    }
    report(failures, files.len());
}

#[test]
fn routing_vectors() {
    let case = read_json(&vectors().join("routing.json"));
    let entries = case.as_array().expect("routing.json is a list");
    assert!(entries.len() >= 20);
    let out = run_both(&json!({"kind": "routing", "case": case}));
    let mut failures = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let got = &out[i];
        let want = &e["expected"];
        for k in ["lane", "provider", "model", "effort", "long_context"] {
            if got[k] != want[k] {
                failures.push(format!(
                    "{}: {k}: actual {} vs expected {}",
                    e["model"], got[k], want[k]
                ));
            }
        }
    }
    report(failures, entries.len());
}

#[test]
fn openai_request_vectors() {
    check_requests("openai_request", 20);
}

/// SSE text → frames, with `data:` JSON parsed so key order does not matter.
fn sse_frames(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter(|f| !f.is_empty())
        .map(|f| match f.strip_prefix("data: ") {
            Some(d) => {
                serde_json::from_str::<Value>(d).unwrap_or_else(|_| Value::String(f.to_owned()))
            }
            None => Value::String(f.to_owned()),
        })
        .collect()
}

#[test]
fn openai_stream_vectors() {
    let files = sorted_files(&vectors().join("openai_stream"), "json");
    assert!(
        files.len() >= 12,
        "expected at least 12 openai_stream vectors"
    );
    let mut failures = Vec::new();
    for f in &files {
        let name = file_name(f);
        let case = read_json(f);
        let out = run_both(&json!({"kind": "openai_stream", "case": case}));
        if let Some(e) = out.get("runner_error") {
            failures.push(format!("{name}: {e}"));
            continue;
        }
        let got = sse_frames(out["sse"].as_str().unwrap_or(""));
        let want = sse_frames(case["expected_sse"].as_str().unwrap_or(""));
        if let Some(d) = diff(&Value::Array(got), &Value::Array(want), "sse") {
            failures.push(format!("{name}: {d}"));
            continue;
        }
        let (got, want, what) = match case.get("expected_error") {
            Some(e) => (&out["error"], e, "error"),
            None => (&out["message"], &case["expected_message"], "message"),
        };
        if let Some(d) = diff(got, want, what) {
            failures.push(format!("{name}: {d}"));
        }
    }
    report(failures, files.len());
}

#[test]
fn openai_error_vectors() {
    let case = read_json(&vectors().join("openai_error.json"));
    let rows = case.as_array().expect("a list");
    assert!(rows.len() >= 10);
    let out = run_both(&json!({"kind": "openai_error", "case": case}));
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(
            out[i]["status"], r["expected_status"],
            "{}",
            r["anthropic_type"]
        );
        assert_eq!(out[i]["body"], r["expected"], "{}", r["anthropic_type"]);
    }
}

/// Every job, as the other tests build them.
fn all_jobs() -> Vec<Value> {
    let mut jobs = Vec::new();
    for kind in ["request", "chat_request", "openai_request"] {
        for f in sorted_files(&vectors().join(kind), "json") {
            jobs.push(json!({"kind": kind, "case": read_json(&f)}));
        }
    }
    for c in stream_cases() {
        jobs.push(stream_job(&c, &[]));
        jobs.push(stream_job(&c, &[5, 1, 17]));
    }
    for f in sorted_files(&vectors().join("error"), "json") {
        jobs.push(json!({"kind": "error", "case": read_json(&f)}));
    }
    for f in sorted_files(&vectors().join("openai_stream"), "json") {
        jobs.push(json!({"kind": "openai_stream", "case": read_json(&f)}));
    }
    for f in sorted_files(&vectors().join("exchange"), "json") {
        jobs.push(json!({"kind": "exchange", "case": read_json(&f)}));
    }
    for f in sorted_files(&vectors().join("validation"), "json") {
        jobs.push(json!({"kind": "validation", "case": read_json(&f)}));
    }
    jobs.push(json!({"kind": "routing", "case": read_json(&vectors().join("routing.json"))}));
    jobs.push(
        json!({"kind": "openai_error", "case": read_json(&vectors().join("openai_error.json"))}),
    );
    jobs
}

/// The third target: the wasm-bindgen build (`wasm32-unknown-unknown`) in Node must give the
/// native bytes for every vector job.
#[test]
fn wasm_bindgen_build_matches_native() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let target = build_wasm("proxy-web", "wasm32-unknown-unknown");
    let out_dir = target.join("wasm-node");
    let bindgen = std::env::var("WASM_BINDGEN").unwrap_or_else(|_| "wasm-bindgen".into());
    let status = Command::new(&bindgen)
        .args(["--target", "nodejs", "--out-dir"])
        .arg(&out_dir)
        .arg(target.join("wasm32-unknown-unknown/release/proxy_web.wasm"))
        .status()
        .unwrap_or_else(|e| {
            panic!("{bindgen}: {e} (install it with `cargo install wasm-bindgen-cli --version 0.2.130`, as tests/run.sh does)")
        });
    assert!(status.success(), "wasm-bindgen failed");
    let jobs: Vec<String> = all_jobs().iter().map(Value::to_string).collect();
    let mut child = Command::new("node")
        .arg(root().join("wasm/run.mjs"))
        .arg(out_dir.join("proxy_web.js"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run node");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = jobs.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("node output");
    writer.join().expect("writer").expect("write jobs");
    assert!(out.status.success(), "node failed");
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout)
        .expect("utf-8")
        .lines()
        .collect();
    assert_eq!(lines.len(), jobs.len(), "one result per job");
    for (job, got) in jobs.iter().zip(lines) {
        let native = run_json(job);
        assert!(
            native == got,
            "wasm32-unknown-unknown differs from native for job {}",
            &job[..job.len().min(200)]
        );
    }
}
