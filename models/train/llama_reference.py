#!/usr/bin/python3
"""The PyTorch reference sparq's decoder tests compare against: loads a Hugging Face
Llama / Qwen2 / Mistral-shaped checkpoint directory (safetensors F32, F16 or BF16, single file or
sharded with model.safetensors.index.json) into llama_model.py and computes in float32.

Modes:
  logits      full logits at every position of every prompt
  greedy      greedy continuation (argmax, ties to the lowest id) of each prompt, stopping at EOS
  perplexity  perplexity of a text file with sliding windows, as Hugging Face's perplexity guide:
              windows of --context tokens every --stride tokens; the first window scores all its
              tokens, later ones only the tokens not scored before (the rest is context)

Prompts (--prompts, JSONL): one object per line with "ids" (token ids, used as given: include the
BOS yourself) or "text" (encoded with the checkpoint's tokenizer.json, which must be the Llama-2
SentencePiece-BPE layout, BOS prepended; special-token strings such as "</s>" in the text become their ids, as in HF).
An optional "id" field is copied to the output.

Examples:
  llama_reference.py logits --model models/debian-llama --prompts p.jsonl --out build/ref
      -> build/ref.json (per prompt: ids, row offset into the array) + build/ref.npy
         (float32 [total positions, vocab]); --inline puts the logits in the JSON instead
  llama_reference.py greedy --model DIR --prompts p.jsonl --max-new-tokens 32 --out greedy.jsonl
  llama_reference.py perplexity --model DIR --text file.txt --context 256 --stride 128
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sp_bpe  # noqa: E402
from llama_model import load_checkpoint  # noqa: E402


class Tokenizer:
    """The checkpoint's tokenizer.json, if it is the Llama-2 SentencePiece-BPE layout."""

    def __init__(self, directory):
        path = os.path.join(directory, "tokenizer.json")
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        model = tj.get("model", {})
        prepends = [n for n in (tj.get("normalizer") or {}).get("normalizers", []) if n.get("type") == "Prepend"]
        if model.get("type") != "BPE" or not model.get("byte_fallback") or not prepends:
            raise ValueError(f"{path}: not a Llama-2 SentencePiece-BPE tokenizer; pass token ids instead")
        vocab = model["vocab"]
        self.pieces = [None] * len(vocab)
        for p, i in vocab.items():
            self.pieces[i] = p
        merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]
        specials = [t["content"] for t in tj.get("added_tokens", [])] or sp_bpe.SPECIALS
        self.encode = sp_bpe.hf_bpe_encoder(self.pieces, merges, specials)
        self.bos = vocab.get("<s>", sp_bpe.BOS_ID)

    def decode(self, ids):
        return sp_bpe.decode(ids, self.pieces)


def load_prompts(path, tokenizer_dir):
    tokenizer = None
    prompts = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            p = json.loads(line)
            if "ids" in p:
                ids = [int(i) for i in p["ids"]]
            elif "text" in p:
                tokenizer = tokenizer or Tokenizer(tokenizer_dir)
                ids = [tokenizer.bos] + tokenizer.encode(p["text"])
            else:
                raise ValueError(f"{path}:{n}: a prompt needs \"ids\" or \"text\"")
            if not ids:
                raise ValueError(f"{path}:{n}: empty prompt")
            prompts.append({"id": p.get("id", n - 1), "ids": ids})
    return prompts


def check_ids(model, ids, where):
    v = model.cfg["vocab_size"]
    bad = [i for i in ids if not 0 <= i < v]
    if bad:
        raise ValueError(f"{where}: token id {bad[0]} outside the vocabulary (0..{v - 1})")
    if len(ids) > model.cfg["max_position_embeddings"]:
        raise ValueError(f"{where}: {len(ids)} tokens exceed max_position_embeddings "
                         f"{model.cfg['max_position_embeddings']}")


@torch.no_grad()
def logits_of(model, ids):
    return model(torch.tensor([ids]))[0].float()


def run_logits(model, prompts, out, inline):
    rows, meta, offset = [], [], 0
    for p in prompts:
        check_ids(model, p["ids"], f"prompt {p['id']}")
        lg = logits_of(model, p["ids"]).numpy()
        entry = {"id": p["id"], "ids": p["ids"]}
        if inline:
            entry["logits"] = lg.tolist()
        else:
            entry["offset"] = offset
            rows.append(lg)
        offset += len(p["ids"])
        meta.append(entry)
    doc = {"vocab_size": model.cfg["vocab_size"], "dtype": "float32", "prompts": meta}
    if not inline:
        np.save(out + ".npy", np.concatenate(rows).astype("<f4"))
        doc["logits_file"] = os.path.basename(out) + ".npy"
    with open(out + ".json", "w") as f:
        json.dump(doc, f)


