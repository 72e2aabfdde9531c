//! The bundled scenario library: every file validates, under every margin policy.

use crate::support::liqsim;

fn scenario_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(crate::support::repo_root().join("scenarios"))
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| format!("scenarios/{}", p.file_name().expect("name").to_string_lossy()))
        .collect();
    files.sort();
    files
}

#[test]
fn the_library_has_the_documented_scenarios() {
    let files = scenario_files();
    let readme = std::fs::read_to_string(crate::support::repo_root().join("scenarios/README.md"))
        .expect("README");
    assert!(files.len() >= 11, "{files:?}");
    for file in &files {
        let name = file.trim_start_matches("scenarios/");
        assert!(
            readme.contains(&format!("`{name}`")),
            "{name} is not listed in scenarios/README.md"
        );
        let text = std::fs::read_to_string(crate::support::repo_root().join(file)).expect("read");
        let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
        assert!(
            header.len() >= 4,
            "{file}: the header comment should say what it stresses and what to look for"
        );
        assert!(text.contains("What to look for"), "{file}: no `What to look for` in the header");
    }
}

#[test]
fn every_scenario_validates_under_every_policy() {
    let files = scenario_files();
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let out = liqsim(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for policy in liqsim_scenario::Policy::NAMES {
        for file in &files {
            // `run` validates before it runs; an invalid combination exits with 2.
            let out = liqsim(&["validate", file, "--set", &format!("margin.policy={policy}")]);
            assert_eq!(out.code, 0, "{file} with policy {policy}: {}", out.stderr);
        }
    }
}

#[test]
fn the_readme_lists_the_keys_of_each_agent_kind() {
    use liqsim_scenario::raw::RawAgents;
    use liqsim_scenario::tagged::Tagged;
    let readme = std::fs::read_to_string(crate::support::repo_root().join("scenarios/README.md"))
        .expect("README");
    for kind in RawAgents::KINDS {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{kind}` | `count`")))
            .unwrap_or_else(|| panic!("no row of keys for `{kind}` in scenarios/README.md"));
        let listed: Vec<&str> = row
            .split('|')
            .nth(2)
            .expect("keys column")
            .split(',')
            .map(|k| k.trim().trim_matches('`'))
            .collect();
        assert_eq!(listed, RawAgents::keys(kind), "scenarios/README.md, keys of `{kind}`");
    }
}
