#!/bin/bash
# The measurement behind docs/training.md, "Contrastive divergence defaults": held-out NLL of
# sm and of cd/pcd at their old and new defaults (written out in full, so the script measures
# the same thing whatever the defaults become), three toy sets, seeds 1-5.
# Usage: bench/cd_defaults.sh [EBM_BINARY] [WORK_DIR]; one line per run on stdout.
set -euo pipefail
E=$(realpath "${1:-build/release/ebm}")
mkdir -p "${2:-/tmp/ebm-cd-defaults}" && cd "${2:-/tmp/ebm-cd-defaults}"
for d in rings moons 8gaussians; do
  "$E" data make $d --n 5000 --seed 1 -o ${d}_tr.csv --quiet
  "$E" data make $d --n 2000 --seed 2 -o ${d}_te.csv --quiet
done
for seed in 1 2 3 4 5; do
  for d in rings moons 8gaussians; do
    for cfg in "sm|--objective sm --schedule constant" \
               "cd_old|--objective cd --schedule constant --steps 1000 --langevin-step-size 0.01 --energy-penalty 0" \
               "pcd_old|--objective pcd --schedule constant --steps 1000 --energy-penalty 0" \
               "cd_new|--objective cd --schedule constant --steps 5000 --langevin-step-size 0.05 --energy-penalty 0.1" \
               "pcd_new|--objective pcd --schedule constant --steps 5000 --energy-penalty 0.1"; do
      name=${cfg%%|*}; args=${cfg#*|}
      out=m_${d}_${name}_${seed}.safetensors
      s0=$(date +%s.%N)
      rc=0; "$E" train --data ${d}_tr.csv $args --seed $seed --quiet -o $out || rc=$?
      s1=$(date +%s.%N)
      nll=$("$E" eval --model $out --data ${d}_te.csv 2>&1 | awk '/NLL/{print $2}')
      echo "$d $name $seed rc=$rc nll=$nll secs=$(echo "$s1 - $s0" | bc)"
    done
  done
done
