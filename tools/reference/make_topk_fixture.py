"""Which indices torch.topk picks among tied values on the CPU: the fixture of
test_metrics.c's test of attx_torch_topk_set (explain/topk_torch.c).

Cases: P1's layout (-inf at [CLS], the players' scores, -inf at [SEP] and the padding) with every
player tied (P1's "Att"), and vectors whose values come from a small set (many ties), over the
lengths and k that P1's bins give, on both of torch's paths (k * 64 <= n: partial_sort, else
nth_element). Writes test/fixtures/topk/torch_topk.json:
  {"torch": VERSION, "cases": [{"values": [...], "k": K, "selected": [sorted indices]}]}
(small integers, and -inf written as the string "-inf": only the order and the ties matter).

    /usr/bin/python3 tools/reference/make_topk_fixture.py
"""
import json
import math
import random

import torch

random.seed(7)
cases = []


def add(values, k):
    t = torch.tensor(values, dtype=torch.float32)
    picked = torch.topk(t, k=k, dim=0).indices.tolist()
    cases.append({"values": ["-inf" if v == -math.inf else v for v in values], "k": k,
                  "selected": sorted(picked)})


# P1's "Att": every player the same score (1/T_padded there; only the ties matter, so 1 here),
# the rest -inf; k from P1's bins {10, 20, 50} %
for n in list(range(1, 40)) + [47, 63, 64, 65, 130]:
    for pad in (0, 1, 5, 30, 70):
        values = [-math.inf] + [1] * n + [-math.inf] * (1 + pad)
        for percent in (10, 20, 50):
            k = math.ceil(n * percent / 100)
            add(values, k)
# values from a small set: ties everywhere, both paths
for trial in range(200):
    n = random.randint(1, 200)
    levels = [random.choice([0, 1, 2, 3, -1]) for _ in range(random.randint(1, 4))]
    values = [random.choice(levels) for _ in range(n)]
    if random.random() < 0.5:
        values[0] = -math.inf
        values[-1] = -math.inf
    k = random.randint(1, n)
    if random.random() < 0.3:
        k = max(1, n // 64)
    add(values, k)

with open("test/fixtures/topk/torch_topk.json", "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(len(cases), "cases, torch", torch.__version__)
