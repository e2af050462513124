//! One exchange on the Workers runtime: the machine decides, this moves bytes. `fetch` sends
//! the prepared request, its body stream is fed back chunk by chunk, `Delay` sleeps until the
//! machine's next deadline, and the client's response is a stream the machine emits into.
//! The same loop as the native host's `relay.rs`, on the Workers APIs.

use crate::accounts;
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use proxy_core::accounts::{Candidate, Strategy, select as accounts_select};
use proxy_core::exchange::{
    ChatTarget, CodexTarget, Dialect, Exchange, ExchangeConfig, Inbound, Output, Pick, Reply,
    Target, TokenResult, UpstreamRequest, error_reply,
};
use proxy_core::{ErrorType, Lane, RoutingTable};
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use worker::kv::KvStore;
use worker::{
    ByteStream, Date, Delay, Fetch, Headers, Method, ObjectNamespace, Request, RequestInit,
    Response,
};

/// Where the lanes are.
pub struct EdgeConfig {
    /// The Kilo gateway's base URL.
    pub kilo_base_url: String,
    /// The Codex backend's base URL (egress the user runs, if chatgpt.com challenges Workers).
    pub codex_base_url: String,
    /// The account store (KV + one Durable Object per account), when bound.
    pub accounts: Option<AccountStore>,
}

/// The accounts' KV namespace and their objects.
pub struct AccountStore {
    /// `ACCOUNTS`.
    pub kv: KvStore,
    /// `ACCOUNT` (class `AccountObject`).
    pub objects: ObjectNamespace,
}

impl AccountStore {
    /// Ask an account's object (`object.rs` lists the routes).
    pub async fn call(&self, id: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let stub = self
            .objects
            .id_from_name(id)
            .and_then(|o| o.get_stub())
            .map_err(|e| e.to_string())?;
        let mut url = worker::Url::parse("http://account/").map_err(|e| e.to_string())?;
        url.set_path(path);
        url.query_pairs_mut().append_pair("id", id);
        let mut init = RequestInit::new();
        if let Some(b) = body {
            init.with_method(Method::Post)
                .with_body(Some(b.to_string().into()));
        }
        let req = Request::new_with_init(url.as_str(), &init).map_err(|e| e.to_string())?;
        let mut resp = stub
            .fetch_with_request(req)
            .await
            .map_err(|e| e.to_string())?;
        resp.json().await.map_err(|e| e.to_string())
    }
}

/// Codex CLI version the backend's headers name (as the native host).
const CODEX_VERSION: &str = "0.147.0";

fn now_ms() -> u64 {
    Date::now().as_millis()
}

/// A core reply as a Workers response.
pub fn reply(r: Reply) -> worker::Result<Response> {
    let mut resp = Response::from_bytes(r.body)?.with_status(r.status);
    for (k, v) in &r.headers {
        resp.headers_mut().set(k, v)?;
    }
    Ok(resp)
}

fn target(route: &proxy_core::Route, cfg: &EdgeConfig) -> Result<Target, String> {
    match route.lane {
        Lane::Codex => Ok(Target::Codex(CodexTarget {
            url: format!(
                "{}/codex/responses",
                cfg.codex_base_url.trim_end_matches('/')
            ),
            user_agent: format!(
                "codex_cli_rs/{CODEX_VERSION} (edge) codex-claude-proxy/{}",
                env!("CARGO_PKG_VERSION")
            ),
            version: CODEX_VERSION.into(),
        })),
        Lane::Chat => match route.provider.as_deref().unwrap_or("kilo") {
            "kilo" => Ok(Target::Chat(ChatTarget {
                url: format!(
                    "{}/chat/completions",
                    cfg.kilo_base_url.trim_end_matches('/')
                ),
                headers: vec![
                    (
                        "user-agent".into(),
                        format!("codex-claude-proxy/{} (edge)", env!("CARGO_PKG_VERSION")),
                    ),
                    ("authorization".into(), "Bearer anonymous".into()),
                    ("http-referer".into(), "https://kilo.ai".into()),
                    ("x-title".into(), "codex-claude-proxy".into()),
                    (
                        "x-kilocode-machineid".into(),
                        "codex-claude-proxy-edge".into(),
                    ),
                ],
                max_tokens_field: "max_tokens".into(),
                reasoning_style: "openrouter".into(),
            })),
            other => Err(format!(
                "route names provider `{other}`, which this Worker does not have (the edge serves Kilo's models on the Chat lane)"
            )),
        },
    }
}

