#!/usr/bin/env bash
# `just profile`: where a request spends its instructions, counted by valgrind's callgrind.
#
# Instruction counts, unlike seconds, repeat on a busy machine (issue 15). The release build
# runs under callgrind against a fresh database and the local Redis (PROFILE_REDIS_URL,
# redis://127.0.0.1:6379/13, emptied first), with RUST_LOG=info as in `just bench`; a user with
# PROFILE_CONTACTS contacts (20) made through REST, then PROFILE_REQUESTS (200) warm requests of
# each kind over one keep-alive connection:
#   me    GET /api/users/me       (authentication and a small JSON answer, no PostgreSQL)
#   get   GET /api/contacts/{id}  (one contact: one PostgreSQL round trip)
#   list  GET /api/contacts/      (a page of 20 and the stored total)
# The counters are zeroed before and dumped after each kind, so each dump holds that kind only.
# Prints instructions a request for each kind and the functions that differ most between list
# and get (own and inclusive, per request: what 19 more rows cost), and keeps the dumps in
# PROFILE_OUT (target/profile) for callgrind_annotate or KCachegrind.
set -euo pipefail
cd "$(dirname "$0")/.."

requests="${PROFILE_REQUESTS:-200}"
contacts="${PROFILE_CONTACTS:-20}"
out="${PROFILE_OUT:-${CARGO_TARGET_DIR:-target}/profile}"
command -v valgrind >/dev/null || { echo "profile: valgrind is missing (Debian: valgrind)" >&2; exit 1; }

echo "profile: building the release binary"
cargo build --quiet --release -p contacts-api --bin contacts-api
binary=$(realpath "${CARGO_TARGET_DIR:-target}/release/contacts-api")

# shellcheck source=../scripts/scratch-server.sh
source scripts/scratch-server.sh
scratch_init profile
trap scratch_cleanup EXIT
mkdir -p "$out"
rm -f "$out"/callgrind.*

# callgrind in front of the binary; instrumentation starts at once, the counters are zeroed
# before each measured kind anyway.
wrapper="$SCRATCH_DIR/under-callgrind"
cat > "$wrapper" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file="$out/callgrind.%p" "$binary" "\$@"
EOF
chmod +x "$wrapper"
# A Redis database index of its own, emptied first: ids start at 1 in every fresh database, so
# users cached by an earlier run would stand in for this run's.
redis_url="${PROFILE_REDIS_URL:-redis://127.0.0.1:6379/13}"
redis-cli -u "$redis_url" flushdb >/dev/null
scratch_start "$wrapper" BCRYPT_COST=4 REDIS_URL="$redis_url" \
    RATE_LIMIT_ME_PER_MINUTE=1000000000
pid=$SERVER_PID

password="profile-$(head -c 12 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
scratch_register reader reader@example.org "$password"
token=$(scratch_login reader "$password")
first=$(scratch_create_contacts "$token" < <(python3 bench/cards.py rest "$contacts"))

# send PATH N: N GET requests over one keep-alive connection, each answered 200.
send() {
    python3 - "$BASE" "$1" "$token" "$2" <<'PY'
import http.client, sys, urllib.parse
base, path, token, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection(urllib.parse.urlparse(base).netloc)
for _ in range(n):
    conn.request("GET", path, headers={"authorization": f"Bearer {token}"})
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 200, (path, answer.status)
PY
}
# control ARG...: callgrind_control on the server. valgrind names its control pipes after the
# HOST variable, which the server's environment sets to its listening address.
control() { HOST=127.0.0.1 callgrind_control "$@" >/dev/null; }
# measure KIND PATH: warms up, zeroes the counters, sends the requests, dumps (in KIND order:
# callgrind numbers its dumps).
measure() {
    send "$2" 20
    control -z "$pid"
    send "$2" "$requests"
    control -d "$1" "$pid"
}
echo "profile: $requests requests each under callgrind (pid $pid)"
measure me /api/users/me
measure get "/api/contacts/$first"
measure list /api/contacts/
scratch_stop_server

python3 bench/profile.py "$out" "$requests" me get list
