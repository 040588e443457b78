#!/usr/bin/env python3
"""CardDAV set-up and one-shot figures for `just bench` (called by bench/run.sh; standard library only).

Usage:
  dav.py app-password BASE TOKEN
      Makes an app password through REST (POST /api/users/me/app-passwords) and prints it.
  dav.py change BASE LOGIN APP_PASSWORD TOKEN
      In LOGIN's default book: reads the sync token (PROPFIND depth 0), then edits one card the
      way a phone does (GET it, PUT it back with a NOTE added and `If-Match`), checks that a
      sync-collection from the token lists exactly that card, and prints the token and the
      card's path, tab-separated: the state the `dav-sync` load repeats (one change to fetch).
  dav.py listing BASE LOGIN APP_PASSWORD SERVER_PID propfind|sync [gzip]
      PROPFIND depth 1 of LOGIN's default book, or an initial sync-collection (no token) of it,
      with the server's VmRSS sampled every 20 ms; prints one Markdown row:
      `| workload | responses | responses/s | seconds | peak RSS growth |`
      (issue 13: streamed, RSS growth under 50 MB). With `gzip`, asked with
      `Accept-Encoding: gzip` as phones ask, inflated as it arrives; the row names the bytes
      sent.
"""

import base64
import json
import re
import sys
import time
import urllib.error
import urllib.request
import zlib

from rss import PeakRss

SYNC = (
    '<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:">'
    "<d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>"
    "<d:prop><d:getetag/></d:prop></d:sync-collection>"
)
PROPFIND_ETAGS = (
    '<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:">'
    "<d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>"
)
PROPFIND_TOKEN = (
    '<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:">'
    "<d:prop><d:sync-token/></d:prop></d:propfind>"
)


def book_path(login):
    return f"/dav/addressbooks/{login}/contacts/"


class Dav:
    """Requests signed in with HTTP Basic and an app password."""

    def __init__(self, base, login, password):
        self.base = base
        self.auth = "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()

    def open(self, method, path, body=None, headers=None):
        request = urllib.request.Request(
            self.base + path,
            data=body.encode() if isinstance(body, str) else body,
            method=method,
            headers={"authorization": self.auth, **(headers or {})},
        )
        return urllib.request.urlopen(request, timeout=600)

    def call(self, method, path, body=None, headers=None):
        with self.open(method, path, body, headers) as response:
            return response.status, response.headers, response.read().decode()


def sync_token(body):
    # Whatever prefix the server gives DAV: (it answers with `D:`).
    return re.search(r"<(?:[\w.-]+:)?sync-token>([^<]*)</(?:[\w.-]+:)?sync-token>", body).group(1)


def app_password(base, token):
    request = urllib.request.Request(
        f"{base}/api/users/me/app-passwords",
        data=json.dumps({"name": "bench"}).encode(),
        method="POST",
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        print(json.load(response)["password"])


def change(base, login, password, token):
    dav = Dav(base, login, password)
    book = book_path(login)
    status, _, body = dav.call("PROPFIND", book, PROPFIND_TOKEN, {"depth": "0", "content-type": "application/xml"})
    assert status == 207, status
    before = sync_token(body)

    request = urllib.request.Request(f"{base}/api/contacts/?limit=1", headers={"authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        uid = json.load(response)[0]["uid"]
    card = f"{book}{uid}.vcf"
    status, headers, text = dav.call("GET", card)
    assert status == 200, status
    edited = text.replace("END:VCARD", "NOTE:edited by bench/dav.py\r\nEND:VCARD")
    status, _, _ = dav.call("PUT", card, edited, {"content-type": "text/vcard", "if-match": headers["etag"]})
    assert status == 204, status

    status, _, body = dav.call("REPORT", book, SYNC.format(token=before), {"depth": "0", "content-type": "application/xml"})
    hrefs = re.findall(r"<(?:[\w.-]+:)?href>([^<]*)</(?:[\w.-]+:)?href>", body)
    if status != 207 or hrefs != [card]:
        sys.exit(f"dav.py: a sync from {before} should list {card} alone, it answered {status}: {body[:2000]}")
    print(f"{before}\t{card}")


def timed(dav, pid, method, path, body, headers):
    """Responses, bytes (as read, and as sent), seconds and the RSS sampler of one streamed
    multistatus; a gzip-compressed one is inflated as it arrives."""
    size = sent = count = 0
    tail = b""  # shorter than the marker: no response counted twice across reads
    with PeakRss(pid) as rss:
        started = time.monotonic()
        with dav.open(method, path, body, headers) as response:
            assert response.status == 207, response.status
            gzipped = response.headers.get("content-encoding") == "gzip"
            assert gzipped == ("gzip" in headers.get("accept-encoding", "")), response.headers
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while chunk := response.read(1 << 16):
                sent += len(chunk)
                if gzipped:
                    chunk = inflate.decompress(chunk)
                size += len(chunk)
                data = tail + chunk
                count += data.count(b"<D:response>")
                tail = data[-11:]
            assert not gzipped or inflate.eof, "a whole gzip member"
        seconds = time.monotonic() - started
    return count, size, sent, seconds, rss


def listing(base, login, password, pid, kind, gzip=False):
    dav = Dav(base, login, password)
    book = book_path(login)
    xml = {"content-type": "application/xml"}
    runs = {
        "propfind": ("PROPFIND depth 1 (getetag, getcontenttype)", "PROPFIND", PROPFIND_ETAGS, {"depth": "1", **xml}),
        "sync": ("sync-collection without a token (initial sync, getetag)", "REPORT", SYNC.format(token=""), {"depth": "0", **xml}),
    }
    label, method, body, headers = runs[kind]
    if gzip:
        headers["accept-encoding"] = "gzip"
    count, size, sent, seconds, rss = timed(dav, pid, method, book, body, headers)
    how = f"{size / 1e6:.1f} MB" + (f", sent as {sent / 1e6:.2f} MB of gzip to a client that takes it" if gzip else "")
    print(f"| {label} of the 50,000-card book ({how}) | {count} | {count / seconds:.0f} | {seconds:.2f} | {rss.growth()} |")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    try:
        if command == "app-password":
            app_password(*args)
        elif command == "change":
            change(*args)
        elif command == "listing":
            listing(args[0], args[1], args[2], int(args[3]), args[4], args[5:] == ["gzip"])
        else:
            sys.exit(f"unknown command {command}")
    except urllib.error.HTTPError as e:
        sys.exit(f"dav.py {command}: {e.code} {e.reason} {e.read()[:2000]!r}")
