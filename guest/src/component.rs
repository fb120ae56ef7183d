//! The glue between the SDK's plain Rust types and the wit-bindgen bindings;
//! compiled only for the component.

use std::marker::PhantomData;

use crate::Evaluator;
use crate::types::{Evaluation, Policy, ProviderInfo, Request};
use crate::verify::SignatureVerifier;

pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "evaluator",
        pub_export_macro: true,
        default_bindings_module: "trustpub_guest::component::bindings",
    });
}

use bindings::trustpub::evaluator::{crypto, types as wit};

/// Signature verification through the host's `verify-jws` import.
struct HostVerifier;

impl SignatureVerifier for HostVerifier {
    fn verify_jws(&self, token: &str, issuer: &str) -> Result<String, String> {
        crypto::verify_jws(token, issuer)
    }
}

/// The exported component for evaluator `E`.
pub struct Component<E>(PhantomData<E>);

impl<E: Evaluator> bindings::Guest for Component<E> {
    fn info() -> wit::ProviderInfo {
        let ProviderInfo {
            name,
            version,
            issuers,
            criteria_schema,
            pins,
        } = E::info();
        wit::ProviderInfo {
            name,
            version,
            issuers,
            criteria_schema,
            pins,
        }
    }

    fn check_criteria(criteria: String) -> Result<String, String> {
        E::check_criteria(&criteria)
    }

    fn evaluate(req: wit::Request) -> wit::Evaluation {
        let request = Request {
            token: req.token,
            policies: req
                .policies
                .into_iter()
                .map(|p| Policy {
                    id: p.id,
                    criteria: p.criteria,
                    pins: p.pins,
                })
                .collect(),
            config: req.config,
            now: req.now,
        };
        match E::evaluate(&request, &HostVerifier) {
            Evaluation::BadToken(message) => wit::Evaluation::BadToken(message),
            Evaluation::Unauthorized => wit::Evaluation::Unauthorized,
            Evaluation::Matched(m) => wit::Evaluation::Matched(wit::Matched {
                policy_id: m.policy_id,
                issuer: m.issuer,
                token_id: m.token_id,
                subject: m.subject,
                expires_at: m.expires_at,
                pins: m.pins,
            }),
        }
    }
}
