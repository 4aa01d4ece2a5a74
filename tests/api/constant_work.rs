//! No account enumeration, made structural: the request path of an
//! email-naming endpoint runs the same statements whatever the account's
//! state; what differs happens later, in the worker. And the SQLite writer
//! behind it: group commit that rolls a failing job back alone, durably.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use tracing::Instrument;
use usher::store::{PoolSettings, Store};

const FORM: &str = "application/x-www-form-urlencoded";

/// An app whose paths are its own, so that its statements are told apart
/// from those of tests running beside it in the same process.
async fn probed(backend: Backend) -> (TestApp, String) {
    let base = format!("/probe{}", &uuid_like()[..12]);
    let app = TestApp::spawn_with(backend, &[("base_path", base.as_str()), ("limit_email_daily", "1000")]).await;
    (app, base)
}

/// The statements one request ran, by the statement text.
async fn statements_of(app: &TestApp, path: &str, send: impl std::future::Future<Output = reqwest::Response>) -> Vec<String> {
    take_statements(path);
    let r = send.await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    let ran = take_statements(path);
    assert!(!ran.is_empty(), "the statement log saw nothing for {path}: is the capture layer installed?");
    app.clock.advance(Duration::from_secs(61));
    ran
}

async fn post_form(app: &TestApp, path: &str, body: String) -> reqwest::Response {
    app.client.post(app.url(path)).header("content-type", FORM).body(body).send().await.unwrap()
}

fn akana_signup(email: &str) -> String {
    format!("firstName=Jane&lastName=Saoirse&emailAddress={}", email.replace('@', "%40"))
}

