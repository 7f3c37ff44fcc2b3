"""Memory allocators set for chunk-sized buffers: reuse freed memory rather than map it afresh.

A job allocates and frees buffers of a chunk's size (16 MB blocks of lines, their
fields, Parquet pages) many times a second. By default glibc hands allocations
above a threshold straight back to the kernel when freed, and Arrow's mimalloc
pool returns freed pages after a short delay, so every new buffer is mapped and
zeroed again by the kernel: a sixth of an ingest's CPU went to that. Kept in the
process, freed memory is reused at once.

`tune()` must run before Arrow is first used: Arrow reads `ARROW_DEFAULT_MEMORY_POOL`
once. The environment is inherited by worker processes a runner starts, and glibc
reads `MALLOC_*` from it when such a process starts. A user's own setting of any of
these variables wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

# glibc's largest mmap threshold (32 MiB on 64-bit): below it, freed chunks go back
# to the heap. Freed heap memory is returned to the kernel only above the trim threshold.
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 1024 * 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h

SETTINGS = {
    "ARROW_DEFAULT_MEMORY_POOL": "system",  # Arrow allocates through glibc, which keeps freed memory
    "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
    "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD),
}


def tune() -> dict[str, str]:
    """Set the allocators of this process and of the processes it starts; returns what was set."""
    chosen = {name: os.environ.setdefault(name, value) for name, value in SETTINGS.items()}
    mmap_threshold, trim_threshold = chosen["MALLOC_MMAP_THRESHOLD_"], chosen["MALLOC_TRIM_THRESHOLD_"]
    if mmap_threshold.isdigit() and trim_threshold.isdigit():  # glibc ignores what is no number; so do we
        _glibc_mallopt(int(mmap_threshold), int(trim_threshold))
    return chosen


def _glibc_mallopt(mmap_threshold: int, trim_threshold: int) -> None:
    """The `MALLOC_*` settings for this process too, which read them only at start; elsewhere nothing."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl): its allocator as it is
        return
    mallopt(_M_MMAP_THRESHOLD, mmap_threshold)
    mallopt(_M_TRIM_THRESHOLD, trim_threshold)
