"""safetensors by hand (the `safetensors` package is not a Debian package): a u64 little-endian
header size, a JSON header naming each tensor's dtype, shape and byte range, then raw
little-endian data. F32, F16 and BF16; plus Hugging Face's sharded layout
(`model.safetensors.index.json` mapping tensor names to shard files).
"""

import json
import os
import struct

import numpy as np
import torch

# BF16 has no numpy dtype: its bits (the upper half of an f32) travel as int16.
_NUMPY = {"F32": "<f4", "F16": "<f2", "BF16": "<i2"}
_TORCH = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def _to_bytes(t, dtype):
    t = t.detach().cpu().contiguous()
    if dtype == "BF16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    return np.ascontiguousarray(t.to(_TORCH[dtype]).numpy(), dtype=_NUMPY[dtype]).tobytes()


def write_safetensors(tensors, path, dtype="F32", metadata=None):
    """Writes {name: tensor} in sorted name order, all as `dtype` (F32, F16 or BF16)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        b = _to_bytes(tensors[name], dtype)
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = dict(metadata or {"format": "pt"})
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path, float32=True):
    """{name: tensor}; converted to float32 unless float32=False (then the stored dtype)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    out = {}
    for name, h in header.items():
        if h["dtype"] not in _NUMPY:
            raise ValueError(f"{path}: tensor {name}: dtype {h['dtype']} not supported (F32, F16, BF16)")
        a, b = h["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=_NUMPY[h["dtype"]]).reshape(h["shape"]).copy()
        t = torch.from_numpy(arr)
        if h["dtype"] == "BF16":
            t = t.view(torch.bfloat16)
        out[name] = t.float() if float32 else t
    return out


def read_checkpoint_tensors(directory, float32=True):
    """All tensors of a Hugging Face checkpoint directory, single-file or sharded."""
    index = os.path.join(directory, "model.safetensors.index.json")
    if not os.path.exists(index):
        return read_safetensors(os.path.join(directory, "model.safetensors"), float32)
    with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    out = {}
    for shard in sorted(set(weight_map.values())):
        out.update(read_safetensors(os.path.join(directory, shard), float32))
    missing = set(weight_map) - set(out)
    if missing:
        raise ValueError(f"{index}: tensors listed but not in their shard: {sorted(missing)[:5]}")
    return out


def write_sharded(tensors, directory, n_shards, dtype="F32"):
    """Hugging Face's sharded layout: model-0000K-of-0000N.safetensors plus the index file."""
    names = sorted(tensors)
    per = -(-len(names) // n_shards)
    weight_map, total = {}, 0
    for k in range(n_shards):
        shard = f"model-{k + 1:05d}-of-{n_shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[k * per:(k + 1) * per]}
        write_safetensors(part, os.path.join(directory, shard), dtype)
        for n, t in part.items():
            weight_map[n] = shard
            total += t.numel() * (4 if dtype == "F32" else 2)
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        f.write("\n")
