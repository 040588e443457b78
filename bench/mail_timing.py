"""Whether request_password_reset and request_email tell known addresses from unknown ones by
their answer time (issue 11, point 7). Part of `just bench` (bench/run.sh); not a timed test.

`python bench/mail_timing.py BASE_URL KNOWN_EMAIL [ROUNDS]` sends ROUNDS requests (default 400)
to each route for the known address and as many for fresh unknown ones, interleaved in random
order on one keep-alive connection, and prints one line per route:

    ROUTE known_p50_us=... unknown_p50_us=... known_p90_us=... unknown_p90_us=... accuracy=...

`accuracy` is how often the best single threshold on the answer time guesses right whether an
address is known (50% is a coin toss; the issue measured 98% before the outbox).
The server must run with the flood guard out of the way (MAIL_COOLDOWN_SECONDS=0 and a large
MAIL_DAILY_LIMIT), or the known address's requests stop writing after the first.
"""

import http.client
import json
import random
import sys
import time
import urllib.parse
import uuid


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def best_accuracy(known, unknown):
    """The share of correct guesses of the best rule "slower than T means known" (or faster)."""
    samples = sorted([(t, 1) for t in known] + [(t, 0) for t in unknown])
    total, known_total = len(samples), len(known)
    best = max(known_total, total - known_total)
    known_below = 0
    for index, (_, is_known) in enumerate(samples, start=1):
        known_below += is_known
        unknown_below = index - known_below
        # Guess "unknown" below the threshold and "known" above it, or the other way round.
        right = unknown_below + (known_total - known_below)
        best = max(best, right, total - right)
    return best / total


def measure(base, route, known_email, rounds):
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
    plan = [True] * rounds + [False] * rounds
    random.shuffle(plan)
    times = {True: [], False: []}
    for warm in range(20):  # warm the connection and the server's pools
        plan.insert(0, None)
    for is_known in plan:
        email = known_email if is_known else f"nobody-{uuid.uuid4().hex[:12]}@example.org"
        body = json.dumps({"email": email})
        start = time.perf_counter_ns()
        conn.request("POST", route, body=body, headers={"content-type": "application/json"})
        response = conn.getresponse()
        response.read()
        elapsed = (time.perf_counter_ns() - start) // 1000
        if response.status != 200:
            raise SystemExit(f"{route} answered {response.status}")
        if is_known is not None:
            times[is_known].append(elapsed)
    conn.close()
    return times


def main():
    base, known_email = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    for route in ("/api/auth/request_password_reset", "/api/auth/request_email"):
        times = measure(base, route, known_email, rounds)
        known, unknown = times[True], times[False]
        print(
            f"{route} known_p50_us={percentile(known, 0.5)} unknown_p50_us={percentile(unknown, 0.5)} "
            f"known_p90_us={percentile(known, 0.9)} unknown_p90_us={percentile(unknown, 0.9)} "
            f"accuracy={best_accuracy(known, unknown) * 100:.0f}%"
        )


if __name__ == "__main__":
    main()
