#!/usr/bin/env bash
# Install everything the tests need (Debian packages too, when root), then run
# the linters, the type checker and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_python_venv
# Debian packages the test suite uses (real servers, real browser), one per line.
mapfile -t DEBIAN_PACKAGES < <(grep -v '^\s*#' scripts/test-packages.txt | sed '/^\s*$/d')
if [ ${#DEBIAN_PACKAGES[@]} -gt 0 ]; then
  apt_install "${DEBIAN_PACKAGES[@]}"
fi

make_venv .venv
log "installing camhub with its test and dev extras"
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[dev]"

log "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
log "mypy"
.venv/bin/mypy
# The panel has no build step; its JavaScript is still checked: JSDoc types with tsc and
# formatting with Prettier (both pinned in web/package-lock.json, from the npm registry).
ensure_node
log "panel JavaScript: tsc --noEmit, prettier --check"
npm ci --prefix web --no-audit --no-fund --loglevel=error
(cd web && npx --no-install tsc -p tsconfig.json && npx --no-install prettier --check --log-level warn "static/**/*.{js,css,html}")
log "pytest"
# Two workers (CI has 2 cores); a module stays on one worker (see tests/conftest.py).
exec .venv/bin/python -m pytest -q -p no:cacheprovider --timeout 300 -n 2 "$@"
