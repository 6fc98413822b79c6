#!/usr/bin/python3
"""Training-step fixture for test/test_optim.c: test/fixtures/optim/reference.safetensors.

PyTorch (float32, CPU) runs 6 optimizer steps on three parameters with fixed random gradients:
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    torch.optim.AdamW([{params: [p0, p2], weight_decay: 0.1}, {params: [p1], weight_decay: 0}],
                      lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    transformers-style linear schedule: warm-up 2 steps, 0 at step 6 (LambdaLR)
Stored (all F32 unless said):
    p{i}.init                   the parameters before the first step
    grad.{s}.{i}                the gradient given at step s (before clipping)
    norm.{s} [1]                clip_grad_norm_'s return value at step s
    lr.{s} [1]                  the learning rate used at step s
    p{i}.after.{s}              the parameters after step s
    ce.logits [4,3], ce.labels [4] I64, ce.loss [1], ce.grad [4,3]
                                CrossEntropyLoss (mean) and its gradient w.r.t. the logits
    ce_ls.loss [1], ce_ls.grad [4,3]
                                the same with label_smoothing=0.1 (same logits and labels)
    lrs.q{i}.init, lrs.grad.{s}.{i}, lrs.q{i}.after.{s}
                                4 AdamW steps (no clipping, the same schedule) with one
                                parameter group per tensor, lr 0.01 x (1, 0.5, 0.25), weight
                                decay 0.1: a layer-wise learning-rate decay
Re-run from the repository root:
    /usr/bin/python3 tools/reference/make_optim_fixture.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_io import write_safetensors  # noqa: E402

STEPS, WARMUP = 6, 2


def linear_schedule(step):
    if step < WARMUP:
        return step / max(1, WARMUP)
    return max(0.0, (STEPS - step) / max(1, STEPS - WARMUP))


def main():
    torch.manual_seed(1234)
    shapes = [(3, 4), (5,), (2, 3, 2)]
    params = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
    out = {f"p{i}.init": p.detach().clone() for i, p in enumerate(params)}
    opt = torch.optim.AdamW([{"params": [params[0], params[2]], "weight_decay": 0.1},
                             {"params": [params[1]], "weight_decay": 0.0}],
                            lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule)
    for s in range(STEPS):
        # gradients of varying size, so that clipping acts on some steps and not others
        scale = [3.0, 0.05, 1.0, 0.2, 2.0, 0.1][s]
        for i, p in enumerate(params):
            p.grad = scale * torch.randn(p.shape)
            out[f"grad.{s}.{i}"] = p.grad.clone()
        norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        out[f"norm.{s}"] = norm.reshape(1).float()
        out[f"lr.{s}"] = torch.tensor([opt.param_groups[0]["lr"]], dtype=torch.float32)
        opt.step()
        sched.step()
        for i, p in enumerate(params):
            out[f"p{i}.after.{s}"] = p.detach().clone()

    logits = torch.randn(4, 3, requires_grad=True)
    labels = torch.tensor([0, 2, 1, 2])
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    out["ce.logits"] = logits.detach().clone()
    out["ce.labels"] = labels
    out["ce.loss"] = loss.detach().reshape(1)
    out["ce.grad"] = logits.grad.clone()
    smoothed = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    logits.grad = None
    smoothed.backward()
    out["ce_ls.loss"] = smoothed.detach().reshape(1)
    out["ce_ls.grad"] = logits.grad.clone()

    qs = [torch.nn.Parameter(torch.randn(s)) for s in [(4, 3), (6,), (2, 5)]]
    for i, q in enumerate(qs):
        out[f"lrs.q{i}.init"] = q.detach().clone()
    qopt = torch.optim.AdamW([{"params": [q], "lr": 0.01 * scale, "weight_decay": 0.1}
                              for q, scale in zip(qs, [1.0, 0.5, 0.25])], betas=(0.9, 0.999), eps=1e-8)
    qsched = torch.optim.lr_scheduler.LambdaLR(qopt, linear_schedule)
    for s in range(4):
        for i, q in enumerate(qs):
            q.grad = torch.randn(q.shape)
            out[f"lrs.grad.{s}.{i}"] = q.grad.clone()
        qopt.step()
        qsched.step()
        for i, q in enumerate(qs):
            out[f"lrs.q{i}.after.{s}"] = q.detach().clone()

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "test", "fixtures", "optim", "reference.safetensors")
    write_safetensors(path, out, {"torch": torch.__version__})
    print(f"wrote {path}: {len(out)} tensors")


if __name__ == "__main__":
    main()
