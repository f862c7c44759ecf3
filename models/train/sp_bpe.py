"""The two ways a Llama-2-style SentencePiece BPE vocabulary gets applied, written out so they can
be checked against each other:

- `sp_scores_encoder`: SentencePiece's own rule, which llama.cpp (GGUF `tokenizer.ggml.scores`)
  and llama2.c (`tokenizer.bin`) reimplement: repeatedly merge the adjacent pair whose
  concatenation is a piece with the highest score (leftmost on ties).
- `hf_bpe_encoder`: Hugging Face's BPE model over a `merges` list: repeatedly merge the adjacent
  pair with the lowest merge rank (leftmost on ties).

Both see the same normalised text (a leading "▁", every space as "▁"), no pre-tokenization, and
spell characters missing from the vocabulary as their UTF-8 bytes `<0xXX>` (byte fallback).
"""

import heapq
import re

SPACE = "\u2581"  # "▁"
SPECIALS = ["<unk>", "<s>", "</s>"]
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2


def byte_piece(b):
    return f"<0x{b:02X}>"


def normalize(text):
    return SPACE + text.replace(" ", SPACE)


def hf_merges(pieces, scores):
    """Hugging Face's SentencePiece converter rule: for every piece, best score first, each split
    into two pieces that are both in the vocabulary becomes a merge; splits of one piece are
    ordered by the ids of their left, then right part."""
    ids = {p: i for i, p in enumerate(pieces)}
    merges = []
    for piece in sorted(ids, key=lambda p: (-scores[ids[p]], ids[p])):
        splits = [(piece[:k], piece[k:]) for k in range(1, len(piece))
                  if piece[:k] in ids and piece[k:] in ids]
        merges.extend(sorted(splits, key=lambda s: (ids[s[0]], ids[s[1]])))
    return merges


def _fallback(symbols, ids):
    out = []
    for s in symbols:
        if s in ids:
            out.append(ids[s])
        else:
            out.extend(ids[byte_piece(b)] for b in s.encode("utf-8"))
    return out


def _merge_loop(chars, priority):
    """Greedy pairwise merging over a linked list of symbols. `priority(left, right)` returns a
    sort key (smaller merges first) or None when the pair cannot merge. Stale heap entries (a
    side already merged away or changed) are skipped when popped."""
    n = len(chars)
    sym = list(chars)
    prev = list(range(-1, n - 1))
    nxt = list(range(1, n)) + [-1]
    heap = []

    def push(i):
        j = nxt[i]
        if i < 0 or j < 0:
            return
        key = priority(sym[i], sym[j])
        if key is not None:
            heapq.heappush(heap, (key, i, sym[i], sym[j]))

    for i in range(n - 1):
        push(i)
    while heap:
        _, i, left, right = heapq.heappop(heap)
        j = nxt[i]
        if sym[i] != left or j < 0 or sym[j] != right:
            continue
        sym[i] = left + right
        sym[j] = None
        nxt[i] = nxt[j]
        if nxt[j] >= 0:
            prev[nxt[j]] = i
        if prev[i] >= 0:
            push(prev[i])
        push(i)
    out, i = [], 0 if n else -1
    while i >= 0:
        out.append(sym[i])
        i = nxt[i]
    return out


def sp_scores_encoder(pieces, scores):
    """text -> ids by the SentencePiece score rule."""
    ids = {p: i for i, p in enumerate(pieces)}
    # Only learned pieces and characters are merge results; "<s>" or "<0x41>" must not be
    # assembled from the characters of a document that happens to contain them.
    mergeable = {p: i for p, i in ids.items() if i >= len(SPECIALS) + 256}

    def priority(a, b):
        i = mergeable.get(a + b)
        return None if i is None else -scores[i]

    # A heap entry's position breaks score ties: the leftmost pair merges first.
    return lambda text: _fallback(_merge_loop(normalize(text), priority), ids) if text else []


def hf_bpe_encoder(pieces, merges, specials=SPECIALS):
    """text -> ids as Hugging Face's tokenizer: special-token strings in the text become their ids,
    every other non-empty stretch is normalised on its own (so it gets its own leading "▁") and
    encoded by the BPE rule over `merges`."""
    ids = {p: i for i, p in enumerate(pieces)}
    rank = {m: r for r, m in enumerate(merges)}
    special = re.compile("(" + "|".join(map(re.escape, specials)) + ")")

    def priority(a, b):
        # Characters missing from the vocabulary become bytes before merging, and no merge
        # involves a byte piece, so they never join a neighbour.
        if a not in ids or b not in ids:
            return None
        return rank.get((a, b))

    def encode(text):
        out = []
        for k, part in enumerate(special.split(text)):
            if k % 2:
                out.append(ids[part])
            elif part:
                out.extend(_fallback(_merge_loop(normalize(part), priority), ids))
        return out

    return encode


def decode(ids, pieces):
    """Hugging Face's Llama decoder: ▁ -> space, runs of byte pieces joined as UTF-8, one
    leading space stripped; special tokens dropped."""
    out, pending = [], bytearray()
    for i in ids:
        if i < len(SPECIALS):
            continue
        p = pieces[i]
        if p.startswith("<0x") and p.endswith(">") and len(p) == 6:
            pending.append(int(p[3:5], 16))
            continue
        if pending:
            out.append(pending.decode("utf-8", errors="replace"))
            pending = bytearray()
        out.append(p.replace(SPACE, " "))
    if pending:
        out.append(pending.decode("utf-8", errors="replace"))
    s = "".join(out)
    return s[1:] if s.startswith(" ") else s
