//! The overview: exchanges per outcome over the last hour and day (bad
//! tokens by the check they failed), per provider; each evaluator's health;
//! how fresh each provider's signing keys are.

use std::collections::BTreeMap;
use std::time::SystemTime;

use maud::{Markup, html};
use warp::http::StatusCode;

use super::chart::{self, Bar};
use super::format;
use super::page;
use super::request::{Answer, Request};
use crate::store::{AuditCount, AuditOutcome};

const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

pub async fn page(req: Request) -> Answer {
    let s = req.signed_in()?;
    let op = &s.state.operator;
    let (hour, day) = match (
        op.exchange_counts(HOUR).await,
        op.exchange_counts(DAY).await,
    ) {
        (Ok(h), Ok(d)) => (h, d),
        (Err(e), _) | (_, Err(e)) => {
            return Ok(page::html_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                page::shell(
                    "Overview",
                    "/console",
                    &s.session.csrf,
                    page::Notice::Error(format!("Cannot count exchanges: {e}")),
                    html! {},
                ),
            ));
        }
    };
    let evaluators = op.evaluators();
    let jwks = op.jwks_freshness();
    let now = SystemTime::now();
    let failures_last_hour = |provider: &str| -> u64 {
        hour.iter()
            .filter(|c| c.provider.as_deref() == Some(provider))
            .filter(|c| c.outcome == AuditOutcome::EvaluatorError)
            .map(|c| c.count)
            .sum()
    };
    let content = html! {
        section aria-labelledby="exchanges" {
            h2 id="exchanges" { "Exchanges" }
            div.charts {
                (chart::bars("hour", "All providers, last hour", &bars(hour.iter())))
                (chart::bars("day", "All providers, last 24 hours", &bars(day.iter())))
            }
            @for (i, e) in evaluators.iter().enumerate() {
                @let of = |counts: &'_ [AuditCount]| -> Vec<Bar> {
                    bars(counts.iter().filter(|c| c.provider.as_deref() == Some(e.provider.as_str())))
                };
                h3 { (e.provider) }
                div.charts {
                    (chart::bars(&format!("hour-{i}"), &format!("{}, last hour", e.provider), &of(&hour)))
                    (chart::bars(&format!("day-{i}"), &format!("{}, last 24 hours", e.provider), &of(&day)))
                }
            }
            (per_provider(&hour, &day))
        }
        section aria-labelledby="health" {
            h2 id="health" { "Evaluators" }
            div.scroll {
                table {
                    thead { tr { th scope="col" { "Provider" } th scope="col" { "Version" } th scope="col" { "Active since" } th scope="col" { "Failures, last hour" } th scope="col" { "Health" } } }
                    tbody {
                        @for e in &evaluators {
                            @let failures = failures_last_hour(&e.provider);
                            tr {
                                th scope="row" { (e.provider) }
                                td { (e.name) " " (e.version) }
                                td { (format::system_time(e.active_since)) }
                                td { (failures) }
                                td {
                                    @if failures == 0 { span.ok { "healthy" } }
                                    @else { span.bad { "failing" } }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="jwks" {
            h2 id="jwks" { "Signing keys (JWKS)" }
            div.scroll {
                table {
                    thead { tr { th scope="col" { "Provider" } th scope="col" { "Issuer" } th scope="col" { "Keys" } th scope="col" { "Last refreshed" } th scope="col" { "Fetches" } } }
                    tbody {
                        @for k in &jwks {
                            tr {
                                th scope="row" { (k.provider) }
                                td.wrap { (k.issuer) }
                                td { (k.keys) }
                                td {
                                    @match k.last_success {
                                        Some(t) => {
                                            (format::age(now.duration_since(t).map(|d| d.as_secs()).unwrap_or(0))) " ago"
                                        }
                                        None => span.bad { "never" },
                                    }
                                }
                                td { (k.fetches) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page::html_page(
        StatusCode::OK,
        page::shell("Overview", "/console", &s.session.csrf, s.notice(), content),
    ))
}

/// The chart's rows: every exchange outcome (zero ones too, so the chart's
/// shape stays put), bad tokens split by check.
fn bars<'a>(counts: impl Iterator<Item = &'a AuditCount>) -> Vec<Bar> {
    let mut totals: BTreeMap<(usize, String), (u64, &'static str)> = BTreeMap::new();
    for (order, (outcome, _, colour)) in OUTCOMES.iter().enumerate() {
        if *outcome != AuditOutcome::BadToken {
            totals.insert((order, label(*outcome, None)), (0, colour));
        }
    }
    for c in counts {
        let Some(order) = OUTCOMES.iter().position(|(o, _, _)| *o == c.outcome) else {
            continue;
        };
        let entry = totals
            .entry((order, label(c.outcome, c.check.as_deref())))
            .or_insert((0, OUTCOMES[order].2));
        entry.0 += c.count;
    }
    totals
        .into_iter()
        .map(|((_, label), (value, colour))| Bar {
            label,
            value,
            colour,
        })
        .collect()
}

/// Exchange outcomes in chart order, with their names and colours (each
/// at least 4.5:1 against white).
const OUTCOMES: [(AuditOutcome, &str, &str); 6] = [
    (AuditOutcome::Minted, "minted", "#1a7f37"),
    (AuditOutcome::BadToken, "bad token", "#9a6700"),
    (AuditOutcome::Unauthorized, "unauthorized", "#b3261e"),
    (AuditOutcome::Replay, "replay", "#6f42c1"),
    (AuditOutcome::RenewalRequired, "renewal required", "#0b5cad"),
    (AuditOutcome::EvaluatorError, "evaluator failure", "#57606a"),
];

fn label(outcome: AuditOutcome, check: Option<&str>) -> String {
    let name = OUTCOMES
        .iter()
        .find(|(o, _, _)| *o == outcome)
        .map_or(outcome.as_str(), |(_, n, _)| n);
    match check {
        Some(check) if outcome == AuditOutcome::BadToken => format!("{name}: {check}"),
        _ => name.to_string(),
    }
}

/// The numbers behind the charts, provider by provider.
fn per_provider(hour: &[AuditCount], day: &[AuditCount]) -> Markup {
    let mut rows: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for (counts, is_hour) in [(hour, true), (day, false)] {
        for c in counts {
            let provider = c.provider.clone().unwrap_or_else(|| "(unrouted)".into());
            let entry = rows
                .entry((provider, label(c.outcome, c.check.as_deref())))
                .or_default();
            if is_hour {
                entry.0 += c.count;
            } else {
                entry.1 += c.count;
            }
        }
    }
    html! {
        h3 { "Per provider" }
        @if rows.is_empty() {
            p { "No exchange in the last 24 hours." }
        } @else {
            div.scroll {
                table {
                    thead { tr { th scope="col" { "Provider" } th scope="col" { "Outcome" } th scope="col" { "Last hour" } th scope="col" { "Last 24 hours" } } }
                    tbody {
                        @for ((provider, outcome), (h, d)) in &rows {
                            tr { th scope="row" { (provider) } td { (outcome) } td { (h) } td { (d) } }
                        }
                    }
                }
            }
        }
    }
}
