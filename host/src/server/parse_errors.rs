//! JSON answers for request heads hyper cannot parse.
//!
//! When a request line or head does not parse (a NUL byte, a head over
//! hyper's buffer, a URI too long), hyper answers by itself — an empty
//! 400/414/431 — and closes the connection; no hook lets the application
//! word it. Every answer of trustpub is JSON, so the connection's writer
//! recognizes exactly that automatic answer (one of those statuses, no
//! `content-type`, `content-length: 0`: trustpub's own errors always carry a
//! JSON body) and sends the same status with a JSON `error` instead.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose writer replaces hyper's automatic parse-error answers.
pub struct JsonParseErrors<T> {
    inner: T,
    /// The replacement being written, and how much of it is out.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T> JsonParseErrors<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

/// The JSON answer for hyper's automatic answer in `head`, if it is one.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = std::str::from_utf8(&head[..end]).ok()?.to_ascii_lowercase();
    let (status, message) = match text.get(..13)? {
        "http/1.1 400 " => (
            "400 Bad Request",
            "the request cannot be parsed: a malformed request line or header (e.g. a NUL byte)",
        ),
        "http/1.1 414 " => ("414 URI Too Long", "the request URI is too long"),
        "http/1.1 431 " => (
            "431 Request Header Fields Too Large",
            "the request headers are too large",
        ),
        _ => return None,
    };
    if text.contains("\r\ncontent-type:") || !text.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let body = serde_json::json!({ "error": message }).to_string();
    Some(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonParseErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonParseErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            match replacement(buf) {
                Some(answer) => this.pending = Some((answer, 0)),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        // Write the whole replacement, then report hyper's bytes as written.
        while let Some((answer, written)) = &mut this.pending {
            if *written == answer.len() {
                break;
            }
            let n =
                std::task::ready!(Pin::new(&mut this.inner).poll_write(cx, &answer[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored: hyper then hands each answer over as one buffer, so the
    // head is seen whole.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::replacement;

    #[test]
    fn hypers_own_answers_become_json_and_trustpubs_are_left_alone() {
        let hyper = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let json = String::from_utf8(replacement(hyper).expect("replaced")).expect("utf-8");
        assert!(json.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"));
        assert!(json.ends_with(r#"e.g. a NUL byte)"}"#), "{json}");
        let too_large =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement(too_large).is_some());
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n{\"error\":\"x\"}";
        assert_eq!(replacement(ours), None);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(replacement(ok), None);
        let no_content = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(replacement(no_content), None);
    }
}