on_each_backend! {
    async fn send_password_email_runs_the_same_statements_for_known_and_unknown_addresses(backend: Backend) {
        let (app, base) = probed(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        let path = format!("{base}/no_auth/send_password_email");
        let known = statements_of(&app, &path, app.post_json(&path, &json!({ "cname": "acme", "email": "jane@example.com" }))).await;
        let unknown = statements_of(&app, &path, app.post_json(&path, &json!({ "cname": "acme", "email": "nobody@example.com" }))).await;
        let no_tenant = statements_of(&app, &path, app.post_json(&path, &json!({ "cname": "nosuch", "email": "kim@example.com" }))).await;
        assert_eq!(known, unknown);
        assert_eq!(known, no_tenant);
        assert!(known.iter().all(|sql| !sql.contains("users")), "the request path does not look the user up: {known:#?}");
    }

    async fn signup_runs_the_same_statements_for_a_new_address_and_one_with_an_account(backend: Backend) {
        let (app, base) = probed(backend).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        app.clock.advance(Duration::from_secs(61));
        let path = format!("{base}/no_auth/namespaces/system/f5xc-saas/signup");
        let existing = statements_of(&app, &path, app.post_json(&path, &signup_body("other", "jane@example.com"))).await;
        let new = statements_of(&app, &path, app.post_json(&path, &signup_body("third", "kim@example.com"))).await;
        assert_eq!(existing, new);
    }

    async fn akana_signup_and_resend_run_the_same_statements_for_new_pending_registered_and_unknown_addresses(backend: Backend) {
        let (app, base) = probed(backend).await;
        let signup = format!("{base}/api/users/signupUser");
        let resend = format!("{base}/api/users/resendActivation");
        // The default portal is created on first use: make that happen first.
        let _ = statements_of(&app, &signup, post_form(&app, &signup, akana_signup("first@example.com"))).await;
        let _ = statements_of(&app, &signup, post_form(&app, &signup, akana_signup("pending@example.com"))).await;
        let _ = statements_of(&app, &signup, post_form(&app, &signup, akana_signup("active@example.com"))).await;
        let code = token_in(&app.wait_for_mail("active@example.com", 1).await[0]["text"]);
        let done = post_form(&app, &format!("{base}/api/users/completeSignup"), format!("signupCode={code}&password={STRONG_PASSWORD}")).await;
        assert_eq!(done.status(), StatusCode::OK);
        app.drain_outbox().await;

        let mut runs = Vec::new();
        for email in ["new@example.com", "pending@example.com", "active@example.com"] {
            runs.push(statements_of(&app, &signup, post_form(&app, &signup, akana_signup(email))).await);
        }
        for email in ["nobody@example.com", "pending@example.com", "active@example.com"] {
            let body = format!("emailAddress={}", email.replace('@', "%40"));
            runs.push(statements_of(&app, &resend, post_form(&app, &resend, body)).await);
        }
        assert_eq!(runs[0], runs[1]);
        assert_eq!(runs[0], runs[2]);
        assert_eq!(runs[3], runs[4]);
        assert_eq!(runs[3], runs[5]);
    }

    async fn nothing_is_mailed_to_an_address_without_an_account(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let r = app.post_json("/no_auth/send_password_email", &json!({ "cname": "acme", "email": "nobody@example.com" })).await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = post_form(&app, "/api/users/resendActivation", "emailAddress=stranger%40example.com".to_owned()).await;
        assert_eq!(r.status(), StatusCode::OK);
        app.drain_outbox().await;
        let rows = app.outbox().await;
        assert_eq!(rows.len(), 2, "each request left its row: {rows:#?}");
        assert!(rows.iter().all(|m| m.status == "dropped" && m.last_error.is_some()), "{rows:#?}");
        assert!(app.mail_to("nobody@example.com").await.is_empty());
        assert!(app.mail_to("stranger@example.com").await.is_empty());
    }

    async fn one_failing_write_rolls_back_alone(backend: Backend) {
        let (store, _dir, _db) = bare_store(&backend).await;
        assert!(insert_tenant(&store, "taken").await.is_ok());

        // Held open, this write keeps the writer busy while the others queue
        // up behind it, so on SQLite they are applied as one batch.
        // A job may await nothing but the database, so it holds the writer by blocking its thread.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel::<()>();
        let holder = {
            let store = store.clone();
            tokio::spawn(async move {
                let held: Result<(), usher::store::StoreError> = store
                    .write(move |_conn| {
                        Box::pin(async move {
                            let _ = started.send(());
                            let _ = held.recv();
                            Ok(())
                        })
                    })
                    .await;
                held
            })
        };
        running.await.unwrap();
        let commits_before = store.commits();
        let names = ["a1", "a2", "taken", "a3", "a4"];
        let writes: Vec<_> = names
            .iter()
            .map(|name| {
                let (store, name) = (store.clone(), name.to_string());
                tokio::spawn(async move { insert_tenant(&store, &name).await })
            })
            .collect();
        if store.backend() == usher::store::Backend::Sqlite {
            eventually("every write waits for the writer", Duration::from_secs(10), async || (store.queued_writes() == names.len()).then_some(())).await;
        }
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        let mut outcomes = Vec::new();
        for w in writes {
            outcomes.push(w.await.unwrap());
        }
        for (name, outcome) in names.iter().zip(&outcomes) {
            match *name {
                "taken" => assert!(matches!(outcome, Err(e) if usher::store::is_unique_violation(e)), "{outcome:?}"),
                _ => assert!(outcome.is_ok(), "{name}: {outcome:?}"),
            }
        }
        let mut conn = store.acquire().await.unwrap();
        let (count,): (i64,) = conn.fetch_one("SELECT COUNT(*) FROM tenants", &[]).await.unwrap();
        assert_eq!(count, 5, "taken once, and the four others");
        if store.backend() == usher::store::Backend::Sqlite {
            assert_eq!(store.commits() - commits_before, 2, "the holder's batch, then one batch for all five");
        }
    }
}

on_each_backend! {
    async fn pruning_deletes_a_chunk_a_write_so_requests_never_wait_behind_it(backend: Backend) {
        let (store, _dir, _db) = bare_store(&backend).await;
        let day_ms = 86_400_000;
        store
            .write(move |conn| {
                Box::pin(async move {
                    for i in 0..1_300_i64 {
                        let created_at = if i < 1_295 { 0 } else { 10 * day_ms };
                        conn.execute(
                            "INSERT INTO dev_mailbox (message_id, recipient, subject, text_body, html_body, created_at)
                             VALUES ($1, 'jane@example.com', 's', 't', 'h', $2)",
                            usher::args![format!("<{i}@usher.test>").as_str(), created_at],
                        )
                        .await?;
                    }
                    Ok::<_, usher::store::StoreError>(())
                })
            })
            .await
            .unwrap();
        let retention = usher::config::Retention { dev_mailbox: Some(Duration::from_secs(7 * 86_400)), ..Default::default() };
        let commits_before = store.commits();
        let deleted = usher::store::retention::prune(&store, 10 * day_ms, &retention).await.unwrap();
        assert_eq!(deleted, 1_295, "every row older than seven days, and only those");
        assert_eq!(store.commits() - commits_before, 3, "512 rows a write at most: 512, 512, 271");
        let mut conn = store.acquire().await.unwrap();
        assert_eq!(conn.fetch_one::<(i64,)>("SELECT COUNT(*) FROM dev_mailbox", &[]).await.unwrap().0, 5);
    }

    async fn spent_tokens_are_found_by_a_walk_in_steps_and_only_they_go(backend: Backend) {
        // No index serves "expired, used or superseded long enough ago", so the prune reads the
        // table in key order a step (2,048 rows) at a time instead of in one read that would hold
        // the runtime; 5,000 rows take three steps, and what matches is deleted 512 a write.
        let (store, _dir, _db) = bare_store(&backend).await;
        let day_ms = 86_400_000;
        store
            .write(move |conn| {
                Box::pin(async move {
                    for i in 0..5_000_i64 {
                        // Every third token was spent on day 0; the others are live until day 30.
                        let used_at = (i % 3 == 0).then_some(0_i64);
                        conn.execute(
                            "INSERT INTO one_time_tokens (id_hash, purpose, subject, issued_at, expires_at) VALUES ($1, 'signup', $2, 0, $3)",
                            usher::args![format!("{i:064x}").as_str(), format!("s{i}").as_str(), 30 * day_ms],
                        )
                        .await?;
                        if let Some(at) = used_at {
                            conn.execute("UPDATE one_time_tokens SET used_at = $2 WHERE id_hash = $1", usher::args![format!("{i:064x}").as_str(), at]).await?;
                        }
                    }
                    Ok::<_, usher::store::StoreError>(())
                })
            })
            .await
            .unwrap();
        let retention = usher::config::Retention { tokens: Some(Duration::from_secs(86_400)), ..Default::default() };
        let commits_before = store.commits();
        let deleted = usher::store::retention::prune(&store, 2 * day_ms, &retention).await.unwrap();
        assert_eq!(deleted, 1_667, "every token spent more than a day ago, and only those");
        assert_eq!(store.commits() - commits_before, 4, "512 rows a write at most: 512, 512, 512, 131");
        let mut conn = store.acquire().await.unwrap();
        let (left, spent): (i64, i64) = conn
            .fetch_one("SELECT COUNT(*), COUNT(used_at) FROM one_time_tokens", &[])
            .await
            .unwrap();
        assert_eq!((left, spent), (3_333, 0), "the live ones stay");
    }
}

on_each_backend! {
    async fn a_claim_takes_what_a_dead_worker_held_then_what_is_due_oldest_first(backend: Backend) {
        use usher::store::outbox::{self, Envelope, Status};
        let (store, _dir, _db) = bare_store(&backend).await;
        let b = store.backend();
        let claimed = store
            .write(move |conn| {
                Box::pin(async move {
                    // Queued in this order, each due at the time given.
                    for (name, due) in [("late", 900), ("third", 300), ("first", 100), ("not-yet", 5_000), ("second", 200), ("held", 50)] {
                        let m = Envelope { kind: "password_link", recipient: "jo@example.com", tenant: None, locale: "en", payload: name };
                        outbox::enqueue(conn, &format!("<{name}@usher.test>"), &m, Status::Pending, due).await?;
                    }
                    // One row is held by a worker whose lease ran out at 400, one by a live worker.
                    outbox::claim(conn, b, "dead", 60, 400, 1).await?;
                    outbox::claim(conn, b, "alive", 120, 10_000, 1).await?;
                    let first = outbox::claim(conn, b, "me", 1_000, 2_000, 3).await?;
                    let rest = outbox::claim(conn, b, "me", 1_000, 2_000, 10).await?;
                    Ok::<_, usher::store::StoreError>([first, rest].map(|c| c.into_iter().map(|m| m.payload).collect::<Vec<_>>()))
                })
            })
            .await
            .unwrap();
        let [mut first, mut rest] = claimed;
        first.sort();
        rest.sort();
        assert_eq!(first, ["held", "second", "third"], "the dead worker's row, then the two that were due first");
        assert_eq!(rest, ["late"], "the live worker's row and the one not due yet stay where they are");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_answers_only_once_a_write_is_on_disk() {
    let (store, _dir, _db) = bare_store(&Backend::Sqlite).await;
    let synchronous: Result<(i64,), usher::store::StoreError> =
        store.write(|conn| Box::pin(async move { conn.fetch_one("PRAGMA synchronous", &[]).await })).await;
    assert_eq!(synchronous.unwrap().0, 2, "the writer's connection is synchronous = FULL");
    let mut conn = store.acquire().await.unwrap();
    let (read,): (i64,) = conn.fetch_one("PRAGMA synchronous", &[]).await.unwrap();
    assert_eq!(read, 2);
    let refused =
        conn.execute("INSERT INTO tenants (id, cname, name, tenant_type, created_at) VALUES ('x', 'x', 'x', 'FREEMIUM', 0)", &[]).await;
    assert!(refused.is_err(), "a read connection cannot write behind the writer's back");
}

/// A few commits are far below the 1,000 pages at which the writer would
/// checkpoint itself, yet they reach the database file: the checkpoint
/// thread copied them there, off the writer's path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_beside_the_writer_not_in_its_commits() {
    let (store, dir, _db) = bare_store(&Backend::Sqlite).await;
    for cname in ["ckpt-a", "ckpt-b", "ckpt-c"] {
        insert_tenant(&store, cname).await.unwrap();
    }
    let file = dir.path().join("usher.db");
    // `immutable`: read the database file alone, as if no WAL were beside it.
    let in_file = || {
        let uri = format!("file:{}?immutable=1", file.display());
        let conn =
            rusqlite::Connection::open_with_flags(&uri, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI)
                .ok()?;
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM tenants WHERE cname LIKE 'ckpt-%'", [], |r| r.get(0)).ok()?;
        (n == 3).then_some(())
    };
    eventually("the commits are copied into the database file", Duration::from_secs(10), async || in_file()).await;
}

fn tenant_named(cname: &str) -> usher::store::users::Tenant {
    usher::store::users::Tenant {
        id: uuid_like(),
        cname: cname.to_owned(),
        name: cname.to_owned(),
        tenant_type: "FREEMIUM".to_owned(),
        developer_signup: false,
    }
}

async fn insert_tenant(store: &Store, cname: &str) -> Result<(), usher::store::StoreError> {
    let tenant = tenant_named(cname);
    store.write(move |conn| Box::pin(async move { usher::store::users::insert_tenant(conn, &tenant, 0).await })).await
}

/// A store with no server and no worker in front of it: every write in
/// these tests is the test's own.
async fn bare_store(backend: &Backend) -> (Store, tempfile::TempDir, Option<FreshDatabase>) {
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = fresh_database(backend, dir.path()).await;
    let store = Store::connect(&url, PoolSettings { max_connections: 4, acquire_timeout: Duration::from_secs(5) }).await.unwrap();
    store.migrate().await.unwrap();
    (store, dir, db)
}

/// The worker's writes give way to requests': while requests keep the
/// writer busy, each batch takes every request job waiting and one of the
/// worker's, so the worker is slowed, never stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_takes_every_waiting_request_write_and_one_of_the_workers_per_batch() {
    let (store, _dir, _db) = bare_store(&Backend::Sqlite).await;
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    // A request's write holds the writer while the others queue up.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let holder = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write(move |_conn| {
                    Box::pin(async move {
                        let _ = started.send(());
                        let _ = held.recv();
                        Ok::<_, usher::store::StoreError>(())
                    })
                })
                .await
        })
    };
    running.await.unwrap();
    let record = |store: &Store, name: String, background: bool| {
        let (store, order) = (store.clone(), order.clone());
        tokio::spawn(async move {
            if background { store.write_background(note(order, name)).await } else { store.write(note(order, name)).await }
        })
    };
    let mut writes = Vec::new();
    for i in 0..3 {
        writes.push(record(&store, format!("worker{i}"), true));
    }
    eventually("the worker's writes wait", Duration::from_secs(10), async || (store.queued_writes() == 3).then_some(())).await;
    for i in 0..3 {
        writes.push(record(&store, format!("request{i}"), false));
    }
    eventually("every write waits", Duration::from_secs(10), async || (store.queued_writes() == 6).then_some(())).await;
    let commits_before = store.commits();
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    for w in writes {
        w.await.unwrap().unwrap();
    }
    let order = order.lock().unwrap().clone();
    // Jobs submitted side by side queue in any order among themselves.
    assert!(order[..3].iter().all(|n| n.starts_with("request")), "requests first, though queued later: {order:?}");
    assert!(order[3..].iter().all(|n| n.starts_with("worker")), "then the worker's: {order:?}");
    assert_eq!(store.commits() - commits_before, 3, "the holder's batch, the requests' (with one of the worker's), the worker's rest");
}

