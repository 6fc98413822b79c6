#!/usr/bin/python3
"""Fixtures for the torch.save reader (weights/torchbin.c), in test/fixtures/torchbin/.

state.bin is a small state dict saved by torch.save with BERT-like names that covers what the
reader must handle: F32/F16/BF16 and other dtypes, a transposed (non-contiguous) tensor, a strided
slice, a stride-0 expanded tensor, two views of one storage at different offsets, a 0-d scalar,
the I64 position_ids buffer [1, 16] (an expand, as Hugging Face makes it), an empty [0, 4] tensor,
an nn.Parameter saved as such (torch._utils._rebuild_parameter), a module's state_dict with its
`_metadata` attribute. state.safetensors holds the SAME tensors (contiguous copies, same names,
dtypes and order). other_name.pt is the same dict saved under another file name (torch uses it
as the archive prefix), state_p4.bin the same with pickle protocol 4 (FRAME, STACK_GLOBAL,
MEMOIZE, SHORT_BINUNICODE), wrapped.pt a training checkpoint {"epoch", "state_dict"} and
legacy.bin the pre-1.6 non-zip format. Everything is seeded, so re-running gives the same
files (except legacy.bin, whose storage keys are memory addresses; only its magic is tested). Run from the repository root:  /usr/bin/python3 tools/reference/make_torchbin_fixture.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from st_io import write_safetensors  # noqa: E402

torch.manual_seed(1234)
out = "test/fixtures/torchbin"
os.makedirs(out, exist_ok=True)


def r(*shape):
    return torch.randn(*shape) * 0.5


class Tiny(torch.nn.Module):
    """A module whose state_dict() gives the OrderedDict with `_metadata` torch.save writes."""

    def __init__(self):
        super().__init__()
        self.dense = torch.nn.Linear(4, 3)
        self.register_buffer("position_ids", torch.arange(16).expand((1, -1)))


model = Tiny()
state = model.state_dict()      # OrderedDict: dense.weight, dense.bias, position_ids; _metadata
# rename into BERT-like names, keeping the dict object (and so its _metadata)
for old, new in [("dense.weight", "bert.pooler.dense.weight"), ("dense.bias", "bert.pooler.dense.bias"),
                 ("position_ids", "bert.embeddings.position_ids")]:
    state[new] = state.pop(old)

state["bert.embeddings.word_embeddings.weight"] = r(10, 4)
state["bert.embeddings.LayerNorm.weight"] = (1 + r(4)).half()
state["bert.embeddings.LayerNorm.bias"] = r(4).bfloat16()
state["bert.encoder.layer.0.attention.self.query.weight"] = r(4, 4)
state["bert.encoder.layer.0.attention.self.key.weight"] = r(4, 6).t()              # transposed
state["bert.encoder.layer.0.attention.self.value.weight"] = r(5, 8)[1:5, 2:6]      # strided slice
shared = r(20)
state["bert.encoder.layer.0.attention.self.query.bias"] = shared[0:4]              # one storage,
state["bert.encoder.layer.0.attention.self.key.bias"] = shared[4:8]                # three views
state["bert.encoder.layer.0.intermediate.dense.weight"] = shared[8:20].view(3, 4)
state["bert.encoder.layer.0.output.dense.bias"] = r(4).expand(2, 4)                # stride 0
state["bert.encoder.layer.0.output.LayerNorm.weight"] = torch.nn.Parameter(1 + r(4))
state["classifier.temperature"] = torch.tensor(1.5)                                # 0-d
state["bert.embeddings.empty"] = torch.zeros(0, 4)                                 # no elements
state["bert.embeddings.token_type_ids"] = torch.zeros(1, 16, dtype=torch.int32)
state["mask.bool"] = torch.tensor([True, False, True])
state["scale.f64"] = torch.tensor([0.25, -3.0], dtype=torch.float64)
state["bytes.u8"] = torch.tensor([[1, 2, 255]], dtype=torch.uint8)
state["small.i8"] = torch.tensor([-1, 7], dtype=torch.int8)
state["small.i16"] = torch.tensor([-300, 300], dtype=torch.int16)

torch.save(state, os.path.join(out, "state.bin"))
torch.save(state, os.path.join(out, "other_name.pt"))
torch.save(state, os.path.join(out, "state_p4.bin"), pickle_protocol=4)
torch.save({"epoch": 3, "state_dict": state}, os.path.join(out, "wrapped.pt"))
torch.save({"a": torch.ones(2)}, os.path.join(out, "legacy.bin"), _use_new_zipfile_serialization=False)

# the reference: same names, dtypes and order; contiguous copies
write_safetensors(os.path.join(out, "state.safetensors"),
                  {k: v.detach().contiguous().clone() for k, v in state.items()})

# what torch.load gives back must be exactly what was saved
back = torch.load(os.path.join(out, "state.bin"))
assert list(back.keys()) == list(state.keys())
for k, v in state.items():
    assert back[k].dtype == v.dtype and torch.equal(back[k], v.detach()), k
print(f"{len(state)} tensors in {out}")
