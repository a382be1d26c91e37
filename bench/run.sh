#!/usr/bin/env bash
# The benchmark: baton, Hurl and curl side by side on the same loopback nginx, each
# workload checked first (exit code, requests counted in nginx's access log), then timed
# in alternation with hyperfine; peak RSS is the median of three `/usr/bin/time` runs.
# Writes bench/results.md (and raw hyperfine JSON under bench/out/). Not part of the
# tests: tests assert behaviour, this reports numbers.
#
#   bash bench/run.sh            # installs nginx, hyperfine, jq, time (apt) and Hurl 8.0.1
#                                # (cargo install) when missing; about 10 minutes here
#   RUNS=3 SIZES="2 20" bash bench/run.sh     # fewer runs, smaller bodies
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=${RUNS:-5}
sizes=${SIZES:-"2 20 200"}
chains=${CHAINS:-"100 1000 10000"}
tools=${BATON_BENCH_TOOLS:-$HOME/.cache/baton-bench-tools}
out=$root/bench/out
mkdir -p "$out"
work=$(mktemp -d)
chmod 755 "$work"   # nginx workers run as another user
nginx_pid=
spinners=()
cleanup() {
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; fi
  if [ ${#spinners[@]} -gt 0 ]; then kill "${spinners[@]}" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

log() { printf '== %s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------------
install_tools() {
  local missing=()
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v hyperfine >/dev/null || missing+=(hyperfine)
  command -v jq >/dev/null || missing+=(jq)
  command -v curl >/dev/null || missing+=(curl)
  [ -x /usr/bin/time ] || missing+=(time)
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  export PATH="$tools/bin:/usr/sbin:$PATH"
  if ! hurl --version >/dev/null 2>&1; then
    # Hurl links libcurl and libxml2 and generates bindings with libclang.
    log "cargo install hurl 8.0.1 (the last release that builds with this toolchain)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libcurl4-openssl-dev libxml2-dev libclang-dev pkg-config >/dev/null
    nice -n 10 cargo install --locked hurl --version 8.0.1 --root "$tools" --quiet ||
      log "Hurl could not be built: its columns stay empty"
  fi
}

# --- server ------------------------------------------------------------------------
start_nginx() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/www/big" "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 256; }
http {
  access_log $work/nginx/access.log;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  types { application/json json; }
  server {
    listen 127.0.0.1:$port;
    root $work/www;
    location = /token {
      default_type application/json;
      return 200 '{"access_token": "bench-token-5f4e3d2c1b0a", "token_type": "Bearer", "expires_in": 3600}';
    }
    location /item/ {
      default_type application/json;
      if (\$http_authorization = "") { return 401; }
      return 200 '{"id": 1, "name": "widget", "price": 9.5}';
    }
  }
}
EOF
  nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
  nginx_pid=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/token" -o /dev/null && return 0
    sleep 0.05
  done
  log "nginx did not start"; cat "$work/nginx/error.log" >&2; exit 1
}

base() { echo "http://127.0.0.1:$port"; }
requests_logged() { wc -l <"$work/nginx/access.log"; }
reset_log() { : >"$work/nginx/access.log"; kill -USR1 "$nginx_pid" 2>/dev/null || true; sleep 0.1; }

# --- workloads ---------------------------------------------------------------------
gen_chain() { # N: a token, then N authorized GETs with a status check
  local n=$1
  {
    echo "name: chain $n"
    echo "auth:"
    echo "  - name: token"
    echo "    method: POST"
    echo "    url: $(base)/token"
    echo "    form: {grant_type: client_credentials}"
    echo "    capture: {token: \$.access_token}"
    echo "defaults:"
    echo "  bearer: \"{{ token }}\""
    echo "requests:"
    for i in $(seq 1 "$n"); do
      printf '  - name: item %d\n    url: %s/item/%d\n    expect: {status: 200}\n' "$i" "$(base)" "$i"
    done
  } >"$work/chain$n.yaml"
  {
    printf 'POST %s/token\n[FormParams]\ngrant_type: client_credentials\nHTTP 200\n[Captures]\ntoken: jsonpath "$.access_token"\n\n' "$(base)"
    for i in $(seq 1 "$n"); do
      printf 'GET %s/item/%d\nAuthorization: Bearer {{token}}\nHTTP 200\n\n' "$(base)" "$i"
    done
  } >"$work/chain$n.hurl"
  {
    echo 'header = "Authorization: Bearer bench-token-5f4e3d2c1b0a"'
    echo "fail"
    for i in $(seq 1 "$n"); do
      printf 'url = "%s/item/%d"\noutput = "/dev/null"\n' "$(base)" "$i"
    done
  } >"$work/chain$n.curl"
}

gen_json() { # MB: a nested document of about that size; its last item's id is checked
  local mb=$1
  python3 - "$work/www/big/$mb.json" "$mb" <<'PY'
import json, sys
path, mb = sys.argv[1], int(sys.argv[2])
item = lambda i: {"id": i, "name": f"item {i}", "price": i * 0.5, "tags": ["a", "b", "c"],
                  "meta": {"id": f"id-{i}", "created": "2026-12-05T00:00:00Z", "flags": {"x": True}}}
one = len(json.dumps(item(100000))) + 2
n = max(1, mb * 1024 * 1024 // one)
with open(path, "w") as f:
    f.write('{"data": {"count": %d, "items": [' % n)
    f.write(",".join(json.dumps(item(i)) for i in range(n)))
    f.write("]}}")
print(n - 1)
PY
}

gen_validate() {
  python3 - "$work" <<'PY'
import sys
work = sys.argv[1]
for n in (1000, 10000):
    with open(f"{work}/validate{n}.yaml", "w") as f:
        f.write("name: validate\nvars:\n  base: http://127.0.0.1:9\nrequests:\n")
        for i in range(n):
            f.write(f"  - name: item {i}\n    url: \"{{{{ base }}}}/items/{i}\"\n    expect: {{status: 200, json: {{$.id: {i}}}}}\n")
with open(f"{work}/vars32000.yaml", "w") as f:
    f.write("name: vars\nvars:\n")
    for i in range(32000):
        f.write(f"  v{i}: \"{{{{ v{i-1} }}}}x\"\n" if i % 2 else f"  v{i}: value{i}\n")
    f.write("requests:\n  - url: http://127.0.0.1:9/x\n")
PY
}

gen_files() { # 200 collection files of 5 requests each
  mkdir -p "$work/files"
  for f in $(seq -w 1 200); do
    {
      echo "name: file $f"
      echo "requests:"
      for i in 1 2 3 4 5; do
        printf '  - url: %s/item/%s%d\n    bearer: x\n    expect: {status: 200}\n' "$(base)" "$f" "$i"
      done
    } >"$work/files/f$f.yaml"
  done
}

# --- measuring ---------------------------------------------------------------------
# check NAME EXPECTED_REQUESTS CMD…: the command must exit 0 and send exactly that many.
check() {
  local name=$1 want=$2; shift 2
  reset_log
  if ! "$@" >"$work/check.out" 2>&1; then
    log "$name: \`$*\` failed"; tail -20 "$work/check.out" >&2; return 1
  fi
  local got; got=$(requests_logged)
  if [ "$want" != "-" ] && [ "$got" != "$want" ]; then
    log "$name: expected $want requests, nginx logged $got"; return 1
  fi
}

# peak_rss CMD…: the median of three runs' peak RSS, in MB (one argument is split on
# spaces, like hyperfine's -N).
peak_rss() {
  local cmd=("$@") samples=()
  if [ $# -eq 1 ]; then read -ra cmd <<<"$1"; fi
  for _ in 1 2 3; do
    samples+=("$(/usr/bin/time -f %M "${cmd[@]}" 2>&1 >/dev/null | tail -1)")
  done
  printf '%s\n' "${samples[@]}" | sort -n | sed -n 2p | awk '{printf "%.0f", $1 / 1024}'
}

# time_all TAG CMD…: hyperfine over the commands in turn; prints "median_s cpu_s" per command.
time_all() {
  local tag=$1; shift
  hyperfine -N --style none --warmup 1 --runs "$runs" --export-json "$out/$tag.json" "$@" >/dev/null 2>&1
  python3 - "$out/$tag.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f'{r["median"]:.3f} {r["user"] + r["system"]:.3f}')
PY
}

rows=()
row() { rows+=("| $* |"); }
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.2f}×' if b else '—')" "$1" "$2"; }

measure_pair() { # LABEL TAG BATON_CMD PEER_NAME PEER_CMD (PEER_CMD empty: baton alone)
  local label=$1 tag=$2 bcmd=$3 pname=$4 pcmd=$5
  if [ -n "$pcmd" ]; then
    mapfile -t t < <(time_all "$tag" "$bcmd" "$pcmd")
    local bw bc pw pc; read -r bw bc <<<"${t[0]}"; read -r pw pc <<<"${t[1]}"
    local brss prss; brss=$(peak_rss "$bcmd"); prss=$(peak_rss "$pcmd")
    row "$label | ${bw} s | ${bc} s | ${brss} MB | $pname | ${pw} s | ${pc} s | ${prss} MB | $(ratio "$bw" "$pw") | $(ratio "$brss" "$prss")"
  else
    mapfile -t t < <(time_all "$tag" "$bcmd")
    local bw bc; read -r bw bc <<<"${t[0]}"
    local brss; brss=$(peak_rss "$bcmd")
    row "$label | ${bw} s | ${bc} s | ${brss} MB | $pname | | | | | "
  fi
}

main() {
  install_tools
  log "building baton (release)"
  cargo build --release --locked --quiet
  baton=$root/target/release/baton
  start_nginx
  have_hurl=false
  hurl --version >/dev/null 2>&1 && have_hurl=true

  for n in $chains; do
    log "chain of $n"
    gen_chain "$n"
    local want=$((n + 1))
    check "baton chain $n" "$want" "$baton" run "$work/chain$n.yaml"
    local peer="" pname="Hurl"
    if $have_hurl; then
      check "hurl chain $n" "$want" hurl --test "$work/chain$n.hurl"
      peer="hurl --test $work/chain$n.hurl"
    else
      pname="Hurl (not installed)"
    fi
    measure_pair "token + $n GETs" "chain$n" "$baton run $work/chain$n.yaml" "$pname" "$peer"
    check "curl chain $n" "$n" curl -s --config "$work/chain$n.curl"
    mapfile -t t < <(time_all "curl$n" "curl -s --config $work/chain$n.curl")
    read -r cw cc <<<"${t[0]}"
    row "↳ curl floor, $n GETs on one connection | | | | curl | ${cw} s | ${cc} s | $(peak_rss curl -s --config "$work/chain$n.curl") MB | $(ratio "$(echo "${rows[-1]}" | awk -F'|' '{print $3}' | tr -d ' s')" "$cw") | "
  done

  # The same longest chain with every core kept awake by a lowest-priority busy loop: on a
  # virtual machine whose idle cores halt (no guest halt-polling), each wait for an answer
  # pays the core's wake-up; this row shows what is left when it does not.
  local longest=${chains##* }
  if $have_hurl && [ -f "$work/chain$longest.yaml" ]; then
    log "chain of $longest, cores kept awake"
    for _ in $(seq 1 "$(nproc)"); do
      nice -n 19 sh -c 'while :; do :; done' &
      spinners+=($!)
    done
    mapfile -t t < <(time_all "awake$longest" "$baton run $work/chain$longest.yaml" "hurl --test $work/chain$longest.hurl")
    kill "${spinners[@]}" 2>/dev/null || true
    spinners=()
    read -r bw bc <<<"${t[0]}"; read -r pw pc <<<"${t[1]}"
    row "↳ the same, cores kept awake | ${bw} s | ${bc} s | | Hurl | ${pw} s | ${pc} s | | $(ratio "$bw" "$pw") | "
  fi

  for mb in $sizes; do
    log "JSON body of $mb MB"
    local last; last=$(gen_json "$mb")
    local url; url="$(base)/big/$mb.json"
    printf 'name: big\nrequests:\n  - url: %s\n    expect: {json: {"$.data.items[%d].meta.id": "id-%d"}}\n' "$url" "$last" "$last" >"$work/big$mb.yaml"
    printf '#!/bin/sh\ncurl -s %s | jq -e %s >/dev/null\n' "$url" "'.data.items[$last].meta.id == \"id-$last\"'" >"$work/jq$mb.sh"
    check "baton json $mb" 1 "$baton" run "$work/big$mb.yaml"
    check "curl|jq json $mb" 1 sh "$work/jq$mb.sh"
    measure_pair "$mb MB JSON, one deep JSONPath check" "json$mb" "$baton run $work/big$mb.yaml" "curl \\| jq" "sh $work/jq$mb.sh"
    if $have_hurl; then
      printf 'GET %s\nHTTP 200\n[Asserts]\njsonpath "$.data.items[%d].meta.id" == "id-%d"\n' "$url" "$last" "$last" >"$work/big$mb.hurl"
      check "hurl json $mb" 1 hurl --test "$work/big$mb.hurl"
      mapfile -t t < <(time_all "hurljson$mb" "hurl --test $work/big$mb.hurl")
      read -r hw hc <<<"${t[0]}"
      row "↳ the same with Hurl | | | | Hurl | ${hw} s | ${hc} s | $(peak_rss hurl --test "$work/big$mb.hurl") MB | | "
    fi
  done

  log "validate"
  gen_validate
  for f in validate1000 validate10000 vars32000; do
    "$baton" validate "$work/$f.yaml" >/dev/null
  done
  measure_pair "validate, 1,000 steps" v1000 "$baton validate $work/validate1000.yaml" "" ""
  measure_pair "validate, 10,000 steps" v10000 "$baton validate $work/validate10000.yaml" "" ""
  measure_pair "validate, 32,000 variables" vars "$baton validate $work/vars32000.yaml" "" ""

  log "--jobs over 200 files"
  gen_files
  check "jobs" 1000 "$baton" run "$work/files" --jobs 2
  mapfile -t t < <(time_all jobs "$baton run $work/files --jobs 1" "$baton run $work/files --jobs 2")
  read -r j1 _ <<<"${t[0]}"; read -r j2 _ <<<"${t[1]}"
  row "200 files × 5 GETs, \`--jobs 1\` | ${j1} s | | | \`--jobs 2\` | ${j2} s | | | speed-up $(ratio "$j1" "$j2") | "

  write_table
}

write_table() {
  local cpu mem commit hurlv
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
  mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
  commit=$(git rev-parse --short HEAD)
  hurlv=$(hurl --version 2>/dev/null | head -1 || echo "not installed")
  {
    echo "# Benchmark results"
    echo
    echo "$(date -u +%Y-%m-%d), commit \`$commit\`, $(nproc) cores ($cpu), $mem; nginx $(nginx -v 2>&1 | sed 's|.*/||'),"
    echo "$("$baton" --version), ${hurlv}, $(curl --version | head -1 | cut -d' ' -f1-2), jq $(jq --version | sed 's/jq-//')."
    echo "Median of $runs runs (hyperfine, commands in turn); CPU = user + system; peak RSS = median of 3."
    echo
    echo "| workload | baton wall | baton CPU | baton RSS | peer | peer wall | peer CPU | peer RSS | wall ratio | RSS ratio |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
  } >"$root/bench/results.md"
  cat "$root/bench/results.md"
}

main "$@"
