//! Host bindings for both contract versions: the current
//! `trustpub:evaluator@0.2.0` (../wit, world `guest`) and the frozen 0.1.0
//! (../wit/deps/evaluator@0.1.0), which runs through the adapter in
//! `session.rs`. With both versions of the package in one resolve, the
//! generated module names carry the version (`evaluator0_2_0`).

pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "guest",
    });

    pub use self::Guest as Evaluator;
    pub use self::GuestPre as EvaluatorPre;
    pub use self::trustpub::evaluator0_2_0::types as wit;
}

pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/deps/evaluator@0.1.0",
        world: "evaluator",
    });

    pub use self::trustpub::evaluator::types as wit;
}
