#!/usr/bin/env python3
"""Where a forward pass spends its time, by part of the model, for the README's profile table.

Builds tools/reference/profile_forward.c against build/libattx.a (run `make` first), samples
it with `perf record --call-graph dwarf` (Debian's linux-perf), and attributes each sample taken
inside attx_forward to the innermost attx_op_* on its call chain, split further by the leaf
function for the linear layers (GEMM kernel, packing, int8 quantisation and epilogue). Prints a
markdown table: one row per model / precision / batch x sequence, the best forward time, then
the share of each part. One thread. Models: data/sst2-minilm.safetensors and the random
BERT-base that `make bench` writes (build/bench/bert-base).

    /usr/bin/python3 tools/reference/profile_table.py [--quick]
"""
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PARTS = ["GEMM (linear)", "packing", "int8 quantise+epilogue", "bias", "attention QK^T, PV",
         "softmax", "GELU", "LayerNorm", "residual add", "embeddings", "other"]


def part_of(frames):
    """frames: function names from the leaf outwards."""
    leaf = frames[0]
    op = next((f for f in frames if f.startswith("attx_op_")), None)
    op = re.sub(r"\._omp_fn\.\d+$", "", op) if op else None
    if op == "attx_op_linear":
        if leaf.startswith("pack_"):
            return "packing"
        if re.match(r"(codes|range|q8_epilogue|attx_q8_quantize_row|attx_q8_acts_init)", leaf):
            return "int8 quantise+epilogue"
        if leaf.startswith("attx_op_linear"):
            return "bias"
        return "GEMM (linear)"
    if op in ("attx_op_attention_scores", "attx_op_attention_context"):
        return "attention QK^T, PV"
    table = {"attx_op_softmax": "softmax", "attx_op_gelu": "GELU", "attx_op_layernorm": "LayerNorm",
             "attx_op_add": "residual add", "attx_op_embedding": "embeddings",
             "attx_op_add_embedding": "embeddings"}
    return table.get(op, "other")


def profile(binary, model, B, T, repeat, int8):
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        args = [binary, model, str(B), str(T), str(repeat)] + (["int8"] if int8 else [])
        rec = subprocess.run(["perf", "record", "-q", "--call-graph", "dwarf,32768", "-F", "1000", "-o", data]
                             + args, capture_output=True, text=True, check=True)
        best = float(re.search(r"best ([\d.]+) ms", rec.stdout).group(1))
        script = subprocess.run(["perf", "script", "-i", data], capture_output=True, text=True).stdout
    counts = Counter()
    for sample in script.split("\n\n"):
        frames = [m.group(1) for m in re.finditer(r"^\s+[0-9a-f]+ ([^\s+]+)\+0x", sample, re.M)]
        if not frames or not any(f.startswith("attx_forward") for f in frames):
            continue
        counts[part_of(frames)] += 1
    return best, counts


def main():
    quick = "--quick" in sys.argv
    os.chdir(REPO)
    binary = os.path.join("build", "profile_forward")
    subprocess.run(["cc", "-O2", "-fopenmp", "-Iengine", "-Iweights", "tools/reference/profile_forward.c",
                    "build/libattx.a", "-lpng", "-ljpeg", "-lm", "-o", binary], check=True)
    cases = [("MiniLM", "data/sst2-minilm.safetensors", [(1, 16, 200), (1, 128, 40), (1, 512, 8), (32, 128, 3)])]
    if os.path.exists("build/bench/bert-base/model.safetensors"):
        cases.append(("BERT-base", "build/bench/bert-base", [(1, 16, 60), (1, 128, 10), (1, 512, 3), (32, 128, 2)]))
    if quick:
        cases = [(n, p, c[:2]) for n, p, c in cases]
    print("| model | precision | batch x seq | forward ms | " + " | ".join(PARTS) + " |")
    print("|---|---|---|---|" + "---|" * len(PARTS))
    for name, path, shapes in cases:
        for B, T, repeat in shapes:
            for int8 in (False, True):
                best, counts = profile(binary, path, B, T, repeat, int8)
                total = sum(counts.values()) or 1
                cells = [f"{100.0 * counts[p] / total:.0f}%" if counts[p] else "" for p in PARTS]
                print(f"| {name} | {'int8' if int8 else 'fp32'} | {B} x {T} | {best:.2f} | " + " | ".join(cells) + " |",
                      flush=True)


if __name__ == "__main__":
    main()
