//! Evaluators: each provider's active version (digest, since when, the
//! previous one), uploading a new version through the same admission checks
//! as the admin API (the page lists them and their result), and rollback.

use bytes::Buf;
use futures_util::TryStreamExt;
use maud::{Markup, html};
use warp::http::StatusCode;
use warp::multipart::FormData;

use super::format;
use super::page::{self, Notice, Reply};
use super::request::{Answer, Request, SignedIn, field};
use crate::operator::AdmissionCheck;

const PATH: &str = "/console/evaluators";

pub async fn list(req: Request) -> Answer {
    let s = req.signed_in()?;
    let notice = s.notice();
    Ok(render(&s, StatusCode::OK, notice, None))
}

/// The result of the last upload: provider, whether it was admitted, and
/// what the service said.
struct Upload {
    provider: String,
    admitted: bool,
    message: String,
}

fn render(s: &SignedIn, status: StatusCode, notice: Notice, upload: Option<Upload>) -> Reply {
    let op = &s.state.operator;
    let evaluators = op.evaluators();
    let content = html! {
        @if let Some(u) = &upload {
            section aria-labelledby="result" {
                h2 id="result" { "Admission of the new " (u.provider) " version" }
                (checks(op.admission_checks(&u.provider).unwrap_or_default(), u.admitted))
                p class=(if u.admitted { "ok" } else { "bad" }) role="status" { (u.message) }
            }
        }
        @for e in &evaluators {
            section aria-labelledby=(format!("ev-{}", e.provider)) {
                h2 id=(format!("ev-{}", e.provider)) { (e.provider) }
                dl {
                    dt { "Evaluator" } dd { (e.name) " " (e.version) " (contract " (e.contract) ")" }
                    dt { "Digest" } dd { code.wrap { "sha256:" (e.digest) } }
                    dt { "Active since" } dd { (format::system_time(e.active_since)) }
                    dt { "Previous" } dd {
                        @match &e.previous_digest {
                            Some(d) => code.wrap { "sha256:" (d) },
                            None => "none: nothing to roll back to",
                        }
                    }
                    dt { "Issuers" } dd.wrap { (e.issuers.iter().chain(&e.exact_issuers).cloned().collect::<Vec<_>>().join(", ")) }
                }
                form method="post" action=(format!("{PATH}/{}/deploy", e.provider)) enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(s.session.csrf);
                    p.field {
                        label for=(format!("component-{}", e.provider)) { "New version (.wasm component)" }
                        input id=(format!("component-{}", e.provider)) name="component" type="file" accept=".wasm" required;
                    }
                    p.field {
                        label for=(format!("signature-{}", e.provider)) { "Signature (base64, if the provider requires one)" }
                        input id=(format!("signature-{}", e.provider)) name="signature" type="text" autocomplete="off";
                    }
                    p { button type="submit" { "Deploy to " (e.provider) } }
                }
                @if e.previous_digest.is_some() {
                    form method="post" action=(format!("{PATH}/{}/rollback", e.provider)) {
                        input type="hidden" name="csrf" value=(s.session.csrf);
                        button type="submit" { "Roll " (e.provider) " back to the previous version" }
                    }
                }
            }
        }
    };
    page::html_page(
        status,
        page::shell("Evaluators", PATH, &s.session.csrf, notice, content),
    )
}

fn checks(checks: Vec<AdmissionCheck>, admitted: bool) -> Markup {
    html! {
        p {
            @if admitted { "Every admission check that applies passed:" }
            @else { "The checks run in this order and stop at the first failure (below):" }
        }
        ol.checks {
            @for c in checks {
                li {
                    strong { (c.name) } ": " (c.detail)
                    @if !c.runs { " — not run" }
                    @else if admitted { " — " span.ok { "passed" } }
                }
            }
        }
    }
}

pub async fn deploy(provider: String, req: Request, form: FormData) -> Answer {
    let parts = match read_parts(form).await {
        Ok(parts) => parts,
        Err(message) => {
            let s = req.signed_in()?;
            return Ok(render(
                &s,
                StatusCode::BAD_REQUEST,
                Notice::Error(message),
                None,
            ));
        }
    };
    let text = |name: &str| {
        parts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_string())
    };
    let s = req.change(text("csrf").as_deref())?;
    let component = parts
        .iter()
        .find(|(n, _)| n == "component")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let signature = text("signature")
        .filter(|s| !s.is_empty())
        .map(String::into_bytes);
    let result = s
        .state
        .operator
        .deploy_evaluator(provider.clone(), component, signature, &s.actor)
        .await;
    let (status, upload) = match result {
        Ok(d) => (
            StatusCode::OK,
            Upload {
                provider,
                admitted: true,
                message: if d.unchanged {
                    format!(
                        "Version {} ({}) was already active: nothing changed.",
                        d.version,
                        format::short_digest(&d.digest)
                    )
                } else {
                    format!(
                        "Version {} ({}) is now active.",
                        d.version,
                        format::short_digest(&d.digest)
                    )
                },
            },
        ),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Upload {
                provider,
                admitted: false,
                // The admission's message may span lines (a parser's dump).
                message: format!(
                    "Refused: {}. The active version keeps serving.",
                    e.to_string()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            },
        ),
    };
    Ok(render(&s, status, Notice::None, Some(upload)))
}

/// Every part of the upload, whole (the route bounds its total size). Each
/// part must be read before the next one is asked for.
async fn read_parts(mut form: FormData) -> Result<Vec<(String, Vec<u8>)>, String> {
    let unreadable = |e: warp::Error| format!("cannot read the upload: {e}");
    let mut out = Vec::new();
    while let Some(part) = form.try_next().await.map_err(unreadable)? {
        let name = part.name().to_string();
        let mut stream = part.stream();
        let mut bytes = Vec::new();
        while let Some(mut chunk) = stream.try_next().await.map_err(unreadable)? {
            while chunk.has_remaining() {
                let piece = chunk.chunk();
                let n = piece.len();
                bytes.extend_from_slice(piece);
                chunk.advance(n);
            }
        }
        out.push((name, bytes));
    }
    Ok(out)
}

pub async fn rollback(provider: String, req: Request, form: Vec<(String, String)>) -> Answer {
    let s = req.change(field(&form, "csrf"))?;
    Ok(
        match s
            .state
            .operator
            .rollback_evaluator(provider.clone(), &s.actor)
            .await
        {
            Ok(d) => s.done(
                PATH,
                format!(
                    "{provider} rolled back: version {} ({}) is active again.",
                    d.version,
                    format::short_digest(&d.digest)
                ),
            ),
            Err(e) => s.done(PATH, format!("{provider} was not rolled back: {e}")),
        },
    )
}
