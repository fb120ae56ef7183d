//! `cargo xtask module-cycles`: no module of the host or the guest SDK
//! imports a module that imports it back. A pair of modules that use each
//! other is one concept split in two files (or two concepts tangled), and
//! the next change to either has to understand both.
//!
//! Modules are the files reached from `lib.rs` through `mod` items; an
//! import is a private `use` or a `crate::`/`super::`/`self::` path in code.
//! Re-exports (`pub use`) are a module's surface, not its dependencies, and
//! test modules (`#[cfg(test)]`) may use what they test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use syn::visit::Visit;

/// The crates whose modules are checked, by their `lib.rs`.
const CRATES: [&str; 2] = ["host/src/lib.rs", "guest/src/lib.rs"];

pub fn check(root: &Path) -> Result<()> {
    let mut problems = Vec::new();
    for lib in CRATES {
        let graph = ModuleGraph::read(&root.join(lib))?;
        for (a, b) in graph.mutual_imports() {
            problems.push(format!(
                "{lib}: {} and {} import each other ({} names {}; {} names {})",
                show(&a),
                show(&b),
                show(&a),
                graph.edges[&a][&b],
                show(&b),
                graph.edges[&b][&a],
            ));
        }
        println!(
            "module-cycles: {lib}: {} modules, {} imports between them",
            graph.modules.len(),
            graph.edges.values().map(BTreeMap::len).sum::<usize>()
        );
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

type ModulePath = Vec<String>;

fn show(module: &ModulePath) -> String {
    if module.is_empty() {
        "crate".into()
    } else {
        format!("crate::{}", module.join("::"))
    }
}

#[derive(Debug, Default)]
pub struct ModuleGraph {
    /// Every module and the file that holds it.
    pub modules: BTreeMap<ModulePath, PathBuf>,
    /// Which modules each module imports, each with the first path that
    /// names it.
    pub edges: BTreeMap<ModulePath, BTreeMap<ModulePath, String>>,
}

impl ModuleGraph {
    pub fn read(lib: &Path) -> Result<Self> {
        let mut graph = Self::default();
        let mut files = Vec::new();
        collect_modules(lib, Vec::new(), true, &mut graph.modules, &mut files)?;
        for (module, file) in files {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let ast = syn::parse_file(&text)
                .with_context(|| format!("cannot parse {}", file.display()))?;
            let mut imports = Imports::default();
            imports.visit_file(&ast);
            let mut targets = BTreeMap::new();
            for path in &imports.paths {
                if let Some(target) = graph.resolve(&module, path)
                    && target != module
                {
                    targets.entry(target).or_insert_with(|| path.join("::"));
                }
            }
            graph.edges.insert(module, targets);
        }
        Ok(graph)
    }

    /// The known module a path in `from` names: the longest module prefix
    /// of its absolute form. `None` for other crates.
    fn resolve(&self, from: &ModulePath, path: &[String]) -> Option<ModulePath> {
        let mut absolute: ModulePath;
        let mut rest = path;
        match path.first()?.as_str() {
            "crate" => {
                absolute = Vec::new();
                rest = &path[1..];
            }
            "self" => {
                absolute = from.clone();
                rest = &path[1..];
            }
            "super" => {
                absolute = from.clone();
                while rest.first().map(String::as_str) == Some("super") {
                    absolute.pop()?;
                    rest = &rest[1..];
                }
            }
            // A child module named without `self::` (2018 paths).
            first => {
                let mut child = from.clone();
                child.push(first.to_string());
                if !self.modules.contains_key(&child) {
                    return None;
                }
                absolute = from.clone();
            }
        }
        absolute.extend(rest.iter().cloned());
        (0..=absolute.len())
            .rev()
            .map(|n| absolute[..n].to_vec())
            .find(|prefix| self.modules.contains_key(prefix))
    }

    /// Pairs of modules that import each other, each pair once.
    pub fn mutual_imports(&self) -> Vec<(ModulePath, ModulePath)> {
        let mut pairs = Vec::new();
        for (a, targets) in &self.edges {
            for b in targets.keys() {
                if a < b && self.edges.get(b).is_some_and(|t| t.contains_key(a)) {
                    pairs.push((a.clone(), b.clone()));
                }
            }
        }
        pairs
    }
}

/// Walks `mod` items from `file`, recording each file module; modules under
/// `#[cfg(test)]` are left out.
fn collect_modules(
    file: &Path,
    module: ModulePath,
    owns_directory: bool,
    modules: &mut BTreeMap<ModulePath, PathBuf>,
    files: &mut Vec<(ModulePath, PathBuf)>,
) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let ast = syn::parse_file(&text).with_context(|| format!("cannot parse {}", file.display()))?;
    modules.insert(module.clone(), file.to_path_buf());
    files.push((module.clone(), file.to_path_buf()));
    let dir = file.parent().unwrap_or(Path::new("."));
    // `x.rs` keeps its children in `x/`; `lib.rs` and `mod.rs` beside them.
    let children_dir = if owns_directory {
        dir.to_path_buf()
    } else {
        dir.join(file.file_stem().unwrap_or_default())
    };
    for item in &ast.items {
        let syn::Item::Mod(m) = item else { continue };
        if m.content.is_some() || is_cfg_test(&m.attrs) {
            continue;
        }
        let name = m.ident.to_string();
        let mut child = module.clone();
        child.push(name.clone());
        let (path, owns) = match path_attr(&m.attrs) {
            Some(p) => (dir.join(p), false),
            None if children_dir.join(format!("{name}.rs")).exists() => {
                (children_dir.join(format!("{name}.rs")), false)
            }
            None => (children_dir.join(&name).join("mod.rs"), true),
        };
        collect_modules(&path, child, owns, modules, files)?;
    }
    Ok(())
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// The paths a file's code names: private `use` trees and every path.
#[derive(Default)]
struct Imports {
    paths: Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for Imports {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_cfg_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if matches!(u.vis, syn::Visibility::Inherited) {
            flatten(&u.tree, Vec::new(), &mut self.paths);
        }
    }

    /// `pub(super)` and `pub(in crate::x)` say who may see an item, not
    /// what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments
            .first()
            .is_some_and(|s| matches!(s.as_str(), "crate" | "super" | "self"))
        {
            self.paths.push(segments);
        }
        syn::visit::visit_path(self, p);
    }
}

fn flatten(tree: &syn::UseTree, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let with = |name: String| {
        let mut p = prefix.clone();
        p.push(name);
        p
    };
    match tree {
        syn::UseTree::Path(p) => flatten(&p.tree, with(p.ident.to_string()), out),
        syn::UseTree::Name(n) => out.push(with(n.ident.to_string())),
        syn::UseTree::Rename(r) => out.push(with(r.ident.to_string())),
        syn::UseTree::Glob(_) => out.push(prefix),
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| flatten(t, prefix.clone(), out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    fn names(graph: &ModuleGraph) -> Vec<(String, String)> {
        graph
            .mutual_imports()
            .into_iter()
            .map(|(a, b)| (show(&a), show(&b)))
            .collect()
    }

    #[test]
    fn two_modules_using_each_other_are_found() {
        let dir = tree(&[
            ("lib.rs", "pub mod a;\npub mod b;\n"),
            ("a.rs", "use crate::b::Thing;\npub struct Other;\n"),
            (
                "b/mod.rs",
                "pub struct Thing;\nfn f() -> crate::a::Other { crate::a::Other }\n",
            ),
        ]);
        let graph = ModuleGraph::read(&dir.path().join("lib.rs")).expect("read");
        assert_eq!(names(&graph), vec![("crate::a".into(), "crate::b".into())]);
    }

    #[test]
    fn re_exports_children_and_tests_do_not_count() {
        let dir = tree(&[
            ("lib.rs", "pub mod a;\npub mod b;\n"),
            // The parent re-exports its child; the child uses the parent.
            (
                "a.rs",
                "mod inner;\npub use inner::Thing;\npub struct Parent;\n",
            ),
            (
                "a/inner.rs",
                "use super::Parent;\npub struct Thing(Parent);\n",
            ),
            ("b.rs", "use crate::a::Thing;\n#[cfg(test)]\nmod tests;\n"),
            ("b/tests.rs", "use crate::a::Thing;\n"),
        ]);
        let graph = ModuleGraph::read(&dir.path().join("lib.rs")).expect("read");
        assert!(names(&graph).is_empty(), "{:?}", names(&graph));
        assert_eq!(graph.modules.len(), 4, "tests.rs is left out");
        assert!(
            graph.edges[&vec!["a".to_string(), "inner".to_string()]]
                .contains_key(&vec!["a".to_string()])
        );
    }

    #[test]
    fn a_parent_that_uses_its_child_privately_is_a_cycle_when_the_child_uses_it_back() {
        let dir = tree(&[
            ("lib.rs", "mod a;\n"),
            (
                "a/mod.rs",
                "mod inner;\nuse inner::Thing;\npub struct Parent;\n",
            ),
            ("a/inner.rs", "pub struct Thing(super::Parent);\n"),
        ]);
        let graph = ModuleGraph::read(&dir.path().join("lib.rs")).expect("read");
        assert_eq!(
            names(&graph),
            vec![("crate::a".into(), "crate::a::inner".into())]
        );
    }

    #[test]
    fn the_real_crates_have_no_mutual_imports() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        check(&root).expect("no module imports one that imports it back");
    }
}
