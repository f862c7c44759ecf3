#!/usr/bin/python3
"""The shipped generator against its perplexity floor: at most 5 % above the dense f32
debian-llama it was compressed from, on the dev descriptions of tests/data (as the quality
table in the README measures it).

    models/check_default_generator.py SPARQ GENERATOR.sparq WORK_DIR

Converts models/debian-llama to dense f32 as the baseline, runs `sparq eval --perplexity
--baseline --floor relative=1.05` (exit status 3 when the floor is missed, passed on) and
checks that the generator continues a prompt. Exit status 0 when both hold.
"""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    sparq, generator, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    dense = os.path.join(work, "debian-llama-f32.sparq")
    subprocess.run([sparq, "convert", "--from", "hf", os.path.join(REPO, "models", "debian-llama"), "-o", dense, "-q"],
                   check=True, stdout=subprocess.DEVNULL)
    dev = os.path.join(work, "dev.txt")
    with open(os.path.join(REPO, "tests", "data", "debian-descriptions-dev-subset.jsonl")) as f, open(dev, "w") as d:
        d.write("\n\n".join(json.loads(line)["text"] for line in f) + "\n")
    floor = subprocess.run([sparq, "eval", generator, "--perplexity", dev, "--context", "256", "--baseline", dense,
                            "--floor", "relative=1.05", "-q"])
    text = subprocess.run([sparq, "generate", generator, "--prompt", "Package: zstd\nSection: utils\nDescription:",
                           "-n", "24", "--json"], check=True, capture_output=True, text=True).stdout
    generated = json.loads(text)
    print(f"continuation ({generated['generated_tokens']} tokens): {generated['text']!r}")
    ok = floor.returncode == 0 and generated["generated_tokens"] > 0 and generated["text"].strip()
    sys.exit(0 if ok else floor.returncode or 1)


if __name__ == "__main__":
    main()
