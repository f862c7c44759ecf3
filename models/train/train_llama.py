#!/usr/bin/python3
"""Trains the project's small Llama (models/debian-llama) from scratch on the Debian descriptions:
a SentencePiece-style BPE tokenizer (train_sp_tokenizer.py), then a causal LM over documents

    <s>Package: {id}\\nSection: {label}\\nDescription: {text}</s>

truncated to the context. Writes an HF LlamaForCausalLM checkpoint directory (F16 safetensors,
config.json, generation_config.json, tokenizer files, README.md) and prints dev perplexity.

    nice -n 19 /usr/bin/python3 models/train/train_llama.py --out models/debian-llama
"""

import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sp_bpe  # noqa: E402
import train_sp_tokenizer as tok_train  # noqa: E402
from llama_model import LlamaForCausalLM, llama_config, load_checkpoint, save_checkpoint  # noqa: E402
from train_classifier import cpu_has_native_bf16  # noqa: E402

PROMPT = "Package: {id}\nSection: {label}\nDescription: {text}"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_documents(path, encode, max_len):
    docs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                ids = [sp_bpe.BOS_ID] + encode(PROMPT.format(**d)) + [sp_bpe.EOS_ID]
                docs.append(ids[:max_len])
    return docs


def batches(docs, batch_size, rng):
    """Length-bucketed batches (sort a shuffled window of 50 batches by length) to waste little
    compute on padding; padded positions carry target -100."""
    order = list(range(len(docs)))
    rng.shuffle(order)
    window = batch_size * 50
    out = []
    for w in range(0, len(order), window):
        chunk = sorted(order[w:w + window], key=lambda i: len(docs[i]))
        out.extend(chunk[k:k + batch_size] for k in range(0, len(chunk), batch_size))
    rng.shuffle(out)
    return out


def to_tensors(docs, idx):
    t = max(len(docs[i]) for i in idx)
    ids = torch.zeros(len(idx), t, dtype=torch.long)
    targets = torch.full((len(idx), t), -100, dtype=torch.long)
    for r, i in enumerate(idx):
        d = torch.tensor(docs[i])
        ids[r, :len(d)] = d
        targets[r, :len(d) - 1] = d[1:]
    return ids, targets


def lm_loss(model, ids, targets):
    logits = model(ids)
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=-100, reduction="sum")


@torch.no_grad()
def perplexity(model, docs, batch_size=32):
    model.eval()
    total, n = 0.0, 0
    idx = sorted(range(len(docs)), key=lambda i: len(docs[i]))
    for k in range(0, len(idx), batch_size):
        ids, targets = to_tensors(docs, idx[k:k + batch_size])
        total += lm_loss(model, ids, targets).item()
        n += int((targets != -100).sum())
    model.train()
    return math.exp(total / n), n


def make_optimizer(model, lr):
    """AdamW, betas 0.9/0.95, weight decay 0.1 on the matrices (embeddings, linears), none on norms."""
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95))


def cosine_lr(step, lr, warmup, steps):
    """Linear warmup over `warmup` steps, then cosine decay to 10 % of `lr` at `steps`."""
    if step < warmup:
        return lr * (step + 1) / warmup
    p = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def train_step(model, opt, ids, targets, bf16=False):
    """One AdamW step on the mean next-token loss of the batch, gradients clipped to norm 1.0;
    returns the loss."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = lm_loss(model, ids, targets) / int((targets != -100).sum())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()


@torch.no_grad()
def round_to_f16(model):
    """Rounds every parameter to F16 in place (kept float32): what an F16 checkpoint holds."""
    for p in model.parameters():
        p.copy_(p.half().float())


def write_model_readme(out, args, cfg, result):
    n_params = result["parameters"]
    text = f"""# debian-llama

A {n_params / 1e6:.2f} M-parameter Llama ({cfg['num_hidden_layers']} layers, hidden {cfg['hidden_size']},
{cfg['num_attention_heads']} heads / {cfg['num_key_value_heads']} KV heads, FFN {cfg['intermediate_size']},
vocab {cfg['vocab_size']}, context {cfg['max_position_embeddings']}) trained from scratch by sparq's
`models/train/train_llama.py` on the train split of the Debian package descriptions
(`debian-descriptions/train.jsonl`, 44,846 documents). It is a test model for sparq's decoder
path, not a useful language model.

