//! Architecture rules, checked from the Cargo.toml files and the sources:
//! - the dependency graph ARCHITECTURE.md draws is exactly the one the manifests declare,
//!   and it points down (each package depends only on packages drawn below it);
//! - simulation crates depend on no serde, file format, thread pool or progress crate, and
//!   their sources use no files, clocks, threads or hashed collections;
//! - every Rust source file starts with a `//!` doc comment.

use crate::support::repo_root;
use std::path::{Path, PathBuf};

const SIMULATION: [&str; 7] = [
    "liqsim-core",
    "liqsim-book",
    "liqsim-models",
    "liqsim-risk",
    "liqsim-exchange",
    "liqsim-agents",
    "liqsim-sim",
];

/// Dependencies a simulation crate must not have (normal dependencies; dev-dependencies
/// such as criterion's own rayon are allowed).
const FORBIDDEN_IN_SIMULATION: [&str; 8] =
    ["serde", "serde_json", "toml", "toml_edit", "csv", "rayon", "indicatif", "tempfile"];

/// Source patterns a simulation crate must not contain outside tests.
const FORBIDDEN_SOURCE: [&str; 8] = [
    "std::fs",
    "File::open",
    "Instant::now",
    "SystemTime",
    "thread::spawn",
    "HashMap",
    "HashSet",
    "rand::rng()",
];

fn manifests() -> Vec<(String, toml::Table, PathBuf)> {
    let root = repo_root();
    let mut paths = vec![root.join("Cargo.toml")];
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .expect("crates/ exists")
        .map(|e| e.expect("dir entry").path().join("Cargo.toml"))
        .filter(|p| p.exists())
        .collect();
    crates.sort();
    paths.extend(crates);
    paths
        .into_iter()
        .map(|p| {
            let table: toml::Table = std::fs::read_to_string(&p)
                .expect("read manifest")
                .parse()
                .expect("manifest is TOML");
            let name = table["package"]["name"].as_str().expect("package name").to_string();
            (name, table, p.parent().expect("crate dir").to_path_buf())
        })
        .collect()
}

/// The graph ARCHITECTURE.md draws: (package, its liqsim dependencies), top to bottom.
fn drawn_graph() -> Vec<(String, Vec<String>)> {
    let text =
        std::fs::read_to_string(repo_root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let marker =
        text.find("<!-- dependency graph").expect("ARCHITECTURE.md draws a dependency graph");
    let block = &text[marker..];
    let start = block.find("```text").expect("the graph is a text block") + "```text".len();
    let end = start + block[start..].find("```").expect("the graph's block ends");
    block[start..end]
        .lines()
        .filter_map(|line| line.split_once("->"))
        .map(|(name, deps)| {
            let deps = deps.split(',').map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
            (name.trim().to_string(), deps.collect())
        })
        .collect()
}

fn normal_dependencies(table: &toml::Table) -> Vec<String> {
    table
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn the_drawn_dependency_graph_is_the_real_one_and_points_down() {
    let drawn = drawn_graph();
    let manifests = manifests();
    assert!(manifests.len() >= 3, "found only {} manifests", manifests.len());
    let mut drawn_names: Vec<&str> = drawn.iter().map(|(n, _)| n.as_str()).collect();
    let mut real_names: Vec<&str> = manifests.iter().map(|(n, _, _)| n.as_str()).collect();
    drawn_names.sort_unstable();
    real_names.sort_unstable();
    assert_eq!(drawn_names, real_names, "ARCHITECTURE.md draws other packages than exist");
    for (name, table, _) in &manifests {
        let (row, (_, drawn_deps)) =
            drawn.iter().enumerate().find(|(_, (n, _))| n == name).expect("drawn");
        let mut real: Vec<String> =
            normal_dependencies(table).into_iter().filter(|d| d.starts_with("liqsim")).collect();
        let mut drawn_deps = drawn_deps.clone();
        real.sort();
        drawn_deps.sort();
        assert_eq!(real, drawn_deps, "{name}: Cargo.toml and ARCHITECTURE.md disagree");
        for dep in &drawn_deps {
            let below = drawn.iter().position(|(n, _)| n == dep).expect("dependency drawn");
            assert!(
                below > row,
                "{name} depends on {dep}, drawn above it: dependencies point down"
            );
        }
    }
}

#[test]
fn simulation_crates_have_no_io_serde_or_threads() {
    for (name, table, _) in manifests() {
        if !SIMULATION.contains(&name.as_str()) {
            continue;
        }
        for dep in normal_dependencies(&table) {
            assert!(
                !FORBIDDEN_IN_SIMULATION.contains(&dep.as_str()),
                "simulation crate {name} depends on {dep}"
            );
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.map(|e| e.expect("dir entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source with `#[cfg(test)]` modules cut off (they sit at the end by convention).
fn non_test_source(text: &str) -> &str {
    match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    }
}

#[test]
fn simulation_sources_use_no_files_clocks_threads_or_hashing() {
    for (name, _, dir) in manifests() {
        if !SIMULATION.contains(&name.as_str()) {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            let code = non_test_source(&text);
            for pattern in FORBIDDEN_SOURCE {
                for (i, line) in code.lines().enumerate() {
                    let trimmed = line.trim_start();
                    if trimmed.starts_with("//") {
                        continue;
                    }
                    assert!(
                        !line.contains(pattern),
                        "{}:{}: `{pattern}` in simulation crate {name}",
                        file.display(),
                        i + 1
                    );
                }
            }
        }
    }
}

#[test]
fn every_module_starts_with_a_doc_comment() {
    let root = repo_root();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    rust_files(&root.join("benches"), &mut files);
    for (_, _, dir) in manifests() {
        if dir != root {
            rust_files(&dir.join("src"), &mut files);
            rust_files(&dir.join("tests"), &mut files);
            rust_files(&dir.join("benches"), &mut files);
        }
    }
    assert!(files.len() > 10);
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        assert!(
            first.starts_with("//!"),
            "{} does not start with a `//!` module doc",
            file.display()
        );
    }
}

#[test]
fn clippy_bans_hashed_collections() {
    let clippy =
        std::fs::read_to_string(repo_root().join("clippy.toml")).expect("clippy.toml exists");
    assert!(
        clippy.contains("std::collections::HashMap")
            && clippy.contains("std::collections::HashSet")
    );
}
