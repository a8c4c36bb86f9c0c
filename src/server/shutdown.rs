//! The drain order, written once ([`drain`]), and its ends: the process's one shutdown token (ctrl-c or
//! SIGTERM) and closing the ledger once every listener has stopped.
//!
//! The token tree: `serve` holds the root ([`shutdown_token`]); every listener gets a child
//! ([`spawn_listener`]) and hands children on to what it starts (gRPC: the health task and followed entry
//! streams; HTTP ports: their connections), and each witness sender is started the same way (`accord serve`),
//! so the drain waits for it too. Cancelling the root stops them all; nothing else installs a signal handler.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::ServeError;
use crate::ledger::Ledger;

/// A listener (or any task the drain waits for) running on its own task.
#[derive(Debug)]
pub struct Listener {
    name: &'static str,
    task: JoinHandle<Result<(), ServeError>>,
}

/// Start `serve` on its own task with a child of `root`. When it ends on its own (a failure), `root` is
/// cancelled too: one port down stops the whole process, in the drain order, so an orchestrator restarts it.
pub fn spawn_listener<F, Fut>(root: &CancellationToken, name: &'static str, serve: F) -> Listener
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), ServeError>> + Send + 'static,
{
    let fut = serve(root.child_token());
    let all = root.clone().drop_guard();
    let task = tokio::spawn(async move {
        let _all = all;
        let r = fut.await;
        if let Err(e) = &r {
            tracing::error!(listener = name, error = %e, "listener stopped");
        }
        r
    });
    Listener { name, task }
}

/// The one drain order of a serving process. It waits until `root` is cancelled (a signal, or a listener
/// that stopped on its own), then:
/// 1. stop accepting: every listener holds a child of `root`, so each stops accepting and lets the
///    requests in flight finish (followed entry streams and witness senders end at once);
/// 2. wait for those requests, at most `grace` (the per-request deadline, which no request may outlive);
///    listeners still busy then are abandoned and their requests fail (nothing acknowledged is lost);
/// 3. drain the sequencer: submissions already queued are integrated and committed, each commit with its
///    signed checkpoint, so every acknowledged entry is committed;
/// 4. the final checkpoint: the last commit's, recorded in the high-water record, covers every entry;
/// 5. close the store (the WAL checkpointer stops, then the write connection closes).
///
/// Steps 3–5 are [`close`]. Returns the first listener's failure, if any.
pub async fn drain(
    root: &CancellationToken,
    listeners: Vec<Listener>,
    ledger: Arc<Ledger>,
    grace: Duration,
) -> Result<(), ServeError> {
    root.cancelled().await;
    let mut failed = Ok(());
    // One deadline for all: once it has passed, it stays ready.
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    for Listener { name, mut task } in listeners {
        let done = tokio::select! {
            biased;
            r = &mut task => Some(r),
            _ = &mut deadline => None,
        };
        match done {
            Some(Ok(Ok(()))) => {}
            Some(Ok(Err(e))) => {
                if failed.is_ok() {
                    failed = Err(e);
                }
            }
            Some(Err(e)) => tracing::error!(listener = name, error = %e, "listener task failed"),
            None => {
                tracing::warn!(listener = name, ?grace, "requests still in flight after the grace period are dropped");
                task.abort();
            }
        }
    }
    close(ledger).await?;
    failed
}

/// Steps 3–5 of the drain order ([`drain`]): every listener has stopped, so the sequencer is drained, the
/// final checkpoint signed and the store closed.
pub async fn close(ledger: Arc<Ledger>) -> Result<(), ServeError> {
    let l = ledger.clone();
    tokio::task::spawn_blocking(move || l.close()).await.map_err(ServeError::Close)?;
    tracing::info!(size = ledger.latest().size, "server stopped");
    Ok(())
}

/// The process's one shutdown token: cancelled on the first ctrl-c or SIGTERM. Every listener and
/// background task holds a child of it, so one signal stops them all, in the order of [`drain`].
pub fn shutdown_token() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    let signal = shutdown_signal();
    tokio::spawn(async move {
        tokio::select! {
            _ = signal => cancel.cancel(),
            _ = cancel.cancelled() => {}
        }
    });
    token
}

/// Resolves on ctrl-c or SIGTERM.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    // The handlers are installed here, before the caller goes on (for `serve`, before it prints that it is
    // listening), not on the future's first poll: a SIGTERM that arrives in between would otherwise take
    // the default action and kill the process without a clean stop.
    #[cfg(unix)]
    let (int, term) = {
        use tokio::signal::unix::{signal, SignalKind};
        (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! { _ = wait(int) => {}, _ = wait(term) => {} }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown requested");
    }
}