Each document is `<s>Package: {{id}}\\nSection: {{label}}\\nDescription: {{text}}</s>`, truncated to
{args.max_len} tokens. Tokenizer: SentencePiece-style BPE with byte fallback in Hugging Face's
Llama-2 layout (`tokenizer.json`; `sp_scores.json` holds each piece's SentencePiece score).
Weights: F16 safetensors, HF `LlamaForCausalLM` names.

Made by ({args.steps} steps of {args.batch_size} documents, seed {args.seed}, {result['train_seconds'] / 60:.1f} min wall
including tokenizer training, on 2 shared vCPUs, `nice -n 19`, {args.threads} thread(s)):

    nice -n 19 /usr/bin/python3 models/train/train_llama.py --out models/debian-llama

Dev perplexity per token (all {result['dev_tokens']:,} predicted tokens of the first
{result['dev_documents']:,} dev documents, F16 weights evaluated in float32): **{result['dev_perplexity_f16']:.2f}**.
"""
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(text)


def evaluate_only(args):
    torch.set_num_threads(args.threads)
    pieces, _, merges = tok_train.load_tokenizer(args.out)
    dev = load_documents(os.path.join(args.data, "dev.jsonl"), sp_bpe.hf_bpe_encoder(pieces, merges), args.max_len)
    if args.dev_docs:
        dev = dev[:args.dev_docs]
    t0 = time.time()
    ppl, n = perplexity(load_checkpoint(args.out), dev)
    print(json.dumps({"dev_documents": len(dev), "dev_tokens": n, "dev_perplexity": round(ppl, 3),
                      "seconds": round(time.time() - t0, 1)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/work/shared/data/debian-descriptions")
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab-size", type=int, default=2048)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=352)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=220)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    # One thread: on the shared 2-vCPU machine (load ~9) a step took 4.2 s with one thread and
    # 8.5 s with two; bf16 autocast was no faster than fp32 at these small shapes (8.7 s).
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="fp32",
                    help="auto: bf16 autocast (fp32 master weights) where the CPU has native bf16")
    ap.add_argument("--dev-docs", type=int, default=1000,
                    help="perplexity on the first N dev documents (0: all; all costs ~4 min here)")
    ap.add_argument("--time-steps", type=int, default=0, help="only time this many steps, write nothing")
    ap.add_argument("--evaluate-only", action="store_true",
                    help="no training: dev perplexity of the checkpoint already in --out (see --dev-docs)")
    args = ap.parse_args()
    if args.evaluate_only:
        evaluate_only(args)
        return

    t_start = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    bf16 = args.precision == "bf16" or (args.precision == "auto" and cpu_has_native_bf16())

    train_path = os.path.join(args.data, "train.jsonl")
    pieces, scores = tok_train.build_vocab(tok_train.read_texts(train_path), args.vocab_size)
    os.makedirs(args.out, exist_ok=True)
    merges = tok_train.write_tokenizer(args.out, pieces, scores, args.max_len)
    encode = sp_bpe.hf_bpe_encoder(pieces, merges)
    train = load_documents(train_path, encode, args.max_len)
    dev = load_documents(os.path.join(args.data, "dev.jsonl"), encode, args.max_len)
    if args.dev_docs:
        dev = dev[:args.dev_docs]
    log(f"tokenized: train {sum(map(len, train)):,} tokens, dev {sum(map(len, dev)):,}; "
        f"{time.time() - t_start:.0f} s")

    cfg = llama_config(len(pieces), args.hidden, args.layers, args.heads, args.kv_heads, args.ffn, args.max_len)
    model = LlamaForCausalLM(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"{n_params:,} parameters, bf16 autocast: {bf16}")
    opt = make_optimizer(model, args.lr)

    def lr_at(step):
        return cosine_lr(step, args.lr, args.warmup, args.steps)

    steps = args.time_steps or args.steps
    plan, step, t_train, running = [], 0, time.time(), []
    model.train()
    while step < steps:
        if not plan:
            plan = batches(train, args.batch_size, rng)
        ids, targets = to_tensors(train, plan.pop())
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        running.append(train_step(model, opt, ids, targets, bf16))
        step += 1
        if step % 50 == 0 or step == steps:
            log(f"step {step}/{steps} loss {np.mean(running):.3f} lr {lr_at(step - 1):.2e} "
                f"{(time.time() - t_train) / step:.2f} s/step")
            running = []
    if args.time_steps:
        return

    # Evaluate what is shipped: the weights rounded to F16, computed in float32.
    round_to_f16(model)
    ppl, n_dev = perplexity(model, dev)
    train_seconds = time.time() - t_start
    result = {"dev_perplexity_f16": round(ppl, 3), "dev_tokens": n_dev, "parameters": n_params,
              "dev_documents": len(dev), "steps": args.steps, "batch_size": args.batch_size, "bf16_autocast": bf16,
              "train_seconds": round(train_seconds, 1)}
    log(json.dumps(result))
    save_checkpoint(model, args.out, "F16")
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": sp_bpe.BOS_ID, "eos_token_id": sp_bpe.EOS_ID, "do_sample": False,
                   "max_length": args.max_len}, f, indent=2)
        f.write("\n")
    write_model_readme(args.out, args, cfg, result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
