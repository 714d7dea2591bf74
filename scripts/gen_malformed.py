#!/usr/bin/env python3
"""Writes the file-format test corpus: small valid GGUF / safetensors / MLX files
(tests/data/valid), the malformed corpus with each file's expected status
(tests/data/malformed/MANIFEST.tsv), and the fuzz seeds (tests/fuzz/seeds).
Pure standard library, byte by byte, independent of the C writer. Rerun after editing:
    python3 scripts/gen_malformed.py"""
import json
import os
import shutil
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
VALID = os.path.join(ROOT, "tests", "data", "valid")
BAD = os.path.join(ROOT, "tests", "data", "malformed")
SEEDS = os.path.join(ROOT, "tests", "fuzz", "seeds")

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
T_F32, T_F16, T_Q4_0, T_Q8_0, T_Q4_K, T_F64, T_BF16 = 0, 1, 2, 8, 12, 28, 30
M64 = (1 << 64) - 1


def u32(v): return struct.pack("<I", v & 0xFFFFFFFF)
def u64(v): return struct.pack("<Q", v & M64)
def gstr(s): b = s.encode() if isinstance(s, str) else s; return u64(len(b)) + b


def kv(key, t, payload): return gstr(key) + u32(t) + payload
def kv_u32(key, v): return kv(key, U32, u32(v))
def kv_str(key, v): return kv(key, STR, gstr(v))
def arr(et, n, body): return u32(ARR) + u32(et) + u64(n) + body


def tinfo(name, dims, t, off):
    """dims in GGUF order (innermost first)."""
    return gstr(name) + u32(len(dims)) + b"".join(u64(d) for d in dims) + u32(t) + u64(off)


def gguf(kvs=(), tensors=(), data=b"", version=3, align=32, n_kv=None, n_t=None, magic=b"GGUF"):
    head = magic + u32(version) + u64(len(tensors) if n_t is None else n_t)
    head += u64(len(kvs) if n_kv is None else n_kv) + b"".join(kvs) + b"".join(tensors)
    head += b"\0" * (-len(head) % align)
    return head + data


def pattern(n, seed=1):
    out, x = bytearray(), seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append((x >> 16) & 0xFF)
    return bytes(out)


def q8_0_blocks(nblocks):
    # d = 0.5 (f16 0x3800), qs = small signed values: finite, deterministic
    out = b""
    for b in range(nblocks):
        out += struct.pack("<H", 0x3800) + bytes(((i * 7 + b) % 31 - 15) & 0xFF for i in range(32))
    return out


def q4_k_block():
    # d = 1.0, dmin = 0.5 (f16), scales and quants from a pattern
    return struct.pack("<HH", 0x3C00, 0x3800) + pattern(12, 3) + pattern(128, 4)


def valid_gguf(version=3):
    kvs = [
        kv_str("general.architecture", "llama"),
        kv_str("general.name", "tiny"),
        kv("t.u8", U8, b"\xfe"), kv("t.i8", I8, b"\x80"), kv("t.u16", U16, struct.pack("<H", 65535)),
        kv("t.i16", I16, struct.pack("<h", -32768)), kv_u32("t.u32", 4000000000),
        kv("t.i32", I32, struct.pack("<i", -2147483648)), kv("t.f32", F32, struct.pack("<f", 1.5)),
        kv("t.bool", BOOL, b"\x01"), kv("t.u64", U64, u64(M64)),
        kv("t.i64", I64, struct.pack("<q", -(1 << 63))), kv("t.f64", F64, struct.pack("<d", -0.25)),
        kv("t.arr_i32", ARR, u32(I32) + u64(3) + struct.pack("<3i", 1, -2, 3)),
        kv("t.arr_str", ARR, u32(STR) + u64(3) + gstr("a") + gstr("") + gstr("\u00e9t\u00e9")),
        kv("t.arr_empty", ARR, u32(F32) + u64(0)),
        kv_u32("general.alignment", 32),
    ]
    a = struct.pack("<8f", *[i * 0.5 - 1 for i in range(8)])  # F32 [8]
    b = q8_0_blocks(2)                                       # Q8_0 [2][32]
    c = q4_k_block()                                         # Q4_K [256]
    off_b = 32
    off_c = off_b + len(b) + (-(off_b + len(b)) % 32)
    tens = [tinfo("a", [8], T_F32, 0), tinfo("b", [32, 2], T_Q8_0, off_b), tinfo("c", [256], T_Q4_K, off_c)]
    data = a + b"\0" * (off_b - len(a)) + b + b"\0" * (off_c - off_b - len(b)) + c
    return gguf(kvs, tens, data, version=version)


