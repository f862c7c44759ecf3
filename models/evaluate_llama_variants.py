#!/usr/bin/python3
"""The quality table of issue 18: debian-llama (models/debian-llama) dense, quantized, pruned
one-shot by magnitude, Wanda and SparseGPT, and pruned gradually in training, each converted
with `sparq convert` and measured with `sparq eval --perplexity` and greedy `sparq generate`.

    models/evaluate_llama_variants.py --out build/llama-variants [--gradual DIR ...]

Per variant: dev perplexity (the first 645 dev descriptions, tests/data/
debian-descriptions-dev-subset.jsonl, in 256-token windows, as the README's figure), its
ratio to its dense f32 baseline, and greedy agreement with that baseline on 100 dev prompts
("Package: ID\nSection: LABEL\nDescription:", 32 tokens): the share of continuations
identical to the baseline's, and the mean share of the baseline's characters that a
continuation reproduces before it first differs. The baseline of the one-shot variants is
models/debian-llama; a gradual run (models/train/prune_llama.py, `--gradual DIR ...`, its
pattern and sparsity from its result.json) trains 200 more steps, which alone lowers
perplexity, so its baseline is the control run (`--sparsity 0`: the same fine-tune, nothing
pruned), whose checkpoint must be among the --gradual directories. A gradual checkpoint is
converted with its zeros as they are. Calibration (Wanda, SparseGPT, GPTQ): the first 300
train descriptions, 133 KB. The LM head is quantized as the other matrices but not pruned.
Writes OUT/variants.json and prints a Markdown table. About 15 minutes on one core.
"""
import argparse
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DENSE = os.path.join(REPO, "models", "debian-llama")
DATA = os.path.join(os.path.dirname(REPO), "shared", "data", "debian-descriptions")


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def variants(gradual):
    """(name, method, pattern, precision, convert source, extra flags, baseline name)."""
    out = [("dense", "-", "-", "f32", DENSE, ["--weights", "f32"], "dense"),
           ("dense", "RTN", "-", "q8", DENSE, ["--weights", "q8:g32"], "dense"),
           ("dense", "GPTQ", "-", "q8", DENSE, ["--weights", "q8:g32", "--quantization", "gptq"], "dense"),
           ("dense", "RTN", "-", "q4", DENSE, ["--weights", "q4"], "dense"),
           ("dense", "GPTQ", "-", "q4", DENSE, ["--weights", "q4", "--quantization", "gptq"], "dense")]
    for sparsity, pattern in (("0.5", "unstructured"), ("0.7", "unstructured"), ("0.5", "2:4")):
        label = f"{float(sparsity):.0%} {pattern}" if pattern == "unstructured" else pattern
        for precision, weights in (("q8", "q8:g32"), ("q4", "q4")):
            prune = ["--weights", weights, "--prune", sparsity, "--pattern", pattern, "--exclude", "lm_head.weight"]
            out += [(label, "magnitude", pattern, precision, DENSE, prune, "dense"),
                    (label, "Wanda", pattern, precision, DENSE, prune + ["--prune-method", "wanda"], "dense"),
                    (label, "SparseGPT+GPTQ", pattern, precision, DENSE,
                     prune + ["--prune-method", "sparsegpt", "--quantization", "gptq"], "dense")]
    # The gradual runs train 200 more steps, which alone lowers perplexity: each is compared
    # with the control run (the same fine-tune, nothing pruned), converted first.
    results = []
    for directory in gradual:
        with open(os.path.join(directory, "result.json")) as f:
            results.append((directory, json.load(f)))
    for directory, result in sorted(results, key=lambda r: bool(r[1]["final_sparsity"])):
        sparsity, pattern = result["final_sparsity"], result["pattern"]
        if not sparsity:
            for precision, weights in (("f32", "f32"), ("q8", "q8:g32"), ("q4", "q4")):
                out.append(("control", "fine-tuned", "-", precision, directory, ["--weights", weights], "control"))
            continue
        label = f"{sparsity:.0%} {pattern}" if pattern == "unstructured" else pattern
        for precision, weights in (("q8", "q8:g32"), ("q4", "q4")):
            out.append((label, "gradual", pattern, precision, directory, ["--weights", weights], "control"))
    return out


