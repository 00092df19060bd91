#!/usr/bin/env bash
# `mpirun -np K ebm ...` against one process: the same model, checkpoint and sample files, byte
# for byte, for K = 1, 2, 3 (oversubscribed on two cores), for every objective and sampler; a
# resume with another K; and failures on one process ending the job with one line, no output.
# Usage: test_mpi.sh EBM MPIRUN train|sample|density|failures WORKDIR
set -euo pipefail
ebm=$1 mpirun=$2 part=$3 work=$4
rm -rf "$work" && mkdir -p "$work" && cd "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
# -q: no MPI banners; the processes find each other over the loopback only.
run() { local k=$1; shift; timeout 120 "$mpirun" -q -np "$k" --oversubscribe --mca btl self,vader "$@"; }
failures=0
strip() {  # a report without its timings and kernel notes
  /usr/bin/python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); [r.pop(k, None) for k in ("seconds", "warmup_seconds", "notes")]; print(json.dumps(r, indent=1))' "$1"
}
strip_seconds() { grep -v '"seconds"' "$1"; }
same() {  # same FILE_A FILE_B WHAT
  if cmp -s "$1" "$2"; then echo "ok: $3"; else echo "FAILED: $3 ($1 and $2 differ)"; failures=$((failures + 1)); fi
}

"$ebm" data make moons --n 600 -o moons.csv --quiet
cat > conditional.json <<'JSON'
{"input": 2, "condition": {"fourier_features": 4, "max_frequency": 4, "width": 8}, "sigma_power": 1,
 "layers": [{"type": "linear", "out": 16}, {"type": "film"}, {"type": "softplus"}, {"type": "linear", "out": 1}]}
JSON

case "$part" in
train)
  # 200-row batches in blocks of 32: 7 blocks, the last of 8 rows, shared unevenly by 2 and 3.
  common=(--data moons.csv --steps 12 --batch 200 --block-rows 32 --held-out 0.2 --eval-every 4 --quiet)
  declare -A objectives=(
    [sm]="--objective sm" [ssm]="--objective ssm --projections 2" [dsm]="--objective dsm"
    [dsm_ladder]="--objective dsm --noise-levels 4 --model conditional.json"
    [cd]="--objective cd --langevin-steps 3" [pcd]="--objective pcd --langevin-steps 3 --buffer-size 150"
  )
  for name in sm ssm dsm dsm_ladder cd pcd; do
    read -ra extra <<< "${objectives[$name]}"
    "$ebm" train "${common[@]}" "${extra[@]}" -o "$name.one.safetensors" --checkpoint "$name.one.ckpt.safetensors"
    for k in 1 2 3; do
      run "$k" "$ebm" train "${common[@]}" "${extra[@]}" -o "$name.$k.safetensors" --checkpoint "$name.$k.ckpt.safetensors"
      same "$name.one.safetensors" "$name.$k.safetensors" "train $name, $k process(es): model"
      same "$name.one.ckpt.safetensors" "$name.$k.ckpt.safetensors" "train $name, $k process(es): checkpoint"
    done
    # Steps 0..5 on 2 processes, the rest on 3.
    run 2 "$ebm" train "${common[@]}" "${extra[@]}" --stop-at 5 -o "$name.part.safetensors" --checkpoint "$name.resume.safetensors"
    run 3 "$ebm" train --resume "$name.resume.safetensors" --quiet -o "$name.resumed.safetensors"
    same "$name.one.safetensors" "$name.resumed.safetensors" "train $name: 2 processes to step 5, resumed on 3"
  done
  ;;