/// A write job that awaits anything but the database would hold SQLite's one writer while it
/// waits: it is refused, named, and rolled back, and the writer goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_job_that_awaits_something_else_is_refused_and_named() {
    let (store, _dir, _db) = bare_store(&Backend::Sqlite).await;
    let refused = store
        .write(move |conn| {
            Box::pin(async move {
                usher::store::users::insert_tenant(conn, &tenant_named("slow"), 0).await?;
                tokio::time::sleep(Duration::from_millis(1)).await;
                Ok::<_, usher::store::StoreError>(())
            })
        })
        .await
        .unwrap_err();
    let said = refused.to_string();
    assert!(said.contains("awaited something other than the database") && said.contains("constant_work"), "{said}");
    assert!(insert_tenant(&store, "next").await.is_ok(), "the writer goes on");
    let mut conn = store.acquire().await.unwrap();
    let rows: (i64,) = conn.fetch_one("SELECT COUNT(*) FROM tenants WHERE cname = 'slow'", &[]).await.unwrap();
    assert_eq!(rows.0, 0, "the refused job's write was rolled back");
}

/// A write job that notes its name when it runs.
fn note(
    order: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    name: String,
) -> impl for<'c> FnOnce(&'c mut usher::store::Conn) -> usher::store::BoxFuture<'c, Result<(), usher::store::StoreError>> + Send + 'static {
    move |_conn| {
        Box::pin(async move {
            order.lock().unwrap().push(name);
            Ok(())
        })
    }
}

