//! The `accounts` subcommands: add (browser, paste, device code), import, list, remove, switch,
//! refresh, status. Exit codes: 0 success, 1 the operation failed, 2 bad usage or config.

use crate::accounts::import::{describe, import_report, save};
use crate::accounts::login;
use crate::accounts::store::{Store, StoredAccount};
use crate::accounts::{Pool, TokenFailure, tag_of};
use crate::clock::now_secs;
use crate::config::Config;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

pub(crate) fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

pub(crate) fn open_store(cfg: &Config) -> Result<Store, ExitCode> {
    Store::open(&cfg.data_dir).map_err(|e| {
        eprintln!(
            "error: cannot open the account store in {}: {e}",
            cfg.data_dir.display()
        );
        ExitCode::FAILURE
    })
}

/// How `accounts add` signs in.
pub struct AddOptions {
    /// Print the URL and read the pasted callback instead of serving it.
    pub no_browser: bool,
    /// Use the device-code flow.
    pub device: bool,
    /// Listen on exactly this callback port.
    pub callback_port: Option<u16>,
}

/// `accounts add`.
pub async fn add(cfg: &Config, o: AddOptions) -> ExitCode {
    let store = match open_store(cfg) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let second = !store.load().0.is_empty();
    let client = client();
    let result = if o.device {
        login::device_login(
            &client,
            &cfg.oauth_issuer,
            |url, code| {
                eprintln!("Open {url} in a browser and enter the code:\n\n    {code}\n");
                eprint!("Waiting for confirmation");
            },
            || {
                eprint!(".");
                let _ = std::io::stderr().flush();
            },
        )
        .await
        .inspect(|_| eprintln!())
    } else if o.no_browser {
        let port = o.callback_port.unwrap_or(login::CALLBACK_PORTS[0]);
        match login::start(&cfg.oauth_issuer, port, second) {
            Err(e) => Err(e),
            Ok(p) => {
                eprintln!(
                    "Open this URL in a browser, sign in, then paste the URL the browser ends on (it starts with {}):\n\n{}\n",
                    p.redirect_uri, p.url
                );
                eprint!("> ");
                let _ = std::io::stderr().flush();
                let mut line = String::new();
                let _ = std::io::stdin().lock().read_line(&mut line);
                let (code, state) = login::parse_pasted(&line);
                if state.as_deref().is_some_and(|s| s != p.state) {
                    Err(login::LoginError(
                        "the pasted URL belongs to another sign-in (state mismatch)".into(),
                    ))
                } else if code.is_empty() {
                    Err(login::LoginError("nothing was pasted".into()))
                } else {
                    login::exchange(
                        &client,
                        &cfg.oauth_issuer,
                        &code,
                        &p.redirect_uri,
                        &p.pkce.verifier,
                    )
                    .await
                }
            }
        }
    } else {
        match login::bind_callback(o.callback_port).await {
            Err(e) => Err(e),
            Ok(listener) => {
                let port = listener
                    .local_addr()
                    .map(|a| a.port())
                    .unwrap_or(login::CALLBACK_PORTS[0]);
                match login::start(&cfg.oauth_issuer, port, second) {
                    Err(e) => Err(e),
                    Ok(p) => {
                        eprintln!(
                            "Opening the browser to sign in. If it does not open, visit:\n\n{}\n",
                            p.url
                        );
                        open_browser(&p.url);
                        match login::wait_callback(listener, Duration::from_secs(600)).await {
                            Err(e) => Err(e),
                            Ok((_, state)) if state != p.state => Err(login::LoginError(
                                "the callback belongs to another sign-in (state mismatch)".into(),
                            )),
                            Ok((code, _)) => {
                                login::exchange(
                                    &client,
                                    &cfg.oauth_issuer,
                                    &code,
                                    &p.redirect_uri,
                                    &p.pkce.verifier,
                                )
                                .await
                            }
                        }
                    }
                }
            }
        }
    };
    match result {
        Ok(a) => match save(&store, &a) {
            Ok(replaced) => {
                println!(
                    "{} {}",
                    if replaced { "Updated" } else { "Added" },
                    describe(&a)
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("cannot save the account: {e}")),
        },
        Err(e) => fail(e),
    }
}

fn open_browser(url: &str) {
    let cmd = std::env::var("CCP_BROWSER").unwrap_or_else(|_| {
        if cfg!(target_os = "macos") {
            "open".into()
        } else {
            "xdg-open".into()
        }
    });
    let _ = std::process::Command::new(cmd)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

pub(crate) fn find(store: &Store, key: &str) -> Option<StoredAccount> {
    store.load().0.into_iter().find(|a| {
        a.account_id == key || a.email.as_deref() == Some(key) || tag_of(&a.account_id) == key
    })
}

/// `accounts list`.
pub fn list(cfg: &Config) -> ExitCode {
    let store = match open_store(cfg) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let (accounts, bad) = store.load();
    let active = store.index().active;
    if accounts.is_empty() {
        println!(
            "No ChatGPT accounts. Add one with `codex-claude-proxy accounts add` or `accounts import`."
        );
    }
    let now = now_secs();
    for a in &accounts {
        let expiry = match a.expires_at {
            Some(e) if e > now => format!("token valid {}h", (e - now) / 3600),
            Some(_) => "token expired (refreshes on use)".into(),
            None => "expiry unknown".into(),
        };
        let status = match &a.relogin_reason {
            Some(r) => format!("RE-LOGIN NEEDED ({r})"),
            None => expiry,
        };
        let mark = if active.as_deref() == Some(a.account_id.as_str()) {
            "*"
        } else {
            " "
        };
        println!("{mark} {}  {}", describe(a), status);
    }
    for b in &bad {
        eprintln!("warning: unreadable account file {b}");
    }
    ExitCode::SUCCESS
}

/// `accounts remove`.
pub fn remove(cfg: &Config, key: &str) -> ExitCode {
    let store = match open_store(cfg) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let Some(a) = find(&store, key) else {
        return fail(format!("no account matches `{key}`"));
    };
    match store.lock().and_then(|l| store.remove(&l, &a.account_id)) {
        Ok(_) => {
            println!("Removed {}", describe(&a));
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `accounts switch`: the sticky strategy prefers this account for sessionless requests.
pub fn switch(cfg: &Config, key: &str) -> ExitCode {
    let store = match open_store(cfg) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let Some(a) = find(&store, key) else {
        return fail(format!("no account matches `{key}`"));
    };
    let r = store.lock().and_then(|l| {
        let mut index = store.index();
        index.active = Some(a.account_id.clone());
        store.write_index(&l, &index)
    });
    match r {
        Ok(()) => {
            println!("Active account: {}", describe(&a));
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `accounts refresh [KEY] [--all]`.
pub async fn refresh(cfg: &Config, key: Option<&str>) -> ExitCode {
    let pool = Pool::load(&cfg.data_dir, client(), cfg.oauth_issuer.clone());
    let now = now_secs();
    let mut failed = 0;
    let mut matched = 0;
    for slot in pool.all() {
        let a = slot.snapshot();
        if let Some(k) = key
            && a.account_id != k
            && a.email.as_deref() != Some(k)
            && tag_of(&a.account_id) != k
        {
            continue;
        }
        matched += 1;
        // Force: treat the current token as stale.
        match pool.refresh(&slot, Some(&a.access_token), now).await {
            Ok(()) => println!("Refreshed {}", describe(&a)),
            Err(TokenFailure::Relogin(r)) => {
                failed += 1;
                println!(
                    "RE-LOGIN NEEDED {} ({r}): run `codex-claude-proxy accounts add`",
                    describe(&a)
                );
            }
            Err(TokenFailure::Transient(m)) => {
                failed += 1;
                println!("Failed {}: {m}", describe(&a));
            }
        }
    }
    if matched == 0 {
        return fail(match key {
            Some(k) => format!("no account matches `{k}`"),
            None => "no accounts".into(),
        });
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `accounts status`: each account with its live quota from `wham/usage`.
pub async fn status(cfg: &Config) -> ExitCode {
    let pool = Pool::load(&cfg.data_dir, client(), cfg.oauth_issuer.clone());
    if pool.is_empty() {
        println!("No ChatGPT accounts.");
        return ExitCode::SUCCESS;
    }
    let client = client();
    let now = now_secs();
    let mut failed = 0;
    for slot in pool.all() {
        let a = slot.snapshot();
        print!("{}: ", describe(&a));
        if let Some(r) = &a.relogin_reason {
            println!("RE-LOGIN NEEDED ({r})");
            failed += 1;
            continue;
        }
        let token = match pool.token(&slot, now).await {
            Ok(t) => t,
            Err(e) => {
                println!("no token ({e:?})");
                failed += 1;
                continue;
            }
        };
        match crate::accounts::quota::fetch_usage(
            &client,
            &cfg.codex_base_url,
            &a.account_id,
            &token,
        )
        .await
        {
            Ok(u) => println!("{}", crate::accounts::quota::describe_usage(&u, now)),
            Err(e) => {
                failed += 1;
                println!("usage unavailable: {e}");
            }
        }
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `accounts import [FILE]`.
pub fn import(cfg: &Config, file: Option<&std::path::Path>) -> ExitCode {
    match import_report(cfg, file) {
        Ok((lines, errors)) => {
            for l in lines {
                println!("{l}");
            }
            if errors > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(e),
    }
}

/// Rewrite one account forever (each write a little different and large enough to take
/// several syscalls), printing a dot after each; the crash-safety test kills it mid-write.
pub fn stress_write(cfg: &Config) -> ExitCode {
    let store = match open_store(cfg) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let mut out = std::io::stdout().lock();
    for n in 0u64.. {
        let a = StoredAccount {
            account_id: "stress".into(),
            email: Some(format!("stress-{n}@example.com")),
            plan_type: Some("plus".into()),
            access_token: "a".repeat(64 * 1024 + (n as usize % 4096)),
            refresh_token: Some(format!("rt-{n}")),
            id_token: None,
            expires_at: Some(n),
            last_refresh: Some(n),
            added_at: 0,
            relogin_reason: None,
        };
        if let Err(e) = save(&store, &a) {
            return fail(e);
        }
        let _ = out.write_all(b".");
        let _ = out.flush();
    }
    ExitCode::SUCCESS
}

/// `codex-claude-proxy models`: each account's catalog, as the Codex lane uses it.
pub async fn models(cfg: &Config) -> ExitCode {
    let pool = Pool::load(&cfg.data_dir, client(), cfg.oauth_issuer.clone());
    if pool.is_empty() {
        println!(
            "No ChatGPT accounts: the Codex lane has no models. Add one with `codex-claude-proxy accounts add`."
        );
        return ExitCode::SUCCESS;
    }
    let client = client();
    let catalogs = crate::accounts::catalog::Catalogs::default();
    let ua = crate::http::lanes::codex_user_agent(&cfg.codex_client_version);
    let src = crate::accounts::catalog::Source {
        client: &client,
        base_url: &cfg.codex_base_url,
        client_version: &cfg.codex_client_version,
        user_agent: &ua,
    };
    let now = now_secs();
    let mut failed = 0;
    for slot in pool.all() {
        let a = slot.snapshot();
        println!(
            "{} (plan {}):",
            describe(&a),
            a.plan_type.as_deref().unwrap_or("unknown")
        );
        let token = match pool.token(&slot, now).await {
            Ok(t) => t,
            Err(e) => {
                println!("  no token ({e:?})");
                failed += 1;
                continue;
            }
        };
        let Some(catalog) = catalogs.catalog(&src, &a.account_id, &token).await else {
            println!("  the model catalog could not be fetched");
            failed += 1;
            continue;
        };
        for m in catalog.models.iter().filter(|m| m.listed) {
            println!(
                "  {:<22} {:<7} efforts {:<32} window {:>7}  {}",
                m.slug,
                match m.profile {
                    proxy_core::Profile::Lite => "lite",
                    proxy_core::Profile::Classic => "classic",
                },
                m.efforts.join(","),
                m.input_window().map_or("?".into(), |w| w.to_string()),
                if m.has_priority_tier() {
                    "fast tier"
                } else {
                    ""
                }
            );
        }
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
