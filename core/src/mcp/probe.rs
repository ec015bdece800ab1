//! Makes rmcp's era probe robust against slow starters.
//!
//! rmcp's `Auto` lifecycle sends `server/discover`, and if no answer comes within 10 s (a
//! server that `npx` is still downloading, say) it falls back to `initialize`. A legacy server
//! then answers the old probe first — an error for the discover id — and rmcp's initialize
//! treats that stale answer as fatal ("uncorrelated error response"). This transport wrapper
//! drops answers to a discover probe once `initialize` has been sent: by then nobody waits
//! for them.
//!
//! A slow server of the 2026-07-28 era only, though, answers the old probe with success and
//! then refuses the `initialize` (its connection already serves the new era). The filter
//! notes such a late success (`late_modern`); the handshake's error then carries
//! [`LateDiscover`], and the runner starts the server again with `server/discover` alone,
//! which waits as long as the start timeout allows.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use rmcp::{
    RoleClient,
    model::{ClientRequest, JsonRpcMessage, RequestId},
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};

pub(crate) struct ProbeFilter<T> {
    inner: T,
    discover_ids: Vec<RequestId>,
    initialize_sent: bool,
    late_modern: Arc<AtomicBool>,
}

/// The source of a failed handshake whose server answered the discover probe with success
/// after rmcp had given up on it: a slow server of the 2026-07-28 era only.
#[derive(Debug)]
pub(crate) struct LateDiscover(pub(crate) Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for LateDiscover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server answered server/discover after the 10 s probe: {}",
            self.0
        )
    }
}

impl std::error::Error for LateDiscover {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

impl<T> ProbeFilter<T> {
    /// `late_modern` is set when a discover probe's late answer is a success.
    pub(crate) fn new(inner: T, late_modern: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            discover_ids: Vec::new(),
            initialize_sent: false,
            late_modern,
        }
    }

    fn is_stale(&self, message: &RxJsonRpcMessage<RoleClient>) -> bool {
        if !self.initialize_sent {
            return false;
        }
        let id = match message {
            JsonRpcMessage::Response(r) => Some(&r.id),
            JsonRpcMessage::Error(e) => e.id.as_ref(),
            _ => None,
        };
        id.is_some_and(|id| self.discover_ids.contains(id))
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for ProbeFilter<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        if let JsonRpcMessage::Request(r) = &item {
            match &r.request {
                ClientRequest::DiscoverRequest(_) => self.discover_ids.push(r.id.clone()),
                ClientRequest::InitializeRequest(_) => self.initialize_sent = true,
                _ => {}
            }
        }
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            let message = self.inner.receive().await?;
            if self.is_stale(&message) {
                tracing::debug!("dropping a late answer to the server/discover probe");
                if matches!(message, JsonRpcMessage::Response(_)) {
                    self.late_modern.store(true, Ordering::SeqCst);
                }
                continue;
            }
            return Some(message);
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
