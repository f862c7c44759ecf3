#!/usr/bin/python3
"""Train sparq's default document classifier: a small BERT on Debian package descriptions.

What it does (deterministic: fixed seeds, one thread by default, sorted data order):
  1. Builds a WordPiece vocabulary from the TRAIN split (bert_tokenizer.py: BERT normalizer and
     pre-tokenizer rules, reproducing Hugging Face's encoding of the tokenizer.json it writes).
  2. Trains a small BERT (bert_model.py: HF BertForSequenceClassification math and names) on
     train, selecting the epoch with the best dev accuracy; prints dev accuracy and macro-F1.
  3. From the dense model, fine-tunes with gradual magnitude pruning (Zhu & Gupta cubic
     schedule) of the encoder linear weights (attention q/k/v/output, FFN up/down; embeddings,
     LayerNorms, pooler and classifier stay dense) to each sparsity x pattern: unstructured
     (per-tensor magnitude) and 4x4 blocks of the [out, in] weight ranked by L2 norm.
  4. Writes each variant as a Hugging Face checkpoint directory (config.json with id2label,
     model.safetensors with exact zeros, tokenizer.json, tokenizer_config.json, vocab.txt)
     under OUT/<variant>/, and OUT/summary.json (dev accuracy, macro-F1, per-tensor sparsity,
     train time).

Speed: on a CPU with native bf16 (AVX-512 BF16 or AMX) Debian's torch matmul runs ~40 GFLOP/s
in fp32 and ~120-270 GFLOP/s under bf16 autocast (oneDNN), so there training runs under
torch.autocast('cpu', bfloat16) with fp32 master weights. Without native bf16 (e.g. AVX2 only)
autocast is emulated and many times slower than fp32, so `--precision auto` trains in fp32
there. Dev evaluation and saved weights are fp32 either way.

Run (see README.md for measured results):
  nice -n 19 /usr/bin/python3 models/train/train_classifier.py --out build/models-train
Python: Debian's /usr/bin/python3 with python3-torch and python3-numpy only.
"""

import argparse
import copy
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
import bert_tokenizer as bt  # noqa: E402
from bert_model import (BertForSequenceClassification, encoder_linear_weights, hf_config,  # noqa: E402
                        save_checkpoint)
from gradual_pruning import Pruner  # noqa: E402

T0 = time.time()


def cpu_has_native_bf16():
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def log(msg):
    print(f"[{time.time() - T0:7.1f}s] {msg}", flush=True)


def load_jsonl(path, limit=None):
    docs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            docs.append(json.loads(line))
            if limit and len(docs) >= limit:
                break
    return docs


def subsample(docs, n, seed):
    if not n or n >= len(docs):
        return docs
    rng = random.Random(seed)
    return rng.sample(docs, n)


def batches(ids, labels, batch_size, shuffle, rng):
    """Length-bucketed batches: sort by length within chunks of 50 batches, then shuffle batches."""
    order = list(range(len(ids)))
    if shuffle:
        rng.shuffle(order)
    chunk = batch_size * 50
    out = []
    for c in range(0, len(order), chunk):
        part = sorted(order[c:c + chunk], key=lambda i: len(ids[i]))
        out += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    if shuffle:
        rng.shuffle(out)
    for b in out:
        t = max(len(ids[i]) for i in b)
        x = torch.zeros(len(b), t, dtype=torch.long)
        for r, i in enumerate(b):
            x[r, :len(ids[i])] = torch.tensor(ids[i])
        yield x, torch.tensor([labels[i] for i in b]), torch.tensor(b)


def metrics(pred, gold, n_classes):
    pred, gold = np.asarray(pred), np.asarray(gold)
    acc = float((pred == gold).mean())
    f1s = []
    for c in range(n_classes):
        tp = np.sum((pred == c) & (gold == c))
        fp = np.sum((pred == c) & (gold != c))
        fn = np.sum((pred != c) & (gold == c))
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return acc, float(np.mean(f1s))


@torch.no_grad()
def class_logits(model, ids, bf16=False, batch_size=64):
    """Logits of documents `ids`, rows in the order given (batched by length); matmuls under
    bf16 autocast with `bf16` (several times faster where native; a teacher needs no fp32
    digits), else fp32 (what a converted f32 model computes)."""
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = torch.zeros(len(ids), len(model.cfg["id2label"]))
    for s in range(0, len(order), batch_size):
        b = order[s:s + batch_size]
        x = torch.zeros(len(b), max(len(ids[i]) for i in b), dtype=torch.long)
        for r, i in enumerate(b):
            x[r, :len(ids[i])] = torch.tensor(ids[i])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out[torch.tensor(b)] = model(x).float()
    model.train()
    return out