fn exchange_config() -> ExchangeConfig {
    ExchangeConfig {
        relogin_hint: "push a fresh login of it with `codex-claude-proxy edge push`".into(),
        no_account_hint: "Push one to this Worker with `codex-claude-proxy edge push`".into(),
        ..ExchangeConfig::default()
    }
}

/// `POST /v1/messages` and `POST /v1/chat/completions`.
pub async fn serve(
    mut req: Request,
    dialect: Dialect,
    routing: &RoutingTable,
    cfg: EdgeConfig,
) -> worker::Result<Response> {
    let body = req.bytes().await?;
    let inbound = match Inbound::parse(dialect, &body) {
        Ok(i) => i,
        Err(f) => return reply(Reply::error(dialect, &f)),
    };
    let route = routing.route(&inbound.model);
    let target = match target(&route, &cfg) {
        Ok(t) => t,
        Err(m) => return reply(error_reply(dialect, ErrorType::ApiError, &m, None)),
    };
    let named: Vec<(&str, String)> = proxy_core::SESSION_HEADERS
        .iter()
        .chain([&proxy_core::AGENT_HEADER])
        .filter_map(|h| Some((*h, req.headers().get(h).ok().flatten()?)))
        .collect();
    let session = proxy_core::request_session(
        |h| named.iter().find(|(n, _)| *n == h).map(|(_, v)| v.as_str()),
        &inbound.value,
    );
    let stream = inbound.stream;
    let upstream_model = route.model.clone();
    // Ids only (not a secret): two draws of the runtime's generator.
    let seed = ((js_sys::Math::random() * 4_294_967_296.0) as u64) << 32
        | (js_sys::Math::random() * 4_294_967_296.0) as u64;
    let ex = Exchange::new(
        exchange_config(),
        inbound,
        body,
        target,
        route,
        session.clone(),
        seed,
        now_ms(),
    );
    let mut d = Driver {
        ex,
        link: Link::Idle,
        timer: None,
        accounts: cfg.accounts,
        session,
        upstream_model,
    };
    match d.next().await? {
        Step::Fail(r) => reply(r),
        Step::Commit(status, headers) => {
            let mut resp = if stream {
                let body = futures_util::stream::unfold(d, |mut d| async move {
                    match d.next().await {
                        Ok(Step::Emit(b)) => Some((Ok::<Vec<u8>, worker::Error>(b), d)),
                        _ => None,
                    }
                });
                Response::from_stream(body)?
            } else {
                let mut out = Vec::new();
                while let Ok(Step::Emit(b)) = d.next().await {
                    out.extend_from_slice(&b);
                }
                Response::from_bytes(out)?
            };
            resp = resp.with_status(status);
            for (k, v) in &headers {
                resp.headers_mut().set(k, v)?;
            }
            Ok(resp)
        }
        Step::Emit(_) | Step::Finish => reply(error_reply(
            dialect,
            ErrorType::ApiError,
            "internal: output before commit",
            None,
        )),
    }
}

