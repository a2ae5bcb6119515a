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
  echo "installing mi${MI_EXTRAS:+[$MI_EXTRAS]} into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root${MI_EXTRAS:+[$MI_EXTRAS]}"
  touch "$stamp"
fi
