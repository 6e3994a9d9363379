#!/usr/bin/env bash
# Prove that camhub installs and runs on arm64 (Raspberry Pi OS 64-bit = Debian 12 arm64),
# under qemu-user on an x86_64 Debian 12 host. Run from the repo root, as root:
#
#   scripts/arm64_check.sh [path/to/camhub-*.whl]     (no wheel: one is built from the tree)
#
# Steps: host tools (qemu-user-static, binfmt-support, debootstrap) and the binfmt handler;
# a minimal bookworm arm64 root in .cache/arm64-root (kept and reused: delete it, or set
# ARM64_REBUILD_ROOT=1, to start over); the aarch64 wheels of camhub's dependencies and
# onnxruntime (binary only: a dependency without an aarch64 wheel fails here); a fresh venv
# in the root with the root's own Python and pip; then scripts/arm64_probe.py inside the root
# (wheel tags, check-config, ONNX Runtime inference, the bundled detector on two real photos,
# `camhub run` for ARM64_SECONDS with /api/health polled, MP4 segments, stop on SIGTERM).
# Exits non-zero with an `arm64 check:` message on the first failure. scripts/test.sh runs it
# after the suite, in a fresh cache dir that it deletes afterwards.
#
# Environment:
#   ARM64_SECONDS=60       how long the hub runs once healthy
#   ARM64_MIRROR=URL       Debian mirror (default: the host's, from /etc/apt/sources.list*)
#   ARM64_FULL_ROOT=1      configure the root with debootstrap's second stage (every
#                          maintainer script under emulation: 3.5-8 min instead of ~5 s)
#   ARM64_PIP_ONLINE=1     let pip inside the root resolve from the index itself, with the
#                          host's pip config, CA bundle and resolv.conf (as a Pi would; the
#                          default resolves on the host and installs offline: ~7x faster)
#   ARM64_PICTURES=DIR     where astronaut.png and chelsea.png are (default: scikit-image's
#                          data folder, from .venv or $PYTHON)
#   ARM64_MEMORY=1         also run bench/memory.py in the root (demo cameras): RSS of the
#                          hub alone and per camera under emulation (adds ~3 minutes)
#   ARM64_REBUILD_ROOT=1   rebuild the root even if one is there
#   ARM64_CACHE=DIR        instead of .cache (root in DIR/arm64-root, logs in DIR/arm64-work)
set -euo pipefail
cd "$(dirname "$0")/.."

# The host's Python with pip: the project's venv when there is one (Debian's python3 may
# have no pip).
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
SUITE=bookworm
CACHE=${ARM64_CACHE:-.cache}
ROOT=$CACHE/arm64-root
WORK=$CACHE/arm64-work
VENV=/opt/camhub-venv             # inside the root
CHECK=/opt/camhub-check           # inside the root: probe, example config, results
SECONDS_RUN=${ARM64_SECONDS:-60}
STAMP=$ROOT/.camhub-arm64-root
T0=$(date +%s.%N)
TIMINGS=()

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'arm64 check: FAIL: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
# timed NAME START: record the seconds since START under NAME.
timed() { TIMINGS+=("$(awk -v n="$1" -v a="$(now)" -v b="$2" 'BEGIN { printf "%-22s %6.1f s", n, a - b }')"); }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and mount namespaces need it)"
[ "$(uname -m)" = x86_64 ] || log "host is $(uname -m), not x86_64: untested"
log "arm64 check on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$WORK"
ignored=0
git check-ignore -q "$ROOT" 2>/dev/null || ignored=$?  # 1: not ignored; 128: not in a repo
if [ "$ignored" -eq 1 ]; then log "warning: $CACHE/ is not git-ignored: add '.cache/' to .gitignore"; fi