sample)
  "$ebm" train --data moons.csv --steps 100 -o model.safetensors --quiet
  "$ebm" train --data moons.csv --steps 30 --objective dsm --noise-levels 4 --model conditional.json -o ncsn.safetensors --quiet
  # Every sampler the command offers, as its --help lists them.
  samplers=$("$ebm" sample --help | sed -n '/--sampler/,/--chains/p' | grep -oE '^ +[a-z]+:' | tr -d ' :')
  [[ $(wc -w <<< "$samplers") -ge 10 ]] || { echo "FAILED: found only '$samplers' in ebm sample --help"; exit 1; }
  for sampler in $samplers; do
    model=model.safetensors
    [[ $sampler == ncsn ]] && model=ncsn.safetensors
    args=(sample --model "$model" --sampler "$sampler" --chains 7 --steps 40 --quiet)
    "$ebm" "${args[@]}" -o "$sampler.one.csv" --report "$sampler.one.json"
    for k in 1 2 3; do
      run "$k" "$ebm" "${args[@]}" -o "$sampler.$k.csv" --report "$sampler.$k.json"
      same "$sampler.one.csv" "$sampler.$k.csv" "sample $sampler, $k process(es): draws"
      # The report's diagnostics are of all chains; only its timings may differ, and pt's note
      # (swap rates, round trips), which each process gives for its own chains.
      if diff <(strip "$sampler.one.json") <(strip "$sampler.$k.json") > /dev/null; then
        echo "ok: sample $sampler, $k process(es): report"
      else
        echo "FAILED: sample $sampler, $k process(es): report differs"; failures=$((failures + 1))
      fi
    done
  done
  ;;
density)
  # AIS's chains (logp, eval) and eval's MMD chains shared among the processes.
  "$ebm" train --data moons.csv --steps 100 -o model.safetensors --quiet
  head -40 moons.csv > points.csv
  logp=(logp --model model.safetensors --at points.csv --normalize ais --ais-chains 50 --ais-temperatures 30 --quiet)
  evaluate=(eval --model model.safetensors --data points.csv --normalize ais --ais-chains 50 --ais-temperatures 30
            --mmd-samples 40 --mmd-steps 20 --json)
  "$ebm" "${logp[@]}" -o logp.one.csv --report logp.one.json
  "$ebm" "${evaluate[@]}" > eval.one.json
  for k in 1 2 3; do
    run "$k" "$ebm" "${logp[@]}" -o "logp.$k.csv" --report "logp.$k.json"
    same logp.one.csv "logp.$k.csv" "logp --normalize ais, $k process(es): log p"
    run "$k" "$ebm" "${evaluate[@]}" > "eval.$k.json"
    for f in logp eval; do
      if diff <(strip_seconds "$f.one.json") <(strip_seconds "$f.$k.json") > /dev/null; then echo "ok: $f, $k process(es): report"
      else echo "FAILED: $f, $k process(es): report differs"; failures=$((failures + 1)); fi
    done
  done
  ;;
failures)
  # Process 1 reads a bad file: every process stops, one line, exit 1, no model file, in seconds.
  "$ebm" data make moons --n 300 -o good.csv --quiet
  printf 'x,y\n1,oops\n' > bad.csv
  ln -sf good.csv data0.csv && ln -sf bad.csv data1.csv && ln -sf good.csv data2.csv
  start=$(date +%s)
  set +e
  run 3 sh -c "exec '$ebm' train --data data\${OMPI_COMM_WORLD_RANK}.csv --steps 50 --quiet -o failed.safetensors" 2> failed.err
  code=$?
  set -e
  took=$(( $(date +%s) - start ))
  lines=$(grep -c '^ebm train:' failed.err || true)
  if [[ $code -ne 0 && ! -e failed.safetensors && $took -le 30 ]] && grep -q "data1.csv" failed.err && [[ $lines -eq 1 ]]; then
    echo "ok: a bad file on process 1 stops all 3 (exit $code, ${took} s, one line)"
  else
    echo "FAILED: bad file on process 1: exit $code, ${took} s, $lines error line(s), output $(ls failed.safetensors 2>/dev/null || echo none)"
    cat failed.err; failures=$((failures + 1))
  fi
  # A command that does not share its work refuses to run on several processes.
  set +e
  run 2 "$ebm" energy --model none.safetensors --at good.csv 2> refused.err
  code=$?
  set -e
  if [[ $code -eq 2 ]] && [[ $(grep -c 'runs on one process only' refused.err) -eq 1 ]]; then
    echo "ok: energy under mpirun -np 2 is refused with one line"
  else
    echo "FAILED: energy under mpirun: exit $code"; cat refused.err; failures=$((failures + 1))
  fi
  ;;
*) echo "test_mpi.sh: unknown part $part" >&2; exit 2 ;;
esac
if [[ $failures -gt 0 ]]; then echo "$failures check(s) failed"; exit 1; fi
