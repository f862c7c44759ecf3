#!/usr/bin/env bash
# The README's first command: install dependencies, build, and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake --preset release
cmake --build --preset release -j"$(nproc)"

echo
echo "== sparq hwinfo: this machine, its ISA features and measured limits =="
build/sparq hwinfo
echo
echo "== a BERT-base-shaped model, 90% sparse INT8, written and inspected =="
mkdir -p build/demo
build/sparq synth --arch bert --preset bert-base --weights q8 --sparsity 0.9 --embeddings f16 \
  -o build/demo/bert-base-sparse90-q8.sparq
build/sparq inspect build/demo/bert-base-sparse90-q8.sparq | tail -n 12
