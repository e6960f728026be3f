//! The report a rescue system prints at the end of a restore rehearsal, one line on the
//! serial console: `restore-tui: rehearsal-report {json}`. restore-tui writes it and
//! `mkrescue rehearse` reads it, both with these types (docs/rehearsal.md describes it).

use serde::{Deserialize, Serialize};

pub const REPORT_VERSION: u32 = 1;

/// What comes before the JSON on the report's line (after the console's `restore-tui: `).
pub const REPORT_TAG: &str = "rehearsal-report ";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GuestReport {
    pub version: u32,
    pub backup_id: String,
    pub restore: RestoreResult,
    pub verify: VerifyResult,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestoreResult {
    /// The nuke finished OK.
    pub ok: bool,
    pub seconds: f64,
    pub files: u64,
    pub bytes: u64,
    pub sets: u32,
    /// The restore's problem lines, cut short with "... and N more".
    #[serde(default)]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerifyResult {
    /// False when the nuke failed or no verification was asked for (all else is zero).
    pub ran: bool,
    pub ok: bool,
    pub seconds: f64,
    /// Regular files read and hashed, and their bytes.
    pub files: u64,
    pub bytes: u64,
    /// Real differences, the first few.
    #[serde(default)]
    pub differences: Vec<String>,
    /// Differences the restore made on purpose (fstab, its log, the boot loader's files),
    /// with the reason; cut short with "... and N more".
    #[serde(default)]
    pub expected: Vec<String>,
    /// Real differences not in `differences`.
    #[serde(default)]
    pub more_differences: u64,
}

impl GuestReport {
    /// The report's line, after the console's prefix: the tag and compact JSON.
    pub fn line(&self) -> serde_json::Result<String> {
        Ok(format!("{REPORT_TAG}{}", serde_json::to_string(self)?))
    }
}
