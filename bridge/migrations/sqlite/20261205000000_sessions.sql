-- Bridge sessions. `sealed` holds every secret of the session, sealed (seal.rs): a dump of this table gives no
-- token. The lease columns serialise token calls for one session across processes (store.rs).
CREATE TABLE sessions (
    id             TEXT    PRIMARY KEY NOT NULL,
    provider       TEXT    NOT NULL,
    username       TEXT    NOT NULL,
    sealed         TEXT    NOT NULL,
    created_ms     INTEGER NOT NULL,
    last_used_ms   INTEGER NOT NULL,
    lease_owner    TEXT    NOT NULL DEFAULT '',
    lease_until_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_last_used ON sessions (last_used_ms);
CREATE INDEX sessions_created ON sessions (created_ms);
CREATE INDEX sessions_user ON sessions (provider, username);
