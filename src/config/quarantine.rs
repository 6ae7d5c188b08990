//! `[quarantine]`: how much of the refused submissions is kept for replay, and for how long. Reads `[quarantine]`.

use serde::Deserialize;

/// `[quarantine]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuarantineSettings {
    /// Keep refused submissions of authenticated callers (sealed) for replay.
    pub enabled: bool,
    /// Most bytes of bodies held; the oldest go first when a new one does not fit.
    pub max_bytes: u64,
    /// Entries are deleted this many days after they arrived (0 keeps them until dropped or evicted).
    pub retention_days: u32,
}

impl Default for QuarantineSettings {
    fn default() -> Self {
        QuarantineSettings {
            enabled: true,
            max_bytes: 256 * 1024 * 1024,
            retention_days: 30,
        }
    }
}
