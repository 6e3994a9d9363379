# Shared helpers for scripts/start.sh and scripts/test.sh (sourced, not run).

log() { printf '==> %s\n' "$*" >&2; }

PYTHON=${PYTHON:-python3}

# Debian packages are installed only when missing, and only as root (CI, a fresh Pi).
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    return 1
  fi
  log "installing Debian packages: ${missing[*]}"
  if [ -z "${CAMHUB_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export CAMHUB_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_python_venv() {
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' 2>/dev/null || {
    log "camhub needs Python 3.11 or newer as $PYTHON"; exit 1; }
  # Debian splits venv and ensurepip out of python3.
  if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    apt_install python3-venv
  fi
}

make_venv() {
  local dir=$1
  if [ ! -x "$dir/bin/python" ]; then
    log "creating virtualenv $dir"
    "$PYTHON" -m venv "$dir"
  fi
}

# Node.js and npm run the panel's JavaScript checks (tsc, Prettier); nothing of it ships.
ensure_node() {
  if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
}
