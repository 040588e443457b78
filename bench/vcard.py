#!/usr/bin/env python3
"""vCard and whole-book figures for `just bench` (called by bench/run.sh; standard library only).

Usage: vcard.py import BASE_URL TOKEN
       vcard.py export BASE_URL TOKEN SERVER_PID
       vcard.py birthdays BASE_URL TOKEN SERVER_PID

`import` sends a file of 10,000 cards (bench/cards.py: 3.0, with ORG, ADR and an X- property
each) through POST /api/contacts/import and reports cards a second (target: at least 2,000), then
imports 40,000 more in four files: the 50,000-contact book the rest of the benchmark uses.
`export` exports that book through GET /api/contacts/export.vcf while sampling the server's VmRSS
every 20 ms, and reports the peak growth over the RSS before the export (target: under 50 MB),
the bytes and the time.
`birthdays` reads the birthday list of a whole year (`?days=365`: every contact of that book)
the same way: the longest JSON answer a user can ask for.
Each prints one Markdown table row: `| workload | cards | cards/s | seconds | RSS growth |`.
"""

import json
import sys
import time
import urllib.request

from cards import cards
from rss import PeakRss


def post(base, token, body):
    request = urllib.request.Request(
        f"{base}/api/contacts/import",
        data=body.encode(),
        method="POST",
        headers={"authorization": f"Bearer {token}", "content-type": "text/vcard"},
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        outcome = json.load(response)
    if outcome["failed"] or outcome["created"] + outcome["updated"] != body.count("BEGIN:VCARD"):
        sys.exit(f"vcard.py: the import did not store every card: {outcome}")


def import_book(base, token):
    """The timed 10,000-card import, then the rest of the 50,000-contact book."""
    file = cards(0, 10_000)
    started = time.monotonic()
    post(base, token, file)
    seconds = time.monotonic() - started
    print(f"| import a 10,000-card file ({len(file) / 1e6:.1f} MB) | 10000 | {10_000 / seconds:.0f} | {seconds:.2f} | — |")
    for part in range(1, 5):
        post(base, token, cards(part * 10_000, (part + 1) * 10_000))


def export_book(base, token, pid):
    """The export of the whole book, with the server's RSS sampled meanwhile."""
    request = urllib.request.Request(f"{base}/api/contacts/export.vcf", headers={"authorization": f"Bearer {token}"})
    size = count = 0
    tail = b""  # the end of the previous chunk, shorter than the marker: no card counted twice
    with PeakRss(pid) as rss:
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=600) as response:
            while chunk := response.read(1 << 16):
                size += len(chunk)
                data = tail + chunk
                count += data.count(b"BEGIN:VCARD")
                tail = data[-10:]
        seconds = time.monotonic() - started
    print(f"| export a 50,000-contact book ({size / 1e6:.1f} MB) | {count} | {count / seconds:.0f} | {seconds:.2f} | {rss.growth()} |")


def year_of_birthdays(base, token, pid):
    """GET /api/contacts/birthdays?days=365 of the whole book, with the server's RSS sampled."""
    request = urllib.request.Request(
        f"{base}/api/contacts/birthdays?days=365", headers={"authorization": f"Bearer {token}"}
    )
    with PeakRss(pid) as rss:
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=600) as response:
            body = response.read()
        seconds = time.monotonic() - started
    count = len(json.loads(body))
    print(f"| birthdays of a year (`days=365`, {len(body) / 1e6:.1f} MB of JSON) | {count} | {count / seconds:.0f} | {seconds:.2f} | {rss.growth()} |")


if __name__ == "__main__":
    if sys.argv[1] == "import":
        import_book(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "export":
        export_book(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "birthdays":
        year_of_birthdays(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
