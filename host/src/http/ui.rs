//! The dashboard's files: the page, its script and style, the playground's captured samples
//! and the core's wasm build (made by `host/build.rs`), all embedded in the binary so it serves
//! the whole UI from any working directory, with nothing to build or install at run time.
//!
//! `ui_dir` (env `CCP_UI_DIR`) serves the page's files from a folder instead, read on every
//! request: for working on the dashboard without a rebuild. Only the names below are served, so
//! no request path reaches the disk.

use crate::http::state::{AppState, error_response};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use proxy_core::ErrorType;
use std::sync::Arc;

/// One servable file: its name under `/ui/`, its type, its embedded bytes.
struct Asset {
    name: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
}

const PAGE: Asset = Asset {
    name: "index.html",
    mime: "text/html; charset=utf-8",
    bytes: include_bytes!("ui/index.html"),
};

const FILES: &[Asset] = &[
    Asset {
        name: "app.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("ui/app.js"),
    },
    Asset {
        name: "app.css",
        mime: "text/css; charset=utf-8",
        bytes: include_bytes!("ui/app.css"),
    },
    Asset {
        name: "samples.json",
        mime: "application/json",
        bytes: include_bytes!("ui/samples.json"),
    },
];

const WASM: &[Asset] = &[
    Asset {
        name: "proxy_web.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/ui-wasm/proxy_web.js")),
    },
    Asset {
        name: "proxy_web_bg.wasm",
        mime: "application/wasm",
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/ui-wasm/proxy_web_bg.wasm")),
    },
];

/// The page's policy: its own origin only, wasm allowed, no inline script or style.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `GET /`: the page.
pub async fn page(State(st): State<Arc<AppState>>) -> Response {
    let mut r = serve(&st, &PAGE).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

/// `GET /ui/{file}`: the script, the style, the samples.
pub async fn file(State(st): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    match FILES.iter().find(|a| a.name == name) {
        Some(a) => serve(&st, a).await,
        None => not_found(),
    }
}

/// `GET /ui/wasm/{file}`: the core's wasm build and its JS glue.
pub async fn wasm(State(st): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some(a) = WASM.iter().find(|a| a.name == name) else {
        return not_found();
    };
    let cfg = st.cfg();
    let bytes = match &cfg.web_dir {
        Some(dir) => match tokio::fs::read(dir.join(a.name)).await {
            Ok(b) => bytes::Bytes::from(b),
            Err(e) => {
                return error_response(
                    ErrorType::NotFoundError,
                    &format!(
                        "web_dir: cannot read {}: {e} (unset web_dir to use the built-in copy)",
                        a.name
                    ),
                    None,
                );
            }
        },
        None => bytes::Bytes::from_static(a.bytes),
    };
    if bytes.is_empty() {
        return error_response(
            ErrorType::NotFoundError,
            "this binary was built without the playground's wasm (the wasm32-unknown-unknown target was missing): `rustup target add wasm32-unknown-unknown`, then build again",
            None,
        );
    }
    typed(bytes, a.mime)
}

async fn serve(st: &AppState, a: &Asset) -> Response {
    let cfg = st.cfg();
    let bytes = match &cfg.ui_dir {
        Some(dir) => match tokio::fs::read(dir.join(a.name)).await {
            Ok(b) => bytes::Bytes::from(b),
            Err(e) => {
                return error_response(
                    ErrorType::NotFoundError,
                    &format!("ui_dir: cannot read {}: {e}", a.name),
                    None,
                );
            }
        },
        None => bytes::Bytes::from_static(a.bytes),
    };
    typed(bytes, a.mime)
}

fn typed(bytes: bytes::Bytes, mime: &'static str) -> Response {
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // Revalidated each load: a new binary's page never runs against an old script.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn not_found() -> Response {
    error_response(ErrorType::NotFoundError, "no such file", None)
}
