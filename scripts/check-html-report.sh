#!/usr/bin/env bash
# Opens an HTML report in a real headless browser (Chromium) and checks what it shows:
# the page renders, the failures are there with their messages, markup a server sent is
# text, and no secret appears in the rendered page. Run by .ci/run; needs `chromium`
# (Debian: apt-get install chromium). Only loopback traffic: the playground on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "check-html-report: no chromium found (apt-get install chromium)" >&2
  exit 1
fi
cargo build --locked --quiet
baton=$PWD/target/debug/baton
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$baton" playground --port "$port" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
secret="html-secret-Qm42-never-shown"
cat >"$work/c.yaml" <<'YAML'
name: html check
description: A collection with a failure, a skip and a secret echoed back.
vars: {base: "{{ env('BATON_BASE_URL') }}"}
requests:
  - name: echo the secret
    url: "{{ base }}/echo"
    headers: {x-api-key: "{{ secret_env('HTML_SECRET') }}"}
    expect:
      json: {"$.headers['x-note']": "<img src=x onerror=alert(1)>"}
  - name: passes
    url: "{{ base }}/status/200"
  - name: skipped on purpose
    if: "{{ 1 == 2 }}"
    url: "{{ base }}/echo"
YAML
set +e
BATON_BASE_URL="http://127.0.0.1:$port" HTML_SECRET="$secret" \
  "$baton" run "$work/c.yaml" --report "html=$work/report.html" >"$work/out.txt" 2>&1
code=$?
set -e
[ "$code" = 1 ] || { echo "expected exit 1, got $code"; cat "$work/out.txt"; exit 1; }
"$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --user-data-dir="$work/profile" --dump-dom "file://$work/report.html" >"$work/dom.html" 2>"$work/browser.log"
fail() { echo "check-html-report: $*" >&2; exit 1; }
grep -q '<h1>baton report</h1>' "$work/dom.html" || fail "the page did not render"
grep -q 'class="step failed"' "$work/dom.html" || fail "no failed step shown"
grep -q 'class="step skipped"' "$work/dom.html" || fail "no skipped step shown"
grep -q 'expected' "$work/dom.html" || fail "the failure's expected/actual is missing"
grep -q '&lt;img src=x' "$work/dom.html" || fail "markup from the collection was not escaped"
if grep -q '<img' "$work/dom.html"; then fail "an <img> element made it into the DOM"; fi
for f in report.html dom.html out.txt; do
  if grep -q "$secret" "$work/$f"; then fail "the secret appears in $f"; fi
done
echo "check-html-report: the report renders in $(basename "$browser"), shows the failure, escapes markup, holds no secret"
