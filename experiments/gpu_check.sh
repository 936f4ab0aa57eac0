#!/usr/bin/env bash
# One GPU check (at most about 8 minutes on a GPU): the CUDA-marked tests, the simulator bench
# on CUDA (against lightning.gpu / qiskit-aer-gpu where installed) and one paper-circuit
# Fashion-MNIST epoch (qontot, 7 qubits, 16 layers) on CUDA, plus its run-time estimate.
# Everything lands as JSON under OUTDIR; OUTDIR/gpu_check.json lists each step's exit code
# and seconds.
#
#   bash experiments/gpu_check.sh OUTDIR            # on a machine with a GPU
#   bash experiments/gpu_check.sh OUTDIR --dry-run  # the same steps, tiny, on the CPU (tests)
#
# Fashion-MNIST is read from FMNIST_ROOT (default: the package's default location).
set -u
OUT=${1:?usage: gpu_check.sh OUTDIR [--dry-run]}
DRY=${2:-}
if [[ -n "$DRY" && "$DRY" != "--dry-run" ]]; then
  echo "unknown option $DRY (expected --dry-run)" >&2; exit 2
fi
PY=${PYTHON:-python}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
ROOT=()
[[ -n "${FMNIST_ROOT:-}" ]] && ROOT=(--set "data.root=$FMNIST_ROOT")

if [[ -z "$DRY" ]]; then
  DEVICE=cuda
  BENCH=(--qubits 5 7 8 --layers 16 --matrices 200 --frameworks ours lightning aer
         --lightning-subset 1 --aer-subset 4 --repeats 3)
  TRAIN=(--set optim.epochs=1)
else
  DEVICE=cpu
  export QDSFORMER_TEST_DEVICE=cpu
  BENCH=(--qubits 3 --layers 1 --matrices 4 --frameworks ours --memory-layers
         --no-train-step --repeats 1)
  TRAIN=(--set optim.epochs=1 --set data.train_limit=40 --set data.val_limit=20
         --set data.test_limit=20 --set data.batch_size=20)
fi

# limits sum to 470 s on a GPU; the CPU dry run gets four times as long (shared CPUs are slow)
SCALE=1
[[ -n "$DRY" ]] && SCALE=4
steps=()
step() {  # name, limit in seconds, command...
  local name=$1 limit=$(( $2 * SCALE )); shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  steps+=("{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $((SECONDS - start))}")
  echo "$name: exit $rc in $((SECONDS - start)) s (log: $OUT/$name.log)"
}

step tests 90 "$PY" -m pytest -q -m cuda tests/gpu --junitxml="$OUT/tests.xml"
step bench_simulator 200 "$PY" -m qdsformer bench simulator --device "$DEVICE" "${BENCH[@]}" \
  --json "$OUT/simulator.json"
step estimate 60 "$PY" -m qdsformer bench runtime --config experiments/configs/fmnist_qontot.yaml \
  --set run.device="$DEVICE" "${TRAIN[@]}" "${ROOT[@]}" --json "$OUT/estimate.json"
step train_epoch 120 "$PY" -m qdsformer train --config experiments/configs/fmnist_qontot.yaml \
  --set run.device="$DEVICE" --set run.out_dir="$OUT/runs" "${TRAIN[@]}" "${ROOT[@]}" --no-progress

{
  echo "{\"device\": \"$DEVICE\", \"dry_run\": $([[ -n "$DRY" ]] && echo true || echo false), \"steps\": ["
  (IFS=,; echo "${steps[*]}")
  echo "]}"
} > "$OUT/gpu_check.json"
find "$OUT/runs" -name summary.json -exec cp {} "$OUT/train_summary.json" \; 2>/dev/null
grep -q '"rc": [1-9]' "$OUT/gpu_check.json" && exit 1
exit 0
