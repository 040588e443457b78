#!/usr/bin/env bash
# Runs vdirsyncer's own CardDAV storage test suite (shipped in its PyPI sdist) against the
# protocol layer served over the in-memory backend (examples/memory_server.rs), or against
# DAV_URL when set (user ada, app password ada-app-password).
#
#   crates/carddav/clients/run.sh            # from the workspace root
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=crates/carddav/clients
cache=${CONTACTS_CACHE:-$HOME/.cache/contacts-api}
venv=$cache/vdirsyncer-venv
# shellcheck source=../../../scripts/python-venv.sh
source scripts/python-venv.sh
python_venv "$venv" "$here/requirements.txt"

sdist=$cache/vdirsyncer-sdist/vdirsyncer-0.21.0
if [ ! -d "$sdist/tests/storage/dav" ]; then
    mkdir -p "$cache/vdirsyncer-sdist"
    "$venv/bin/pip" download --quiet --no-binary :all: --no-deps -d "$cache/vdirsyncer-sdist" vdirsyncer==0.21.0
    tar xzf "$cache/vdirsyncer-sdist/vdirsyncer-0.21.0.tar.gz" -C "$cache/vdirsyncer-sdist"
fi
mkdir -p "$sdist/tests/storage/servers/contactsdav"
cp "$here/vdirsyncer_server.py" "$sdist/tests/storage/servers/contactsdav/__init__.py"

server_pid=
if [ -z "${DAV_URL:-}" ]; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cargo build --quiet -p contacts-carddav --features testing --example memory_server
    "${CARGO_TARGET_DIR:-target}/debug/examples/memory_server" "127.0.0.1:$port" >/dev/null &
    server_pid=$!
    trap 'kill "$server_pid"' EXIT
    export DAV_URL="http://127.0.0.1:$port/"
    for _ in $(seq 50); do
        curl -s -o /dev/null "$DAV_URL" && break
        sleep 0.1
    done
fi
cd "$sdist"
DAV_SERVER=contactsdav "$venv/bin/python" -m pytest -o addopts="" -q tests/storage/dav/test_carddav.py
