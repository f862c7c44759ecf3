"""Gradual magnitude pruning (Zhu & Gupta 2017, "To prune, or not to prune"), shared by
train_classifier.py (BERT encoder linears) and prune_llama.py (Llama decoder linears).

The target sparsity follows the cubic schedule s_t = s_f (1 - (1 - t/T)^3) from step 0 to the
end step T; masks are recomputed from the current weights every `every` steps (and at T), then
frozen. The pruned weights are zeroed before every forward pass (Pruner.step) and once more
at the end (Pruner.apply).

Patterns of a weight [out, in]:
  unstructured  single weights, by |w|
  4x4           4x4 blocks, by the block's L2 norm ("block4x4" is the same; train_classifier.py's name)
  N:M           e.g. 2:4 or 4:8: in every M consecutive input columns of a row keep the N largest |w|.
                The final sparsity is 1 - N/M. On the way there (s_t < 1 - N/M) the weights pruned are
                the s_t * in smallest, per row, of the M - N smallest of each group, so every
                intermediate mask is already a subset of an N:M-valid pruning and the last one is
                exactly N:M.

Ranking scope (`scope`), for unstructured and 4x4:
  row     every output row (for 4x4, every row of blocks) prunes the same share, round(s * cols)
          of its weights (blocks): the default, because sparq stores sparse linears as bitmap rows
          and every row then has the same number of non-zeros. sparq's Wanda pruning and the
          N:M pattern rank per row too.
  tensor  one ranking over the whole tensor (rows may end up with different densities); the
          classifier's original choice, kept there for identical results.
N:M is per group of M by definition and ignores `scope`.

Ties are broken by index (stable sorts), so masks are deterministic.
"""

import torch

SCOPES = ("row", "tensor")


def parse_pattern(pattern):
    """('unstructured' | 'block', None) or ('nm', (n, m)); raises ValueError on anything else."""
    if pattern == "unstructured":
        return "unstructured", None
    if pattern in ("4x4", "block4x4"):
        return "block", None
    if ":" in pattern:
        try:
            n, m = (int(v) for v in pattern.split(":"))
        except ValueError:
            raise ValueError(f"pattern {pattern!r}: N:M needs two integers") from None
        if not 0 < n < m:
            raise ValueError(f"pattern {pattern!r}: N:M needs 0 < N < M")
        return "nm", (n, m)
    raise ValueError(f"pattern {pattern!r}: not one of unstructured, 4x4 (block4x4), N:M")


def final_sparsity_of(pattern, sparsity):
    """The final sparsity a pattern reaches: `sparsity` as given, except N:M, which is 1 - N/M
    (and refuses another non-zero value)."""
    kind, nm = parse_pattern(pattern)
    if kind != "nm":
        return sparsity
    s = 1.0 - nm[0] / nm[1]
    if sparsity and abs(sparsity - s) > 1e-9:
        raise ValueError(f"pattern {pattern} means sparsity {s:g}, not {sparsity:g}")
    return s


def _prune_smallest(score, k, dim=None):
    """Mask (same shape and dtype as score) zeroing the k lowest scores over the whole tensor
    (dim None) or along each row (dim=-1)."""
    mask = torch.ones_like(score)
    if k <= 0:
        return mask
    if dim is None:
        # Ties broken by index (stable sort) so masks are deterministic.
        idx = torch.argsort(score.flatten(), stable=True)[:k]
        mask.view(-1)[idx] = 0
    else:
        idx = torch.argsort(score, dim=-1, stable=True)[..., :k]
        mask.scatter_(-1, idx, 0)
    return mask


def magnitude_mask(w, sparsity, pattern, scope="row"):
    """0/1 mask (w's dtype) keeping the largest-magnitude (1 - sparsity) of the 2-D weight w
    [out, in] in `pattern` ranked over `scope` (see the module docstring)."""
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r}: not one of {SCOPES}")
    kind, nm = parse_pattern(pattern)
    o, i = w.shape
    if kind == "unstructured":
        score = w.abs()
        if scope == "tensor":
            return _prune_smallest(score, int(round(sparsity * score.numel())))
        return _prune_smallest(score, int(round(sparsity * i)), dim=-1)
    if kind == "block":
        if o % 4 or i % 4:
            raise ValueError(f"4x4 blocks: weight shape {tuple(w.shape)} is not a multiple of 4")
        score = w.reshape(o // 4, 4, i // 4, 4).pow(2).sum(dim=(1, 3)).sqrt()
        if scope == "tensor":
            mask = _prune_smallest(score, int(round(sparsity * score.numel())))
        else:
            mask = _prune_smallest(score, int(round(sparsity * (i // 4))), dim=-1)
        return mask.repeat_interleave(4, 0).repeat_interleave(4, 1)
    n, m = nm
    if i % m:
        raise ValueError(f"{n}:{m}: {i} input columns are not a multiple of {m}")
    s_final = 1.0 - n / m
    if sparsity > s_final + 1e-9:
        raise ValueError(f"{n}:{m} prunes at most {s_final:g}, asked {sparsity:g}")
    a = w.abs().reshape(o, i // m, m)
    # Candidates: the m - n smallest of each group (ties: the later column goes, so the earlier
    # one is kept, as in sparq's and wanda_reference.py's N:M).
    order = torch.argsort(-a, dim=-1, stable=True)
    candidate = torch.zeros_like(a, dtype=torch.bool).scatter_(-1, order[..., n:], True).reshape(o, i)
    k = int(round(sparsity * i))
    if k >= candidate[0].sum().item():
        return (~candidate).to(w.dtype)
    # Non-candidates never go: rank them above every candidate.
    score = torch.where(candidate, w.abs(), torch.full_like(w, float("inf")))
    return _prune_smallest(score, k, dim=-1)


class Pruner:
    """Gradual magnitude pruning of `params` ({name: 2-D parameter}, e.g.
    bert_model.encoder_linear_weights(model)): sparsity s_t = s_f (1 - (1 - t/T)^3), masks
    recomputed every `every` steps from step 0 to T = end_step, per tensor, then frozen."""

    def __init__(self, params, final_sparsity, pattern, end_step, every, scope="row"):
        parse_pattern(pattern)
        self.params = dict(params)
        self.final, self.pattern, self.end, self.every = final_sparsity, pattern, end_step, every
        self.scope = scope
        self.masks = {n: torch.ones_like(p) for n, p in self.params.items()}

    def sparsity_at(self, step):
        if step >= self.end:
            return self.final
        return self.final * (1.0 - (1.0 - step / self.end) ** 3)

    @torch.no_grad()
    def update_masks(self, step):
        s = self.sparsity_at(step)
        for n, p in self.params.items():
            self.masks[n] = magnitude_mask(p, s, self.pattern, self.scope)

    @torch.no_grad()
    def apply(self):
        for n, p in self.params.items():
            p.mul_(self.masks[n])

    def step(self, step):
        """Call before the forward pass of training step `step` (0-based)."""
        if step == self.end or (step < self.end and step % self.every == 0):
            self.update_masks(step)
        self.apply()

    def sparsity(self):
        """{name: fraction of exact zeros} of the parameters now."""
        return {n: float((p == 0).sum().item() / p.numel()) for n, p in self.params.items()}
