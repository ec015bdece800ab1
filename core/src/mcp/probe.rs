//! Makes rmcp's era probe robust against slow starters.
//!
//! rmcp's `Auto` lifecycle sends `server/discover`, and if no answer comes within 10 s (a
//! server that `npx` is still downloading, say) it falls back to `initialize`. A legacy server
//! then answers the old probe first — an error for the discover id — and rmcp's initialize
//! treats that stale answer as fatal ("uncorrelated error response"). This transport wrapper
//! drops answers to a discover probe once `initialize` has been sent: by then nobody waits
//! for them.

use std::future::Future;

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
}

impl<T> ProbeFilter<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self {
            inner,
            discover_ids: Vec::new(),
            initialize_sent: false,
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
                continue;
            }
            return Some(message);
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
