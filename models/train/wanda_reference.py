#!/usr/bin/env python3
"""Wanda (Sun et al. 2023) one-shot pruning, written from the paper, as the reference sparq's
`convert --prune-method wanda` is checked against.

The input norms come from the repo's PyTorch Llama (llama_model.py): forward pre-hooks on
every nn.Linear sum x_j^2 over the calibration tokens, which run in disjoint windows of the
model's context (max_position_embeddings), each from position 0. A weight's score is
|W_ij| * ||X_j||_2. Unstructured: each output row prunes its round(sparsity * cols) lowest
scores; N:M: each group of M inputs in a row keeps its N highest. Ties go to the earlier
column (a stable sort), as sparq breaks them.

Used as a module (wanda_masks) by check_wanda_pruning.py.
"""
import numpy as np
import torch

from llama_model import load_checkpoint


def input_statistics(model, ids, grams=False):
    """({hf linear name: float64 ||X_j||_2 per input column}, {name: float64 X^T X} when
    `grams`) over `ids` (a list of token ids)."""
    sums, gram_sums, hooks = {}, {}, []

    def add(name, x):
        x = x.detach().double().reshape(-1, x.shape[-1])
        sums[name] = sums.get(name, 0) + (x * x).sum(dim=0)
        if grams:
            gram_sums[name] = gram_sums.get(name, 0) + x.T @ x

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and name != "lm_head":
            hooks.append(module.register_forward_pre_hook(lambda mod, args, name=name: add(name, args[0])))
    # The LM head is applied with F.linear on the final norm's output.
    hooks.append(model.model.register_forward_hook(lambda mod, args, out: add("lm_head", out)))
    window = model.cfg["max_position_embeddings"]
    with torch.no_grad():
        for begin in range(0, len(ids), window):
            model(torch.tensor([ids[begin:begin + window]], dtype=torch.long))
    for h in hooks:
        h.remove()
    norms = {name: np.sqrt(s.numpy()) for name, s in sums.items()}
    return norms, {name: g.numpy() for name, g in gram_sums.items()}


def input_norms(model, ids):
    """{hf linear name: float64 ||X_j||_2 per input column} over `ids` (a list of token ids)."""
    return input_statistics(model, ids)[0]


def scores(weight, norms):
    return np.abs(weight.astype(np.float64)) * norms[None, :]


def unstructured_mask(score, sparsity):
    """True where a weight is kept: per row, the lowest round(sparsity * cols) scores go."""
    rows, cols = score.shape
    k = int(np.floor(sparsity * cols + 0.5))
    order = np.argsort(score, axis=1, kind="stable")
    keep = np.ones_like(score, dtype=bool)
    np.put_along_axis(keep, order[:, :k], False, axis=1)
    return keep


def n_of_m_mask(score, n, m):
    """True where kept: in every group of m consecutive inputs the n highest scores."""
    rows, cols = score.shape
    groups = score.reshape(rows, cols // m, m)
    # Highest first; on a tie the earlier column first: a stable sort of the negated score.
    order = np.argsort(-groups, axis=2, kind="stable")
    keep = np.zeros_like(groups, dtype=bool)
    np.put_along_axis(keep, order[:, :, :n], True, axis=2)
    return keep.reshape(rows, cols)


def wanda_masks(checkpoint, ids, pattern, sparsity):
    """{hf linear name: (weight, score, keep mask)} for every linear layer of the checkpoint."""
    model = load_checkpoint(checkpoint)
    norms = input_norms(model, ids)
    out = {}
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        w = module.weight.detach().numpy()
        s = scores(w, norms[name])
        if pattern == "unstructured":
            keep = unstructured_mask(s, sparsity)
        else:
            n, m = (int(v) for v in pattern.split(":"))
            keep = n_of_m_mask(s, n, m)
        out[name] = (w, s, keep)
    return out
