#!/usr/bin/env bash
# Birthday reminder passes at scale (issue 14), part of `just bench`; writes
# bench/results/reminders.md.
#
# A scratch database gets 100,000 confirmed users and 5,000,000 contacts (50 each, birthdays
# spread over the year), generated with SQL. Then, with the release binary's
# `contacts-api send-reminders --at T`:
#   1. a pass when nobody is due (every user already had the day's run): its time, and the
#      plan of the claim statement, which must be one index scan of `user_settings_due_idx`;
#   2. a pass when 1,000 users are due, each with a birthday in the window: it queues 1,000
#      digests; its time;
#   3. the same pass again: nothing more (one digest per user and local day).
# The trigram search indexes are dropped in the scratch database before the data is loaded:
# no reminder query reads them, and building them over 5M rows would take most of the run.
#
# Environment: SCRATCH_PG (postgres://postgres@127.0.0.1:5432), USERS (100000),
# CONTACTS_PER_USER (50), DUE (1000).
set -euo pipefail
cd "$(dirname "$0")/.."

SCRATCH_PG="${SCRATCH_PG:-postgres://postgres@127.0.0.1:5432}"
USERS="${USERS:-100000}"
PER_USER="${CONTACTS_PER_USER:-50}"
DUE="${DUE:-1000}"
DB="bench_reminders_$$"
URL="$SCRATCH_PG/$DB"
OUT=bench/results/reminders.md
AT="2026-06-15T08:30:00Z"

target="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p contacts-api
bin="$target/release/contacts-api"

cleanup() { psql "$SCRATCH_PG/postgres" -X -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql "$SCRATCH_PG/postgres" -X -q -c "CREATE DATABASE $DB" >/dev/null
env -i PATH="$PATH" DATABASE_URL="$URL" "$bin" migrate >/dev/null

sql() { psql "$URL" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
now_ms() { date +%s%3N; }

echo "reminders bench: $USERS users, $((USERS * PER_USER)) contacts"
started=$(now_ms)
sql <<SQL
INSERT INTO users (username, email, password_hash, confirmed)
SELECT 'user' || i, 'user' || i || '@example.org', 'x', TRUE FROM generate_series(1, $USERS) AS i;
-- Contacts in bulk, without the per-row triggers (change log, counts): they do not matter here.
SET session_replication_role = replica;
INSERT INTO contacts (user_id, book_id, first_name, last_name, birthday, birthday_md, uid, href, card)
SELECT b.user_id, b.id, 'Friend' || n, 'Of' || b.user_id, d, (extract(month FROM d) * 100 + extract(day FROM d))::smallint,
       'u' || b.user_id || '-' || n, 'u' || b.user_id || '-' || n || '.vcf', 'BEGIN:VCARD' || chr(13) || chr(10) || 'END:VCARD'
  FROM address_books b, generate_series(1, $PER_USER) AS n,
       LATERAL (SELECT date '1970-01-01' + ((b.user_id * 7919 + n * 104729) % 365)::int
                                         + (((b.user_id + n) % 40) * 365)::int AS d) AS day;
SET session_replication_role = origin;
-- Every user already had today's run: next look tomorrow.
UPDATE user_settings SET next_run_at = timestamptz '$AT' + interval '1 day';
VACUUM ANALYZE;
SQL
loaded_s=$(( ($(now_ms) - started) / 1000 ))
contacts=$(sql -c "SELECT count(*) FROM contacts")

pass() {
    local t0 t1 queued
    t0=$(now_ms)
    queued=$(env -i PATH="$PATH" DATABASE_URL="$URL" JWT_SECRET=bench-secret-0123456789abcdef0123456789 \
        APP_BASE_URL=http://localhost:8000 "$bin" send-reminders --at "$AT")
    t1=$(now_ms)
    echo "$queued $((t1 - t0))"
}

# The claim statement as the store sends it, explained with the pass's values.
claim_plan=$(sql <<SQL
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
UPDATE user_settings s SET next_run_at = timestamptz '$AT' + make_interval(secs => 300)
  FROM users u
 WHERE u.id = s.user_id
   AND s.user_id IN (SELECT user_id FROM user_settings
                      WHERE birthday_reminders AND next_run_at <= timestamptz '$AT'
                      ORDER BY next_run_at LIMIT 100 FOR UPDATE SKIP LOCKED)
RETURNING s.user_id;
SQL
)
read -r idle_queued idle_ms <<<"$(pass)"

# DUE users whose hour has come, each with a contact born on the day.
sql <<SQL >/dev/null
UPDATE user_settings SET next_run_at = timestamptz '$AT' - interval '30 minutes' WHERE user_id IN (SELECT id FROM users ORDER BY id LIMIT $DUE);
UPDATE contacts SET birthday = date '1990-06-15', birthday_md = 615
 WHERE id IN (SELECT min(id) FROM contacts WHERE user_id IN (SELECT id FROM users ORDER BY id LIMIT $DUE) GROUP BY user_id);
SQL
read -r due_queued due_ms <<<"$(pass)"
sql -c "UPDATE user_settings SET next_run_at = '-infinity' WHERE user_id IN (SELECT id FROM users ORDER BY id LIMIT $DUE)" >/dev/null
read -r again_queued again_ms <<<"$(pass)"
outbox=$(sql -c "SELECT count(*) FROM mail_outbox WHERE kind = 'birthday_reminder'")

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
{
    echo "# Birthday reminder passes at scale"
    echo
    echo "Written by \`bench/reminders.sh\` (part of \`just bench\`) on $(date -u +%Y-%m-%d), $cpu, $(nproc) cores;"
    echo "release build, \`contacts-api send-reminders --at $AT\` timed from start to exit (process start"
    echo "and connecting included). $USERS confirmed users and $contacts contacts, generated with SQL in ${loaded_s} s."
    echo
    echo "| pass | digests queued | time |"
    echo "|---|---:|---:|"
    echo "| nobody due (every user had the day's run) | $idle_queued | $idle_ms ms |"
    echo "| $DUE users due, each with a birthday today | $due_queued | $due_ms ms |"
    echo "| the same users due again the same local day | $again_queued | $again_ms ms |"
    echo
    echo "Birthday digests in the outbox afterwards: $outbox (one per user and local day)."
    echo
    echo "The claim statement when nobody is due: one range scan of the partial index"
    echo "\`user_settings_due_idx\` that finds no row, whatever the number of users and contacts."
    echo
    echo '```'
    echo "$claim_plan"
    echo '```'
} > "$OUT"
cat "$OUT"
[ "$idle_queued" = 0 ] && [ "$due_queued" = "$DUE" ] && [ "$again_queued" = 0 ] && [ "$outbox" = "$DUE" ] \
    || { echo "reminders bench: unexpected counts" >&2; exit 1; }
grep -q 'user_settings_due_idx' <<<"$claim_plan" || { echo "reminders bench: the claim does not use its index" >&2; exit 1; }
