//! The glue between the SDK's plain Rust types and the wit-bindgen bindings
//! of `trustpub:evaluator@0.2.0`; compiled only for the component.
//!
//! `validate` and `match` are separate calls into one instance, so the
//! instance keeps the [`Session`] of its last validation in a thread-local:
//! a component instance is single-threaded and the host makes a fresh one
//! per exchange, so the state never outlives the exchange. It is stored as
//! `dyn Any` because a `static` cannot be generic over the evaluator.

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

use crate::evaluator::Evaluator;
use crate::session::Session;
use crate::types::{Candidate, MatchResult, Validation};
use crate::verify::SignatureVerifier;

pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "guest",
        pub_export_macro: true,
        default_bindings_module: "trustpub_guest::component::bindings",
    });
}

// `wit/deps` also holds the frozen 0.1.0 package of the same name, so
// wit-bindgen puts the version into the module name: `evaluator0_2_0`.
use bindings::exports::trustpub::evaluator0_2_0::evaluator::Guest;
use bindings::trustpub::evaluator0_2_0::{crypto, types as wit};

thread_local! {
    static SESSION: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Signature verification through the host's `verify-jws` import.
struct HostVerifier;

impl SignatureVerifier for HostVerifier {
    fn verify_jws(&self, token: &str, issuer: &str) -> Result<String, String> {
        crypto::verify_jws(token, issuer)
    }
}

/// The exported component for evaluator `E`.
pub struct Component<E>(PhantomData<E>);

impl<E: Evaluator + 'static> Guest for Component<E> {
    fn info() -> wit::ProviderInfo {
        let info = E::info();
        wit::ProviderInfo {
            name: info.name,
            version: info.version,
            issuers: info.issuers,
            criteria_schema: info.criteria_schema,
            pins: info.pins,
            index_key: info.index_key,
        }
    }

    fn check_criteria(criteria: String, config: String) -> Result<wit::CheckedCriteria, String> {
        E::check_criteria(&criteria, &config).map(|checked| wit::CheckedCriteria {
            criteria: checked.criteria,
            index_keys: checked.index_keys,
        })
    }

    fn validate(token: String, config: String, now: u64) -> wit::Validation {
        let mut session = Session::<E>::new();
        let validation = session.validate(&token, &config, now, &HostVerifier);
        SESSION.with(|slot| *slot.borrow_mut() = Some(Box::new(session)));
        match validation {
            Validation::Valid(facts) => wit::Validation::Valid(wit::TokenFacts {
                issuer: facts.issuer,
                token_id: facts.token_id,
                subject: facts.subject,
                accepted_until: facts.accepted_until,
                expires_at: facts.expires_at,
                lookup_keys: facts.lookup_keys,
            }),
            Validation::BadToken(rejection) => wit::Validation::BadToken(wit::Rejection {
                check: rejection.check,
                message: rejection.message,
            }),
        }
    }

    fn match_candidates(candidates: Vec<wit::Candidate>) -> wit::MatchResult {
        let candidates: Vec<Candidate> = candidates
            .into_iter()
            .map(|c| Candidate {
                id: c.id,
                criteria: c.criteria,
                pins: c.pins,
            })
            .collect();
        let result = SESSION.with(|slot| {
            match slot
                .borrow()
                .as_ref()
                .and_then(|s| s.downcast_ref::<Session<E>>())
            {
                Some(session) => session.match_candidates(&candidates),
                None => MatchResult::Unauthorized(Vec::new()),
            }
        });
        match result {
            MatchResult::Matched(m) => wit::MatchResult::Matched(wit::Matched {
                policy_id: m.policy_id,
                pins: m.pins,
            }),
            MatchResult::Unauthorized(near_misses) => wit::MatchResult::Unauthorized(
                near_misses
                    .into_iter()
                    .map(|n| wit::NearMiss {
                        policy_id: n.policy_id,
                        reason: n.reason,
                    })
                    .collect(),
            ),
        }
    }
}
