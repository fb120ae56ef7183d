//! Signing in with the admin token and out again. The token is posted once
//! (never in a URL), compared in constant time, and exchanged for a session
//! cookie; attempts are rate-limited per client address.

use maud::html;
use warp::http::StatusCode;

use super::page::{self, Notice, Reply};
use super::request::{Answer, Request, field};
use super::session;

pub async fn form(req: Request) -> Answer {
    if req.signed_in().is_ok() {
        return Ok(page::redirect("/console"));
    }
    Ok(page(StatusCode::OK, Notice::None))
}

fn page(status: StatusCode, notice: Notice) -> Reply {
    let content = html! {
        form method="post" action="/console/sign-in" {
            p {
                label for="token" { "Admin token" }
                input id="token" name="token" type="password" autocomplete="current-password"
                    required aria-describedby="token-hint" autofocus;
                span id="token-hint" class="hint" {
                    "The operator's admin_token (trustpub.toml or TRUSTPUB_ADMIN_TOKEN)."
                }
            }
            p { button type="submit" { "Sign in" } }
        }
    };
    page::html_page(status, page::bare("Sign in", notice, content))
}

pub async fn submit(req: Request, form: Vec<(String, String)>) -> Answer {
    if !req.same_origin() {
        return Err(Box::new(super::request::forbidden()));
    }
    let Some(expected) = req.state.admin_token.clone() else {
        return Ok(page(
            StatusCode::SERVICE_UNAVAILABLE,
            Notice::Error("The console is off: no admin_token is configured.".into()),
        ));
    };
    if !req.state.console_sessions.may_try_sign_in(req.client_ip()) {
        return Ok(page(
            StatusCode::TOO_MANY_REQUESTS,
            Notice::Error("Too many sign-in attempts from this address: wait a minute.".into()),
        ));
    }
    let presented = field(&form, "token").unwrap_or_default();
    if !crate::server::same_secret(&expected, presented) {
        tracing::warn!(client = ?req.client_ip(), "console sign-in refused");
        return Ok(page(
            StatusCode::UNAUTHORIZED,
            Notice::Error("That is not the admin token.".into()),
        ));
    }
    let Some(id) = req.state.console_sessions.start() else {
        return Ok(page(
            StatusCode::INTERNAL_SERVER_ERROR,
            Notice::Error("Cannot start a session: no randomness available.".into()),
        ));
    };
    tracing::info!(client = ?req.client_ip(), "console sign-in");
    let cookie = session::cookie(&id, req.over_https());
    Ok(page::redirect_with_cookie("/console", Some(cookie)))
}

pub async fn sign_out(req: Request, form: Vec<(String, String)>) -> Answer {
    let signed_in = req.change(field(&form, "csrf"))?;
    signed_in.end();
    Ok(page::redirect_with_cookie(
        "/console/sign-in",
        Some(session::cleared_cookie()),
    ))
}
