"""Minimal safetensors reader and writer for the reference scripts (no safetensors package on
Debian).

read_attx_model(path): (HF config dict, name -> float32 tensor) of an attx model file (config in
__metadata__ attx.config, vocabulary in attx.vocab: also returned, as cfg["attx.vocab"], a list
of tokens) or of an HF model directory (config.json, model.safetensors, vocab.txt).

write_safetensors(path, tensors, metadata=None): tensors is a dict name -> torch.Tensor (any
of F32/F16/BF16/I64/I32/U8/BOOL/F64), written contiguous in the given order, header padded
with spaces to a multiple of 8, as the reference format describes.
"""
import json
import os
import struct

import numpy as np
import torch

_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
           torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
           torch.uint8: "U8", torch.bool: "BOOL", torch.int8: "I8", torch.int16: "I16"}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:      # numpy has no bfloat16: go through int16 bits
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = dict(metadata)
    for name, t in tensors.items():
        b = tensor_bytes(t)
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_attx_model(path):
    cfg, vocab = None, None
    if os.path.isdir(path):
        with open(os.path.join(path, "config.json")) as f:
            cfg = json.load(f)
        vocab_path = os.path.join(path, "vocab.txt")
        if os.path.exists(vocab_path):
            with open(vocab_path, encoding="utf-8") as f:
                vocab = f.read().split("\n")
        path = os.path.join(path, "model.safetensors")
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    cfg = cfg or json.loads(meta["attx.config"])
    if vocab is None and "attx.vocab" in meta:
        vocab = meta["attx.vocab"].split("\n")
    if vocab is not None:
        while vocab and vocab[-1] == "":
            vocab.pop()
        cfg["attx.vocab"] = vocab
    kinds = {"F32": np.float32, "F16": np.float16}
    P = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        raw = data[a:b]
        if t["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif t["dtype"] in kinds:
            arr = np.frombuffer(raw, dtype=kinds[t["dtype"]]).astype(np.float32)
        else:
            continue   # int8 weights, checksums: not what the references compute with
        P[name] = torch.from_numpy(arr.reshape(t["shape"]).copy())
    return cfg, P
