#!/usr/bin/env python3
"""ONNX Runtime timing peer for `make bench` (test/bench_ort.c). Benchmark-only: attx never needs
onnxruntime; this script runs where `import onnxruntime, torch` works (a venv made with
--system-site-packages over Debian's python3-torch, plus `pip install onnxruntime onnx`).

It exports a BERT classifier to ONNX once per model (cached beside --cache), through the
reference forward of tools/reference/bert_ref.py, then answers timing requests on stdin so that
the C benchmark can interleave its own runs with ONNX Runtime's in one process tree:

    model NAME PATH          load a BERT classifier with canonical names as NAME: an attx-written
                             safetensors (F16/F32, config in __metadata__ attx.config) or an HF
                             directory (config.json, model.safetensors)
    time NAME VARIANT THREADS REPEAT IDS...
                             VARIANT fp32 | int8 (onnxruntime.quantization.quantize_dynamic,
                             per-channel int8 weights, dynamic uint8 activations) | torch
                             (the same forward in PyTorch, eager, under no_grad);
                             IDS: "B T id id ..." (B*T ids, all real tokens);
                             answers "ms MIN MEDIAN" (REPEAT runs after 2 warm-ups)
    logits NAME VARIANT IDS...   answers "logits v v ..." (B*C values), for accuracy checks
    quit

The graph: ONNX Runtime's offline BERT optimiser (onnxruntime.transformers.optimizer,
model_type bert: fused Attention, SkipLayerNormalization, BiasGelu) when it runs, otherwise the
plain export; session graph optimisations are on (ORT_ENABLE_ALL) in both cases, and a line on
stderr says which graph was used. Sessions use intra_op_num_threads = THREADS, inter_op 1,
sequential execution.
"""
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import onnxruntime as ort  # noqa: E402
from st_io import read_attx_model  # noqa: E402


def log(msg):
    print("# ort_bench: " + msg, file=sys.stderr, flush=True)


class Classifier(torch.nn.Module):
    """The forward of bert_ref.bert_forward, written with the sizes as Python ints (the exporter
    cannot take LayerNorm's shape from a traced tensor) and the shape ops ONNX Runtime's BERT
    optimiser recognises: BertForSequenceClassification in eval mode."""

    def __init__(self, cfg, P):
        super().__init__()
        self.P = P
        self.Hd, self.nH = cfg["hidden_size"], cfg["num_attention_heads"]
        self.L, self.eps = cfg["num_hidden_layers"], cfg.get("layer_norm_eps", 1e-12)

    def lin(self, name, x):
        return torch.nn.functional.linear(x, self.P[name + ".weight"], self.P[name + ".bias"])

    def ln(self, name, x):
        return torch.nn.functional.layer_norm(x, (self.Hd,), self.P[name + ".weight"],
                                              self.P[name + ".bias"], self.eps)

    def forward(self, input_ids, attention_mask):
        P, Hd, nH = self.P, self.Hd, self.nH
        d = Hd // nH
        T = input_ids.size(1)
        pos = torch.arange(T, dtype=torch.int64).unsqueeze(0)
        e = (P["bert.embeddings.word_embeddings.weight"][input_ids]
             + P["bert.embeddings.position_embeddings.weight"][pos]
             + P["bert.embeddings.token_type_embeddings.weight"][torch.zeros_like(input_ids)])
        x = self.ln("bert.embeddings.LayerNorm", e)
        amask = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0

        def heads(t):
            return t.view(t.size(0), -1, nH, d).permute(0, 2, 1, 3)
        for i in range(self.L):
            p = f"bert.encoder.layer.{i}."
            q = heads(self.lin(p + "attention.self.query", x))
            k = heads(self.lin(p + "attention.self.key", x))
            v = heads(self.lin(p + "attention.self.value", x))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + amask
            probs = torch.softmax(scores, dim=-1)
            c = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
            c = c.view(c.size(0), -1, Hd)
            a = self.ln(p + "attention.output.LayerNorm", x + self.lin(p + "attention.output.dense", c))
            f = self.lin(p + "output.dense", torch.nn.functional.gelu(self.lin(p + "intermediate.dense", a)))
            x = self.ln(p + "output.LayerNorm", a + f)
        pooled = torch.tanh(self.lin("bert.pooler.dense", x[:, 0]))
        return self.lin("classifier", pooled)