# --- host tools and binfmt ------------------------------------------------------------------
t=$(now)
missing=()
for pkg in qemu-user-static binfmt-support debootstrap; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi
BINFMT=/proc/sys/fs/binfmt_misc
mountpoint -q $BINFMT || mount -t binfmt_misc binfmt_misc $BINFMT ||
  die "cannot mount $BINFMT (a container without the binfmt_misc filesystem?)"
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
grep -qx enabled $BINFMT/qemu-aarch64 2>/dev/null || die "the qemu-aarch64 binfmt handler is not enabled"
QEMU_INTERP=$(sed -n 's/^interpreter //p' $BINFMT/qemu-aarch64)
# Without the F flag the kernel looks for the interpreter inside the chroot.
grep -q '^flags:.*F' $BINFMT/qemu-aarch64 || NEED_QEMU_IN_ROOT=1
log "binfmt: qemu-aarch64 enabled ($(sed -n 's/^flags: //p' $BINFMT/qemu-aarch64)), $(qemu-aarch64-static --version | head -1)"
timed "host tools + binfmt" "$t"

# --- the arm64 root ------------------------------------------------------------------------
host_mirror() {
  local url
  url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -E '^\s*(deb\s|URIs:)' | grep -oE 'https?://[^ ]+' | sed 's:/*$::' | grep -E '/debian$' | head -1 || true)
  echo "${url:-http://deb.debian.org/debian}"
}

