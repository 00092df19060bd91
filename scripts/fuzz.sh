#!/usr/bin/env bash
# The sanitizer and fuzzing jobs of CI (issue 15): builds the `fuzz` preset (clang, ASan, UBSan,
# libFuzzer coverage), runs the io, data, energy, sample, facade and cli test suites (and the
# distributed ones, processes as threads) under the
# sanitizers, then every fuzz harness for SECONDS seconds (default 60), two at a time, seeded
# with fuzz/corpus/<name>. Fails on any sanitizer report, crash, hang (10 s per input), uncaught
# non-ebm exception or allocation over 2 GB; findings are copied to build/fuzz/findings/.
# Usage: scripts/fuzz.sh [SECONDS] [--no-tests]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
run_tests=1
[[ "${2:-}" == "--no-tests" ]] && run_tests=0
scripts/setup.sh --with-fuzz
cmake --preset fuzz >/dev/null
harnesses=(model checkpoint npy npz idx idx_gz csv energy_json config)
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
suites=(test_core_atomic_file test_io_model_file test_io_safetensors test_io_network_files test_data_csv test_data_idx test_data_npy test_data_npz
        test_data_matrix_file test_data_dataset test_energy_analytic test_energy_mlp test_sample_kernels
        test_sample_samplers test_facade test_cli test_core_communicator test_train_distributed test_density_distributed_ais)
if [[ $run_tests -eq 1 ]]; then targets+=("${suites[@]}"); fi
cmake --build --preset fuzz --target "${targets[@]}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/fuzz/lsan.supp
export OMP_WAIT_POLICY=passive
if [[ $run_tests -eq 1 ]]; then
  pattern=$(IFS='|'; echo "${suites[*]}")
  # ctest -R matches test names; these executables' tests are found through their labels below.
  ctest --test-dir build/fuzz -j 2 --output-on-failure -L "^($pattern)\$"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
findings=build/fuzz/findings
mkdir -p "$findings"
run_one() {
  local h=$1 seconds=$2 work=$3 findings=$4
  mkdir -p "$work/$h"
  if ! build/fuzz/fuzz/fuzz_$h "$work/$h" "fuzz/corpus/$h" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -malloc_limit_mb=2048 -artifact_prefix="$work/$h-" -print_final_stats=1 \
       >"$work/$h.log" 2>&1; then
    cp "$work/$h"-* "$findings/" 2>/dev/null || true
    tail -40 "$work/$h.log" >&2
    echo "fuzz_$h: FOUND A PROBLEM (input saved in $findings)" >&2
    return 1
  fi
  echo "fuzz_$h: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$h.log" | grep -o '[0-9]*$') inputs in ${seconds} s, no finding"
}
export -f run_one
printf '%s\n' "${harnesses[@]}" | xargs -P 2 -I{} bash -c 'run_one "$@"' _ {} "$seconds" "$work" "$findings"