def export(cfg, P, path):
    ids = torch.full((2, 16), 1000, dtype=torch.int64)
    mask = torch.ones(2, 16, dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(Classifier(cfg, P), (ids, mask), path, opset_version=14,
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "attention_mask": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch"}},
                          do_constant_folding=True)


def optimise(cfg, src, dst):
    try:
        from onnxruntime.transformers import optimizer
        m = optimizer.optimize_model(src, model_type="bert", num_heads=cfg["num_attention_heads"],
                                     hidden_size=cfg["hidden_size"], opt_level=1)
        fused = m.get_fused_operator_statistics()
        m.save_model_to_file(dst)
        log(f"optimised graph {dst}: " + ", ".join(f"{k} {v}" for k, v in fused.items() if v))
        return dst
    except Exception as e:  # the plain export still runs with the session's own fusions
        log(f"offline BERT optimiser failed ({type(e).__name__}: {e}); using the plain export")
        return src


class Model:
    def __init__(self, name, path, cache):
        os.makedirs(cache, exist_ok=True)
        cfg, P = read_attx_model(path)
        self.module = Classifier(cfg, P).eval()
        stem = os.path.join(cache, name)
        st = os.stat(os.path.join(path, "model.safetensors") if os.path.isdir(path) else path)
        tag = f"{st.st_size}-{int(st.st_mtime)}"
        fp32 = f"{stem}-{tag}.onnx"
        if not os.path.exists(fp32):
            export(cfg, P, fp32)
        opt = f"{stem}-{tag}-opt.onnx"
        if not os.path.exists(opt):
            opt = optimise(cfg, fp32, opt)
        int8 = f"{stem}-{tag}-int8.onnx"
        if not os.path.exists(int8):
            from onnxruntime.quantization import quantize_dynamic, QuantType
            import onnx
            quantize_dynamic(opt, int8, weight_type=QuantType.QInt8, per_channel=True,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        self.paths = {"fp32": opt, "int8": int8}
        self.sessions = {}

    def session(self, variant, threads):
        key = (variant, threads)
        if variant == "torch":
            torch.set_num_threads(threads)
            return TorchSession(self.module)
        if key not in self.sessions:
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self.sessions[key] = ort.InferenceSession(self.paths[variant], so,
                                                      providers=["CPUExecutionProvider"])
        return self.sessions[key]


class TorchSession:
    """sess.run(None, feeds) for the PyTorch module, as an ONNX Runtime session is called."""

    def __init__(self, module):
        self.module = module

    def run(self, _names, f):
        with torch.no_grad():
            return [self.module(torch.from_numpy(f["input_ids"]), torch.from_numpy(f["attention_mask"])).numpy()]


def feeds(words):
    B, T = int(words[0]), int(words[1])
    ids = np.array([int(w) for w in words[2:2 + B * T]], dtype=np.int64).reshape(B, T)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids)}


def main():
    cache = os.environ.get("ORT_BENCH_CACHE", "build/ort-bench")
    models = {}
    log(f"onnxruntime {ort.__version__}, torch {torch.__version__}")
    print("ready", flush=True)
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        try:
            if w[0] == "quit":
                break
            if w[0] == "model":
                models[w[1]] = Model(w[1], w[2], cache)
                print("ok", flush=True)
            elif w[0] == "time":
                m, variant, threads, repeat = models[w[1]], w[2], int(w[3]), int(w[4])
                sess, f = m.session(variant, threads), feeds(w[5:])
                for _ in range(2):
                    sess.run(None, f)
                ts = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    sess.run(None, f)
                    ts.append((time.perf_counter() - t0) * 1e3)
                ts.sort()
                print(f"ms {ts[0]:.4f} {ts[len(ts) // 2]:.4f}", flush=True)
            elif w[0] == "logits":
                m, variant = models[w[1]], w[2]
                out = m.session(variant, 1).run(None, feeds(w[3:]))[0]
                print("logits " + " ".join(f"{v:.9g}" for v in out.reshape(-1)), flush=True)
            else:
                print(f"error unknown request {w[0]}", flush=True)
        except Exception as e:
            print(f"error {type(e).__name__}: {e}".replace("\n", " "), flush=True)


if __name__ == "__main__":
    main()
