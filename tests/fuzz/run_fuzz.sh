#!/usr/bin/env bash
# Runs the libFuzzer targets one after another, each on its seed corpus and dictionary, for
# a bounded time (CI) or a number of executions (the long runs of docs/fuzzing.md).
#
# Usage: tests/fuzz/run_fuzz.sh [options] [TARGET...]   (default: every target)
#   --sparq BIN      the sparq CLI that writes the .sparq reader's seeds (default build/sparq)
#   --build DIR      the sanitizer build directory (default build-asan)
#   --seconds N      run each target N seconds (default 15 without --runs)
#   --runs N         run each target N executions (with --seconds: whichever comes first)
#   --artifacts DIR  crash/leak/timeout reproducers and each target's log (default
#                    build-asan/artifacts); kept when a target fails
#   --corpus DIR     keep each target's grown corpus in DIR/<target> (default: a temporary
#                    directory, removed at the end)
# Exits non-zero when any target finds a crash, leak, timeout or sanitizer report; the
# reproducer is DIR/<target>-crash-<sha1> (or -leak-, -timeout-, -oom-).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sparq=build/sparq build=build-asan seconds="" runs="" artifacts="" keep=""
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --sparq) sparq=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --artifacts) artifacts=$2; shift 2 ;;
    --corpus) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "run_fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(sparq_reader safetensors_header tokenizer_json model_config document_records
                                     workload_and_recipe job_checkpoint gguf chat_template serve_request)
artifacts=${artifacts:-$build/artifacts}
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The longest input each target is given: a little over its largest seed, so mutations
# explore structure rather than size (sizes are bounded by the parsers' own limits, which
# the regression tests cover).
max_len() {
  case $1 in
    sparq_reader|gguf) echo 65536 ;;
    tokenizer_json|workload_and_recipe) echo 8192 ;;
    job_checkpoint) echo 2048 ;;
    *) echo 4096 ;;
  esac
}

# The .sparq reader's seeds: small models in every encoding `sparq synth` writes. The first
# byte selects the fuzzer's mode: 0 = bytes as they are, 1 = checksums fixed up.
sparq_seeds() {
  local out=$1 i=0 spec mode
  local small=(--config vocab_size=16 --config max_positions=8 --config hidden_size=8 --config num_heads=2
               --config intermediate_size=12 --config num_layers=1)
  for spec in "f32" "f16" "q8" "q8:g4" "q4:g32" "q4:g32:asym" "csr:q8 --sparsity 0.7" \
              "csr:f32 --sparsity 0.5" "csr:q4 --sparsity 0.6" "bsr:q8:4x1 --sparsity 0.5" \
              "bsr:f32:1x4 --sparsity 0.5" "bitmap:q8 --sparsity 0.7" "bitmap:q4:g64 --sparsity 0.5" \
              "q8 --compress"; do
    # shellcheck disable=SC2086
    "$sparq" synth --arch bert --preset bert-tiny "${small[@]}" --weights $spec -o "$work/seed.sparq" >/dev/null 2>&1 ||
      { echo "run_fuzz.sh: $sparq synth failed" >&2; return 1; }
    for mode in 0 1; do
      { printf "\\x0$mode"; cat "$work/seed.sparq"; } > "$out/seed_${i}_$mode"
    done
    i=$((i + 1))
  done
}

failed=()
for t in "${targets[@]}"; do
  fuzzer=$build/tests/fuzz/fuzz_$t
  [ -x "$fuzzer" ] || { echo "run_fuzz.sh: no $fuzzer (cmake --preset asan && cmake --build --preset asan --target fuzz_targets)" >&2; exit 2; }
  corpus=${keep:+$keep/$t}
  corpus=${corpus:-$work/$t}
  mkdir -p "$corpus"
  seeds=()
  [ -d "$here/corpus/$t" ] && seeds+=("$here/corpus/$t")
  if [ "$t" = sparq_reader ]; then
    mkdir -p "$work/sparq_seeds" && sparq_seeds "$work/sparq_seeds" || exit 2
    seeds+=("$work/sparq_seeds")
  fi
  if [ "$t" = gguf ]; then  # the GGUF reader's test fixtures (every supported type)
    mkdir -p "$work/gguf_seeds" && cp "$here"/../formats/fixtures/gguf/*.gguf "$work/gguf_seeds/" || exit 2
    seeds+=("$work/gguf_seeds")
  fi
  args=(-max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts/$t-")
  [ -f "$here/$t.dict" ] && args+=(-dict="$here/$t.dict")
  [ -n "$runs" ] && args+=(-runs="$runs")
  [ -n "$seconds" ] || [ -n "$runs" ] || seconds=15
  [ -n "$seconds" ] && args+=(-max_total_time="$seconds")
  start=$SECONDS
  "$fuzzer" "${args[@]}" "$corpus" "${seeds[@]}" > "$artifacts/$t.log" 2>&1
  status=$?
  # libFuzzer's last status line ("#N DONE cov: ... ft: ... corp: ...") and its final stats.
  done_line=$(grep -E '^#[0-9]+' "$artifacts/$t.log" | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$artifacts/$t.log")
  printf '%-20s %s  %ss  %s execs  %s\n' "$t" "$([ $status = 0 ] && echo ok || echo FAILED)" \
    "$((SECONDS - start))" "${execs:-?}" "$done_line"
  if [ $status != 0 ]; then
    failed+=("$t")
    grep -E -A30 '^==[0-9]+==ERROR|runtime error:|^SUMMARY' "$artifacts/$t.log" | head -n 60
    ls "$artifacts" | grep -E "^$t-(crash|leak|timeout|oom|slow-unit)-" | sed "s|^|  reproducer: $artifacts/|"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]} (logs and reproducers in $artifacts)"
  exit 1
fi
