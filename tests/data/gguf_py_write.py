"""Writes a GGUF file with the `gguf` PyPI package (run by tests/test_gguf_py.c):
every metadata value type, arrays of each, and one tensor of each type gguf-py can make.
Also writes OUT.expect: for each tensor in order, u32 name length, name, u32 type,
u64 element count, then the float32 values gguf-py's own dequantizer gives."""
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V

out = sys.argv[1]
w = gguf.GGUFWriter(out, "testarch")
w.add_uint8("v.u8", 250)
w.add_int8("v.i8", -7)
w.add_uint16("v.u16", 65000)
w.add_int16("v.i16", -32000)
w.add_uint32("v.u32", 4294967295)
w.add_int32("v.i32", -123456789)
w.add_float32("v.f32", 0.15625)
w.add_uint64("v.u64", 18446744073709551615)
w.add_int64("v.i64", -9223372036854775807)
w.add_float64("v.f64", 3.141592653589793)
w.add_bool("v.bool", False)
w.add_string("v.str", "gguf-py \u2713")
for name, vt, vals in (("u8", V.UINT8, [0, 255]), ("i8", V.INT8, [-128, 127]), ("u16", V.UINT16, [1, 65535]),
                       ("i16", V.INT16, [-2, 2]), ("u32", V.UINT32, [7, 4294967295]), ("i32", V.INT32, [-1, 5]),
                       ("f32", V.FLOAT32, [0.5, -2.25]), ("u64", V.UINT64, [3, 2**63]), ("i64", V.INT64, [-(2**62), 9]),
                       ("f64", V.FLOAT64, [1e-300, -0.5]), ("bool", V.BOOL, [True, False, True])):
    w.add_key_value("a." + name, vals, V.ARRAY, sub_type=vt)
w.add_array("a.str", ["x", "", "tokens \u00e9"])

rng = np.random.default_rng(7)
expect = []
def add(name, qtype, shape):
    """shape outermost first; the last dim is the row."""
    x = rng.standard_normal(shape).astype(np.float32)
    if qtype in (Q.I8, Q.I16, Q.I32, Q.I64):
        dt = {Q.I8: np.int8, Q.I16: np.int16, Q.I32: np.int32, Q.I64: np.int64}[qtype]
        t = (x * 50).astype(dt)
        w.add_tensor(name, t)
        deq = t.astype(np.float32)
    elif qtype == Q.F64:
        t = x.astype(np.float64)
        w.add_tensor(name, t)
        deq = t.astype(np.float32)
    else:
        try:
            t = gguf.quants.quantize(x, qtype)
        except NotImplementedError:
            return
        w.add_tensor(name, t, raw_shape=t.shape if qtype in (Q.F32, Q.F16) else None,
                     raw_dtype=None if qtype in (Q.F32, Q.F16) else qtype)
        deq = gguf.quants.dequantize(t, qtype).astype(np.float32)
    expect.append((name, int(qtype), deq.reshape(-1)))

add("t.f32", Q.F32, (3, 5))
add("t.f16", Q.F16, (2, 3, 4))
add("t.bf16", Q.BF16, (4, 8))
add("t.f64", Q.F64, (6,))
add("t.i8", Q.I8, (2, 4))
add("t.i16", Q.I16, (4,))
add("t.i32", Q.I32, (3,))
add("t.i64", Q.I64, (2,))
for qt in (Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0, Q.IQ4_NL, Q.MXFP4):
    add("t." + qt.name.lower(), qt, (3, 64))
for qt in (Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K, Q.IQ4_XS, Q.TQ1_0, Q.TQ2_0):
    add("t." + qt.name.lower(), qt, (2, 256))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
with open(out + ".expect", "wb") as f:
    for name, qt, deq in expect:
        b = name.encode()
        f.write(struct.pack("<I", len(b)) + b + struct.pack("<IQ", qt, deq.size) + deq.tobytes())
print(len(expect), "tensors")
