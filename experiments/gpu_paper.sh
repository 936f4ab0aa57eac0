#!/usr/bin/env bash
# The paper's Table 1 depth-2 row on Fashion-MNIST at the paper's protocol (softmax,
# softmax_sigma2, qr, sinkhorn, qontot with 4 auxiliary qubits / 16 layers static; 5 seeds;
# 50 epochs: the depth-2 cells of experiments/sweeps/paper_table1_fmnist.yaml) on one GPU,
# several runs at once, inside a wall budget, resumable across windows.
#
#   bash experiments/gpu_paper.sh OUTDIR [--budget SECONDS] [--jobs N] [--pack FILE]
#   bash experiments/gpu_paper.sh OUTDIR --dry-run    # the checks, on the CPU (tests)
#
# - Runs go to OUTDIR/paper_table1_fmnist/<cell>/seed<k>/ through `qdsformer sweep --jobs N`
#   (N worker processes, all on GPU 0: the sweep gives worker w the device w % GPUs). The
#   sweep file used is written to OUTDIR/sweep.yaml (the committed one with out_dir = OUTDIR,
#   depth 2 only, and data.root = $FMNIST_ROOT when set).
# - Budget (default 420 s, one short window on a lent machine): the sweep gets the budget less
#   a 30 s margin, then `timeout` sends SIGTERM to it and its training processes (SIGKILL 15 s
#   later). The fit loop writes checkpoint.pt atomically after every epoch, so a stopped run
#   loses at most the epoch in progress; leftovers of an interrupted write are removed when it
#   resumes. Exit 0 when every cell has finished, 3 when the budget ran out first (call again
#   with the same OUTDIR to resume: finished cells are skipped, partial ones resume), 1 when a
#   cell failed, 2 for bad arguments or no GPU.
# - --pack FILE: a .tar.gz of OUTDIR without the checkpoints of finished runs (those are not
#   needed to resume, and results/ never holds checkpoints), split into FILE.00, FILE.01, ...
#   of at most 15 MiB each (the device tool brings back files of at most 16 MiB, 8 in all).
#   Unpack with: cat FILE.* | tar -xzf - -C PARENT_OF_OUTDIR (--dry-run packs too).
#   Sizes: a depth-2 checkpoint (216k parameters, float32, with Adam's two moments) is about
#   2.6 MB, so at most N partial runs make N x 2.6 MB; with Fashion-MNIST (30 MB, carried for
#   FMNIST_ROOT) N = 8 stays inside the 64 MiB a carried working tree may hold.
#
# Fashion-MNIST is read from FMNIST_ROOT (default: the package's default location).
set -u
usage="usage: gpu_paper.sh OUTDIR [--dry-run] [--budget SECONDS] [--jobs N] [--pack FILE]"
fail() { echo "gpu_paper.sh: $*" >&2; exit 2; }
[[ $# -ge 1 && "$1" != --* ]] || fail "$usage"
OUT=$1; shift
DRY= BUDGET=420 JOBS=8 PACK=
while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) DRY=1; shift ;;
    --budget|--jobs|--pack)
      [[ $# -ge 2 ]] || fail "$1 needs a value"
      case $1 in --budget) BUDGET=$2 ;; --jobs) JOBS=$2 ;; --pack) PACK=$2 ;; esac
      shift 2 ;;
    *) fail "unknown option $1 ($usage)" ;;
  esac
done
[[ "$BUDGET" =~ ^[0-9]+$ && $((10#$BUDGET)) -ge 60 && $((10#$BUDGET)) -le 86400 ]] \
  || fail "--budget must be whole seconds from 60 to 86400, got '$BUDGET'"
[[ "$JOBS" =~ ^[0-9]+$ && $((10#$JOBS)) -ge 1 && $((10#$JOBS)) -le 64 ]] \
  || fail "--jobs must be an integer from 1 to 64, got '$JOBS'"
BUDGET=$((10#$BUDGET)) JOBS=$((10#$JOBS))
MARGIN=30
PY=${PYTHON:-python}
HERE=$(cd "$(dirname "$0")" && pwd)
SWEEP_SRC="$HERE/sweeps/paper_table1_fmnist.yaml"

if [[ -z "$DRY" ]]; then
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || fail "no CUDA device here (use --dry-run on a CPU)"
fi
if [[ -n "$PACK" ]]; then
  PACK_DIR=$(dirname "$PACK")
  [[ -d "$PACK_DIR" && -w "$PACK_DIR" ]] || fail "--pack folder $PACK_DIR is not writable"
fi
mkdir -p "$OUT" 2>/dev/null && [[ -w "$OUT" ]] || fail "output folder $OUT is not writable"
OUT=$(cd "$OUT" && pwd)

# the committed sweep, narrowed to depth 2 and pointed at OUT (and FMNIST_ROOT when set)
"$PY" - "$SWEEP_SRC" "$OUT/sweep.yaml" "$OUT" "${FMNIST_ROOT:-}" <<'EOF' || fail "cannot write $OUT/sweep.yaml"
import sys
from pathlib import Path

import yaml

src, dst, out, root = sys.argv[1:]
spec = yaml.safe_load(Path(src).read_text())
spec["base"] = str((Path(src).parent / spec["base"]).resolve())
spec["out_dir"] = out
spec["grid"] = {**spec.get("grid", {}), "model.depth": [2]}
if root:
    spec["set"] = {**spec.get("set", {}), "data.root": root}
Path(dst).write_text("# written by experiments/gpu_paper.sh from " + src + "\n"
                     + yaml.safe_dump(spec, sort_keys=False))
EOF

pack() {  # OUT as FILE.00, FILE.01, ... (15 MiB each), without finished runs' checkpoints
  [[ -n "$PACK" ]] || return 0
  local list
  list=$(mktemp)
  (cd "$(dirname "$OUT")" && find "$(basename "$OUT")" -type f ! -name run.lock \
     | while read -r f; do
         d=$(dirname "$f")
         [[ $(basename "$f") == checkpoint.pt && -e "$d/summary.json" ]] || echo "$f"
       done) > "$list"
  rm -f "$PACK".[0-9][0-9]
  tar -czf - -C "$(dirname "$OUT")" -T "$list" | split -b 15m -d - "$PACK."
  rm -f "$list"
  ls -l "$PACK".[0-9][0-9]
}

if [[ -n "$DRY" ]]; then
  # everything but the GPU: the cells expand and validate, OUT is writable, the budget parses
  "$PY" -m qdsformer sweep "$OUT/sweep.yaml" --dry-run || exit 1
  echo "gpu_paper.sh --dry-run: $JOBS workers, budget ${BUDGET} s (sweep stopped at" \
       "$((BUDGET - MARGIN)) s), runs under $OUT/paper_table1_fmnist"
  pack
  exit 0
fi

start=$SECONDS
timeout --signal=TERM --kill-after=15 $((BUDGET - MARGIN)) \
  "$PY" -m qdsformer sweep "$OUT/sweep.yaml" --jobs "$JOBS" >> "$OUT/sweep.log" 2>&1
rc=$?
echo "sweep: exit $rc after $((SECONDS - start)) s (log: $OUT/sweep.log)"
finished=$(find "$OUT" -name summary.json | wc -l)
partial=$(find "$OUT" -name checkpoint.pt -newer "$OUT/sweep.yaml" | wc -l)
echo "finished runs: $finished of 25; checkpoints written this window: $partial"

pack

case $rc in
  0) exit 0 ;;
  124|137) echo "budget reached: call again with the same OUTDIR to resume"; exit 3 ;;
  *) exit 1 ;;
esac
