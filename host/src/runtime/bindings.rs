//! Host bindings for the `trustpub:evaluator/evaluator` world (../wit).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "evaluator",
});

pub use self::trustpub::evaluator::types as wit;
