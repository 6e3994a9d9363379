#!/usr/bin/env bash
# Install camhub into ./.venv and start it (embedded default unless you pass --config).
# Usage: ./scripts/start.sh [camhub run options, e.g. --config config.yaml --data DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_python_venv
make_venv .venv
log "installing camhub into .venv"
.venv/bin/pip install --quiet --disable-pip-version-check .
exec .venv/bin/camhub run "$@"