def evaluate(model, ids, labels, n_classes):
    """fp32 accuracy and macro-F1."""
    return metrics(class_logits(model, ids).argmax(-1).tolist(), labels, n_classes)


def optimizer_step(model, opt, loss):
    """One AdamW step on `loss`, gradients clipped to norm 1 (both training phases)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def hidden_distance(student, teacher, ids):
    """Mean over layers of the squared distance between the student's and the teacher's hidden
    states on the real (non-padding) tokens, relative to the teacher's squared norm there: a
    scale-free term, 0 for the unpruned model without dropout."""
    real = (ids != 0)[..., None].float()
    terms = [(((s.float() - t.float()) ** 2) * real).sum() / ((t.float() ** 2) * real).sum().clamp_min(1e-12)
             for s, t in zip(student, teacher)]
    return sum(terms) / len(terms)


def train_loop(model, train_ids, train_y, dev_ids, dev_y, n_classes, epochs, lr, args, rng,
               pruner=None, time_limit=None, teacher=None, alpha=None, schedule="linear",
               hidden_teacher=None, hidden_weight=0.0):
    """Fine-tuning (or, with `pruner`, pruning) on cross-entropy with the gold labels; with
    `teacher` (train-aligned class probabilities), on (1 - a) * CE(gold) + a * CE(teacher) with
    a = `alpha` (default args.distill_alpha): distillation from a stronger model's out-of-fold
    scores. With `hidden_teacher` (a frozen model of the same shape, e.g. the dense one being
    pruned), `hidden_weight` times hidden_distance to its layers' outputs is added. The learning
    rate decays to 0 linearly or (`schedule` "cosine") along a half cosine."""
    alpha = args.distill_alpha if alpha is None else alpha
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(train_ids) / args.batch_size)
    total = steps_per_epoch * epochs
    warmup = int(0.06 * total) if pruner is None else 0

    def lr_at(step):
        if step < warmup:
            return lr * (step + 1) / warmup
        left = max(0.0, (total - step) / max(1, total - warmup))
        return lr * (left if schedule == "linear" else 0.5 * (1 - math.cos(math.pi * left)))

    best, best_state, history, step = None, None, [], 0
    for epoch in range(epochs):
        t_ep = time.time()
        loss_sum, n = 0.0, 0
        for x, y, idx in batches(train_ids, train_y, args.batch_size, True, rng):
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            if pruner is not None:
                pruner.step(step)
            hidden = [] if hidden_teacher is not None else None
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                logits = model(x, hidden)
            loss = F.cross_entropy(logits.float(), y)
            if teacher is not None:
                soft = -(teacher[idx] * F.log_softmax(logits.float(), -1)).sum(-1).mean()
                loss = (1 - alpha) * loss + alpha * soft
            if hidden_teacher is not None:
                target = []
                with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                    hidden_teacher.bert(x, target)
                loss = loss + hidden_weight * hidden_distance(hidden, target, x)
            optimizer_step(model, opt, loss)
            step += 1
            loss_sum += loss.item()
            n += 1
            if step % 200 == 0:
                log(f"  step {step}/{total} loss {loss_sum / n:.4f}")
        if pruner is not None:
            pruner.apply()
        acc, f1 = evaluate(model, dev_ids, dev_y, n_classes)
        rec = {"epoch": epoch + 1, "train_loss": loss_sum / max(1, n), "dev_accuracy": acc,
               "dev_macro_f1": f1, "epoch_seconds": time.time() - t_ep}
        if pruner is not None:
            rec["sparsity_target"] = pruner.sparsity_at(step)
        history.append(rec)
        log(f"epoch {epoch + 1}/{epochs}: loss {rec['train_loss']:.4f} dev acc {acc:.4f} macro-F1 {f1:.4f} "
            f"({rec['epoch_seconds']:.0f}s)")
        # Pruned models are only eligible once at their final sparsity.
        eligible = pruner is None or step >= pruner.end
        if eligible and (best is None or acc > best["dev_accuracy"]):
            best = rec
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if time_limit is not None and time.time() > time_limit and eligible:
            log("time budget reached; stopping this phase")
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return best, history


def mlm_choice(x, gen, prob, continuation=None):
    """The positions of batch `x` whose tokens the masked LM predicts: each non-special token
    with probability `prob`, or, with `continuation` (a bool per vocabulary id: the piece is a
    `##` suffix), whole words: each word's first piece is drawn and every piece of a drawn word
    is chosen (whole-word masking, as BERT's later checkpoints were trained)."""
    eligible = x > bt.MASK
    draw = torch.rand(x.shape, generator=gen) < prob
    if continuation is None:
        return eligible & draw
    cont = continuation[x] & eligible
    # Index of each position's word start: the last position at or before it that is not a suffix.
    pos = torch.arange(x.shape[1]).expand_as(x)
    start = torch.cummax(torch.where(cont, torch.zeros_like(pos), pos), dim=1).values
    return eligible & draw.gather(1, start) & eligible.gather(1, start)


def pretrain_mlm(model, train_ids, epochs, lr, args, rng, continuation=None, state_path=None):
    """Masked-language-model pre-training of the body on the TRAIN text (BERT's recipe: 15 % of
    the non-special tokens chosen (of the words, with `continuation`: see mlm_choice), of those
    80 % -> [MASK], 10 % -> a random token, 10 % kept; fresh masks every epoch from a seeded
    generator). The head is dropped afterwards.

    With `state_path`, everything the next epoch depends on (weights with the head, optimizer,
    the three random generators, history) is written there after each epoch, and a run that
    finds the file continues after its last finished epoch: pre-training outlasts a session, and
    the resumed run draws the same masks and batches as an uninterrupted one."""
    model.add_mlm_head()
    gen = torch.Generator().manual_seed(args.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(train_ids) / args.batch_size)
    total = steps_per_epoch * epochs
    warmup = int(0.06 * total)
    vocab_size = model.cfg["vocab_size"]
    history, step, first_epoch = [], 0, 0
    if state_path and os.path.exists(state_path):
        st = torch.load(state_path)
        if st["epochs"] != epochs or st["vocab_size"] != vocab_size:
            sys.exit(f"{state_path}: saved for {st['epochs']} MLM epochs over {st['vocab_size']} tokens, "
                     f"this run asks {epochs} over {vocab_size}; use another --out or delete the file")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        gen.set_state(st["gen"])
        rng.setstate(st["rng"])
        torch.set_rng_state(st["torch_rng"])
        history, step, first_epoch = st["history"], st["step"], len(st["history"])
        log(f"resuming masked-LM pre-training after epoch {first_epoch}/{epochs} from {state_path}")
    for epoch in range(first_epoch, epochs):
        t_ep = time.time()
        loss_sum, hit, n_masked, n = 0.0, 0, 0, 0
        for x, _, _ in batches(train_ids, [0] * len(train_ids), args.batch_size, True, rng):
            lr_now = lr * (step + 1) / warmup if step < warmup else \
                lr * max(0.0, (total - step) / max(1, total - warmup))
            for g in opt.param_groups:
                g["lr"] = lr_now
            chosen = mlm_choice(x, gen, args.mlm_prob, continuation)
            if not chosen.any():
                continue
            target = x[chosen]
            r = torch.rand(x.shape, generator=gen)
            inp = x.clone()
            inp[chosen & (r < 0.8)] = bt.MASK
            swap = chosen & (r >= 0.8) & (r < 0.9)
            inp[swap] = torch.randint(bt.MASK + 1, vocab_size, (int(swap.sum()),), generator=gen)
            candidates = None
            if args.mlm_candidates:
                # Sampled softmax: the batch's targets plus uniform negatives, since a softmax over
                # the whole vocabulary dominates a step where torch's exp is not vectorized.
                negatives = torch.randint(bt.MASK + 1, vocab_size, (args.mlm_candidates,), generator=gen)
                candidates = torch.unique(torch.cat([target, negatives]))
                target = torch.searchsorted(candidates, target)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                logits = model.mlm_logits(inp, chosen, candidates)
            loss = F.cross_entropy(logits.float(), target)
            optimizer_step(model, opt, loss)
            step += 1
            loss_sum += loss.item()
            hit += int((logits.argmax(-1) == target).sum())
            n_masked += len(target)
            n += 1
            if step % 200 == 0:
                log(f"  mlm step {step}/{total} loss {loss_sum / n:.4f}")
        rec = {"epoch": epoch + 1, "mlm_loss": loss_sum / max(1, n), "mlm_masked_accuracy": hit / max(1, n_masked),
               "epoch_seconds": time.time() - t_ep}
        history.append(rec)
        log(f"mlm epoch {epoch + 1}/{epochs}: loss {rec['mlm_loss']:.4f} masked-token accuracy "
            f"{rec['mlm_masked_accuracy']:.4f} ({rec['epoch_seconds']:.0f}s)")
        if state_path:
            torch.save({"epochs": epochs, "vocab_size": vocab_size, "model": model.state_dict(),
                        "optimizer": opt.state_dict(), "gen": gen.get_state(), "rng": rng.getstate(),
                        "torch_rng": torch.get_rng_state(), "history": history, "step": step},
                       state_path + ".tmp")
            os.replace(state_path + ".tmp", state_path)
    model.mlm_head = None
    return history


def sparsity_report(model):
    rep = {}
    for n, p in encoder_linear_weights(model).items():
        rep[n] = float((p == 0).sum().item() / p.numel())
    return rep


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/shared/data/debian-descriptions")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "models-train"))
    ap.add_argument("--vocab-size", type=int, default=16000)
    ap.add_argument("--max-len", type=int, default=128, help="tokens per document incl. [CLS]/[SEP]")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=1024)
    ap.add_argument("--dropout", type=float, default=0.0, help="encoder hidden dropout")
    ap.add_argument("--attn-dropout", type=float, default=0.0)
    ap.add_argument("--classifier-dropout", type=float, default=0.1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--prune-epochs", type=int, default=2)
    ap.add_argument("--prune-lr", type=float, default=3e-4)
    ap.add_argument("--prune-fraction", type=float, default=1.0, help="fraction of train used per pruning run")
    ap.add_argument("--prune-every", type=int, default=25, help="steps between mask updates")
    ap.add_argument("--prune-end", type=float, default=0.6, help="fraction of pruning steps at which the cubic "
                    "schedule reaches its final sparsity")
    ap.add_argument("--sparsities", default="0.8,0.9")
    ap.add_argument("--patterns", default="unstructured,block4x4")
    ap.add_argument("--train-limit", type=int, default=0, help="subsample train (0: all), for quick experiments")
    ap.add_argument("--dev-limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                    help="training matmul precision; auto: bf16 autocast when the CPU has native bf16")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--dense-minutes", type=float, default=0, help="stop dense training after this (0: no cap)")
    ap.add_argument("--prune-minutes", type=float, default=0, help="cap per sparse variant (0: no cap)")
    ap.add_argument("--mlm-epochs", type=int, default=0, help="masked-LM pre-training epochs on train "
                    "text before fine-tuning (0: none)")
    ap.add_argument("--mlm-lr", type=float, default=1e-3)
    ap.add_argument("--mlm-prob", type=float, default=0.15, help="fraction of tokens chosen for MLM")
    ap.add_argument("--mlm-candidates", type=int, default=0, help="MLM: softmax over the batch's targets plus "
                    "this many uniformly sampled tokens instead of the whole vocabulary (0: whole vocabulary)")
    ap.add_argument("--teacher", default="", help="distill from these train-aligned class probabilities "
                    "(.npy, rows in train.jsonl order; e.g. tfidf_baseline.py --oof-out)")
    ap.add_argument("--distill-alpha", type=float, default=0.5, help="weight of the teacher's soft labels")
    ap.add_argument("--prune-teacher", default="", help="pruning only: distill from this mix instead of "
                    "--teacher: comma-separated SOURCE[:WEIGHT] (weights default 1, normalised), SOURCE a .npy "
                    "as for --teacher or `dense`: the dense model's own train probabilities (also "
                    "written to OUT/dense-train-probs.npy)")
    ap.add_argument("--prune-alpha", type=float, default=None, help="pruning: weight of the soft labels "
                    "(default --distill-alpha)")
    ap.add_argument("--prune-hidden-weight", type=float, default=0.0, help="pruning: add this weight times "
                    "the relative squared distance of each layer's hidden states to the dense model's "
                    "(hidden-state distillation; 0: off)")
    ap.add_argument("--prune-lr-schedule", choices=["linear", "cosine"], default="linear",
                    help="pruning: learning-rate decay from --prune-lr to 0")
    ap.add_argument("--whole-word-mask", action="store_true", help="MLM: choose whole words (every ## piece "
                    "of a chosen word), not single pieces")
    ap.add_argument("--init-from", default="", help="start fine-tuning from this checkpoint dir (e.g. "
                    "OUT/mlm-pretrained of an earlier run) instead of pre-training")
    ap.add_argument("--dense-from", default="", help="skip dense training: load this checkpoint dir")
    ap.add_argument("--summary", default="summary.json", help="summary file name under --out (lets runs "
                    "that share --out, e.g. one per pruning pattern from the same --dense-from, coexist)")
    args = ap.parse_args()

    args.bf16 = args.precision == "bf16" or (args.precision == "auto" and cpu_has_native_bf16())
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    train = subsample(load_jsonl(os.path.join(args.data, "train.jsonl")), args.train_limit, args.seed)
    dev = subsample(load_jsonl(os.path.join(args.data, "dev.jsonl")), args.dev_limit, args.seed)
    labels = sorted({d["label"] for d in train})
    label_id = {l: i for i, l in enumerate(labels)}
    log(f"train {len(train)} dev {len(dev)} classes {len(labels)}")

    vocab = bt.train_vocab([d["text"] for d in train], args.vocab_size, log=log)
    wp = bt.WordPiece(vocab)
    train_ids = [wp.encode(d["text"], args.max_len) for d in train]
    dev_ids = [wp.encode(d["text"], args.max_len) for d in dev]
    train_y = [label_id[d["label"]] for d in train]
    dev_y = [label_id[d["label"]] for d in dev]

    def load_teacher(path):
        if args.train_limit:
            sys.exit("--teacher/--prune-teacher need all of train (rows follow train.jsonl): drop --train-limit")
        try:
            t = torch.tensor(np.load(path), dtype=torch.float32)
        except (OSError, ValueError) as e:
            sys.exit(f"{path}: not a readable .npy matrix of probabilities: {e}")
        if t.shape != (len(train), len(labels)):
            sys.exit(f"{path}: shape {tuple(t.shape)}, expected ({len(train)}, {len(labels)})")
        log(f"teacher {path}: train accuracy {float((t.argmax(1) == torch.tensor(train_y)).float().mean()):.4f}")
        return t

    teacher = None
    if args.teacher:
        teacher = load_teacher(args.teacher)
        log(f"distilling from {args.teacher} (alpha {args.distill_alpha})")
    prune_sources = []  # [(source, weight)]: source a .npy path or "dense"
    for item in [i for i in args.prune_teacher.split(",") if i]:
        src, _, w = item.rpartition(":") if ":" in item else (item, "", "1")
        try:
            prune_sources.append((src, float(w)))
        except ValueError:
            sys.exit(f"--prune-teacher {item!r}: weight {w!r} is not a number")
    prune_files = {src: load_teacher(src) for src in dict.fromkeys(s for s, _ in prune_sources) if src != "dense"}
    log(f"vocab {len(vocab)}; mean train length {np.mean([len(i) for i in train_ids]):.1f} tokens")

    cfg = hf_config(len(vocab), args.hidden, args.layers, args.heads, args.ffn, args.max_len, labels,
                    args.dropout, args.attn_dropout, args.classifier_dropout)
    model = BertForSequenceClassification(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {args.layers} layers, hidden {args.hidden}, ffn {args.ffn}, {n_params / 1e6:.2f}M parameters; "
        f"training in {'bf16 autocast' if args.bf16 else 'fp32'}, {args.threads} thread(s)")
    rng = random.Random(args.seed)
    summary = {"args": vars(args), "parameters": n_params, "vocab_size": len(vocab),
               "labels": labels, "variants": {}}

    def save(name, mdl, best, history, seconds):
        d = os.path.join(args.out, name)
        save_checkpoint(mdl, d)
        bt.write_hf_tokenizer(vocab, d, args.max_len)
        acc, f1 = evaluate(mdl, dev_ids, dev_y, len(labels))
        sp = sparsity_report(mdl)
        summary["variants"][name] = {"dir": d, "dev_accuracy": acc, "dev_macro_f1": f1,
                                     "encoder_linear_sparsity": float(np.mean(list(sp.values()))),
                                     "sparsity_per_tensor": sp, "train_seconds": seconds,
                                     "best_epoch": best["epoch"] if best else None, "history": history}
        with open(os.path.join(args.out, args.summary), "w") as f:
            json.dump(summary, f, indent=2)
        log(f"saved {name}: dev acc {acc:.4f} macro-F1 {f1:.4f} -> {d}")

    if args.dense_from:
        from bert_model import read_safetensors
        model.load_state_dict(read_safetensors(os.path.join(args.dense_from, "model.safetensors")))
        acc, f1 = evaluate(model, dev_ids, dev_y, len(labels))
        summary["variants"]["dense"] = {"dir": args.dense_from, "dev_accuracy": acc, "dev_macro_f1": f1}
        log(f"loaded dense {args.dense_from}: dev acc {acc:.4f} macro-F1 {f1:.4f}")
    else:
        t = time.time()
        if args.init_from:
            from bert_model import read_safetensors
            state = read_safetensors(os.path.join(args.init_from, "model.safetensors"))
            # The classifier head of a pre-trained body is untrained: keep this run's init.
            model.load_state_dict({k: v for k, v in state.items() if not k.startswith("classifier.")},
                                  strict=False)
            log(f"initialised from {args.init_from}")
        elif args.mlm_epochs:
            continuation = torch.tensor([t.startswith("##") for t in vocab]) if args.whole_word_mask else None
            summary["mlm_history"] = pretrain_mlm(model, train_ids, args.mlm_epochs, args.mlm_lr, args, rng,
                                                  continuation, os.path.join(args.out, "mlm-state.pt"))
            summary["mlm_seconds"] = sum(h["epoch_seconds"] for h in summary["mlm_history"])
            save_checkpoint(model, os.path.join(args.out, "mlm-pretrained"))
            bt.write_hf_tokenizer(vocab, os.path.join(args.out, "mlm-pretrained"), args.max_len)
        cap = t + args.dense_minutes * 60 if args.dense_minutes else None
        best, hist = train_loop(model, train_ids, train_y, dev_ids, dev_y, len(labels), args.epochs, args.lr,
                                args, rng, time_limit=cap, teacher=teacher)
        save("dense", model, best, hist, time.time() - t)
    dense_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    prune_teacher = teacher
    if prune_sources:
        if any(src == "dense" for src, _ in prune_sources):
            t = time.time()
            prune_files["dense"] = F.softmax(class_logits(model, train_ids, args.bf16), -1)
            np.save(os.path.join(args.out, "dense-train-probs.npy"), prune_files["dense"].numpy())
            log(f"dense train probabilities ({time.time() - t:.0f}s): train accuracy "
                f"{float((prune_files['dense'].argmax(1) == torch.tensor(train_y)).float().mean()):.4f}")
        prune_teacher = sum(w * prune_files[src] for src, w in prune_sources) / sum(w for _, w in prune_sources)
        log(f"pruning distils from {args.prune_teacher} (alpha "
            f"{args.distill_alpha if args.prune_alpha is None else args.prune_alpha})")

    dense_teacher = None
    if args.prune_hidden_weight > 0:
        dense_teacher = copy.deepcopy(model).eval()
        for prm in dense_teacher.parameters():
            prm.requires_grad_(False)
        log(f"pruning distils the dense model's hidden states (weight {args.prune_hidden_weight})")

    for pattern in [p for p in args.patterns.split(",") if p]:
        for s in [float(x) for x in args.sparsities.split(",")]:
            name = f"sparse{int(round(s * 100))}-{pattern}"
            model.load_state_dict(dense_state)
            torch.manual_seed(args.seed)
            rng = random.Random(args.seed)
            # Each pruning "epoch" sees a fixed random fraction of train, to fit the time budget.
            keep = sorted(rng.sample(range(len(train_ids)), int(args.prune_fraction * len(train_ids))))
            p_ids, p_y = [train_ids[i] for i in keep], [train_y[i] for i in keep]
            steps = math.ceil(len(p_ids) / args.batch_size) * args.prune_epochs
            # Whole-tensor ranking (rows may differ in density), as this classifier always pruned.
            pruner = Pruner(encoder_linear_weights(model), s, pattern, int(args.prune_end * steps),
                            args.prune_every, scope="tensor")
            t = time.time()
            cap = t + args.prune_minutes * 60 if args.prune_minutes else None
            log(f"{name}: pruning over {pruner.end} of {steps} steps")
            best, hist = train_loop(model, p_ids, p_y, dev_ids, dev_y, len(labels), args.prune_epochs,
                                    args.prune_lr, args, rng, pruner=pruner, time_limit=cap,
                                    teacher=None if prune_teacher is None else prune_teacher[keep],
                                    alpha=args.prune_alpha, schedule=args.prune_lr_schedule,
                                    hidden_teacher=dense_teacher, hidden_weight=args.prune_hidden_weight)
            pruner.apply()
            save(name, model, best, hist, time.time() - t)
    summary["total_seconds"] = time.time() - T0
    with open(os.path.join(args.out, args.summary), "w") as f:
        json.dump(summary, f, indent=2)
    log("done")


if __name__ == "__main__":
    main()
