#!/usr/bin/env python3
"""vCard figures for `just bench` (called by bench/run.sh; standard library only).

Usage: vcard.py BASE_URL TOKEN SERVER_PID

1. Imports a file of 10,000 cards (3.0, with ORG, ADR and an X- property each) through
   POST /api/contacts/import and reports cards a second (target: at least 2,000).
2. Imports 40,000 more (a book of 50,000), then exports it through GET /api/contacts/export.vcf
   while sampling the server's VmRSS every 20 ms, and reports the peak growth over the RSS before
   the export (target: under 50 MB), the bytes and the time.
Prints two Markdown table rows: `| workload | cards | cards/s | seconds | RSS growth |`.
"""

import sys
import threading
import time
import urllib.request


def card(i):
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"UID:bench-{i}\r\nN:Person {i};Bench;;;\r\nFN:Bench Person {i}\r\n"
        f"EMAIL;TYPE=INTERNET,HOME:bench{i}@example.org\r\nTEL;TYPE=CELL:+1 555 {i % 10000:04d}\r\n"
        "ORG:Example Inc.;Benchmarks\r\nADR;TYPE=WORK:;;1 Main St;Springfield;;12345;USA\r\n"
        f"BDAY:1980-{i % 12 + 1:02d}-{i % 28 + 1:02d}\r\nX-BENCH:{i}\r\nEND:VCARD\r\n"
    )


def post(base, token, body):
    request = urllib.request.Request(
        f"{base}/api/contacts/import",
        data=body.encode(),
        method="POST",
        headers={"authorization": f"Bearer {token}", "content-type": "text/vcard"},
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        return response.read()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    base, token, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    file = "".join(card(i) for i in range(10_000))
    started = time.monotonic()
    post(base, token, file)
    seconds = time.monotonic() - started
    print(f"| import a 10,000-card file ({len(file) / 1e6:.1f} MB) | 10000 | {10_000 / seconds:.0f} | {seconds:.2f} | — |")

    for part in range(1, 5):
        post(base, token, "".join(card(i) for i in range(part * 10_000, (part + 1) * 10_000)))

    before = rss_kib(pid)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    request = urllib.request.Request(f"{base}/api/contacts/export.vcf", headers={"authorization": f"Bearer {token}"})
    started = time.monotonic()
    size = cards = 0
    tail = b""  # the end of the previous chunk, shorter than the marker: no card counted twice
    with urllib.request.urlopen(request, timeout=600) as response:
        while chunk := response.read(1 << 16):
            size += len(chunk)
            data = tail + chunk
            cards += data.count(b"BEGIN:VCARD")
            tail = data[-10:]
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    growth = (peak[0] - before) / 1024
    print(
        f"| export a 50,000-contact book ({size / 1e6:.1f} MB) | {cards} | {cards / seconds:.0f} | {seconds:.2f} "
        f"| {growth:.1f} MiB ({before / 1024:.0f} → {peak[0] / 1024:.0f} MiB; memory the imports freed is reused) |"
    )


if __name__ == "__main__":
    main()
