//! A PostgreSQL cluster for tests and benchmarks, from the machine's own packages (`scripts/install-deps.sh`
//! installs them): `initdb` in a temporary directory, `pg_ctl` on 127.0.0.1 and a free port, stopped and
//! removed on drop. Included with `#[path]` by `tests/stores.rs` and `examples/token_bench.rs`.

use std::path::PathBuf;

/// A PostgreSQL cluster of the machine's own packages in a temporary directory, on 127.0.0.1 and a free port;
/// stopped (and its directory removed) when dropped. PostgreSQL refuses to run as root: as root, its
/// programs run as the `postgres` user.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Postgres {
    /// The folder of `initdb`: on `PATH`, or Debian's `/usr/lib/postgresql/<version>/bin`, newest first.
    fn bin() -> PathBuf {
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).map(|d| d.join("initdb")).find(|f| f.is_file()))
            .unwrap_or_default();
        if let Some(initdb) = on_path {
            let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
            return real.parent().unwrap().to_owned();
        }
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").is_file())
            .collect();
        versions.sort_by_key(|b| b.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or(0));
        versions.pop().expect("PostgreSQL is not installed (initdb not found): run scripts/install-deps.sh")
    }

    /// A command for one of PostgreSQL's programs, as the `postgres` user when this process is root.
    fn command(&self, program: &str) -> std::process::Command {
        let exe = self.bin.join(program);
        if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            std::process::Command::new(exe)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Vec<u8> {
        let out = self.command(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    pub fn start() -> Self {
        let uid = std::process::Command::new("id").arg("-u").output().unwrap().stdout;
        let as_postgres = String::from_utf8_lossy(&uid).trim() == "0";
        let mut pg = Self { bin: Self::bin(), dir: PathBuf::new(), port: 0, as_postgres };
        // The directory belongs to whoever runs the server.
        let made = if as_postgres {
            let out = std::process::Command::new("runuser")
                .args(["-u", "postgres", "--", "mktemp", "-d", "/tmp/authbridge-pg-XXXXXX"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
        } else {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            let dir = std::env::temp_dir().join(format!("authbridge-pg-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            dir
        };
        pg.dir = made;
        let data = pg.dir.join("data");
        pg.run("initdb", &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
        // A free port: bound, read, released (the cluster takes it at once).
        pg.port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=200",
            pg.port,
            pg.dir.display()
        );
        let log = pg.dir.join("log");
        pg.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-w", "-t", "60", "-o", &options, "start"],
        );
        pg
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a fresh, empty database.
    pub async fn create_database(&self, name: &str) {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&self.url("postgres")).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut c).await.unwrap();
    }

    /// `pg_dump` of a database: what a stolen backup would hold. It connects over TCP (trust), so it may run as
    /// whoever runs the test.
    pub fn dumper(&self, name: &str) -> impl Fn() -> Vec<u8> + Send + Sync + 'static {
        let (bin, port, db) = (self.bin.clone(), self.port, name.to_owned());
        move || {
            let out = std::process::Command::new(bin.join("pg_dump"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", &db])
                .output()
                .unwrap();
            assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self.command("pg_ctl").args(["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]).output();
        if self.as_postgres {
            let _ = std::process::Command::new("runuser")
                .args(["-u", "postgres", "--", "rm", "-rf"])
                .arg(&self.dir)
                .output();
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
