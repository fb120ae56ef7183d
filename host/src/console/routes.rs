//! Which console path goes where. Every route but the stylesheet and
//! sign-in needs a session (a handler without one redirects to sign-in), and
//! every POST a CSRF token; any other path under `/console` answers a
//! signed-in operator with "not found" and anyone else with sign-in.

use std::collections::HashMap;
use std::sync::Arc;

use maud::html;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;

use super::page::{self, Notice, Reply};
use super::request::{Answer, Request, request};
use super::{audit, evaluators, keys, overview, policies, sign_in};
use crate::server::AppState;

type Route = BoxedFilter<(Reply,)>;
type Form = Vec<(String, String)>;

/// Either answer is a reply.
fn settle(answer: Answer) -> Reply {
    answer.unwrap_or_else(|detour| *detour)
}

pub fn routes(state: Arc<AppState>) -> Route {
    let max_body = state.max_body_bytes as u64;
    // A component upload plus its signature and the form's few fields.
    let max_upload = state.max_component_bytes as u64 + 64 * 1024;
    let req = request(state);
    let form = move || warp::body::content_length_limit(max_body).and(warp::body::form::<Form>());
    let query = || warp::query::<HashMap<String, String>>();
    let console = || warp::path("console");

    let stylesheet = console()
        .and(warp::path!("static" / "console.css"))
        .and(warp::get())
        .map(page::stylesheet)
        .boxed();
    let sign_in_form: Route = console()
        .and(warp::path!("sign-in"))
        .and(warp::get())
        .and(req.clone())
        .then(sign_in::form)
        .map(settle)
        .boxed();
    let sign_in: Route = console()
        .and(warp::path!("sign-in"))
        .and(warp::post())
        .and(req.clone())
        .and(form())
        .then(sign_in::submit)
        .map(settle)
        .boxed();
    let sign_out: Route = console()
        .and(warp::path!("sign-out"))
        .and(warp::post())
        .and(req.clone())
        .and(form())
        .then(sign_in::sign_out)
        .map(settle)
        .boxed();
    let overview: Route = console()
        .and(warp::path::end())
        .and(warp::get())
        .and(req.clone())
        .then(overview::page)
        .map(settle)
        .boxed();
    let policies: Route = console()
        .and(warp::path!("policies"))
        .and(warp::get())
        .and(req.clone())
        .and(query())
        .then(policies::list)
        .map(settle)
        .boxed();
    let create_user: Route = console()
        .and(warp::path!("users"))
        .and(warp::post())
        .and(req.clone())
        .and(form())
        .then(policies::create_user)
        .map(settle)
        .boxed();
    let new_policy: Route = console()
        .and(warp::path!("policies" / "new"))
        .and(warp::get())
        .and(req.clone())
        .and(query())
        .then(policies::new_form)
        .map(settle)
        .boxed();
    let create_policy: Route = console()
        .and(warp::path!("policies"))
        .and(warp::post())
        .and(req.clone())
        .and(form())
        .then(policies::create)
        .map(settle)
        .boxed();
    let renew: Route = console()
        .and(warp::path!("policies" / u64 / "renew"))
        .and(warp::post())
        .and(req.clone())
        .and(form())
        .then(policies::renew)
        .map(settle)
        .boxed();
    let confirm_delete: Route = console()
        .and(warp::path!("policies" / u64 / "delete"))
        .and(warp::get())
        .and(req.clone())
        .then(policies::confirm_delete)
        .map(settle)
        .boxed();
    let delete: Route = console()
        .and(warp::path!("policies" / u64 / "delete"))
        .and(warp::post())
        .and(req.clone())
        .and(form())
        .then(policies::delete)
        .map(settle)
        .boxed();
    let audit: Route = console()
        .and(warp::path!("audit"))
        .and(warp::get())
        .and(req.clone())
        .and(query())
        .then(audit::page)
        .map(settle)
        .boxed();
    let evaluators: Route = console()
        .and(warp::path!("evaluators"))
        .and(warp::get())
        .and(req.clone())
        .then(evaluators::list)
        .map(settle)
        .boxed();
    let deploy: Route = console()
        .and(warp::path!("evaluators" / String / "deploy"))
        .and(warp::post())
        .and(req.clone())
        .and(warp::multipart::form().max_length(max_upload))
        .then(evaluators::deploy)
        .map(settle)
        .boxed();
    let rollback: Route = console()
        .and(warp::path!("evaluators" / String / "rollback"))
        .and(warp::post())
        .and(req.clone())
        .and(form())
        .then(evaluators::rollback)
        .map(settle)
        .boxed();
    let keys: Route = console()
        .and(warp::path!("keys"))
        .and(warp::get())
        .and(req.clone())
        .and(query())
        .then(keys::list)
        .map(settle)
        .boxed();
    let revoke: Route = console()
        .and(warp::path!("keys" / "revoke"))
        .and(warp::post())
        .and(req.clone())
        .and(form())
        .then(keys::revoke)
        .map(settle)
        .boxed();
    // Anything else under /console, including a change whose body could
    // not be read as its form.
    let other: Route = console()
        .and(req)
        .map(|req: Request| match req.signed_in() {
            Ok(s) => page::html_page(
                StatusCode::NOT_FOUND,
                page::shell(
                    "Not found",
                    "",
                    &s.session.csrf,
                    Notice::Error(
                        "There is no such console page, or the form was not readable.".into(),
                    ),
                    html! { p { a href="/console" { "Back to the overview" } } },
                ),
            ),
            Err(to_sign_in) => *to_sign_in,
        })
        .boxed();

    [
        sign_in_form,
        sign_in,
        sign_out,
        overview,
        policies,
        create_user,
        new_policy,
        create_policy,
        renew,
        confirm_delete,
        delete,
        audit,
        evaluators,
        deploy,
        rollback,
        keys,
        revoke,
        other,
    ]
    .into_iter()
    .fold(stylesheet, |all, next| all.or(next).unify().boxed())
}
