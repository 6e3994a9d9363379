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

# A real Open Inference Protocol (KServe V2) server for the kserve detector's tests: Seldon
# MLServer, in its own venv (its pins would downgrade protobuf and others under the code being
# tested). Made once per machine, reused; tests/servers/mlserver.py finds it.
MLSERVER_VERSION=1.7.1
MLSERVER_VENV="${CAMHUB_MLSERVER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/camhub/mlserver-$MLSERVER_VERSION}"
if [ ! -f "$MLSERVER_VENV/.complete" ]; then
  log "creating MLServer's venv $MLSERVER_VENV (once)"
  rm -rf "$MLSERVER_VENV"
  "$PYTHON" -m venv "$MLSERVER_VENV"
  "$MLSERVER_VENV/bin/pip" install --quiet --disable-pip-version-check \
    "mlserver==$MLSERVER_VERSION" "onnxruntime>=1.17" numpy
  touch "$MLSERVER_VENV/.complete"
fi
export CAMHUB_MLSERVER_PYTHON="$MLSERVER_VENV/bin/python"

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
