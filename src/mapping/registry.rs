//! The active mapping set of a running service, and live reload. The set is swapped as a whole behind an
//! `Arc`: a submission keeps the set it started with, the next one sees the new set. A changed directory is
//! validated as a whole; a broken set is refused, the last good set keeps serving, and the error (with
//! file:line:column) goes to the log and to `/readyz`. Changes are noticed by polling the directory's content
//! (`mappings.poll_interval_ms`) and at once on SIGHUP. Reads `[mappings]`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use sha2::{Digest, Sha256};

use super::{MappingLoadErrors, MappingSet, is_mapping_file};

/// The current set plus what the last reload attempt said.
pub struct MappingRegistry {
    dir: PathBuf,
    current: RwLock<Arc<MappingSet>>,
    fingerprint: Mutex<String>,
    last_error: RwLock<Option<String>>,
    on_activate: OnceLock<ActivationListener>,
}

/// Told of every set that becomes active after start, with what made it active (`poll` or `sighup`).
pub type ActivationListener = Box<dyn Fn(&MappingSet, &str) + Send + Sync>;

impl std::fmt::Debug for MappingRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappingRegistry")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// What a reload attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// Nothing changed on disk.
    Unchanged,
    /// A new set is active; its mapping names.
    Applied(Vec<String>),
    /// The new files are broken; the old set stays. The errors, one per line.
    Refused(String),
}

impl MappingRegistry {
    /// Loads the directory; a broken set here is a start-up error.
    pub fn load(dir: &Path) -> Result<MappingRegistry, MappingLoadErrors> {
        let fingerprint = fingerprint(dir);
        let set = MappingSet::load_dir(dir)?;
        Ok(MappingRegistry {
            dir: dir.to_path_buf(),
            current: RwLock::new(Arc::new(set)),
            fingerprint: Mutex::new(fingerprint),
            last_error: RwLock::new(None),
            on_activate: OnceLock::new(),
        })
    }

    /// Sets the listener told of every later activation (the service records each in the audit trail). Only
    /// the first call takes effect.
    pub fn on_activate(&self, listener: ActivationListener) {
        let _ = self.on_activate.set(listener);
    }

    /// The set to use for one submission.
    pub fn current(&self) -> Arc<MappingSet> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The error of the last refused reload, while the files on disk are still broken.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.read().ok().and_then(|e| e.clone())
    }

    /// Reloads when the directory's content changed (or always, with `force`).
    pub fn reload(&self, force: bool) -> ReloadOutcome {
        let Ok(mut seen) = self.fingerprint.lock() else {
            return ReloadOutcome::Unchanged;
        };
        let now = fingerprint(&self.dir);
        if !force && *seen == now {
            return ReloadOutcome::Unchanged;
        }
        *seen = now;
        match MappingSet::load_dir(&self.dir) {
            Ok(set) => {
                let names: Vec<String> = set.names().iter().map(|n| n.to_string()).collect();
                let hashes: Vec<String> = set
                    .iter()
                    .map(|m| format!("{}={}", m.name, &m.sha256[..12.min(m.sha256.len())]))
                    .collect();
                let set = Arc::new(set);
                if let Ok(mut current) = self.current.write() {
                    *current = set.clone();
                }
                if let Some(listener) = self.on_activate.get() {
                    listener(&set, if force { "sighup" } else { "poll" });
                }
                if let Ok(mut err) = self.last_error.write() {
                    *err = None;
                }
                log::info!("mappings reloaded: {}", hashes.join(", "));
                ReloadOutcome::Applied(names)
            }
            Err(errors) => {
                let text = errors.to_string();
                log::error!(
                    "mappings in {} refused, previous set stays active:\n{text}",
                    self.dir.display()
                );
                if let Ok(mut err) = self.last_error.write() {
                    *err = Some(text.clone());
                }
                ReloadOutcome::Refused(text)
            }
        }
    }

    /// Polls for changes every `interval` on a background thread for as long as the registry lives.
    pub fn watch(self: &Arc<Self>, interval: std::time::Duration) {
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("kyc-mappings-watch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    match weak.upgrade() {
                        Some(registry) => {
                            registry.reload(false);
                        }
                        None => return,
                    }
                }
            });
        if let Err(e) = spawned {
            log::error!("cannot start the mappings watcher: {e}");
        }
    }
}

/// A hash over the names and contents of the mapping files, so edits are noticed whatever the mtime says.
fn fingerprint(dir: &Path) -> String {
    let mut entries: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    is_mapping_file(&name)
                        .then(|| (name, std::fs::read(e.path()).unwrap_or_default()))
                })
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    let mut hasher = Sha256::new();
    for (name, bytes) in entries {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Vec<u8> {
        std::fs::read(format!(
            "{}/mappings/ditto-v3.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("shipped")
    }

    #[test]
    fn a_broken_edit_keeps_the_old_set_and_a_fix_applies() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("ditto-v3.toml");
        std::fs::write(&file, shipped()).expect("write");
        let registry = MappingRegistry::load(dir.path()).expect("load");
        let before = registry.current().get("ditto-v3").map(|m| m.sha256.clone());
        assert_eq!(registry.reload(false), ReloadOutcome::Unchanged);

        std::fs::write(&file, b"name = \"ditto-v3\"\nwhen = '${a ==}'\n").expect("break");
        let ReloadOutcome::Refused(text) = registry.reload(false) else {
            panic!("must refuse")
        };
        assert!(text.contains("ditto-v3.toml:2:"), "{text}");
        assert_eq!(
            registry.current().get("ditto-v3").map(|m| m.sha256.clone()),
            before
        );
        assert!(registry.last_error().is_some());

        let edited = String::from_utf8(shipped())
            .expect("utf8")
            .replace("< 1.6", "< 2.5");
        std::fs::write(&file, edited).expect("fix");
        assert_eq!(
            registry.reload(false),
            ReloadOutcome::Applied(vec!["ditto-v3".into()])
        );
        assert_ne!(
            registry.current().get("ditto-v3").map(|m| m.sha256.clone()),
            before
        );
        assert!(registry.last_error().is_none());
    }
}