/// A request whose client hangs up drops its write's future at any point: before, between or
/// inside its statements. The transaction still ends, committed whole or not at all, and no pooled
/// connection is left inside one for the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_cancelled_at_any_point_leave_no_transaction_open_and_nothing_half_written() {
    let Some(backend @ Backend::Postgres(_)) = Backend::postgres() else {
        eprintln!("USHER_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let (store, _dir, _db) = bare_store(&backend).await;
    let mut cancelled = 0;
    for i in 0..300u64 {
        let pair = (tenant_named(&format!("a{i}")), tenant_named(&format!("b{i}")));
        let write = store.write(move |conn| {
            Box::pin(async move {
                usher::store::users::insert_tenant(conn, &pair.0, 0).await?;
                usher::store::users::insert_tenant(conn, &pair.1, 0).await?;
                Ok::<_, usher::store::StoreError>(())
            })
        });
        // Dropped after 0 to 2.9 ms: at every stage of a transaction on this machine.
        let wait = Duration::from_micros((i * 7919) % 3000);
        if tokio::time::timeout(wait, write).await.is_err() {
            cancelled += 1;
        }
    }
    assert!(cancelled > 0, "no write was cancelled; the test proves nothing");
    let mut conn = store.acquire().await.unwrap();
    eventually("every transaction has ended", Duration::from_secs(10), async || {
        let open: (i64,) = conn
            .fetch_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
                &[],
            )
            .await
            .unwrap();
        (open.0 == 0).then_some(())
    })
    .await;
    let halves: (i64,) = conn
        .fetch_one(
            "SELECT COUNT(*) FROM tenants a WHERE a.cname LIKE 'a%'
               AND NOT EXISTS (SELECT 1 FROM tenants b WHERE b.cname = 'b' || substr(a.cname, 2))",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(halves.0, 0, "a cancelled write left half of its rows");
    // Every pooled connection still works outside a transaction.
    for _ in 0..8 {
        assert!(insert_tenant(&store, &uuid_like()[..12]).await.is_ok());
    }
}

/// On PostgreSQL an email request is one statement in its own implicit transaction: one round
/// trip and one commit, with no `BEGIN` and `COMMIT` around it (three round trips more).
/// `store` logs `BEGIN`, `COMMIT` and `ROLLBACK` as statements too, so they would show here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_takes_one_round_trip_for_each_email_request() {
    let Some(backend @ Backend::Postgres(_)) = Backend::postgres() else {
        eprintln!("USHER_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let (app, base) = probed(backend).await;
    let token = app.signup_token("acme", "jane@example.com").await;
    assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
    let password = format!("{base}/no_auth/send_password_email");
    let signup = format!("{base}/no_auth/namespaces/system/f5xc-saas/signup");
    let developer = format!("{base}/api/users/signupUser");
    let resend = format!("{base}/api/users/resendActivation");
    // The default portal is made by its first request, in a transaction of its own.
    let _ = statements_of(&app, &developer, post_form(&app, &developer, akana_signup("first@example.com"))).await;
    let runs = [
        statements_of(&app, &password, app.post_json(&password, &json!({ "cname": "acme", "email": "jane@example.com" }))).await,
        statements_of(&app, &password, app.post_json(&password, &json!({ "cname": "acme", "email": "nobody@example.com" }))).await,
        statements_of(&app, &signup, app.post_json(&signup, &signup_body("other", "kim@example.com"))).await,
        statements_of(&app, &developer, post_form(&app, &developer, akana_signup("dev@example.com"))).await,
        statements_of(&app, &resend, post_form(&app, &resend, "emailAddress=dev%40example.com".to_owned())).await,
    ];
    for ran in runs {
        assert_eq!(ran.len(), 1, "one statement: {ran:#?}");
        assert!(ran[0].starts_with("WITH stop AS"), "the request's checks, slot and row in one statement: {ran:#?}");
    }

    // A taken name stops the statement before it takes the address's slot.
    let taken = app.post_json(&signup, &signup_body("acme", "lee@example.com")).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let free = app.post_json(&signup, &signup_body("lees", "lee@example.com")).await;
    assert_eq!(free.status(), StatusCode::OK, "the refused signup took no slot");
}

/// A developer signup for an address, as the Akana form sends it.
async fn developer(app: &TestApp, email: &str, first_name: &str) {
    let body = format!("firstName={first_name}&lastName=Saoirse&emailAddress={}", email.replace('@', "%40"));
    assert_eq!(post_form(app, "/api/users/signupUser", body).await.status(), StatusCode::OK, "{email}");
}

async fn audited(app: &TestApp) -> Vec<String> {
    let mut conn = app.ctx.store.acquire().await.expect("conn");
    let events = usher::store::audit::list(&mut conn, 1000).await.expect("audit");
    events.into_iter().rev().map(|e| e.action).collect()
}

on_each_backend! {
    async fn a_batch_of_every_kind_of_request_is_resolved_as_each_alone_would_be(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("limit_email_daily", "1000")]).await;
        let token = app.signup_token("acme", "jane@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        developer(&app, "pending@example.com", "Early").await;
        app.drain_outbox().await;
        let before = audited(&app).await.len();
        // Past the minute in which jane's own signup took her address's signup slot.
        app.clock.advance(Duration::from_secs(61));

        // The worker runs on demand here: these wait, and are resolved together.
        let send = "/no_auth/send_password_email";
        assert_eq!(app.post_json(send, &json!({ "cname": "acme", "email": "jane@example.com" })).await.status(), StatusCode::OK);
        assert_eq!(app.post_json(send, &json!({ "cname": "acme", "email": "nobody@example.com" })).await.status(), StatusCode::OK);
        assert_eq!(app.signup("kims", "kim@example.com").await.status(), StatusCode::OK);
        assert_eq!(app.signup("other", "jane@example.com").await.status(), StatusCode::OK);
        developer(&app, "dev@example.com", "Dev").await;
        developer(&app, "pending@example.com", "Later").await;
        let resend = post_form(&app, "/api/users/resendActivation", "emailAddress=stranger%40example.com".to_owned()).await;
        assert_eq!(resend.status(), StatusCode::OK);
        assert!(app.outbox().await.iter().filter(|m| m.status == "requested").count() == 7, "all seven wait for one batch");
        app.drain_outbox().await;

        let jane = app.mail_to("jane@example.com").await;
        let subjects: Vec<&str> = jane.iter().rev().take(2).map(|m| m["subject"].as_str().unwrap()).collect();
        assert_eq!(subjects.len(), 2, "a password link and an 'you have an account' note: {subjects:?}");
        assert!(jane.iter().rev().take(2).any(|m| m["text"].as_str().unwrap().contains("/password?token=")), "{jane:#?}");
        assert!(app.mail_to("kim@example.com").await[0]["text"].as_str().unwrap().contains("/signup?token="));
        assert_eq!(app.mail_to("dev@example.com").await.len(), 1);
        let pending = app.mail_to("pending@example.com").await;
        assert_eq!(pending.len(), 2);
        assert!(pending[1]["text"].as_str().unwrap().contains("Later"), "renamed by the newer request: {}", pending[1]["text"]);
        let dropped: Vec<String> = app.outbox().await.into_iter().filter(|m| m.status == "dropped").map(|m| m.to).collect();
        assert_eq!(dropped.len(), 2, "{dropped:?}");
        assert!(dropped.contains(&"nobody@example.com".to_owned()) && dropped.contains(&"stranger@example.com".to_owned()), "{dropped:?}");
        let mut actions = audited(&app).await.split_off(before);
        actions.sort();
        let mut expected = vec![
            "password_email.queued",
            "signup.created",
            "signup.refused_existing_account",
            "developer.signed_up",
            "developer.signup_repeated",
        ];
        expected.sort();
        assert_eq!(actions, expected);
    }

    async fn a_developer_signing_up_twice_in_one_batch_is_resolved_in_order(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("limit_email_daily", "1000")]).await;
        developer(&app, "first@example.com", "Warmup").await;
        app.drain_outbox().await;
        developer(&app, "twice@example.com", "First").await;
        app.clock.advance(Duration::from_secs(61));
        developer(&app, "twice@example.com", "Second").await;
        app.drain_outbox().await;
        let mails = app.mail_to("twice@example.com").await;
        assert_eq!(mails.len(), 2, "one new developer, then a fresh code for them");
        // Sent side by side, they may reach the mailbox in either order.
        let greets = |name: &str| mails.iter().filter(|m| m["text"].as_str().unwrap().contains(name)).count();
        assert_eq!((greets("First"), greets("Second")), (1, 1), "the newer request renamed the developer: {mails:#?}");
        let actions = audited(&app).await;
        assert_eq!(actions[actions.len() - 2..], ["developer.signed_up", "developer.signup_repeated"]);
        assert!(app.outbox().await.iter().all(|m| m.status == "sent"), "{:#?}", app.outbox().await);
    }
}

