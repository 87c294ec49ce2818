//! Accepting connections: the cap on open connections, hyper's header-read timeout, and graceful
//! shutdown. Requests themselves are the router's business (`api`).
//!
//! - Every accepted connection takes one place of `Limits::max_connections` and keeps it until
//!   its socket closes; the place travels with the socket into an upgraded WebSocket, so desktop
//!   sessions count too. A connection beyond the cap is closed at once, unanswered: a client or
//!   load balancer can try elsewhere instead of waiting in the accept queue.
//! - hyper closes a connection that has not sent a whole request head within
//!   `Limits::header_read_timeout` of opening or of the end of the previous response. That one
//!   timer covers silent, slow and dripping clients and idle keep-alive connections alike (hyper
//!   1.x has no separate idle timer).
//! - On shutdown: accept no more, let each connection finish its request in flight and close, and
//!   wait for that; desktop WebSockets are told to close through `App::shutdown`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::Limits;

/// Serves `router` on `listener` until `shutdown` completes, then drains as described above.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()>,
) {
    // More than the semaphore can hold is as good as no cap.
    let cap = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let places = Arc::new(Semaphore::new(cap));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // Above our own header limits (`api::head_limits`), so that what hyper would refuse
        // without a body is refused by us first, with Twilio's error body.
        .max_headers(limits.max_header_count.saturating_mul(2).max(100));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut refusing = false;
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors and the like: accepting again at once would
                        // spin, so give the process a moment (as axum::serve does).
                        tracing::error!(error = %e, "accepting a connection failed");
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                    continue;
                }
            },
        };
        // Small writes go out at once: a desktop's `result` and the `state` right after it
        // must not wait for the client's delayed ACK (Nagle's algorithm adds ~40 ms).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "TCP_NODELAY could not be set");
        }
        let Ok(place) = places.clone().try_acquire_owned() else {
            // Once per spell at the cap, so a flood of connections is not also a flood of logs.
            if !refusing {
                tracing::warn!(cap, "refusing new connections: {cap} are open");
                refusing = true;
            }
            tracing::debug!(%peer, "refused a connection");
            drop(stream);
            continue;
        };
        if refusing {
            tracing::info!("accepting connections again");
            refusing = false;
        }
        let io = TokioIo::new(Counted {
            stream,
            _place: place,
        });
        let service = TowerToHyperService::new(router.clone());
        let connection = http.serve_connection(io, service).with_upgrades();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                r = connection.as_mut() => r,
                () = async { drop(stop.wait_for(|down| *down).await) } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                // Timeouts, resets and malformed requests: the client's doing, not ours.
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(true);
    // Each connection task holds a receiver until it ends; an upgraded connection's task ends at
    // the upgrade, and the WebSocket closes on its own (`App::shutdown`) without holding us up.
    stop_tx.closed().await;
}

/// Errors of one incoming connection (it went away before we took it), not of the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A socket that holds its place under the connection cap until it is dropped.
struct Counted {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
