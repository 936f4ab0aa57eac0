#!/usr/bin/env bash
# Reproduce every file in results/circuits/ (about 15 minutes on one CPU core).
# Run from the repository root: bash circuits/reproduce.sh
set -euo pipefail
export OMP_NUM_THREADS=1
q=qdsformer

# OpenQASM 3 of the two shipped specs, plain and transpiled for a 16-qubit fake device
$q circuits export circuits/dsm8_hardware.yaml circuits/dsm4_small.yaml \
    --runner aer-noisy:fake_guadalupe

# The paper's hardware setting: 8x8 DSM, 1 layer, 14 qubits with Bell pairs
$q circuits run circuits/dsm8_hardware.yaml --runner statevector
$q circuits run circuits/dsm8_hardware.yaml --runner aer --shots 10000
for fake in fake_guadalupe fake_torino; do
  $q circuits run circuits/dsm8_hardware.yaml --runner aer-noisy:$fake --shots 10000
done
$q circuits run circuits/dsm8_hardware.yaml --runner aer-noisy:fake_torino --shots 10000 \
    --readout-mitigation
$q circuits sweep circuits/dsm8_hardware.yaml --runner aer aer-noisy:fake_torino \
    --shots 1000 3000 10000 30000

# The small 4x4 spec (6 qubits) on a 7-qubit fake device; the IBM runtime path offline
$q circuits run circuits/dsm4_small.yaml --runner aer-noisy:fake_nairobi --shots 4000
$q circuits run circuits/dsm4_small.yaml --runner aer-noisy:fake_nairobi --shots 4000 \
    --readout-mitigation
for flags in "" "--dd" "--twirling" "--dd --twirling"; do
  # shellcheck disable=SC2086
  $q circuits run circuits/dsm4_small.yaml --runner ibm:fake_nairobi --ibm-channel local \
      --shots 4000 --readout-mitigation $flags
done
$q circuits sweep circuits/dsm4_small.yaml --runner aer aer-noisy:fake_nairobi \
    --shots 100 300 1000 3000 10000 30000 100000
$q circuits sweep circuits/dsm4_small.yaml --runner aer-noisy:fake_nairobi \
    --shots 100 300 1000 3000 10000 30000 100000 --readout-mitigation

# Hardware in the loop: trained QontOT ViTs with attention estimated by circuits
$q train --config experiments/configs/digits.yaml --set attention.name=qontot \
    --set 'attention.kwargs={n_aux_qubits: 1, n_layers: 2, ansatz: parted}' \
    --set optim.epochs=30 --set experiment=digits_qontot \
    --run-dir results/circuits/digits_qontot_run --no-progress
$q evaluate results/circuits/digits_qontot_run --n-images 100 --shots 1000 \
    --runner statevector aer aer-noisy:fake_guadalupe aer-noisy:fake_torino
$q evaluate results/circuits/digits_qontot_run --n-images 100 --shots 1000 --mitigate \
    --runner aer aer-noisy:fake_guadalupe aer-noisy:fake_torino
$q train --config experiments/configs/fmnist_softmax.yaml --set attention.name=qontot \
    --set 'attention.kwargs={n_aux_qubits: 4, n_layers: 1, ansatz: parted}' \
    --set optim.epochs=6 --set 'optim.milestones=[4]' --set data.train_limit=12000 \
    --set data.test_limit=1000 --set experiment=fmnist_qontot_hw \
    --run-dir results/circuits/fmnist_qontot_hw_run --no-progress
$q evaluate results/circuits/fmnist_qontot_hw_run --n-images 100 --shots 1000 \
    --runner statevector aer aer-noisy:fake_torino
$q evaluate results/circuits/fmnist_qontot_hw_run --n-images 100 --shots 1000 \
    --runner aer-noisy:fake_torino --readout-mitigation --mitigate
