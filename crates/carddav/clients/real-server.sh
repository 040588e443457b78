#!/usr/bin/env bash
# Runs real CardDAV clients against the real server: a fresh database, the debug binary on a
# free port, a confirmed user `ada` with an app password; then a two-way sync of a folder with the
# default address book by vdirsyncer, compared through REST (two_way_sync.py), tsdav's discovery,
# ctag, sync-collection and gzip-compressed listings (tsdav/sync.mjs; needs Node.js and npm),
# and vdirsyncer's own CardDAV storage test suite (run.sh with DAV_URL, DAV_USER and
# DAV_PASSWORD).
#
#   crates/carddav/clients/real-server.sh      # from the workspace root
set -euo pipefail
cd "$(dirname "$0")/../../.."
pg=${PG_URL:-postgres://postgres@127.0.0.1:5432}
db=vdirsyncer_$$_$RANDOM
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cargo build --quiet -p contacts-api
bin=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/contacts-api
psql "$pg/postgres" -qc "CREATE DATABASE $db"
DATABASE_URL="$pg/$db" JWT_SECRET=vdirsyncer-test-secret-of-at-least-32-bytes HOST=127.0.0.1 PORT=$port \
    BCRYPT_COST=4 LOGIN_MAX_FAILURES=1000 LOGIN_MAX_FAILURES_PER_IP=100000 "$bin" serve >/tmp/$db.log 2>&1 &
server=$!
trap 'kill $server; sleep 0.5; psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf -o /dev/null "$base/healthz" && break; sleep 0.1; done
curl -sf -o /dev/null -H 'content-type: application/json' \
    -d '{"username":"ada","email":"ada@example.org","password":"correct horse battery"}' "$base/api/auth/signup" \
  || curl -sf -o /dev/null -H 'content-type: application/json' \
    -d '{"username":"ada","email":"ada@example.org","password":"correct horse battery"}' "$base/api/auth/register"
psql "$pg/$db" -qc "UPDATE users SET confirmed = TRUE WHERE username = 'ada'"
token=$(curl -sf -d 'username=ada&password=correct horse battery' "$base/api/auth/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
secret=$(curl -sf -H "authorization: Bearer $token" -H 'content-type: application/json' -d '{"name":"vdirsyncer"}' \
    "$base/api/users/me/app-passwords" | python3 -c 'import json,sys; print(json.load(sys.stdin)["password"])')
# The same virtual environment as run.sh's (its vdirsyncer and Python).
venv=${CONTACTS_CACHE:-$HOME/.cache/contacts-api}/vdirsyncer-venv
# shellcheck source=../../../scripts/python-venv.sh
source scripts/python-venv.sh
python_venv "$venv" crates/carddav/clients/requirements.txt
DAV_URL="$base/" DAV_USER=ada DAV_PASSWORD=$secret REST_TOKEN=$token \
    "$venv/bin/python" crates/carddav/clients/two_way_sync.py
# tsdav at the version package-lock.json pins, installed next to its script.
npm ci --prefix crates/carddav/clients/tsdav --silent --no-audit --no-fund
DAV_URL="$base/" DAV_USER=ada DAV_PASSWORD=$secret REST_TOKEN=$token node crates/carddav/clients/tsdav/sync.mjs
DAV_URL="$base/" DAV_USER=ada DAV_PASSWORD=$secret crates/carddav/clients/run.sh "$@"
