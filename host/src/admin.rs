//! Admin routes. They refuse cross-site requests: a browser page on another origin cannot
//! drive them (Origin must be this proxy's own, or absent as from curl), and JSON bodies only.

use crate::server::{ApiError, AppState};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use proxy_core::ErrorType;
use proxy_core::providers::{FreeModel, fallback_free_models, parse_free_models};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long a discovered model list is reused.
const TTL: Duration = Duration::from_secs(600);

/// Cached Kilo free-model discovery.
#[derive(Default)]
pub struct KiloModels {
    cache: Mutex<Option<(Instant, Vec<FreeModel>)>>,
}

impl KiloModels {
    /// The free models and where the list came from (`live`, `cache` or `fallback`).
    pub async fn get(&self, st: &AppState) -> (Vec<FreeModel>, &'static str) {
        let mut cache = self.cache.lock().await;
        if let Some((at, list)) = cache.as_ref()
            && at.elapsed() < TTL
        {
            return (list.clone(), "cache");
        }
        let Some(kilo) = st.cfg.providers.iter().find(|p| p.name == "kilo") else {
            return (fallback_free_models(), "fallback");
        };
        let url = format!("{}/models", kilo.base_url.trim_end_matches('/'));
        let fetched = async {
            let r = st
                .client
                .get(url)
                .header("http-referer", "https://kilo.ai")
                .header("x-kilocode-machineid", &st.machine_id)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .ok()?;
            if !r.status().is_success() {
                return None;
            }
            parse_free_models(&r.text().await.ok()?).filter(|l| !l.is_empty())
        }
        .await;
        match fetched {
            Some(list) => {
                *cache = Some((Instant::now(), list.clone()));
                (list, "live")
            }
            None => (fallback_free_models(), "fallback"),
        }
    }
}

/// Refuse requests a foreign web page could make.
pub fn same_origin(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get("origin").and_then(|o| o.to_str().ok()) else {
        return Ok(());
    };
    let port = st.cfg.port;
    let ok = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|h| origin == format!("http://{h}:{port}"));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorType::PermissionError,
            "cross-origin requests to admin routes are refused",
        ))
    }
}

/// `GET /kilo/models`: Kilo's free models (discovered, cached, or the fallback list).
pub async fn kilo_models(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = same_origin(&st, &headers) {
        return e.into_response();
    }
    let (models, source) = st.kilo.get(&st).await;
    axum::Json(json!({"source": source, "models": models})).into_response()
}
