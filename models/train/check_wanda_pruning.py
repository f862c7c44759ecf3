#!/usr/bin/env python3
"""sparq's Wanda pruning against wanda_reference.py on the same checkpoint and tokens.

  check_wanda_pruning.py SPARQ CHECKPOINT_DIR TEXT.jsonl WORK_DIR [--records N]

The calibration text is the first N records of TEXT.jsonl joined by blank lines; its tokens
are sparq's (`sparq tokenize` with the converted model's tokenizer), so both sides see the
same ids. For 50 % unstructured and 2:4, `sparq convert --prune-method wanda` writes f32
dense weights; every kept weight must equal the checkpoint's and the pruned set must equal
the reference's mask. The input norms come from two different forwards (sparq's f32 kernels,
PyTorch), so a score on the boundary between pruned and kept may land on either side: every
disagreement must be such a near tie (its score within 1e-4, relative, of its row's or
group's boundary) and they must be rare (at most 1 in 10^4 weights). Exit status 1 otherwise.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np

from wanda_reference import wanda_masks

TIE_TOLERANCE = 1e-4
MAX_DISAGREEMENT = 1e-4


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def sparq_tensors(sparq, path):
    info = json.loads(run([sparq, "inspect", path, "--json"]))
    out = {}
    with open(path, "rb") as f:
        data = f.read()
    for t in info["tensors"]:
        if t["encoding"] != "f32":
            continue
        n = int(np.prod(t["shape"]))
        out[t["name"]] = np.frombuffer(data, dtype="<f4", count=n, offset=t["offset"]).reshape(t["shape"])
    return info["metadata"], out


def hf_sources(sparq_name):
    """The checkpoint's linear layers a sparq weight holds, stacked by rows."""
    if sparq_name == "lm_head.weight":
        return ["lm_head"]
    parts = sparq_name.split(".")
    i, kind = parts[1], ".".join(parts[2:4])
    p = f"model.layers.{i}."
    return {"attention.qkv": [p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"],
            "attention.output": [p + "self_attn.o_proj"], "ffn.gate": [p + "mlp.gate_proj"],
            "ffn.up": [p + "mlp.up_proj"], "ffn.down": [p + "mlp.down_proj"]}[kind]


def near_tie(score, keep, where, group):
    """True when the disagreeing entries of each row (group: columns per group) sit at the
    reference's boundary between its highest pruned and lowest kept score."""
    rows, cols = score.shape
    s = score.reshape(rows, cols // group, group)
    k = keep.reshape(s.shape)
    w = where.reshape(s.shape)
    for r, g in zip(*np.nonzero(w.any(axis=2))):
        pruned, kept = s[r, g][~k[r, g]], s[r, g][k[r, g]]
        boundary = (pruned.max() + kept.min()) / 2
        if np.any(np.abs(s[r, g][w[r, g]] - boundary) > TIE_TOLERANCE * max(boundary, 1e-30)):
            return False
    return True


def check(args, pattern, calib, ids, calib_sha):
    out = os.path.join(args.work_dir, f"wanda-{pattern.replace(':', 'of')}.sparq")
    run([args.sparq, "convert", "--from", "hf", args.checkpoint, "-o", out, "--weights", "f32", "--no-sparse",
         "--prune", "0.5", "--pattern", pattern, "--prune-method", "wanda", "--calibration", calib, "-q"])
    meta, tensors = sparq_tensors(args.sparq, out)
    comp = meta["compression"]
    ok = comp["recipe"]["method"] == "wanda" and comp["calibration"]["sha256"] == calib_sha and \
        comp["calibration"]["tokens"] == len(ids)
    if not ok:
        print(f"{pattern}: provenance {comp.get('recipe')} {comp.get('calibration')} does not name the run")
    reference = wanda_masks(args.checkpoint, ids, pattern, 0.5)
    group = int(pattern.split(":")[1]) if ":" in pattern else None
    total = disagree = 0
    for name in sorted(tensors):
        if not name.endswith(".weight") or name.startswith("embeddings.") or "norm" in name:
            continue
        parts = [reference[h] for h in hf_sources(name)]
        w = np.concatenate([p[0] for p in parts])
        score = np.concatenate([p[1] for p in parts])
        keep = np.concatenate([p[2] for p in parts])
        got = tensors[name]
        if got.shape != w.shape:
            print(f"{name}: sparq {got.shape}, reference {w.shape}")
            return False
        kept = got != 0
        if not np.array_equal(got[kept], w[kept]):
            print(f"{name}: kept weights differ from the checkpoint's")
            ok = False
        nonzero = w != 0  # a zero weight counts as pruned either way
        where = (kept != keep) & nonzero
        total += w.size
        disagree += int(where.sum())
        if where.any() and not near_tie(score, keep, where, group or w.shape[1]):
            print(f"{name}: {int(where.sum())} mask disagreement(s), not all near ties")
            ok = False
    print(f"{pattern}: {disagree} of {total} weights pruned differently from the reference (near ties), "
          f"{len(ids)} calibration tokens")
    if disagree > MAX_DISAGREEMENT * total:
        print(f"{pattern}: more than {MAX_DISAGREEMENT * total:.0f} disagreements")
        ok = False
    return ok


def calibration_run(sparq, checkpoint, text, work_dir, records):
    """The calibration text (the first `records` texts of TEXT.jsonl joined by blank lines),
    its SHA-256 and sparq's token ids for it."""
    os.makedirs(work_dir, exist_ok=True)
    with open(text) as f:
        texts = [json.loads(line)["text"] for line, _ in zip(f, range(records))]
    calib = os.path.join(work_dir, "calibration.txt")
    with open(calib, "w") as f:
        f.write("\n\n".join(texts))
    with open(calib, "rb") as f:
        calib_sha = hashlib.sha256(f.read()).hexdigest()
    dense = os.path.join(work_dir, "dense.sparq")
    run([sparq, "convert", "--from", "hf", checkpoint, "-o", dense, "-q"])
    record = os.path.join(work_dir, "calibration.jsonl")
    with open(calib) as f, open(record, "w") as r:
        r.write(json.dumps({"text": f.read()}) + "\n")
    ids = json.loads(run([sparq, "tokenize", dense, "--input", record]).splitlines()[0])["ids"]
    return calib, calib_sha, ids


def arguments():
    ap = argparse.ArgumentParser()
    ap.add_argument("sparq")
    ap.add_argument("checkpoint")
    ap.add_argument("text")
    ap.add_argument("work_dir")
    ap.add_argument("--records", type=int, default=24)
    return ap.parse_args()


def main():
    args = arguments()
    calib, calib_sha, ids = calibration_run(args.sparq, args.checkpoint, args.text, args.work_dir, args.records)
    ok = all([check(args, p, calib, ids, calib_sha) for p in ("unstructured", "2:4")])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
