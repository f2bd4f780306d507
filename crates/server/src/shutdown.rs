//! Graceful shutdown, in the order a load balancer needs: on the signal `/readyz` turns 503
//! (`draining`), the process keeps serving for `drain_delay` so health checks notice, then stops
//! accepting, lets in-flight requests finish for at most `grace`, stops its delivery worker (which
//! finishes its deliveries, bounded too, and hands back the leases of the rest), and returns.

use std::future::{Future, IntoFuture};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::AppState;

/// How a process stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownSettings {
    /// How long the process goes on serving, unready, after the signal (a load balancer's
    /// health-check interval or more). Zero by default: a single process has nobody to warn.
    pub drain_delay: Duration,
    /// The most time in-flight requests, and then deliveries, get to finish.
    pub grace: Duration,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        ShutdownSettings { drain_delay: Duration::ZERO, grace: Duration::from_secs(10) }
    }
}

/// Whether the process is going away; `/readyz` answers 503 from the signal on.
#[derive(Debug, Default)]
pub struct Shutdown {
    pub settings: ShutdownSettings,
    draining: AtomicBool,
    /// Set when the listener has stopped accepting: from then on the grace period runs.
    stopped_accepting: tokio::sync::Notify,
}

impl Shutdown {
    pub fn new(settings: ShutdownSettings) -> Shutdown {
        Shutdown { settings, ..Shutdown::default() }
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// The future a server's graceful shutdown waits on: `signal`, then unready, then the drain delay.
pub async fn drain_signal(state: Arc<AppState>, signal: impl Future<Output = ()> + Send + 'static) {
    signal.await;
    state.shutdown.draining.store(true, Ordering::SeqCst);
    let delay = state.shutdown.settings.drain_delay;
    tracing::info!(drain_delay_ms = delay.as_millis() as u64, "shutting down: unready, draining");
    tokio::time::sleep(delay).await;
    state.shutdown.stopped_accepting.notify_one();
}

/// Runs a server whose graceful shutdown waits on [`drain_signal`], cutting the wait for
/// in-flight requests to `grace` once it stopped accepting.
pub async fn bounded<F>(state: &AppState, server: F) -> std::io::Result<()>
where
    F: IntoFuture<Output = std::io::Result<()>>,
{
    let server = server.into_future();
    tokio::pin!(server);
    tokio::select! {
        done = &mut server => done,
        () = state.shutdown.stopped_accepting.notified() => {
            let grace = state.shutdown.settings.grace;
            match tokio::time::timeout(grace, &mut server).await {
                Ok(done) => done,
                Err(_) => {
                    tracing::warn!(grace_ms = grace.as_millis() as u64, "requests still running after the grace period; stopping anyway");
                    Ok(())
                }
            }
        }
    }
}
