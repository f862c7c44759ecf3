#!/usr/bin/env bash
# The README's first command: install dependencies, build, and run the main job on the
# embedded default model (models/debian-sections-s90b4-q8.sparq: a Debian-section
# classifier, 90 % block-sparse INT8) and the sample documents shipped with it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake --preset release
cmake --build --preset release -j"$(nproc)"

model=models/debian-sections-s90b4-q8.sparq
docs=models/sample-docs.jsonl
out=build/demo
mkdir -p "$out"

echo
echo "== the default model: size against its dense f32 form =="
build/sparq inspect "$model" --json | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)["totals"]
disk, dense = t["bytes_on_disk"], t["bytes_as_f32"]
print("%d tensors, %.2f M parameters: %.1f MiB on disk vs %.1f MiB as dense f32 (%.1fx smaller)"
      % (t["tensors"], t["parameters"] / 1e6, disk / 2**20, dense / 2**20, dense / disk))'
echo
echo "== classify the $(wc -l < "$docs") sample documents (results: $out/predictions.jsonl) =="
build/sparq classify "$model" --input "$docs" --output "$out/predictions.jsonl"
head -n 2 "$out/predictions.jsonl" | cut -c 1-160
echo
echo "== accuracy against a floor (the sample carries the true Debian sections) =="
build/sparq eval "$model" --input "$docs" --floor accuracy=0.70 -q > "$out/eval.txt"
build/sparq eval "$model" --input "$docs" --floor accuracy=0.70 -q --json > "$out/eval.json"
sed -n '1,3p;/^floor/p' "$out/eval.txt"
echo "(per-class precision/recall: $out/eval.txt)"
echo
echo "== throughput on this machine, and what a deployment would cost =="
build/sparq bench "$model" --input "$docs" --seconds 2 --repeat 3 --json > "$out/bench.json"
# Exit 3 is a plan too: the quality floor missed or no option feasible, said in its verdict.
build/sparq plan --bench "$out/bench.json" --eval "$out/eval.json" --workload models/example-workload.yaml \
  --html "$out/plan.html" > "$out/plan.txt" || [ $? -eq 3 ]
sed -n '1,12p' "$out/plan.txt"
echo "(the whole plan: $out/plan.txt and $out/plan.html)"
