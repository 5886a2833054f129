//! `--record DIR` and `--replay DIR` of `invoke` and `connector test`:
//! every exchange the connector has with the world (LDAP, HTTP, its clock,
//! the granted directory) kept in DIR, or answered from there with no
//! target running.

use crate::runtime::recording::{self, Tape, files};
use crate::runtime::{DirectoryGrant, TargetSettings};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args, Debug, Clone, Default)]
pub struct RecordingArgs {
    /// Record every exchange with the target (LDAP calls, HTTP requests,
    /// the clock, a copy of the granted directory) into DIR, to replay
    /// later without the target. Secrets and passwords are left out.
    #[arg(long, value_name = "DIR", conflicts_with = "replay")]
    pub record: Option<PathBuf>,
    /// Answer every exchange from the recording in DIR instead of the
    /// target (which need not be running); a request the recording does
    /// not hold fails, naming it. Give the same target or grant flags as
    /// when recording.
    #[arg(long, value_name = "DIR")]
    pub replay: Option<PathBuf>,
}

/// A run that records or replays: its tape, and the scratch copy of a
/// replayed directory (removed when this is dropped).
pub struct Taping {
    pub tape: Arc<Tape>,
    _scratch: Option<tempfile::TempDir>,
}

impl Taping {
    /// What the recording says about how it was made, if it says.
    pub fn manifest(&self) -> anyhow::Result<Option<serde_json::Value>> {
        Ok(recording::read_manifest(self.tape.dir())?)
    }

    /// Stores how the recording was made (recording only).
    pub fn write_manifest(&self, manifest: serde_json::Value) -> anyhow::Result<()> {
        if !self.tape.replaying() {
            self.tape.write_manifest(&manifest)?;
        }
        Ok(())
    }

    /// Says, on a replay, how much of the recording went unasked.
    pub fn finish(&self) {
        if self.tape.replaying() {
            let unused = self.tape.unused();
            if unused > 0 {
                eprintln!(
                    "note: {unused} recorded exchange(s) in {} were not asked for in this replay",
                    self.tape.dir().display()
                );
            }
        }
    }
}

impl RecordingArgs {
    /// `settings` with their exchanges taped as these flags say; None
    /// when they say nothing.
    pub fn apply(&self, settings: &mut TargetSettings) -> anyhow::Result<Option<Taping>> {
        let secrets: Vec<String> = settings
            .grants
            .secret_values()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let secrets = secrets.iter().map(String::as_str);
        let (tape, scratch) = match (&self.record, &self.replay) {
            (Some(dir), _) => {
                let tape = Tape::record(dir, secrets)?;
                if let Some(directory) = &settings.grants.directory {
                    files::record(&directory.host_path, dir).with_context(|| {
                        format!(
                            "cannot copy the granted directory {} into the recording {}",
                            directory.host_path.display(),
                            dir.display()
                        )
                    })?;
                }
                (tape, None)
            }
            (None, Some(dir)) => {
                let tape = Tape::replay(dir, secrets)?;
                let mut scratch = None;
                if let Some(directory) = &settings.grants.directory {
                    let dir_scratch = tempfile::tempdir()
                        .context("cannot make a scratch directory for the replay")?;
                    let copy = files::replay(dir, dir_scratch.path())
                        .with_context(|| format!("cannot copy the files of {}", dir.display()))?
                        .with_context(|| {
                            format!(
                                "the target grants a directory, but the recording {} kept none ({}/ is missing)",
                                dir.display(),
                                files::FILES_DIR
                            )
                        })?;
                    settings.grants.directory = Some(DirectoryGrant {
                        host_path: copy,
                        read_only: directory.read_only,
                    });
                    scratch = Some(dir_scratch);
                }
                (tape, scratch)
            }
            (None, None) => return Ok(None),
        };
        let tape = Arc::new(tape);
        settings.grants = std::mem::take(&mut settings.grants).taped(tape.clone())?;
        Ok(Some(Taping {
            tape,
            _scratch: scratch,
        }))
    }
}
