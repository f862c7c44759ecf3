#!/usr/bin/python3
"""Fine-tunes a trained debian-llama checkpoint (train_llama.py) with gradual magnitude pruning
(gradual_pruning.py: Zhu & Gupta cubic schedule, as train_classifier.py prunes the classifier)
of the 7 linear weights of every layer (q/k/v/o_proj, gate/up/down_proj; embeddings, norms and
lm_head stay dense) to `--sparsity S --pattern P`, and writes an HF checkpoint directory in
models/debian-llama's layout (config.json, model.safetensors F16 with exact zeros, the tokenizer
files copied) plus OUT/result.json (dev perplexity, sparsity per tensor, seconds, command).

`--sparsity 0` runs the same fine-tune without pruning: the control that separates what the
extra training steps gain from what pruning costs.

Data, loss, optimizer (AdamW 0.9/0.95, weight decay 0.1 on matrices, clipping 1.0), lr schedule
(warmup, cosine to 10 %) and dev perplexity (first --dev-docs dev documents, F16 weights computed
in float32) are train_llama.py's. The default seed (1) differs from the base run's (0), so the
fine-tune does not replay the base model's batches first.

    nice -n 19 /usr/bin/python3 models/train/prune_llama.py --from models/debian-llama \\
        --out /work/train-runs/debian-llama-gradual/s70 --sparsity 0.7 --pattern unstructured
"""

import argparse
import json
import os
import random
import shlex
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sp_bpe  # noqa: E402
import train_sp_tokenizer as tok_train  # noqa: E402
from gradual_pruning import Pruner, final_sparsity_of, parse_pattern  # noqa: E402
from llama_model import load_checkpoint, save_checkpoint  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402
from train_llama import (batches, cosine_lr, load_documents, log, make_optimizer, perplexity,  # noqa: E402
                         round_to_f16, to_tensors, train_step)

LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
# Everything of the source directory but the weights and config (written anew) and its README.
COPIED = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sp_scores.json",
          "generation_config.json")


def linear_weights(model):
    """{HF name: parameter} of the 7 linear weights of every decoder layer."""
    return {f"model.layers.{i}.{n}.weight": getattr(getattr(layer, n.split(".")[0]), n.split(".")[1]).weight
            for i, layer in enumerate(model.model.layers) for n in LINEARS}


def check_file(path, masks, pattern):
    """Reads the written safetensors back (stored dtype) and checks that every masked weight is an
    exact +0.0 and, for N:M, that every group of M holds at least M-N zeros. Returns the sparsity
    per tensor (all zeros in the file) and the number of kept weights F16 rounded to zero."""
    state = read_safetensors(path, float32=False)
    kind, nm = parse_pattern(pattern) if pattern else (None, None)
    sparsity, underflow = {}, {}
    for name, mask in masks.items():
        t = state[name]
        assert t.dtype == torch.float16, (name, t.dtype)
        bits = t.view(torch.int16)
        pruned = mask == 0
        if not bool((bits[pruned] == 0).all()):
            raise SystemExit(f"{path}: {name}: a pruned weight is not +0.0")
        zero = t == 0
        underflow[name] = int((zero & ~pruned).sum())
        if kind == "nm":
            n, m = nm
            if not bool((zero.reshape(t.shape[0], -1, m).sum(-1) >= m - n).all()):
                raise SystemExit(f"{path}: {name}: not {n}:{m}")
        sparsity[name] = round(float(zero.sum()) / t.numel(), 6)
    return sparsity, underflow


