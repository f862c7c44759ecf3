"""Writes GGUF files (versions 2 and 3, little-endian), streaming: the header, metadata and
tensor infos first, then each tensor's data as it is produced, so a multi-GiB model is never
held in memory whole. Layout from ggml's docs/gguf.md: magic, version, tensor count, metadata
count; key/value pairs; tensor infos (name, dims fastest first, type, offset); padding to
`alignment`; the data, each tensor starting at a multiple of `alignment`."""

import struct

from ggml_quants import GGML, tensor_bytes

# GGUF metadata value types (gguf.md, gguf_metadata_value_type).
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR_FORMATS = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B",
                  U64: "<Q", I64: "<q", F64: "<d"}
TYPE_NAMES = {U8: "uint8", I8: "int8", U16: "uint16", I16: "int16", U32: "uint32", I32: "int32", F32: "float32",
              BOOL: "bool", STRING: "string", ARRAY: "array", U64: "uint64", I64: "int64", F64: "float64"}


def gguf_string(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gguf_value(vtype, value):
    """The bytes of `value`; an array value is (element type, [elements])."""
    if vtype == STRING:
        return gguf_string(value)
    if vtype == ARRAY:
        etype, items = value
        out = struct.pack("<IQ", etype, len(items))
        if etype in SCALAR_FORMATS:  # one pack call: vocabularies hold 100k+ scores
            return out + struct.pack("<%d%s" % (len(items), SCALAR_FORMATS[etype][1]), *items)
        return out + b"".join(gguf_value(etype, item) for item in items)
    return struct.pack(SCALAR_FORMATS[vtype], value)


def data_size(tname, dims, data):
    """Bytes of a tensor's data; `data` is bytes or a callable producing them later."""
    n = 1
    for d in dims:
        n *= d
    size = tensor_bytes(tname, n)
    if not callable(data) and len(data) != size:
        raise ValueError(f"{len(data)} bytes given for {tname} {dims}, which take {size}")
    return size


def write_gguf(path, version, metadata, tensors, alignment=32):
    """metadata: [(key, type, value)]; tensors: [(name, ggml type name, dims fastest first,
    bytes or a zero-argument callable returning them)]. Returns each tensor's data offset."""
    head = bytearray(b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(metadata)))
    for key, vtype, value in metadata:
        head += gguf_string(key) + struct.pack("<I", vtype) + gguf_value(vtype, value)
    offset = 0
    offsets = []
    sizes = []
    for name, tname, dims, data in tensors:
        head += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        head += struct.pack("<IQ", GGML[tname], offset)
        offsets.append(offset)
        sizes.append(data_size(tname, dims, data))
        offset += (sizes[-1] + alignment - 1) // alignment * alignment
    head += bytes(-len(head) % alignment)
    with open(path, "wb") as f:
        f.write(head)
        for (name, _, _, data), size in zip(tensors, sizes):
            data = data() if callable(data) else data
            if len(data) != size:
                raise ValueError(f"tensor {name}: {len(data)} bytes produced, {size} expected")
            f.write(data)
            f.write(bytes(-len(data) % alignment))
    return offsets
