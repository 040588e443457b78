"""Answer times for one client alone: one request after another on one keep-alive connection,
as a phone or a script sees the server when nothing else runs. Part of `just bench`
(bench/run.sh); not a timed test.

`python bench/one_client.py BASE_URL TOKEN ROUNDS LABEL PATH [LABEL PATH ...]` asks each PATH
ROUNDS times (after three unmeasured requests) with the Bearer TOKEN and prints one Markdown row
per PATH: `| LABEL | bytes | median | p90 | slowest |`, times in milliseconds from sending the
request to the answer's last byte. An answer written in several pieces (a long page, a long
birthday list) shows here whether its last piece waits for the client's acknowledgement of the
one before (Nagle's algorithm against delayed ACKs: about 40 ms on Linux).
"""

import http.client
import statistics
import sys
import time
import urllib.parse


def answer_times(connection, path, token, rounds):
    """The answer's size and each measured round's time in ms."""
    times, size = [], 0
    for n in range(rounds + 3):
        started = time.perf_counter()
        connection.request("GET", path, headers={"authorization": f"Bearer {token}"})
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            sys.exit(f"one_client.py: {path} answered {response.status}")
        if n >= 3:
            times.append(elapsed)
        size = len(body)
    return size, times


def main():
    base, token, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pairs = sys.argv[4:]
    url = urllib.parse.urlparse(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    for label, path in zip(pairs[::2], pairs[1::2]):
        size, times = answer_times(connection, path, token, rounds)
        ordered = sorted(times)
        p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
        print(f"| {label} | {size / 1024:.1f} KiB | {statistics.median(times):.2f} | {p90:.2f} | {ordered[-1]:.2f} |")


if __name__ == "__main__":
    main()
