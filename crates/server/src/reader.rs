//! Reads that may be slow (statistics over days of events, long event and task lists), off the
//! core thread: a small pool of read-only connections to the database, used from blocking
//! threads. SQLite's WAL lets them read while the core commits, so a heavy read never holds up
//! a change, and the pool is smaller than the machine's cores, so it never takes all of them.
//!
//! A database in memory has one connection only; its reads run on the core thread.

use std::sync::{Arc, Mutex};

use switchboard_store::{Reads, StoreError};
use tokio::sync::Semaphore;

use crate::driver::CoreHandle;
use crate::http::ApiError;

/// The read-only connections.
#[derive(Clone)]
pub struct Readers {
    idle: Arc<Mutex<Vec<Box<dyn Reads>>>>,
    permits: Arc<Semaphore>,
    url: String,
}

impl Readers {
    /// A pool for the database at `url`, of one connection fewer than the machine has cores
    /// (at least one); `None` for a database in memory.
    pub fn open(url: &str) -> Result<Option<Readers>, StoreError> {
        let size = std::thread::available_parallelism()
            .map_or(1, |n| n.get().saturating_sub(1))
            .max(1);
        let Some(first) = switchboard_store::open_reader(url)? else {
            return Ok(None);
        };
        let mut idle = vec![first];
        for _ in 1..size {
            if let Some(r) = switchboard_store::open_reader(url)? {
                idle.push(r);
            }
        }
        Ok(Some(Readers {
            permits: Arc::new(Semaphore::new(idle.len())),
            idle: Arc::new(Mutex::new(idle)),
            url: url.to_owned(),
        }))
    }

    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Reads) -> R + Send + 'static,
    ) -> Result<R, ApiError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
        let idle = self.idle.clone();
        let url = self.url.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let taken = idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .pop();
            let mut conn = match taken {
                Some(c) => c,
                // A connection lost to a panic is replaced.
                None => switchboard_store::open_reader(&url)
                    .map_err(ApiError::store)?
                    .ok_or_else(|| ApiError::internal("the database has no reader"))?,
            };
            let r = f(conn.as_mut());
            idle.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(conn);
            Ok(r)
        })
        .await
        .map_err(|_| ApiError::internal("a read failed inside the server"))?
    }
}

/// Runs a read off the core thread when the database allows it, else on the core thread.
pub async fn read<R: Send + 'static>(
    readers: Option<&Readers>,
    core: &CoreHandle,
    f: impl FnOnce(&mut dyn Reads) -> R + Send + 'static,
) -> Result<R, ApiError> {
    match readers {
        Some(r) => r.run(f).await,
        None => core.run(move |d| f(d.store())).await,
    }
}
