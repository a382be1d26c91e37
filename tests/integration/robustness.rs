//! No input makes baton panic or hang: every shipped collection and fixture, mutated
//! byte by byte with a fixed seed, goes through `validate` in-process.
//!
//! `baton::run` prints its diagnostics through `anstream` straight to the process's
//! stdout and stderr, which the test harness does not capture (it only captures the
//! `print!` family). So the sweep runs in a child process of this test binary with its
//! output piped: a passing sweep prints nothing, a failing one shows the failing case's
//! output and the panic message, nothing else.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command;
use std::time::Duration;

/// Set in the child process that runs the sweep.
const CHILD: &str = "ROBUSTNESS_SWEEP_CHILD";

/// Printed on stderr before each case, so a failure can be cut out of the child's output.
const CASE: &str = "=== sweep case ";

/// Printed on stderr when every case passed.
const DONE: &str = "=== sweep done:";

/// The sweep may take this long (debug build, shared machine) before it counts as a hang.
const SWEEP_LIMIT: Duration = Duration::from_secs(120);

/// A small deterministic generator (xorshift64*): the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that tend to break YAML, templates, JSONPaths and number parsing.
const NASTY: &[&[u8]] = &[
    b"{{",
    b"}}",
    b"{%",
    b":",
    b"- ",
    b"\t",
    b"\"",
    b"'",
    b"&a",
    b"*a",
    b"[",
    b"]",
    b"{",
    b"}",
    b"\n  ",
    b"$[",
    b"|",
    b"\xff",
    b"null",
    b"<<: *a",
    b"1e300",
    b"-1",
    b"18446744073709551615",
    b"9223372036854775807",
    b"$..",
    b"[?@",
    "\u{202e}".as_bytes(),
    b"\r\n",
    b"timeout: ",
    b"expires_in: ",
    b"{{ x | ",
    b"\\",
];

fn mutate(src: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = src.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(3) {
            0 => {
                let piece = NASTY[rng.below(NASTY.len())];
                out.splice(at..at, piece.iter().copied());
            }
            1 if at < out.len() => {
                let end = (at + 1 + rng.below(8)).min(out.len());
                out.drain(at..end);
            }
            _ if at < out.len() => out[at] = (rng.next() & 0x7f) as u8,
            _ => {}
        }
    }
    out
}

#[test]
fn mutated_collections_never_panic() {
    if std::env::var_os(CHILD).is_some() {
        return sweep(Sweep::Fixed);
    }
    in_child("mutated_collections_never_panic", SWEEP_LIMIT);
}

/// How many seconds the long campaign runs (`BATON_FUZZ_SECONDS`, default ten minutes).
fn campaign_seconds() -> u64 {
    std::env::var("BATON_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(600)
}

/// The long mutation campaign: random seeds, for `BATON_FUZZ_SECONDS`. Not part of the
/// normal suite; run it with
/// `BATON_FUZZ_SECONDS=600 cargo test --release --test integration mutation_campaign -- --ignored --nocapture`.
#[test]
#[ignore = "a long campaign; run it on purpose (see the doc comment)"]
fn mutation_campaign() {
    if std::env::var_os(CHILD).is_some() {
        return sweep(Sweep::For(Duration::from_secs(campaign_seconds())));
    }
    let summary = in_child("mutation_campaign", Duration::from_secs(campaign_seconds() + 300));
    println!("{summary}");
}

/// Runs test `test` of this module again in a child with its output piped; on success
/// returns the child's summary line, on failure shows only the failing case.
fn in_child(test: &str, limit: Duration) -> String {
    // This test's own name, as the harness knows it (module path minus the crate).
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let name = format!("{module}::{test}");
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([name.as_str(), "--exact", "--nocapture", "--test-threads=1", "--include-ignored"])
        .env(CHILD, "1");
    let (code, stdout, stderr) = crate::support::bounded(&mut cmd, "the mutation sweep", limit);
    let ran = stdout.contains("test result: ok. 1 passed");
    if code != 0 || !ran || !stderr.contains(DONE) {
        // Only the failing case: its diagnostics, then the panic or assertion message.
        let case = stderr.rfind(CASE).map_or(stderr.as_str(), |i| &stderr[i..]);
        let tail: Vec<&str> = stdout.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "the sweep failed (exit {code}):\n{case}\n--- end of the harness output:\n{}",
            tail.join("\n")
        );
    }
    stderr.lines().find(|l| l.starts_with(DONE)).unwrap_or_default().to_string()
}

