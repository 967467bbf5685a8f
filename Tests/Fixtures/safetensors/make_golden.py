"""Writes all-dtypes.safetensors with the reference library (safetensors' own serializer): one 2x4 tensor of
every dtype it can serialize, with deterministic bytes, plus __metadata__. The Swift tests read it and
rewrite it byte for byte. Run with the venv from Tests/Scripts/setup-hf-oracle.sh:
    .build-oracle/hf-venv/bin/python Tests/Fixtures/safetensors/make_golden.py [--check]
"""
import ctypes, hashlib, os, sys
import safetensors
from safetensors import serialize, TensorSpec

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "all-dtypes.safetensors")
# (torch-style name the serializer takes, bits per element)
DTYPES = [("bool", 8), ("uint8", 8), ("int8", 8), ("float8_e5m2", 8), ("float8_e4m3fn", 8), ("float8_e8m0fnu", 8),
          ("float8_e4m3fnuz", 8), ("float8_e5m2fnuz", 8), ("int16", 16), ("uint16", 16), ("float16", 16),
          ("bfloat16", 16), ("int32", 32), ("uint32", 32), ("float32", 32), ("complex64", 64), ("float64", 64),
          ("int64", 64), ("uint64", 64), ("float4_e2m1fn_x2", 4)]


def build():
    buffers, specs = [], {}
    for index, (name, bits) in enumerate(DTYPES):
        count = 8 * bits // 8
        data = bytes(((index * 37 + k * 11) & 0xFF) if name != "bool" else (k & 1) for k in range(count))
        buf = ctypes.create_string_buffer(data, count)
        buffers.append(buf)
        # Names sort in a different order from the dtypes, so tensor order is exercised.
        specs[f"t{len(DTYPES) - index:02d}.{name}"] = TensorSpec(dtype=name, shape=[2, 4] if bits >= 8 else [2, 2],
                                                               data_ptr=ctypes.addressof(buf), data_len=count)
    return serialize(specs, metadata={"format": "pt"})


data = build()
if "--check" in sys.argv:
    old = open(OUT, "rb").read()
    sys.exit(0 if old == data else f"{OUT} differs from what safetensors {safetensors.__version__} writes")
open(OUT + ".tmp", "wb").write(data)
os.replace(OUT + ".tmp", OUT)
print(OUT, len(data), hashlib.sha256(data).hexdigest())
