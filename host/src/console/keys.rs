//! Live API keys per user and policy (never the key: only the store's hash,
//! shortened, names one), and revoking one.

use std::collections::HashMap;

use maud::html;
use warp::http::StatusCode;

use super::format;
use super::page::{self, Notice};
use super::request::{Answer, Request, field};

const PATH: &str = "/console/keys";

pub async fn list(req: Request, query: HashMap<String, String>) -> Answer {
    let s = req.signed_in()?;
    let q = query
        .get("q")
        .map(|q| q.trim().to_lowercase())
        .unwrap_or_default();
    let (keys, notice) = match s.state.operator.live_keys().await {
        Ok(k) => (k, s.notice()),
        Err(e) => (Vec::new(), Notice::Error(format!("Cannot list keys: {e}"))),
    };
    let keys: Vec<_> = keys
        .into_iter()
        .filter(|k| {
            q.is_empty()
                || k.username.to_lowercase().contains(&q)
                || k.policy_id.to_string() == q
                || k.owner.to_lowercase().contains(&q)
        })
        .collect();
    let content = html! {
        form.search method="get" action=(PATH) role="search" {
            label for="q" { "User, owner or policy id" }
            input id="q" name="q" type="search" value=(q);
            button type="submit" { "Search" }
        }
        @if keys.is_empty() { p { "No live key." } }
        @else {
            div.scroll {
                table {
                    thead { tr {
                        th scope="col" { "Key (hash)" } th scope="col" { "User" } th scope="col" { "Policy" }
                        th scope="col" { "Provider" } th scope="col" { "Owner" } th scope="col" { "Scopes" }
                        th scope="col" { "Minted" } th scope="col" { "Expires" } th scope="col" { "Action" }
                    } }
                    tbody {
                        @for k in &keys {
                            @let short = format::short_digest(&k.hash);
                            tr {
                                th scope="row" { code { (short) } }
                                td { (k.username) }
                                td { (k.policy_id) }
                                td { (k.provider) }
                                td { (k.owner) }
                                td {
                                    @if k.scopes.is_empty() { "everything the owner may do" }
                                    @for sc in &k.scopes { code { (sc.packages) ": " (sc.actions.join(", ")) } " " }
                                }
                                td { (format::time(k.created_at)) }
                                td { (format::time(k.expires_at)) }
                                td {
                                    form method="post" action=(format!("{PATH}/revoke")) {
                                        input type="hidden" name="csrf" value=(s.session.csrf);
                                        input type="hidden" name="hash" value=(k.hash);
                                        button type="submit" aria-label=(format!("Revoke key {short} of {}", k.username)) { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page::html_page(
        StatusCode::OK,
        page::shell("Keys", PATH, &s.session.csrf, notice, content),
    ))
}

pub async fn revoke(req: Request, form: Vec<(String, String)>) -> Answer {
    let s = req.change(field(&form, "csrf"))?;
    let hash = field(&form, "hash").unwrap_or_default().to_string();
    let short = format::short_digest(&hash);
    Ok(match s.state.operator.revoke_key(hash, &s.actor).await {
        Ok(()) => s.done(PATH, format!("Key {short} revoked.")),
        Err(e) => s.done(PATH, format!("Key {short} was not revoked: {e}")),
    })
}
