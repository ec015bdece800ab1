//! E2B's control plane: the REST API at `https://api.<domain>` (create, connect, set timeout,
//! info, list, pause, kill), with `X-API-Key` auth, E2B's error bodies turned into `E2B_API`
//! errors, and bounded retries (429 honouring `Retry-After` and connection failures on every
//! call; 5xx on idempotent calls only — a create that reached the server is never replayed).
//!
//! Wire facts: `../shared/reference/e2b-protocol.md` §1 and `e2b-compat.md` §2.3/§2.5.

use std::{collections::BTreeMap, fmt, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

/// An error answer of the E2B API: its HTTP status, `error_code` (when E2B sent one) and message.
/// Attached as the `source` of `E2B_API` errors.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// E2B's machine-readable `error_code`, e.g. `sandbox_capacity_unavailable`.
    pub code: Option<String>,
    /// E2B's `message`.
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(c) = &self.code {
            write!(f, " ({c})")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ApiError {}

/// The `NewSandboxV2` body of `POST /v2/sandboxes` (protocol §1.5; compat §2.5).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSandbox {
    /// Template id or alias (`base` by default).
    #[serde(rename = "templateID")]
    pub template_id: String,
    /// Lifetime in seconds from now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Global env vars of every process.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env_vars: BTreeMap<String, String>,
    /// Metadata, used for list filtering (corral's home id, server, config hash).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Ask for an envd access token (deprecated server-side: always secured now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    /// `false` cuts the sandbox off the internet. The only snake_case field (§1.5).
    #[serde(
        rename = "allow_internet_access",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_internet_access: Option<bool>,
    /// Network rules (`allowOut`, `denyOut`, ...), passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Value>,
    /// The MCP config of an `mcp-gateway` sandbox, as the SDKs send it (§1.5 `mcp`: the API
    /// records only the server names; the gateway is started through the process API, §3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp: Option<Value>,
}

/// A sandbox as create/connect return it (protocol §1.6 `Sandbox`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxInfo {
    /// Its id.
    #[serde(rename = "sandboxID")]
    pub sandbox_id: String,
    /// Its template.
    #[serde(rename = "templateID", default)]
    pub template_id: String,
    /// envd's version.
    #[serde(default)]
    pub envd_version: String,
    /// The token envd wants as `X-Access-Token`.
    #[serde(default)]
    pub envd_access_token: Option<String>,
    /// The base domain of sandbox traffic, when not the configured one.
    #[serde(default)]
    pub domain: Option<String>,
}

/// A sandbox as `GET /v2/sandboxes` and `GET /sandboxes/{id}` return it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedSandbox {
    /// Its id.
    #[serde(rename = "sandboxID")]
    pub sandbox_id: String,
    /// Its template.
    #[serde(rename = "templateID", default)]
    pub template_id: String,
    /// `running` or `paused`.
    #[serde(default)]
    pub state: String,
    /// RFC 3339.
    #[serde(default)]
    pub started_at: String,
    /// RFC 3339: when its timeout ends it.
    #[serde(default)]
    pub end_at: String,
    /// Its metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// Retry bounds.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (the first included).
    pub attempts: u32,
    /// First backoff.
    pub base: Duration,
    /// Longest single wait (also caps `Retry-After`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// The control-plane client.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    key: String,
    retry: RetryPolicy,
    request_timeout: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Idempotent {
    Yes,
    No,
}

impl ApiClient {
    /// A client of `base` (e.g. `https://api.e2b.app`) with API key `key`.
    pub fn new(base: &str, key: &str, request_timeout: Duration) -> Result<Self> {
        super::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .user_agent(concat!("corral/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::new(ErrorKind::E2bApi, format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            retry: RetryPolicy::default(),
            request_timeout,
        })
    }