/// The fixed sweep (same seed, 600 inputs) or a campaign of random seeds for a while.
#[derive(Clone, Copy)]
enum Sweep {
    Fixed,
    For(Duration),
}

/// One input that takes longer than this to validate counts as a hang.
const CASE_LIMIT: Duration = Duration::from_secs(10);

/// The sweep itself: runs in the child, where whatever baton prints is piped to the parent.
fn sweep(kind: Sweep) {
    let root = crate::support::root();
    let mut inputs = Vec::new();
    for dir in ["collections", "collections/recipes", "tests/fixtures/invalid"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("dir").filter_map(Result::ok) {
            if entry.path().extension().is_some_and(|e| e == "yaml") {
                let name = format!("{dir}/{}", entry.file_name().to_string_lossy());
                inputs.push((name, std::fs::read(entry.path()).expect("read")));
            }
        }
    }
    inputs.sort();
    assert!(inputs.len() > 40, "{}", inputs.len());
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("m.yaml");
    let arg = path.to_string_lossy().into_owned();
    let seed = match kind {
        Sweep::Fixed => 0x5EED_BA70_0000_0001,
        Sweep::For(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 | 1),
    };
    let mut rng = Rng(seed);
    let env: HashMap<String, String> = HashMap::new();
    let started = std::time::Instant::now();
    let mut rejected = 0;
    let mut round = 0;
    let mut slowest = Duration::ZERO;
    loop {
        match kind {
            Sweep::Fixed if round == 600 => break,
            Sweep::For(d) if started.elapsed() >= d => break,
            _ => {}
        }
        let (source, original) = &inputs[round % inputs.len()];
        // A campaign mutates its own mutations too, to wander further from valid input.
        let mut input = mutate(original, &mut rng);
        if let Sweep::For(_) = kind {
            for _ in 0..rng.below(4) {
                input = mutate(&input, &mut rng);
            }
        }
        eprintln!("{CASE}{round} (seed {seed:#x}): a mutation of {source}");
        let case_started = std::time::Instant::now();
        std::fs::write(&path, &input).expect("write");
        let args = vec!["baton".into(), "validate".into(), arg.clone().into()];
        let result = catch_unwind(AssertUnwindSafe(|| baton::run(args, env.clone())));
        let code = result.unwrap_or_else(|_| panic!("panic on input:\n{}", String::from_utf8_lossy(&input)));
        assert!(
            matches!(code.code(), 0 | 2 | 3),
            "exit {} on input:\n{}",
            code.code(),
            String::from_utf8_lossy(&input)
        );
        rejected += usize::from(code.code() != 0);
        let took = case_started.elapsed();
        slowest = slowest.max(took);
        assert!(took < CASE_LIMIT, "a hang: {took:?} on input:\n{}", String::from_utf8_lossy(&input));
        round += 1;
    }
    assert!(rejected > round / 6, "the mutations should break most inputs ({rejected} of {round} rejected)");
    if let Sweep::Fixed = kind {
        assert!(started.elapsed() < SWEEP_LIMIT, "validation must not hang");
    }
    eprintln!(
        "{DONE} {round} inputs in {:.0} s, {rejected} rejected, 0 panics, 0 hangs (slowest {slowest:?}, seed {seed:#x})",
        started.elapsed().as_secs_f64()
    );
}
