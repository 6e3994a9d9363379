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
# Each test (fixtures included) is stopped after 300 s; the whole run after 30 minutes, so a
# hang ends as a failure with its stacks instead of running into CI's own limit.
tests_rc=0
timeout -k 30 1800 .venv/bin/python -m pytest -q -p no:cacheprovider --timeout 300 -n 2 "$@" ||
  tests_rc=$?

# Then the arm64 proof (scripts/arm64_check.sh, ~4 minutes): the wheel installed and run in
# a Debian 12 arm64 root (Raspberry Pi OS 64-bit) under qemu-user. It needs root; CI runs
# as root, so there (CI set, or root) it is required. A run of chosen tests skips it, and
# CAMHUB_ARM64=0 skips it by hand; it never runs after failing tests.
arm64=${CAMHUB_ARM64:-auto}
if [ "$arm64" = auto ]; then
  if [ $# -gt 0 ]; then
    arm64=0
  elif [ "$(id -u)" -eq 0 ] || [ -n "${CI:-}" ]; then
    arm64=1
  else
    arm64=0
    log "arm64 check skipped: it needs root (sudo ./scripts/test.sh, or scripts/arm64_check.sh)"
  fi
fi
arm64_rc=0
if [ "$tests_rc" -ne 0 ]; then
  arm64="not run (tests failed)"
elif [ "$arm64" = 1 ]; then
  [ "$(id -u)" -eq 0 ] || { log "arm64 check: FAIL: CI must run scripts/test.sh as root"; exit 1; }
  # A fresh root every time, removed afterwards: CI caches nothing.
  arm64_cache=$(mktemp -d /var/tmp/camhub-arm64.XXXXXX)
  ARM64_CACHE=$arm64_cache PYTHON=.venv/bin/python timeout -k 30 1200 ./scripts/arm64_check.sh ||
    arm64_rc=$?
  # Its numbers and logs (probe.json, camhub-run.log, pip.log, timings.txt) for CI to keep.
  rm -rf test-artifacts/arm64 && mkdir -p test-artifacts
  cp -r "$arm64_cache/arm64-work" test-artifacts/arm64 2>/dev/null || true
  rm -rf test-artifacts/arm64/src test-artifacts/arm64/dist "$arm64_cache"
  arm64=$([ "$arm64_rc" -eq 0 ] && echo passed || echo FAILED)
else
  arm64=skipped
fi
log "tests: $([ "$tests_rc" -eq 0 ] && echo passed || echo "FAILED (exit $tests_rc)"); arm64 check: $arm64"
[ "$tests_rc" -eq 0 ] || exit "$tests_rc"
exit "$arm64_rc"