def write_inputs(out):
    calibration = os.path.join(out, "calibration.txt")
    with open(os.path.join(DATA, "train.jsonl")) as f, open(calibration, "w") as c:
        c.write("\n\n".join(json.loads(line)["text"] for line, _ in zip(f, range(300))))
    dev = os.path.join(out, "dev.txt")
    with open(os.path.join(REPO, "tests", "data", "debian-descriptions-dev-subset.jsonl")) as f, open(dev, "w") as d:
        d.write("\n\n".join(json.loads(line)["text"] for line in f) + "\n")
    prompts = os.path.join(out, "prompts.jsonl")
    with open(os.path.join(DATA, "dev.jsonl")) as f, open(prompts, "w") as p:
        for line, _ in zip(f, range(100)):
            doc = json.loads(line)
            p.write(json.dumps({"id": doc["id"],
                                "prompt": f"Package: {doc['id']}\nSection: {doc['label']}\nDescription:"}) + "\n")
    return calibration, dev, prompts


def continuations(sparq, model, prompts, out):
    path = out + ".generated.jsonl"
    run([sparq, "generate", model, "--input", prompts, "-o", path, "-n", "32", "--batch-size", "16", "-q"])
    with open(path) as f:
        return [json.loads(line)["text"] for line in f]


def agreement(texts, dense):
    same = sum(t == d for t, d in zip(texts, dense)) / len(dense)
    prefix = []
    for t, d in zip(texts, dense):
        n = 0
        while n < min(len(t), len(d)) and t[n] == d[n]:
            n += 1
        prefix.append(n / len(d) if d else 1.0)
    return same, sum(prefix) / len(prefix)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sparq", default=os.path.join(REPO, "build", "sparq"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--gradual", nargs="*", default=[], help="checkpoint directories from prune_llama.py")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    calibration, dev, prompts = write_inputs(args.out)
    rows, baselines = [], {}  # baselines: name -> (perplexity, continuations) of its f32 row
    for i, (label, method, pattern, precision, source, flags, baseline) in enumerate(variants(args.gradual)):
        model = os.path.join(args.out, f"variant-{i:02d}.sparq")
        extra = ["--calibration", calibration] if any(m in flags for m in ("wanda", "sparsegpt", "gptq")) else []
        run([args.sparq, "convert", "--from", "hf", source, "-o", model, "-q"] + flags + extra)
        info = json.loads(run([args.sparq, "inspect", model, "--json"]))
        # The layers' matrices: what pruning and quantization shrink (embeddings stay f32).
        size = sum(t["bytes_on_disk"] for t in info["tensors"] if t["name"].startswith("layers.") and
                   len(t["shape"]) == 2)
        ppl = json.loads(run([args.sparq, "eval", model, "--perplexity", dev, "--context", "256", "--json", "-q"]))
        texts = continuations(args.sparq, model, prompts, model)
        if baseline not in baselines:
            baselines[baseline] = (ppl["perplexity"], texts)
        dense_ppl, dense_texts = baselines[baseline]
        same, prefix = agreement(texts, dense_texts)
        row = {"variant": label, "method": method, "precision": precision, "model": model, "baseline": baseline,
               "command": "sparq convert --from hf " + os.path.relpath(source, REPO) + " " + " ".join(flags + extra),
               "layer_matrix_bytes": size, "file_bytes": info["totals"]["file_bytes"], "perplexity": ppl["perplexity"], "relative_perplexity": ppl["perplexity"] / dense_ppl,
               "identical_continuations": same, "common_prefix": prefix}
        rows.append(row)
        print(f"{label:14s} {method:15s} {precision:4s} ppl {row['perplexity']:8.2f} "
              f"x{row['relative_perplexity']:.3f} same {same:.2f} prefix {prefix:.2f} {size / 1024:.0f} KiB",
              file=sys.stderr, flush=True)
    with open(os.path.join(args.out, "variants.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print("| variant | method | weights | dev perplexity | vs its dense f32 | identical greedy | common prefix | "
          "layers' matrices |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['variant']} | {r['method']} | {r['precision']} | {r['perplexity']:.2f} | "
              f"{r['relative_perplexity']:.3f}x ({r['baseline']}) | {r['identical_continuations']:.0%} | "
              f"{r['common_prefix']:.0%} | "
              f"{r['layer_matrix_bytes'] / 1024:.0f} KiB |")


if __name__ == "__main__":
    main()