/// On PostgreSQL a batch is resolved, minted, sent and recorded in statements that do not grow
/// with it: 16 requests cost what 6 do. Outcomes are recorded as sends finish, in as many writes as
/// it takes them to (a timing of the test's, not of the batch): each of those is set-shaped too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_resolves_and_delivers_a_batch_in_as_many_statements_whatever_its_size() {
    let Some(backend @ Backend::Postgres(_)) = Backend::postgres() else {
        eprintln!("USHER_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let app = TestApp::spawn_with(backend, &[("limit_email_daily", "1000")]).await;
    let mut counts = Vec::new();
    for (round, n) in [3, 8].into_iter().enumerate() {
        for i in 0..n {
            let unknown = json!({ "cname": "acme", "email": format!("nobody{round}-{i}@example.com") });
            assert_eq!(app.post_json("/no_auth/send_password_email", &unknown).await.status(), StatusCode::OK);
            assert_eq!(app.signup(&format!("t{round}x{i}"), &format!("kim{round}-{i}@example.com")).await.status(), StatusCode::OK);
        }
        take_statements("worker");
        let claimed = app.deliver_all().instrument(tracing::info_span!("request", path = "worker")).await;
        assert_eq!(claimed, n, "each signup's email");
        let ran = take_statements("worker");
        let (recording, rest): (Vec<_>, Vec<_>) = transactions(&ran).into_iter().partition(|t| t.iter().any(|s| s.contains("dev_mailbox")));
        for t in &recording {
            assert!(t.len() <= 4, "recording outcomes: BEGIN, the dev mailbox, the sent rows, COMMIT: {t:#?}");
        }
        counts.push(rest.concat());
    }
    assert_eq!(counts[0].len(), counts[1].len(), "6 requests: {:#?}\n16 requests: {:#?}", counts[0], counts[1]);
    assert!(counts[1].iter().any(|s| s.contains("unnest")), "{:#?}", counts[1]);
}

/// Statements grouped by their transaction (`BEGIN` … `COMMIT`/`ROLLBACK`); a statement outside
/// one is a group of its own. The worker's `BEGIN` carries its planner settings.
fn transactions(statements: &[String]) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut open = false;
    for s in statements {
        let begins = s == "BEGIN" || s.starts_with("BEGIN;");
        if begins || !open {
            groups.push(Vec::new());
        }
        open = (open || begins) && s != "COMMIT" && s != "ROLLBACK";
        groups.last_mut().expect("a group").push(s.clone());
    }
    groups
}

