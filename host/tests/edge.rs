//! The edge Worker in the real Workers runtime (workerd, via the pinned wrangler from npm, with
//! a local state directory), against the fake upstreams on 127.0.0.1, next to the native host
//! on the same scenarios. `bash tests/run.sh` builds the Worker (`worker-build`) and installs
//! wrangler first.

mod support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::clients::{assert_same, check_kinds, claude_writes_a_file, clients_dir, need, run};
use support::{Proxy, ProxyOpts, client, fake, request, sse_events};

const KEY: &str = "test-key";
const ADMIN: &str = "admin-key";

/// A local Worker: `wrangler dev --local` in its own process group, stopped on drop.
struct Worker {
    child: Child,
    base: String,
    dir: PathBuf,
    /// Where the local KV and objects persist (kept across a restart).
    state: PathBuf,
    /// The state was made for this Worker (else it belongs to the test).
    own_state: bool,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // setsid made the child a group leader: stop wrangler and workerd together.
        // (`--` so that the negative process-group id is not read as a signal.)
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.own_state {
            let _ = std::fs::remove_dir_all(&self.state);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Worker {
    async fn start(fake: &proxy_fakes::FakeServer) -> Worker {
        Self::start_with(fake, "seal-one", None).await
    }

    /// A Worker sealing with `seal`, on `state` (a restart) or a fresh state directory.
    async fn start_with(
        fake: &proxy_fakes::FakeServer,
        seal: &str,
        state: Option<PathBuf>,
    ) -> Worker {
        let edge = Path::new(env!("CARGO_MANIFEST_DIR")).join("../edge");
        let shim = edge.join("build/worker/shim.mjs");
        need(
            &shim,
            "the Worker build (cd edge && worker-build --release, as tests/run.sh does)",
        );
        let wrangler = clients_dir().join("node_modules/.bin/wrangler");
        need(&wrangler, "wrangler");
        let dir =
            std::env::temp_dir().join(format!("ccp-edge-{}-{}", std::process::id(), free_port()));
        // wrangler dev restarts the Worker when files change where it looks (its config's
        // folder, its working folder): only wrangler.toml lives there; the persisted state and
        // the clients' work folders are beside it.
        let cfg_dir = dir.join("cfg");
        std::fs::create_dir_all(&cfg_dir).expect("worker dir");
        let own_state = state.is_none();
        let state = state.unwrap_or_else(|| dir.join("state"));
        // The built shim, without the [build] step (already built), with test vars, a local KV
        // namespace and the accounts' Durable Object class.
        let config = format!(
            "name = \"ccp-test\"\nmain = \"{}\"\ncompatibility_date = \"2026-04-01\"\n\n[vars]\nKILO_BASE_URL = \"{base}/api/openrouter\"\nCODEX_BASE_URL = \"{base}/backend-api\"\nOAUTH_ISSUER = \"{base}\"\nCLIENT_KEYS = \"other-key, {KEY}\"\nADMIN_KEY = \"{ADMIN}\"\nSEAL_KEY = \"{seal}\"\n\n[[kv_namespaces]]\nbinding = \"ACCOUNTS\"\nid = \"local-accounts\"\n\n[[durable_objects.bindings]]\nname = \"ACCOUNT\"\nclass_name = \"AccountObject\"\n\n[[migrations]]\ntag = \"v1\"\nnew_sqlite_classes = [\"AccountObject\"]\n",
            shim.display(),
            base = fake.base_url(),
        );
        std::fs::write(cfg_dir.join("wrangler.toml"), config).expect("wrangler.toml");
        let port = free_port();
        let log = std::fs::File::create(dir.join("wrangler.log")).expect("log");
        let child = Command::new("setsid")
            .arg(&wrangler)
            .args([
                "dev",
                "--local",
                "--ip",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .args([
                "--inspector-ip",
                "127.0.0.1",
                "--inspector-port",
                &free_port().to_string(),
            ])
            .args(["--show-interactive-dev-session=false", "--persist-to"])
            .arg(&state)
            .arg("--config")
            .arg(cfg_dir.join("wrangler.toml"))
            .current_dir(&cfg_dir)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "1")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn wrangler");
        let w = Worker {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            state,
            own_state,
        };
        let c = client();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let ok = c
                .get(format!("{}/health", w.base))
                .header("x-api-key", KEY)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ok {
                return w;
            }
            assert!(
                Instant::now() < deadline,
                "the Worker did not start: {}",
                std::fs::read_to_string(w.dir.join("wrangler.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn post(base: &str, path: &str, key: Option<&str>, body: &Value) -> (u16, String) {
    let mut rb = client().post(format!("{base}{path}")).json(body);
    if let Some(k) = key {
        rb = rb.header("x-api-key", k);
    }
    let r = rb.send().await.expect("send");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// A message without the parts that differ per call (ids).
fn comparable(mut m: Value) -> Value {
    if let Some(o) = m.as_object_mut() {
        o.remove("id");
    }
    for b in m["content"].as_array_mut().into_iter().flatten() {
        if let Some(o) = b.as_object_mut() {
            o.remove("id");
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_answers_like_the_native_host_on_the_chat_lane() {
    let fake = fake().await;
    let w = Worker::start(&fake).await;
    let native = Proxy::start(&fake, ProxyOpts::default());

    // Nothing is open: no key, or a wrong one, is a 401 that says what to do.
    let (s, body) = post(
        &w.base,
        "/v1/messages",
        None,
        &request("claude-haiku-4-5", "text", false),
    )
    .await;
    assert_eq!(s, 401, "{body}");
    let (s, _) = post(
        &w.base,
        "/v1/messages",
        Some("nope"),
        &request("claude-haiku-4-5", "text", false),
    )
    .await;
    assert_eq!(s, 401);

    for scenario in ["text", "tools", "reasoning_then_tools", "error_mid_stream"] {
        // Non-streaming: the same Message as the native host's, ids aside.
        let body = request("claude-haiku-4-5", scenario, false);
        let (s, edge) = post(&w.base, "/v1/messages", Some(KEY), &body).await;
        let (hs, host) = post(&native.base, "/v1/messages", None, &body).await;
        assert_eq!(s, hs, "{scenario}: {edge} vs {host}");
        let edge: Value = serde_json::from_str(&edge).expect("json");
        let host: Value = serde_json::from_str(&host).expect("json");
        assert_eq!(comparable(edge), comparable(host), "{scenario}");

        // Streaming: the same events in the same order with the same data, ids aside.
        let body = request("claude-haiku-4-5", scenario, true);
        let (s, edge) = post(&w.base, "/v1/messages", Some(KEY), &body).await;
        assert_eq!(s, 200);
        let (_, host) = post(&native.base, "/v1/messages", None, &body).await;
        let strip = |text: &str| -> Vec<(String, Value)> {
            sse_events(text)
                .into_iter()
                .map(|(e, mut d)| {
                    if let Some(m) = d.get_mut("message") {
                        *m = comparable(m.take());
                    }
                    if let Some(b) = d.get_mut("content_block") {
                        *b = comparable(b.take());
                    }
                    (e, d)
                })
                .collect()
        };
        let (edge, host) = (strip(&edge), strip(&host));
        assert!(!edge.is_empty());
        assert_eq!(edge, host, "{scenario}: streams differ");
    }

    // Failures take the same path: the same status and error body after the same retries.
    for scenario in ["http_500", "http_429", "mid_stream_drop"] {
        let body = request("claude-haiku-4-5", scenario, false);
        let (es, edge) = post(&w.base, "/v1/messages", Some(KEY), &body).await;
        let (hs, host) = post(&native.base, "/v1/messages", None, &body).await;
        assert_eq!(es, hs, "{scenario}: {edge} vs {host}");
        let edge: Value = serde_json::from_str(&edge).expect("json");
        let host: Value = serde_json::from_str(&host).expect("json");
        assert_eq!(comparable(edge), comparable(host), "{scenario}");
    }

    // An OpenAI client, streaming and not.
    let oa = json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi [[scenario:text]]"}]});
    let (s, edge) = post(&w.base, "/v1/chat/completions", Some(KEY), &oa).await;
    assert_eq!(s, 200, "{edge}");
    let edge: Value = serde_json::from_str(&edge).expect("json");
    assert_eq!(edge["object"], "chat.completion");
    assert!(
        edge["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    let mut oas = oa.clone();
    oas["stream"] = json!(true);
    let (_, edge) = post(&w.base, "/v1/chat/completions", Some(KEY), &oas).await;
    assert!(
        edge.contains("chat.completion.chunk") && edge.ends_with("data: [DONE]\n\n"),
        "{edge}"
    );

    // Validation, routing errors and the other routes come from the same core.
    let mut bad = request("claude-haiku-4-5", "text", false);
    bad["max_tokens"] = json!("many");
    let (s, body) = post(&w.base, "/v1/messages", Some(KEY), &bad).await;
    assert_eq!(s, 400);
    assert!(body.contains("max_tokens: "), "{body}");
    let (s, body) = post(
        &w.base,
        "/v1/messages",
        Some(KEY),
        &request("claude-sonnet-4-5", "text", false),
    )
    .await;
    assert_eq!(s, 401, "{body}");
    assert!(body.contains("no ChatGPT account"), "{body}");
    let (s, body) = post(&w.base, "/v1/messages/count_tokens", Some(KEY),
        &json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hello there"}]})).await;
    assert_eq!(s, 200, "{body}");
    assert!(serde_json::from_str::<Value>(&body).expect("json")["input_tokens"].as_u64() > Some(0));
    let models = client()
        .get(format!("{}/v1/models", w.base))
        .header("x-api-key", KEY)
        .send()
        .await
        .expect("send");
    let models: Value = models.json().await.expect("json");
    assert_eq!(models["data"][0]["id"], "claude-opus-4-5");

    // Nothing went to the Codex backend; the Chat requests came from the Worker too.
    assert_eq!(fake.count("/backend-api/codex/responses"), 0);
    assert!(
        fake.requests()
            .iter()
            .filter(|r| r.path.contains("/chat/completions"))
            .all(|r| r.anonymous_auth && r.machine_id)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn real_clients_through_the_worker() {
    let fake = fake().await;
    let w = Worker::start(&fake).await;
    // The official TypeScript SDK: its accumulated stream equals its non-streaming answer.
    for scenario in ["text", "tools"] {
        let mut cmd = Command::new("node");
        cmd.current_dir(clients_dir())
            .arg("sdk_roundtrip.mjs")
            .args([w.base.as_str(), "claude-haiku-4-5", scenario]);
        let v = tokio::task::block_in_place(|| run(&mut cmd));
        assert_same(&v, &format!("edge ts {scenario}"));
        check_kinds(&v, scenario);
    }
    // Claude Code in print mode: a tool task (write a file), then the answer, through the Worker.
    let (out, target) = tokio::task::block_in_place(|| {
        claude_writes_a_file(&w.base, KEY, &["--model", "claude-haiku-4-5"], &w.dir)
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "claude failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).expect("claude prints JSON");
    assert_eq!(result["is_error"], false, "{result}");
    assert!(
        std::fs::read_to_string(&target).is_ok_and(|t| !t.is_empty()),
        "the file was written"
    );
}

async fn admin(
    w: &Worker,
    key: &str,
    method: reqwest::Method,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = client()
        .request(method, format!("{}/admin/accounts", w.base))
        .header("x-admin-key", key);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// ChatGPT accounts on the edge: pushed sealed into KV, refreshed by each account's Durable
/// Object exactly once under load, rotated on a usage limit, kept across a restart, and never
/// opened with the wrong seal key.
#[tokio::test(flavor = "multi_thread")]
async fn accounts_on_the_edge_refresh_once_rotate_and_survive_a_restart() {
    let fake = fake().await;
    let w = Worker::start(&fake).await;
    let (access1, refresh1, _) = fake.issue_tokens("acct-1", "one@example.com");
    let (access2, refresh2, _) = fake.issue_tokens("acct-2", "two@example.com");
    let now = now_secs();

    // The admin routes take the admin key only.
    let (s, _) = admin(&w, KEY, reqwest::Method::GET, None).await;
    assert_eq!(s, 401, "a client key opens no admin route");
    let accounts = json!({"accounts": [
        {"account_id": "acct-1", "email": "one@example.com", "access_token": access1,
         "refresh_token": refresh1, "expires_at": now - 10},
        {"account_id": "acct-2", "email": "two@example.com", "access_token": access2,
         "refresh_token": refresh2, "expires_at": now + 86_400},
    ]});
    let (s, pushed) = admin(&w, ADMIN, reqwest::Method::PUT, Some(accounts)).await;
    assert_eq!(s, 200, "{pushed}");
    assert_eq!(pushed["stored"], 2);
    assert!(
        !pushed.to_string().contains(&access1),
        "no token in an admin answer"
    );

    // 100 concurrent requests on acct-1's expired token: one refresh, every request answered.
    let body = request("claude-sonnet-4-5", "text", false);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (base, body) = (w.base.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            post(&base, "/v1/messages", Some(KEY), &body).await
        }));
    }
    for t in tasks {
        let (s, text) = t.await.expect("task");
        assert_eq!(s, 200, "{text}");
    }
    assert_eq!(fake.refresh_calls(), 1, "exactly one refresh at the issuer");
    let (_, held) = admin(&w, ADMIN, reqwest::Method::GET, None).await;
    let first = &held["accounts"][0];
    assert!(
        first["expires_at"].as_u64() > Some(now),
        "KV holds the refreshed tokens: {held}"
    );
    assert!(!held.to_string().contains("access"), "{held}");
    // The backend's x-codex-* quota is kept in the account's object, where every isolate sees it.
    assert!(
        first["quota"]["limits"]["primary"]["used_percent"].is_number(),
        "{held}"
    );

    // A usage limit on acct-1 rotates to acct-2 (cooldown to the reset in acct-1's object).
    let (s, text) = post(
        &w.base,
        "/v1/messages",
        Some(KEY),
        &request("claude-sonnet-4-5", "http_429_once", false),
    )
    .await;
    assert_eq!(s, 200, "{text}");
    let last = fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.contains("/codex/responses"))
        .expect("a codex call");
    assert_eq!(last.header("chatgpt-account-id"), Some("acct-2"));
    // Every account limited: 429 with the soonest reset.
    let r = client()
        .post(format!("{}/v1/messages", w.base))
        .header("x-api-key", KEY)
        .json(&request("claude-sonnet-4-5", "http_429", false))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 429);
    let ra: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("retry-after");
    assert!((100..=120).contains(&ra), "{ra}");

    // Cloudflare's challenge: a clear 403, no refresh attempted.
    let w2 = Worker::start(&fake).await;
    let (access3, refresh3, _) = fake.issue_tokens("acct-3", "three@example.com");
    let one = json!({"accounts": [{"account_id": "acct-3", "access_token": access3, "refresh_token": refresh3, "expires_at": now + 86_400}]});
    assert_eq!(
        admin(&w2, ADMIN, reqwest::Method::PUT, Some(one)).await.0,
        200
    );
    let (s, text) = post(
        &w2.base,
        "/v1/messages",
        Some(KEY),
        &request("claude-sonnet-4-5", "cf_challenge", false),
    )
    .await;
    assert_eq!(s, 403, "{text}");
    assert!(
        text.contains("Cloudflare") && text.contains("cf-ray"),
        "{text}"
    );
    assert_eq!(
        fake.refresh_calls(),
        1,
        "a challenge is not a token problem"
    );
    drop(w2);

    // A restart of the runtime keeps the refreshed tokens (no second refresh).
    let keep = std::env::temp_dir().join(format!("ccp-edge-kept-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&keep);
    drop_keeping(w, &keep);
    let w = Worker::start_with(&fake, "seal-one", Some(keep.clone())).await;
    let (s, text) = post(&w.base, "/v1/messages", Some(KEY), &body).await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(
        fake.refresh_calls(),
        1,
        "the refreshed token survived the restart"
    );
    drop_keeping(w, &keep);

    // Another seal key cannot open them, and says so.
    let w = Worker::start_with(&fake, "seal-two", Some(keep.clone())).await;
    let (s, text) = post(&w.base, "/v1/messages", Some(KEY), &body).await;
    assert_eq!(s, 500, "{text}");
    assert!(text.contains("SEAL_KEY"), "{text}");
    drop(w);
    let _ = std::fs::remove_dir_all(&keep);
}

/// Stop a Worker but keep its state: move the state directory to `keep` first.
fn drop_keeping(w: Worker, keep: &Path) {
    let state = w.state.clone();
    let _ = Command::new("kill")
        .args(["-s", "TERM", "--", &format!("-{}", w.child.id())])
        .status();
    std::thread::sleep(Duration::from_millis(500));
    if state != keep {
        std::fs::rename(&state, keep).expect("keep the state");
    }
    drop(w);
}

fn cli(args: &[&str], data_dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_codex-claude-proxy"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", data_dir)
        .stdin(Stdio::null())
        .output()
        .expect("run the CLI");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `codex-claude-proxy edge push` hands a stored account to the Worker (which then serves the
/// Codex lane with it), `edge status` shows it, and neither prints a token.
#[tokio::test(flavor = "multi_thread")]
async fn edge_push_hands_stored_accounts_to_the_worker() {
    let fake = fake().await;
    let w = Worker::start(&fake).await;
    let data = w.dir.join("native");
    std::fs::create_dir_all(data.join("accounts")).expect("accounts dir");
    let (access, refresh, _) = fake.issue_tokens("acct-9", "nine@example.com");
    let account = json!({"account_id": "acct-9", "email": "nine@example.com", "plan_type": "plus",
                         "access_token": access, "refresh_token": refresh});
    std::fs::write(data.join("accounts/acct-9.json"), account.to_string()).expect("account file");

    let (ok, text) = cli(
        &["edge", "push", "--url", &w.base, "--admin-key", "wrong"],
        &data,
    );
    assert!(!ok && text.contains("admin key"), "{text}");
    let (ok, text) = cli(
        &[
            "edge",
            "push",
            "--url",
            "http://example.com",
            "--admin-key",
            ADMIN,
        ],
        &data,
    );
    assert!(!ok && text.contains("HTTPS"), "{text}");

    let (ok, text) = cli(
        &[
            "edge",
            "push",
            "--url",
            &w.base,
            "--admin-key",
            ADMIN,
            "nine@example.com",
            "--move",
        ],
        &data,
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("nine@example.com") && !text.contains(&access) && !text.contains(&refresh),
        "{text}"
    );
    assert!(
        !data.join("accounts/acct-9.json").exists(),
        "--move hands the account over"
    );
    let (ok, text) = cli(
        &["edge", "status", "--url", &w.base, "--admin-key", ADMIN],
        &data,
    );
    assert!(ok && text.contains("nine@example.com"), "{text}");

    let (s, text) = post(
        &w.base,
        "/v1/messages",
        Some(KEY),
        &request("claude-sonnet-4-5", "text", true),
    )
    .await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(
        sse_events(&text).last().map(|(e, _)| e.as_str()),
        Some("message_stop")
    );
    let last = fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.contains("/codex/responses"))
        .expect("a codex call");
    assert_eq!(last.header("chatgpt-account-id"), Some("acct-9"));

    // The Codex lane answers as the native host does (ids and signatures aside), streaming and not.
    let (access, _, _) = fake.issue_tokens("acct-8", "eight@example.com");
    let native = Proxy::start(
        &fake,
        ProxyOpts {
            accounts: vec![support::TestAccount {
                account_id: "acct-8".into(),
                access_token: access,
            }],
            ..ProxyOpts::default()
        },
    );
    let strip = |t: &str| {
        let mut m = comparable(serde_json::from_str(t).expect("json"));
        for b in m["content"].as_array_mut().into_iter().flatten() {
            if let Some(o) = b.as_object_mut() {
                o.remove("signature");
            }
        }
        m
    };
    let names = |t: &str| {
        sse_events(t)
            .into_iter()
            .map(|(e, _)| e)
            .collect::<Vec<_>>()
    };
    for scenario in ["text", "tools", "reasoning"] {
        let body = request("claude-sonnet-4-5", scenario, false);
        let (es, edge) = post(&w.base, "/v1/messages", Some(KEY), &body).await;
        let (hs, host) = post(&native.base, "/v1/messages", None, &body).await;
        assert_eq!((es, hs), (200, 200), "{scenario}: {edge} / {host}");
        assert_eq!(strip(&edge), strip(&host), "{scenario}");
        let body = request("claude-sonnet-4-5", scenario, true);
        let (_, edge) = post(&w.base, "/v1/messages", Some(KEY), &body).await;
        let (_, host) = post(&native.base, "/v1/messages", None, &body).await;
        assert_eq!(names(&edge), names(&host), "{scenario}: stream events");
    }
}

/// The processes of a Worker's group (wrangler's node and workerd).
fn group_pids(w: &Worker) -> Vec<u32> {
    let out = Command::new("pgrep")
        .args(["-g", &w.child.id().to_string()])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn workerd_pids(w: &Worker) -> Vec<u32> {
    group_pids(w)
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "workerd")
        })
        .collect()
}

/// Benchmark (run by hand, numbers in docs/PERFORMANCE.md): the same 200 streamed answers
/// (the fakes' `text` scenario on the Chat lane, one at a time) through the Worker in workerd
/// and through the native host, with wall time and the serving processes' CPU time per stream,
/// and the Worker's first request after start next to its later ones.
/// `cargo test --release -p proxy-host --test edge -- --ignored --nocapture bench`
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark"]
async fn bench_edge_next_to_the_native_host() {
    let fake = fake().await;
    let started = Instant::now();
    let w = Worker::start(&fake).await;
    let ready = started.elapsed();
    let native = Proxy::start(&fake, ProxyOpts::default());
    let body = request("claude-haiku-4-5", "text", true);
    let t = Instant::now();
    let (s, _) = post(&w.base, "/v1/messages", Some(KEY), &body).await;
    assert_eq!(s, 200);
    let first = t.elapsed();
    const N: u32 = 200;
    let mut rows = Vec::new();
    for (name, base, key) in [
        ("edge (workerd)", w.base.clone(), Some(KEY)),
        ("native host", native.base.clone(), None),
    ] {
        let pids = if key.is_some() {
            workerd_pids(&w)
        } else {
            vec![native.pid()]
        };
        let cpu0: f64 = pids.iter().map(|&p| support::cpu_secs(p)).sum();
        let t = Instant::now();
        for _ in 0..N {
            let (s, text) = post(&base, "/v1/messages", key, &body).await;
            assert!(s == 200 && text.contains("message_stop"));
        }
        let wall = t.elapsed().as_secs_f64() / f64::from(N);
        let cpu = (pids.iter().map(|&p| support::cpu_secs(p)).sum::<f64>() - cpu0) / f64::from(N);
        rows.push((name, wall, cpu));
    }
    println!(
        "dev server ready after {:.2} s; the Worker's first request {:.1} ms",
        ready.as_secs_f64(),
        first.as_secs_f64() * 1e3
    );
    println!("| host | wall ms / stream | CPU ms / stream |");
    for (name, wall, cpu) in &rows {
        println!("| {name} | {:.2} | {:.2} |", wall * 1e3, cpu * 1e3);
    }
    println!(
        "ratios edge/native: wall {:.2}, CPU {:.2}",
        rows[0].1 / rows[1].1,
        rows[0].2 / rows[1].2
    );
}
