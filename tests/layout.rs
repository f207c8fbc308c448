//! The workspace's shape: each crate's modules import each other without cycles (a module
//! graph that is a DAG), so a module can be read after the ones it uses.
//!
//! A module's imports are the `crate::...` and `super::...` paths in its code, grouped ones
//! (`crate::{a::X, b}`) included, each resolved to the longest module it names
//! (`crate::routes::plan::Request` is the module `routes::plan`); comments and the code from a
//! file's `#[cfg(test)]` on are left out. The graph is checked twice: between every module
//! (file) and between top-level modules (`routes::plan` counting as `routes`).

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

/// Whether `c` can be part of an identifier.
fn ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The paths (as segments) following each occurrence of `prefix` in `code`: `prefix a::b::C`
/// gives `[a, b, C]`, and `prefix {a::X, b::{c, d}}` gives `[a, X]` and `[b]`.
fn paths(code: &str, prefix: &str) -> Vec<Vec<String>> {
    /// The `::`-separated identifiers at the start of `s`.
    fn segments(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = s.trim_start();
        loop {
            let end = rest.find(|c: char| !ident(c)).unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            out.push(rest[..end].to_string());
            match rest[end..].strip_prefix("::") {
                Some(next) => rest = next,
                None => break,
            }
        }
        out
    }
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        // The start of a path: `crate::` not `mycrate::`, the first `super::` of a chain.
        if code[..at].chars().last().is_some_and(ident) || code[..at].ends_with("::") {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The top-level items of the group.
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.push(segments(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(segments(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(segments(rest));
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// The module graph of the crate whose sources are in `src`: every module (by path, joined
/// with `::`) and the modules it imports.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = sources(src);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let module = module_of(src, file);
        if module.is_empty() {
            continue;
        }
        let text = code(&std::fs::read_to_string(file).unwrap());
        let parent = &module[..module.len() - 1];
        let mut targets = paths(&text, "crate::");
        for path in paths(&text, "super::") {
            // `super::super::x` climbs one more level per `super`.
            let mut base = parent.to_vec();
            let mut rest = path.as_slice();
            while let Some(("super", tail)) = rest.split_first().map(|(h, t)| (h.as_str(), t)) {
                base.pop();
                rest = tail;
            }
            targets.push(base.into_iter().chain(rest.iter().cloned()).collect());
        }
        for target in targets {
            // The longest prefix of the path that is a module (not the crate root).
            let Some(len) = (1..=target.len())
                .rev()
                .find(|&n| modules.contains(&target[..n]))
            else {
                continue;
            };
            let target = &target[..len];
            if target != module.as_slice() {
                edges
                    .entry(module.join("::"))
                    .or_default()
                    .insert(target.join("::"));
            }
        }
    }
    edges
}

/// `graph` between top-level modules only.
fn top_level(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, BTreeSet<String>> {
    let top = |m: &str| m.split("::").next().unwrap_or(m).to_string();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in graph {
        for to in to {
            if top(from) != top(to) {
                out.entry(top(from)).or_default().insert(top(to));
            }
        }
    }
    out
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
        let modules = graph(&src);
        for graph in [&modules, &top_level(&modules)] {
            if let Some(cycle) = cycle(graph) {
                panic!(
                    "{}: modules import each other in a circle: {}",
                    src.display(),
                    cycle.join(" -> ")
                );
            }
        }
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
    let text = "use crate::routes::plan;\n// crate::ignored\nlet x = super::state::X; mycrate::no;\n\
                use crate::{a::X, b::{c, d}, e};";
    let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        paths(&code(text), "crate::"),
        [
            path(&["routes", "plan"]),
            path(&["a", "X"]),
            path(&["b"]),
            path(&["e"])
        ]
    );
    assert_eq!(paths(&code(text), "super::"), [path(&["state", "X"])]);
    // A planted crate: a -> b::c -> a (through `super::` and a grouped import), and a test
    // module's import that does not count.
    let src = std::env::temp_dir().join(format!("flowopt-layout-{}/src", std::process::id()));
    std::fs::create_dir_all(src.join("b")).unwrap();
    let write = |file: &str, text: &str| std::fs::write(src.join(file), text).unwrap();
    write("lib.rs", "mod a;\nmod b;\n");
    write("a.rs", "use crate::{b::c::C, x};\n");
    write(
        "b/mod.rs",
        "mod c;\n#[cfg(test)]\nmod tests { use crate::a::A; }\n",
    );
    write("b/c.rs", "use super::super::a;\npub struct C(a::A);\n");
    let planted = graph(&src);
    assert_eq!(planted["a"], BTreeSet::from(["b::c".to_string()]));
    assert!(!planted.contains_key("b"), "{planted:?}");
    assert_eq!(cycle(&planted).unwrap().len(), 3, "{planted:?}");
    std::fs::remove_dir_all(src.parent().unwrap()).unwrap();
}
