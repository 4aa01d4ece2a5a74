//! The floors of `src`, from the bottom: a top-level module may use only
//! modules on floors below its own. ARCHITECTURE.md ("Layers") says why
//! each module sits where it does; this test keeps the code to it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FLOORS: &[&[&str]] = &[
    &["clock", "metrics", "domain", "contact", "private", "telemetry", "background", "i18n"],
    &["config"],
    &["tokens"],
    &["store"],
    &["limiter", "pwned"],
    &["passwords"],
    &["webhooks"],
    &["mail"],
    &["flows"],
    &["outbox"],
    &["error"],
    &["http"],
    &["server"],
    &["startup"],
    &["preflight"],
    &["cli"],
];

fn floor_of(module: &str) -> Option<usize> {
    FLOORS.iter().position(|floor| floor.contains(&module))
}

fn source_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// `crate::name` in the file's code, leaving out its `#[cfg(test)]` module (tests may reach anywhere).
fn used_modules(code: &str) -> Vec<String> {
    let code = code.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    let mut used = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let name: String = code[at + "crate::".len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        used.push(name);
    }
    // `use crate::{a, b::c}` names several at once.
    for (at, _) in code.match_indices("crate::{") {
        let list = &code[at + "crate::{".len()..];
        let list = &list[..list.find('}').unwrap_or(list.len())];
        used.extend(list.split(',').map(|item| item.trim().split("::").next().unwrap_or_default().to_owned()));
    }
    used.retain(|name| !name.is_empty());
    used
}

#[test]
fn each_module_uses_only_the_floors_below_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    // What `crate::` names that is no module (`crate::args!`, a macro) is no floor's business.
    let modules: Vec<String> =
        std::fs::read_dir(&src).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
    let mut upward = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(own) = floor_of(&top) else {
            panic!("src/{top} has no floor: add it to FLOORS here and to ARCHITECTURE.md's layers");
        };
        for used in used_modules(&std::fs::read_to_string(&file).unwrap()).into_iter().filter(|m| modules.contains(m)) {
            match floor_of(&used) {
                _ if used == top => {}
                Some(floor) if floor < own => {}
                Some(_) => {
                    upward.insert(format!("{} uses crate::{used}", relative.display()), ());
                }
                None => panic!("src/{used} has no floor: add it to FLOORS here and to ARCHITECTURE.md's layers"),
            }
        }
    }
    let upward: Vec<_> = upward.into_keys().collect();
    assert!(upward.is_empty(), "imports on the same floor or upward:\n{}", upward.join("\n"));
}

#[test]
fn the_floor_test_reads_imports_as_written() {
    let code = "use crate::store::{self, Conn};\nuse crate::{clock, tokens::Purpose};\nfn f() { crate::metrics::refused(\"x\") }\n#[cfg(test)]\nmod tests {\n use crate::http;\n}";
    let mut used = used_modules(code);
    used.sort();
    used.dedup();
    assert_eq!(used, ["clock", "metrics", "store", "tokens"]);
}
