"""Relative error of the digital-PIM attention datapath on the tiny random models of the tests
(docs/circuit.md, "Digital attention"): high bits, the chip's defaults, fixed-point softmax, 12-bit V.

    .venv/bin/python scripts/digital_attention_error.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from hyflexpim.sim.digital_attention import DigitalAttentionConfig, enable_digital_attention
from test_sim_attention import HIGH, _bert, _inputs, _llama, _rel, _run

CONFIGS = {"16/24/24 bits": HIGH, "defaults (8 / 12 x 8)": DigitalAttentionConfig(),
           "fixed-point softmax": DigitalAttentionConfig(softmax="fixed_point"),
           "V at 12 bits": DigitalAttentionConfig(value_bits=12)}

for make in (_bert, _llama):
    model = make()
    ids, mask = _inputs()
    ref = _run(model, ids, mask)
    cells = []
    for name, cfg in CONFIGS.items():
        with enable_digital_attention(model, cfg):
            cells.append(f"{name} {_rel(_run(model, ids, mask), ref, mask):.2g}")
    print(f"{make.__name__[1:]}: " + ", ".join(cells))
