#!/usr/bin/env bash
# The built package, not the source tree: build the sdist and the wheel (the wheel from the
# sdist, as `python -m build` does), check that every file tracked under qdsformer/ is in the
# wheel (the modules and what they read at run time, e.g. the paper tables of
# `qdsformer report`), install the wheel alone into a scratch folder and run the main job from a folder
# outside the repository. The dependencies come from the running Python's environment (torch
# is gigabytes; installing it again proves nothing about our packaging); qdsformer itself must
# come from the wheel, which the script asserts.
#
#   .ci/wheel_check.sh            # with the test venv active (CI: .ci/run, after the tests)
#   PYTHON=/path/to/python .ci/wheel_check.sh
set -euo pipefail
PY=${PYTHON:-python}
if [[ "$PY" == */* ]]; then  # a path: make it absolute before the script changes folders
  PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"
fi
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/qdsformer-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

# build from a copy of the files git tracks (or would track), as in the working tree, so no
# stale build/ or *.egg-info of an earlier build can add files the configuration would not
mkdir "$work/src"
git -C "$repo" ls-files -z --cached --others --exclude-standard |
  tar -C "$repo" --null --ignore-failed-read -T - -cf - | tar -C "$work/src" -xf -
"$PY" -m build --outdir "$work/dist" "$work/src" >"$work/build.log" 2>&1 || {
  cat "$work/build.log" >&2; echo "wheel_check: python -m build failed" >&2; exit 1; }
wheel=$(ls "$work"/dist/qdsformer-*.whl)
ls "$work"/dist/qdsformer-*.tar.gz >/dev/null

# every tracked file under qdsformer/ (modules and package data) must be in the wheel
git -C "$repo" ls-files qdsformer >"$work/package_files"
"$PY" - "$wheel" "$work/package_files" <<'PYEOF'
import sys
import zipfile

wheel, listing = sys.argv[1], sys.argv[2]
names = set(zipfile.ZipFile(wheel).namelist())
wanted = [line.strip() for line in open(listing) if line.strip()]
missing = [path for path in wanted if path not in names]
if not wanted or missing:
    sys.exit(f"wheel_check: files missing from {wheel}: {missing or 'no tracked files found'}")
data = [path for path in wanted if not path.endswith(".py")]
print(f"wheel_check: all {len(wanted)} tracked package files in the wheel ({len(data)} data files)")
PYEOF

"$PY" -m pip install --quiet --no-deps --no-index --target "$work/site" "$wheel"
mkdir "$work/run"
cd "$work/run"  # outside the repository: nothing can be imported from the source tree
export PYTHONPATH="$work/site"
"$PY" - "$work/site" <<'PYEOF'
import sys
from pathlib import Path

import qdsformer
from qdsformer.apps.report.paper import available_tables, load_paper_table

site = Path(sys.argv[1]).resolve()
where = Path(qdsformer.__file__).resolve()
if site not in where.parents:
    sys.exit(f"wheel_check: qdsformer imported from {where}, not from the wheel in {site}")
tables = available_tables()
if not tables:
    sys.exit("wheel_check: no paper tables next to the installed package")
for name in tables:
    load_paper_table(name)
print(f"wheel_check: qdsformer {qdsformer.__version__} from the wheel; paper tables {tables}")
PYEOF
"$work/site/bin/qdsformer" --version
"$PY" -m qdsformer train --set optim.epochs=1 --set run.progress=false \
  --set run.out_dir="$work/results" --set run.run_name=wheel
test -s "$work/results/digits/wheel/summary.json" || {
  echo "wheel_check: the main job wrote no summary.json" >&2; exit 1; }
echo "wheel_check: OK"