def st_file(header, data=b"", raw=None, hlen=None):
    h = raw if raw is not None else json.dumps(header).encode()
    h += b" " * (-len(h) % 8) if raw is None else b""
    return u64(len(h) if hlen is None else hlen) + h + data


def st_entry(dtype, shape, b, e): return {"dtype": dtype, "shape": shape, "data_offsets": [b, e]}


def valid_safetensors():
    hdr = {"__metadata__": {"format": "pt", "note": "tiny"},
           "x": st_entry("F32", [2, 3], 0, 24), "y": st_entry("BF16", [4], 24, 32),
           "z": st_entry("I64", [], 32, 40), "w": st_entry("U8", [0, 5], 40, 40)}
    data = struct.pack("<6f", 1, 2, 3, 4, 5, 6) + struct.pack("<4H", 0x3F80, 0x4000, 0xC040, 0) + u64(7)
    return st_file(hdr, data)


def mlx_model():
    """An MLX-quantized model: per bits b, module m<b> with weight [3, 64] (K = 64),
    q(n, k) = (n * 5 + k * 3) % 2^b, scale = 0.5 + n (bf16 exact), bias = -1 - g."""
    hdr, data = {}, b""

    def add(name, dtype, shape, payload):
        nonlocal data
        hdr[name] = st_entry(dtype, shape, len(data), len(data) + len(payload))
        data += payload

    N, K = 3, 64
    for bits, gs in ((2, 32), (3, 32), (4, 64), (5, 32), (6, 64), (8, 32)):
        m = f"model.m{bits}"
        words = b""
        for n in range(N):
            acc, nb = 0, 0
            for k in range(K):
                acc |= ((n * 5 + k * 3) % (1 << bits)) << nb
                nb += bits
            words += acc.to_bytes(K * bits // 8, "little")
        add(m + ".weight", "U32", [N, K * bits // 32], words)
        bf = lambda v: struct.pack("<H", struct.unpack("<I", struct.pack("<f", v))[0] >> 16)
        add(m + ".scales", "BF16", [N, K // gs], b"".join(bf(0.5 + n) for n in range(N) for g in range(K // gs)))
        add(m + ".biases", "BF16", [N, K // gs], b"".join(bf(-1.0 - g) for n in range(N) for g in range(K // gs)))
    add("model.norm.weight", "F32", [K], struct.pack(f"<{K}f", *[k / 8 for k in range(K)]))
    cfg = {"model_type": "tiny", "quantization": {"group_size": 32, "bits": 4,
                                                 **{f"model.m{b}": {"bits": b, "group_size": g}
                                                    for b, g in ((2, 32), (3, 32), (4, 64), (5, 32), (6, 64), (8, 32))}}}
    return st_file(hdr, data), json.dumps(cfg, indent=1).encode()


def gguf_cases(v):
    hdr = lambda nt, nkv, ver=3: b"GGUF" + u32(ver) + u64(nt) + u64(nkv)
    one = lambda t: gguf([], [t], b"\0" * 64)
    f32 = lambda name="t", off=0: tinfo(name, [16], T_F32, off)
    fmt = "format"
    c = [
        ("empty", b"", fmt, "0-byte file"),
        ("short_magic", b"GGU", fmt, "3 bytes"),
        ("bad_magic", b"GGML" + v[4:], fmt, "magic GGML"),
        ("lower_magic", b"gguf" + v[4:], fmt, "magic gguf"),
        ("version_0", v[:4] + u32(0) + v[8:], fmt, "version 0"),
        ("version_1", v[:4] + u32(1) + v[8:], fmt, "version 1 (32-bit counts)"),
        ("version_4", v[:4] + u32(4) + v[8:], fmt, "version 4"),
        ("big_endian", v[:4] + struct.pack(">I", 3) + v[8:], fmt, "big-endian version"),
        ("cut_version", v[:6], fmt, "file ends in the version"),
        ("cut_tensor_count", v[:12], fmt, "file ends in the tensor count"),
        ("cut_kv_count", v[:20], fmt, "file ends in the metadata count"),
        ("kv_count_max", hdr(0, M64) + b"\0" * 64, fmt, "metadata count 2^64-1"),
        ("kv_count_limit", hdr(0, 65537) + b"\0" * 64, fmt, "metadata count over the limit"),
        ("kv_count_file", hdr(0, 1000) + kv_u32("a", 1), fmt, "metadata count beyond the file"),
        ("tensor_count_max", hdr(M64, 0) + b"\0" * 64, fmt, "tensor count 2^64-1"),
        ("tensor_count_limit", hdr((1 << 20) + 1, 0) + b"\0" * 64, fmt, "tensor count over the limit"),
        ("tensor_count_file", hdr(100, 0) + f32(), fmt, "tensor count beyond the file"),
        ("key_len_max", hdr(0, 1) + u64(M64) + b"k" * 32, fmt, "key length 2^64-1"),
        ("key_len_limit", hdr(0, 1) + gstr("k" * 300) + u32(U8) + b"\1", fmt, "key longer than 256"),
        ("key_len_file", hdr(0, 1) + u64(40) + b"k" * 30, fmt, "key runs past the end"),
        ("key_empty", hdr(0, 1) + kv("", U8, b"\1"), fmt, "empty key"),
        ("key_nul", hdr(0, 1) + kv("a\0b", U8, b"\1"), fmt, "key with a NUL byte"),
        ("vtype_13", hdr(0, 1) + kv("k", 13, b"\0" * 8), fmt, "value type 13"),
        ("vtype_max", hdr(0, 1) + kv("k", 0xFFFFFFFF, b"\0" * 8), fmt, "value type 2^32-1"),
        ("str_len_max", hdr(0, 1) + kv("k", STR, u64(M64) + b"x" * 16), fmt, "string length 2^64-1"),
        ("str_len_file", hdr(0, 1) + kv("k", STR, u64(100) + b"x" * 16), fmt, "string past the end"),
        ("str_len_limit", hdr(0, 1) + kv("k", STR, u64(17 << 20) + b"x" * 16), fmt, "string over 16 MiB"),
        ("arr_nested", hdr(0, 1) + kv("k", ARR, u32(ARR) + u64(1) + u32(U8) + u64(1) + b"\1"), fmt, "array of arrays"),
        ("arr_etype_13", hdr(0, 1) + kv("k", ARR, u32(13) + u64(1) + b"\0" * 8), fmt, "array element type 13"),
        ("arr_len_max", hdr(0, 1) + kv("k", ARR, u32(U8) + u64(M64) + b"\0" * 16), fmt, "array length 2^64-1"),
        ("arr_u64_wrap", hdr(0, 1) + kv("k", ARR, u32(U64) + u64(1 << 61) + b"\0" * 16), fmt, "2^61 u64: bytes wrap to 0"),
        ("arr_u32_wrap", hdr(0, 1) + kv("k", ARR, u32(U32) + u64(1 << 62) + b"\0" * 16), fmt, "2^62 u32: bytes wrap to 0"),
        ("arr_str_wrap", hdr(0, 1) + kv("k", ARR, u32(STR) + u64(1 << 61) + b"\0" * 16), fmt, "2^61 strings"),
        ("arr_len_limit", hdr(0, 1) + kv("k", ARR, u32(U8) + u64((16 << 20) + 1) + b"\0" * 16), fmt, "array over the limit"),
        ("arr_data_file", hdr(0, 1) + kv("k", ARR, u32(I32) + u64(10) + b"\0" * 12), fmt, "array data past the end"),
        ("arr_str_file", hdr(0, 1) + kv("k", ARR, u32(STR) + u64(2) + gstr("ab") + u64(50) + b"x"), fmt, "array string past the end"),
        ("bool_2", hdr(0, 1) + kv("k", BOOL, b"\2"), fmt, "bool value 2"),
        ("bool_arr_7", hdr(0, 1) + kv("k", ARR, u32(BOOL) + u64(3) + b"\1\0\7"), fmt, "bool element 7"),
        ("dup_key", hdr(0, 2) + kv_u32("k", 1) + kv_u32("k", 2), fmt, "duplicate key"),
        ("cut_u64_value", hdr(0, 1) + kv("k", U64, b"\1\2\3"), fmt, "u64 value cut"),
        ("align_i32", gguf([kv("general.alignment", I32, u32(32))]), fmt, "general.alignment as i32"),
        ("align_str", gguf([kv_str("general.alignment", "32")]), fmt, "general.alignment as string"),
        ("align_0", gguf([kv_u32("general.alignment", 0)]), fmt, "general.alignment 0"),
        ("align_48", gguf([kv_u32("general.alignment", 48)]), fmt, "general.alignment 48"),
        ("align_2_31", gguf([kv_u32("general.alignment", 1 << 31)]), fmt, "general.alignment 2^31"),
        ("tname_len_max", hdr(1, 0) + u64(M64) + b"\0" * 40, fmt, "tensor name length 2^64-1"),
        ("tname_empty", one(tinfo("", [16], T_F32, 0)), fmt, "empty tensor name"),
        ("tname_limit", one(tinfo("t" * 300, [16], T_F32, 0)), fmt, "tensor name longer than 256"),
        ("tname_nul", one(tinfo("a\0b", [16], T_F32, 0)), fmt, "tensor name with a NUL byte"),
        ("tname_dup", gguf([], [f32("t", 0), f32("t", 64)], b"\0" * 128), fmt, "duplicate tensor names"),
        ("ndim_0", one(tinfo("t", [], T_F32, 0)), fmt, "0 dims"),
        ("ndim_5", one(tinfo("t", [1, 1, 1, 1, 16], T_F32, 0)), fmt, "5 dims"),
        ("ndim_max", hdr(1, 0) + gstr("t") + u32(0xFFFFFFFF) + b"\0" * 64, fmt, "2^32-1 dims"),
        ("dim_2_63", one(tinfo("t", [1 << 63], T_F32, 0)), fmt, "dim 2^63"),
        ("ggml_wrap_f32", gguf([], [tinfo("a", [1 << 32, 1 << 32], T_F32, 0)]), fmt, "96 bytes: [2^32, 2^32] F32, count wraps to 0"),
        ("ggml_wrap_q8_0", gguf([], [tinfo("a", [1 << 32, 1 << 32], T_Q8_0, 0)]), fmt, "96 bytes: [2^32, 2^32] Q8_0, ggml size 2^60"),
        ("ggml_size_2_64_m4", gguf([], [tinfo("a", [(1 << 62) - 1, 1], T_F32, 0)]), fmt, "96 bytes: 2^64-4 bytes"),
        ("dims_overflow_4d", one(tinfo("t", [1 << 31] * 4, T_F32, 0)), fmt, "4 x 2^31 elements"),
        ("bytes_overflow", one(tinfo("t", [1 << 62], T_F64, 0)), fmt, "2^62 F64: 2^65 bytes"),
        ("bytes_past_file", one(tinfo("t", [1 << 40], T_F32, 0)), fmt, "2^40 F32 in a small file"),
        ("ttype_4", one(tinfo("t", [32], 4, 0)), fmt, "removed type 4 (Q4_2)"),
        ("ttype_33", one(tinfo("t", [32], 33, 0)), fmt, "removed type 33"),
        ("ttype_max", one(tinfo("t", [32], 0xFFFFFFFF, 0)), fmt, "type 2^32-1"),
        ("ttype_42", one(tinfo("t", [32], 42, 0)), fmt, "type 42, past ggml's"),
        ("ttype_nvfp4", one(tinfo("t", [64], 40, 0)), "unsupported", "NVFP4 (40): valid in ggml, not in mlxn"),
        ("row_q4_0_33", one(tinfo("t", [33], T_Q4_0, 0)), fmt, "Q4_0 row of 33"),
        ("row_q4_k_128", one(tinfo("t", [128, 2], T_Q4_K, 0)), fmt, "Q4_K row of 128"),
        ("offset_unaligned", one(tinfo("t", [4], T_F32, 4)), fmt, "offset 4, alignment 32"),
        ("offset_past_data", one(tinfo("t", [4], T_F32, 4096)), fmt, "offset past the data"),
        ("offset_wrap", one(tinfo("t", [16], T_F32, (1 << 64) - 32)), fmt, "offset + size wraps"),
        ("extent_past_data", gguf([], [f32()], b"\0" * 63), fmt, "tensor 1 byte past the end"),
        ("overlap", gguf([], [f32("a", 0), f32("b", 32)], b"\0" * 128), fmt, "tensors overlap"),
        ("overlap_same", gguf([], [f32("a", 64), f32("b", 64)], b"\0" * 128), fmt, "tensors at one offset"),
        ("data_start_past_file", gguf([], [f32()])[:-1], fmt, "data section starts past the end"),
        ("cut_tensor_info", gguf([], [f32()], b"\0" * 64)[:24 + 8 + 1 + 4 + 4], fmt, "file ends in a dim"),
        ("cut_data", v[:-10], fmt, "last tensor cut"),
        ("offset_unaligned_64", gguf([kv_u32("general.alignment", 64)], [f32("t", 32)], b"\0" * 128, align=64), fmt, "offset 32, alignment 64"),
    ]
    return c


def st_cases(valid):
    fmt, uns = "format", "unsupported"
    e = lambda d: st_file({"t": d}, b"\0" * 64)
    f4 = lambda **kw: {**st_entry("F32", [4], 0, 16), **kw}
    deep = b"{\"t\":" + b"[" * 5000 + b"]" * 5000 + b"}"
    return [
        ("empty", b"", fmt, "0 bytes"),
        ("short", b"\x10\0\0\0\0\0\0", fmt, "7 bytes"),
        ("hlen_max", u64(M64) + b"{}", fmt, "header length 2^64-1"),
        ("hlen_cap", u64(100000001) + b"{}" + b" " * 62, fmt, "header length over 100 MB"),
        ("hlen_file", u64(1000) + b"{}", fmt, "header past the end"),
        ("hlen_0", u64(0) + b"{}", fmt, "header length 0"),
        ("hlen_1", u64(1) + b"{", fmt, "header of 1 byte"),
        ("json_bad", st_file(None, raw=b"{abc"), fmt, "not JSON"),
        ("json_array", st_file(None, raw=b"[]      "), fmt, "top level array"),
        ("json_string", st_file(None, raw=b"\"hello\""), fmt, "top level string"),
        ("json_cut", u64(32) + valid[8:40], fmt, "header JSON cut"),
        ("json_dup", st_file(None, raw=b'{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"t":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', data=b"\0\0"), fmt, "duplicate tensor"),
        ("json_utf8", st_file(None, raw=b'{"\xff\xfe":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', data=b"\0"), fmt, "invalid UTF-8"),
        ("json_nul_key", st_file(None, raw=b'{"a\\u0000b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', data=b"\0"), fmt, "NUL in a name"),
        ("json_deep", st_file(None, raw=deep), fmt, "nesting 5000 deep"),
        ("json_bigint", st_file(None, raw=b'{"t":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,1]}}', data=b"\0"), fmt, "integer over 2^63"),
        ("entry_number", e(5), fmt, "entry is a number"),
        ("dtype_missing", e({"shape": [4], "data_offsets": [0, 16]}), fmt, "no dtype"),
        ("dtype_number", e(f4(dtype=5)), fmt, "dtype 5"),
        ("dtype_unknown", e(f4(dtype="F33")), fmt, "dtype F33"),
        ("dtype_bool", e(st_entry("BOOL", [4], 0, 4)), uns, "dtype BOOL"),
        ("dtype_f8", e(st_entry("F8_E4M3", [4], 0, 4)), uns, "dtype F8_E4M3"),
        ("dtype_u64", e(st_entry("U64", [2], 0, 16)), uns, "dtype U64"),
        ("shape_missing", e({"dtype": "F32", "data_offsets": [0, 16]}), fmt, "no shape"),
        ("shape_object", e(f4(shape={"a": 1})), fmt, "shape is an object"),
        ("shape_negative", e(f4(shape=[-4])), fmt, "shape [-4]"),
        ("shape_float", e(f4(shape=[2.5])), fmt, "shape [2.5]"),
        ("shape_string", e(f4(shape=["4"])), fmt, "shape [\"4\"]"),
        ("shape_5d", e(st_entry("F32", [1, 1, 1, 1, 4], 0, 16)), uns, "5 dims"),
        ("shape_overflow", e(st_entry("F32", [1 << 32, 1 << 32, 1 << 32], 0, 16)), fmt, "2^96 elements"),
        ("bytes_overflow", e(st_entry("F32", [1 << 62], 0, 16)), fmt, "2^62 F32: 2^64 bytes"),
        ("offsets_missing", e({"dtype": "F32", "shape": [4]}), fmt, "no data_offsets"),
        ("offsets_one", e(f4(data_offsets=[0])), fmt, "one offset"),
        ("offsets_three", e(f4(data_offsets=[0, 16, 32])), fmt, "three offsets"),
        ("offsets_negative", e(f4(data_offsets=[-16, 0])), fmt, "negative offset"),
        ("offsets_reversed", e(f4(data_offsets=[16, 0])), fmt, "begin after end"),
        ("offsets_size", e(f4(data_offsets=[0, 12])), fmt, "12 bytes for 4 F32"),
        ("offsets_past_data", e(f4(data_offsets=[60, 76])), fmt, "range past the data"),
        ("offsets_huge", e(st_entry("U8", [4], (1 << 63) - 5, (1 << 63) - 1)), fmt, "range near 2^63"),
        ("overlap", st_file({"a": st_entry("F32", [4], 0, 16), "b": st_entry("F32", [4], 8, 24)}, b"\0" * 32), fmt, "ranges overlap"),
        ("meta_array", st_file({"__metadata__": [1], "t": st_entry("U8", [1], 0, 1)}, b"\0"), fmt, "metadata is an array"),
        ("meta_number", st_file({"__metadata__": {"a": 1}, "t": st_entry("U8", [1], 0, 1)}, b"\0"), fmt, "metadata value 1"),
        ("name_empty", st_file({"": st_entry("U8", [1], 0, 1)}, b"\0"), fmt, "empty name"),
        ("cut_data", valid[:-3], fmt, "data cut"),
    ]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    v3, v2 = valid_gguf(3), valid_gguf(2)
    st = valid_safetensors()
    mlx, cfg = mlx_model()
    for d in (VALID, BAD, SEEDS):
        shutil.rmtree(d, ignore_errors=True)
    write(os.path.join(VALID, "tiny.gguf"), v3)
    write(os.path.join(VALID, "tiny_v2.gguf"), v2)
    write(os.path.join(VALID, "tiny.safetensors"), st)
    write(os.path.join(VALID, "mlx", "model.safetensors"), mlx)
    write(os.path.join(VALID, "mlx", "config.json"), cfg)
    rows = []
    for kind, cases in (("gguf", gguf_cases(v3)), ("safetensors", st_cases(st))):
        names = set()
        for name, data, status, what in cases:
            assert name not in names, name
            names.add(name)
            fn = f"{kind}/{name}.{kind}"
            write(os.path.join(BAD, fn), data)
            rows.append(f"{fn}\t{status}\t{what}")
    with open(os.path.join(BAD, "MANIFEST.tsv"), "w") as f:
        f.write("# file\texpected status\twhat is wrong (written by scripts/gen_malformed.py)\n")
        f.write("\n".join(rows) + "\n")
    # Fuzz seeds: the valid files and a few malformed ones of each kind.
    write(os.path.join(SEEDS, "gguf", "tiny"), v3)
    write(os.path.join(SEEDS, "gguf", "tiny_v2"), v2)
    for name, data, _, _ in gguf_cases(v3)[::6]:
        write(os.path.join(SEEDS, "gguf", name), data)
    write(os.path.join(SEEDS, "safetensors", "tiny"), st)
    write(os.path.join(SEEDS, "safetensors", "mlx"), mlx)
    for name, data, _, _ in st_cases(st)[::5]:
        write(os.path.join(SEEDS, "safetensors", name), data)
    for t, nb in ((2, 18 * 2), (8, 34 * 2), (12, 144), (14, 210), (16, 66), (19, 50), (23, 136), (39, 34)):
        write(os.path.join(SEEDS, "dequant", f"type_{t}"), bytes([t]) + pattern(nb, t))
    print(f"{sum(1 for r in rows if r.startswith('gguf/'))} GGUF and "
          f"{sum(1 for r in rows if r.startswith('safetensors/'))} safetensors malformed files")


if __name__ == "__main__":
    main()
