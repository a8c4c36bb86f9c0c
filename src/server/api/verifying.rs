//! SubmitBatch's verification stage: one thread hands the batches to the verification pool (rayon's) one
//! after another, in the order they arrived, each on the whole pool.
//!
//! Issue 14. Left to the pool, the batches in flight were interleaved: at 200k entries with 4 batches of
//! 256 in flight, each took 26 ms to verify at the median (9.5 ms one at a time), they reached the
//! sequencer together and waited there 20 ms (8 ms in turn), and the pool had nothing to do meanwhile.
//! A fair semaphore in front of `spawn_blocking` put them in turn, but between two batches the turn went
//! through a semaphore, a tokio task, a blocking thread and the pool's wake-up: each pool thread slept
//! about once per batch and the machine was 8 % idle. Here the thread that finishes a batch starts the
//! next one itself.
//!
//! Small batches would leave threads idle one at a time: batches queued together are verified together
//! while they hold fewer than [`MERGE`] envelopes in all.
use std::sync::mpsc::{Receiver, Sender};

use tonic::Status;

use super::status;
use crate::error::{Error, Kind};

/// Envelopes up to which queued batches are verified together (a batch of this many keeps the pool's
/// threads busy on its own).
pub const MERGE: usize = 64;

/// One batch's work: `n` envelopes, and what verifies them and answers the request.
struct Work {
    n: usize,
    run: Box<dyn FnOnce() + Send>,
}

/// The verification queue of one server (see the module's documentation).
#[derive(Debug)]
pub struct VerifyQueue {
    /// None when the thread could not be started: batches are then refused with UNAVAILABLE.
    tx: Option<Sender<Work>>,
}

impl VerifyQueue {
    /// Start the queue's thread (`accord-verify`); it ends when the queue is dropped.
    pub fn start() -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Work>();
        match std::thread::Builder::new().name("accord-verify".into()).spawn(move || dispatch(&rx)) {
            Ok(_) => Self { tx: Some(tx) },
            Err(e) => {
                tracing::error!(error = %e, "cannot start the verification thread; SubmitBatch is refused");
                Self { tx: None }
            }
        }
    }

    /// Run `f`, the verification of a batch of `n` envelopes, in its turn, and wait for it.
    pub async fn verify<T: Send + 'static>(
        &self,
        n: usize,
        f: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Status> {
        let stopped = || status(Error::new(Kind::Unavailable, "", "the verification thread is not running"));
        let (reply, answer) = tokio::sync::oneshot::channel();
        let work = Work {
            n,
            run: Box::new(move || {
                let _ = reply.send(f());
            }),
        };
        self.tx.as_ref().ok_or_else(stopped)?.send(work).map_err(|_| stopped())?;
        // A panic in `f` drops `reply`: that request fails, the queue goes on.
        answer.await.map_err(|_| status(Error::internal("verifying the batch failed")))?.map_err(status)
    }
}

/// The queue's thread: each batch in turn, or a few small ones together.
fn dispatch(rx: &Receiver<Work>) {
    use rayon::prelude::*;
    let mut next: Option<Work> = None;
    loop {
        let first = match next.take() {
            Some(w) => w,
            None => match rx.recv() {
                Ok(w) => w,
                Err(_) => return,
            },
        };
        let mut n = first.n;
        let mut group = vec![first];
        while n < MERGE {
            match rx.try_recv() {
                Ok(w) if n.saturating_add(w.n) <= MERGE => {
                    n = n.saturating_add(w.n);
                    group.push(w);
                }
                Ok(w) => {
                    next = Some(w);
                    break;
                }
                Err(_) => break,
            }
        }
        let run = |w: Work| {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(w.run)).is_err() {
                tracing::error!("verifying a batch panicked; its request fails and the queue goes on");
            }
        };
        match group.len() {
            1 => group.into_iter().for_each(run),
            _ => group.into_par_iter().for_each(run),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{VerifyQueue, MERGE};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// Batches are verified in arrival order, a large one alone; small ones queued together share the
    /// pool; a panicking batch fails alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_are_verified_in_turn_and_small_ones_together() {
        let q = Arc::new(VerifyQueue::start());
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        // The first batch holds the thread until released, so that the others queue behind it.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = {
            let (q, log) = (q.clone(), log.clone());
            tokio::spawn(async move {
                q.verify(256, move || {
                    held.recv().ok();
                    log.lock().unwrap().push("first".into());
                    Ok(())
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut queued = Vec::new();
        for (name, n) in [("large", 256), ("small-a", 1), ("small-b", MERGE - 1), ("small-c", 1)] {
            let (q, log) = (q.clone(), log.clone());
            queued.push(tokio::spawn(async move {
                q.verify(n, move || {
                    let started = std::time::Instant::now();
                    std::thread::sleep(Duration::from_millis(30));
                    log.lock().unwrap().push(name.into());
                    Ok(started)
                })
                .await
            }));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        let mut started = Vec::new();
        for q in queued {
            started.push(q.await.unwrap().unwrap());
        }
        let log = log.lock().unwrap().clone();
        assert_eq!(log.first().map(String::as_str), Some("first"));
        assert_eq!(log.get(1).map(String::as_str), Some("large"), "{log:?}");
        // small-a and small-b (64 envelopes in all) ran together, small-c after them.
        let (a, b, c) = (started[1], started[2], started[3]);
        let apart = |x: std::time::Instant, y: std::time::Instant| x.max(y).duration_since(x.min(y));
        assert!(apart(a, b) < Duration::from_millis(25), "small-a and small-b did not run together");
        assert!(c.duration_since(a.max(b)) >= Duration::from_millis(25), "small-c joined a full group");
        assert_eq!(log.last().map(String::as_str), Some("small-c"), "{log:?}");
        // A batch that panics fails alone.
        let bad = q.verify(1, || -> Result<(), crate::error::Error> { panic!("bug") }).await;
        assert!(bad.is_err());
        assert_eq!(q.verify(1, || Ok(7)).await.unwrap(), 7);
    }
}
