#!/usr/bin/env python3
"""Query plans for `just bench`: the SQL the server really sent, explained (standard library + psql).

Usage:
  plans.py capture DATABASE_URL
      Prints the statement most of the server's idle connections to DATABASE_URL ran last, among
      those that read `contacts`. Called right after a load of one kind of request, it is that
      request's SQL, with its `$n` parameters, exactly as the adapter built it.
  plans.py explain DATABASE_URL SQL_FILE NAME=VALUE...
      Prepares the statement in SQL_FILE, executes it five times (so PostgreSQL picks a custom or
      a generic plan as it does on the server's long-lived connections), then prints
      `EXPLAIN (ANALYZE, BUFFERS)` of a sixth execution. Each `$n` gets its value from what the
      SQL compares it with: `owner` (`user_id = $n`), `limit`, `skip` (`OFFSET`), `pattern`
      (`LIKE (SELECT lower($n))`), `codes` (`birthday_md = ANY($n)`, comma-separated), the
      arguments of `contact_page_ids` and `contact_page_marks_stale` (owner, skip, limit), and 1
      for the `LIMIT` diesel binds in a scalar subquery (also behind `(SELECT $n)`, as the
      whole-book page, the search and a birthday list's first read hide them from the planner),
      and 500 for that first read's longest list read whole, `ids` (`"id" = ANY($n)`, a kept
      search's page, comma-separated), `first` and `last` (`ids[(SELECT $n) : (SELECT $m)]`, the
      1-based positions of a first search's page in its matches); any other `$n` is an error.
      Each is prepared with the type the adapter binds it as.
  plans.py sql SQL_FILE NAME=VALUE...
      Prints the statement with those values written in, one line ending in `;`: a pgbench
      script of the statement alone, planned once by `pgbench -M prepared`.
  plans.py pgbench SQL_FILE NAME=VALUE...
      Prints a pgbench script of the statement with its parameters kept (`\set` variables, so
      `pgbench -M prepared` sends them as the server does and PostgreSQL plans as for the server;
      integer values only).
"""

import collections
import re
import subprocess
import sys


