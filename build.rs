//! Lists `migrations/<backend>/NNNN_name.sql` for `store::migrator`, so that a
//! migration file is applied because it exists, not because someone also
//! remembered to add it to a list; and `locales/<language>/*.ftl` for `i18n`,
//! so that a language is built in by adding its folder.

// A build script reports a broken migrations folder by failing the build.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let mut code = String::new();
    for backend in ["sqlite", "postgres"] {
        let dir = Path::new("migrations").join(backend);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&dir)
            .expect("the migrations folder")
            .map(|entry| entry.expect("a migrations folder entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "sql"))
            .map(|path| {
                let stem = path.file_stem().and_then(|s| s.to_str()).expect("a UTF-8 file name").to_owned();
                let (version, name) = stem.split_once('_').unwrap_or_else(|| panic!("{stem}.sql is not named NNNN_name.sql"));
                let version = version.parse().unwrap_or_else(|_| panic!("{stem}.sql does not start with its number"));
                let absolute = std::fs::canonicalize(&path).expect("the migration's path");
                (version, name.to_owned(), absolute.display().to_string())
            })
            .collect();
        files.sort();
        for pair in files.windows(2) {
            assert!(pair[0].0 != pair[1].0, "two {backend} migrations are number {}", pair[0].0);
        }
        let _ = writeln!(code, "pub(super) const {}: &[(i64, &str, &str)] = &[", backend.to_uppercase());
        for (version, name, path) in files {
            let _ = writeln!(code, "    ({version}, {name:?}, include_str!({path:?})),");
        }
        code.push_str("];\n");
    }
    std::fs::write(Path::new(&out).join("migrations.rs"), code).expect("writing the migration list");
    std::fs::write(Path::new(&out).join("locales.rs"), locales()).expect("writing the catalogue list");
}

/// `&[(language, file name, text)]`, in path order.
fn locales() -> String {
    let root = Path::new("locales");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files: Vec<(String, String, String)> = Vec::new();
    for language in std::fs::read_dir(root).expect("the locales folder") {
        let language = language.expect("a locales folder entry").path();
        if !language.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&language).expect("a language's folder") {
            let path = file.expect("a language folder entry").path();
            if path.extension().is_some_and(|e| e == "ftl") {
                let name = |p: &Path| p.file_name().and_then(|s| s.to_str()).expect("a UTF-8 file name").to_owned();
                let absolute = std::fs::canonicalize(&path).expect("the catalogue's path");
                files.push((name(&language), name(&path), absolute.display().to_string()));
            }
        }
    }
    files.sort();
    let mut code = String::from("&[\n");
    for (language, name, path) in files {
        let _ = writeln!(code, "    ({language:?}, {name:?}, include_str!({path:?})),");
    }
    code.push(']');
    code
}
