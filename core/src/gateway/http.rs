//! The HTTP side: `/mcp` (rmcp's Streamable-HTTP service), the plain-HTTP routes under it
//! ([`super::rest`]), `/health`, `/metrics`, and the guard
//! in front of all of them (Host/Origin, query credentials, bearer token, body size).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{State, handler::GatewayHandler, is_loopback_host};

struct Guard {
    /// SHA-256 of the expected `Authorization` value (`None`: auth off).
    expected: Option<[u8; 32]>,
    token: String,
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
    max_body: usize,
}

fn digest(v: &[u8]) -> [u8; 32] {
    Sha256::digest(v).into()
}

pub(super) fn router(state: Arc<State>, token: &str, addr: SocketAddr) -> axum::Router {
    let mut allowed_hosts = state.options.allowed_hosts.clone();
    if !addr.ip().is_unspecified() && !addr.ip().is_loopback() {
        allowed_hosts.push(addr.ip().to_string());
    }
    let guard = Arc::new(Guard {
        expected: (!token.is_empty()).then(|| digest(format!("Bearer {token}").as_bytes())),
        token: token.to_owned(),
        allowed_hosts,
        allowed_origins: state.options.allowed_origins.clone(),
        max_body: state.options.max_body_bytes,
    });
    let config = StreamableHttpServerConfig::default()
        // Host and Origin are checked by the guard, for every route.
        .disable_allowed_hosts()
        .with_max_request_body_bytes(state.options.max_body_bytes)
        .with_cancellation_token(state.shutdown.child_token());
    let handler = GatewayHandler(state.clone());
    let mcp = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let health_state = state.clone();
    let rest = super::rest::routes(state.clone());
    let metrics_state = state;
    axum::Router::new()
        .route_service("/mcp", mcp)
        .merge(rest)
        .route(
            "/health",
            get(move || {
                let st = health_state.clone();
                async move {
                    let (up, down) = st.counts();
                    let status = if down == 0 { "ok" } else { "degraded" };
                    axum::Json(serde_json::json!({"status": status, "up": up, "down": down}))
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let st = metrics_state.clone();
                async move {
                    let (up, down) = st.counts();
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        st.metrics.render(up, down),
                    )
                }
            }),
        )
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn(move |req, next| {
            check(guard.clone(), req, next)
        }))
}

fn refuse(status: StatusCode, text: &'static str) -> Response {
    let mut r = (status, text).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

/// The host part of a `Host` header value (`[::1]:80` → `::1`).
fn host_part(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    }
}

impl Guard {
    fn host_ok(&self, req: &Request) -> bool {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()));
        let Some(host) = host else {
            return false;
        };
        let name = host_part(host);
        is_loopback_host(name)
            || self
                .allowed_hosts
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(host) || a.eq_ignore_ascii_case(name))
    }

    fn origin_ok(&self, req: &Request) -> bool {
        let Some(origin) = req.headers().get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        if self
            .allowed_origins
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
        {
            return true;
        }
        let Some(rest) = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
        else {
            return false;
        };
        is_loopback_host(host_part(rest))
    }

    /// Credentials in the query string are refused (they end up in logs and histories).
    fn query_has_credentials(&self, req: &Request) -> bool {
        let Some(q) = req.uri().query() else {
            return false;
        };
        q.split('&').any(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = k.to_ascii_lowercase();
            matches!(
                k.as_str(),
                "token" | "access_token" | "auth" | "authorization" | "bearer" | "api_key" | "key"
            ) || (!self.token.is_empty() && (v == self.token || k == self.token))
        })
    }

    fn authorized(&self, req: &Request) -> bool {
        let Some(expected) = &self.expected else {
            return true;
        };
        let Some(given) = req.headers().get(header::AUTHORIZATION) else {
            return false;
        };
        bool::from(digest(given.as_bytes()).ct_eq(expected))
    }
}

async fn check(guard: Arc<Guard>, req: Request, next: Next) -> Response {
    if !guard.host_ok(&req) {
        return refuse(StatusCode::FORBIDDEN, "forbidden Host\n");
    }
    if !guard.origin_ok(&req) {
        return refuse(StatusCode::FORBIDDEN, "forbidden Origin\n");
    }
    if req.uri().path() == "/health" {
        return next.run(req).await;
    }
    if guard.query_has_credentials(&req) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "credentials in the query string are refused; send Authorization: Bearer\n",
        );
    }
    if !guard.authorized(&req) {
        return refuse(StatusCode::UNAUTHORIZED, "missing or wrong bearer token\n");
    }
    let too_big = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > guard.max_body);
    if too_big {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::host_part;

    #[test]
    fn host_parts() {
        assert_eq!(host_part("localhost:8080"), "localhost");
        assert_eq!(host_part("[::1]:80"), "::1");
        assert_eq!(host_part("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_part("evil.example"), "evil.example");
    }
}
