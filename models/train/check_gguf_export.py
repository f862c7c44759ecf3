#!/usr/bin/python3
"""End-to-end check of gguf_export.py against llama.cpp (bench/llama_cpp_peer.mjs):

1. the F32 export: llama.cpp's logits (F32 KV cache, no flash attention) at every position of
   N real-text sequences against numpy_llama_forward.py's float64 numpy forward of the HF
   checkpoint (proves the q/k permutation, the hyper-parameters and the tensor names);
2. the F16, Q8_0 and Q4_0 exports: llama.cpp's teacher-forced argmax against the reference's;
3. llama.cpp's tokenizer on the exported vocabulary against transformers.js on tokenizer.json
   (models/train/verify_tokenizer.mjs), on every given JSONL file.

Usage: check_gguf_export.py HF_DIR WORK_DIR [--n 32] [--len 64] [--threads 2]
           [--texts tests/data/debian-descriptions-dev-subset.jsonl tests/tokenizers/adversarial.jsonl]
Prints one JSON summary; exit 1 if logits differ by more than --tolerance (1e-3, relative to
the largest logit), F32 argmax disagrees anywhere or the tokenizers differ on any string;
exit 77 (skipped) when node-llama-cpp is not installed.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
PEER = os.path.join(ROOT, "bench", "llama_cpp_peer.mjs")


def run(args, stdout_path=None):
    with open(stdout_path, "w") if stdout_path else open(os.devnull, "w") as out:
        subprocess.run(args, check=True, stdout=out if stdout_path else None, stderr=subprocess.DEVNULL)


def peer(args, threads, stdout_path):
    run(["node", PEER] + args + ["--threads", str(threads)], stdout_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hf_dir")
    ap.add_argument("work")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--len", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tolerance", type=float, default=1e-3)
    ap.add_argument("--texts", nargs="+", default=[os.path.join(ROOT, "tests", "data", "debian-descriptions-dev-subset.jsonl"),
                                                  os.path.join(ROOT, "tests", "tokenizers", "adversarial.jsonl")])
    args = ap.parse_args()
    modules = os.environ.get("SPARQ_NODE_MODULES") or os.path.join(ROOT, "tools", "node", "node_modules")
    if not os.path.isdir(os.path.join(modules, "node-llama-cpp")):
        print(f"skipped: no node-llama-cpp in {modules} (tools/install-deps.sh installs it)")
        return 77
    os.makedirs(args.work, exist_ok=True)
    w = lambda name: os.path.join(args.work, name)
    for t in ("f32", "f16", "q8_0", "q4_0"):
        run([sys.executable, os.path.join(HERE, "gguf_export.py"), args.hf_dir, w(f"model-{t}.gguf"), "--type", t])
    summary = {"tokenizer": {}, "argmax_agreement": {}}
    ok = True
    for texts in args.texts:
        name = os.path.splitext(os.path.basename(texts))[0]
        peer(["tokenize", w("model-f32.gguf"), texts], args.threads, w(f"ids-{name}.jsonl"))
        result = subprocess.run(["node", os.path.join(HERE, "verify_tokenizer.mjs"), args.hf_dir, texts,
                                 w(f"ids-{name}.jsonl")], check=True, capture_output=True, text=True)
        summary["tokenizer"][name] = json.loads(result.stdout.strip().splitlines()[-1])
        ok &= summary["tokenizer"][name]["mismatches"] == 0
    with open(w(f"ids-{os.path.splitext(os.path.basename(args.texts[0]))[0]}.jsonl")) as f:
        sequences = [ids[:args.len] for ids in map(json.loads, f) if len(ids) >= 8][:args.n]
    with open(w("tokens.json"), "w") as f:
        json.dump(sequences, f)
    run([sys.executable, os.path.join(HERE, "numpy_llama_forward.py"), args.hf_dir, w("tokens.json"), w("reference.json")])
    with open(w("reference.json")) as f:
        reference = json.load(f)
    peer(["logits", w("model-f32.gguf"), w("tokens.json")], args.threads, w("peer-f32.json"))
    with open(w("peer-f32.json")) as f:
        got = json.load(f)
    ref_logits = np.concatenate([np.array(l) for l in reference["logits"]])
    got_logits = np.concatenate([np.array(l) for l in got["logits"]])
    worst = float(np.abs(ref_logits - got_logits).max() / np.abs(ref_logits).max())
    summary["f32_logits_max_rel_diff"] = worst
    ok &= worst <= args.tolerance
    ref_argmax = np.concatenate(reference["argmax"])
    for t in ("f32", "f16", "q8_0", "q4_0"):
        if t != "f32":
            peer(["argmax", w(f"model-{t}.gguf"), w("tokens.json")], args.threads, w(f"peer-{t}.json"))
            with open(w(f"peer-{t}.json")) as f:
                got = json.load(f)
        agreement = float((np.concatenate(got["argmax"]) == ref_argmax).mean())
        summary["argmax_agreement"][t] = agreement
        ok &= t != "f32" or agreement == 1.0
    summary["positions"] = int(ref_argmax.size)
    print(json.dumps(summary, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
