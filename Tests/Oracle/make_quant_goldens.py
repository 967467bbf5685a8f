#!/usr/bin/env python3
"""Golden dequantizations from an independent implementation: gguf-py's numpy `gguf.quants.dequantize`.

Writes Tests/Fixtures/quant-goldens/dequantize.json, which QuantGoldenTests.swift checks VocabKitInference's
`dequantizeRow` (and, through it, the dot kernels) against. For each of the 13 weight types the forward pass
reads, a seeded run of random blocks: every byte random except the F16 scale fields (d, dmin, m), which are
set to finite normal halves of either sign, so every bit of every quant field is exercised. Float types get
random finite values (F16 including subnormals). Expected values are stored as float32 bit patterns.

Usage: python3 Tests/Oracle/make_quant_goldens.py [--check]
Needs numpy and gguf (e.g. `python3 -m venv .build-h2/venv && .build-h2/venv/bin/pip install gguf numpy`).
--check regenerates in memory and fails if the committed file differs.
"""
import base64
import importlib.metadata
import json
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

SEED = 20261124
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "quant-goldens", "dequantize.json")

# name: (ggml type, elements per block, bytes per block, byte offsets of F16 scale fields, blocks to write)
TYPES = {
    "F32": (T.F32, 1, 4, [], 512),
    "F16": (T.F16, 1, 2, [], 512),
    "BF16": (T.BF16, 1, 2, [], 512),
    "Q4_0": (T.Q4_0, 32, 18, [0], 32),
    "Q4_1": (T.Q4_1, 32, 20, [0, 2], 32),
    "Q5_0": (T.Q5_0, 32, 22, [0], 32),
    "Q5_1": (T.Q5_1, 32, 24, [0, 2], 32),
    "Q8_0": (T.Q8_0, 32, 34, [0], 32),
    "Q2_K": (T.Q2_K, 256, 84, [80, 82], 8),
    "Q3_K": (T.Q3_K, 256, 110, [108], 8),
    "Q4_K": (T.Q4_K, 256, 144, [0, 2], 8),
    "Q5_K": (T.Q5_K, 256, 176, [0, 2], 8),
    "Q6_K": (T.Q6_K, 256, 210, [208], 8),
}


def sane_halves(rng, count):
    """Finite normal F16 values with magnitudes 2^-12 ... 2^-1 and random signs."""
    mags = np.exp2(rng.uniform(-12, -1, count)).astype(np.float16)
    signs = np.where(rng.integers(0, 2, count) == 1, -1, 1).astype(np.float16)
    return (mags * signs).astype(np.float16)


def make_blocks(rng, name):
    qtype, per_block, block_bytes, scale_offsets, blocks = TYPES[name]
    if name == "F32":
        data = (rng.standard_normal(blocks) * np.exp2(rng.integers(-20, 20, blocks))).astype(np.float32)
        return data.view(np.uint8).copy()
    if name == "F16":
        bits = rng.integers(0, 1 << 16, blocks, dtype=np.uint32).astype(np.uint16)
        bits = np.where((bits & 0x7C00) == 0x7C00, bits & 0xBFFF, bits)  # no infinities or NaNs
        return bits.view(np.uint8).copy()
    if name == "BF16":
        bits = rng.integers(0, 1 << 16, blocks, dtype=np.uint32).astype(np.uint16)
        bits = np.where((bits & 0x7F80) == 0x7F80, bits & 0xBFFF, bits)
        return bits.view(np.uint8).copy()
    raw = rng.integers(0, 256, (blocks, block_bytes), dtype=np.uint16).astype(np.uint8)
    for off in scale_offsets:
        raw[:, off:off + 2] = sane_halves(rng, blocks).view(np.uint8).reshape(blocks, 2)
    return raw.reshape(-1)


def build():
    rng = np.random.default_rng(SEED)
    cases = []
    for name, (qtype, per_block, _, _, blocks) in TYPES.items():
        data = make_blocks(rng, name)
        values = np.asarray(dequantize(data, qtype), dtype=np.float32).reshape(-1)
        assert values.size == per_block * blocks, name
        assert np.all(np.isfinite(values)), name
        cases.append({
            "type": name,
            "elements": int(values.size),
            "blocks_base64": base64.b64encode(data.tobytes()).decode("ascii"),
            "expected_f32le_base64": base64.b64encode(values.astype("<f4").tobytes()).decode("ascii"),
        })
    return {
        "oracle": "gguf-py gguf.quants.dequantize (numpy)",
        "gguf_version": importlib.metadata.version("gguf"),
        "numpy_version": np.__version__,
        "seed": SEED,
        "generator": "Tests/Oracle/make_quant_goldens.py",
        "cases": cases,
    }


def main():
    text = json.dumps(build(), indent=1) + "\n"
    if "--check" in sys.argv:
        with open(OUT) as f:
            committed = json.load(f)
        fresh = json.loads(text)
        # Versions may differ; the data must not.
        if committed["cases"] != fresh["cases"]:
            sys.exit("quant goldens differ from what this gguf/numpy produce")
        print("quant goldens match")
        return
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    print(f"wrote {os.path.normpath(OUT)} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
