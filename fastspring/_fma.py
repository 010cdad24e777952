"""Fused multiply-add, ``a * b + c`` rounded once, on every backend.

The random-number generator evaluates its polynomials with it: a fused
multiply-add is exactly specified by IEEE 754, so Numba on the CPU (the LLVM
intrinsic, one instruction on any processor with FMA), ``numba.cuda`` (PTX
``fma.rn.f64``) and the CUDA simulator (exact rational arithmetic in Python)
all give the same bits, and Horner's scheme needs half the instructions.
"""

from fractions import Fraction

from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload


def fma(a, b, c):
    """``a * b + c`` with a single rounding (IEEE 754 fusedMultiplyAdd).

    This body is what plain Python (and so the CUDA simulator) runs; compiled
    code calls the hardware instruction instead.
    """
    return float(Fraction(a) * Fraction(b) + Fraction(c))


@intrinsic
def _llvm_fma(typingctx, a, b, c):
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, sig, args):
        double = ir.DoubleType()
        fn = builder.module.declare_intrinsic(
            "llvm.fma", [double], ir.FunctionType(double, [double, double, double])
        )
        return builder.call(fn, args)

    return signature, codegen


@overload(fma, target="generic")
def _fma_compiled(a, b, c):
    return lambda a, b, c: _llvm_fma(a, b, c)
