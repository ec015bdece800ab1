//! The persisted server store: one JSON file (`{"servers": {name: config}}`, corral's own
//! config form) that the CLI and the bindings share. Every change is made under an exclusive
//! lock (`flock` on a sibling `.lock` file), written to a temporary file, synced and renamed
//! over the original, so a reader never sees a half-written file and concurrent writers from
//! several processes never lose each other's changes. The file is created with mode 0600: it
//! may hold secrets (server env).

use std::{
    collections::BTreeMap,
    fs::{self, File, OpenOptions},
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use serde_json::{Map, Value, json};

use crate::{
    config::{self, ServerConfig},
    error::{Error, ErrorKind, Result},
};

/// The server store file.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

impl Store {
    /// The store at `path`.
    pub fn open(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The default location: `$CORRAL_CONFIG`, else `<user config dir>/corral/servers.json`.
    pub fn default_path() -> PathBuf {
        std::env::var_os("CORRAL_CONFIG")
            .map(PathBuf::from)
            .or_else(|| dirs::config_dir().map(|d| d.join("corral").join("servers.json")))
            .unwrap_or_else(|| PathBuf::from("corral-servers.json"))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All stored servers (none if the file does not exist yet).
    pub fn load(&self) -> Result<Vec<ServerConfig>> {
        let doc = self.read_document()?;
        config::parse_servers_value(&doc)
    }

    /// The file's text (an empty store's text if it does not exist yet).
    pub fn text(&self) -> Result<String> {
        let doc = self.read_document()?;
        serde_json::to_string_pretty(&doc)
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot render the store: {e}")))
    }

    /// Adds or replaces a server.
    pub fn put(&self, server: &ServerConfig) -> Result<()> {
        server.validate()?;
        self.update(|servers| {
            servers.insert(server.name.clone(), server.to_value());
            Ok(())
        })
    }

    /// Removes a server; `SERVER_NOT_FOUND` if there is none of that name.
    pub fn remove(&self, name: &str) -> Result<()> {
        self.update(|servers| {
            servers.remove(name).map(|_| ()).ok_or_else(|| {
                Error::new(
                    ErrorKind::ServerNotFound,
                    format!("no server named `{name}` is stored"),
                )
            })
        })
    }

    /// Empties the store.
    pub fn reset(&self) -> Result<()> {
        self.update(|servers| {
            servers.clear();
            Ok(())
        })
    }

    /// Applies `change` to the stored servers atomically (exclusive lock, write, rename).
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, Value>) -> Result<T>,
    ) -> Result<T> {
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        let lock_path = self.path.with_extension("json.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| Error::io(lock_path.display(), e))?;
        flock(&lock)?;
        let doc = self.read_document()?;
        // Validate what is there before changing it: never build on a corrupt file.
        config::parse_servers_value(&doc)?;
        let mut servers: BTreeMap<String, Value> = doc
            .get("servers")
            .and_then(Value::as_object)
            .map(|m| m.clone().into_iter().collect())
            .unwrap_or_default();
        let out = change(&mut servers)?;
        let doc = json!({ "servers": Map::from_iter(servers) });
        let text = serde_json::to_string_pretty(&doc)
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot render the store: {e}")))?;
        let tmp = self
            .path
            .with_extension(format!("json.tmp{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            File::open(dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(self.path.display(), e)
        })?;
        drop(lock); // releases the flock
        Ok(out)
    }

    fn read_document(&self) -> Result<Value> {
        match fs::read_to_string(&self.path) {
            Ok(text) if text.trim().is_empty() => Ok(json!({"servers": {}})),
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("{}: not valid JSON: {e}", self.path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({"servers": {}})),
            Err(e) => Err(Error::io(self.path.display(), e)),
        }
    }
}

fn flock(file: &File) -> Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(Error::io("locking the store", err));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn put_load_remove_and_mode() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path().join("sub").join("servers.json"));
        assert!(store.load().expect("empty").is_empty());
        let s = ServerConfig::command("fx", "srv --a")
            .expect("valid")
            .env("TOKEN", "secret");
        store.put(&s).expect("put");
        let loaded = store.load().expect("load");
        assert_eq!(loaded, vec![s]);
        let mode = fs::metadata(store.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            store.remove("nope").expect_err("missing").kind(),
            ErrorKind::ServerNotFound
        );
        store.remove("fx").expect("remove");
        assert!(store.load().expect("load").is_empty());
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("servers.json");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = Store::open(path.clone());
                std::thread::spawn(move || {
                    for j in 0..5 {
                        let s = ServerConfig::command(format!("s{i}-{j}"), "x").expect("valid");
                        store.put(&s).expect("put");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("join");
        }
        assert_eq!(Store::open(path).load().expect("load").len(), 40);
    }
}
