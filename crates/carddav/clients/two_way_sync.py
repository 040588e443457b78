"""A real client both ways: vdirsyncer syncs the server's default address book with a folder of
.vcf files, and REST (GET /api/contacts/) must agree with the folder after every round.

1. Contacts made through REST reach the folder.
2. A file edited, a file added and a file deleted in the folder reach REST.
3. A contact changed, one made and one deleted through REST reach the folder.
4. A sync with nothing changed on either side changes nothing.

Environment: DAV_URL (the server's base URL, ending in /), DAV_USER, DAV_PASSWORD (an app
password), REST_TOKEN (an access token of the same user); VDIRSYNCER (the binary), defaulting to
the one next to this Python. Run by real-server.sh; uses the standard library only.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import urllib.request

BASE = os.environ["DAV_URL"].rstrip("/")
USER = os.environ["DAV_USER"]
PASSWORD = os.environ["DAV_PASSWORD"]
TOKEN = os.environ["REST_TOKEN"]
VDIRSYNCER = os.environ.get("VDIRSYNCER", str(pathlib.Path(sys.executable).with_name("vdirsyncer")))


def rest(method: str, path: str, body: dict | None = None) -> object:
    """One REST call as the user; the decoded JSON answer (None for an empty one)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("authorization", f"Bearer {TOKEN}")
    if data is not None:
        request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


def contacts() -> dict[str, dict]:
    """Every contact of the user, by UID."""
    return {c["uid"]: c for c in rest("GET", "/api/contacts/?limit=1000")}


def new_contact(first: str, last: str, email: str) -> dict:
    body = {
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": "+1 (555) 010-2030",
        "birthday": "1990-05-17",
    }
    return rest("POST", "/api/contacts/", body)


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"two-way sync: {what}")


class Folder:
    """The vdirsyncer pair: the server's `contacts` book and `<tmp>/cards/contacts/*.vcf`."""

    def __init__(self, root: pathlib.Path) -> None:
        self.cards = root / "cards" / "contacts"
        self.config = root / "config"
        self.config.write_text(
            f"""[general]
status_path = "{root / 'status'}"

[pair contacts]
a = "local"
b = "server"
collections = ["contacts"]

[storage local]
type = "filesystem"
path = "{root / 'cards'}"
fileext = ".vcf"

[storage server]
type = "carddav"
url = "{BASE}/dav/"
username = "{USER}"
password = "{PASSWORD}"
"""
        )
        # The folder side does not exist yet: discover asks whether to make it.
        self.run("discover", answers="y\n" * 5)

    def run(self, command: str, answers: str = "") -> str:
        done = subprocess.run(
            [VDIRSYNCER, "-c", str(self.config), command],
            input=answers,
            capture_output=True,
            text=True,
            timeout=120,
        )
        output = done.stdout + done.stderr
        check(done.returncode == 0, f"vdirsyncer {command} failed:\n{output}")
        # vdirsyncer reports some failures (a card it could not upload, say) without failing.
        check("error:" not in output.lower(), f"vdirsyncer {command} reported an error:\n{output}")
        return output

    def sync(self) -> str:
        return self.run("sync")

    def files(self) -> dict[str, str]:
        """The text of every card in the folder, by its UID."""
        found = {}
        for path in self.cards.glob("*.vcf"):
            text = path.read_text()
            uids = [line[4:].strip() for line in text.splitlines() if line.upper().startswith("UID:")]
            check(len(uids) == 1, f"{path.name} has one UID: {text!r}")
            found[uids[0]] = text
        return found

    def path_of(self, uid: str) -> pathlib.Path:
        for path in self.cards.glob("*.vcf"):
            if f"UID:{uid}" in path.read_text():
                return path
        raise SystemExit(f"two-way sync: no file has UID {uid}")

    def write(self, path: pathlib.Path, text: str) -> None:
        """Replaces a file as an editor would (a new inode, so vdirsyncer sees the change)."""
        scratch = path.with_suffix(".tmp")
        scratch.write_text(text)
        os.replace(scratch, path)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="two-way-sync-") as tmp:
        # 1. REST → folder.
        ada = new_contact("Ada", "Lovelace", "ada@example.org")
        grace = new_contact("Grace", "Hopper", "grace@example.org")
        folder = Folder(pathlib.Path(tmp))
        folder.sync()
        files = folder.files()
        check(set(files) == {ada["uid"], grace["uid"]}, f"the folder holds the REST contacts: {sorted(files)}")
        check("ada@example.org" in files[ada["uid"]] and "Lovelace" in files[ada["uid"]], files[ada["uid"]])

        # 2. Folder → REST: an edit, a new card, a deletion.
        ada_path = folder.path_of(ada["uid"])
        edited = ada_path.read_text().replace("Ada", "Augusta").replace("ada@example.org", "augusta@example.org")
        check(edited != ada_path.read_text(), "the edit changes the card")
        folder.write(ada_path, edited)
        katherine = "two-way-katherine"
        folder.write(
            folder.cards / "katherine.vcf",
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:two-way-katherine\r\nFN:Katherine Johnson\r\n"
            "N:Johnson;Katherine;;;\r\nEMAIL;TYPE=INTERNET:katherine@example.org\r\n"
            "TEL;TYPE=CELL:+1 555 010 3040\r\nNOTE:added in the folder\r\nEND:VCARD\r\n",
        )
        folder.path_of(grace["uid"]).unlink()
        folder.sync()
        after = contacts()
        check(set(after) == {ada["uid"], katherine}, f"REST has the folder's cards: {sorted(after)}")
        check(after[ada["uid"]]["first_name"] == "Augusta", f"the edit arrived: {after[ada['uid']]}")
        check(after[ada["uid"]]["email"] == "augusta@example.org", f"the edit arrived: {after[ada['uid']]}")
        k = after[katherine]
        check(
            (k["first_name"], k["last_name"], k["email"], k["phone"], k["additional_info"])
            == ("Katherine", "Johnson", "katherine@example.org", "+1 555 010 3040", "added in the folder"),
            f"the new card arrived whole: {k}",
        )

        # 3. REST → folder again: a change, a new contact, a deletion.
        rest("PATCH", f"/api/contacts/{k['id']}", {"first_name": "Kathy"})
        mary = new_contact("Mary", "Jackson", "mary@example.org")
        rest("DELETE", f"/api/contacts/{after[ada['uid']]['id']}")
        folder.sync()
        files = folder.files()
        check(set(files) == {katherine, mary["uid"]}, f"the folder follows REST: {sorted(files)}")
        check("Kathy" in files[katherine], f"the REST change arrived: {files[katherine]}")
        check("NOTE:added in the folder" in files[katherine], f"the card kept its other lines: {files[katherine]}")
        check("mary@example.org" in files[mary["uid"]], files[mary["uid"]])

        # 4. Nothing changed: nothing moves.
        before = (contacts(), folder.files())
        folder.sync()
        check((contacts(), folder.files()) == before, "a sync without changes changes nothing")
    print("two-way sync with vdirsyncer: ok")


if __name__ == "__main__":
    main()
