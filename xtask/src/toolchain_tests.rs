use std::path::{Path, PathBuf};

use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.canonicalize().expect("scratch dir resolves")
}

fn required(path: &Path) -> RequiredPath {
    RequiredPath {
        path: Box::leak(path.display().to_string().into_boxed_str()),
        what: "the wasm linker",
        package: "rust-web-llvm",
    }
}

#[test]
fn resolution_steps_name_every_link_and_the_real_file() {
    let dir = scratch("links");
    std::fs::create_dir_all(dir.join("lib/llvm/bin")).expect("test setup");
    std::fs::write(dir.join("lib/llvm/bin/lld"), "").expect("test setup");
    std::fs::create_dir(dir.join("bin")).expect("test setup");
    std::os::unix::fs::symlink("../lib/llvm/bin/lld", dir.join("bin/lld-22")).expect("test setup");
    std::os::unix::fs::symlink("lld-22", dir.join("bin/rust-lld")).expect("test setup");
    // A linked directory on the way, as /usr/lib/rustlib/src/rust is.
    std::os::unix::fs::symlink(dir.join("bin"), dir.join("tools")).expect("test setup");

    let steps = resolution_steps(&dir.join("tools/rust-lld"));
    assert_eq!(
        steps,
        vec![
            dir.join("tools"),
            dir.join("bin/rust-lld"),
            dir.join("bin/lld-22"),
            dir.join("lib/llvm/bin/lld"),
        ]
    );
    std::fs::remove_dir_all(dir).expect("test setup");
}

#[test]
fn a_path_every_step_of_which_is_ours_passes() {
    let dir = scratch("ours");
    std::fs::write(dir.join("lld"), "").expect("test setup");
    std::os::unix::fs::symlink("lld", dir.join("rust-lld")).expect("test setup");
    let owners = |p: &Path| {
        if p.ends_with("rust-lld") {
            vec!["rust-web-llvm".to_string()]
        } else {
            vec!["lld-22".to_string()]
        }
    };
    assert_eq!(
        check_path(&required(&dir.join("rust-lld")), &owners),
        Ok(())
    );
    std::fs::remove_dir_all(dir).expect("test setup");
}

#[test]
fn a_link_put_there_by_hand_fails_even_though_it_works() {
    let dir = scratch("by-hand");
    std::fs::write(dir.join("lld"), "").expect("test setup");
    std::os::unix::fs::symlink("lld", dir.join("rust-lld")).expect("test setup");
    // The link belongs to no package; only its target does.
    let owners = |p: &Path| {
        if p.ends_with("rust-lld") {
            vec![]
        } else {
            vec!["lld-22".to_string()]
        }
    };
    let problem = check_path(&required(&dir.join("rust-lld")), &owners).expect_err("must fail");
    assert!(matches!(&problem, PathProblem::NotOurs { owners, .. } if owners.is_empty()));
    assert!(problem.to_string().contains("by hand"), "{problem}");
    std::fs::remove_dir_all(dir).expect("test setup");
}

#[test]
fn a_file_from_a_package_we_do_not_install_fails_naming_that_package() {
    let dir = scratch("foreign");
    std::fs::write(dir.join("rust-lld"), "").expect("test setup");
    let owners = |_: &Path| vec!["some-other-llvm".to_string()];
    let problem = check_path(&required(&dir.join("rust-lld")), &owners).expect_err("must fail");
    let message = problem.to_string();
    assert!(message.contains("some-other-llvm"), "{message}");
    assert!(message.contains("DEBIAN_PACKAGES"), "{message}");
    std::fs::remove_dir_all(dir).expect("test setup");
}

#[test]
fn a_missing_path_names_the_package_that_provides_it() {
    let dir = scratch("missing");
    let problem =
        check_path(&required(&dir.join("rust-lld")), &|_: &Path| vec![]).expect_err("must fail");
    assert!(matches!(problem, PathProblem::Missing { .. }));
    assert!(problem.to_string().contains("rust-web-llvm"), "{problem}");
    std::fs::remove_dir_all(dir).expect("test setup");
}

#[test]
fn every_required_path_names_a_package_we_install() {
    for required in REQUIRED_PATHS {
        assert!(
            DEBIAN_PACKAGES.contains(&required.package),
            "{} names {}",
            required.path,
            required.package
        );
    }
}

#[test]
fn dpkg_search_output_is_read_for_the_exact_path_only() {
    let out = "rust-web-llvm: /usr/bin/rust-lld\n\
               lld-22, lld-22:amd64: /usr/bin/rust-lld-old\n\
               diversion by foo from: /usr/bin/rust-lld\n";
    assert_eq!(
        parse_dpkg_search(out, Path::new("/usr/bin/rust-lld")),
        vec!["rust-web-llvm"]
    );
    assert_eq!(
        parse_dpkg_search(out, Path::new("/usr/bin/rust-lld-old")),
        vec!["lld-22", "lld-22"]
    );
    assert!(parse_dpkg_search("", Path::new("/usr/bin/rustc")).is_empty());
}

/// The guard itself, on this machine: when the build takes the Debian route
/// (no rustup wasm target), every path it used must belong to a package the
/// build installs. `cargo xtask test` builds the components first, so the
/// toolchain is present here.
#[test]
fn this_machines_debian_toolchain_comes_only_from_packages_we_install() {
    if rustup_has_wasm_target() {
        eprintln!("rustup's {TARGET} target is installed: the Debian toolchain is not used");
        return;
    }
    if let Err(e) = verify_debian_toolchain() {
        panic!("{e:#}");
    }
}
