//! The drain order's ends: the process's one shutdown token (ctrl-c or SIGTERM) and closing the ledger
//! once every listener has stopped.
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::log::Ledger;

/// The last step of the drain order: every listener has stopped, so the sequencer is drained, the final
/// checkpoint signed and the store closed.
pub async fn close(ledger: Arc<Ledger>) -> anyhow::Result<()> {
    let l = ledger.clone();
    tokio::task::spawn_blocking(move || l.close()).await?;
    tracing::info!(size = ledger.latest().size, "server stopped");
    Ok(())
}

/// The process's one shutdown token: cancelled on the first ctrl-c or SIGTERM. Every listener and
/// background task holds a child of it, so one signal stops them all, in the drain order the caller
/// writes: stop accepting and finish in-flight requests, then [`close`] the ledger.
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
