use super::{Backend, Conn, StoreError};
use crate::args;
use crate::domain::UserState;

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub cname: String,
    pub name: String,
    pub tenant_type: String,
    pub developer_signup: bool,
}

#[derive(Debug, Clone)]
pub struct User {
    pub(crate) id: String,
    pub(crate) tenant_id: String,
    pub(crate) tenant_cname: String,
    pub(crate) email: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) locale: String,
    pub state: UserState,
    pub password_hash: Option<String>,
    /// The mailbox was proven (a link or code from it was used): only then is the user an account.
    pub(crate) verified: bool,
}

pub(crate) struct NewUser<'a> {
    pub(crate) id: &'a str,
    pub(crate) tenant_id: &'a str,
    pub(crate) email: &'a str,
    pub(crate) email_norm: &'a str,
    pub(crate) first_name: &'a str,
    pub(crate) last_name: &'a str,
    pub(crate) contact_number: Option<&'a str>,
    pub(crate) locale: &'a str,
    pub(crate) state: UserState,
    pub(crate) password_hash: Option<&'a str>,
    /// Whether the mailbox is already proven (a signup link was completed to make this user).
    pub(crate) verified: bool,
    pub(crate) now: i64,
}

crate::from_row!(Tenant { id, cname, name, tenant_type, developer_signup });

// The flag is stored as an integer on both backends ("no booleans"); the comparison reads it as one.
const TENANT_COLUMNS: &str = "SELECT id, cname, name, tenant_type, developer_signup <> 0 AS developer_signup FROM tenants";

pub(crate) async fn tenant_by_cname(conn: &mut Conn, cname: &str) -> Result<Option<Tenant>, StoreError> {
    conn.fetch_optional(&format!("{TENANT_COLUMNS} WHERE cname = $1"), args![cname]).await
}

pub async fn insert_tenant(conn: &mut Conn, t: &Tenant, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO tenants (id, cname, name, tenant_type, developer_signup, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        args![&t.id, &t.cname, &t.name, &t.tenant_type, t.developer_signup, now],
    )
    .await
    .map(|_| ())
}

/// An address a stranger signed up and nobody proved is no account: it blocks no other flow.
pub(crate) async fn email_has_account(conn: &mut Conn, email_norm: &str) -> Result<bool, StoreError> {
    let found: Option<(i64,)> = conn
        .fetch_optional("SELECT CAST(1 AS BIGINT) FROM users WHERE email_norm = $1 AND verified_at IS NOT NULL LIMIT 1", args![email_norm])
        .await?;
    Ok(found.is_some())
}

pub(crate) async fn insert_user(conn: &mut Conn, u: &NewUser<'_>) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO users (id, tenant_id, email, email_norm, first_name, last_name, contact_number, locale, state, password_hash, created_at, updated_at, verified_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)",
        args![
            u.id,
            u.tenant_id,
            u.email,
            u.email_norm,
            u.first_name,
            u.last_name,
            u.contact_number,
            u.locale,
            u.state.as_str(),
            u.password_hash,
            u.now,
            u.verified.then_some(u.now)
        ],
    )
    .await
    .map(|_| ())
}

crate::from_row!(User { id, tenant_id, tenant_cname: "cname", email, first_name, last_name, locale, state => UserState::parse, password_hash, verified });

const USER_FIELDS: &str = "u.id, u.tenant_id, t.cname, u.email, u.first_name, u.last_name, u.locale, u.state, u.password_hash,
            u.verified_at IS NOT NULL AS verified";
const USER_FROM: &str = "FROM users u JOIN tenants t ON t.id = u.tenant_id";

/// A user found by `(cname, email_norm)`, with the `email_norm` asked for.
struct Keyed {
    email_norm: String,
    user: User,
}

impl super::FromRow for Keyed {
    fn from_row(row: &super::Row<'_>) -> Result<Self, StoreError> {
        Ok(Self { email_norm: row.get("key_email_norm")?, user: User::from_row(row)? })
    }
}

pub async fn user_by_cname_and_email(conn: &mut Conn, cname: &str, email_norm: &str) -> Result<Option<User>, StoreError> {
    conn.fetch_optional(&format!("SELECT {USER_FIELDS} {USER_FROM} WHERE t.cname = $1 AND u.email_norm = $2"), args![cname, email_norm])
        .await
}

