#!/bin/bash
# The measurement behind docs/training.md, "The learning-rate schedule", for cd and pcd: held-out
# NLL (ebm eval, grid log Z) at a constant rate and with the cosine, their other settings the
# defaults, moons and the eight Gaussians, seeds 1-5, one thread per run.
# Usage: bench/quality/cd_schedule.sh [EBM_BINARY] [WORK_DIR]; prints "set objective schedule seed nll".
set -euo pipefail
E=$(realpath "${1:-build/release/ebm}")
mkdir -p "${2:-/tmp/ebm-cd-schedule}" && cd "${2:-/tmp/ebm-cd-schedule}"
for d in moons 8gaussians; do
  "$E" data make $d --n 5000 --seed 1 -o ${d}_tr.csv --quiet
  "$E" data make $d --n 2000 --seed 2 -o ${d}_te.csv --quiet
done
for seed in 1 2 3 4 5; do
  for d in moons 8gaussians; do
    for obj in cd pcd; do
      for sch in constant cosine; do
        out=m_${d}_${obj}_${sch}_${seed}.safetensors
        "$E" --threads 1 train --data ${d}_tr.csv --objective $obj --schedule $sch --seed $seed --quiet -o $out
        nll=$("$E" --threads 1 eval --model $out --data ${d}_te.csv 2>&1 | awk '/NLL/{print $2}')
        echo "$d $obj $sch $seed $nll"
      done
    done
  done
done
