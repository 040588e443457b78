# Sourced by fuzz/run.sh and bench/run.sh: a contacts-api server on a free port against a fresh
# PostgreSQL database, users registered and confirmed through the API, and a cleanup that stops
# the server and drops the database. Needs curl, psql and python3.
#
#   source scripts/scratch-server.sh
#   scratch_init fuzz                      # names a database, a port and a scratch folder
#   trap scratch_cleanup EXIT
#   scratch_start path/to/contacts-api BCRYPT_COST=4 RATE_LIMIT_ME_PER_MINUTE=1000000
#   scratch_register ada ada@example.org 'correct horse'   # registers and confirms
#   token=$(scratch_login ada 'correct horse')
#
# The server runs in the scratch folder, so no .env of the checkout is read; every setting it
# needs is passed explicitly (SMTP_HOST empty: mails go to the log, which is where the
# confirmation link is read from).

# PostgreSQL server the scratch databases are created on (no database name, no trailing slash).
SCRATCH_PG="${SCRATCH_PG:-postgres://postgres@127.0.0.1:5432}"

scratch_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# scratch_init LABEL: sets SCRATCH_DIR, SCRATCH_DB, SCRATCH_PORT, BASE.
scratch_init() {
    SCRATCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/contacts-$1.XXXXXX")
    SCRATCH_DB="contacts_$1_$(date +%s)_$$"
    SCRATCH_PORT=$(scratch_free_port)
    BASE="http://127.0.0.1:${SCRATCH_PORT}"
    SCRATCH_DATABASES=("$SCRATCH_DB")
    SERVER_PID=""
}

scratch_psql() {
    psql "${SCRATCH_PG}/postgres" -v ON_ERROR_STOP=1 -qAt "$@"
}

# scratch_start BINARY [NAME=VALUE...]: starts the server, waits until /healthz answers.
scratch_start() {
    local binary
    binary=$(realpath "$1")
    shift
    local secret
    secret=$(head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    (
        cd "$SCRATCH_DIR"
        exec env \
            DATABASE_URL="${SCRATCH_PG}/${SCRATCH_DB}" \
            JWT_SECRET="$secret" \
            APP_BASE_URL="$BASE" \
            HOST=127.0.0.1 \
            PORT="$SCRATCH_PORT" \
            SMTP_HOST= \
            REDIS_URL= \
            CORS_ORIGINS= \
            AVATAR_DIR="$SCRATCH_DIR/media" \
            RUST_LOG=info \
            NO_COLOR=1 \
            "$@" \
            "$binary" serve
    ) >"$SCRATCH_DIR/server.log" 2>&1 &
    SERVER_PID=$!
    local _
    for _ in $(seq 1 300); do
        if curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "the server exited at start:" >&2
            tail -n 20 "$SCRATCH_DIR/server.log" >&2
            SERVER_PID=""
            return 1
        fi
        sleep 0.2
    done
    echo "the server did not answer on $BASE/healthz within 60 s" >&2
    return 1
}

# scratch_set_role BINARY EMAIL ROLE [NAME=VALUE...]: the CLI's set-role on the scratch database.
scratch_set_role() {
    local binary
    binary=$(realpath "$1")
    (cd "$SCRATCH_DIR" && env DATABASE_URL="${SCRATCH_PG}/${SCRATCH_DB}" REDIS_URL= "${@:4}" "$binary" set-role "$2" "$3") >/dev/null
}

# The log with colour codes stripped (in case NO_COLOR is not honoured).
scratch_log() {
    sed 's/\x1b\[[0-9;]*m//g' "$SCRATCH_DIR/server.log"
}

# scratch_register USERNAME EMAIL PASSWORD: registers, then opens the confirmation link from the log.
scratch_register() {
    local body status link _
    body=$(python3 -c 'import json, sys; print(json.dumps({"username": sys.argv[1], "email": sys.argv[2], "password": sys.argv[3]}))' "$1" "$2" "$3")
    status=$(curl -sS -o "$SCRATCH_DIR/register.out" -w '%{http_code}' "$BASE/api/auth/register" \
        -H 'content-type: application/json' -d "$body")
    if [ "$status" != 201 ]; then
        echo "register $1: HTTP $status $(cat "$SCRATCH_DIR/register.out")" >&2
        return 1
    fi
    for _ in $(seq 1 50); do
        # The mail to this address is the last one logged for it; its link stands on its own line.
        link=$(scratch_log | awk -v to="to=$2 " 'index($0, "/api/auth/confirmed_email/") { last = $0 } index($0, to) && last { found = last } END { print found }')
        [ -n "$link" ] && break
        sleep 0.1
    done
    link=$(printf '%s' "$link" | grep -o "$BASE/api/auth/confirmed_email/[A-Za-z0-9._~-]*")
    if [ -z "$link" ]; then
        echo "register $1: no confirmation link in the server log" >&2
        return 1
    fi
    curl -fsS -o /dev/null "$link"
}

# scratch_login USERNAME PASSWORD: prints an access token.
scratch_login() {
    curl -fsS "$BASE/api/auth/login" --data-urlencode "username=$1" --data-urlencode "password=$2" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# scratch_create_contacts TOKEN < BODIES: creates one contact through REST for each JSON body on
# standard input (one a line) and prints the id of the first; fails at the first refused create.
scratch_create_contacts() {
    local body id first=""
    while read -r body; do
        id=$(curl -fsS "$BASE/api/contacts/" -H "authorization: Bearer $1" \
            -H 'content-type: application/json' -d "$body" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])') || return 1
        first=${first:-$id}
    done
    [ -n "$first" ] && echo "$first"
}

scratch_stop_server() {
    if [ -n "${SERVER_PID:-}" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        local _
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

# Stops the server, drops every database in SCRATCH_DATABASES and removes the scratch folder
# (KEEP_SCRATCH=1 keeps the folder and its server log).
scratch_cleanup() {
    scratch_stop_server
    local db
    for db in "${SCRATCH_DATABASES[@]}"; do
        scratch_psql -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" 2>/dev/null || true
    done
    if [ -n "${SCRATCH_DIR:-}" ] && [ -d "$SCRATCH_DIR" ]; then
        if [ "${KEEP_SCRATCH:-0}" = 1 ]; then
            echo "kept $SCRATCH_DIR"
        else
            rm -rf "$SCRATCH_DIR"
        fi
    fi
}
