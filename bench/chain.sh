#!/usr/bin/env bash
# Benchmark: baton vs Hurl on the same chain (log in, then 50 authorized requests with
# checks) against the playground on loopback. Prints wall times; not part of the tests.
#
#   bash bench/chain.sh            # needs hyperfine (apt-get install hyperfine) and,
#                                  # for the comparison, hurl on PATH (cargo install hurl)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-30}
port=${PORT:-18181}
cargo build --release --locked --quiet
baton=target/release/baton
"$baton" playground --port "$port" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  if curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
export BATON_BASE_URL="http://127.0.0.1:$port"
"$baton" run bench/chain.yaml >/dev/null   # warm-up and a correctness check
cmds=("$baton run bench/chain.yaml")
if command -v hurl >/dev/null 2>&1; then
  hurl --test --variable "base_url=$BATON_BASE_URL" bench/chain.hurl >/dev/null 2>&1
  cmds+=("hurl --test --variable base_url=$BATON_BASE_URL bench/chain.hurl")
else
  echo "hurl not found: measuring baton alone (install it with: cargo install hurl)" >&2
fi
if command -v hyperfine >/dev/null 2>&1; then
  hyperfine --warmup 3 --runs "$runs" -N "${cmds[@]}"
else
  for cmd in "${cmds[@]}"; do
    start=$(date +%s%N)
    for _ in $(seq 1 "$runs"); do $cmd >/dev/null 2>&1; done
    end=$(date +%s%N)
    echo "$cmd: $(( (end - start) / runs / 1000000 )) ms per run (mean of $runs)"
  done
fi
