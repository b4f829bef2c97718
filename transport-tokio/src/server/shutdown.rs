//! Graceful shutdown: one trigger for a whole server.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Stops a server: no new connections, every open one closed with 1001
/// `server_shutdown`, then a bounded wait for the connection tasks. Cheap to clone.
///
/// ```no_run
/// # async fn run(server: tollgate_tokio::server::Server) {
/// use std::time::Duration;
///
/// let shutdown = server.shutdown_handle();
/// tokio::spawn(async move {
///     tokio::signal::ctrl_c().await.ok();
///     shutdown.shutdown_and_wait(Duration::from_secs(5)).await;
/// });
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    token: CancellationToken,
    tasks: TaskTracker,
}

impl Default for ShutdownHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl ShutdownHandle {
    /// A trigger not yet pulled.
    #[must_use]
    pub fn new() -> Self {
        Self {
            token: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    /// Stop accepting and close every connection (1001). Returns at once.
    pub fn shutdown(&self) {
        self.tasks.close();
        self.token.cancel();
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    #[must_use]
    pub fn is_shutdown(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once [`shutdown`](Self::shutdown) is called.
    pub async fn triggered(&self) {
        self.token.cancelled().await;
    }

    /// [`shutdown`](Self::shutdown), then wait up to `grace` for every connection task
    /// (and every handler spawned by [`Server::serve`](super::Server::serve)) to end.
    /// Returns whether they all ended in time.
    pub async fn shutdown_and_wait(&self, grace: Duration) -> bool {
        self.shutdown();
        tokio::time::timeout(grace, self.tasks.wait()).await.is_ok()
    }

    /// Connection and handler tasks still running.
    #[must_use]
    pub fn running_tasks(&self) -> usize {
        self.tasks.len()
    }

    pub(crate) fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    pub(crate) fn tracker(&self) -> &TaskTracker {
        &self.tasks
    }
}
