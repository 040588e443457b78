# contacts-api tasks. `just` lists them.

# Keep build artefacts outside the checkout when CARGO_TARGET_DIR is set (CI does).
coverage_gate := "85"

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

# Formatting and clippy, warnings as errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all
