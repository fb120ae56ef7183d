//! The page shell every console page shares, and HTML responses with the
//! console's security headers: a strict Content-Security-Policy (no script
//! at all, styles only from the console's own stylesheet), no framing, no
//! caching, no referrer.

use maud::{DOCTYPE, Markup, html};
use warp::Reply as _;
use warp::http::{HeaderValue, StatusCode, header};

pub type Reply = warp::reply::Response;

/// What the console's pages may load: only the stylesheet it serves.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The navigation, in page order: (path, label).
const NAV: [(&str, &str); 5] = [
    ("/console", "Overview"),
    ("/console/policies", "Users and policies"),
    ("/console/audit", "Audit"),
    ("/console/evaluators", "Evaluators"),
    ("/console/keys", "Keys"),
];

/// A message above a page's content.
pub enum Notice {
    None,
    /// The outcome of the last change (after its redirect).
    Done(String),
    /// Why the change just tried was refused.
    Error(String),
}

impl Notice {
    pub fn from_flash(flash: Option<String>) -> Self {
        flash.map_or(Self::None, Self::Done)
    }
}

/// A signed-in page: navigation, sign-out, the notice, the content.
pub fn shell(title: &str, current: &str, csrf: &str, notice: Notice, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    p.brand { "trustpub console" }
                    nav aria-label="Console" {
                        ul {
                            @for (path, label) in NAV {
                                li {
                                    @if path == current {
                                        a href=(path) aria-current="page" { (label) }
                                    } @else {
                                        a href=(path) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    form.sign-out method="post" action="/console/sign-out" {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Sign out" }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (notice_markup(notice))
                    (content)
                }
            }
        }
    }
}

/// A page for someone not signed in (sign-in, errors before sign-in).
pub fn bare(title: &str, notice: Notice, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main id="main" class="narrow" {
                    p.brand { "trustpub console" }
                    h1 { (title) }
                    (notice_markup(notice))
                    (content)
                }
            }
        }
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " — trustpub console" }
            link rel="stylesheet" href="/console/static/console.css";
        }
    }
}

fn notice_markup(notice: Notice) -> Markup {
    html! {
        @match notice {
            Notice::None => {},
            Notice::Done(message) => p.notice.done role="status" { (message) },
            Notice::Error(message) => p.notice.error role="alert" { (message) },
        }
    }
}

/// An HTML page with the console's headers.
pub fn html_page(status: StatusCode, markup: Markup) -> Reply {
    let mut reply = warp::reply::html(markup.into_string()).into_response();
    *reply.status_mut() = status;
    secured(reply)
}

/// `303 See Other` to `location` (one of the console's own paths).
pub fn redirect(location: &str) -> Reply {
    redirect_with_cookie(location, None)
}

/// A redirect that also sets (or clears) the session cookie.
pub fn redirect_with_cookie(location: &str, cookie: Option<String>) -> Reply {
    let mut reply = warp::reply().into_response();
    *reply.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        reply.headers_mut().insert(header::LOCATION, value);
    }
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        reply.headers_mut().insert(header::SET_COOKIE, value);
    }
    secured(reply)
}

/// Where anyone without a session is sent.
pub fn to_sign_in() -> Reply {
    redirect("/console/sign-in")
}

/// The console's stylesheet, compiled in.
pub fn stylesheet() -> Reply {
    let reply = warp::reply::with_header(
        include_str!("console.css"),
        header::CONTENT_TYPE,
        "text/css; charset=utf-8",
    );
    secured(reply.into_response())
}

fn secured(mut reply: Reply) -> Reply {
    let headers = reply.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    reply
}
