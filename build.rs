//! Lists `migrations/<backend>/NNNN_name.sql` for `store::migrator`, so that a
//! migration file is applied because it exists, not because someone also
//! remembered to add it to a list.

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
}
