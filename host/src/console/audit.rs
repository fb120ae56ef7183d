//! The audit log, filtered by user, provider, outcome and time. A failed
//! attempt shows the check it failed and, when unauthorized, why each
//! candidate policy did not match: what a publisher needs to fix their
//! workflow, and what the HTTP API never tells the client.

use std::collections::HashMap;

use maud::html;
use warp::http::StatusCode;

use super::format;
use super::page::{self, Notice};
use super::request::{Answer, Request};
use crate::operator::{AuditQuery, MAX_AUDIT_LIMIT};
use crate::store::{AuditKind, AuditOutcome};

const PATH: &str = "/console/audit";
/// How far back each choice of the time filter reaches (seconds).
const WINDOWS: [(&str, &str, u64); 4] = [
    ("hour", "last hour", 3_600),
    ("day", "last 24 hours", 86_400),
    ("week", "last 7 days", 7 * 86_400),
    ("any", "any time", u64::MAX),
];
/// The most rows one page shows.
const SHOWN: usize = 200;

pub async fn page(req: Request, query: HashMap<String, String>) -> Answer {
    let s = req.signed_in()?;
    let op = &s.state.operator;
    let get = |k: &str| query.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let user = get("user");
    let provider = get("provider");
    let outcome = get("outcome").unwrap_or("exchanges");
    let window = get("within").unwrap_or("day");
    let since = WINDOWS
        .iter()
        .find(|(k, _, _)| *k == window)
        .map_or(86_400, |w| w.2);
    let since = op.now().saturating_sub(since);
    let (kind, only) = match outcome {
        "actions" => (AuditKind::Actions, None),
        "all" => (AuditKind::All, None),
        o => (AuditKind::All, AuditOutcome::parse(o)),
    };
    let kind = if outcome == "exchanges" {
        AuditKind::Exchanges
    } else {
        kind
    };
    let events = op
        .audit(AuditQuery {
            username: user.map(String::from),
            kind,
            limit: MAX_AUDIT_LIMIT,
        })
        .await;
    let (events, notice) = match events {
        Ok(e) => (e, s.notice()),
        Err(e) => (
            Vec::new(),
            Notice::Error(format!("Cannot read the audit log: {e}")),
        ),
    };
    let events: Vec<_> = events
        .into_iter()
        .filter(|e| e.at >= since)
        .filter(|e| provider.is_none_or(|p| e.provider.as_deref() == Some(p)))
        .filter(|e| only.is_none_or(|o| e.outcome == o))
        .take(SHOWN)
        .collect();
    let providers: Vec<String> = op.evaluators().into_iter().map(|e| e.provider).collect();
    let content = html! {
        form.filters method="get" action=(PATH) {
            p.field {
                label for="user" { "User" }
                input id="user" name="user" type="text" value=(user.unwrap_or_default());
            }
            p.field {
                label for="provider" { "Provider" }
                select id="provider" name="provider" {
                    option value="" { "any" }
                    @for p in &providers { option value=(p) selected[provider == Some(p.as_str())] { (p) } }
                }
            }
            p.field {
                label for="outcome" { "Outcome" }
                select id="outcome" name="outcome" {
                    @for (value, label) in [("exchanges", "every exchange attempt"), ("actions", "operator actions"), ("all", "everything")] {
                        option value=(value) selected[outcome == value] { (label) }
                    }
                    @for o in AuditOutcome::ALL {
                        option value=(o.as_str()) selected[outcome == o.as_str()] { (o.as_str()) }
                    }
                }
            }
            p.field {
                label for="within" { "Time" }
                select id="within" name="within" {
                    @for (value, label, _) in WINDOWS { option value=(value) selected[window == value] { (label) } }
                }
            }
            p { button type="submit" { "Filter" } }
        }
        p { (events.len()) @if events.len() == 1 { " event" } @else { " events" } @if events.len() == SHOWN { " (the newest " (SHOWN) ")" } "." }
        div.scroll {
            table.audit {
                thead { tr {
                    th scope="col" { "Time" } th scope="col" { "Outcome" } th scope="col" { "User" }
                    th scope="col" { "Provider" } th scope="col" { "Why" } th scope="col" { "Policy" }
                    th scope="col" { "Subject or actor" } th scope="col" { "Client" }
                } }
                tbody {
                    @for e in &events {
                        tr {
                            td { (format::time(e.at)) }
                            td { span class=(outcome_class(e.outcome)) { (e.outcome.as_str()) } }
                            td { (e.username) }
                            td { (e.provider.as_deref().unwrap_or("")) }
                            td.wrap {
                                @if let Some(check) = &e.check { "check " code { (check) } ": " }
                                (e.detail.as_deref().unwrap_or(""))
                                @if !e.near_misses.is_empty() {
                                    ul.near-misses aria-label="Why each candidate policy did not match" {
                                        @for m in &e.near_misses { li { "policy " (m.policy_id) ": " (m.reason) } }
                                    }
                                }
                            }
                            td { @if let Some(id) = e.policy_id { (id) } }
                            td.wrap { (e.subject.as_deref().unwrap_or("")) }
                            td { (e.client_addr.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    };
    Ok(page::html_page(
        StatusCode::OK,
        page::shell("Audit", PATH, &s.session.csrf, notice, content),
    ))
}

fn outcome_class(o: AuditOutcome) -> &'static str {
    match o {
        AuditOutcome::Minted => "ok",
        o if o.is_action() => "action",
        _ => "bad",
    }
}