/// `POST /v1/messages/count_tokens`: the core's counting rule with its documented estimate
/// (the edge is built without the o200k tokenizer, which alone would exceed the bundle goal).
pub async fn count_tokens(mut req: Request, routing: &RoutingTable) -> worker::Result<Response> {
    let body = req.bytes().await?;
    let value = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => {
            return reply(error_reply(
                Dialect::Anthropic,
                ErrorType::InvalidRequestError,
                "request body must be a JSON object",
                None,
            ));
        }
    };
    let model = value["model"].as_str().unwrap_or("").to_owned();
    match proxy_core::tokens::count_request(value, &routing.route(&model)) {
        Ok(n) => {
            let mut r = Response::from_json(&serde_json::json!({"input_tokens": n}))?;
            r.headers_mut().set(
                "x-proxy-token-count",
                if proxy_core::tokens::EXACT {
                    "exact"
                } else {
                    "estimate"
                },
            )?;
            Ok(r)
        }
        Err(e) => reply(error_reply(
            Dialect::Anthropic,
            e.error_type(),
            &e.to_string(),
            None,
        )),
    }
}

type Sending = Pin<Box<dyn Future<Output = worker::Result<worker::Response>>>>;

enum Link {
    Idle,
    Sending(Sending),
    Body(ByteStream),
}

enum Step {
    Commit(u16, Vec<(String, String)>),
    Emit(Vec<u8>),
    Finish,
    Fail(Reply),
}

enum Upstream {
    Head(worker::Response),
    Bytes(Vec<u8>),
    End,
    Broken(String),
}

struct Driver {
    ex: Exchange,
    link: Link,
    /// The armed timer and the deadline it was armed for.
    timer: Option<(u64, Delay)>,
    accounts: Option<AccountStore>,
    session: Option<String>,
    upstream_model: String,
}

async fn send(r: UpstreamRequest) -> worker::Result<worker::Response> {
    let headers = Headers::new();
    for (k, v) in &r.headers {
        headers.set(k, v)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(js_sys::Uint8Array::from(r.body.as_slice()).into()));
    Fetch::Request(Request::new_with_init(&r.url, &init)?)
        .send()
        .await
}

async fn next_upstream(link: &mut Link) -> Upstream {
    match link {
        Link::Idle => std::future::pending().await,
        Link::Sending(fut) => match fut.await {
            Ok(resp) => Upstream::Head(resp),
            Err(e) => Upstream::Broken(e.to_string()),
        },
        Link::Body(body) => match body.next().await {
            Some(Ok(b)) => Upstream::Bytes(b),
            Some(Err(e)) => Upstream::Broken(e.to_string()),
            None => Upstream::End,
        },
    }
}

impl Driver {
    /// The pool's answer, as the native host gives it: sticky by session over the stored
    /// accounts, each account's cooldown and re-login state from its object.
    async fn pick(&self, exclude: &[String]) -> Pick {
        let Some(a) = &self.accounts else {
            return Pick::NoAccount { configured: false };
        };
        let ids = accounts::ids(&a.kv).await.unwrap_or_default();
        let mut candidates = Vec::with_capacity(ids.len());
        for id in &ids {
            let usable = !exclude.contains(id);
            let state = if usable {
                a.call(id, "/state", Some(json!({"model": self.upstream_model})))
                    .await
                    .unwrap_or(Value::Null)
            } else {
                Value::Null
            };
            candidates.push(Candidate {
                usable: usable && state["relogin"] != true,
                cooldown_until: state["cooldown_until"].as_u64().unwrap_or(0),
                used_percent: None,
                active: false,
            });
        }
        let now = now_ms() / 1000;
        let decision = accounts_select(
            Strategy::Sticky,
            &candidates,
            self.session.as_deref(),
            0,
            now,
            u64::MAX,
        );
        Pick::from_decision(decision, &ids)
    }

    /// A token from the account's object (it refreshes, once, when needed).
    async fn token(&self, account: &str, stale: Option<&str>) -> TokenResult {
        let Some(a) = &self.accounts else {
            return TokenResult::Transient("no account store".into());
        };
        let body = json!({"now": now_ms() / 1000, "stale": stale});
        match a.call(account, "/token", Some(body)).await {
            Ok(v) => match (
                v["token"].as_str(),
                v["relogin"].as_str(),
                v["transient"].as_str(),
            ) {
                (Some(t), _, _) => TokenResult::Ready(t.to_owned()),
                (_, Some(r), _) => TokenResult::Relogin(r.to_owned()),
                (_, _, Some(m)) => TokenResult::Transient(m.to_owned()),
                _ => TokenResult::Transient("the account's object answered nothing usable".into()),
            },
            Err(e) => TokenResult::Transient(e),
        }
    }

