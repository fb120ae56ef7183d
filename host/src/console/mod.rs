//! The operator console: server-rendered HTML pages under `/console`,
//! embedded in the binary, for the people who run trustpub and write its
//! policies. No JavaScript: every change is a form that POSTs, and the
//! server answers with a redirect (post/redirect/get) or the form again
//! with the error.
//!
//! Every action goes through the [`OperatorService`](crate::operator::OperatorService),
//! like the admin API, audited with the actor `console`.
//!
//! - [`routes`](mod@routes): which path goes where;
//! - [`session`]: sign-in sessions, cookies, CSRF tokens;
//! - [`request`]: what a request carries, and the checks before a change;
//! - [`page`]: the page shell, HTML responses and their security headers;
//! - one module per page: [`sign_in`], [`overview`] (with [`chart`]),
//!   [`policies`] (with [`criteria_form`]), [`audit`], [`evaluators`], [`keys`].

mod audit;
mod chart;
mod criteria_form;
mod evaluators;
mod format;
mod keys;
mod overview;
mod page;
mod policies;
mod request;
mod routes;
mod session;
mod sign_in;

pub use routes::routes;
pub use session::Sessions;
