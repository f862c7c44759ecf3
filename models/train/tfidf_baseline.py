#!/usr/bin/python3
"""Reference point for the classifier: TF-IDF (word 1-2 grams) + linear SVM, measured on dev.

Features: lowercase \\w+ words and word bigrams, kept when in >= 2 training documents;
sublinear tf (1 + log tf) times smoothed idf, rows L2-normalized (scikit-learn's TfidfVectorizer
defaults with sublinear_tf). Classifier: one-vs-rest linear SVM with squared hinge loss,
C = 1 and an unregularized bias (LinearSVC's loss), solved full-batch with L-BFGS on a torch
sparse matrix, since only Debian's python3-torch and python3-numpy are available.

Run: nice -n 19 /usr/bin/python3 models/train/tfidf_baseline.py [--data DIR] [--json OUT]
"""

import argparse
import collections
import json
import math
import os
import re
import time

import numpy as np
import torch
import torch.nn.functional as F

WORD = re.compile(r"\w+")


def grams(text):
    w = WORD.findall(text.lower())
    return w + [a + " " + b for a, b in zip(w, w[1:])]


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def tfidf_matrix(docs_grams, index, idf):
    rows, cols, vals = [], [], []
    for r, g in enumerate(docs_grams):
        tf = collections.Counter(t for t in g if t in index)
        if not tf:
            continue
        c = np.array([index[t] for t in tf])
        v = np.array([(1.0 + math.log(n)) * idf[index[t]] for t, n in tf.items()])
        v /= np.linalg.norm(v)
        rows.append(np.full(len(c), r))
        cols.append(c)
        vals.append(v)
    i = torch.tensor(np.stack([np.concatenate(rows), np.concatenate(cols)]))
    return torch.sparse_coo_tensor(i, torch.tensor(np.concatenate(vals), dtype=torch.float32),
                                   (len(docs_grams), len(index))).coalesce()


def fit_svm(x, y, n_classes, args):
    """One-vs-rest squared-hinge linear SVM on sparse rows `x`; returns the scoring function."""
    sign = -torch.ones(x.shape[0], n_classes)
    sign[torch.arange(x.shape[0]), y] = 1.0
    w = torch.zeros(x.shape[1], n_classes, requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=args.iters, history_size=20,
                            tolerance_grad=1e-6, tolerance_change=1e-9, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        margin = torch.clamp(1 - sign * (torch.sparse.mm(x, w) + b), min=0)
        loss = 0.5 * (w * w).sum() + args.C * (margin * margin).sum()
        loss.backward()
        return loss

    opt.step(closure)

    def score(rows):
        with torch.no_grad():
            return torch.sparse.mm(rows, w) + b
    return score


def out_of_fold_probabilities(xt, yt, n_classes, args):
    """Soft labels for distillation (train_classifier.py --teacher): each train document scored by
    an SVM fitted on the other folds, so no document's label leaks into its own soft label, then
    softmax(scale * score) with the one scale that minimises the out-of-fold NLL. Writes the
    (train, classes) float32 matrix to --oof-out and returns its summary."""
    n = xt.shape[0]
    fold = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed)) % args.folds
    scores = torch.zeros(n, n_classes)
    for k in range(args.folds):
        fit_rows, held = (fold != k).nonzero().squeeze(1), (fold == k).nonzero().squeeze(1)
        score = fit_svm(xt.index_select(0, fit_rows), yt[fit_rows], n_classes, args)
        scores[held] = score(xt.index_select(0, held))
        print(f"fold {k + 1}/{args.folds}: held-out accuracy "
              f"{float((scores[held].argmax(1) == yt[held]).float().mean()):.4f}", flush=True)
    best = min((float(F.cross_entropy(s * scores, yt)), s) for s in np.arange(0.5, 20.01, 0.25))
    probs = torch.softmax(best[1] * scores, 1)
    np.save(args.oof_out, probs.numpy().astype(np.float32))
    return {"folds": args.folds, "accuracy": float((scores.argmax(1) == yt).float().mean()),
            "scale": best[1], "nll": best[0], "file": args.oof_out}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/shared/data/debian-descriptions")
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--json", default="")
    ap.add_argument("--oof-out", default="", help="also write out-of-fold train probabilities (.npy) here")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    t0 = time.time()
    train, dev = load(os.path.join(args.data, "train.jsonl")), load(os.path.join(args.data, "dev.jsonl"))
    labels = sorted({d["label"] for d in train})
    lid = {l: i for i, l in enumerate(labels)}
    tg, dg = [grams(d["text"]) for d in train], [grams(d["text"]) for d in dev]
    df = collections.Counter()
    for g in tg:
        df.update(set(g))
    terms = sorted(t for t, n in df.items() if n >= 2)
    index = {t: i for i, t in enumerate(terms)}
    n = len(train)
    idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in terms])
    xt, xd = tfidf_matrix(tg, index, idf), tfidf_matrix(dg, index, idf)
    yt = torch.tensor([lid[d["label"]] for d in train])
    yd = np.array([lid[d["label"]] for d in dev])
    print(f"{len(terms)} features, {xt._nnz()} non-zeros; {time.time() - t0:.0f}s")

    score_dev = fit_svm(xt, yt, len(labels), args)
    pred = score_dev(xd).argmax(1).numpy()
    acc = float((pred == yd).mean())
    f1 = []
    for c in range(len(labels)):
        tp = np.sum((pred == c) & (yd == c))
        f1.append(0.0 if tp == 0 else 2 * tp / (np.sum(pred == c) + np.sum(yd == c)))
    res = {"dev_accuracy": acc, "dev_macro_f1": float(np.mean(f1)), "features": len(terms),
           "seconds": time.time() - t0}
    if args.oof_out:
        res["oof"] = out_of_fold_probabilities(xt, yt, len(labels), args)
    print(json.dumps(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