build_root() {
  local new=$ROOT.new mirror=${ARM64_MIRROR:-$(host_mirror)}
  rm -rf "$new"
  log "debootstrap stage 1: $SUITE arm64 minbase + python3-venv from $mirror"
  debootstrap --foreign --arch=arm64 --variant=minbase --include=python3-venv \
    "$SUITE" "$new" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log: $WORK/debootstrap.log)"; }
  # debootstrap leaves proc as a symlink to /proc when it thinks it runs in a container.
  if [ -L "$new/proc" ]; then rm "$new/proc" && mkdir "$new/proc"; fi
  if [ -n "${NEED_QEMU_IN_ROOT:-}" ]; then
    install -D /usr/bin/qemu-aarch64-static "$new$QEMU_INTERP"
  fi
  if [ -n "${ARM64_FULL_ROOT:-}" ]; then
    log "debootstrap stage 2 under emulation (ARM64_FULL_ROOT)"
    unshare -m chroot "$new" /debootstrap/debootstrap --second-stage >>"$WORK/debootstrap.log" 2>&1 ||
      { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap --second-stage failed"; }
  else
    # Stage 1 unpacked the required packages; unpack the rest natively instead of running
    # every maintainer script under emulation. Enough for Python and pip: the files are
    # Debian's; not done are dpkg's database, alternatives, and the stdlib's .pyc files.
    log "unpacking $(wc -w <"$new/debootstrap/base") more packages natively (no maintainer scripts)"
    local pkg deb
    for pkg in $(<"$new/debootstrap/base"); do
      deb=$(awk -v p="$pkg" '$1 == p { print $2 }' "$new/debootstrap/debpaths")
      # --keep-directory-symlink: the merged /usr (lib -> usr/lib) must stay merged.
      dpkg-deb --fsys-tarfile "$new$deb" | tar -x --keep-directory-symlink -C "$new" ||
        die "cannot unpack $pkg"
    done
    cp "$new/usr/share/base-passwd/passwd.master" "$new/etc/passwd"
    cp "$new/usr/share/base-passwd/group.master" "$new/etc/group"
    chroot "$new" /sbin/ldconfig || die "ldconfig in the root failed: is qemu-aarch64 working?"
    rm -f "$new"/var/cache/apt/archives/*.deb
  fi
  # No device nodes in a cache dir that tools may walk: /dev is bound in when the root is used.
  find "$new/dev" -mindepth 1 -delete
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$new/etc/hosts"
  echo "$SUITE arm64 $([ -n "${ARM64_FULL_ROOT:-}" ] && echo full || echo unpacked) $mirror $(date -u +%FT%TZ)" >"$new/.camhub-arm64-root"
  mv "$new" "$ROOT"
}

t=$(now)
if [ -n "${ARM64_REBUILD_ROOT:-}" ] && [ -e "$ROOT" ]; then
  log "removing $ROOT (ARM64_REBUILD_ROOT)"
  rm -rf "$ROOT"
fi
if [ -f "$STAMP" ]; then
  log "reusing $ROOT ($(cat "$STAMP"))"
else
  rm -rf "$ROOT"
  build_root
fi
read -r ARCH GLIBC PYVER < <(chroot "$ROOT" /usr/bin/python3 -c \
  'import platform, sys; print(platform.machine(), platform.libc_ver()[1], "%d.%d" % sys.version_info[:2])') ||
  die "python3 does not run in $ROOT"
[ "$ARCH" = aarch64 ] || die "python3 in $ROOT reports machine $ARCH, not aarch64"
log "root: Python $PYVER, glibc $GLIBC, $ARCH ($(du -sh "$ROOT" | cut -f1))"
timed "root" "$t"

# --- camhub wheel ---------------------------------------------------------------------------
t=$(now)
if [ $# -ge 1 ]; then
  WHEEL=$1
  if [ ! -f "$WHEEL" ] || [[ $WHEEL != *.whl ]]; then die "not a wheel: $WHEEL"; fi
else
  log "building the camhub wheel"
  src=$WORK/src
  rm -rf "$src" "$WORK/dist" && mkdir -p "$src"
  if git rev-parse --git-dir >/dev/null 2>&1; then
    # A copy of the tracked and unignored files: no stale build/ tree, none of .cache/.
    git ls-files -co --exclude-standard -z | grep -zv '^\.cache/' |
      tar --null -T - --ignore-failed-read -c 2>/dev/null | tar -x -C "$src"
  else
    tar -c --exclude=./.cache --exclude=./.venv --exclude=./build . | tar -x -C "$src"
  fi
  "$PYTHON" -m pip wheel --no-deps -q -w "$WORK/dist" "$src" >"$WORK/wheel.log" 2>&1 ||
    { tail -20 "$WORK/wheel.log" >&2; die "building the camhub wheel failed"; }
  WHEEL=$(ls "$WORK"/dist/camhub-*.whl)
fi
log "wheel: $WHEEL"
timed "camhub wheel" "$t"

# --- dependencies ---------------------------------------------------------------------------
WHEELS_IN=/tmp/camhub-wheels
rm -rf "$ROOT$WHEELS_IN" && mkdir -p "$ROOT$WHEELS_IN" "$ROOT$CHECK"
cp "$WHEEL" "$ROOT$WHEELS_IN/"
WHEEL_IN=$WHEELS_IN/$(basename "$WHEEL")
NS_SETUP=()  # extra shell lines run in the probe's and pip's mount namespace

pip_env=(HOME=/root LANG=C.UTF-8 "PATH=$VENV/bin:/usr/bin:/bin" PIP_DISABLE_PIP_VERSION_CHECK=1)
if [ -z "${ARM64_PIP_ONLINE:-}" ]; then
  # Resolve and download on the host (native speed) for the root's Python and glibc; pip in
  # the root then re-resolves offline with its own markers: anything missing still fails.
  t=$(now)
  # Most specific first, as pip orders a Pi's own tags (it prefers the earlier ones).
  platforms=()
  for ((minor = ${GLIBC#*.}; minor >= 17; minor--)); do
    platforms+=(--platform "manylinux_2_${minor}_aarch64")
  done
  platforms+=(--platform manylinux2014_aarch64)
  log "downloading aarch64 wheels for CPython $PYVER, glibc $GLIBC (binary only)"
  "$PYTHON" -m pip download --disable-pip-version-check -q --progress-bar off \
    -d "$ROOT$WHEELS_IN" --only-binary=:all: "${platforms[@]}" --implementation cp \
    --python-version "$PYVER" --abi "cp${PYVER/./}" "$WHEEL" onnxruntime >"$WORK/download.log" 2>&1 || {
    grep -v '^WARNING: Location' "$WORK/download.log" | tail -20 >&2
    die "no aarch64 wheel for a dependency of camhub (or onnxruntime): see pip's error above"
  }
  arm=("$ROOT$WHEELS_IN"/*aarch64*.whl) pure=("$ROOT$WHEELS_IN"/*-none-any.whl)
  log "${#arm[@]} aarch64 and ${#pure[@]} pure-Python wheels"
  timed "download (host)" "$t"
  pip_env+=(PIP_CONFIG_FILE=/dev/null)
  pip_args=(--no-index --find-links "$WHEELS_IN")
else
  # As on a Pi: pip in the root asks the index, with the host's pip config, CA bundle and DNS.
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  cert=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
  install -D -m 644 "$cert" "$ROOT/etc/ssl/certs/ca-certificates.crt"
  pip_env+=(PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
  for f in /etc/pip.conf /etc/xdg/pip "$HOME/.config/pip" "$HOME/.pip" ${PIP_CONFIG_FILE:+"$PIP_CONFIG_FILE"}; do
    [ -e "$f" ] || continue
    dest=${f/#"$HOME"//root}
    rm -rf "${ROOT:?}$dest" && mkdir -p "$ROOT$(dirname "$dest")" && cp -r "$f" "$ROOT$dest"
  done
  while IFS='=' read -r name value; do
    case $name in PIP_CERT) ;; PIP_CONFIG_FILE) pip_env+=("$name=${value/#"$HOME"//root}") ;; *) pip_env+=("$name=$value") ;; esac
  done < <(env | grep '^PIP_' || true)
  # Local indexes and find-links directories of the host config are bound in read-only
  # (for a local index .../simple, its parent: the pages link to files beside it).
  while read -r dir; do
    [[ $dir == */simple ]] && dir=${dir%/simple}
    [ -d "$dir" ] || continue
    case $dir in /bin* | /dev* | /etc* | /lib* | /proc* | /root* | /sbin* | /sys* | /tmp* | /usr* | /var*) continue ;; esac
    NS_SETUP+=("mkdir -p '$ROOT$dir' && mount --bind -o ro '$dir' '$ROOT$dir'")
  done < <({ "$PYTHON" -m pip config list 2>/dev/null; env | grep '^PIP_'; } |
    grep -oE "(file://)?/[^ '\"]+" | sed 's#^file://##; s#/*$##' | sort -u)
  pip_args=()
