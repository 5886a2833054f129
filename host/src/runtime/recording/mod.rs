//! Record and replay of what a connector exchanges with the world. Every
//! byte a connector sends or receives passes through a host capability, so
//! the host can keep each exchange (the request the connector made and the
//! answer it got) on a [`Tape`] and, later, answer the same requests from
//! the tape with no target running: an author ships a recording as a
//! fixture and certifies the connector offline.
//!
//! What is taped: LDAP calls, SQL statements (transactions and cursors
//! numbered in the order they open), outgoing HTTP, the guest's wall clock (a
//! connector that builds a filter from "now" asks the same thing on
//! replay). While taping, the guest's random numbers come from a fixed
//! sequence, so a connector that hashes or shuffles behaves the same on
//! both runs. A granted directory is copied into the recording when it
//! starts and served from a fresh copy on replay ([`files`]).
//!
//! Replay answers a request with the first unused recorded exchange of the
//! same capability, call and request; a request the recording does not
//! hold is an error naming it. Secrets never reach the tape: the target's
//! secrets are scrubbed from every line, and each capability redacts the
//! passwords a request or answer carries (bind and check-password
//! passwords, password attributes, `Authorization` and cookies) before
//! the exchange is stored or compared.

mod clock;
pub mod files;
mod octets;

pub use clock::TapedWallClock;
pub use octets::Octets;

use super::scrub::Scrubber;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The exchanges of a recording, one JSON object per line.
pub const EXCHANGES_FILE: &str = "exchanges.jsonl";
/// What was recorded and how (connector, options).
pub const MANIFEST_FILE: &str = "manifest.json";
/// What replaces a password a request or answer carries.
pub const REDACTED: &str = "<redacted>";

/// The bytes a taped guest's random numbers cycle through: fixed, so that
/// a recording and its replay see the same ones.
pub fn fixed_random_bytes() -> Vec<u8> {
    // A linear congruential sequence: no structure a connector would
    // notice, and no dependency.
    let mut state: u32 = 0x5eed_1234;
    (0..4096)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("cannot write the recording in {dir}: {source}")]
    Write {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the recording in {dir}: {reason}")]
    Read { dir: PathBuf, reason: String },
}

/// A request the recording does not hold.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "replay: the recording holds no {capability} {call} for this request ({unused} unused {capability} {call} exchange(s) left): {request}"
)]
pub struct Unrecorded {
    pub capability: String,
    pub call: String,
    /// The request, cut short.
    pub request: String,
    pub unused: usize,
}

/// One recorded exchange, as a line of [`EXCHANGES_FILE`].
#[derive(Debug, Serialize, Deserialize)]
struct Exchange {
    capability: String,
    call: String,
    request: serde_json::Value,
    response: serde_json::Value,
}

type Key = (String, String, String);

enum Mode {
    Record(Mutex<std::io::BufWriter<std::fs::File>>),
    Replay {
        answers: Mutex<HashMap<Key, VecDeque<serde_json::Value>>>,
    },
}

/// Where a connector's exchanges are recorded to or replayed from.
pub struct Tape {
    dir: PathBuf,
    mode: Mode,
    /// The target's secrets, kept off the tape (and out of what is
    /// compared, so a replay with other secrets still matches).
    secrets: Scrubber,
}

impl std::fmt::Debug for Tape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tape")
            .field("dir", &self.dir)
            .field("replaying", &self.replaying())
            .finish_non_exhaustive()
    }
}

