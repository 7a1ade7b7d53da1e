"""The record codec's one xxh3 binding (the codec itself is inline in record.pxd).

xxh3-64 comes from the xxhash C library bundled in the `xxhash` wheel: its extension exports the
XXH3_64bits symbol, so we call it through a function pointer -- no vendored copy, no Python call
per record.
"""
import ctypes

import xxhash._xxhash as _xxmod

cdef xxh3_fn_t _xxh3 = <xxh3_fn_t><size_t>ctypes.cast(
    ctypes.CDLL(_xxmod.__file__).XXH3_64bits, ctypes.c_void_p).value


cdef xxh3_fn_t xxh3_fn() noexcept:
    return _xxh3


def xxh3_64(data) -> int:
    """xxh3-64 of a bytes-like object via the same C function the records use."""
    cdef const unsigned char[::1] mv = data
    if mv.shape[0] == 0:
        return _xxh3(b"", 0)
    return _xxh3(&mv[0], mv.shape[0])
