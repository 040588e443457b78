# shellcheck shell=bash
# Sourced by bench/run.sh and fuzz/run.sh: a project-local Python virtual environment with pinned
# requirements, reinstalled only when the requirements file changes.

# python_venv VENV REQUIREMENTS: creates VENV if missing and installs REQUIREMENTS into it.
python_venv() {
    local venv=$1 requirements=$2 stamp="$1/.installed-requirements"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -c 'import ensurepip, venv' 2>/dev/null \
            || { echo "python3 -m venv needs Debian's python3-venv: apt-get install python3-venv" >&2; exit 1; }
        python3 -m venv "$venv"
    fi
    if ! cmp -s "$requirements" "$stamp"; then
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
        cp "$requirements" "$stamp"
    fi
}
