"""The two ways a Llama-2-style SentencePiece BPE vocabulary gets applied, written out so they can
be checked against each other:

- `encode_sp_scores`: SentencePiece's own rule, which llama.cpp (GGUF `tokenizer.ggml.scores`)
  and llama2.c (`tokenizer.bin`) reimplement: repeatedly merge the adjacent pair whose
  concatenation is a piece with the highest score (leftmost on ties).
- `encode_hf_bpe`: Hugging Face's BPE model over a `merges` list: repeatedly merge the adjacent
  pair with the lowest merge rank (leftmost on ties).

Both see the same normalised text (a leading "▁", every space as "▁"), no pre-tokenization, and
spell characters missing from the vocabulary as their UTF-8 bytes `<0xXX>` (byte fallback).
"""

import heapq

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
    nxt = list(range(1, n + 1))
    nxt[-1] = -1 if n else -1
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


def encode_sp_scores(text, pieces, scores):
    ids = {p: i for i, p in enumerate(pieces)}
    # Only learned pieces and characters are merge results; "<s>" or "<0x41>" must not be
    # assembled from the characters of a document that happens to contain them.
    mergeable = {p: i for p, i in ids.items() if i >= len(SPECIALS) + 256}

    def priority(a, b):
        i = mergeable.get(a + b)
        return None if i is None else -scores[i]

    # A heap entry's position breaks score ties: the leftmost pair merges first.
    return _fallback(_merge_loop(normalize(text), priority), ids)


def encode_hf_bpe(text, pieces, merges):
    ids = {p: i for i, p in enumerate(pieces)}
    rank = {m: r for r, m in enumerate(merges)}
    # Characters missing from the vocabulary are split into bytes before merging, and no merge
    # involves a byte piece, so they must not join neighbours here either.
    chars = list(normalize(text))

    def priority(a, b):
        if a not in ids or b not in ids:
            return None
        return rank.get((a, b))

    return _fallback(_merge_loop(chars, priority), ids)


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
