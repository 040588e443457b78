#!/usr/bin/env bash
# `just bench`: the release build under load, next to the floors it cannot beat.
#
# Builds the release binary, starts it against a fresh PostgreSQL database and the local Redis
# (BCRYPT_COST=12 as in production, the /me rate limit out of the way), seeds a user with 20
# contacts through the API, then drives it with wrk (bench/load.lua): per workload a warm-up,
# then BENCH_SECONDS of measurement. It also measures
#   - the database floor: pgbench -S (select only) with the same 32 connections, on a scratch
#     pgbench database on the same PostgreSQL server;
#   - the bcrypt floor: raw cost-12 hashes a second on every core (Python's bcrypt, one process
#     a core);
#   - the list's p99 while logins saturate bcrypt, against the quiet list p99;
#   - the server's peak RSS (VmHWM);
#   - vCards (bench/vcard.py): import of a 10,000-card file, export of a 50,000-contact book
#     with the server's peak RSS growth while exporting.
# It prints one Markdown table and writes it to bench/results/latest.md with the machine, the
# date and how busy the machine was with other work during each run.
#
# Environment: BENCH_SECONDS (10), BENCH_WARMUP (3), BENCH_CONNECTIONS (32),
# BENCH_LOGIN_CONNECTIONS (8), BENCH_REDIS_URL (redis://127.0.0.1:6379/15: a database index of its
# own, so cached users never meet those of tests running on index 0), SCRATCH_PG
# (postgres://postgres@127.0.0.1:5432), BENCH_OUT (bench/results/latest.md).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds="${BENCH_SECONDS:-10}"
warmup="${BENCH_WARMUP:-3}"
connections="${BENCH_CONNECTIONS:-32}"
login_connections="${BENCH_LOGIN_CONNECTIONS:-8}"
redis_url="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/15}"
out="${BENCH_OUT:-bench/results/latest.md}"
cores=$(nproc)
wrk_threads=$((cores < connections ? cores : connections))

# --- tools ---------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
    echo "bench: installing wrk"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
command -v pgbench >/dev/null || { echo "bench: pgbench is missing (Debian: postgresql-contrib / postgresql-client)" >&2; exit 1; }
venv=.venv-bench
# shellcheck source=../scripts/python-venv.sh
source scripts/python-venv.sh
python_venv "$venv" bench/requirements.txt

echo "bench: building the release binary"
cargo build --quiet --release -p contacts-api --bin contacts-api
binary="${CARGO_TARGET_DIR:-target}/release/contacts-api"

