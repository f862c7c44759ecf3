#!/usr/bin/env python3
"""SparseGPT (Frantar & Alistarh 2023) and GPTQ (Frantar et al. 2022), written from the
papers in PyTorch float64, as the reference sparq's `convert --prune-method sparsegpt` and
`--quantization gptq` (runtime/convert/obs_compression.h) are checked against.

Both process a linear layer's weight W (rows x cols) one input column at a time with the
inverse Hessian of the layer's squared output error, H = X^T X over calibration inputs:
  - dead columns (H_cc = 0) get H_cc = 1 and a zero weight column; H is damped by
    `damp` times its mean diagonal; U is the upper Cholesky factor of H^-1 (H^-1 = U^T U);
  - column c becomes q (pruned: 0; quantized: a grid point); its error e = (w - q) / U_cc
    moves the later columns of the block by -e U_c,j, and the block's errors move the
    columns after it (the lazy batch update);
  - SparseGPT's mask: unstructured, the round(sparsity * rows * width) least salient
    weights of each block of columns over all rows, saliency w^2 / U_cc^2, taken when the
    block starts (ties: the earlier, row-major); N:M, in each row's group of M from column
    c, the N most salient kept (ties: the earlier), taken when c is reached;
  - GPTQ's grid: symmetric, values scale * k with k in [-qmax, qmax], one scale per row
    per group of columns, max |w| / qmax over the group's weights not yet known to be pruned
    when the group's first column is reached; the weight where that maximum sits is put
    on +-qmax whatever it has become by then (so sparq's encoders, which take max/qmax,
    store the same grid). Rounding is half away from zero. Blocks hold whole groups.
Used as a module (obs_compress) by check_obs_compression.py.
"""
import math

import torch


def round_half_away(x):
    return torch.sign(x) * torch.floor(torch.abs(x) + 0.5)


def obs_compress(weight, gram, prune=None, sparsity=0.0, grid=None, damp=0.01, block=128):
    """The compressed weight (float64). prune: None (the zeros of `weight` stay, nothing else
    is pruned), "unstructured" or (n, m); grid: None or (qmax, group) with group 0 per row."""
    w = torch.tensor(weight, dtype=torch.float64).clone()
    h = torch.tensor(gram, dtype=torch.float64).clone()
    rows, cols = w.shape
    dead = torch.diag(h) <= 0
    h[dead, dead] = 1
    w[:, dead] = 0
    h += damp * torch.diag(h).mean() * torch.eye(cols, dtype=torch.float64)
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    keep = torch.ones_like(w, dtype=torch.bool) if prune else w != 0
    group = (grid[1] or cols) if grid else 0
    blk = group * math.ceil(block / group) if grid else block
    scale = torch.zeros(rows, dtype=torch.float64)
    pin = torch.full((rows,), -1, dtype=torch.long)
    for b0 in range(0, cols, blk):
        b1 = min(cols, b0 + blk)
        width = b1 - b0
        if prune == "unstructured":
            k = math.floor(sparsity * rows * width + 0.5)
            if k:
                sal = (w[:, b0:b1] ** 2 / torch.diag(u)[b0:b1] ** 2).flatten()
                order = torch.argsort(sal, stable=True)[:k]
                block_keep = keep[:, b0:b1].clone().flatten()
                block_keep[order] = False
                keep[:, b0:b1] = block_keep.reshape(rows, width)
        err = torch.zeros(rows, width, dtype=torch.float64)
        for c in range(b0, b1):
            if isinstance(prune, tuple) and c % prune[1] == 0:
                n, m = prune
                sal = w[:, c:c + m] ** 2 / torch.diag(u)[c:c + m] ** 2
                order = torch.argsort(-sal, dim=1, stable=True)
                keep[:, c:c + m] = True
                keep[:, c:c + m].scatter_(1, order[:, n:], False)
            if grid and c % group == 0:
                a = torch.where(keep[:, c:c + group], w[:, c:c + group].abs(), torch.zeros(()))
                mx, at = a.max(dim=1)  # the first maximum
                scale = mx / grid[0]
                pin = torch.where(mx > 0, c + at, torch.full_like(at, -1))
            v = w[:, c].clone()
            q = v.clone()
            if grid:
                qmax = float(grid[0])
                safe = torch.where(scale > 0, scale, torch.ones_like(scale))
                q = torch.clamp(round_half_away(v / safe), -qmax, qmax) * scale
                q = torch.where(pin == c, torch.copysign(torch.full_like(v, qmax), v) * scale, q)
                q = torch.where(scale > 0, q, torch.zeros_like(q))
            q = torch.where(keep[:, c], q, torch.zeros_like(q))
            e = (v - q) / u[c, c]
            w[:, c] = q
            w[:, c + 1:b1] -= torch.outer(e, u[c, c + 1:b1])
            err[:, c - b0] = e
        w[:, b1:] -= err @ u[b0:b1, b1:]
    return w


def rtn(weight, qmax, group):
    """Round to nearest on the same grid (the scale of the weights as they are)."""
    w = torch.tensor(weight, dtype=torch.float64)
    rows, cols = w.shape
    g = group or cols
    out = torch.zeros_like(w)
    for c0 in range(0, cols, g):
        part = w[:, c0:c0 + g]
        scale = part.abs().max(dim=1, keepdim=True).values / qmax
        safe = torch.where(scale > 0, scale, torch.ones_like(scale))
        out[:, c0:c0 + g] = torch.clamp(round_half_away(part / safe), -qmax, qmax) * scale
    return out


def output_error(compressed, weight, gram):
    """||(W' - W) X||^2 / ||W X||^2 from X^T X: the layer's relative output error."""
    w = torch.tensor(weight, dtype=torch.float64)
    h = torch.tensor(gram, dtype=torch.float64)
    d = torch.as_tensor(compressed, dtype=torch.float64) - w
    return float(torch.trace(d @ h @ d.T) / torch.trace(w @ h @ w.T))
