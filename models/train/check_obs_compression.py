#!/usr/bin/env python3
"""sparq's SparseGPT and GPTQ against obs_reference.py on the same checkpoint and tokens.

  check_obs_compression.py SPARQ CHECKPOINT_DIR TEXT.jsonl WORK_DIR [--records N]

The calibration text and its tokens are made as check_wanda_pruning.py makes them. X^T X
comes from the PyTorch Llama (wanda_reference.input_statistics), sparq's from its own f32
forward; the reference compresses each weight from the checkpoint with it. Three
conversions, each decoded tensor by tensor (`sparq inspect --tensor --npy`):
  gptq-q4        --weights q4 --quantization gptq          (GPTQ alone, q4 in groups of 32)
  sparsegpt-50   --weights f32 --prune 0.5 --prune-method sparsegpt  (unstructured)
  sparsegpt-2:4  --weights q8:g32 --prune 0.5 --pattern 2:4 --prune-method sparsegpt
                 --quantization gptq                        (joint, q8 in groups of 32)
The two sides' X^T X differ in the last bits, so a rounding or mask decision at a near tie
may go either way and then change the rest of its row. So: at least 98 % of all rows must
equal the reference's (to 1e-4 relative), and each tensor's output error
||(W' - W) X||^2 / ||W X||^2 must be within 2 % of the reference's. GPTQ must also beat
round-to-nearest on the same grid, summed over the tensors. Exit status 1 otherwise.
"""
import os
import sys

import numpy as np

from check_wanda_pruning import arguments, calibration_run, hf_sources, run
from llama_model import load_checkpoint
from obs_reference import obs_compress, output_error, rtn
from wanda_reference import input_statistics

MIN_ROWS_EQUAL = 0.98
ERROR_TOLERANCE = 0.02

VARIANTS = {
    "gptq-q4": (["--weights", "q4", "--quantization", "gptq"], dict(grid=(7, 32))),
    "sparsegpt-50": (["--weights", "f32", "--prune", "0.5", "--prune-method", "sparsegpt"],
                     dict(prune="unstructured", sparsity=0.5)),
    "sparsegpt-2of4": (["--weights", "q8:g32", "--prune", "0.5", "--pattern", "2:4", "--prune-method", "sparsegpt",
                        "--quantization", "gptq"], dict(prune=(2, 4), grid=(127, 32))),
}


def reference_inputs(checkpoint, ids):
    """{sparq linear name: (W stacked as sparq stores it, X^T X)}."""
    model = load_checkpoint(checkpoint)
    _, grams = input_statistics(model, ids, grams=True)
    weights = {name: m.weight.detach().double().numpy() for name, m in model.named_modules()
               if name == "lm_head" or name.endswith("_proj")}
    out = {}
    for i in range(model.cfg["num_hidden_layers"]):
        for kind in ("attention.qkv", "attention.output", "ffn.gate", "ffn.up", "ffn.down"):
            name = f"layers.{i}.{kind}.weight"
            sources = hf_sources(name)
            out[name] = (np.concatenate([weights[s] for s in sources]), grams[sources[0]])
    out["lm_head.weight"] = (weights["lm_head"], grams["lm_head"])
    return out


def decoded(sparq, path, name, work_dir):
    npy = os.path.join(work_dir, "tensor.npy")
    run([sparq, "inspect", path, "--tensor", name, "--npy", npy])
    return np.load(npy).astype(np.float64)


def check(args, variant, calib, inputs):
    flags, ref_options = VARIANTS[variant]
    out = os.path.join(args.work_dir, f"{variant}.sparq")
    run([args.sparq, "convert", "--from", "hf", args.checkpoint, "-o", out, "--no-sparse", "--calibration", calib,
         "-q"] + flags)
    ok, rows_equal, rows_total = True, 0, 0
    rtn_error = obs_error = 0.0
    for name, (w, gram) in inputs.items():
        got = decoded(args.sparq, out, name, args.work_dir)
        want = obs_compress(w, gram, **ref_options).numpy()
        if got.shape != want.shape:
            print(f"{variant} {name}: sparq {got.shape}, reference {want.shape}")
            return False
        same = np.all(np.abs(got - want) <= 1e-4 * np.abs(want) + 1e-6 * np.abs(w).max(), axis=1)
        rows_equal += int(same.sum())
        rows_total += len(same)
        e_sparq, e_ref = output_error(got, w, gram), output_error(want, w, gram)
        if abs(e_sparq - e_ref) > ERROR_TOLERANCE * e_ref + 1e-12:
            print(f"{variant} {name}: output error {e_sparq:.6g}, reference {e_ref:.6g}")
            ok = False
        if "grid" in ref_options and "prune" not in ref_options:
            obs_error += e_ref
            rtn_error += output_error(rtn(w, *ref_options["grid"]), w, gram)
    print(f"{variant}: {rows_equal} of {rows_total} rows equal the reference's")
    if rows_equal < MIN_ROWS_EQUAL * rows_total:
        print(f"{variant}: fewer than {MIN_ROWS_EQUAL:.0%} of rows equal")
        ok = False
    if rtn_error:
        print(f"{variant}: summed output error GPTQ {obs_error:.6g}, round to nearest {rtn_error:.6g}")
        ok = ok and obs_error < rtn_error
    return ok


def main():
    args = arguments()
    calib, _, ids = calibration_run(args.sparq, args.checkpoint, args.text, args.work_dir, args.records)
    inputs = reference_inputs(args.checkpoint, ids)
    ok = all([check(args, v, calib, inputs) for v in VARIANTS])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
