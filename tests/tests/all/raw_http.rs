//! Requests written by hand on a TCP socket, as no HTTP client library
//! would send them: slow clients cannot hold a connection (headers must
//! arrive within `header_timeout_seconds`, a body within
//! `body_timeout_seconds` after them), and header bytes the HTTP parser
//! refuses still get a JSON answer.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trustpub_tests::server::{OID, TestServer, entra_token};

/// Far beyond the one-second deadlines below: only a server that never
/// gives up takes this long.
const NEVER: Duration = Duration::from_secs(20);

async fn connect(base: &str) -> TcpStream {
    TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Everything the server sends until it closes the connection.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(NEVER, stream.read_to_end(&mut answer))
        .await
        .expect("the server closed the connection")
        .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_ends_in_a_408_and_headers_that_do_not_in_a_closed_connection()
{
    let s = TestServer::new()
        .settings("header_timeout_seconds = 1\nbody_timeout_seconds = 1")
        .spawn()
        .await;

    // Headers promise 100 bytes of body; none come.
    let mut stream = connect(&s.svc.base).await;
    stream
        .write_all(
            b"POST /api/v2/token HTTP/1.1\r\nHost: trustpub\r\nAuthorization: Bearer x\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user",
        )
        .await
        .expect("write");
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(r#"{"error":"the request body was not received in time"}"#),
        "{answer}"
    );

    // Headers that stop half-way: the connection is closed.
    let mut stream = connect(&s.svc.base).await;
    stream
        .write_all(b"POST /api/v2/token HTTP/1.1\r\nHost: trustpub\r\n")
        .await
        .expect("write");
    read_to_close(&mut stream).await;

    // Clients that send in time are served as ever.
    let (status, body, _) = s.svc.exchange(&entra_token(&s.entra, OID), "contoso").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_header_line_is_dropped_and_the_request_answered_in_json() {
    let s = TestServer::new().without_policy().spawn().await;
    let mut stream = connect(&s.svc.base).await;
    stream
        .write_all(
            b"POST /api/v2/token HTTP/1.1\r\nHost: trustpub\r\nAuthorization: Bearer a\x7fb\r\n\
              Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        )
        .await
        .expect("write");
    let answer = read_to_close(&mut stream).await;
    // The broken Authorization line is not a credential: no credentials at all.
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer.contains(r#"{"error":"missing credentials"#),
        "{answer}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{answer}"
    );
}
