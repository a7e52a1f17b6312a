//! Where sessions live: [`SessionStore`], with [`MemoryStore`] (tests, one process), [`SqliteStore`] (the
//! default: a restart loses nothing) and [`PostgresStore`] (several replicas). A store sees sealed secrets only (`seal.rs`); it never opens them.
//!
//! Token calls for one session are serialised by a **lease** kept in the session's own row: a call takes it
//! with a compare-and-set (`lease_until_ms <= now`), redeems the refresh token, and writes the new secrets
//! while giving it back, only if it still holds it. Any number of bridge processes sharing one store thus never
//! redeem a refresh token twice, and a process that dies holding a lease loses it when the lease runs out
//! ([`LEASE`]): the session is not wedged.

use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::Row;

/// How long a token call may hold a session: above the upstream timeout (5 s) with room to write back.
pub const LEASE: Duration = Duration::from_secs(15);

/// A session as a store keeps it: who signed in, when, and every secret sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    /// The provider signed in at.
    pub provider: String,
    /// The user name given at sign-in (not a secret: it keys `DELETE /sessions`).
    pub username: String,
    /// The secrets, sealed by `seal::KeyRing` for this session id.
    pub sealed: String,
    /// Sign-in time, Unix milliseconds.
    pub created_ms: i64,
    /// Last bridge call, Unix milliseconds (the idle limit and the LRU bound use it).
    pub last_used_ms: i64,
}

/// A store that failed (a database error). Its text is for the operator's log, never for a response.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "session store: {}", self.0)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self(e.to_string())
    }
}

/// The answer to [`SessionStore::acquire`].
#[derive(Debug, PartialEq, Eq)]
pub enum Acquired {
    /// The lease is ours; the session as stored (now marked used).
    Held(StoredSession),
    /// Another call holds it: wait and try again.
    Busy,
    /// No such session.
    Missing,
    /// The session is past a limit of [`Alive`] (and left as it is: the caller ends it).
    Expired,
}

/// What a session must be to be taken: used and created after these instants (Unix milliseconds), i.e. within
/// its idle and absolute limits. Checked in the same compare-and-set as the lease, so a token call needs no
/// separate read.
#[derive(Clone, Copy, Debug)]
pub struct Alive {
    /// Last used after this.
    pub used_after_ms: i64,
    /// Created after this.
    pub created_after_ms: i64,
}

impl Alive {
    /// No limit.
    pub const ALWAYS: Alive = Alive { used_after_ms: i64::MIN, created_after_ms: i64::MIN };

    fn holds(&self, s: &StoredSession) -> bool {
        s.last_used_ms > self.used_after_ms && s.created_ms > self.created_after_ms
    }
}

/// A session store. Every method is one atomic step, so that several bridge processes may share a store.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Adds a session; if more than `max` sessions are then stored, removes the least recently used ones and
    /// returns them (to be ended upstream).
    async fn insert(&self, id: &str, s: &StoredSession, max: usize)
        -> Result<Vec<(String, StoredSession)>, StoreError>;
    /// The session, if stored.
    async fn get(&self, id: &str) -> Result<Option<StoredSession>, StoreError>;
    /// Takes the session's lease for `owner` until `now_ms + LEASE` if nobody holds it at `now_ms` and it is
    /// `alive`, and marks the session used at `now_ms`.
    async fn acquire(&self, id: &str, owner: &str, now_ms: i64, alive: Alive) -> Result<Acquired, StoreError>;
    /// Gives the lease back, writing `sealed` if given; `false` (nothing written) if `owner` no longer holds it
    /// (the session was ended, or the lease ran out and another call took it).
    async fn release(&self, id: &str, owner: &str, sealed: Option<&str>) -> Result<bool, StoreError>;
    /// Removes a session; returns it if it was stored.
    async fn remove(&self, id: &str) -> Result<Option<StoredSession>, StoreError>;
    /// Removes every session of a user at a provider.
    async fn remove_user(&self, provider: &str, username: &str) -> Result<Vec<(String, StoredSession)>, StoreError>;
    /// Removes the sessions last used at or before `idle_before_ms` or created at or before
    /// `created_before_ms`.
    async fn remove_expired(
        &self,
        idle_before_ms: i64,
        created_before_ms: i64,
    ) -> Result<Vec<(String, StoredSession)>, StoreError>;
    /// How many sessions are stored.
    async fn len(&self) -> Result<usize, StoreError>;
    /// Whether no session is stored.
    async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len().await? == 0)
    }
    /// Every session (test hooks only: a scan).
    async fn all(&self) -> Result<Vec<(String, StoredSession)>, StoreError>;
}

