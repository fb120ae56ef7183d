//! Users and policies: list and search, create a user, create a policy
//! with a form generated from the provider's criteria schema, renew a
//! lapsed policy, delete one after a confirmation that says how many live
//! keys it revokes.

use std::collections::HashMap;

use maud::{Markup, html};
use warp::http::StatusCode;

use super::criteria_form;
use super::format;
use super::page::{self, Notice, Reply};
use super::request::{Answer, Request, SignedIn, field};
use crate::operator::{PolicyRequest, ProviderForm};
use crate::store::{Scope, StoredPolicy};

const PATH: &str = "/console/policies";

pub async fn list(req: Request, query: HashMap<String, String>) -> Answer {
    let s = req.signed_in()?;
    let op = &s.state.operator;
    let q = query
        .get("q")
        .map(|q| q.trim().to_lowercase())
        .unwrap_or_default();
    let matches =
        |texts: &[&str]| q.is_empty() || texts.iter().any(|t| t.to_lowercase().contains(&q));
    let (users, policies, keys) = match (
        op.list_users().await,
        op.list_policies(None).await,
        op.live_keys().await,
    ) {
        (Ok(u), Ok(p), Ok(k)) => (u, p, k),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Ok(failed(&s, &e.to_string())),
    };
    let users: Vec<_> = users.iter().filter(|u| matches(&[&u.username])).collect();
    let policies: Vec<&StoredPolicy> = policies
        .iter()
        .filter(|p| matches(&[&p.username, &p.provider, &p.owner, &p.criteria]))
        .collect();
    let forms = op.provider_forms();
    let now = op.now();
    let window = s.state.exchange.first_use_window_seconds();
    let content = html! {
        form.search method="get" action=(PATH) role="search" {
            label for="q" { "Search users and policies" }
            input id="q" name="q" type="search" value=(q);
            button type="submit" { "Search" }
        }
        section aria-labelledby="users" {
            h2 id="users" { "Users" }
            @if users.is_empty() { p { "No user matches." } }
            @else {
                ul.users {
                    @for u in &users {
                        li {
                            a href=(format!("{PATH}?q={}", u.username)) { (u.username) }
                            " — since " (format::time(u.created_at))
                        }
                    }
                }
            }
            form.inline method="post" action="/console/users" {
                input type="hidden" name="csrf" value=(s.session.csrf);
                label for="new-username" { "New user" }
                input id="new-username" name="username" type="text" autocomplete="off" required;
                button type="submit" { "Create user" }
            }
        }
        section aria-labelledby="policies" {
            h2 id="policies" { "Policies" }
            p {
                "New policy for: "
                @for (i, f) in forms.iter().enumerate() {
                    @if i > 0 { ", " }
                    a href=(format!("{PATH}/new?provider={}", f.provider)) { (f.provider) }
                }
            }
            @if policies.is_empty() { p { "No policy matches." } }
            @else {
                div.scroll {
                    table {
                        thead { tr {
                            th scope="col" { "Id" } th scope="col" { "User" } th scope="col" { "Provider" }
                            th scope="col" { "Owner" } th scope="col" { "Criteria" } th scope="col" { "Scopes" }
                            th scope="col" { "Pins" } th scope="col" { "Last use" } th scope="col" { "Live keys" }
                            th scope="col" { "Status" } th scope="col" { "Actions" }
                        } }
                        tbody {
                            @for p in &policies {
                                @let live = keys.iter().filter(|k| k.policy_id == p.id).count();
                                @let pins_needed = forms.iter().any(|f| f.provider == p.provider && !f.pins.is_empty());
                                @let lapsed = pins_needed && p.pins.is_empty() && p.renewed_at.saturating_add(window) < now;
                                tr {
                                    th scope="row" { (p.id) }
                                    td { (p.username) }
                                    td { (p.provider) }
                                    td { (p.owner) }
                                    td.wrap { (criteria(&p.criteria)) }
                                    td { (scopes(&p.scopes)) }
                                    td {
                                        @if p.pins.is_empty() { "none" }
                                        @for (name, value) in &p.pins { code { (name) "=" (value) } " " }
                                    }
                                    td { @match p.last_used_at { Some(t) => (format::time(t)), None => "never" } }
                                    td { (live) }
                                    td {
                                        @if lapsed { span.bad { "lapsed: renew to use" } }
                                        @else if pins_needed && p.pins.is_empty() { "awaiting first use" }
                                        @else { "active" }
                                    }
                                    td { div.actions {
                                        @if pins_needed && p.pins.is_empty() {
                                            form method="post" action=(format!("{PATH}/{}/renew", p.id)) {
                                                input type="hidden" name="csrf" value=(s.session.csrf);
                                                button type="submit" aria-label=(format!("Renew policy {}", p.id)) { "Renew" }
                                            }
                                        }
                                        a href=(format!("{PATH}/{}/delete", p.id)) aria-label=(format!("Delete policy {}", p.id)) { "Delete…" }
                                    } }
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
        page::shell(
            "Users and policies",
            PATH,
            &s.session.csrf,
            s.notice(),
            content,
        ),
    ))
}

/// A policy's criteria as `name: value` lines (JSON for nested values).
fn criteria(text: &str) -> Markup {
    let Ok(serde_json::Value::Object(object)) = serde_json::from_str(text) else {
        return html! { code { (text) } };
    };
    html! {
        ul.criteria {
            @for (name, value) in &object {
                li {
                    code { (name) } ": "
                    @match value.as_str() { Some(s) => (s), None => (value.to_string()) }
                }
            }
        }
    }
}

fn scopes(scopes: &[Scope]) -> Markup {
    html! {
        @if scopes.is_empty() { "everything the owner may do" }
        @for s in scopes { code { (s.packages) ": " (s.actions.join(", ")) } " " }
    }
}

fn failed(s: &SignedIn, message: &str) -> Reply {
    page::html_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        page::shell(
            "Users and policies",
            PATH,
            &s.session.csrf,
            Notice::Error(message.into()),
            html! {},
        ),
    )
}

pub async fn create_user(req: Request, form: Vec<(String, String)>) -> Answer {
    let s = req.change(field(&form, "csrf"))?;
    let username = field(&form, "username")
        .unwrap_or_default()
        .trim()
        .to_string();
    Ok(match s.state.operator.create_user(username).await {
        Ok(user) => s.done(
            &format!("{PATH}?q={}", user.username),
            format!("User {} created.", user.username),
        ),
        Err(e) => s.done(PATH, format!("The user was not created: {e}")),
    })
}

pub async fn new_form(req: Request, query: HashMap<String, String>) -> Answer {
    let s = req.signed_in()?;
    let mut form: Vec<(String, String)> = query.into_iter().collect();
    form.sort();
    Ok(policy_form(&s, &form, StatusCode::OK, s.notice()))
}

/// The policy form for the provider the form names (or a choice of
/// providers), filled with `form`.
fn policy_form(
    s: &SignedIn,
    form: &[(String, String)],
    status: StatusCode,
    notice: Notice,
) -> Reply {
    let forms = s.state.operator.provider_forms();
    let chosen = field(form, "provider").and_then(|p| forms.iter().find(|f| f.provider == p));
    let content = html! {
        form.inline method="get" action=(format!("{PATH}/new")) {
            label for="provider" { "Provider" }
            select id="provider" name="provider" {
                @for f in &forms {
                    option value=(f.provider) selected[chosen.is_some_and(|c| c.provider == f.provider)] { (f.provider) }
                }
            }
            button type="submit" { "Show its form" }
        }
        @if let Some(provider) = chosen {
            (criteria_section(s, provider, form))
        }
    };
    page::html_page(
        status,
        page::shell("New policy", PATH, &s.session.csrf, notice, content),
    )
}

fn criteria_section(s: &SignedIn, provider: &ProviderForm, form: &[(String, String)]) -> Markup {
    let fields = criteria_form::fields(&provider.criteria_schema);
    let value = |name: &str| field(form, name).unwrap_or_default().to_string();
    html! {
        h2 { "A " (provider.provider) " policy" }
        @if !provider.pins.is_empty() {
            p {
                "On first use the policy pins " (provider.pins.join(", "))
                "; until then it trusts whoever holds those names, within the first-use window."
            }
        }
        form method="post" action=(PATH) {
            input type="hidden" name="csrf" value=(s.session.csrf);
            input type="hidden" name="provider" value=(provider.provider);
            fieldset {
                legend { "Who publishes" }
                p.field {
                    label for="username" { "Registry user (required)" }
                    input id="username" name="username" type="text" value=(value("username")) autocomplete="off" aria-describedby="username-hint";
                    span.hint id="username-hint" { "The registry user whose packages the keys act on; create the user first." }
                }
                p.field {
                    label for="owner" { "Package owner (required)" }
                    input id="owner" name="owner" type="text" value=(value("owner")) autocomplete="off" aria-describedby="owner-hint";
                    span.hint id="owner-hint" { "The package owner (user or organization) minted keys act for." }
                }
            }
            fieldset {
                legend { "Criteria" }
                (criteria_form::render(&fields, form))
            }
            fieldset {
                legend { "Scope (optional)" }
                p.field {
                    label for="packages" { "Packages" }
                    input id="packages" name="packages" type="text" value=(value("packages")) aria-describedby="packages-hint";
                    span.hint id="packages-hint" { "A package id glob, e.g. Contoso.*; empty: everything the owner may do." }
                }
                p.field {
                    label for="actions" { "Actions" }
                    input id="actions" name="actions" type="text" value=(value("actions")) aria-describedby="actions-hint";
                    span.hint id="actions-hint" { "Comma-separated, e.g. push, unlist." }
                }
            }
            p { button type="submit" { "Create policy" } }
        }
    }
}

pub async fn create(req: Request, form: Vec<(String, String)>) -> Answer {
    let s = req.change(field(&form, "csrf"))?;
    let text = |name: &str| field(&form, name).unwrap_or_default().trim().to_string();
    let provider = text("provider");
    let Some(provider_form) = s
        .state
        .operator
        .provider_forms()
        .into_iter()
        .find(|f| f.provider == provider)
    else {
        return Ok(refused(&s, &form, format!("unknown provider '{provider}'")));
    };
    let fields = criteria_form::fields(&provider_form.criteria_schema);
    let criteria = match criteria_form::criteria(&fields, &form) {
        Ok(c) => c,
        Err(e) => return Ok(refused(&s, &form, e)),
    };
    let scopes = match text("packages").as_str() {
        "" => Vec::new(),
        packages => vec![Scope {
            packages: packages.to_string(),
            actions: text("actions")
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
        }],
    };
    let request = PolicyRequest {
        username: text("username"),
        provider,
        owner: text("owner"),
        criteria,
        scopes,
    };
    match s.state.operator.create_policy(request, &s.actor).await {
        Ok(p) => Ok(s.done(
            &format!("{PATH}?q={}", p.username),
            format!(
                "Policy {} created for {} ({}).",
                p.id, p.username, p.provider
            ),
        )),
        Err(e) => Ok(refused(&s, &form, e.to_string())),
    }
}

/// The form again, as it was entered, with the reason it was refused.
fn refused(s: &SignedIn, form: &[(String, String)], message: String) -> Reply {
    let kept: Vec<(String, String)> = form.iter().filter(|(k, _)| k != "csrf").cloned().collect();
    policy_form(
        s,
        &kept,
        StatusCode::UNPROCESSABLE_ENTITY,
        Notice::Error(format!("The policy was not created: {message}")),
    )
}

pub async fn renew(id: u64, req: Request, form: Vec<(String, String)>) -> Answer {
    let s = req.change(field(&form, "csrf"))?;
    Ok(match s.state.operator.renew_policy(id, &s.actor).await {
        Ok(p) => s.done(
            PATH,
            format!(
                "Policy {} renewed: its first-use window starts again now.",
                p.id
            ),
        ),
        Err(e) => s.done(PATH, format!("Policy {id} was not renewed: {e}")),
    })
}

pub async fn confirm_delete(id: u64, req: Request) -> Answer {
    let s = req.signed_in()?;
    let op = &s.state.operator;
    let policy = match op.get_policy(id).await {
        Ok(p) => p,
        Err(e) => return Ok(s.done(PATH, e.to_string())),
    };
    let live = match op.live_keys().await {
        Ok(keys) => keys.iter().filter(|k| k.policy_id == id).count(),
        Err(e) => return Ok(failed(&s, &e.to_string())),
    };
    let content = html! {
        p {
            "Policy " (policy.id) " lets " (policy.provider) " jobs publish as "
            strong { (policy.username) } " for owner " (policy.owner) "."
        }
        p.warning {
            "Deleting it revokes " strong { (live) " live " (if live == 1 { "key" } else { "keys" }) }
            " minted through it. This cannot be undone."
        }
        form method="post" action=(format!("{PATH}/{id}/delete")) {
            input type="hidden" name="csrf" value=(s.session.csrf);
            button.danger type="submit" { "Delete policy " (id) " and revoke " (live) " keys" }
            " "
            a href=(PATH) { "Cancel" }
        }
    };
    Ok(page::html_page(
        StatusCode::OK,
        page::shell(
            &format!("Delete policy {id}?"),
            PATH,
            &s.session.csrf,
            Notice::None,
            content,
        ),
    ))
}

pub async fn delete(id: u64, req: Request, form: Vec<(String, String)>) -> Answer {
    let s = req.change(field(&form, "csrf"))?;
    Ok(match s.state.operator.delete_policy(id, &s.actor).await {
        Ok(revoked) => s.done(
            PATH,
            format!("Policy {id} deleted; {revoked} live keys revoked."),
        ),
        Err(e) => s.done(PATH, format!("Policy {id} was not deleted: {e}")),
    })
}