# shellcheck source=../scripts/scratch-server.sh
source scripts/scratch-server.sh
scratch_init bench
user_ids=()
bench_cleanup() {
    scratch_cleanup
    # The users this run cached in Redis (their keys would expire on their own).
    local id
    for id in "${user_ids[@]}"; do
        redis-cli -u "$redis_url" --scan --pattern "contacts:*:user:$id" 2>/dev/null \
            | xargs -r redis-cli -u "$redis_url" del >/dev/null 2>&1 || true
    done
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# --- how busy the machine is before we start ------------------------------------------------
cpu_snapshot() { python3 bench/cpu.py snap "$@"; }
# other_share B0 T0 O0 B1 T1 O1 [TICKS...]: the share (%) of all cores that went to processes
# other than ours between two snapshots; TICKS are ticks of our processes that had exited by then.
other_share() {
    local used=$(( $4 - $1 - ($6 - $3) )) t
    for t in "${@:7}"; do used=$((used - t)); done
    echo $(( used > 0 ? used * 100 / ($5 - $2) : 0 ))
}
IFS=$'\t' read -r busy_before top_before < <(python3 bench/cpu.py top 5)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: before the run ${busy_before}% of the machine was busy ($top_before)"

# --- server and data ------------------------------------------------------------------------
redis_ok=$(redis-cli -u "$redis_url" ping 2>/dev/null || true)
[ "$redis_ok" = PONG ] || { echo "bench: Redis does not answer at $redis_url" >&2; exit 1; }
scratch_start "$binary" \
    REDIS_URL="$redis_url" \
    BCRYPT_COST=12 \
    RATE_LIMIT_ME_PER_MINUTE=1000000000 \
    MAIL_COOLDOWN_SECONDS=0 \
    MAIL_DAILY_LIMIT=1000000000 \
    ACCESS_TOKEN_TTL_SECONDS=86400
readyz=$(curl -fsS "$BASE/readyz")
echo "bench: server pid $SERVER_PID on $BASE, readyz $readyz"

password="bench-$(head -c 12 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
user_id() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$SCRATCH_DIR/register.out"; }
scratch_register reader reader@example.org "$password"
user_ids+=("$(user_id)")
scratch_register writer writer@example.org "$password"
user_ids+=("$(user_id)")
reader_token=$(scratch_login reader "$password")
writer_token=$(scratch_login writer "$password")
contact_id=""
for i in $(seq 1 20); do
    body=$(printf '{"first_name":"Seed","last_name":"Contact %d","email":"seed-%d@example.org","phone":"+1 555 010 %04d","birthday":"1980-%02d-%02d","additional_info":"seeded by bench/run.sh"}' \
        "$i" "$i" "$i" $(( (i % 12) + 1 )) $(( (i % 28) + 1 )))
    id=$(curl -fsS "$BASE/api/contacts/" -H "authorization: Bearer $reader_token" \
        -H 'content-type: application/json' -d "$body" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
    contact_id=${contact_id:-$id}
done
total=$(curl -fsS -D - -o /dev/null "$BASE/api/contacts/?limit=20" -H "authorization: Bearer $reader_token" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-total-count" { print $2 }')
[ "$total" = 20 ] || { echo "bench: expected 20 seeded contacts, the server counts $total" >&2; exit 1; }

# --- load -----------------------------------------------------------------------------------
rows=()        # Markdown rows
declare -A rps p50 p99 other

fmt_ms() { awk -v us="$1" 'BEGIN { if (us >= 100000) printf "%.0f ms", us / 1000; else if (us >= 10000) printf "%.1f ms", us / 1000; else printf "%.2f ms", us / 1000 }'; }
rss_mib() { awk '/^VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$SERVER_PID/status"; }

# wrk_run NAME WORKLOAD CONNECTIONS SECONDS [TOKEN]: one wrk process; its RESULT line goes to
# $SCRATCH_DIR/NAME.result, wrk's own output to NAME.out, and its CPU ticks to NAME.cpu.
wrk_run() {
    local name=$1 workload=$2 conns=$3 secs=$4 token=${5:-}
    local threads=$((wrk_threads < conns ? wrk_threads : conns))
    WORKLOAD=$workload TOKEN=$token CONTACT_ID=$contact_id RUN_ID="$name-$$-$RANDOM" \
        LOGIN_USER=reader LOGIN_PASSWORD=$password \
        bash -c 'wrk "$@" > "$0.out" 2>&1; status=$?; awk "{ print \$16 + \$17 }" /proc/$$/stat > "$0.cpu"; exit $status' \
        "$SCRATCH_DIR/$name" -t"$threads" -c"$conns" -d"${secs}s" --timeout 30s --latency -s bench/load.lua "$BASE"
    grep '^RESULT ' "$SCRATCH_DIR/$name.out" > "$SCRATCH_DIR/$name.result" \
        || { echo "bench: wrk gave no result for $name:" >&2; cat "$SCRATCH_DIR/$name.out" >&2; return 1; }
}

# field NAME KEY: a value of the RESULT line of run NAME.
field() { grep -o "$2=[0-9]*" "$SCRATCH_DIR/$1.result" | cut -d= -f2; }

# record NAME LABEL CONNECTIONS OTHER%: one table row from run NAME.
record() {
    local name=$1 label=$2 conns=$3 other_pct=$4
    local requests duration errors
    requests=$(field "$name" requests)
    duration=$(field "$name" duration_us)
    errors=$(( $(field "$name" status_errors) + $(field "$name" socket_errors) ))
    rps[$name]=$(awk -v n="$requests" -v us="$duration" 'BEGIN { printf "%.1f", n * 1000000 / us }')
    p50[$name]=$(field "$name" p50_us)
    p99[$name]=$(field "$name" p99_us)
    other[$name]=$other_pct
    rows+=("| $label | $conns | ${rps[$name]} | $(fmt_ms "${p50[$name]}") | $(fmt_ms "${p99[$name]}") | $errors of $requests | $(rss_mib) | ${other_pct}% |")
    printf 'bench: %-28s %10s req/s  p50 %-9s p99 %-9s errors %s\n' "$label" "${rps[$name]}" \
        "$(fmt_ms "${p50[$name]}")" "$(fmt_ms "${p99[$name]}")" "$errors"
}

# measure NAME LABEL WORKLOAD CONNECTIONS [TOKEN]: warm-up, then a measured run with the share of
# the machine's CPU that went to processes other than the server, wrk, PostgreSQL and Redis.
measure() {
    local name=$1 label=$2 workload=$3 conns=$4 token=${5:-}
    wrk_run "$name-warmup" "$workload" "$conns" "$warmup" "$token"
    local b0 t0 o0 b1 t1 o1
    read -r b0 t0 o0 < <(cpu_snapshot "$SERVER_PID")
    wrk_run "$name" "$workload" "$conns" "$seconds" "$token"
    read -r b1 t1 o1 < <(cpu_snapshot "$SERVER_PID")
    record "$name" "$label" "$conns" "$(other_share "$b0" "$t0" "$o0" "$b1" "$t1" "$o1" "$(cat "$SCRATCH_DIR/$name.cpu")")"
}

measure list "list 20 contacts" list "$connections" "$reader_token"
measure get "get one contact" get "$connections" "$reader_token"
measure me "GET /api/users/me" me "$connections" "$reader_token"
measure create "create contact" create "$connections" "$writer_token"
measure login "login (bcrypt cost 12)" login "$login_connections"

# The list while logins keep every core busy hashing.
echo "bench: list and login at the same time"
read -r b0 t0 o0 < <(cpu_snapshot "$SERVER_PID")
wrk_run login-busy login "$login_connections" "$((seconds + 4))" &
login_pid=$!
sleep 2 # let the logins fill the blocking pool first
wrk_run list-busy list "$connections" "$seconds" "$reader_token"
wait "$login_pid"
read -r b1 t1 o1 < <(cpu_snapshot "$SERVER_PID")
both_other=$(other_share "$b0" "$t0" "$o0" "$b1" "$t1" "$o1" "$(cat "$SCRATCH_DIR/login-busy.cpu")" "$(cat "$SCRATCH_DIR/list-busy.cpu")")
record list-busy "list 20 contacts, during logins" "$connections" "$both_other"
record login-busy "login, during the list load" "$login_connections" "$both_other"
peak_rss=$(rss_mib)

# Known against unknown addresses on the routes that must not tell them apart (issue 11).
echo "bench: answer times of known and unknown addresses"
python3 bench/mail_timing.py "$BASE" reader@example.org 400 | tee "$SCRATCH_DIR/mail_timing.out"
mail_timing=$(sed 's/^/  - /' "$SCRATCH_DIR/mail_timing.out")
scratch_stop_server

# --- floors ---------------------------------------------------------------------------------
echo "bench: pgbench -S"
pgdb="${SCRATCH_DB}_pgbench"
SCRATCH_DATABASES+=("$pgdb")
scratch_psql -c "CREATE DATABASE \"$pgdb\""
pgbench -i -q "${SCRATCH_PG}/${pgdb}" >"$SCRATCH_DIR/pgbench-init.out" 2>&1
# Its 32 backends exit with it, taking their CPU time along: the other work is measured while
# everything is still running, from the 2nd second to the one before last.
(cd "$SCRATCH_DIR" && exec pgbench -S -c "$connections" -j "$wrk_threads" -T "$seconds" -l --log-prefix=pgbench \
    "${SCRATCH_PG}/${pgdb}" >pgbench.out 2>&1) &
pgbench_pid=$!
sleep 2
read -r b0 t0 o0 < <(cpu_snapshot "$pgbench_pid")
sleep $((seconds > 4 ? seconds - 3 : 1))
read -r b1 t1 o1 < <(cpu_snapshot "$pgbench_pid")
wait "$pgbench_pid"
pg_other=$(other_share "$b0" "$t0" "$o0" "$b1" "$t1" "$o1")
pg_tps=$(grep -oE 'tps = [0-9.]+' "$SCRATCH_DIR/pgbench.out" | tail -n1 | awk '{ printf "%.1f", $3 }')
pg_failed=$(grep -oE 'number of failed transactions: [0-9]+' "$SCRATCH_DIR/pgbench.out" | awk '{ print $NF }')
pg_done=$(grep -oE 'number of transactions actually processed: [0-9]+' "$SCRATCH_DIR/pgbench.out" | awk '{ print $NF }')
read -r pg_p50 pg_p99 < <(cat "$SCRATCH_DIR"/pgbench.[0-9]* 2>/dev/null \
    | awk 'NF >= 6 && $1 ~ /^[0-9]+$/ { print $3 }' | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int(NR * 0.5) + (NR * 0.5 > int(NR * 0.5))], v[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))]; else print 0, 0 }')
rows+=("| floor: pgbench -S (select by key) | $connections | $pg_tps | $(fmt_ms "$pg_p50") | $(fmt_ms "$pg_p99") | ${pg_failed:-0} of ${pg_done:-?} | — | ${pg_other}% |")
printf 'bench: %-28s %10s tps    p50 %-9s p99 %s\n' "pgbench -S" "$pg_tps" "$(fmt_ms "$pg_p50")" "$(fmt_ms "$pg_p99")"

echo "bench: bcrypt cost 12 on $cores processes"
read -r b0 t0 o0 < <(cpu_snapshot)
read -r bcrypt_rate bcrypt_ticks < <("$venv/bin/python" bench/bcrypt_rate.py 12 "$seconds" "$cores")
read -r b1 t1 o1 < <(cpu_snapshot)
bcrypt_other=$(other_share "$b0" "$t0" "$o0" "$b1" "$t1" "$o1" "$bcrypt_ticks")
rows+=("| floor: bcrypt hash, cost 12 | $cores processes | $bcrypt_rate | — | — | — | — | ${bcrypt_other}% |")
printf 'bench: %-28s %10s hashes/s\n' "bcrypt cost 12" "$bcrypt_rate"

# --- vCards: import of 10,000 cards, export of a 50,000-contact book (RSS growth) ------------
echo "bench: vCard import and export"
scratch_register vcards vcards@example.org "$password"
user_ids+=("$(user_id)")
vcard_token=$(scratch_login vcards "$password")
vcard_rows=$(python3 bench/vcard.py "$BASE" "$vcard_token" "$SERVER_PID")
printf '%s\n' "$vcard_rows" | sed 's/^/bench: /'

# --- report ---------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
list_vs_pg=$(ratio "${rps[list]}" "$pg_tps")
login_vs_bcrypt=$(ratio "${rps[login]}" "$bcrypt_rate")
p99_ratio=$(ratio "${p99[list-busy]}" "${p99[list]}")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
max_other=0
for v in "${other[@]}" "$pg_other" "$bcrypt_other"; do [ "$v" -gt "$max_other" ] && max_other=$v; done
if [ "$busy_before" -ge 10 ] || [ "$max_other" -ge 10 ]; then
    busy_note="**The machine was busy with other work**: ${busy_before}% of its CPU was in use in the 5 s before the run (by: $top_before; load average $load_before), and up to ${max_other}% of it went to other processes during a measurement (last column). The numbers are lower, and the latencies longer, than on a quiet machine of this kind."
else
    busy_note="The machine was quiet: ${busy_before}% of its CPU was in use in the 5 s before the run (load average $load_before), and at most ${max_other}% went to other processes during a measurement (last column)."
fi

report=$(cat <<EOF
# Benchmark: contacts-api under load

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- machine: $cores cores ($(nproc --all) online), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; $(. /etc/os-release && echo "$PRETTY_NAME")
- server: release build, ${cores} actix workers, BCRYPT_COST=12, Redis cache and rate limiter ($redis_url), PostgreSQL $(scratch_psql -c 'show server_version' | cut -d' ' -f1) on the same machine, RUST_LOG=info (an access-log line a request)
- load: $(wrk --version 2>&1 | head -n1 | awk '{ print $1, $2 }') with bench/load.lua, $wrk_threads threads, ${warmup} s warm-up then ${seconds} s a workload; the list is \`GET /api/contacts/?limit=20\` of a user with 20 contacts
- load generator, server, PostgreSQL and Redis share the same $cores cores
- $busy_note

| workload | connections | req/s | p50 | p99 | errors | peak RSS (so far) | CPU to other work |
|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

vCards (targets: import at least 2,000 cards/s; export RSS growth under 50 MB):

| workload | cards | cards/s | seconds | peak RSS growth |
|---|---|---|---|---|
$vcard_rows

Ratios:
- list req/s ÷ pgbench -S TPS: **$list_vs_pg** (${rps[list]} ÷ $pg_tps); pgbench runs one indexed select per transaction, a list request authenticates (JWT, user from Redis), then counts and reads 20 rows.
- login req/s ÷ bcrypt hashes/s: **$login_vs_bcrypt** (${rps[login]} ÷ $bcrypt_rate); every login verifies one cost-12 hash, so 1.0 means bcrypt is the whole cost.
- list p99 during logins ÷ quiet list p99: **$p99_ratio** ($(fmt_ms "${p99[list-busy]}") ÷ $(fmt_ms "${p99[list]}")); list throughput during logins ${rps[list-busy]} req/s against ${rps[list]} quiet.
- server peak RSS (VmHWM) over the whole run: $peak_rss.
- known against unknown addresses (bench/mail_timing.py, one client, 400 of each interleaved at random; \`accuracy\` is how often the best threshold on the answer time guesses whether the account exists: 50% is chance):
$mail_timing

Notes: wrk measures latency from when it sends each request (closed loop), so under saturation the
percentiles understate what an open-loop client would see. "CPU to other work" is the share of all
cores used during the measurement by processes other than the server, wrk, PostgreSQL and Redis
(PostgreSQL and Redis are counted as ours even when others use them). Load average at the start
$load_before, at the end $load_after.

Produced by \`just bench\` (bench/run.sh).
EOF
)
mkdir -p "$(dirname "$out")"
printf '%s\n' "$report" > "$out"
echo
printf '%s\n' "$report"
echo
echo "bench: written to $out"