fi

# in_root NETWORK CMD...: run CMD in the root, in a private mount namespace (with proc, sys,
# dev and a Raspberry Pi 4 /proc/cpuinfo); NETWORK=none adds a network namespace with only lo.
CPUINFO=$WORK/cpuinfo-pi4
{
  for cpu in 0 1 2 3; do
    printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n' $cpu
    printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n'
  done
  printf 'Hardware\t: BCM2835\nRevision\t: c03111\nSerial\t\t: 100000000a1b2c3d\nModel\t\t: Raspberry Pi 4 Model B Rev 1.1\n'
} >"$CPUINFO"
in_root() {
  local net=$1
  shift
  local setup="mount -t proc proc '$ROOT/proc' && mount --rbind /sys '$ROOT/sys' && mount --rbind /dev '$ROOT/dev'"
  # ONNX Runtime's cpuinfo reads /proc/cpuinfo as an ARM one; the host's x86 one crashes it
  # (SIGSEGV at import, ORT 1.32 under qemu-user): show it a Raspberry Pi 4's instead.
  setup+=" && mount --bind '$CPUINFO' '$ROOT/proc/cpuinfo'"
  local line
  for line in "${NS_SETUP[@]}"; do setup+=" && $line"; done
  local -a unshare_args=(--mount --propagation private)
  if [ "$net" = none ]; then
    unshare_args+=(--net)
    setup+=" && { ip link set lo up 2>/dev/null || $PYTHON -c '$LO_UP'; }"
  fi
  # The namespace (and every mount in it) goes away with its last process.
  timeout -k 10 1200 unshare "${unshare_args[@]}" sh -c "$setup && exec chroot '$ROOT' \"\$@\"" sh "$@"
}
LO_UP='import fcntl, socket, struct
s = socket.socket(); req = struct.pack("16sH", b"lo", 0)
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, req))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))'

