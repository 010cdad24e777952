"""Compilation settings: the vector-width preference is set before Numba loads."""

import os
import subprocess
import sys

PROBE = """
import os
import fastspring
import llvmlite.binding as llvm
avx512 = bool(llvm.get_host_cpu_features().get("avx512f"))
wide = "-prefer-256-bit" in os.environ.get("NUMBA_CPU_FEATURES", "")
print(int(avx512), int(wide))
"""


def _probe(**extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NUMBA_CPU_FEATURES", "NUMBA_CPU_NAME", "FASTSPRING_WIDE_VECTORS")
    }
    env.update(extra)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    return out.stdout.split()


def test_import_asks_for_wide_vectors_on_avx512_only():
    avx512, wide = _probe()
    assert wide == avx512  # any module importing Numba before fastspring._jit breaks this


def test_wide_vectors_can_be_switched_off():
    assert _probe(FASTSPRING_WIDE_VECTORS="0")[1] == "0"
