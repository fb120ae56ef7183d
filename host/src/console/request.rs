//! What a console request carries (the state, its session cookie, headers,
//! the client's address), and the checks before a page or a change: a live
//! session for everything but sign-in, and for every change also the
//! session's CSRF token and, when the browser sends one, an `Origin` that is
//! this console's own.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use warp::Filter;
use warp::http::{HeaderMap, StatusCode};

use super::page::{self, Notice, Reply};
use super::session::{COOKIE, Session};
use crate::operator::Actor;
use crate::server::{AppState, ConnectionAddr};

/// A console request before any check.
pub struct Request {
    pub state: Arc<AppState>,
    cookie: Option<String>,
    headers: HeaderMap,
    remote: Option<SocketAddr>,
}

/// A request with a live session.
pub struct SignedIn {
    pub state: Arc<AppState>,
    /// The session cookie's value, to leave a message for the next page.
    id: String,
    pub session: Session,
    pub actor: Actor,
}

/// Where a request goes instead of its page: sign-in, or a refusal.
/// Boxed: a reply is large, and most answers are the page.
pub type Detour = Box<Reply>;

/// A page handler's answer: the page, or a [`Detour`]; both are replies.
pub type Answer = Result<Reply, Detour>;

/// Extracts a [`Request`].
pub fn request(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Request,), Error = std::convert::Infallible> + Clone {
    warp::any()
        .map(move || state.clone())
        .and(warp::cookie::optional::<String>(COOKIE))
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<ConnectionAddr>())
        .map(
            |state, cookie, headers, addr: Option<ConnectionAddr>| Request {
                state,
                cookie,
                headers,
                remote: addr.map(|a| a.0),
            },
        )
}

impl Request {
    pub fn client_ip(&self) -> Option<IpAddr> {
        crate::server::client_ip(
            &self.headers,
            self.remote,
            self.state.client_ip_header.as_deref(),
        )
    }

    /// The live session, or a redirect to sign-in.
    pub fn signed_in(self) -> Result<SignedIn, Detour> {
        let to_sign_in = || Box::new(page::to_sign_in());
        let id = self.cookie.clone().ok_or_else(to_sign_in)?;
        let session = self
            .state
            .console_sessions
            .get(&id)
            .ok_or_else(to_sign_in)?;
        let actor = Actor::console(self.client_ip());
        Ok(SignedIn {
            state: self.state,
            id,
            session,
            actor,
        })
    }

    /// A change: a live session (else sign-in), then this console's origin
    /// and the session's CSRF token (else 403).
    pub fn change(self, csrf: Option<&str>) -> Result<SignedIn, Detour> {
        let same_origin = self.same_origin();
        let signed_in = self.signed_in()?;
        let token_ok = csrf.is_some_and(|t| super::session::same_token(&signed_in.session.csrf, t));
        if !same_origin || !token_ok {
            return Err(Box::new(forbidden()));
        }
        Ok(signed_in)
    }

    /// `false` only when the browser names an origin that is not this host.
    pub fn same_origin(&self) -> bool {
        let Some(origin) = self.origin() else {
            return true;
        };
        let host = self.header("host").unwrap_or_default();
        origin == format!("http://{host}") || origin == format!("https://{host}")
    }

    /// Whether the browser reached us over HTTPS (behind a TLS proxy).
    pub fn over_https(&self) -> bool {
        self.origin().is_some_and(|o| o.starts_with("https://"))
    }

    fn origin(&self) -> Option<&str> {
        self.header("origin").filter(|o| *o != "null")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl SignedIn {
    /// Redirects to `location`, showing `message` there.
    pub fn done(&self, location: &str, message: String) -> Reply {
        self.state.console_sessions.flash(&self.id, message);
        page::redirect(location)
    }

    /// Ends the session.
    pub fn end(&self) {
        self.state.console_sessions.end(&self.id);
    }

    /// The flash message the previous change left, if any.
    pub fn notice(&self) -> Notice {
        Notice::from_flash(self.session.flash.clone())
    }
}

/// A change without a valid CSRF token, or from another origin.
pub fn forbidden() -> Reply {
    page::html_page(
        StatusCode::FORBIDDEN,
        page::bare(
            "Refused",
            Notice::Error(
                "This change did not come from a console page of this session. \
                 Reload the page and try again."
                    .into(),
            ),
            maud::html! { p { a href="/console" { "Back to the console" } } },
        ),
    )
}

/// The value of one form field (the last one of that name).
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
