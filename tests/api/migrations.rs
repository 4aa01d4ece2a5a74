//! The schema is every file of the backend's migrations folder, applied in
//! number order: a file added there is applied without being listed anywhere.

use crate::helpers::*;
use crate::on_each_backend;

fn files_in(folder: &str) -> Vec<(i64, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(folder);
    let mut files: Vec<(i64, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".sql").map(str::to_owned))
        .map(|stem| {
            let (n, name) = stem.split_once('_').unwrap();
            (n.parse().unwrap(), name.to_owned())
        })
        .collect();
    files.sort();
    files
}

on_each_backend! {
    async fn every_file_of_the_migrations_folder_is_applied_in_order(backend: Backend) {
        let folder = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        };
        let app = TestApp::spawn(backend).await;
        let mut conn = app.ctx.store.acquire().await.unwrap();
        let applied: Vec<(i64, String)> =
            conn.fetch_all("SELECT version, description FROM _sqlx_migrations ORDER BY version", &[]).await.unwrap();
        let expected = files_in(folder);
        assert!(!expected.is_empty());
        assert_eq!(applied, expected);
    }
}