def write_readme(out, args, result):
    text = f"""# debian-llama, fine-tuned with gradual pruning

`models/debian-llama` fine-tuned {args.steps} steps of {args.batch_size} documents (lr {args.lr:g}, seed {args.seed})
by sparq's `models/train/prune_llama.py`, with gradual magnitude pruning of the 7 linear weights of
every layer ({'no pruning: the control run' if not result['pruned'] else
f"{args.pattern}, final sparsity {result['final_sparsity']:g}, reached at step {result['prune_end_step']}"}).
Embeddings, norms and `lm_head` are dense. F16 safetensors, HF `LlamaForCausalLM` names; tokenizer
as `models/debian-llama`'s.

    {result['command']}

Dev perplexity per token (first {result['dev_documents']:,} dev documents, {result['dev_tokens']:,} predicted tokens,
F16 weights in float32): **{result['dev_perplexity_f16']:.2f}**. Sparsity of the pruned linears:
{result['linear_sparsity']:.4f}.
"""
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from", dest="src", required=True, help="trained checkpoint directory (models/debian-llama)")
    ap.add_argument("--out", required=True, help="checkpoint directory to write")
    ap.add_argument("--data", default="/work/shared/data/debian-descriptions")
    ap.add_argument("--sparsity", type=float, default=0.0, help="final sparsity of the linears (0: no pruning, "
                    "the control; N:M needs 1 - N/M, e.g. 0.5 for 2:4)")
    ap.add_argument("--pattern", default="unstructured", help="unstructured, 4x4 or N:M (2:4, 4:8)")
    ap.add_argument("--scope", choices=["row", "tensor"], default="row",
                    help="unstructured/4x4 ranking: per output row (every row the same share) or whole tensor")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--prune-end", type=float, default=0.6,
                    help="fraction of the steps at which the cubic schedule reaches the final sparsity")
    ap.add_argument("--prune-every", type=int, default=10, help="steps between mask updates")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dev-docs", type=int, default=1000, help="perplexity on the first N dev documents (0: all)")
    ap.add_argument("--eval-from", action="store_true", help="also measure the --from checkpoint's dev perplexity")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--time-steps", type=int, default=0, help="only time this many steps, write nothing")
    args = ap.parse_args()
    try:
        parse_pattern(args.pattern)
        if not 0 <= args.sparsity < 1:
            raise ValueError(f"--sparsity {args.sparsity:g}: not in [0, 1)")
        final = final_sparsity_of(args.pattern, args.sparsity) if args.sparsity > 0 else 0.0
    except ValueError as e:
        sys.exit(str(e))
    command = "nice -n 19 /usr/bin/python3 models/train/prune_llama.py " + shlex.join(sys.argv[1:])

    t_start = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    pieces, _, merges = tok_train.load_tokenizer(args.src)
    encode = sp_bpe.hf_bpe_encoder(pieces, merges)
    model = load_checkpoint(args.src)
    max_len = model.cfg["max_position_embeddings"]
    train = load_documents(os.path.join(args.data, "train.jsonl"), encode, max_len)
    dev = load_documents(os.path.join(args.data, "dev.jsonl"), encode, max_len)
    if args.dev_docs:
        dev = dev[:args.dev_docs]
    log(f"tokenized: train {sum(map(len, train)):,} tokens, dev {sum(map(len, dev)):,}; {time.time() - t_start:.0f} s")
    result = {}
    if args.eval_from:
        t = time.time()
        ppl, n = perplexity(model, dev)
        result["from_dev_perplexity_f16"] = round(ppl, 3)
        log(f"{args.src}: dev perplexity {ppl:.3f} ({n:,} tokens, {time.time() - t:.0f} s)")

    model.train()
    weights = linear_weights(model)
    pruner = None
    if final > 0:
        pruner = Pruner(weights, final, args.pattern, int(round(args.prune_end * args.steps)), args.prune_every,
                        scope=args.scope)
        log(f"pruning {len(weights)} linears to {final:g} {args.pattern} ({args.scope} ranking) over "
            f"{pruner.end} of {args.steps} steps, masks every {args.prune_every}")
    opt = make_optimizer(model, args.lr)
    steps = args.time_steps or args.steps
    plan, step, t_train, running = [], 0, time.time(), []
    while step < steps:
        if not plan:
            plan = batches(train, args.batch_size, rng)
        ids, targets = to_tensors(train, plan.pop())
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, args.lr, args.warmup, args.steps)
        if pruner is not None:
            pruner.step(step)
        running.append(train_step(model, opt, ids, targets))
        step += 1
        if step % args.log_every == 0 or step == steps:
            target = f" target sparsity {pruner.sparsity_at(step - 1):.3f}" if pruner else ""
            log(f"step {step}/{steps} loss {np.mean(running):.3f} lr {cosine_lr(step - 1, args.lr, args.warmup, args.steps):.2e}"
                f"{target} {(time.time() - t_train) / step:.2f} s/step, {time.time() - t_start:.0f} s elapsed, "
                f"{time.process_time():.0f} s CPU")
            running = []
    if args.time_steps:
        return
    train_seconds = time.time() - t_train

    # The final masks exactly, as +0.0 (p * 0 of a negative weight is -0.0), then F16 rounding.
    masks = pruner.masks if pruner else {n: torch.ones_like(p) for n, p in weights.items()}
    with torch.no_grad():
        for n, p in weights.items():
            p.masked_fill_(masks[n] == 0, 0.0)
    round_to_f16(model)
    t = time.time()
    ppl, n_dev = perplexity(model, dev)
    log(f"dev perplexity {ppl:.3f} ({n_dev:,} tokens, {time.time() - t:.0f} s)")
    save_checkpoint(model, args.out, "F16")
    for name in COPIED:
        if os.path.exists(os.path.join(args.src, name)):
            shutil.copyfile(os.path.join(args.src, name), os.path.join(args.out, name))
    sparsity, underflow = check_file(os.path.join(args.out, "model.safetensors"), masks,
                                     args.pattern if pruner else None)
    total = sum(p.numel() for p in weights.values())
    result.update({
        "from": args.src, "pattern": args.pattern if pruner else None, "scope": args.scope if pruner else None,
        "final_sparsity": final, "pruned": pruner is not None,
        "dev_perplexity_f16": round(ppl, 3), "dev_documents": len(dev), "dev_tokens": n_dev,
        "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "warmup": args.warmup,
        "prune_end_step": pruner.end if pruner else None, "prune_every": args.prune_every, "seed": args.seed,
        "threads": args.threads,
        "linear_sparsity": round(sum(sparsity[n] * weights[n].numel() for n in weights) / total, 6),
        "sparsity_per_tensor": sparsity,
        "kept_weights_rounded_to_zero_by_f16": sum(underflow.values()),
        "train_seconds": round(train_seconds, 1), "seconds": round(time.time() - t_start, 1),
        "cpu_seconds": round(time.process_time(), 1),
        "command": command,
    })
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    write_readme(args.out, args, result)
    log(f"wrote {args.out}: dev perplexity {ppl:.3f}, linear sparsity {result['linear_sparsity']:.4f}, "
        f"{result['seconds']:.0f} s")
    print(json.dumps({k: v for k, v in result.items() if k != "sparsity_per_tensor"}))


if __name__ == "__main__":
    main()