impl Tape {
    /// A new recording in `dir` (created; an earlier recording there is
    /// replaced), scrubbing `secrets` from what it stores.
    pub fn record<'a>(
        dir: &Path,
        secrets: impl IntoIterator<Item = &'a str>,
    ) -> Result<Tape, RecordingError> {
        let write = |source| RecordingError::Write {
            dir: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(write)?;
        let file = std::fs::File::create(dir.join(EXCHANGES_FILE)).map_err(write)?;
        Ok(Tape {
            dir: dir.to_owned(),
            mode: Mode::Record(Mutex::new(std::io::BufWriter::new(file))),
            secrets: Scrubber::new(secrets),
        })
    }

    /// The recording in `dir`, to answer from.
    pub fn replay<'a>(
        dir: &Path,
        secrets: impl IntoIterator<Item = &'a str>,
    ) -> Result<Tape, RecordingError> {
        let read = |reason: String| RecordingError::Read {
            dir: dir.to_owned(),
            reason,
        };
        let path = dir.join(EXCHANGES_FILE);
        let file =
            std::fs::File::open(&path).map_err(|e| read(format!("{}: {e}", path.display())))?;
        let mut answers: HashMap<Key, VecDeque<serde_json::Value>> = HashMap::new();
        for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| read(format!("{}: {e}", path.display())))?;
            if line.trim().is_empty() {
                continue;
            }
            let exchange: Exchange = serde_json::from_str(&line).map_err(|e| {
                read(format!(
                    "{} line {}: not an exchange: {e}",
                    path.display(),
                    number + 1
                ))
            })?;
            answers
                .entry((
                    exchange.capability,
                    exchange.call,
                    exchange.request.to_string(),
                ))
                .or_default()
                .push_back(exchange.response);
        }
        Ok(Tape {
            dir: dir.to_owned(),
            mode: Mode::Replay {
                answers: Mutex::new(answers),
            },
            secrets: Scrubber::new(secrets),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn replaying(&self) -> bool {
        matches!(self.mode, Mode::Replay { .. })
    }

    /// `value` as it goes on the tape: the target's secrets scrubbed.
    fn scrubbed(&self, value: &serde_json::Value) -> serde_json::Value {
        if self.secrets.is_empty() {
            return value.clone();
        }
        let text = self.secrets.scrubbed(&value.to_string());
        serde_json::from_str(&text).unwrap_or_else(|_| value.clone())
    }

    /// The answer to `request`: `live`'s, stored on the tape, when
    /// recording; the recorded one, when replaying (then `live` is never
    /// run).
    pub async fn exchange<A, F>(
        &self,
        capability: &str,
        call: &str,
        request: serde_json::Value,
        live: F,
    ) -> Result<A, Unrecorded>
    where
        A: Serialize + DeserializeOwned,
        F: Future<Output = A>,
    {
        let request = self.scrubbed(&request);
        match &self.mode {
            Mode::Record(_) => {
                let answer = live.await;
                self.store(capability, call, request, &answer);
                Ok(answer)
            }
            Mode::Replay { .. } => self.answer(capability, call, &request),
        }
    }

    /// [`Tape::exchange`] for a call that does not wait.
    pub fn exchange_now<A, F>(
        &self,
        capability: &str,
        call: &str,
        request: serde_json::Value,
        live: F,
    ) -> Result<A, Unrecorded>
    where
        A: Serialize + DeserializeOwned,
        F: FnOnce() -> A,
    {
        let request = self.scrubbed(&request);
        match &self.mode {
            Mode::Record(_) => {
                let answer = live();
                self.store(capability, call, request, &answer);
                Ok(answer)
            }
            Mode::Replay { .. } => self.answer(capability, call, &request),
        }
    }

    fn store<A: Serialize>(
        &self,
        capability: &str,
        call: &str,
        request: serde_json::Value,
        answer: &A,
    ) {
        let Mode::Record(writer) = &self.mode else {
            return;
        };
        let response = serde_json::to_value(answer)
            .unwrap_or_else(|e| serde_json::json!({"unrecordable": e.to_string()}));
        let exchange = Exchange {
            capability: capability.to_owned(),
            call: call.to_owned(),
            request,
            response: self.scrubbed(&response),
        };
        let mut line = serde_json::to_string(&exchange).expect("an exchange serialises");
        line.push('\n');
        let mut writer = writer.lock().expect("tape writer poisoned");
        // Each line is flushed as it is written: a run that dies keeps what
        // it recorded.
        if let Err(e) = writer
            .write_all(line.as_bytes())
            .and_then(|()| writer.flush())
        {
            tracing::warn!(dir = %self.dir.display(), "cannot write to the recording: {e}");
        }
    }

    fn answer<A: DeserializeOwned>(
        &self,
        capability: &str,
        call: &str,
        request: &serde_json::Value,
    ) -> Result<A, Unrecorded> {
        let Mode::Replay { answers } = &self.mode else {
            unreachable!("answer is only asked of a replay");
        };
        let mut answers = answers.lock().expect("tape answers poisoned");
        let key = (capability.to_owned(), call.to_owned(), request.to_string());
        let unrecorded = |answers: &HashMap<Key, VecDeque<serde_json::Value>>| {
            let unused = answers
                .iter()
                .filter(|((cap, c, _), _)| cap == capability && c == call)
                .map(|(_, queue)| queue.len())
                .sum();
            let mut shown = request.to_string();
            if shown.len() > 400 {
                let mut end = 400;
                while !shown.is_char_boundary(end) {
                    end -= 1;
                }
                shown.truncate(end);
                shown.push('…');
            }
            Unrecorded {
                capability: capability.to_owned(),
                call: call.to_owned(),
                request: shown,
                unused,
            }
        };
        let Some(response) = answers.get_mut(&key).and_then(VecDeque::pop_front) else {
            return Err(unrecorded(&answers));
        };
        serde_json::from_value(response).map_err(|e| Unrecorded {
            request: format!("{} (its recorded answer does not read: {e})", key.2),
            ..unrecorded(&answers)
        })
    }

    /// Recorded exchanges no request has asked for yet (replay only).
    pub fn unused(&self) -> usize {
        match &self.mode {
            Mode::Replay { answers } => answers
                .lock()
                .expect("tape answers poisoned")
                .values()
                .map(VecDeque::len)
                .sum(),
            Mode::Record(_) => 0,
        }
    }

    /// Writes `manifest` (what was recorded and how) next to the exchanges.
    pub fn write_manifest(&self, manifest: &serde_json::Value) -> Result<(), RecordingError> {
        let text =
            serde_json::to_string_pretty(&self.scrubbed(manifest)).expect("a manifest serialises");
        std::fs::write(self.dir.join(MANIFEST_FILE), text + "\n").map_err(|source| {
            RecordingError::Write {
                dir: self.dir.clone(),
                source,
            }
        })
    }
}

/// The manifest of the recording in `dir`, if it has one.
pub fn read_manifest(dir: &Path) -> Result<Option<serde_json::Value>, RecordingError> {
    let path = dir.join(MANIFEST_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| RecordingError::Read {
                dir: dir.to_owned(),
                reason: format!("{}: {e}", path.display()),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RecordingError::Read {
            dir: dir.to_owned(),
            reason: format!("{}: {e}", path.display()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_replay_answers_what_was_recorded_in_order_and_names_what_was_not() {
        let dir = tempfile::tempdir().unwrap();
        let tape = Tape::record(dir.path(), ["s3cret-token"]).unwrap();
        let first: Result<u32, String> = tape
            .exchange("ldap", "search", json!({"filter": "(uid=a)"}), async {
                Ok(1)
            })
            .await
            .unwrap();
        assert_eq!(first, Ok(1));
        let _: Result<u32, String> = tape
            .exchange("ldap", "search", json!({"filter": "(uid=a)"}), async {
                Err("gone".to_owned())
            })
            .await
            .unwrap();
        let _: String = tape
            .exchange(
                "http",
                "send",
                json!({"authorization": "Bearer s3cret-token"}),
                async { "answer with s3cret-token".to_owned() },
            )
            .await
            .unwrap();
        drop(tape);

        let stored = std::fs::read_to_string(dir.path().join(EXCHANGES_FILE)).unwrap();
        assert!(!stored.contains("s3cret-token"), "{stored}");

        let replay = Tape::replay(dir.path(), ["s3cret-token"]).unwrap();
        let never_run = async { panic!("a replay never runs the live call") };
        let answer: Result<u32, String> = replay
            .exchange("ldap", "search", json!({"filter": "(uid=a)"}), never_run)
            .await
            .unwrap();
        assert_eq!(answer, Ok(1));
        let answer: Result<u32, String> = replay
            .exchange("ldap", "search", json!({"filter": "(uid=a)"}), async {
                unreachable!()
            })
            .await
            .unwrap();
        assert_eq!(answer, Err("gone".to_owned()));
        // The same secret compares equal after scrubbing.
        let answer: String = replay
            .exchange(
                "http",
                "send",
                json!({"authorization": "Bearer s3cret-token"}),
                async { unreachable!() },
            )
            .await
            .unwrap();
        assert_eq!(answer, "answer with ***");
        let missing = replay
            .exchange::<Result<u32, String>, _>(
                "ldap",
                "search",
                json!({"filter": "(uid=a)"}),
                async { unreachable!() },
            )
            .await
            .unwrap_err();
        assert_eq!(missing.unused, 0);
        assert!(
            missing.to_string().contains("no ldap search") && missing.to_string().contains("uid=a"),
            "{missing}"
        );
        assert_eq!(replay.unused(), 0);
    }

    #[test]
    fn a_broken_recording_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(EXCHANGES_FILE), "{\"capability\": 1}\n").unwrap();
        let error = Tape::replay(dir.path(), []).unwrap_err().to_string();
        assert!(error.contains("line 1"), "{error}");
        let error = Tape::replay(&dir.path().join("absent"), [])
            .unwrap_err()
            .to_string();
        assert!(error.contains("exchanges.jsonl"), "{error}");
    }
}