    /// Replaces the retry bounds.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `POST /v2/sandboxes`. Never retried once the request may have reached the server
    /// (except after a 429, which creates nothing).
    pub async fn create(&self, body: &NewSandbox, timeout: Duration) -> Result<SandboxInfo> {
        let body = serde_json::to_value(body).map_err(|e| internal(e.to_string()))?;
        let resp = self
            .send(
                reqwest::Method::POST,
                "/v2/sandboxes",
                &[],
                Some(&body),
                Idempotent::No,
                Some(timeout),
            )
            .await
            .map_err(|e| {
                if e.kind() == ErrorKind::Timeout {
                    Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "E2B did not answer the sandbox create within {timeout:?}; a sandbox \
                             may still have been created (it carries corral's metadata: `corral \
                             e2b gc` removes it)"
                        ),
                    )
                } else {
                    e
                }
            })?;
        parse(resp).await
    }

    /// `POST /v2/sandboxes/{id}/connect`: resumes a paused sandbox, extends (never shortens)
    /// its timeout, and returns its envd token.
    pub async fn connect(&self, id: &str, timeout: Duration) -> Result<SandboxInfo> {
        let body = serde_json::json!({ "timeout": timeout.as_secs().max(1) });
        let resp = self
            .send(
                reqwest::Method::POST,
                &format!("/v2/sandboxes/{}/connect", path_id(id)),
                &[],
                Some(&body),
                Idempotent::Yes,
                None,
            )
            .await?;
        parse(resp).await
    }

    /// `POST /sandboxes/{id}/timeout`: the sandbox ends `timeout` from now.
    pub async fn set_timeout(&self, id: &str, timeout: Duration) -> Result<()> {
        let body = serde_json::json!({ "timeout": timeout.as_secs().max(1) });
        self.send(
            reqwest::Method::POST,
            &format!("/sandboxes/{}/timeout", path_id(id)),
            &[],
            Some(&body),
            Idempotent::Yes,
            None,
        )
        .await
        .map(drop)
    }

    /// `GET /sandboxes/{id}`; `None` when E2B does not know it (404).
    pub async fn info(&self, id: &str) -> Result<Option<ListedSandbox>> {
        match self
            .send(
                reqwest::Method::GET,
                &format!("/sandboxes/{}", path_id(id)),
                &[],
                None,
                Idempotent::Yes,
                None,
            )
            .await
        {
            Ok(resp) => parse(resp).await.map(Some),
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v2/sandboxes`, every page, filtered by `metadata` and `state` (e.g. `running`).
    pub async fn list(
        &self,
        metadata: &BTreeMap<String, String>,
        state: Option<&str>,
    ) -> Result<Vec<ListedSandbox>> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        // A metadata filter is `k=v&k2=v2`, each part URL-encoded (protocol §1.4).
        let filter: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(metadata.iter())
            .finish();
        for _page in 0..1000 {
            let mut query: Vec<(&str, String)> = vec![("limit", "100".into())];
            if !filter.is_empty() {
                query.push(("metadata", filter.clone()));
            }
            if let Some(s) = state {
                query.push(("state", s.to_owned()));
            }
            if let Some(t) = &next {
                query.push(("nextToken", t.clone()));
            }
            let resp = self
                .send(
                    reqwest::Method::GET,
                    "/v2/sandboxes",
                    &query,
                    None,
                    Idempotent::Yes,
                    None,
                )
                .await?;
            next = resp
                .headers()
                .get("x-next-token")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned);
            let page: Vec<ListedSandbox> = parse(resp).await?;
            let empty = page.is_empty();
            out.extend(page);
            if next.is_none() || empty {
                break;
            }
        }
        Ok(out)
    }

    /// `POST /sandboxes/{id}/pause`; `false` when it was already paused (409).
    pub async fn pause(&self, id: &str) -> Result<bool> {
        match self
            .send(
                reqwest::Method::POST,
                &format!("/sandboxes/{}/pause", path_id(id)),
                &[],
                None,
                Idempotent::Yes,
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if status_of(&e) == Some(409) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `DELETE /sandboxes/{id}`; `false` when it was already gone (404 counts as success).
    pub async fn kill(&self, id: &str) -> Result<bool> {
        match self
            .send(
                reqwest::Method::DELETE,
                &format!("/sandboxes/{}", path_id(id)),
                &[],
                None,
                Idempotent::Yes,
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if status_of(&e) == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotent: Idempotent,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| Error::new(ErrorKind::ConfigInvalid, format!("E2B API URL: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let timeout = timeout.unwrap_or(self.request_timeout);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .header("X-API-Key", &self.key)
                .timeout(timeout);
            if let Some(b) = body {
                req = req.json(b);
            }
            let last = attempt >= self.retry.attempts;
            let wait = match req.send().await {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let retryable = status == 429
                        || (idempotent == Idempotent::Yes && matches!(status, 500 | 502..=504));
                    if !retryable || last {
                        return Err(api_error(&method, path, status, resp).await);
                    }
                    tracing::debug!(status, attempt, "E2B API: retrying");
                    retry_after
                        .map(|d| d.min(self.retry.max_delay))
                        .unwrap_or_else(|| self.backoff(attempt))
                }
                Err(e) if e.is_timeout() => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!("E2B API {method} {path} did not answer within {timeout:?}"),
                    )
                    .with_source(e));
                }
                Err(e) => {
                    // A connection that was never established sent nothing: safe to retry
                    // for every call. Anything later only for idempotent calls.
                    let safe = e.is_connect() || idempotent == Idempotent::Yes;
                    if !safe || last {
                        return Err(Error::new(
                            ErrorKind::Transport,
                            format!("E2B API {method} {path}: {e}"),
                        )
                        .with_source(e));
                    }
                    self.backoff(attempt)
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Exponential backoff with full jitter, bounded by `max_delay`.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.retry.max_delay);
        let ms = exp.as_millis().max(1) as u64;
        Duration::from_millis(ms / 2 + jitter() % (ms / 2 + 1))
    }
}

/// A little randomness for jitter (no crypto needed).
fn jitter() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let mut x = STATE.fetch_add(seed | 1, Ordering::Relaxed) ^ seed;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

fn path_id(id: &str) -> String {
    form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn internal(message: String) -> Error {
    Error::new(ErrorKind::E2bApi, message)
}

/// The HTTP status of an `E2B_API` error.
pub fn status_of(e: &Error) -> Option<u16> {
    use std::error::Error as _;
    e.source()
        .and_then(|s| s.downcast_ref::<ApiError>())
        .map(|a| a.status)
}

async fn api_error(
    method: &reqwest::Method,
    path: &str,
    status: u16,
    resp: reqwest::Response,
) -> Error {
    let text = resp.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| text.chars().take(500).collect());
    let code = body
        .get("error_code")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let api = ApiError {
        status,
        code,
        message,
    };
    Error::new(ErrorKind::E2bApi, format!("E2B API {method} {path}: {api}")).with_source(api)
}

async fn parse<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T> {
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| Error::new(ErrorKind::Transport, format!("E2B API: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        internal(format!(
            "E2B API answered with an unexpected body ({e}): {}",
            String::from_utf8_lossy(&bytes)
                .chars()
                .take(300)
                .collect::<String>()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sandbox_uses_e2b_field_names() {
        let mut body = NewSandbox {
            template_id: "base".into(),
            timeout: Some(60),
            allow_internet_access: Some(false),
            ..NewSandbox::default()
        };
        body.metadata.insert("corral.home".into(), "h".into());
        let v = serde_json::to_value(&body).expect("serializes");
        assert_eq!(
            v,
            serde_json::json!({"templateID": "base", "timeout": 60,
                               "allow_internet_access": false,
                               "metadata": {"corral.home": "h"}})
        );
    }

    #[test]
    fn backoff_is_bounded() {
        let c = ApiClient::new("http://127.0.0.1:1", "k", Duration::from_secs(1)).expect("client");
        for attempt in 1..40 {
            assert!(c.backoff(attempt) <= c.retry.max_delay);
        }
    }
}
