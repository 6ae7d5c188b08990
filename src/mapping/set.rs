//! The set of active mappings: loading a directory as a whole, and picking a mapping per payload.
//!
//! A set is loaded and validated as a unit (a broken set is refused whole, so the caller can keep
//! the last good one). Files are `*.toml` in file-name order; `*.example.toml` files and
//! hidden files (editor back-ups, lock files) are skipped so templates can ship beside the set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::DateTime;
use serde_json::Value;

use super::compile::compile;
use super::eval::{self, Scope};
use super::{LoadError, Mapping, MappingError, MappingLoadErrors};

/// The mappings loaded from one directory, in file-name order.
#[derive(Debug, Clone)]
pub struct MappingSet {
    mappings: Vec<Arc<Mapping>>,
}

/// Whether a directory entry is an active mapping file.
pub fn is_mapping_file(file_name: &str) -> bool {
    !file_name.starts_with('.')
        && file_name.ends_with(".toml")
        && !file_name.ends_with(".example.toml")
}

impl MappingSet {
    /// Loads every active mapping file in `dir` (see [`is_mapping_file`]) in file-name order and
    /// validates the set as a whole. All errors are collected, each as `path:line:col: message`.
    pub fn load_dir(dir: &Path) -> Result<MappingSet, MappingLoadErrors> {
        let dir_error = |message: String| MappingLoadErrors {
            errors: vec![LoadError {
                file: dir.to_path_buf(),
                line: None,
                column: None,
                message,
            }],
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| dir_error(format!("cannot read the mappings directory: {e}")))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| dir_error(format!("cannot read the mappings directory: {e}")))?;
            let name = entry.file_name();
            if name.to_str().is_some_and(is_mapping_file) && entry.path().is_file() {
                names.push(name);
            }
        }
        names.sort();
        let mut files = Vec::with_capacity(names.len());
        let mut errors = Vec::new();
        for name in names {
            let path = dir.join(&name);
            match std::fs::read(&path) {
                Ok(bytes) => files.push((path, bytes)),
                Err(e) => errors.push(LoadError {
                    file: path,
                    line: None,
                    column: None,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
        if files.is_empty() && errors.is_empty() {
            return Err(dir_error(
                "no mapping files (*.toml, not *.example.toml) in this directory".to_owned(),
            ));
        }
        match MappingSet::from_files(files) {
            Ok(set) if errors.is_empty() => Ok(set),
            Ok(_) => Err(MappingLoadErrors { errors }),
            Err(mut more) => {
                errors.append(&mut more.errors);
                Err(MappingLoadErrors { errors })
            }
        }
    }

    /// Builds a set from file contents already read, in the order given (for tests and dry runs).
    pub fn from_files(files: Vec<(PathBuf, Vec<u8>)>) -> Result<MappingSet, MappingLoadErrors> {
        let mut errors = Vec::new();
        let mut mappings: Vec<Arc<Mapping>> = Vec::new();
        let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
        for (path, bytes) in files {
            match compile(&path, &bytes) {
                Ok(m) => {
                    if let Some(first) = seen.get(&m.name) {
                        let (line, column) = m.spec.name_pos;
                        errors.push(LoadError {
                            file: path.clone(),
                            line,
                            column,
                            message: format!(
                                "duplicate mapping name `{}`: already defined in {}",
                                m.name,
                                first.display()
                            ),
                        });
                    } else {
                        seen.insert(m.name.clone(), path);
                        mappings.push(Arc::new(m));
                    }
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        if mappings.is_empty() && errors.is_empty() {
            errors.push(LoadError {
                file: PathBuf::from("<mappings>"),
                line: None,
                column: None,
                message: "the mapping set is empty".to_owned(),
            });
        }
        if errors.is_empty() {
            Ok(MappingSet { mappings })
        } else {
            Err(MappingLoadErrors { errors })
        }
    }

    /// The first mapping (in file-name order) whose `when` holds for `payload`; a mapping with no
    /// `when` takes everything. The error names the payload's document version when it has one.
    pub fn select(&self, payload: &Value) -> Result<&Arc<Mapping>, MappingError> {
        // `when` may not read the clock (checked at load), so any instant will do here.
        let scope = Scope::payload(payload, DateTime::UNIX_EPOCH);
        self.mappings
            .iter()
            .find(|m| {
                m.spec
                    .when
                    .as_ref()
                    .is_none_or(|w| eval::condition(w, &scope))
            })
            .ok_or_else(|| MappingError::NoMatch {
                version: document_version(payload),
                tried: self.names().into_iter().map(str::to_owned).collect(),
            })
    }

    /// The mapping named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Mapping>> {
        self.mappings.iter().find(|m| m.name == name)
    }

    /// The mapping names, in selection order.
    pub fn names(&self) -> Vec<&str> {
        self.mappings.iter().map(|m| m.name.as_str()).collect()
    }

    /// The mappings, in selection order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Mapping>> {
        self.mappings.iter()
    }

    /// How many mappings the set has (never zero for a loaded set).
    pub fn len(&self) -> usize {
        self.mappings.len()
    }

    /// Whether the set is empty (a loaded set never is).
    pub fn is_empty(&self) -> bool {
        self.mappings.is_empty()
    }
}

/// `kyc_info.document.version` as short printable text, for the "no mapping" message. It is
/// upstream-controlled, so it is cut short and stripped of control characters before it can
/// reach a response or a log line.
fn document_version(payload: &Value) -> Option<String> {
    let v = payload.pointer("/kyc_info/document/version")?;
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let clean: String = text.chars().filter(|c| !c.is_control()).take(32).collect();
    (!clean.is_empty()).then_some(clean)
}