t=$(now)
log "creating $VENV and installing camhub + onnxruntime with the root's pip (binary only)"
pip_whls=("$ROOT"/usr/share/python-wheels/pip-*.whl)
[ -f "${pip_whls[0]}" ] || die "no pip wheel in the root (python3-pip-whl)"
pip_whl=${pip_whls[0]#"$ROOT"}
rm -rf "${ROOT:?}$VENV"
# --without-pip, then Debian's own pip wheel run from the file: the pip ensurepip would
# install, without spending ~25 s of emulated CPU installing it. --no-compile: the .pyc
# files of what camhub imports are written at its first start instead.
in_root net /usr/bin/env -i "${pip_env[@]}" sh -c "python3 -m venv --without-pip $VENV && $VENV/bin/python $pip_whl/pip install --progress-bar off --no-compile --only-binary=:all: ${pip_args[*]} $WHEEL_IN onnxruntime" \
  >"$WORK/pip.log" 2>&1 || {
  grep -v '^WARNING: Location' "$WORK/pip.log" | tail -20 >&2
  die "pip install in the arm64 root failed (a dependency without an aarch64 wheel?): $WORK/pip.log"
}
grep '^Successfully installed' "$WORK/pip.log" >&2 || true
rm -rf "${ROOT:?}$WHEELS_IN"
timed "venv + pip install" "$t"

# --- probe ----------------------------------------------------------------------------------
cp scripts/arm64_probe.py config.example.yaml "$ROOT$CHECK/"
probe_args=(--config-example "$CHECK/config.example.yaml" --seconds "$SECONDS_RUN" --json "$CHECK/probe.json")
# Two real photos for the bundled detector: a person (the astronaut) and a cat.
pictures=${ARM64_PICTURES:-$("$PYTHON" -c 'import pathlib, skimage; print(pathlib.Path(skimage.__file__).parent / "data")' 2>/dev/null || true)}
for name in astronaut chelsea; do
  [ -f "$pictures/$name.png" ] || die "no $name.png in '$pictures' (install scikit-image in $PYTHON's env, or set ARM64_PICTURES)"
  cp "$pictures/$name.png" "$ROOT$CHECK/"
  probe_args+=(--picture "$CHECK/$name.png")
done
# The tree ships a model: the wheel must carry it too, and the probe must run it.
if compgen -G "plugins/onnx_detector/models/*.onnx" >/dev/null; then probe_args+=(--expect-model); fi
t=$(now)
log "probe in the root: wheels, check-config, ONNX Runtime, detector, camhub run for ${SECONDS_RUN} s (own network namespace)"
rm -f "$ROOT$CHECK/probe.json"
probe_rc=0
in_root none /usr/bin/env -i HOME=/root LANG=C.UTF-8 PATH=$VENV/bin:/usr/bin:/bin \
  $VENV/bin/python "$CHECK/arm64_probe.py" "${probe_args[@]}" || probe_rc=$?
cp "$ROOT$CHECK/probe.json" "$WORK/probe.json" 2>/dev/null || true
cp "$ROOT/tmp/camhub-run.log" "$WORK/camhub-run.log" 2>/dev/null || true
timed "probe" "$t"
[ "$probe_rc" -eq 0 ] || die "the probe failed (exit $probe_rc; hub log: $WORK/camhub-run.log)"

if [ -n "${ARM64_MEMORY:-}" ]; then
  t=$(now)
  log "bench/memory.py in the root: the hub's RSS alone and per demo camera, under emulation"
  cp bench/memory.py "$ROOT$CHECK/"
  in_root none /usr/bin/env -i HOME=/root LANG=C.UTF-8 PATH=$VENV/bin:/usr/bin:/bin \
    $VENV/bin/python "$CHECK/memory.py" --camhub $VENV/bin/camhub --source demo \
    --json "$CHECK/memory.json" || die "bench/memory.py failed in the root"
  cp "$ROOT$CHECK/memory.json" "$WORK/memory.json"
  timed "memory (emulated)" "$t"
fi

timed "total" "$T0"
log "timings:"
printf '    %s\n' "${TIMINGS[@]}" | tee "$WORK/timings.txt" >&2
log "arm64 check passed (results: $WORK/probe.json)"
