"""Compilation settings: the vector-width preference is set before Numba loads."""

import os
import subprocess
import sys

import pytest

PROBE = """
import os
{imports}
import llvmlite.binding as llvm
avx512 = bool(llvm.get_host_cpu_features().get("avx512f"))
wide = "-prefer-256-bit" in os.environ.get("NUMBA_CPU_FEATURES", "")
print(int(avx512), int(wide))
"""


def _probe(imports="import fastspring", **extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NUMBA_CPU_FEATURES", "NUMBA_CPU_NAME", "FASTSPRING_WIDE_VECTORS")
    }
    env.update(extra)
    command = [sys.executable, "-c", PROBE.format(imports=imports)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.parametrize(
    "imports", ["import fastspring", "import analysis; import fastspring", "import dnn"]
)
def test_import_asks_for_wide_vectors_on_avx512_only(imports):
    avx512, wide = _probe(imports)
    assert wide == avx512  # any module importing Numba before analysis._jit breaks this


def test_wide_vectors_can_be_switched_off():
    assert _probe(FASTSPRING_WIDE_VECTORS="0")[1] == "0"
