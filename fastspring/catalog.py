"""The models fastspring ships, registered with their checks and CPU drivers."""

from .backends import cpu
from .models import ModelSpec, register
from .models.langevin import SYNC_CONVENTIONS, heun_step_bound
from .params import check_choice, check_real


def check_overdamped(chain, dt):
    """The map (Eq. 6) is stable for ``dt * k < 1/2``."""
    if not dt * chain.k < 0.5:
        raise ValueError(
            f"dt must satisfy dt * k < 1/2 for the overdamped map to be stable; "
            f"got dt={dt:g} with k={chain.k:g}, so choose dt < {0.5 / chain.k:g}"
        )
    return {}


register(ModelSpec("overdamped", check_overdamped, cpu.overdamped))


def check_inertial(chain, dt, gamma):
    """Model (B) is solved exactly within each interval: any ``dt > 0``, ``gamma >= 0``."""
    return {"gamma": check_real("gamma", gamma, low=0.0)}


def check_langevin(chain, dt, gamma, sync_convention):
    """Model (C): ``gamma >= 0``; ``dt`` below the Heun stability bound of the chain's modes."""
    gamma = check_real("gamma", gamma, low=0.0)
    check_choice("sync_convention", sync_convention, SYNC_CONVENTIONS)
    bound = heun_step_bound(chain.L, chain.k, gamma)
    if not dt < bound:
        if bound == 0.0:
            raise ValueError(
                "the Langevin model's Heun step is unstable without damping (gamma=0) for "
                "every dt; use gamma > 0, or model='inertial', which is exact for any gamma"
            )
        raise ValueError(
            f"dt must satisfy dt < {bound:.6g} for the Langevin model's Heun step to be stable "
            f"(gamma={gamma:g}, k={chain.k:g}, L={chain.L}); got dt={dt:g}"
        )
    return {"gamma": gamma, "sync_convention": sync_convention}


register(ModelSpec("inertial", check_inertial, cpu.inertial, {"gamma": 1.0}))
register(
    ModelSpec(
        "langevin", check_langevin, cpu.langevin, {"gamma": 1.0, "sync_convention": "shared"}
    )
)
