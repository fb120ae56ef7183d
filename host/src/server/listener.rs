//! Accepting connections. warp's own `serve` has no deadlines, so a client
//! sending its headers or its body a byte at a time could hold a connection
//! and a task for as long as it liked. Here hyper gets a deadline for the
//! request head, and each request body one of its own: a body not received
//! in time ends the request with a 408 JSON error. A malformed header line
//! is dropped rather than failing the whole request, so the answer is
//! trustpub's JSON, not hyper's empty 400; a head that cannot be parsed at
//! all gets JSON too (`parse_errors.rs`). The connection's address
//! reaches the filters as a request extension (`auth::ConnectionAddr`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use warp::http::StatusCode;

use super::auth::ConnectionAddr;
use super::parse_errors::JsonParseErrors;
use super::{ApiError, AppState, routes};

/// How long a client may take to send what it sends.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// From the connection (or the previous request) to the end of the
    /// request line and headers.
    pub head: Duration,
    /// From the end of the headers to the end of the body.
    pub body: Duration,
}

/// Serves `state`'s routes on `listener` until `shutdown` completes, then
/// lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    deadlines: Deadlines,
    shutdown: impl Future<Output = ()>,
) {
    let routes = routes(state);
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(deadlines.head)
        // A header line the parser cannot read (a NUL, a space in a name)
        // is dropped, so trustpub answers the request with its own JSON
        // error instead of hyper answering an empty 400.
        .ignore_invalid_headers(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let routes = routes.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut warp_service = warp::service(routes.clone());
            let expired = Arc::new(AtomicBool::new(false));
            let (mut parts, body) = request.into_parts();
            parts.extensions.insert(ConnectionAddr(addr));
            let body = DeadlineBody::new(body, deadlines.body, expired.clone());
            let request = hyper::Request::from_parts(parts, body);
            async move {
                let response = tower_service::Service::call(&mut warp_service, request).await?;
                if expired.load(Ordering::SeqCst) {
                    return Ok(ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "the request body was not received in time",
                    )
                    .into_response());
                }
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(JsonParseErrors::new(stream)), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A request body that fails once its deadline passes, and says so.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl DeadlineBody {
    fn new(inner: Incoming, within: Duration, expired: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(within)),
            expired,
        }
    }
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::SeqCst);
            return Poll::Ready(Some(
                Err("the request body was not received in time".into()),
            ));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
