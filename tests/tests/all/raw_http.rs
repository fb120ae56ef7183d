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

/// Heads hyper cannot parse at all are answered by hyper itself; the
/// connection's writer turns those answers into trustpub's JSON errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unparseable_head_is_answered_in_json() {
    let s = TestServer::new().without_policy().spawn().await;
    let oversize = format!(
        "GET /healthz HTTP/1.1\r\nHost: trustpub\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(600 * 1024)
    );
    let cases: [(&[u8], &str, &str); 3] = [
        (
            b"GET /hea\0lthz HTTP/1.1\r\nHost: trustpub\r\n\r\n",
            "HTTP/1.1 400",
            "cannot be parsed",
        ),
        (
            b"GET /healthz HTTP/9.9\r\nHost: trustpub\r\n\r\n",
            "HTTP/1.1 400",
            "cannot be parsed",
        ),
        (oversize.as_bytes(), "HTTP/1.1 431", "too large"),
    ];
    for (request, status, needle) in cases {
        let mut stream = connect(&s.svc.base).await;
        // A server that answers before reading everything may reset the
        // rest of a large write: what was answered is what counts.
        let _ = stream.write_all(request).await;
        let answer = read_what_arrives(&mut stream).await;
        assert!(answer.starts_with(status), "{answer}");
        assert!(
            answer.contains("content-type: application/json") && answer.contains(needle),
            "{answer}"
        );
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        assert!(json["error"].is_string(), "{json}");
    }
    // The service still serves.
    let health = s
        .svc
        .http
        .get(s.svc.url("/healthz"))
        .send()
        .await
        .expect("send");
    assert_eq!(health.status(), 200);
}

/// What the server sent before it closed or reset the connection.
async fn read_what_arrives(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout(NEVER, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&chunk[..n]),
            Ok(_) => break,
            Err(_) => panic!("the server neither answered nor closed the connection"),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}