def run_greedy(model, prompts, max_new, tokenizer_dir, out):
    eos = model.cfg.get("eos_token_id", sp_bpe.EOS_ID)
    eos = set(eos if isinstance(eos, list) else [eos])
    try:
        tokenizer = Tokenizer(tokenizer_dir)
    except (OSError, ValueError):
        tokenizer = None
    results = []
    for p in prompts:
        ids = list(p["ids"])
        check_ids(model, ids, f"prompt {p['id']}")
        new, stopped = [], False
        # Whole-sequence recompute each step (no KV cache): slow but obviously right.
        while len(new) < max_new and len(ids) < model.cfg["max_position_embeddings"]:
            nxt = int(torch.argmax(logits_of(model, ids)[-1]))
            ids.append(nxt)
            new.append(nxt)
            if nxt in eos:
                stopped = True
                break
        r = {"id": p["id"], "prompt_ids": p["ids"], "generated_ids": new, "stopped_at_eos": stopped}
        if tokenizer:
            r["generated_text"] = tokenizer.decode(new)
        results.append(r)
    lines = "".join(json.dumps(r) + "\n" for r in results)
    if out:
        with open(out, "w") as f:
            f.write(lines)
    else:
        sys.stdout.write(lines)


@torch.no_grad()
def run_perplexity(model, ids, context, stride):
    """Token-weighted form of the HF guide's loop: each window predicts only its last `target`
    tokens (all but the first token in the first window)."""
    nll, n_scored, prev_end, begin = 0.0, 0, 0, 0
    while True:
        end = min(begin + context, len(ids))
        target = end - prev_end
        window = torch.tensor([ids[begin:end]])
        labels = window.clone()
        labels[:, :-target] = -100
        logits = model(window)[0].float()
        scored = labels[0, 1:]
        nll += F.cross_entropy(logits[:-1], scored, ignore_index=-100, reduction="sum").item()
        n_scored += int((scored != -100).sum())
        prev_end = end
        if end == len(ids):
            break
        begin += stride
    return {"tokens": len(ids), "scored_tokens": n_scored, "nll": nll,
            "perplexity": math.exp(nll / n_scored), "context": context, "stride": stride}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["logits", "greedy", "perplexity"])
    ap.add_argument("--model", required=True, help="HF checkpoint directory (config.json + safetensors)")
    ap.add_argument("--tokenizer", help="directory with tokenizer.json for text prompts (default: --model)")
    ap.add_argument("--prompts", help="logits/greedy: JSONL of {\"ids\": [...]} or {\"text\": ...}")
    ap.add_argument("--out", help="logits: output prefix (.json + .npy); greedy: output JSONL "
                                  "(default: stdout for greedy and perplexity)")
    ap.add_argument("--inline", action="store_true", help="logits: put the logits in the JSON, no .npy")
    ap.add_argument("--max-new-tokens", type=int, default=32, help="greedy: tokens to generate at most")
    ap.add_argument("--text", help="perplexity: UTF-8 text file, tokenized whole with BOS in front")
    ap.add_argument("--context", type=int, help="perplexity: window length (default max_position_embeddings)")
    ap.add_argument("--stride", type=int, help="perplexity: window step (default context / 2)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_checkpoint(args.model)
    tok_dir = args.tokenizer or args.model

    if args.mode in ("logits", "greedy"):
        if not args.prompts:
            ap.error(f"{args.mode} needs --prompts")
        prompts = load_prompts(args.prompts, tok_dir)
        if args.mode == "logits":
            if not args.out:
                ap.error("logits needs --out PREFIX")
            run_logits(model, prompts, args.out, args.inline)
        else:
            run_greedy(model, prompts, args.max_new_tokens, tok_dir, args.out)
        return
    if not args.text:
        ap.error("perplexity needs --text")
    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    tokenizer = Tokenizer(tok_dir)
    ids = [tokenizer.bos] + tokenizer.encode(text)
    context = args.context or model.cfg["max_position_embeddings"]
    if not 1 < context <= model.cfg["max_position_embeddings"]:
        ap.error(f"--context must be in 2..{model.cfg['max_position_embeddings']}")
    stride = args.stride or max(1, context // 2)
    if not 0 < stride <= context:
        ap.error("--stride must be in 1..context")
    result = run_perplexity(model, ids, context, stride)
    out = json.dumps(result)
    if args.out:
        with open(args.out, "w") as f:
            f.write(out + "\n")
    print(out)


if __name__ == "__main__":
    main()