def psql(url, sql):
    result = subprocess.run(
        ["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
        input=sql,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(f"plans.py: psql failed: {result.stderr}")
    return result.stdout


def capture(url):
    rows = psql(
        url,
        "SELECT replace(replace(query, chr(10), ' '), chr(13), ' ') FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle' "
        "AND query ILIKE '%\"contacts\"%';",
    ).splitlines()
    if not rows:
        sys.exit("plans.py: no idle connection of the server has read contacts")
    query, _ = collections.Counter(rows).most_common(1)[0]
    print(query)


# The first rule that matches the SQL before a `$n` names it.
RULES = [
    # diesel's `single_value()` (the stored count's subquery) binds its `LIMIT 1`.
    ("one", re.compile(r'"contact_counts"\."user_id"\s*=\s*\$\d+\)\s*LIMIT\s*$', re.I)),
    # The same for the deep page's `(SELECT contact_page_marks_stale($n) LIMIT $m)`.
    ("one", re.compile(r'contact_page_marks_stale\(\s*\$\d+\s*\)\s*LIMIT\s*$', re.I)),
    # A deep page's ids come from `contact_page_ids(owner, skip, lim)`, and it reads whether
    # the marks are stale with `contact_page_marks_stale(owner)`.
    ("owner", re.compile(r'(contact_page_ids|contact_page_marks_stale)\(\s*$', re.I)),
    ("skip", re.compile(r'contact_page_ids\(\s*\$\d+\s*,\s*$', re.I)),
    ("limit", re.compile(r'contact_page_ids\(\s*\$\d+\s*,\s*\$\d+\s*,\s*$', re.I)),
    ("owner", re.compile(r'"user_id"\s*=\s*$')),
    ("limit", re.compile(r"LIMIT\s*$", re.I)),
    ("skip", re.compile(r"OFFSET\s*$", re.I)),
    # The whole-book page hides its values from the planner as `(SELECT $n)`.
    ("owner", re.compile(r'"?user_id"?\s*=\s*\(SELECT\s*$', re.I)),
    ("limit", re.compile(r"LIMIT\s*\(SELECT\s*$", re.I)),
    ("skip", re.compile(r"OFFSET\s*\(SELECT\s*$", re.I)),
    # A search's patterns, lowered by PostgreSQL once a statement.
    ("pattern", re.compile(r"LIKE\s*\(SELECT\s+lower\(\s*$", re.I)),
    ("codes", re.compile(r'"birthday_md"\s*=\s*ANY\s*\(\s*$', re.I)),
    # The first read of a birthday list hides its values too: the codes, and the longest list
    # it reads whole.
    ("codes", re.compile(r'"birthday_md"\s*=\s*ANY\s*\(\s*\(SELECT\s*$', re.I)),
    ("most", re.compile(r'"total"\s*(>|<=)\s*\(SELECT\s*$', re.I)),
    # A chunk of a long one: its contacts after an id (0 for none).
    ("after", re.compile(r'"id"\s*>\s*\(SELECT\s*$', re.I)),
    # A first search's page: the 1-based positions of its first and last match in the array of
    # every match (the first also picks the row that carries the array).
    ("last", re.compile(r'ids"?\[\(SELECT\s*\$\d+\s*\)\s*:\s*\(SELECT\s*$', re.I)),
    ("first", re.compile(r'ids"?\[\(SELECT\s*$', re.I)),
    # A kept search's page: its rows by id.
    ("ids", re.compile(r'"id"\s*=\s*ANY\s*\(\s*$', re.I)),
]


# The SQL type the adapter binds each kind of parameter as. PostgreSQL must be told: a `$n` in
# `(SELECT $n)` would otherwise be taken as text.
TYPES = {"pattern": "text", "codes": "smallint[]", "ids": "bigint[]", "first": "integer", "last": "integer"}


def sql_type(kind):
    return TYPES.get(kind, "bigint")


def literal(kind, value):
    if kind == "pattern":
        return "'" + value.replace("'", "''") + "'"
    if kind in ("codes", "ids"):
        return "'{" + value + "}'"
    return str(int(value))


def bind(sql_file, assignments):
    """The statement of `sql_file`, its parameters as SQL literals and their types, by number."""
    # `most`: BIRTHDAY_CHUNK, the longest birthday list read in one statement.
    values = {"one": "1", "most": "500", **dict(a.split("=", 1) for a in assignments)}
    sql = open(sql_file).read().strip().rstrip(";")
    args, types = {}, {}
    for match in re.finditer(r"\$(\d+)", sql):
        before = sql[: match.start()]
        kind = next((kind for kind, rule in RULES if rule.search(before)), None)
        if kind is None or kind not in values:
            sys.exit(f"plans.py: cannot tell what ${match.group(1)} is in: {before[-80:]}")
        args[int(match.group(1))] = literal(kind, values[kind])
        types[int(match.group(1))] = sql_type(kind)
    if sorted(args) != list(range(1, len(args) + 1)):
        sys.exit(f"plans.py: parameters are not $1..$n: {sorted(args)}")
    return sql, args, types


def written_in(sql_file, assignments):
    sql, args, types = bind(sql_file, assignments)
    print(re.sub(r"\$(\d+)", lambda m: f"{args[int(m.group(1))]}::{types[int(m.group(1))]}", sql) + ";")


def with_parameters(sql_file, assignments):
    sql, args, types = bind(sql_file, assignments)
    if not all(re.fullmatch(r"-?\d+", v) for v in args.values()):
        sys.exit("plans.py: pgbench variables hold integers only")
    for n in sorted(args):
        print(f"\\set p{n} {args[n]}")
    # pgbench sends its variables untyped; the cast gives each the type the adapter binds.
    print(re.sub(r"\$(\d+)", lambda m: f":p{m.group(1)}::{types[int(m.group(1))]}", sql) + ";")


def explain(url, sql_file, assignments):
    sql, args, types = bind(sql_file, assignments)
    execute = f"EXECUTE bench_plan({', '.join(args[n] for n in sorted(args))})"
    # Five executions with their rows thrown away, then the one explained.
    script = f"PREPARE bench_plan({', '.join(types[n] for n in sorted(types))}) AS {sql};\n" + f"\\o /dev/null\n{execute};\n" * 5 + "\\o\n"
    script += f"EXPLAIN (ANALYZE, BUFFERS) {execute};\n"
    # The search's field separator (U+001F) shown as the SQL writes it, not as an invisible byte.
    print(psql(url, script).rstrip().replace("\x1f", "\\x1f"))


if __name__ == "__main__":
    if sys.argv[1] == "capture":
        capture(sys.argv[2])
    elif sys.argv[1] == "explain":
        explain(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif sys.argv[1] == "sql":
        written_in(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "pgbench":
        with_parameters(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