/// [`user_by_cname_and_email`] for a batch of `(cname, email_norm)`: the users found, by those
/// keys; one statement on PostgreSQL.
pub(crate) async fn users_by_cname_and_email(
    conn: &mut Conn,
    backend: Backend,
    keys: &[(&str, &str)],
) -> Result<Vec<((String, String), User)>, StoreError> {
    if super::row_by_row(backend, keys.len()) {
        let mut found = Vec::with_capacity(keys.len());
        for (cname, email_norm) in keys {
            if let Some(user) = user_by_cname_and_email(conn, cname, email_norm).await? {
                found.push((((*cname).to_owned(), (*email_norm).to_owned()), user));
            }
        }
        return Ok(found);
    }
    let (cnames, emails): (Vec<&str>, Vec<&str>) = keys.iter().copied().unzip();
    let found: Vec<Keyed> = conn
        .fetch_all(
            &format!(
                // A lookup a key through the `(tenant_id, email_norm)` index: the `OFFSET 0` keeps
                // the planner from scanning a tenant's every user for each key, as it did with
                // the statistics of a table a burst had just grown.
                "SELECT {USER_FIELDS}, k.email_norm AS key_email_norm
                 FROM (SELECT DISTINCT * FROM unnest($1::text[], $2::text[])) AS k(cname, email_norm),
                 LATERAL (SELECT u.* FROM users u JOIN tenants kt ON kt.id = u.tenant_id
                          WHERE kt.cname = k.cname AND u.email_norm = k.email_norm OFFSET 0) AS u
                 JOIN tenants t ON t.id = u.tenant_id"
            ),
            args![&cnames, &emails],
        )
        .await?;
    Ok(found.into_iter().map(|k| ((k.user.tenant_cname.clone(), k.email_norm), k.user)).collect())
}

/// [`email_has_account`] for a batch: those of `emails_norm` that have one.
pub(crate) async fn emails_with_accounts(conn: &mut Conn, backend: Backend, emails_norm: &[&str]) -> Result<Vec<String>, StoreError> {
    if super::row_by_row(backend, emails_norm.len()) {
        let mut found = Vec::new();
        for email in emails_norm {
            if email_has_account(conn, email).await? {
                found.push((*email).to_owned());
            }
        }
        return Ok(found);
    }
    let emails = emails_norm.to_vec();
    let rows: Vec<(String,)> = conn
        .fetch_all("SELECT DISTINCT email_norm FROM users WHERE email_norm = ANY($1::text[]) AND verified_at IS NOT NULL", args![&emails])
        .await?;
    Ok(rows.into_iter().map(|(e,)| e).collect())
}

/// [`tenant_by_cname`] for a batch: the tenants found.
pub(crate) async fn tenants_by_cname(conn: &mut Conn, backend: Backend, cnames: &[&str]) -> Result<Vec<Tenant>, StoreError> {
    if super::row_by_row(backend, cnames.len()) {
        let mut found = Vec::new();
        for cname in cnames {
            found.extend(tenant_by_cname(conn, cname).await?);
        }
        return Ok(found);
    }
    let cnames = cnames.to_vec();
    conn.fetch_all(&format!("{TENANT_COLUMNS} WHERE cname = ANY($1::text[])"), args![&cnames]).await
}

/// [`insert_user`] for a batch, one statement on PostgreSQL.
pub(crate) async fn insert_users(conn: &mut Conn, backend: Backend, users: &[NewUser<'_>]) -> Result<(), StoreError> {
    if super::row_by_row(backend, users.len()) {
        for u in users {
            insert_user(conn, u).await?;
        }
        return Ok(());
    }
    let ids = super::column(users, |u| u.id);
    let tenants = super::column(users, |u| u.tenant_id);
    let emails = super::column(users, |u| u.email);
    let norms = super::column(users, |u| u.email_norm);
    let first = super::column(users, |u| u.first_name);
    let last = super::column(users, |u| u.last_name);
    let locales = super::column(users, |u| u.locale);
    let states = super::column(users, |u| u.state.as_str());
    let phones: Vec<Option<&str>> = users.iter().map(|u| u.contact_number).collect();
    let hashes: Vec<Option<&str>> = users.iter().map(|u| u.password_hash).collect();
    let now: Vec<i64> = users.iter().map(|u| u.now).collect();
    let verified: Vec<Option<i64>> = users.iter().map(|u| u.verified.then_some(u.now)).collect();
    conn.execute(
        "INSERT INTO users (id, tenant_id, email, email_norm, first_name, last_name, contact_number, locale, state, password_hash, created_at, updated_at, verified_at)
         SELECT id, tenant_id, email, email_norm, first_name, last_name, contact_number, locale, state, password_hash, now, now, verified_at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::bigint[])
             AS n(id, tenant_id, email, email_norm, first_name, last_name, contact_number, locale, state, password_hash, now, verified_at)",
        args![&ids, &tenants, &emails, &norms, &first, &last, &phones, &locales, &states, &hashes, &now, &verified],
    )
    .await
    .map(|_| ())
}

