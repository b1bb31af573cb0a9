"""The one place where skcrossmodal talks to torch: device, seeding, batching.

Every torch-based estimator (neural mappers, neural fusion, CNN features) goes
through these helpers so that no training or inference loop is written twice.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import contextlib
import numbers
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._estimator import Progress
from ._optional import import_optional


def import_torch(purpose=None):
    """Import torch lazily, naming the ``torch`` extra if it is missing."""
    return import_optional("torch", purpose=purpose)


def resolve_device(device="auto"):
    """Return a ``torch.device``: ``"auto"`` picks CUDA, then MPS, then the CPU."""
    torch = import_torch()
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def draw_seed(random_state):
    """The one seed of a fit: an int drawn from a scikit-learn ``random_state``.

    Examples
    --------
    >>> from skcrossmodal._torch import draw_seed
    >>> draw_seed(0) == draw_seed(0)
    True
    """
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


@contextlib.contextmanager
def torch_seed(random_state, device=None):
    """Seed torch's global generators inside the ``with`` block only.

    The one seeding idiom of skcrossmodal's torch estimators: a fit runs
    inside ``with torch_seed(self.random_state, device) as seed:``. Weight
    initialisation and dropout draw from torch's global generators, seeded
    here with ``seed``; the shuffling generator and the validation split of
    :func:`fit_module` are seeded with the same ``seed``. The previous
    generator states are restored on exit, so a fit is reproducible without
    changing the caller's random state.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        Source of the seed (see :func:`draw_seed`).
    device : torch.device, default=None
        The CUDA device whose generator is seeded as well.

    Yields
    ------
    seed : int
        The seed used.
    """
    torch = import_torch()
    seed = draw_seed(random_state)
    cuda_devices = []
    if device is not None and device.type == "cuda":
        index = device.index
        if index is None:
            index = torch.cuda.current_device()
        cuda_devices = [index]
    with torch.random.fork_rng(devices=cuda_devices, device_type="cuda"):
        torch.random.default_generator.manual_seed(seed)
        for index in cuda_devices:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield seed


ACTIVATIONS = ("relu", "tanh", "logistic", "identity", "gelu")
OPTIMIZERS = ("adam", "adamw", "sgd")

# The training parameters of every torch estimator that trains a network, with
# their one default. An estimator's ``__init__`` lists them with these defaults
# (tests/test_torch_base.py checks it), overriding one only for a stated reason.
TRAINING_DEFAULTS = {
    "activation": "relu",
    "dropout": 0.0,
    "weight_decay": 1e-4,
    "optimizer": "adam",
    "batch_size": 64,
    "learning_rate": 1e-3,
    "max_iter": 200,
    "early_stopping": True,
    "validation_fraction": 0.1,
    "n_iter_no_change": 10,
    "tol": 1e-4,
    "random_state": None,
    "device": "auto",
    "verbose": 0,
}

HIDDEN_LAYER_SIZES_CONSTRAINT = [
    "array-like",
    Interval(numbers.Integral, 1, None, closed="left"),
]

TRAINING_PARAMETER_CONSTRAINTS = {
    "activation": [StrOptions(set(ACTIVATIONS))],
    "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
    "optimizer": [StrOptions(set(OPTIMIZERS))],
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "random_state": ["random_state"],
    "device": [str],
    "verbose": ["verbose"],
}


def check_hidden_layer_sizes(hidden_layer_sizes):
    """Return ``hidden_layer_sizes`` as a tuple of positive ints."""
    if isinstance(hidden_layer_sizes, numbers.Integral):
        hidden_layer_sizes = (hidden_layer_sizes,)
    sizes = tuple(hidden_layer_sizes)
    if not all(isinstance(s, numbers.Integral) and s > 0 for s in sizes):
        raise ValueError(
            "hidden_layer_sizes must be positive integers (an empty tuple means no "
            f"hidden layer), got {hidden_layer_sizes!r}."
        )
    return tuple(int(s) for s in sizes)


def _activation_layer(activation):
    nn = import_torch().nn
    layers = {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "logistic": nn.Sigmoid,
        "identity": nn.Identity,
        "gelu": nn.GELU,
    }
    if activation not in layers:
        raise ValueError(
            f"activation must be one of {ACTIVATIONS}, got {activation!r}."
        )
    return layers[activation]()


def make_mlp(
    in_features,
    hidden_layer_sizes,
    out_features=None,
    *,
    activation="relu",
    dropout=0.0,
):
    """Build a multi-layer perceptron as a ``torch.nn.Sequential``.

    Each hidden layer is ``Linear -> activation [-> Dropout]``; the output
    layer is a plain ``Linear`` (no activation). The weights are drawn from
    torch's global generator: build the network inside :func:`torch_seed`.

    Parameters
    ----------
    in_features : int
        Input width.
    hidden_layer_sizes : sequence of int
        Width of each hidden layer; ``()`` gives a linear model.
    out_features : int or None, default=None
        Output width. None ends the network after the last hidden layer (an
        encoder whose output feeds another module).
    activation : {"relu", "tanh", "logistic", "identity", "gelu"}, default="relu"
        Non-linearity after each hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden layer (0 adds no dropout layer).

    Returns
    -------
    mlp : torch.nn.Sequential

    Examples
    --------
    >>> from skcrossmodal._torch import make_mlp, torch_seed
    >>> with torch_seed(0):
    ...     net = make_mlp(4, (8,), 2)
    >>> net
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=2, bias=True)
    )
    """
    nn = import_torch().nn
    hidden_layer_sizes = check_hidden_layer_sizes(hidden_layer_sizes)
    if out_features is None and not hidden_layer_sizes:
        raise ValueError("make_mlp needs out_features or at least one hidden layer.")
    layers = []
    width = int(in_features)
    for size in hidden_layer_sizes:
        layers.append(nn.Linear(width, size))
        layers.append(_activation_layer(activation))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    if out_features is not None:
        layers.append(nn.Linear(width, int(out_features)))
    return nn.Sequential(*layers)


def as_tensor(array, name=None):
    """A CPU tensor: float32 for real data, int64 for integers, bool kept.

    Torch computes in float32: real data whose values do not fit float32 (a
    finite float64 beyond about 3.4e38 would become infinite, and the network's
    output NaN) or are not finite raise a ValueError naming ``name``.

    Parameters
    ----------
    array : array-like or torch.Tensor
        The data; a tensor is returned as is.
    name : str, default=None
        What the array holds, for messages (e.g. ``"Modality 'image'"``).

    Returns
    -------
    tensor : torch.Tensor

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._torch import as_tensor
    >>> as_tensor(np.array([1.0, 2.0])).dtype
    torch.float32
    >>> as_tensor(np.array([1e300]), name="Modality 'image'")
    Traceback (most recent call last):
    ...
    ValueError: Modality 'image' has the value 1e+300 at row 0, beyond float32 ...
    """
    torch = import_torch()
    if isinstance(array, torch.Tensor):
        return array
    array = np.asarray(array)
    if array.dtype.kind == "b":
        return torch.from_numpy(np.ascontiguousarray(array))
    if array.dtype.kind in "iu":
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64))
    if array.dtype.kind == "f":
        return torch.from_numpy(_float32(array, name))
    raise TypeError(
        f"Expected numeric arrays for torch, got an array of dtype {array.dtype}."
    )


def _float32(array, name):
    with np.errstate(over="ignore"):
        converted = np.ascontiguousarray(array, dtype=np.float32)
    finite = np.isfinite(converted)
    if finite.all():
        return converted
    where = tuple(np.argwhere(~finite)[0])
    value = array[where]
    name = name or "An input array"
    if np.isfinite(value):
        raise ValueError(
            f"{name} has the value {value:.3g} at row {where[0]}, beyond float32 "
            f"(at most {np.finfo(np.float32).max:.3g} in magnitude), the dtype "
            "torch computes in; rescale it."
        )
    raise ValueError(f"{name} has a non-finite value ({value}) at row {where[0]}.")


def standardised_name(modality):
    """How messages name a standardised block (see :func:`as_tensor`)."""
    return f"Modality {modality!r}, standardised with the training mean and scale,"


def fit_standard_scaler(block, name, columns=None):
    """A :class:`~sklearn.preprocessing.StandardScaler` fitted on ``block``.

    The variance of entries above about 1e154 overflows float64; the scaler
    would then return NaN or unscaled values. Refuse it, naming the column.

    Parameters
    ----------
    block : ndarray of shape (n_samples, n_features)
        Finite training block.
    name : str
        What the block is, for messages (e.g. ``"Modality 'image'"``).
    columns : sequence of str, default=None
        Its column names, for messages.

    Returns
    -------
    scaler : StandardScaler
        The fitted scaler.
    """
    from sklearn.preprocessing import StandardScaler

    with np.errstate(over="ignore", invalid="ignore"):
        scaler = StandardScaler().fit(block)
    overflowed = ~(np.isfinite(scaler.mean_) & np.isfinite(scaler.var_))
    if overflowed.any():
        j = int(np.flatnonzero(overflowed)[0])
        column = f"feature {j}" if columns is None else f"column {columns[j]!r}"
        raise ValueError(
            f"{name} cannot be standardised: the variance of {column} (entries up to "
            f"{np.abs(block[:, j]).max():.3g}) overflows float64; rescale it."
        )
    return scaler


def _as_tensors(tensors, names=None):
    if not isinstance(tensors, (tuple, list)) or not tensors:
        raise TypeError("tensors must be a non-empty tuple of arrays or tensors.")
    if names is None:
        names = [None] * len(tensors)
    if len(names) != len(tensors):
        raise ValueError(
            f"names must name each of the {len(tensors)} tensors, got {len(names)}."
        )
    tensors = tuple(as_tensor(t, name) for t, name in zip(tensors, names, strict=True))
    lengths = [t.shape[0] for t in tensors]
    if len(set(lengths)) != 1:
        raise ValueError(
            f"All tensors must have the same number of rows, got {lengths}."
        )
    return tensors, lengths[0]


def check_device(device):
    """Resolve ``device`` and check that it exists here."""
    torch = import_torch()
    try:
        device = resolve_device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or another torch "
            f"device, got {device!r}."
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} was requested but CUDA is not available; use "
            "device='auto' to pick the best available device."
        )
    return device


def _module_device(module):
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return import_torch().device("cpu")


def make_optimizer(optimizer, module, learning_rate, weight_decay):
    """The optimizer of ``module``'s trainable parameters.

    ``weight_decay`` applies to the weight matrices (parameters with two or
    more dimensions) only; biases and scalars are not penalised, as in
    scikit-learn's MLP.

    Parameters
    ----------
    optimizer : {"adam", "adamw", "sgd"}
        ``torch.optim.Adam`` (L2 penalty added to the gradient), ``AdamW``
        (decoupled weight decay) or ``SGD`` with Nesterov momentum 0.9.
    module : torch.nn.Module
        The network.
    learning_rate : float
        Step size.
    weight_decay : float
        L2 penalty on the weight matrices.

    Returns
    -------
    optimizer : torch.optim.Optimizer
    """
    optim = import_torch().optim
    trainable = [p for p in module.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0},
    ]
    groups = [group for group in groups if group["params"]]
    if weight_decay == 0:
        # One group: the optimizer then updates all parameters in one go.
        groups = [{"params": trainable, "weight_decay": 0.0}]
    if optimizer == "adam":
        return optim.Adam(groups, lr=learning_rate)
    if optimizer == "adamw":
        return optim.AdamW(groups, lr=learning_rate)
    if optimizer == "sgd":
        return optim.SGD(groups, lr=learning_rate, momentum=0.9, nesterov=True)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}.")


def _validation_split(
    n_samples, validation_fraction, stratify, seed, min_samples, name
):
    from sklearn.model_selection import train_test_split

    n_validation = int(np.ceil(validation_fraction * n_samples))
    n_train = n_samples - n_validation
    if min(n_validation, n_train) < min_samples:
        raise ValueError(
            f"{name} has {n_samples} samples: too few to hold out "
            f"validation_fraction={validation_fraction} for early stopping with at "
            f"least {min_samples} sample(s) on each side. Use more samples, another "
            "validation_fraction or early_stopping=False."
        )
    if stratify is not None:
        classes, counts = np.unique(stratify, return_counts=True)
        # A stratified split puts every class on both sides (train_test_split).
        if min(n_validation, n_train) < len(classes) or counts.min() < 2:
            raise ValueError(
                f"{name} has {n_samples} samples of {len(classes)} classes: too few "
                f"to hold out validation_fraction={validation_fraction} "
                f"({n_validation} samples) for early stopping with every class on "
                f"both sides of the stratified split (which needs at least "
                f"{len(classes)} samples on each side and 2 of each class; the "
                f"rarest class has {counts.min()}). Use more samples, "
                "another validation_fraction or early_stopping=False."
            )
    return train_test_split(
        np.arange(n_samples),
        test_size=n_validation,
        random_state=seed,
        stratify=stratify,
    )


class EarlyStopping:
    """Stop training when the monitored loss stops improving; keep the best epoch.

    The rule of scikit-learn's ``MLPRegressor``: an epoch whose loss is not
    below the best loss so far minus ``tol`` counts against ``patience``; an
    epoch that is resets the count. The weights of the epoch of lowest loss
    are kept (a copy of the state dict) and put back by :meth:`restore`.

    Parameters
    ----------
    patience : int, default=10
        Epochs in a row without an improvement of at least ``tol`` before
        training stops (an estimator's ``n_iter_no_change``).
    tol : float, default=1e-4
        Smallest decrease of the monitored loss that counts as improvement.
    restore_best : bool, default=True
        Whether :meth:`restore` puts back the weights of the best epoch.

    Attributes
    ----------
    best_epoch : int
        1-based epoch of the lowest loss (0 before the first epoch).
    best_loss : float
        That loss.
    stopped : bool
        Whether the last call asked training to stop.

    Examples
    --------
    >>> from skcrossmodal._torch import EarlyStopping, make_mlp
    >>> stopping = EarlyStopping(patience=2, tol=0.1)
    >>> net = make_mlp(2, (), 1)
    >>> [stopping(epoch, loss, net) for epoch, loss in enumerate([1.0, 0.95, 0.5, 0.45, 0.44], 1)]
    [False, False, False, False, True]
    >>> stopping.best_epoch, stopping.best_loss
    (5, 0.44)
    """

    def __init__(self, patience=10, tol=1e-4, *, restore_best=True):
        self.patience = patience
        self.tol = tol
        self.restore_best = restore_best
        self.best_epoch = 0
        self.best_loss = np.inf
        self.stopped = False
        self._n_bad_epochs = 0
        self._best_state = None

    def __call__(self, epoch, loss, module):
        """Record the monitored ``loss`` of ``epoch``; return whether to stop."""
        if loss > self.best_loss - self.tol:
            self._n_bad_epochs += 1
        else:
            self._n_bad_epochs = 0
        if loss < self.best_loss:
            self.best_loss = loss
            self.best_epoch = epoch
            if self.restore_best:
                self._best_state = {
                    key: value.detach().clone()
                    for key, value in module.state_dict().items()
                }
        self.stopped = self._n_bad_epochs >= self.patience
        return self.stopped

    def restore(self, module):
        """Load the weights of the best epoch into ``module`` (if kept)."""
        if self._best_state is not None:
            module.load_state_dict(self._best_state)


def train_step(module, loss_fn, optimizer, batch):
    """One optimisation step on ``batch``; returns the batch loss (detached)."""
    loss = loss_fn(module, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def run_epoch(module, loss_fn, optimizer, tensors, *, batch_size, generator):
    """One pass over ``tensors`` in shuffled mini-batches; returns the mean loss.

    The rows are shuffled by ``generator`` (a seeded CPU ``torch.Generator``);
    the loss of each batch is weighted by its number of rows.
    """
    torch = import_torch()
    module.train()
    n_samples = tensors[0].shape[0]
    order = torch.randperm(n_samples, generator=generator).to(tensors[0].device)
    total = 0.0
    for start in range(0, n_samples, batch_size):
        rows = order[start : start + batch_size]
        loss = train_step(module, loss_fn, optimizer, tuple(t[rows] for t in tensors))
        total += loss * rows.shape[0]
    return float(total) / n_samples


def evaluate_loss(module, loss_fn, tensors, *, batch_size):
    """Mean loss of ``module`` (in eval mode, without gradients) over ``tensors``."""
    torch = import_torch()
    n_samples = tensors[0].shape[0]
    module.eval()
    total = 0.0
    with torch.inference_mode():
        for start in range(0, n_samples, batch_size):
            batch = tuple(t[start : start + batch_size] for t in tensors)
            total += loss_fn(module, batch).detach() * batch[0].shape[0]
    return float(total) / n_samples


def fit_loop(
    module,
    loss_fn,
    optimizer,
    train,
    validation=None,
    *,
    max_iter,
    batch_size,
    generator,
    early_stopping,
    progress=None,
    name="fit_loop",
):
    """Run epochs until ``early_stopping`` says stop or ``max_iter`` is reached.

    The loop of :func:`fit_module` (skorch's ``fit_loop``): per epoch,
    :func:`run_epoch` on ``train``, then :func:`evaluate_loss` on
    ``validation`` if given; the validation loss (else the training loss) is
    the one ``early_stopping`` monitors. The best epoch's weights are put
    back at the end.

    Returns
    -------
    history : dict
        See :func:`fit_module`.
    """
    history = {
        "train_loss": [],
        "validation_loss": None if validation is None else [],
        "n_iter": 0,
    }
    for epoch in range(1, max_iter + 1):
        train_loss = run_epoch(
            module,
            loss_fn,
            optimizer,
            train,
            batch_size=batch_size,
            generator=generator,
        )
        if not np.isfinite(train_loss):
            raise ValueError(
                f"{name}: the training loss became {train_loss} at epoch {epoch}; "
                "lower learning_rate or scale the input features."
            )
        history["train_loss"].append(train_loss)
        history["n_iter"] = epoch
        monitored = train_loss
        message = f"loss {train_loss:.4g}"
        if validation is not None:
            monitored = evaluate_loss(
                module, loss_fn, validation, batch_size=batch_size
            )
            history["validation_loss"].append(monitored)
            message += f", val {monitored:.4g}"
        stop = early_stopping(epoch, monitored, module)
        if progress is not None:
            progress(f"epoch {epoch}/{max_iter}", message)
        if stop:
            if progress is not None:
                progress(
                    "early stopping",
                    f"no improvement of at least tol={early_stopping.tol} in "
                    f"{early_stopping.patience} epochs; keeping epoch "
                    f"{early_stopping.best_epoch}",
                )
            break
    else:
        warnings.warn(
            f"{name}: maximum iterations ({max_iter}) reached and the "
            "optimization hasn't converged yet.",
            ConvergenceWarning,
            stacklevel=4,
        )
    early_stopping.restore(module)
    history.update(
        best_epoch=early_stopping.best_epoch,
        best_loss=early_stopping.best_loss,
        stopped_early=early_stopping.stopped,
    )
    return history


def fit_module(
    module,
    loss_fn,
    tensors,
    *,
    seed,
    max_iter=200,
    batch_size=64,
    learning_rate=1e-3,
    weight_decay=0.0,
    optimizer="adam",
    early_stopping=False,
    validation_fraction=0.1,
    n_iter_no_change=10,
    tol=1e-4,
    stratify=None,
    min_samples_per_split=1,
    device="auto",
    progress=None,
    name=None,
    names=None,
):
    """Train ``module`` by mini-batch gradient descent on ``loss_fn``.

    The one training path of skcrossmodal: it checks and moves the data to
    ``device`` once, holds out a validation split, builds the optimizer and
    an :class:`EarlyStopping`, and runs :func:`fit_loop` (epochs of
    :func:`run_epoch`, steps of :func:`train_step`). Training stops after
    ``n_iter_no_change`` epochs without an improvement of at least ``tol`` in
    the monitored loss: the validation loss when ``early_stopping`` is True,
    else the training loss (scikit-learn's ``MLPRegressor`` rule); the
    weights of the best epoch are then restored.

    Call it inside ``with torch_seed(random_state, device) as seed:``, where
    the module was built: ``seed`` seeds the validation split and the
    shuffling generator, and the context seeds initialisation and dropout.
    The result is then identical from run to run on the CPU.

    Parameters
    ----------
    module : torch.nn.Module
        The model to train, in place.
    loss_fn : callable
        ``loss_fn(module, batch) -> scalar tensor`` where ``batch`` is a tuple
        holding the rows of the batch of each of ``tensors`` (on ``device``).
        ``module.training`` tells training batches from validation ones.
    tensors : tuple of ndarray or torch.Tensor
        Training data, all with the same number of rows. Real arrays become
        float32 (values beyond float32's range are refused, see
        :func:`as_tensor`), integer arrays int64.
    seed : int
        The seed yielded by :func:`torch_seed`.
    max_iter : int, default=200
        Largest number of epochs (passes over the training rows).
    batch_size : int, default=64
        Rows per mini-batch (capped at the number of training rows).
    learning_rate : float, default=1e-3
        Step size of the optimizer.
    weight_decay : float, default=0.0
        L2 penalty on the weight matrices (see :func:`make_optimizer`).
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        See :func:`make_optimizer`.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and monitor their loss.
    validation_fraction : float, default=0.1
        Fraction of rows held out when ``early_stopping`` is True.
    n_iter_no_change : int, default=10
        Epochs without improvement before training stops.
    tol : float, default=1e-4
        Smallest decrease of the monitored loss that counts as improvement.
    stratify : array-like of shape (n_samples,), default=None
        Labels to stratify the validation split by (classifiers).
    min_samples_per_split : int, default=1
        Fewest rows accepted in the training and the validation split (a loss
        over pairs in a batch needs at least 2).
    device : str or torch.device, default="auto"
        Where to train; "auto" picks CUDA, then MPS, then the CPU.
    progress : skcrossmodal._estimator.Progress, default=None
        Reports every epoch (``epoch 3/20: loss 0.412, val 0.455``).
    name : str, default=None
        Name of the estimator being fitted, for messages.
    names : sequence of str, default=None
        What each of ``tensors`` holds (e.g. ``"Modality 'image' (standardised)"``),
        for messages.

    Returns
    -------
    history : dict
        ``train_loss`` (list, per epoch), ``validation_loss`` (list per epoch,
        or None without early stopping), ``best_epoch`` (1-based epoch whose
        weights were restored), ``best_loss`` (its monitored loss), ``n_iter``
        (epochs run), ``stopped_early`` (bool) and ``device`` (str). The module
        is left on the CPU in eval mode, so that a fitted estimator pickles
        and loads anywhere; :func:`predict_batches` moves it to the device.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._torch import fit_module, make_mlp, torch_seed
    >>> X = np.linspace(-1, 1, 32).reshape(-1, 1)
    >>> mse = lambda module, batch: ((module(batch[0]) - batch[1]) ** 2).mean()
    >>> with torch_seed(0) as seed:
    ...     net = make_mlp(1, (), 1)
    ...     history = fit_module(net, mse, (X, 3 * X), seed=seed, max_iter=300,
    ...                          batch_size=8, learning_rate=0.05, device="cpu")
    >>> history["best_loss"] < 1e-3
    True
    """
    torch = import_torch()
    name = name or "fit_module"
    device = check_device(device)
    tensors, n_samples = _as_tensors(tensors, names)
    if early_stopping:
        train_index, validation_index = _validation_split(
            n_samples, validation_fraction, stratify, seed, min_samples_per_split, name
        )
        train = tuple(t[train_index].to(device) for t in tensors)
        validation = tuple(t[validation_index].to(device) for t in tensors)
    else:
        if n_samples < min_samples_per_split:
            raise ValueError(
                f"{name} needs at least {min_samples_per_split} samples, got "
                f"{n_samples}."
            )
        train = tuple(t.to(device) for t in tensors)
        validation = None
    module.to(device)
    history = fit_loop(
        module,
        loss_fn,
        make_optimizer(optimizer, module, learning_rate, weight_decay),
        train,
        validation,
        max_iter=max_iter,
        batch_size=min(int(batch_size), train[0].shape[0]),
        generator=torch.Generator().manual_seed(seed),
        early_stopping=EarlyStopping(n_iter_no_change, tol),
        progress=progress,
        name=name,
    )
    history["device"] = str(device)
    module.to("cpu")
    module.eval()
    return history


def iter_batches(tensors, batch_size, names=None):
    """Yield row slices of ``tensors`` (arrays become CPU tensors, see :func:`as_tensor`).

    An empty input yields one empty batch, so that outputs keep their width.
    """
    tensors, n_samples = _as_tensors(tensors, names)
    for start in range(0, max(n_samples, 1), batch_size):
        yield tuple(t[start : start + batch_size] for t in tensors)


def predict_batches(
    module,
    batches,
    *,
    device="auto",
    forward=None,
    memory_format=None,
    progress=None,
    n_batches=None,
    unit="rows",
):
    """Apply ``module`` to each batch without gradients; stack the outputs.

    The one inference loop of skcrossmodal (the mappers' ``transform``, the
    fuser's ``predict_proba``, the CNN extractor's ``transform``).

    Parameters
    ----------
    module : torch.nn.Module
        A trained module. It is moved to ``device`` for the call, put in eval
        mode, and moved back (and its mode restored) afterwards.
    batches : iterable of tuple of torch.Tensor
        The inputs of each call, e.g. from :func:`iter_batches`.
    device : str or torch.device, default="auto"
        Where to compute; batches go there through :func:`to_device`.
    forward : callable, default=None
        ``forward(module, *batch) -> tensor``; None calls ``module(*batch)``.
    memory_format : torch.memory_format, default=None
        Layout of the batches on the device (e.g. ``torch.channels_last``).
    progress : skcrossmodal._estimator.Progress, default=None
        Reports every batch (``batch 2/8: 64 rows, 310.2 rows/s``).
    n_batches : int, default=None
        Number of batches, for the messages.
    unit : str, default="rows"
        What a row is, for the messages (``"images"``).

    Returns
    -------
    output : ndarray of shape (n_samples, ...)
        The float outputs of all batches, stacked, on the CPU.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._torch import iter_batches, make_mlp, predict_batches
    >>> net = make_mlp(3, (4,), 2)
    >>> batches = iter_batches((np.zeros((5, 3)),), batch_size=2)
    >>> predict_batches(net, batches, device="cpu").shape
    (5, 2)
    """
    torch = import_torch()
    device = check_device(device)
    if forward is None:

        def forward(module, *batch):
            return module(*batch)

    home = _module_device(module)
    was_training = module.training
    module.to(device)
    module.eval()
    outputs = []
    done = 0
    start_time = time.perf_counter()
    try:
        with torch.inference_mode():
            for number, batch in enumerate(batches, start=1):
                batch = tuple(
                    to_device(t, device, memory_format=memory_format) for t in batch
                )
                outputs.append(forward(module, *batch).float().cpu())
                done += len(outputs[-1])
                if progress:
                    rate = done / max(time.perf_counter() - start_time, 1e-9)
                    total = "" if n_batches is None else f"/{n_batches}"
                    progress(
                        f"batch {number}{total}", f"{done} {unit}, {rate:.1f} {unit}/s"
                    )
    finally:
        module.to(home)
        module.train(was_training)
    return torch.cat(outputs).numpy()


def to_device(tensor, device, *, memory_format=None):
    """Move a CPU batch to ``device``: pinned and asynchronous on CUDA.

    Parameters
    ----------
    tensor : torch.Tensor
        The batch.
    device : torch.device
        Where it goes.
    memory_format : torch.memory_format, default=None
        If given (e.g. ``torch.channels_last``), the result has this layout;
        it applies to 4-D tensors only, others are moved as they are.

    Returns
    -------
    tensor : torch.Tensor
        The batch on ``device``.

    Examples
    --------
    >>> import torch
    >>> from skcrossmodal._torch import to_device
    >>> batch = to_device(torch.zeros(2, 3, 4, 4), torch.device("cpu"),
    ...                   memory_format=torch.channels_last)
    >>> batch.is_contiguous(memory_format=torch.channels_last)
    True
    """
    if device.type == "cuda" and tensor.device.type == "cpu":
        if not tensor.is_pinned():
            tensor = tensor.pin_memory()
        tensor = tensor.to(device, non_blocking=True)
    else:
        tensor = tensor.to(device)
    if memory_format is not None and tensor.ndim == 4:
        tensor = tensor.contiguous(memory_format=memory_format)
    return tensor


class BaseTorchEstimator(BaseEstimator):
    """Base of the estimators that train a torch network.

    It owns the training parameters (:data:`TRAINING_DEFAULTS`, validated by
    :data:`TRAINING_PARAMETER_CONSTRAINTS`), the one fit path
    (:meth:`_fit_network`: seeding, :func:`fit_module`, the training-history
    attributes) and the one inference path (:meth:`_predict_network`).
    Subclasses list the training parameters in their ``__init__`` (as
    scikit-learn requires) and pass them to ``super().__init__``.

    Parameters
    ----------
    activation, dropout, weight_decay, optimizer, batch_size, learning_rate, \
max_iter, early_stopping, validation_fraction, n_iter_no_change, tol, \
random_state, device, verbose
        See the subclasses.
    """

    _parameter_constraints: dict = {**TRAINING_PARAMETER_CONSTRAINTS}

    # Rows per inference batch: bounds device memory, never changes the result.
    _predict_batch_size = 4096

    def __init__(
        self,
        *,
        activation,
        dropout,
        weight_decay,
        optimizer,
        batch_size,
        learning_rate,
        max_iter,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        tol,
        random_state,
        device,
        verbose,
    ):
        self.activation = activation
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _fit_network(
        self,
        build,
        loss_fn,
        tensors,
        *,
        stratify=None,
        min_samples_per_split=1,
        names=None,
    ):
        """Build the network with ``build()`` and train it; return it.

        Everything random (initialisation, validation split, shuffling,
        dropout) derives from one seed of ``random_state`` (:func:`torch_seed`).
        Sets the training-history attributes ``n_iter_``, ``loss_curve_``,
        ``validation_loss_curve_``, ``best_epoch_`` and ``best_loss_``.
        """
        device = check_device(self.device)
        with torch_seed(self.random_state, device) as seed:
            module = build()
            history = fit_module(
                module,
                loss_fn,
                tensors,
                seed=seed,
                max_iter=self.max_iter,
                batch_size=self.batch_size,
                learning_rate=self.learning_rate,
                weight_decay=self.weight_decay,
                optimizer=self.optimizer,
                early_stopping=self.early_stopping,
                validation_fraction=self.validation_fraction,
                n_iter_no_change=self.n_iter_no_change,
                tol=self.tol,
                stratify=stratify if self.early_stopping else None,
                min_samples_per_split=min_samples_per_split,
                device=device,
                progress=Progress(self, self.verbose),
                name=type(self).__name__,
                names=names,
            )
        self.n_iter_ = history["n_iter"]
        self.loss_curve_ = list(history["train_loss"])
        validation = history["validation_loss"]
        self.validation_loss_curve_ = None if validation is None else list(validation)
        self.best_epoch_ = history["best_epoch"]
        self.best_loss_ = history["best_loss"]
        return module

    def _predict_network(self, tensors, *, forward=None, names=None):
        """``module_`` applied to ``tensors`` by :func:`predict_batches`, as float64."""
        n_samples = len(tensors[0])
        return predict_batches(
            self.module_,
            iter_batches(tensors, self._predict_batch_size, names),
            device=self.device,
            forward=forward,
            progress=Progress(self, self.verbose - 1),
            n_batches=max(1, -(-n_samples // self._predict_batch_size)),
        ).astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Identical results for a fixed random_state on the CPU; CUDA kernels
        # may differ in the last bits.
        tags.non_deterministic = False
        return tags
