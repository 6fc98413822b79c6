#!/usr/bin/python3
"""Reference F32 -> F16 / BF16 rounding and F16 / BF16 -> F32 widening, computed by PyTorch.

Writes test/fixtures/dtype/f32_to_half.txt: one line per float32 input,
    <f32 bits> <f16 bits> <bf16 bits>          (hex, as torch's .half() / .bfloat16() give them)
and test/fixtures/dtype/half_to_f32.txt: one line per 16-bit pattern,
    <16-bit pattern> <f32 bits of it read as F16> <f32 bits of it read as BF16>

Inputs: hand-picked edge cases (zeros, subnormals, the rounding boundaries of both formats,
ties to even, overflow to infinity, infinities, NaNs) and seeded random bit patterns.
Run from the repository root:  /usr/bin/python3 tools/reference/make_dtype_fixture.py
"""
import struct

import numpy as np
import torch

rng = np.random.default_rng(20261125)


def bits_to_f32(b):
    return struct.unpack("<f", struct.pack("<I", b))[0]


edge = [
    0x00000000, 0x80000000, 0x3F800000, 0xBF800000,           # +-0, +-1
    0x00000001, 0x007FFFFF, 0x00800000,                       # f32 subnormals, smallest normal
    0x33000000, 0x33000001, 0x32FFFFFF, 0x33800000,           # around half the smallest f16 subnormal
    0x33C00000, 0x34000000, 0x38800000, 0x387FC000, 0x387FE000,  # f16 subnormal / normal boundary
    0x477FE000, 0x477FEFFF, 0x477FF000, 0x47800000,           # f16 max 65504 and overflow boundary
    0x3F801000, 0x3F803000, 0x3F801001, 0x3F802000,           # f16 ties: even stays, odd rounds up
    0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF,           # bf16 ties and neighbours
    0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F8000, 0x7F7F7FFF,           # f32 max: bf16 overflow boundary
    0x7F800000, 0xFF800000,                                   # infinities
    0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FA00000,           # NaNs (quiet, signalling, payloads)
    0x40490FDB, 0x3DCCCCCD, 0xC2F6E979,                       # pi, 0.1, -123.456
]
# every f16 rounding boundary region: values around each f16 exponent
for e in range(-26, 17):
    for m in (0x000000, 0x001000, 0x001001, 0x000FFF, 0x002000, 0x003000, 0x7FF000, 0x7FEFFF):
        for sign in (0, 0x80000000):
            edge.append(sign | ((127 + e) << 23) | m)
random_bits = rng.integers(0, 2**32, size=1500, dtype=np.uint64).tolist()
# random values in the normal range of f16 (the interesting region for weights)
random_small = [struct.unpack("<I", struct.pack("<f", float(v)))[0]
                for v in rng.normal(0, 0.05, size=800).astype(np.float32)]
inputs = edge + [int(b) for b in random_bits] + random_small

x = torch.tensor(np.array(inputs, dtype=np.uint32).view(np.int32)).view(torch.float32)
f16 = x.half().view(torch.int16).numpy().view(np.uint16)
bf16 = x.bfloat16().view(torch.int16).numpy().view(np.uint16)
with open("test/fixtures/dtype/f32_to_half.txt", "w") as f:
    for b, h, bh in zip(inputs, f16, bf16):
        f.write(f"{b:08x} {int(h):04x} {int(bh):04x}\n")

patterns = list(range(0, 65536, 37)) + [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00,
                                         0xFC00, 0x7E00, 0x7C01, 0xFFFF, 0x3C00, 0x7F80, 0x7FC0,
                                         0xFF80, 0x0080, 0x007F]
p = torch.tensor(np.array(patterns, dtype=np.uint16).view(np.int16))
as_f16 = p.view(torch.float16).float().view(torch.int32).numpy().view(np.uint32)
as_bf16 = p.view(torch.bfloat16).float().view(torch.int32).numpy().view(np.uint32)
with open("test/fixtures/dtype/half_to_f32.txt", "w") as f:
    for h, a, b in zip(patterns, as_f16, as_bf16):
        f.write(f"{h:04x} {int(a):08x} {int(b):08x}\n")
print(f"{len(inputs)} f32 inputs, {len(patterns)} 16-bit patterns")