/// Opens the store a `--store` value names: `memory`, `sqlite:PATH` (created if missing) or
/// `postgres://…`, with its schema migrated. An error never repeats a PostgreSQL URL, which may hold a password.
pub async fn open(spec: &str) -> Result<Box<dyn SessionStore>, String> {
    if spec == "memory" {
        return Ok(Box::new(MemoryStore::default()));
    }
    if let Some(path) = spec.strip_prefix("sqlite:") {
        let store = SqliteStore::open(Path::new(path)).await.map_err(|e| format!("--store {spec}: {}", e.0))?;
        return Ok(Box::new(store));
    }
    if is_postgres(spec) {
        let store = PostgresStore::open(spec).await.map_err(|e| format!("--store postgres://…: {}", e.0))?;
        return Ok(Box::new(store));
    }
    Err("--store: use memory, sqlite:PATH or postgres://…".into())
}

/// Whether a `--store` value names PostgreSQL.
pub fn is_postgres(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// A row with its lease.
struct MemoryRow {
    session: StoredSession,
    lease_owner: String,
    lease_until_ms: i64,
}

/// Sessions in this process's memory: gone at exit. For tests and throwaway demos.
#[derive(Default)]
pub struct MemoryStore(Mutex<std::collections::HashMap<String, MemoryRow>>);

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert(
        &self,
        id: &str,
        s: &StoredSession,
        max: usize,
    ) -> Result<Vec<(String, StoredSession)>, StoreError> {
        let mut rows = self.0.lock().unwrap();
        rows.insert(id.to_owned(), MemoryRow { session: s.clone(), lease_owner: String::new(), lease_until_ms: 0 });
        let mut evicted = Vec::new();
        while rows.len() > max.max(1) {
            let Some(lru) = rows.iter().min_by_key(|(_, r)| r.session.last_used_ms).map(|(k, _)| k.clone()) else {
                break;
            };
            evicted.extend(rows.remove(&lru).map(|r| (lru, r.session)));
        }
        Ok(evicted)
    }

    async fn get(&self, id: &str) -> Result<Option<StoredSession>, StoreError> {
        Ok(self.0.lock().unwrap().get(id).map(|r| r.session.clone()))
    }

    async fn acquire(&self, id: &str, owner: &str, now_ms: i64, alive: Alive) -> Result<Acquired, StoreError> {
        let mut rows = self.0.lock().unwrap();
        let Some(row) = rows.get_mut(id) else { return Ok(Acquired::Missing) };
        if !alive.holds(&row.session) {
            return Ok(Acquired::Expired);
        }
        if row.lease_until_ms > now_ms {
            return Ok(Acquired::Busy);
        }
        row.lease_owner = owner.to_owned();
        row.lease_until_ms = now_ms + LEASE.as_millis() as i64;
        row.session.last_used_ms = now_ms;
        Ok(Acquired::Held(row.session.clone()))
    }

    async fn release(&self, id: &str, owner: &str, sealed: Option<&str>) -> Result<bool, StoreError> {
        let mut rows = self.0.lock().unwrap();
        match rows.get_mut(id) {
            Some(row) if row.lease_owner == owner => {
                if let Some(s) = sealed {
                    row.session.sealed = s.to_owned();
                }
                row.lease_owner.clear();
                row.lease_until_ms = 0;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn remove(&self, id: &str) -> Result<Option<StoredSession>, StoreError> {
        Ok(self.0.lock().unwrap().remove(id).map(|r| r.session))
    }

    async fn remove_user(&self, provider: &str, username: &str) -> Result<Vec<(String, StoredSession)>, StoreError> {
        let mut rows = self.0.lock().unwrap();
        let ids: Vec<String> = rows
            .iter()
            .filter(|(_, r)| r.session.provider == provider && r.session.username == username)
            .map(|(k, _)| k.clone())
            .collect();
        Ok(ids.into_iter().filter_map(|id| rows.remove(&id).map(|r| (id, r.session))).collect())
    }

    async fn remove_expired(
        &self,
        idle_before_ms: i64,
        created_before_ms: i64,
    ) -> Result<Vec<(String, StoredSession)>, StoreError> {
        let mut rows = self.0.lock().unwrap();
        let ids: Vec<String> = rows
            .iter()
            .filter(|(_, r)| r.session.last_used_ms <= idle_before_ms || r.session.created_ms <= created_before_ms)
            .map(|(k, _)| k.clone())
            .collect();
        Ok(ids.into_iter().filter_map(|id| rows.remove(&id).map(|r| (id, r.session))).collect())
    }

    async fn len(&self) -> Result<usize, StoreError> {
        Ok(self.0.lock().unwrap().len())
    }

    async fn all(&self) -> Result<Vec<(String, StoredSession)>, StoreError> {
        Ok(self.0.lock().unwrap().iter().map(|(k, r)| (k.clone(), r.session.clone())).collect())
    }
}

/// The SQL of the database stores, written once with `?` placeholders (`numbered` turns them into
/// PostgreSQL's `$1…`).
mod sql {
    pub const COLUMNS: &str = "id, provider, username, sealed, created_ms, last_used_ms";
    pub const INSERT: &str =
        "INSERT INTO sessions (id, provider, username, sealed, created_ms, last_used_ms) VALUES (?, ?, ?, ?, ?, ?)";
    /// One statement, so that two processes inserting at once do not both evict for the same overflow.
    pub const EVICT: &str = "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions ORDER BY last_used_ms ASC \
         LIMIT (SELECT CASE WHEN count(*) > ? THEN count(*) - ? ELSE 0 END FROM sessions)) RETURNING ";
    pub const GET: &str = "SELECT {} FROM sessions WHERE id = ?";
    /// The lease's compare-and-set: a row whose lease has run out is taken; a held one is left alone. Under
    /// PostgreSQL's row lock a concurrent taker re-checks the condition on the updated row, and finds it held.
    pub const ACQUIRE: &str = "UPDATE sessions SET lease_owner = ?, lease_until_ms = ?, last_used_ms = ? \
         WHERE id = ? AND lease_until_ms <= ? AND last_used_ms > ? AND created_ms > ? RETURNING ";
    pub const RELEASE: &str = "UPDATE sessions SET sealed = coalesce(?, sealed), lease_owner = '', \
         lease_until_ms = 0 WHERE id = ? AND lease_owner = ?";
    pub const REMOVE: &str = "DELETE FROM sessions WHERE id = ? RETURNING ";
    pub const REMOVE_USER: &str = "DELETE FROM sessions WHERE provider = ? AND username = ? RETURNING ";
    pub const REMOVE_EXPIRED: &str = "DELETE FROM sessions WHERE last_used_ms <= ? OR created_ms <= ? RETURNING ";
    pub const COUNT: &str = "SELECT count(*) FROM sessions";
    pub const ALL: &str = "SELECT {} FROM sessions";

    /// `?` placeholders as `$1`, `$2`… (none of the statements has a `?` in a literal).
    pub fn numbered(sql: &str) -> String {
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    }

    /// A statement ending in `RETURNING ` or holding `{}`, completed with the columns.
    pub fn with_columns(sql: &str) -> String {
        if sql.contains("{}") {
            sql.replace("{}", COLUMNS)
        } else {
            format!("{sql}{COLUMNS}")
        }
    }
}

/// A database store: the same statements for SQLite and PostgreSQL, one pool each.
macro_rules! sql_store {
    ($name:ident, $pool:ty, $row:ty, $placeholders:expr) => {
        impl $name {
            fn q(sql: &str) -> String {
                $placeholders(sql)
            }

            fn session(r: &$row) -> Result<(String, StoredSession), sqlx::Error> {
                Ok((
                    r.try_get("id")?,
                    StoredSession {
                        provider: r.try_get("provider")?,
                        username: r.try_get("username")?,
                        sealed: r.try_get("sealed")?,
                        created_ms: r.try_get("created_ms")?,
                        last_used_ms: r.try_get("last_used_ms")?,
                    },
                ))
            }

            fn sessions(rs: Vec<$row>) -> Result<Vec<(String, StoredSession)>, StoreError> {
                rs.iter().map(Self::session).collect::<Result<_, _>>().map_err(StoreError::from)
            }

            /// The pool, for tests and tools.
            pub fn pool(&self) -> &$pool {
                &self.pool
            }
        }

        #[async_trait]
        impl SessionStore for $name {
            async fn insert(
                &self,
                id: &str,
                s: &StoredSession,
                max: usize,
            ) -> Result<Vec<(String, StoredSession)>, StoreError> {
                sqlx::query(&Self::q(sql::INSERT))
                    .bind(id)
                    .bind(&s.provider)
                    .bind(&s.username)
                    .bind(&s.sealed)
                    .bind(s.created_ms)
                    .bind(s.last_used_ms)
                    .execute(&self.pool)
                    .await?;
                let max = max.max(1) as i64;
                let evicted = sqlx::query(&Self::q(&sql::with_columns(sql::EVICT)))
                    .bind(max)
                    .bind(max)
                    .fetch_all(&self.pool)
                    .await?;
                Self::sessions(evicted)
            }

            async fn get(&self, id: &str) -> Result<Option<StoredSession>, StoreError> {
                let r = sqlx::query(&Self::q(&sql::with_columns(sql::GET))).bind(id).fetch_optional(&self.pool).await?;
                Ok(r.as_ref().map(Self::session).transpose()?.map(|(_, s)| s))
            }

            async fn acquire(&self, id: &str, owner: &str, now_ms: i64, alive: Alive) -> Result<Acquired, StoreError> {
                let r = sqlx::query(&Self::q(&sql::with_columns(sql::ACQUIRE)))
                    .bind(owner)
                    .bind(now_ms + LEASE.as_millis() as i64)
                    .bind(now_ms)
                    .bind(id)
                    .bind(now_ms)
                    .bind(alive.used_after_ms)
                    .bind(alive.created_after_ms)
                    .fetch_optional(&self.pool)
                    .await?;
                if let Some(r) = r {
                    return Ok(Acquired::Held(Self::session(&r)?.1));
                }
                // Not taken: say why (the rare path).
                Ok(match self.get(id).await? {
                    None => Acquired::Missing,
                    Some(s) if !alive.holds(&s) => Acquired::Expired,
                    Some(_) => Acquired::Busy,
                })
            }

            async fn release(&self, id: &str, owner: &str, sealed: Option<&str>) -> Result<bool, StoreError> {
                let done =
                    sqlx::query(&Self::q(sql::RELEASE)).bind(sealed).bind(id).bind(owner).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn remove(&self, id: &str) -> Result<Option<StoredSession>, StoreError> {
                let r =
                    sqlx::query(&Self::q(&sql::with_columns(sql::REMOVE))).bind(id).fetch_optional(&self.pool).await?;
                Ok(r.as_ref().map(Self::session).transpose()?.map(|(_, s)| s))
            }

            async fn remove_user(
                &self,
                provider: &str,
                username: &str,
            ) -> Result<Vec<(String, StoredSession)>, StoreError> {
                let rs = sqlx::query(&Self::q(&sql::with_columns(sql::REMOVE_USER)))
                    .bind(provider)
                    .bind(username)
                    .fetch_all(&self.pool)
                    .await?;
                Self::sessions(rs)
            }

            async fn remove_expired(
                &self,
                idle_before_ms: i64,
                created_before_ms: i64,
            ) -> Result<Vec<(String, StoredSession)>, StoreError> {
                let rs = sqlx::query(&Self::q(&sql::with_columns(sql::REMOVE_EXPIRED)))
                    .bind(idle_before_ms)
                    .bind(created_before_ms)
                    .fetch_all(&self.pool)
                    .await?;
                Self::sessions(rs)
            }

            async fn len(&self) -> Result<usize, StoreError> {
                let n: i64 = sqlx::query_scalar(sql::COUNT).fetch_one(&self.pool).await?;
                Ok(n as usize)
            }

            async fn all(&self) -> Result<Vec<(String, StoredSession)>, StoreError> {
                Self::sessions(sqlx::query(&sql::with_columns(sql::ALL)).fetch_all(&self.pool).await?)
            }
        }
    };
}

/// Sessions in an SQLite database file (WAL mode): they survive restarts, and processes on one machine may
/// share the file. The schema is in `bridge/migrations/sqlite/`, applied at open.
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` and migrates its schema.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        // Created readable by its owner only: what it holds is sealed, but who signed in, and when, is not.
        #[cfg(unix)]
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| StoreError(format!("cannot create {}: {e}", path.display())))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL's usual setting: no fsync per commit, still no corruption; a power cut (not a crash of the
            // process) may lose the last commits, and a session whose rotated refresh token was among them ends.
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            // Writers queue rather than fail while another process writes.
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await.map_err(|e| StoreError(e.to_string()))?;
        Ok(Self { pool })
    }
}

sql_store!(SqliteStore, SqlitePool, SqliteRow, |s: &str| s.to_owned());

/// Sessions in PostgreSQL, for several bridge replicas behind a load balancer. The schema is in
/// `bridge/migrations/postgres/`, applied at open (sqlx's migrator takes an advisory lock, so replicas
/// starting together migrate once).
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and migrates the schema.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool =
            PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(5)).connect(url).await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await.map_err(|e| StoreError(e.to_string()))?;
        Ok(Self { pool })
    }
}

sql_store!(PostgresStore, PgPool, PgRow, sql::numbered);

#[cfg(test)]
mod tests {
    use super::*;

    fn session(user: &str, created: i64, used: i64) -> StoredSession {
        StoredSession {
            provider: "point".into(),
            username: user.into(),
            sealed: format!("sealed-{user}"),
            created_ms: created,
            last_used_ms: used,
        }
    }

    const A: Alive = Alive::ALWAYS;

    /// The same contract, run against every store.
    async fn contract(store: &dyn SessionStore) {
        assert!(store.insert("a", &session("ada", 0, 100), 3).await.unwrap().is_empty());
        assert!(store.insert("b", &session("grace", 0, 50), 3).await.unwrap().is_empty());
        assert!(store.insert("c", &session("ada", 10, 200), 3).await.unwrap().is_empty());
        // Full: the least recently used goes.
        let evicted = store.insert("d", &session("alan", 20, 300), 3).await.unwrap();
        assert_eq!(evicted, vec![("b".to_owned(), session("grace", 0, 50))]);
        assert_eq!(store.len().await.unwrap(), 3);
        // The lease: one holder at a time, lost when it runs out, and a stale holder writes nothing.
        assert!(
            matches!(store.acquire("a", "one", 1_000, A).await.unwrap(), Acquired::Held(s) if s.last_used_ms == 1_000)
        );
        assert_eq!(store.acquire("a", "two", 1_001, A).await.unwrap(), Acquired::Busy);
        assert_eq!(store.acquire("zz", "two", 1_001, A).await.unwrap(), Acquired::Missing);
        let later = 1_000 + LEASE.as_millis() as i64;
        assert!(matches!(store.acquire("a", "two", later, A).await.unwrap(), Acquired::Held(_)));
        assert!(!store.release("a", "one", Some("stale")).await.unwrap());
        assert!(store.release("a", "two", Some("fresh")).await.unwrap());
        assert_eq!(store.get("a").await.unwrap().unwrap().sealed, "fresh");
        assert!(matches!(store.acquire("a", "three", later, A).await.unwrap(), Acquired::Held(_)));
        assert!(store.release("a", "three", None).await.unwrap());
        // Past its idle or absolute limit: not taken, and left for the caller to end.
        let idle = Alive { used_after_ms: later, created_after_ms: i64::MIN };
        let old = Alive { used_after_ms: i64::MIN, created_after_ms: 0 };
        assert_eq!(store.acquire("a", "four", later + 1, idle).await.unwrap(), Acquired::Expired);
        assert_eq!(store.acquire("a", "four", later + 1, old).await.unwrap(), Acquired::Expired);
        assert_eq!(store.get("a").await.unwrap().unwrap().last_used_ms, later, "not marked used");
        assert_eq!(store.get("a").await.unwrap().unwrap().sealed, "fresh");
        // Expiry by idle time or by age.
        let expired = store.remove_expired(250, -1).await.unwrap();
        let mut ids: Vec<&str> = expired.iter().map(|(id, _)| id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["c"]);
        assert_eq!(store.remove_expired(0, 20).await.unwrap().len(), 2); // a and d, created at 0 and 20
                                                                         // A user's sessions; removal.
        store.insert("e", &session("ada", 30, 400), 10).await.unwrap();
        store.insert("f", &session("ada", 30, 400), 10).await.unwrap();
        store.insert("g", &session("grace", 30, 400), 10).await.unwrap();
        assert_eq!(store.remove_user("point", "ada").await.unwrap().len(), 2);
        assert_eq!(store.remove("g").await.unwrap(), Some(session("grace", 30, 400)));
        assert_eq!(store.len().await.unwrap(), 0);
        assert_eq!(store.remove("a").await.unwrap(), None);
    }

    #[tokio::test]
    async fn memory_store_keeps_the_contract() {
        contract(&MemoryStore::default()).await;
    }

    #[tokio::test]
    async fn sqlite_store_keeps_the_contract_and_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("authbridge-store-{}-{}", std::process::id(), crate::now_s()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sessions.db");
        contract(&SqliteStore::open(&path).await.unwrap()).await;
        SqliteStore::open(&path).await.unwrap().insert("kept", &session("ada", 1, 1), 10).await.unwrap();
        let again = SqliteStore::open(&path).await.unwrap();
        assert_eq!(again.get("kept").await.unwrap(), Some(session("ada", 1, 1)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
