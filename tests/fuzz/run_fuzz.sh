#!/usr/bin/env bash
# Runs the .sparq reader fuzzer for a bounded time on a seed corpus of valid files.
# Usage: tests/fuzz/run_fuzz.sh SPARQ_BINARY FUZZER_BINARY SECONDS
set -euo pipefail
sparq=$1 fuzzer=$2 seconds=${3:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
small=(--config vocab_size=16 --config max_positions=8 --config hidden_size=8 --config num_heads=2
       --config intermediate_size=12 --config num_layers=1)
i=0
for spec in "f32" "f16" "q8" "q8:g4" "q4:g32" "q4:g32:asym" "csr:q8 --sparsity 0.7" \
            "csr:f32 --sparsity 0.5" "csr:q4 --sparsity 0.6" "bsr:q8:4x1 --sparsity 0.5" \
            "bsr:f32:1x4 --sparsity 0.5" "q8 --compress"; do
  # shellcheck disable=SC2086
  "$sparq" synth --arch bert --preset bert-tiny "${small[@]}" --weights $spec -o "$work/seed.sparq" 2>/dev/null
  # The first byte selects the fuzzer's mode: 0 = bytes as they are, 1 = checksums fixed up.
  for mode in 0 1; do
    { printf "\\x0$mode"; cat "$work/seed.sparq"; } > "$work/corpus/seed_${i}_$mode"
  done
  i=$((i + 1))
done
echo "fuzzing the .sparq reader for ${seconds}s on $(ls "$work/corpus" | wc -l) seeds"
mkdir -p "${FUZZ_ARTIFACTS:-$PWD}"
"$fuzzer" -artifact_prefix="${FUZZ_ARTIFACTS:-$PWD}/" -max_total_time="$seconds" -rss_limit_mb=4096 -malloc_limit_mb=4096 -print_final_stats=1 \
  "$work/corpus" 2>&1 | tail -n 15
