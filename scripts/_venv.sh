# Sourced by the other scripts: make sure .venv exists with mi installed (plus the extras named in
# $MI_EXTRAS), reinstalling only when pyproject.toml changed. Needs only python3 >= 3.11.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "mi needs Python 3.11 or newer as '$python' (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv" >&2
  "$python" -m venv "$venv"
fi
stamp="$venv/.installed${MI_EXTRAS:+-$MI_EXTRAS}"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
  if [[ ",${MI_EXTRAS:-}," == *,test,* ]]; then
    # What the tests drive besides Python, from apt when missing and we may: redis-cli and
    # redis-benchmark (the Redis tools' tests), redis-server (the benchmark script's), and what
    # pyfuse3, the power-cut test's FUSE filesystem, builds against. Without the FUSE parts the
    # test extras go in less pyfuse3, and that test skips.
    missing=()
    command -v redis-cli >/dev/null || missing+=(redis-tools)
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v fusermount3 >/dev/null || missing+=(fuse3)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    pkg-config --exists fuse3 2>/dev/null || missing+=(libfuse3-dev)
    command -v cc >/dev/null || missing+=(gcc)
    "$venv/bin/python" -c 'import os, sysconfig; os.stat(sysconfig.get_paths()["include"] + "/Python.h")' \
      2>/dev/null || missing+=(python3-dev)
    if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing ${missing[*]} (apt-get) for the tests" >&2
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          "${missing[@]}"; } >/dev/null 2>&1 || echo "apt-get install ${missing[*]} failed" >&2
    fi
    if ! pkg-config --exists fuse3 2>/dev/null || ! command -v cc >/dev/null; then
      echo "libfuse3 or a C compiler is missing: installing the test extras without pyfuse3" >&2
      "${pip[@]}" -e "$root"
      "$venv/bin/python" - "$root/pyproject.toml" <<'PY' | xargs "${pip[@]}"
import sys, tomllib
extras = tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["test"]
print("\n".join(f"'{r}'" for r in extras if not r.startswith("pyfuse3")))
PY
      touch "$stamp"
    fi
  fi
  if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
    echo "installing mi${MI_EXTRAS:+[$MI_EXTRAS]} into $venv" >&2
    "${pip[@]}" -e "$root${MI_EXTRAS:+[$MI_EXTRAS]}"
    touch "$stamp"
  fi
fi
