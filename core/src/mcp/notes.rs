//! Delivers a server's progress and log notifications in the order they were read, and before
//! the answer that followed them reaches its caller.
//!
//! rmcp hands each incoming notification to a task of its own, so a report the server sent
//! just before its answer could reach the callback after the call had returned (the gateway
//! had by then stopped routing that call's notifications, and dropped it), and two reports
//! could arrive swapped. This transport wrapper takes `notifications/progress` and
//! `notifications/message` off the wire as the connection's reader sees them and queues them,
//! numbered, to one delivery task per session (so a slow callback never stalls the reader). A
//! call that has its answer waits, with [`Delivery::settled`], until everything read before
//! that answer has been delivered.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use rmcp::{
    RoleClient,
    model::{
        GetMeta, JsonRpcMessage, LoggingMessageNotificationParam, ProgressNotificationParam,
        ServerNotification,
    },
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};
use tokio::sync::{mpsc, watch};

use super::Shared;

/// A notification for the session's callbacks.
pub(super) enum Note {
    Progress(ProgressNotificationParam),
    Log(LoggingMessageNotificationParam),
}

/// How far delivery has come: notifications read from the wire, and delivered.
pub(super) struct Delivery {
    read: AtomicU64,
    delivered: watch::Sender<u64>,
}

impl Delivery {
    pub(super) fn new() -> Self {
        Self {
            read: AtomicU64::new(0),
            delivered: watch::Sender::new(0),
        }
    }

    /// Whether every notification read so far has been delivered (the common case: a call
    /// then need not wait, nor arm a timer, for [`Delivery::settled`]).
    pub(super) fn is_settled(&self) -> bool {
        *self.delivered.borrow() >= self.read.load(Ordering::SeqCst)
    }

    /// Resolves once every notification read so far has been delivered to its callback. A call
    /// awaits this after its answer came: everything the server sent before it was read first.
    pub(super) async fn settled(&self) {
        let target = self.read.load(Ordering::SeqCst);
        if *self.delivered.borrow() >= target {
            return;
        }
        let mut rx = self.delivered.subscribe();
        let _ = rx.wait_for(|done| *done >= target).await;
    }
}

/// The transport wrapper: passes everything through but progress and log notifications,
/// which it queues for the delivery task.
pub(super) struct Ordered<T> {
    inner: T,
    queue: mpsc::UnboundedSender<(u64, Note)>,
    shared: Arc<Shared>,
}

impl<T> Ordered<T> {
    /// Wraps `inner` and starts the delivery task of `shared`'s session (it ends when the
    /// transport is dropped, after delivering what was queued).
    pub(super) fn new(inner: T, shared: Arc<Shared>) -> Self {
        let (queue, mut rx) = mpsc::unbounded_channel::<(u64, Note)>();
        let target = shared.clone();
        tokio::spawn(async move {
            while let Some((seq, note)) = rx.recv().await {
                target.deliver(note);
                target.delivery.delivered.send_replace(seq);
            }
        });
        Self {
            inner,
            queue,
            shared,
        }
    }

    fn enqueue(&self, note: Note) {
        let seq = self.shared.delivery.read.fetch_add(1, Ordering::SeqCst) + 1;
        if self.queue.send((seq, note)).is_err() {
            // The delivery task is gone (runtime shutting down): nobody can wait for it.
            self.shared.delivery.delivered.send_replace(seq);
        }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Ordered<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            let message = self.inner.receive().await?;
            let JsonRpcMessage::Notification(n) = message else {
                return Some(message);
            };
            // Notifications on a `subscriptions/listen` stream go to that stream's receiver.
            if n.notification.get_meta().subscription_id().is_some() {
                return Some(JsonRpcMessage::Notification(n));
            }
            match n.notification {
                ServerNotification::ProgressNotification(p) => {
                    self.enqueue(Note::Progress(p.params));
                }
                #[allow(deprecated)] // logging is legacy-era, still sent by servers
                ServerNotification::LoggingMessageNotification(l) => {
                    self.enqueue(Note::Log(l.params));
                }
                notification => {
                    return Some(JsonRpcMessage::Notification(
                        rmcp::model::JsonRpcNotification {
                            jsonrpc: n.jsonrpc,
                            notification,
                        },
                    ));
                }
            }
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