/// On PostgreSQL a batch of the worker reads its own rows and stops, whatever
/// waits behind it and whatever the planner's statistics say: here they were
/// taken while the outbox was empty, as after a quiet night before a burst.
/// Counted by PostgreSQL itself, inside the batch's transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_batches_read_their_rows_and_not_the_backlog_behind_them() {
    use usher::store::outbox::{self, Envelope, Status};
    let Some(backend) = Backend::postgres() else {
        return eprintln!("skipped: USHER_TEST_POSTGRES_URL is not set");
    };
    let (store, _dir, _db) = bare_store(&backend).await;
    const WAITING: i64 = 3_000;
    const BATCH: i64 = 16;
    store
        .write(|conn| {
            Box::pin(async move {
                conn.batch("ANALYZE outbox").await?;
                for status in [Status::Requested, Status::Pending] {
                    let m = Envelope { kind: "password_link", recipient: "jo@example.com", tenant: None, locale: "en", payload: "{}" };
                    outbox::enqueue(conn, &format!("<first-{}@usher.test>", status.as_str()), &m, status, 1).await?;
                }
                conn.execute(
                    "INSERT INTO outbox (message_id, kind, recipient, locale, payload, status, attempts, next_attempt_at, created_at)
                     SELECT '<' || s || '-' || st || '@usher.test>', 'password_link', 'jo@example.com', 'en', '{}', st, 0, 1000 + s, 1000 + s
                     FROM generate_series(1, $1) AS s, (VALUES ('requested'), ('pending')) AS v(st)",
                    &[WAITING.into()],
                )
                .await?;
                Ok::<_, usher::store::StoreError>(())
            })
        })
        .await
        .unwrap();
    let b = store.backend();
    let read = |take: bool| {
        store.write_background(move |conn| {
            Box::pin(async move {
                let first = if take {
                    outbox::take_requested(conn, b, BATCH).await?.into_iter().map(|r| r.id).min()
                } else {
                    outbox::claim(conn, b, "me", 10_000, 20_000, BATCH).await?.into_iter().map(|m| m.id).min()
                };
                let (seq, fetched): (i64, i64) =
                    conn.fetch_one("SELECT seq_scan, idx_tup_fetch FROM pg_stat_xact_user_tables WHERE relname = 'outbox'", &[]).await?;
                Ok::<_, usher::store::StoreError>((first, seq, fetched))
            })
        })
    };
    // The first two rows queued were the oldest request and the oldest message.
    for (what, take, oldest) in [("a batch of requests", true, 1), ("a claim", false, 2)] {
        let (first, seq, fetched) = read(take).await.unwrap();
        assert_eq!(first, Some(oldest), "{what} takes the oldest row first");
        assert_eq!(seq, 0, "{what} scanned the whole outbox");
        assert!(fetched <= 3 * BATCH, "{what} of {BATCH} read {fetched} rows of the {WAITING} waiting");
    }
}
