#!/usr/bin/python3
"""The default generator against its perplexity floor: models/debian-llama-s70-q4.sparq (70 %
bitmap-sparse q4) at most 5 % above its dense baseline, models/debian-llama-s70-q4-baseline
in f32, on the dev descriptions of tests/data (as the README's quality table measures it).

    models/check_default_generator.py SPARQ WORK_DIR

Converts the baseline to f32, runs `sparq eval --perplexity --baseline --floor relative=1.05`
and checks that the generator continues a prompt. Exit status 0 when both hold; the eval's
status (3: the floor missed) otherwise.
"""
import json
import os
import subprocess
import sys

MODELS = os.path.dirname(os.path.abspath(__file__))
GENERATOR = os.path.join(MODELS, "debian-llama-s70-q4.sparq")
BASELINE = os.path.join(MODELS, "debian-llama-s70-q4-baseline")
DEV = os.path.join(os.path.dirname(MODELS), "tests", "data", "debian-descriptions-dev-subset.jsonl")


def main():
    sparq, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    dense = os.path.join(work, "baseline-f32.sparq")
    subprocess.run([sparq, "convert", "--from", "hf", BASELINE, "-o", dense, "-q"], check=True,
                   stdout=subprocess.DEVNULL)
    dev = os.path.join(work, "dev.txt")
    with open(DEV) as f, open(dev, "w") as d:
        d.write("\n\n".join(json.loads(line)["text"] for line in f) + "\n")
    floor = subprocess.run([sparq, "eval", GENERATOR, "--perplexity", dev, "--context", "256", "--baseline", dense,
                            "--floor", "relative=1.05", "-q"])
    generated = json.loads(subprocess.run(
        [sparq, "generate", GENERATOR, "--prompt", "Package: zstd\nSection: utils\nDescription:", "-n", "24", "--json"],
        check=True, capture_output=True, text=True).stdout)
    print(f"continuation ({generated['generated_tokens']} tokens): {generated['text']!r}")
    if floor.returncode != 0:
        sys.exit(floor.returncode)
    sys.exit(0 if generated["generated_tokens"] > 0 and generated["text"].strip() else 1)


if __name__ == "__main__":
    main()
