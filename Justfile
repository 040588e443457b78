# contacts-api tasks. `just` lists them.

# Keep build artefacts outside the checkout when CARGO_TARGET_DIR is set (CI does).
coverage_gate := "90"

default:
    @just --list

# Create .env from .env.example, with a fresh random JWT_SECRET, unless it exists.
env:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -f .env ]; then
        secret=$(head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        sed "s|^JWT_SECRET=.*|JWT_SECRET=${secret}|" .env.example > .env
        echo "created .env with a fresh JWT_SECRET"
    fi

# Run the server with .env (creates the database and migrates it first).
run: env
    cargo run -p contacts-api --bin contacts-api -- serve

# Apply the database migrations.
migrate: env
    cargo run -p contacts-api --bin contacts-api -- migrate

# Grant a role: just set-role ada@example.org admin
set-role email role: env
    cargo run -p contacts-api --bin contacts-api -- set-role {{email}} {{role}}

# Every test: unit, PostgreSQL adapter and black-box route tests (needs PostgreSQL on 127.0.0.1:5432).
test:
    cargo test --workspace

# Line coverage of the whole workspace, failing under the gate.
coverage:
    cargo llvm-cov --workspace --all-targets --ignore-filename-regex 'crates/test-support/' --fail-under-lines {{coverage_gate}}

# Formatting, clippy and rustdoc, warnings as errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --all-features -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# Format the code.
fmt:
    cargo fmt --all

# The docs site (guides, REST and Rust API reference) into docs/_build/html; warnings fail it.
docs: _venv-docs
    #!/usr/bin/env bash
    set -euo pipefail
    have_rustdocgen() { command -v sphinx-rustdocgen >/dev/null || [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/sphinx-rustdocgen" ]; }
    if ! cmp -s docs/requirements.txt .venv-docs/.docs-requirements || ! have_rustdocgen; then
        # sphinxcontrib-rust builds its sphinx-rustdocgen extractor with cargo while installing;
        # a wheel cached by pip would skip that, hence the second, uncached try.
        .venv-docs/bin/pip install --quiet --disable-pip-version-check -r docs/requirements.txt
        have_rustdocgen || .venv-docs/bin/pip install --quiet --disable-pip-version-check --no-cache-dir \
            --force-reinstall --no-deps "$(grep '^sphinxcontrib-rust==' docs/requirements.txt)"
        cp docs/requirements.txt .venv-docs/.docs-requirements
    fi
    mkdir -p docs/_generated
    cargo run -q -p contacts-http --example openapi > docs/_generated/openapi.json.tmp
    mv docs/_generated/openapi.json.tmp docs/_generated/openapi.json
    .venv-docs/bin/sphinx-build -E -W --keep-going -q -b html docs docs/_build/html
    echo "docs: $PWD/docs/_build/html/index.html"

# Validate docker-compose.yml, deploy/fly.toml and the Kubernetes manifests, offline.
deploy-check: _venv-docs
    #!/usr/bin/env bash
    set -euo pipefail
    if ! cmp -s deploy/requirements.txt .venv-docs/.deploy-requirements; then
        .venv-docs/bin/pip install --quiet --disable-pip-version-check -r deploy/requirements.txt
        cp deploy/requirements.txt .venv-docs/.deploy-requirements
    fi
    if ! command -v docker-compose >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
    fi
    .venv-docs/bin/python deploy/check.py
    .venv-docs/bin/hadolint Dockerfile

# The Python virtual environment of `docs` and `deploy-check`.
_venv-docs:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x .venv-docs/bin/python ]; then
        python3 -c 'import ensurepip, venv' 2>/dev/null \
            || { echo "python3 -m venv needs Debian's python3-venv: apt-get install python3-venv" >&2; exit 1; }
        python3 -m venv .venv-docs
    fi

# Real CardDAV clients against the real server (scratch database, debug build): vdirsyncer's two-way sync of a folder compared through REST, tsdav's ctag, sync-collection and gzip-compressed listings, then vdirsyncer's own CardDAV storage test suite.
carddav-clients:
    bash crates/carddav/clients/real-server.sh

# Fuzz every API operation with Schemathesis against a scratch server and database (FUZZ_MAX_EXAMPLES, default 100).
fuzz:
    bash fuzz/run.sh

# Load benchmark of the release build against PostgreSQL and Redis; writes bench/results/latest.md,
# then the reminder passes at scale (bench/results/reminders.md).
bench:
    bash bench/run.sh
    bash bench/reminders.sh

# Instructions a request (me, get one, list of 20) under valgrind's callgrind, by function: repeatable on a busy machine.
profile:
    bash bench/profile.sh

# Birthday reminder passes over 100,000 users and 5M contacts; writes bench/results/reminders.md.
bench-reminders:
    bash bench/reminders.sh
