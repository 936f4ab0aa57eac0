#!/usr/bin/env bash
# Run the model tests against the declared timm floor (the lower bound in pyproject.toml).
#
# Installs exactly that timm release, without dependencies, into a cache folder and puts it
# first on PYTHONPATH, so the environment's own timm stays untouched; everything else comes
# from the current environment. Usage, from the repository root:
#
#     bash tests/floors/run.sh            # python from PATH
#     PYTHON=/path/to/python bash tests/floors/run.sh
#
# Extra arguments go to pytest (e.g. -x). The cache folder is $QDSFORMER_FLOOR_CACHE
# (default ${TMPDIR:-/tmp}/qdsformer-floors); a second run reuses the install.
set -euo pipefail

python=${PYTHON:-python}
root=$(cd "$(dirname "$0")/../.." && pwd)
floor=$(sed -n 's/^ *"timm>=\([0-9][0-9.]*\)[",].*/\1/p' "$root/pyproject.toml" | head -n 1)
if [ -z "$floor" ]; then
    echo "tests/floors/run.sh: no \"timm>=X\" requirement found in pyproject.toml" >&2
    exit 2
fi
target=${QDSFORMER_FLOOR_CACHE:-${TMPDIR:-/tmp}/qdsformer-floors}/timm-$floor
if [ ! -f "$target/timm/version.py" ]; then
    rm -rf "$target.partial"
    "$python" -m pip install --quiet --no-deps --target "$target.partial" "timm==$floor"
    mv "$target.partial" "$target"
fi
export PYTHONPATH="$target:$root${PYTHONPATH:+:$PYTHONPATH}"
got=$("$python" -c 'import timm; print(timm.__version__)')
if [ "$got" != "$floor" ]; then
    echo "tests/floors/run.sh: imported timm $got, expected the floor $floor" >&2
    exit 1
fi
echo "model tests against timm $floor (the declared floor)"
cd "$root"
exec "$python" -m pytest -q -p no:cacheprovider tests/models "$@"