pub(crate) async fn user_by_id(conn: &mut Conn, id: &str) -> Result<Option<User>, StoreError> {
    conn.fetch_optional(&format!("SELECT {USER_FIELDS} {USER_FROM} WHERE u.id = $1"), args![id]).await
}

/// A disabled user stays disabled. The password comes with a token from the mailbox, which proves it.
pub(crate) async fn set_password(conn: &mut Conn, user_id: &str, hash: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET password_hash = $2, updated_at = $3, verified_at = COALESCE(verified_at, $3),
                state = CASE WHEN state = 'disabled' THEN state ELSE 'active' END
         WHERE id = $1",
        args![user_id, hash, now],
    )
    .await
    .map(|_| ())
}

/// A repeated developer signup before activation: the newest request says who the person is, since
/// an earlier one may have been a stranger's.
pub(crate) async fn rename_unverified(conn: &mut Conn, u: &NewUser<'_>) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET first_name = $2, last_name = $3, contact_number = $4, updated_at = $5
         WHERE id = $1 AND verified_at IS NULL",
        args![u.id, u.first_name, u.last_name, u.contact_number, u.now],
    )
    .await
    .map(|_| ())
}

pub(crate) async fn invalidate_password(conn: &mut Conn, user_id: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET password_hash = NULL, updated_at = $2,
                state = CASE WHEN state = 'disabled' THEN state ELSE 'pending' END
         WHERE id = $1",
        args![user_id, now],
    )
    .await
    .map(|_| ())
}

pub(crate) async fn locked_until(conn: &mut Conn, user_id: &str, client: &str) -> Result<Option<i64>, StoreError> {
    let row: Option<(Option<i64>,)> =
        conn.fetch_optional("SELECT locked_until FROM login_failures WHERE user_id = $1 AND client = $2", args![user_id, client]).await?;
    Ok(row.and_then(|(until,)| until))
}

/// One statement, so that concurrent wrong tries are all counted.
pub(crate) async fn record_failed_login(
    conn: &mut Conn,
    user_id: &str,
    client: &str,
    now: i64,
    window_ms: i64,
    max: i64,
    lock_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO login_failures (user_id, client, failed_logins, failed_since, locked_until)
         VALUES ($1, $2, 1, $3, CASE WHEN $5 <= 1 THEN $3 + $6 ELSE NULL END)
         ON CONFLICT (user_id, client) DO UPDATE SET
            failed_logins = CASE WHEN login_failures.failed_since <= $3 - $4 THEN 1 ELSE login_failures.failed_logins + 1 END,
            failed_since = CASE WHEN login_failures.failed_since <= $3 - $4 THEN $3 ELSE login_failures.failed_since END,
            locked_until = CASE
                WHEN login_failures.failed_since > $3 - $4 AND login_failures.failed_logins + 1 >= $5 THEN $3 + $6
                ELSE login_failures.locked_until END",
        args![user_id, client, now, window_ms, max, lock_ms],
    )
    .await
    .map(|_| ())
}

pub(crate) async fn reset_failed_logins(conn: &mut Conn, user_id: &str, client: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM login_failures WHERE user_id = $1 AND client = $2", args![user_id, client]).await.map(|_| ())
}

pub(crate) async fn clear_lockouts(conn: &mut Conn, user_id: &str) -> Result<u64, StoreError> {
    conn.execute("DELETE FROM login_failures WHERE user_id = $1", args![user_id]).await
}

pub async fn set_developer_signup(conn: &mut Conn, cname: &str, allowed: bool) -> Result<bool, StoreError> {
    Ok(conn.execute("UPDATE tenants SET developer_signup = $2 WHERE cname = $1", args![cname, allowed]).await? > 0)
}
