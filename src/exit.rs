//! Exit codes: the contract with shells and CI systems. Listed in the README.

/// How a baton process ends. The numeric values are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exit {
    /// Every step ran and every expectation held.
    Passed = 0,
    /// At least one expectation failed (or a request's capture found nothing).
    Failed = 1,
    /// The command line was wrong: unknown flag, bad `--var`, missing path or env file.
    Usage = 2,
    /// A collection is invalid; nothing was sent.
    Invalid = 3,
    /// A runtime error: network, TLS, timeout, or an auth step failed.
    Runtime = 4,
    /// A response did not match its stored snapshot.
    Snapshot = 5,
    /// Interrupted by SIGINT (Ctrl-C) or SIGTERM; what `once:`/`cache:` steps obtained
    /// is saved, no report is written.
    Interrupted = 130,
    /// A bug in baton itself.
    Internal = 101,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The more serious of two outcomes: a runtime error outranks a snapshot mismatch,
    /// which outranks a failed expectation (the numeric codes are not an order).
    pub fn worse(self, other: Exit) -> Exit {
        let rank = |e: Exit| match e {
            Exit::Passed => 0,
            Exit::Failed => 1,
            Exit::Snapshot => 2,
            Exit::Runtime => 3,
            Exit::Invalid => 4,
            Exit::Usage => 5,
            Exit::Interrupted => 6,
            Exit::Internal => 7,
        };
        if rank(other) > rank(self) { other } else { self }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Exit; 8] = [
        Exit::Passed,
        Exit::Failed,
        Exit::Usage,
        Exit::Invalid,
        Exit::Runtime,
        Exit::Snapshot,
        Exit::Interrupted,
        Exit::Internal,
    ];

    #[test]
    fn codes_are_the_documented_numbers() {
        let codes: Vec<u8> = ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 130, 101]);
    }

    #[test]
    fn worse_ranks_by_seriousness_not_by_number() {
        assert_eq!(Exit::Failed.worse(Exit::Snapshot), Exit::Snapshot, "5 outranks 1");
        assert_eq!(Exit::Snapshot.worse(Exit::Runtime), Exit::Runtime, "4 outranks 5");
        assert_eq!(Exit::Runtime.worse(Exit::Invalid), Exit::Invalid);
        assert_eq!(Exit::Invalid.worse(Exit::Usage), Exit::Usage);
        assert_eq!(Exit::Usage.worse(Exit::Internal), Exit::Internal);
    }

    #[test]
    fn worse_is_symmetric_and_passed_changes_nothing() {
        for a in ALL {
            assert_eq!(Exit::Passed.worse(a), a);
            assert_eq!(a.worse(a), a);
            for b in ALL {
                assert_eq!(a.worse(b), b.worse(a), "{a:?} vs {b:?}");
            }
        }
    }
}
