//! Who is asking: the bearer credential of a request, the admin token
//! check, and the client's address (for rate limits and audit records).

use std::net::{IpAddr, SocketAddr};

use sha2::{Digest, Sha256};
use warp::http::HeaderMap;

use super::error::ApiError;

/// The address a request's connection came from, set by the listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionAddr(pub SocketAddr);

/// The header NuGet clients send an API key in.
pub const API_KEY_HEADER: &str = "x-nuget-apikey";

/// Compares secrets by their digests, so the time taken does not reveal how
/// much of a guess was right.
pub fn same_secret(expected: &str, presented: &str) -> bool {
    Sha256::digest(expected.as_bytes()) == Sha256::digest(presented.as_bytes())
}

/// The operator API answers only to the configured admin token, and not at
/// all when none is configured.
pub fn require_admin(admin_token: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = admin_token else {
        return Err(ApiError::unauthorized(
            "the operator API is disabled: no admin_token is configured",
        ));
    };
    match bearer(headers)? {
        Some(presented) if same_secret(expected, presented) => Ok(()),
        Some(_) => Err(ApiError::unauthorized("invalid admin token")),
        None => Err(ApiError::unauthorized(
            "missing credentials: send 'Authorization: Bearer <admin token>'",
        )),
    }
}

/// The credential of an `Authorization: Bearer` header; none when the header
/// is absent or not a bearer credential. Two `Authorization` headers are
/// ambiguous (which one did a proxy check?), so they are refused, not chosen
/// between.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = single_header(headers, "authorization")? else {
        return Ok(None);
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return Ok(None);
    };
    let token = token.trim();
    Ok((scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token))
}

/// The client's address: the last one in the configured proxy header when
/// there is a valid one (a client can prepend anything; only what the
/// trusted proxy appended last is trusted), else the connection's.
pub fn client_ip(
    headers: &HeaderMap,
    remote: Option<SocketAddr>,
    header: Option<&str>,
) -> Option<IpAddr> {
    let from_proxy = header.and_then(|name| {
        let last_value = headers.get_all(name).iter().next_back()?;
        let last = last_value.to_str().ok()?.rsplit(',').next()?;
        last.trim().parse::<IpAddr>().ok()
    });
    from_proxy.or(remote.map(|a| a.ip()))
}

/// A header that may appear at most once; `None` when absent or not text.
pub fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::bad_request(format!(
            "the request has more than one {name} header: send exactly one"
        )));
    }
    Ok(first.and_then(|v| v.to_str().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::StatusCode;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn the_client_is_the_last_address_the_trusted_proxy_appended() {
        let remote = Some(SocketAddr::from(([10, 0, 0, 9], 443)));
        let proxy = Some("x-forwarded-for");
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1, 2.2.2.2"),
            ("x-forwarded-for", "6.6.6.6, 203.0.113.7"),
        ]);
        // The client wrote 1.1.1.1 and 6.6.6.6 itself; the proxy appended the last.
        assert_eq!(client_ip(&h, remote, proxy), Some([203, 0, 113, 7].into()));
        // Without the setting the header is ignored.
        assert_eq!(client_ip(&h, remote, None), Some([10, 0, 0, 9].into()));
        // Missing or garbage: the connection's address.
        assert_eq!(
            client_ip(&headers(&[]), remote, proxy),
            Some([10, 0, 0, 9].into())
        );
        let garbage = headers(&[("x-forwarded-for", "203.0.113.7, not-an-ip")]);
        assert_eq!(
            client_ip(&garbage, remote, proxy),
            Some([10, 0, 0, 9].into())
        );
    }

    #[test]
    fn one_authorization_header_is_read_and_two_are_refused() {
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer abc")])).expect("one"),
            Some("abc")
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "Basic abc")])).expect("one"),
            None
        );
        assert_eq!(bearer(&headers(&[])).expect("none"), None);
        let two = headers(&[("authorization", "Bearer a"), ("authorization", "Bearer a")]);
        assert_eq!(
            bearer(&two).expect_err("two").status,
            StatusCode::BAD_REQUEST
        );
    }
}