    async fn next(&mut self) -> worker::Result<Step> {
        loop {
            while let Some(out) = self.ex.poll() {
                match out {
                    Output::PickAccount { exclude } => {
                        let pick = self.pick(&exclude).await;
                        self.ex.handle_pick(pick, now_ms());
                    }
                    Output::GetToken { account } => {
                        let r = self.token(&account, None).await;
                        self.ex.handle_token(r, now_ms());
                    }
                    Output::Refresh { account, stale } => {
                        let r = self.token(&account, Some(&stale)).await;
                        self.ex.handle_token(r, now_ms());
                    }
                    Output::CoolDown {
                        account,
                        model,
                        until,
                    } => {
                        if let Some(a) = &self.accounts {
                            let _ = a
                                .call(
                                    &account,
                                    "/cooldown",
                                    Some(json!({"model": model, "until": until})),
                                )
                                .await;
                        }
                    }
                    Output::Quota { account, limits } => {
                        if let Some(a) = &self.accounts {
                            let q = json!({"at": now_ms() / 1000, "limits": limits});
                            let _ = a.call(&account, "/quota", Some(q)).await;
                        }
                    }
                    Output::Send(r) => self.link = Link::Sending(Box::pin(send(r))),
                    Output::CloseUpstream => self.link = Link::Idle,
                    Output::Commit { status, headers } => return Ok(Step::Commit(status, headers)),
                    Output::Emit(b) => return Ok(Step::Emit(b)),
                    Output::Finish => return Ok(Step::Finish),
                    Output::Fail(r) => return Ok(Step::Fail(r)),
                }
            }
            if self.ex.is_done() {
                return Ok(Step::Finish);
            }
            // One JS timer per deadline, not per chunk: a timer that would fire no later than
            // the machine's next deadline is kept (firing early only re-arms it).
            match (self.ex.poll_timeout(), &self.timer) {
                (None, _) => self.timer = None,
                (Some(d), Some((armed, _))) if *armed <= d => {}
                (Some(d), _) => {
                    let ms = d.saturating_sub(now_ms()).min(i32::MAX as u64);
                    self.timer = Some((d, Delay::from(Duration::from_millis(ms))));
                }
            }
            let timer = async {
                match &mut self.timer {
                    Some((_, delay)) => delay.await,
                    None => std::future::pending().await,
                }
            };
            let event = match select(Box::pin(next_upstream(&mut self.link)), Box::pin(timer)).await
            {
                Either::Left((ev, _)) => Some(ev),
                Either::Right(((), _)) => None,
            };
            if event.is_none() {
                self.timer = None;
            }
            let now = now_ms();
            match event {
                None => self.ex.handle_timeout(now),
                Some(Upstream::Head(mut resp)) => {
                    let headers: Vec<(String, String)> = resp.headers().entries().collect();
                    let status = resp.status_code();
                    match resp.stream() {
                        Ok(body) => {
                            self.link = Link::Body(body);
                            self.ex.handle_head(status, &headers, now);
                        }
                        Err(_) => {
                            self.link = Link::Idle;
                            self.ex.handle_head(status, &headers, now);
                            self.ex.handle_eof(now);
                        }
                    }
                }
                Some(Upstream::Bytes(b)) => self.ex.handle_bytes(&b, now),
                Some(Upstream::End) => {
                    self.link = Link::Idle;
                    self.ex.handle_eof(now);
                }
                Some(Upstream::Broken(m)) => {
                    self.link = Link::Idle;
                    self.ex.handle_transport_error(&m, now);
                }
            }
        }
    }
}
