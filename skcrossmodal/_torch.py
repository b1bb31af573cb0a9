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
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

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


def torch_generator(random_state):
    """A seeded ``torch.Generator`` (CPU) derived from a scikit-learn random_state."""
    from sklearn.utils import check_random_state

    torch = import_torch()
    seed = int(check_random_state(random_state).randint(0, 2**31 - 1))
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator, seed


@contextlib.contextmanager
def torch_seed(random_state, device=None):
    """Seed torch's global generators inside the ``with`` block only.

    Weight initialisation and dropout draw from torch's global generators;
    this seeds the CPU generator (and that of ``device`` when it is a CUDA
    device) and restores their previous states on exit, so a fitted estimator
    is reproducible without changing the caller's random state.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        Source of the seed (see :term:`random_state`).
    device : torch.device, default=None
        The CUDA device whose generator is seeded as well.

    Yields
    ------
    seed : int
        The seed used.
    """
    torch = import_torch()
    _, seed = torch_generator(random_state)
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

# Parameter constraints shared by every estimator trained with fit_module; an
# estimator derives its own ``_parameter_constraints`` from this dict.
TRAINING_PARAMETER_CONSTRAINTS = {
    "hidden_layer_sizes": [
        "array-like",
        Interval(numbers.Integral, 1, None, closed="left"),
    ],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    "alpha": [Interval(numbers.Real, 0, None, closed="left")],
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "random_state": ["random_state"],
    "device": [str, None],
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
    random_state=None,
):
    """Build a multi-layer perceptron as a ``torch.nn.Sequential``.

    Each hidden layer is ``Linear -> activation [-> Dropout]``; the output
    layer is a plain ``Linear`` (no activation).

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
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation (torch's default initialisation).

    Returns
    -------
    mlp : torch.nn.Sequential

    Examples
    --------
    >>> from skcrossmodal._torch import make_mlp
    >>> make_mlp(4, (8,), 2, random_state=0)
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
    with torch_seed(random_state):
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
    tensors = tuple(as_tensor(t, name) for t, name in zip(tensors, names))
    lengths = [t.shape[0] for t in tensors]
    if len(set(lengths)) != 1:
        raise ValueError(
            f"All tensors must have the same number of rows, got {lengths}."
        )
    return tensors, lengths[0]


def _check_device(device):
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


def _make_optimizer(optimizer, parameters, learning_rate, weight_decay):
    optim = import_torch().optim
    if optimizer == "adam":
        return optim.Adam(parameters, lr=learning_rate, weight_decay=weight_decay)
    if optimizer == "adamw":
        return optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay)
    if optimizer == "sgd":
        return optim.SGD(
            parameters,
            lr=learning_rate,
            weight_decay=weight_decay,
            momentum=0.9,
            nesterov=True,
        )
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


def _mean_loss(module, loss_fn, tensors, batch_size):
    torch = import_torch()
    n_samples = tensors[0].shape[0]
    module.eval()
    total = 0.0
    with torch.inference_mode():
        for start in range(0, n_samples, batch_size):
            batch = tuple(t[start : start + batch_size] for t in tensors)
            total += loss_fn(module, batch).detach() * batch[0].shape[0]
    return float(total) / n_samples


def fit_module(
    module,
    loss_fn,
    tensors,
    *,
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
    random_state=None,
    device="auto",
    verbose=0,
    name=None,
    names=None,
):
    """Train ``module`` by mini-batch gradient descent on ``loss_fn``.

    The one training loop of skcrossmodal. It moves the module and the data to
    ``device`` once, shuffles the rows every epoch with a seeded generator,
    and stops after ``n_iter_no_change`` epochs without an improvement of at
    least ``tol`` in the monitored loss: the loss on a held-out validation split
    when ``early_stopping`` is True, else the training loss (the rule of
    scikit-learn's ``MLPRegressor``). The weights of the best epoch are then
    restored. For a fixed ``random_state`` the result is identical from run to
    run on the CPU (weight initialisation is the caller's; seed it with
    :func:`make_mlp`'s ``random_state`` or :func:`torch_seed`). Dropout and any
    randomness in ``loss_fn`` draw from torch's global generators, which are
    seeded for the duration of the call and restored afterwards.

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
    max_iter : int, default=200
        Largest number of epochs (passes over the training rows).
    batch_size : int, default=64
        Rows per mini-batch (capped at the number of training rows).
    learning_rate : float, default=1e-3
        Step size of the optimizer.
    weight_decay : float, default=0.0
        L2 penalty of the optimizer on the weight matrices (parameters with
        two or more dimensions); biases and scalars are not penalised, as in
        scikit-learn's MLP.
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        Optimizer; "sgd" uses Nesterov momentum 0.9.
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
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, the shuffling and torch's generators.
    device : str or torch.device, default="auto"
        Where to train; "auto" picks CUDA, then MPS, then the CPU.
    verbose : int, default=0
        Print the losses of every epoch when positive.
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
    >>> from skcrossmodal._torch import fit_module, make_mlp
    >>> X = np.linspace(-1, 1, 32).reshape(-1, 1)
    >>> net = make_mlp(1, (), 1, random_state=0)
    >>> mse = lambda module, batch: ((module(batch[0]) - batch[1]) ** 2).mean()
    >>> history = fit_module(net, mse, (X, 3 * X), max_iter=300, batch_size=8,
    ...                      learning_rate=0.05, random_state=0, device="cpu")
    >>> history["best_loss"] < 1e-3
    True
    """
    torch = import_torch()
    name = name or "fit_module"
    device = _check_device(device)
    tensors, n_samples = _as_tensors(tensors, names)
    generator, seed = torch_generator(random_state)
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
    n_train = train[0].shape[0]
    step = min(int(batch_size), n_train)

    module.to(device)
    trainable = [p for p in module.parameters() if p.requires_grad]
    parameter_groups = [
        {"params": [p for p in trainable if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0},
    ]
    parameter_groups = [group for group in parameter_groups if group["params"]]
    optim = _make_optimizer(optimizer, parameter_groups, learning_rate, weight_decay)
    history = {
        "train_loss": [],
        "validation_loss": [] if early_stopping else None,
        "best_epoch": 0,
        "best_loss": np.inf,
        "n_iter": 0,
        "stopped_early": False,
        "device": str(device),
    }
    best_state = None
    n_no_improvement = 0
    with torch_seed(seed, device):
        for epoch in range(1, max_iter + 1):
            start_time = time.perf_counter()
            module.train()
            order = torch.randperm(n_train, generator=generator).to(device)
            total = 0.0
            for start in range(0, n_train, step):
                rows = order[start : start + step]
                loss = loss_fn(module, tuple(t[rows] for t in train))
                optim.zero_grad(set_to_none=True)
                loss.backward()
                optim.step()
                total += loss.detach() * rows.shape[0]
            train_loss = float(total) / n_train
            if not np.isfinite(train_loss):
                raise ValueError(
                    f"{name}: the training loss became {train_loss} at epoch {epoch}; "
                    "lower learning_rate or scale the input features."
                )
            history["train_loss"].append(train_loss)
            monitored = train_loss
            message = f"train loss {train_loss:.6f}"
            if validation is not None:
                monitored = _mean_loss(module, loss_fn, validation, step)
                history["validation_loss"].append(monitored)
                message += f", validation loss {monitored:.6f}"
            history["n_iter"] = epoch

            if monitored > history["best_loss"] - tol:
                n_no_improvement += 1
            else:
                n_no_improvement = 0
            if monitored < history["best_loss"]:
                history["best_loss"] = monitored
                history["best_epoch"] = epoch
                best_state = {
                    key: value.detach().clone()
                    for key, value in module.state_dict().items()
                }
            if verbose:
                elapsed = time.perf_counter() - start_time
                print(f"{name} epoch {epoch}/{max_iter}: {message} ({elapsed:.2f}s)")
            if n_no_improvement >= n_iter_no_change:
                history["stopped_early"] = True
                if verbose:
                    print(
                        f"{name}: no improvement of at least tol={tol} in "
                        f"{n_iter_no_change} epochs; keeping epoch "
                        f"{history['best_epoch']}."
                    )
                break
        else:
            warnings.warn(
                f"{name}: maximum iterations ({max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=2,
            )
    if best_state is not None:
        module.load_state_dict(best_state)
    module.to("cpu")
    module.eval()
    return history


def predict_batches(
    module, tensors, *, batch_size=1024, device="auto", forward=None, names=None
):
    """Apply ``module`` to ``tensors`` batch by batch, without gradients.

    Parameters
    ----------
    module : torch.nn.Module
        A trained module. It is moved to ``device`` for the call, put in eval
        mode, and moved back afterwards.
    tensors : tuple of ndarray or torch.Tensor
        Inputs, all with the same number of rows.
    batch_size : int, default=1024
        Rows per batch; bounds the memory used on the device.
    device : str or torch.device, default="auto"
        Where to compute.
    forward : callable, default=None
        ``forward(module, *batch) -> tensor``; None calls ``module(*batch)``.
    names : sequence of str, default=None
        What each of ``tensors`` holds, for messages (see :func:`as_tensor`).

    Returns
    -------
    output : ndarray of shape (n_samples, ...)
        The outputs of all batches, stacked, on the CPU.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._torch import make_mlp, predict_batches
    >>> net = make_mlp(3, (4,), 2, random_state=0)
    >>> predict_batches(net, (np.zeros((5, 3)),), batch_size=2, device="cpu").shape
    (5, 2)
    """
    torch = import_torch()
    device = _check_device(device)
    tensors, n_samples = _as_tensors(tensors, names)
    if forward is None:

        def forward(module, *batch):
            return module(*batch)

    home = _module_device(module)
    was_training = module.training
    module.to(device)
    module.eval()
    outputs = []
    try:
        with torch.inference_mode():
            for start in range(0, max(n_samples, 1), batch_size):
                batch = tuple(
                    to_device(t[start : start + batch_size], device) for t in tensors
                )
                outputs.append(forward(module, *batch).float().cpu())
    finally:
        module.to(home)
        module.train(was_training)
    return torch.cat(outputs).numpy()


def set_training_attributes(estimator, history):
    """Record a :func:`fit_module` history as fitted attributes.

    Sets ``n_iter_``, ``loss_curve_`` (training loss per epoch),
    ``validation_loss_curve_`` (None without early stopping), ``best_epoch_``
    and ``best_loss_`` (the monitored loss of the restored weights), the same
    names on every torch-based estimator.
    """
    estimator.n_iter_ = history["n_iter"]
    estimator.loss_curve_ = list(history["train_loss"])
    validation = history["validation_loss"]
    estimator.validation_loss_curve_ = None if validation is None else list(validation)
    estimator.best_epoch_ = history["best_epoch"]
    estimator.best_loss_ = history["best_loss"]


def to_device(tensor, device, *, memory_format=None):
    """Move a CPU batch to ``device``: pinned and asynchronous on CUDA.

    Parameters
    ----------
    tensor : torch.Tensor
        The batch.
    device : torch.device
        Where it goes.
    memory_format : torch.memory_format, default=None
        If given (e.g. ``torch.channels_last``), the result has this layout.

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
    if memory_format is not None:
        tensor = tensor.contiguous(memory_format=memory_format)
    return tensor
