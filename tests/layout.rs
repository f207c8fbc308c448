//! The workspace's shape: each crate's modules import each other without cycles (a module
//! graph that is a DAG), so a module can be read after the ones it uses.
//!
//! A module's imports are the `crate::m` and `super::m` paths in its code (comments and
//! `#[cfg(test)]` code left out), collapsed to top-level modules: `crate::routes::plan` is the
//! module `routes`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out
}

/// The module path of a source file relative to `src`: `routes/plan.rs` is `routes::plan`,
/// `routes/mod.rs` is `routes`, `lib.rs` is the root (empty).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its `#[cfg(test)]` part.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifiers following each occurrence of `prefix` in `code`.
fn after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    code.match_indices(prefix)
        .filter(|(at, _)| {
            // A whole path segment: `crate::` not `mycrate::`.
            code[..*at]
                .chars()
                .last()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        })
        .filter_map(|(at, _)| {
            let rest = &code[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (end > 0).then(|| &rest[..end])
        })
        .collect()
}

/// The top-level module graph of the crate whose sources are in `src`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = sources(src);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let module = module_of(src, file);
        let Some(top) = module.first().cloned() else {
            continue;
        };
        let text = code(&std::fs::read_to_string(file).unwrap());
        let mut targets = Vec::new();
        for name in after(&text, "crate::") {
            targets.push(vec![name.to_string()]);
        }
        let parent = &module[..module.len() - 1];
        for name in after(&text, "super::") {
            let mut path = parent.to_vec();
            path.push(name.to_string());
            targets.push(path);
        }
        for target in targets {
            if modules.contains(&target) && target[0] != top {
                edges
                    .entry(top.clone())
                    .or_default()
                    .insert(target[0].clone());
            }
        }
    }
    edges
}

/// A cycle of `graph`, if it has one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // Depth-first search; `path` is the current chain, `done` the nodes fully explored.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn every_crates_modules_form_a_dag() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    crates.push(root.join("src"));
    assert!(crates.len() >= 8, "{crates:?}");
    for src in crates {
        let graph = graph(&src);
        assert!(
            cycle(&graph).is_none(),
            "{}: modules import each other in a circle: {}",
            src.display(),
            cycle(&graph).unwrap().join(" -> ")
        );
    }
}

/// The check finds a cycle where there is one.
#[test]
fn the_cycle_check_finds_a_planted_cycle() {
    let edge = |a: &str, b: &str| (a.to_string(), BTreeSet::from([b.to_string()]));
    let dag = BTreeMap::from([edge("a", "b"), edge("b", "c")]);
    assert_eq!(cycle(&dag), None);
    let circle = BTreeMap::from([edge("a", "b"), edge("b", "c"), edge("c", "a")]);
    assert_eq!(
        cycle(&circle).unwrap(),
        ["a", "b", "c", "a"].map(String::from)
    );
    let code_text =
        "use crate::routes::plan;\n// crate::ignored\nlet x = super::state::X; mycrate::no";
    assert_eq!(after(&code(code_text), "crate::"), ["routes"]);
    assert_eq!(after(&code(code_text), "super::"), ["state"]);
}
