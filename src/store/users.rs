//! Tenants and their users.

use super::Conn;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub cname: String,
    pub name: String,
    pub tenant_type: String,
    /// Whether strangers may sign up as developers of this tenant (Akana).
    pub developer_signup: bool,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub tenant_id: String,
    pub tenant_cname: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub locale: String,
    pub state: String,
    pub password_hash: Option<String>,
}

pub struct NewUser<'a> {
    pub id: &'a str,
    pub tenant_id: &'a str,
    pub email: &'a str,
    pub email_norm: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub contact_number: Option<&'a str>,
    pub locale: &'a str,
    pub state: &'a str,
    pub password_hash: Option<&'a str>,
    pub now: i64,
}

fn tenant(row: AnyRow) -> Result<Tenant, sqlx::Error> {
    Ok(Tenant {
        id: row.try_get(0)?,
        cname: row.try_get(1)?,
        name: row.try_get(2)?,
        tenant_type: row.try_get(3)?,
        developer_signup: row.try_get::<i64, _>(4)? != 0,
    })
}

pub async fn tenant_by_cname(conn: &mut Conn, cname: &str) -> Result<Option<Tenant>, sqlx::Error> {
    sqlx::query("SELECT id, cname, name, tenant_type, developer_signup FROM tenants WHERE cname = $1")
        .bind(cname)
        .fetch_optional(conn)
        .await?
        .map(tenant)
        .transpose()
}

pub async fn tenant_by_id(conn: &mut Conn, id: &str) -> Result<Option<Tenant>, sqlx::Error> {
    sqlx::query("SELECT id, cname, name, tenant_type, developer_signup FROM tenants WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .map(tenant)
        .transpose()
}

pub async fn insert_tenant(conn: &mut Conn, t: &Tenant, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO tenants (id, cname, name, tenant_type, developer_signup, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&t.id)
        .bind(&t.cname)
        .bind(&t.name)
        .bind(&t.tenant_type)
        .bind(i64::from(t.developer_signup))
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Whether the address belongs to a user of any tenant.
pub async fn email_has_account(conn: &mut Conn, email_norm: &str) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT 1 FROM users WHERE email_norm = $1 LIMIT 1").bind(email_norm).fetch_optional(conn).await?;
    Ok(row.is_some())
}

pub async fn insert_user(conn: &mut Conn, u: &NewUser<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, tenant_id, email, email_norm, first_name, last_name, contact_number, locale, state, password_hash, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(u.id)
    .bind(u.tenant_id)
    .bind(u.email)
    .bind(u.email_norm)
    .bind(u.first_name)
    .bind(u.last_name)
    .bind(u.contact_number)
    .bind(u.locale)
    .bind(u.state)
    .bind(u.password_hash)
    .bind(u.now)
    .execute(conn)
    .await
    .map(|_| ())
}

const USER_COLUMNS: &str = "u.id, u.tenant_id, t.cname, u.email, u.first_name, u.last_name, u.locale, u.state, u.password_hash";

fn user(row: AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get(0)?,
        tenant_id: row.try_get(1)?,
        tenant_cname: row.try_get(2)?,
        email: row.try_get(3)?,
        first_name: row.try_get(4)?,
        last_name: row.try_get(5)?,
        locale: row.try_get(6)?,
        state: row.try_get(7)?,
        password_hash: row.try_get(8)?,
    })
}

pub async fn user_by_cname_and_email(conn: &mut Conn, cname: &str, email_norm: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE t.cname = $1 AND u.email_norm = $2"
    ))
    .bind(cname)
    .bind(email_norm)
    .fetch_optional(conn)
    .await?
    .map(user)
    .transpose()
}

pub async fn user_by_id(conn: &mut Conn, id: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .map(user)
        .transpose()
}

/// Sets the password and activates a pending user; a disabled user stays disabled.
pub async fn set_password(conn: &mut Conn, user_id: &str, hash: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET password_hash = $2, updated_at = $3,
                state = CASE WHEN state = 'disabled' THEN state ELSE 'active' END
         WHERE id = $1",
    )
    .bind(user_id)
    .bind(hash)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Removes the password: the user cannot sign in until a new one is set.
pub async fn invalidate_password(conn: &mut Conn, user_id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET password_hash = NULL, updated_at = $2,
                state = CASE WHEN state = 'disabled' THEN state ELSE 'pending' END
         WHERE id = $1",
    )
    .bind(user_id)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Until when `client` is locked out of `verify_password` for this user.
pub async fn locked_until(conn: &mut Conn, user_id: &str, client: &str) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query("SELECT locked_until FROM login_failures WHERE user_id = $1 AND client = $2")
        .bind(user_id)
        .bind(client)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.try_get::<Option<i64>, _>(0)).transpose()?.flatten())
}

/// Counts a wrong password of `client` for the user in a window of
/// `window_ms`; the `max`-th in one window locks that client out for
/// `lock_ms`. One statement, so concurrent wrong tries are all counted.
pub async fn record_failed_login(
    conn: &mut Conn,
    user_id: &str,
    client: &str,
    now: i64,
    window_ms: i64,
    max: i64,
    lock_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO login_failures (user_id, client, failed_logins, failed_since, locked_until)
         VALUES ($1, $2, 1, $3, CASE WHEN $5 <= 1 THEN $3 + $6 ELSE NULL END)
         ON CONFLICT (user_id, client) DO UPDATE SET
            failed_logins = CASE WHEN login_failures.failed_since <= $3 - $4 THEN 1 ELSE login_failures.failed_logins + 1 END,
            failed_since = CASE WHEN login_failures.failed_since <= $3 - $4 THEN $3 ELSE login_failures.failed_since END,
            locked_until = CASE
                WHEN login_failures.failed_since > $3 - $4 AND login_failures.failed_logins + 1 >= $5 THEN $3 + $6
                ELSE login_failures.locked_until END",
    )
    .bind(user_id)
    .bind(client)
    .bind(now)
    .bind(window_ms)
    .bind(max)
    .bind(lock_ms)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Forgets `client`'s wrong tries for the user (after a right password).
pub async fn reset_failed_logins(conn: &mut Conn, user_id: &str, client: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE user_id = $1 AND client = $2").bind(user_id).bind(client).execute(conn).await.map(|_| ())
}

/// Forgets every wrong try and lock of the user: a new password (or an
/// operator's `usher user unlock`) starts afresh. Returns how many locks
/// or counts it removed.
pub async fn clear_lockouts(conn: &mut Conn, user_id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM login_failures WHERE user_id = $1").bind(user_id).execute(conn).await?.rows_affected())
}

pub async fn set_developer_signup(conn: &mut Conn, cname: &str, allowed: bool) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE tenants SET developer_signup = $2 WHERE cname = $1").bind(cname).bind(i64::from(allowed)).execute(conn).await?;
    Ok(done.rows_affected() > 0)
}
