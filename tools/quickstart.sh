#!/usr/bin/env bash
# The README's first command: install dependencies, build, and run the main job on the
# embedded default model (models/debian-sections-s90b4-q8.sparq: a Debian-section
# classifier, 90 % block-sparse INT8) and the sample documents shipped with it, then the
# default generator (models/debian-llama-s70-q4.sparq: a small Llama, 70 % bitmap-sparse q4).
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

generator=models/debian-llama-s70-q4.sparq
echo
echo "== the default generator: a 1.3 M-parameter Llama, 70 % of its layers' weights pruned, q4 =="
build/sparq inspect "$generator" --json | /usr/bin/python3 -c '
import json, sys
ts = [t for t in json.load(sys.stdin)["tensors"] if t["name"].startswith("layers.") and len(t["shape"]) == 2]
disk, dense = sum(t["bytes_on_disk"] for t in ts), sum(t["bytes_as_f32"] for t in ts)
print("layer matrices: %.0f KiB as bitmap-sparse q4 vs %.0f KiB as dense f32 (%.1fx smaller)"
      % (disk / 1024, dense / 1024, dense / disk))'
build/sparq generate "$generator" --prompt $'Package: zstd\nSection: utils\nDescription:' -n 48
echo
echo "== its perplexity against the floor: at most 5 % above its dense baseline =="
/usr/bin/python3 models/check_default_generator.py build/sparq "$out/generator" | grep -E '^(floor|relative)'

