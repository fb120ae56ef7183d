//! Which version of the evaluator contract a component implements, told by
//! what it exports and imports, and its pre-linked form for that version.

use wasmtime::Engine;
use wasmtime::component::{Component, InstancePre};

use super::LoadError;
use super::bindings::{v0_1, v0_2};
use super::sandbox::SandboxState;

/// The contract versions this host runs: 0.2 natively, 0.1 through the
/// adapter in `session.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    V0_1,
    V0_2,
}

impl Contract {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_1 => "0.1",
            Self::V0_2 => "0.2",
        }
    }

    fn minor(self) -> u64 {
        match self {
            Self::V0_1 => 1,
            Self::V0_2 => 2,
        }
    }
}

/// The newest contract (`wit/evaluator.wit`).
pub const CONTRACT_VERSION: (u64, u64, u64) = (0, 2, 0);

/// A component linked for its contract version, ready to instantiate.
pub(super) enum Pre {
    V0_1(v0_1::EvaluatorPre<SandboxState>),
    V0_2(v0_2::EvaluatorPre<SandboxState>),
}

/// One instance of either version.
pub(super) enum Instance {
    V0_1(v0_1::Evaluator),
    V0_2(v0_2::Evaluator),
}

impl Pre {
    pub(super) fn new(
        contract: Contract,
        pre: InstancePre<SandboxState>,
    ) -> Result<Self, LoadError> {
        let world = |e: wasmtime::Error| LoadError::World(format!("{e:#}"));
        Ok(match contract {
            Contract::V0_1 => Self::V0_1(v0_1::EvaluatorPre::new(pre).map_err(world)?),
            Contract::V0_2 => Self::V0_2(v0_2::EvaluatorPre::new(pre).map_err(world)?),
        })
    }

    pub(super) fn instantiate(
        &self,
        store: &mut wasmtime::Store<SandboxState>,
    ) -> wasmtime::Result<Instance> {
        Ok(match self {
            Self::V0_1(pre) => Instance::V0_1(pre.instantiate(store)?),
            Self::V0_2(pre) => Instance::V0_2(pre.instantiate(store)?),
        })
    }
}

/// Tells the contract by the component's exports (0.2 exports the
/// `evaluator` interface, 0.1 bare functions), then refuses any
/// `trustpub:evaluator` import of another version, even when its shapes
/// happen to link: a version is a promise about meaning too. Compatible means
/// semver-compatible: same major, and same minor while 0.x.
pub(super) fn detect(component: &Component, engine: &Engine) -> Result<Contract, LoadError> {
    let ty = component.component_type();
    let exported = |prefix: &str| {
        ty.exports(engine)
            .find(|(name, _)| name.starts_with(prefix))
    };
    let contract = if let Some((name, _)) = exported("trustpub:evaluator/evaluator@") {
        match parse_version(name) {
            Some((0, 2, _)) => Contract::V0_2,
            _ => return Err(incompatible(name)),
        }
    } else if exported("evaluate").is_some() {
        Contract::V0_1
    } else {
        return Err(LoadError::World(
            "it exports neither the trustpub:evaluator/evaluator@0.2 interface nor the 0.1 evaluate function".into(),
        ));
    };
    for (name, _) in ty.imports(engine) {
        if !name.starts_with("trustpub:evaluator/") {
            continue;
        }
        if parse_version(name)
            .is_none_or(|(major, minor, _)| major != 0 || minor != contract.minor())
        {
            return Err(incompatible(name));
        }
    }
    Ok(contract)
}

fn parse_version(name: &str) -> Option<(u64, u64, u64)> {
    let version = name.split_once('@')?.1;
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(a)), Some(Some(b)), Some(Some(c)), None) => Some((a, b, c)),
        _ => None,
    }
}

fn incompatible(name: &str) -> LoadError {
    let version = name.split_once('@').map(|(_, v)| v).unwrap_or("");
    let (major, minor, patch) = CONTRACT_VERSION;
    LoadError::World(format!(
        "it uses {name}: built against trustpub:evaluator@{version}, but this host implements {major}.{minor}.{patch} (compatible: 0.1.x through the adapter, and {major}.{minor}.x)"
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn versions_are_read_from_interface_names() {
        assert_eq!(
            parse_version("trustpub:evaluator/crypto@0.2.1"),
            Some((0, 2, 1))
        );
        assert_eq!(parse_version("trustpub:evaluator/crypto"), None);
        assert_eq!(parse_version("trustpub:evaluator/crypto@0.2"), None);
        assert_eq!(parse_version("trustpub:evaluator/crypto@0.2.0-rc"), None);
    }
}
