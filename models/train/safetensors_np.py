"""safetensors in numpy, without torch: the format is an 8-byte little-endian header size, a
JSON header (name -> dtype, shape, [begin, end) in the data), then the raw little-endian data.
Reading maps the file, so a multi-GiB checkpoint costs no copy until a tensor is used."""

import json
import struct

import numpy as np

NUMPY_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
                "U8": "u1", "BOOL": "?"}


def read_safetensors(path):
    """name -> numpy array (BF16 widened to float32, every other dtype as stored)."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    header_size = struct.unpack("<Q", raw[:8].tobytes())[0]
    header = json.loads(raw[8:8 + header_size].tobytes())
    header.pop("__metadata__", None)
    data = raw[8 + header_size:]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        chunk = data[begin:end]
        if info["dtype"] == "BF16":
            values = (chunk.view("<u2").astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] in NUMPY_DTYPES:
            values = chunk.view(NUMPY_DTYPES[info["dtype"]])
        else:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, which is not supported")
        tensors[name] = values.reshape(info["shape"])
    return tensors


def write_safetensors(path, tensors):
    """tensors: name -> float32 (or float16) numpy array, written in name order."""
    header = {}
    offset = 0
    names = sorted(tensors)
    for name in names:
        a = tensors[name]
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16"}[a.dtype]
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        for name in names:
            f.write(np.ascontiguousarray(tensors[name]).astype(tensors[name].dtype.newbyteorder("<")).tobytes())
