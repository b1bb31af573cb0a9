"""Image features from torchvision classification networks."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import difflib
import io
import os
import sys
import urllib.parse
import warnings
from enum import Enum
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from .._estimator import Progress, fit_context
from .._optional import import_optional
from .._torch import (
    check_device,
    import_torch,
    predict_batches,
    to_device,
    torch_seed,
)

_PURPOSE = "CNNFeatureExtractor"
_CROP_SIZE = 224


class CNNFeatureExtractor(TransformerMixin, BaseEstimator):
    """Image features from a torchvision classification network.

    Each image is preprocessed with torchvision's ImageNet classification
    preset (resize to 256, centre crop 224, ImageNet mean/std; or the transforms
    that come with ``checkpoint``) and passed through the network in batches
    under ``torch.inference_mode()`` (the shared inference loop
    :func:`skcrossmodal._torch.predict_batches`). By default the output is the pooled feature
    vector that feeds the classifier (512 values for ``resnet18``).

    Parameters
    ----------
    arch : str, default="resnet18"
        Name of a torchvision classification model, as accepted by
        :func:`torchvision.models.get_model` (``"resnet50"``,
        ``"mobilenet_v3_small"``, ``"vit_b_16"``...).

    checkpoint : None, str, path-like or torchvision ``WeightsEnum``, default=None
        Where the network's parameters come from:

        - ``None``: random initialisation (seeded by ``random_state``), with a
          warning; useful for tests and for architectures trained later.
        - a torchvision weights name of ``arch`` (``"DEFAULT"``,
          ``"IMAGENET1K_V1"``, or ``"ResNet18_Weights.IMAGENET1K_V1"``) or the
          enum member itself. The file is read from the local torch hub cache,
          ``torch.hub.get_dir()/checkpoints/<file name of weights.url>``
          (``$TORCH_HOME/hub/checkpoints``); nothing is ever downloaded. A
          missing file raises ``FileNotFoundError`` saying where to put it.
          Preprocessing then follows ``weights.transforms()``.
        - a path to a state dict saved with ``torch.save(model.state_dict(),
          path)``, loaded with ``torch.load(path, weights_only=True)``. With
          ``layer=None`` the classifier's own parameters are not needed, so
          a network fine-tuned on any number of classes loads.

    layer : str, default=None
        Which activation to return. ``None``: the input of the final
        classification layer (the last ``Linear``, or the last ``Conv2d`` for
        networks without one such as SqueezeNet), which is replaced by an
        identity. Otherwise a node name of
        :func:`torchvision.models.feature_extraction.create_feature_extractor`,
        e.g. ``"layer3"`` (a module: its last operation) or ``"avgpool"`` for
        ResNets; list them with
        :func:`torchvision.models.feature_extraction.get_graph_node_names`. A
        4-D output ``(n, C, H, W)`` is global-average pooled to ``(n, C)``,
        other outputs are flattened.

    batch_size : int, default=32
        Images decoded, preprocessed and passed through the network at once.
        Memory is bounded by the batch, not by the length of the column.

    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Torch device; ``"auto"`` picks CUDA, then MPS, then the CPU. On CUDA,
        batches go through pinned memory and are copied asynchronously.

    n_jobs : int, default=None
        Worker processes of a :class:`torch.utils.data.DataLoader` that
        decode and preprocess batches in parallel. ``None`` means 1 unless in
        a :obj:`joblib.parallel_backend` context, ``-1`` means all
        processors; 1 decodes in the main process (no worker).

    channels_last : bool, default=True
        Run the network and its inputs in the ``channels_last`` memory format,
        faster for convolutions on CPUs (oneDNN) and tensor-core GPUs.

    random_state : int, RandomState instance or None, default=None
        Seeds the random initialisation when ``checkpoint=None``, so that the
        same seed gives the same features; unused otherwise.

    verbose : int, default=0
        1 reports every batch on stderr (``[CNNFeatureExtractor] batch 3/8:
        96 images, 41.2 images/s (2.3 s)``).

    Attributes
    ----------
    module_ : skcrossmodal._nn.PooledOutput
        The truncated network (``module_.network``), in eval mode, on
        ``device_``, whose ``forward`` returns one pooled vector per image.

    preprocess_ : torch.nn.Module
        The preprocessing applied to each image.

    device_ : torch.device
        The device the network runs on.

    n_features_out_ : int
        Number of features per image.

    checkpoint_ : str or None
        The weights used: ``"<Enum>.<NAME>"``, the state-dict path, or None.

    See Also
    --------
    skcrossmodal.compose.make_modality_union : Route an image column to this
        extractor inside a pipeline.

    Notes
    -----
    **Inputs.** ``X`` is a 1-D sequence of images (a list, a pandas Series or a
    one-column DataFrame, a 1-D object array), which may mix sizes and kinds.
    Each image is a file path (anything Pillow reads), a ``PIL.Image``, or an
    ndarray of shape ``(H, W)`` or ``(H, W, 1)`` (grayscale, repeated to three
    channels) or ``(H, W, 3)``. A stacked ndarray of shape ``(n, H, W)`` or
    ``(n, H, W, C)`` is ``n`` images.

    **Bit depth.** Pixel values are scaled by the maximum of their depth, so
    that no value is clipped:

    - ``uint8`` arrays and 8-bit images (Pillow modes ``L``, ``RGB``, ``P``,
      ``RGBA``..., converted to RGB): ``value / 255``, as torchvision does;
    - ``uint16`` arrays and 16-bit grayscale PNG/TIFF files or images
      (Pillow modes ``I;16*``): ``value / 65535``, i.e. the same features as
      the float image ``value / 65535`` (Pillow's ``convert("RGB")`` would
      clip every value above 255). Pillow itself reads 16-bit RGB PNGs at 8
      bits (their high byte);
    - floating-point arrays and float images (mode ``F``): as they are, and
      they must be in ``[0, 1]``;
    - 32-bit integer images (mode ``I``, e.g. from TIFF) have no agreed full
      scale and raise; other dtypes raise too.

    Out-of-range or non-finite values and images without a pixel (``0 x W``)
    raise ``ValueError``. Missing files raise ``FileNotFoundError``, and
    directories, unreadable, corrupt or truncated files ``ValueError``, naming
    the file and its row.

    Every image becomes a tensor (``uint8`` or ``float32``, ``C x H x W``) and
    goes through the preset as a tensor, as in torchvision's documented usage
    ``weights.transforms()(read_image(path))``; images of the same size in a
    batch are resized together, on the network's device.

    **Fitting** builds the network and loads its weights; ``X`` is only
    checked to be a sequence of images. The extractor learns nothing from the
    data, so ``fit`` on any column gives the same features.

    **Pickling** a fitted extractor stores the network as plain tensors (its
    state dict, on the CPU, saved with :func:`torch.save`) and the
    preprocessing as its numbers; unpickling rebuilds the architecture from
    ``arch`` and ``layer`` and reads the tensors with
    ``torch.load(..., weights_only=True)``, so it needs neither the weights
    file nor the torch hub cache, and the pickle holds no pickled torch module
    (a strict allow-list unpickler accepts it). The network is placed back on
    ``device`` (``"auto"`` re-resolves on the loading machine). Loading any
    pickle still runs code: only unpickle files you trust (see scikit-learn's
    `model persistence
    <https://scikit-learn.org/stable/model_persistence.html>`_ page).

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.feature_extraction import CNNFeatureExtractor
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.integers(0, 256, (32, 40, 3), dtype=np.uint8),
    ...           rng.random((28, 28))]
    >>> extractor = CNNFeatureExtractor(
    ...     arch="squeezenet1_1", checkpoint=None, random_state=0)
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # random init: features are untrained
    ...     features = extractor.fit_transform(images)
    >>> features.shape, features.dtype
    ((2, 512), dtype('float32'))
    >>> extractor.get_feature_names_out()[:3]
    array(['cnn0', 'cnn1', 'cnn2'], dtype=object)
    """

    # The fit builds the network from the parameters alone: a feature cache
    # (ModalityUnion(memory=...)) shares one fit among the folds of a search.
    _fit_learns_from_data = False

    _parameter_constraints: dict = {
        "arch": [str],
        "checkpoint": [None, str, os.PathLike, Enum],
        "layer": [None, str],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "n_jobs": [Integral, None],
        "channels_last": ["boolean"],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        arch="resnet18",
        checkpoint=None,
        *,
        layer=None,
        batch_size=32,
        device="auto",
        n_jobs=None,
        channels_last=True,
        random_state=None,
        verbose=0,
    ):
        self.arch = arch
        self.checkpoint = checkpoint
        self.layer = layer
        self.batch_size = batch_size
        self.device = device
        self.n_jobs = n_jobs
        self.channels_last = channels_last
        self.random_state = random_state
        self.verbose = verbose

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build the network and load its weights.

        Parameters
        ----------
        X : sequence of images of length n_samples
            Only checked to be a sequence of images (see Notes); nothing is
            learned from it.

        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted extractor.
        """
        _as_column(X)
        torch = import_torch(_PURPOSE)
        torchvision = import_optional("torchvision", purpose=_PURPOSE)
        _check_arch(torchvision, self.arch)

        model, preprocess, self.checkpoint_ = self._load_network(torch, torchvision)
        model = _select_output(model, self.layer, torchvision)
        self.device_ = check_device(self.device)
        self.module_ = self._place(model, torch)
        self.preprocess_ = preprocess
        crop_size = getattr(preprocess, "crop_size", [_CROP_SIZE])[0]
        probe = torch.zeros((1, 3, crop_size, crop_size), device=self.device_)
        with torch.inference_mode():
            self.n_features_out_ = int(self.module_(probe).shape[1])
        return self

    def transform(self, X):
        """Compute one feature vector per image.

        Parameters
        ----------
        X : sequence of images of length n_samples
            File paths, ``PIL.Image`` objects or ndarrays (see Notes).

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out_), dtype float32
            The network's activations at ``layer``.
        """
        check_is_fitted(self)
        torch = import_torch(_PURPOSE)
        column, column_name = _as_column(X)
        memory_format = (
            torch.channels_last if self.channels_last else torch.contiguous_format
        )
        return predict_batches(
            self.module_,
            self._iter_batches(column, column_name, torch),
            device=self.device_,
            memory_format=memory_format,
            progress=Progress(self, self.verbose),
            n_batches=-(-len(column) // self.batch_size),
            unit="images",
        )

    def get_feature_names_out(self, input_features=None):
        """Output feature names ``cnn0``, ``cnn1``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; present for API consistency.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "n_features_out_")
        return np.asarray(
            [f"cnn{k}" for k in range(self.n_features_out_)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []
        return tags

    def __getstate__(self):
        state = dict(super().__getstate__())
        model = state.pop("module_", None)
        if model is not None:
            torch = import_torch(_PURPOSE)
            # Tensors only (read back with weights_only=True) and plain values:
            # the architecture is rebuilt from arch and layer on loading.
            tensors = {
                name: tensor.detach().cpu()
                for name, tensor in model.state_dict().items()
            }
            buffer = io.BytesIO()
            torch.save(tensors, buffer)
            state["_network_tensors"] = buffer.getvalue()
            state["_preprocess_settings"] = _preset_settings(state.pop("preprocess_"))
            state.pop("device_", None)
        return state

    def __setstate__(self, state):
        network_tensors = state.pop("_network_tensors", None)
        preprocess_settings = state.pop("_preprocess_settings", None)
        super().__setstate__(state)
        if network_tensors is None:
            return
        torch = import_torch(_PURPOSE)
        torchvision = import_optional("torchvision", purpose=_PURPOSE)
        _check_arch(torchvision, self.arch)
        model = _select_output(
            _new_network(torchvision, self.arch, random_state=0),
            self.layer,
            torchvision,
        )
        try:
            tensors = torch.load(
                io.BytesIO(network_tensors), map_location="cpu", weights_only=True
            )
            model = _pooled(model)
            model.load_state_dict(tensors, strict=True)
        except Exception as exc:  # torch raises several unrelated types here
            raise ValueError(
                f"The network stored in the pickle of this {_PURPOSE} "
                f"(arch={self.arch!r}, layer={self.layer!r}) cannot be loaded as "
                f"plain tensors: {type(exc).__name__}: {exc}"
            ) from exc
        self.preprocess_ = _preset_from_settings(preprocess_settings)
        self.device_ = check_device(self.device)
        self.module_ = self._place(model, torch)

    def _load_network(self, torch, torchvision):
        """Return ``(model, preprocess, weights_description)``."""
        from torchvision.transforms._presets import ImageClassification

        default_preprocess = ImageClassification(crop_size=_CROP_SIZE)
        weights = self.checkpoint
        if weights is None:
            warnings.warn(
                f"{_PURPOSE}(checkpoint=None) uses a randomly initialised "
                f"{self.arch!r}: its features carry no learned visual knowledge. "
                "Pass checkpoint='DEFAULT' (read from the local torch hub cache) or "
                "the path of a state dict.",
                UserWarning,
                stacklevel=4,
            )
            return self._random_network(torch, torchvision), default_preprocess, None
        if isinstance(weights, Enum):
            enum = _check_weights_member(torchvision, self.arch, weights)
        elif os.path.isfile(os.fspath(weights)):
            path = os.fspath(weights)
            model = self._random_network(torch, torchvision)
            _load_state_dict_file(
                torch, model, path, drop_classifier=self.layer is None
            )
            return model, default_preprocess, path
        else:
            enum = _weights_from_name(torchvision, self.arch, os.fspath(weights))
        model = _network_from_cache(torch, torchvision, self.arch, enum)
        return model, enum.transforms(), f"{type(enum).__name__}.{enum.name}"

    def _random_network(self, torch, torchvision):
        return _new_network(torchvision, self.arch, random_state=self.random_state)

    def _place(self, model, torch):
        """``model`` wrapped to pool its output, in eval mode, on ``device_``."""
        if not isinstance(model, _pooled_class()):
            model = _pooled(model)
        module = model.eval().requires_grad_(False).to(self.device_)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        return module

    def _iter_batches(self, column, column_name, torch):
        """Yield ``(batch,)``: the preprocessed images of consecutive rows."""
        from joblib import effective_n_jobs

        n_samples = len(column)
        starts = range(0, n_samples, self.batch_size)
        n_workers = effective_n_jobs(self.n_jobs)
        if n_workers == 1:
            for start in starts:
                rows = range(start, min(start + self.batch_size, n_samples))
                yield (
                    _load_batch(
                        column, rows, self.preprocess_, self.device_, column_name, torch
                    ),
                )
            return
        from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

        dataset = _ImageBatches(column, self.preprocess_, column_name)
        loader = DataLoader(
            dataset,
            batch_size=None,
            sampler=BatchSampler(
                SequentialSampler(range(n_samples)), self.batch_size, drop_last=False
            ),
            num_workers=n_workers,
            pin_memory=self.device_.type == "cuda",
        )
        batches = iter(loader)
        try:
            for _, batch in zip(starts, batches, strict=True):
                yield (batch,)
        finally:
            # After an error the traceback keeps the iterator alive, and workers
            # shut down by the garbage collector wait seconds for a timeout.
            shutdown = getattr(batches, "_shutdown_workers", None)
            if shutdown is not None:
                shutdown()


def _new_network(torchvision, arch, *, random_state):
    """``arch`` randomly initialised from ``random_state``; torch's global RNG is kept."""
    with torch_seed(random_state), warnings.catch_warnings():
        # e.g. googlenet/inception warn about their init_weights default.
        warnings.simplefilter("ignore", FutureWarning)
        return torchvision.models.get_model(arch)


def _pooled_class():
    from .._nn import PooledOutput

    return PooledOutput


def _pooled(model):
    return _pooled_class()(model)


def _preset_settings(preprocess):
    """The arguments of a torchvision ``ImageClassification`` preset, as plain values."""
    return {
        "crop_size": int(preprocess.crop_size[0]),
        "resize_size": int(preprocess.resize_size[0]),
        "mean": [float(value) for value in preprocess.mean],
        "std": [float(value) for value in preprocess.std],
        "interpolation": preprocess.interpolation.value,
        "antialias": preprocess.antialias,
    }


def _preset_from_settings(settings):
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms._presets import ImageClassification

    return ImageClassification(
        **{**settings, "interpolation": InterpolationMode(settings["interpolation"])}
    )


class _ImageBatches:
    """Map-style dataset whose items are whole batches (lists of row positions)."""

    def __init__(self, column, preprocess, column_name):
        self.column = column
        self.preprocess = preprocess
        self.column_name = column_name

    def __len__(self):
        return len(self.column)

    def __getitem__(self, rows):
        torch = import_torch(_PURPOSE)
        return _load_batch(
            self.column,
            rows,
            self.preprocess,
            torch.device("cpu"),
            self.column_name,
            torch,
        )


def _load_batch(column, rows, preprocess, device, column_name, torch):
    """Decode the images at ``rows`` and preprocess them into one float batch.

    Images of the same shape and dtype are stacked and preprocessed together,
    on ``device``; the result has the rows' order.
    """
    images = [_decode(column[row], row, column_name, torch) for row in rows]
    groups = {}
    for position, image in enumerate(images):
        groups.setdefault((tuple(image.shape), image.dtype), []).append(position)
    batch = None
    for positions in groups.values():
        stack = torch.stack([images[p] for p in positions])
        processed = preprocess(to_device(stack, device))
        if batch is None:
            batch = processed.new_empty((len(images), *processed.shape[1:]))
        batch[positions] = processed
    return batch


def _where(row, column_name):
    return f"row {row}" + (
        f" of column {column_name!r}" if column_name is not None else ""
    )


def _decode(item, row, column_name, torch):
    """One image as a ``3 x H x W`` tensor, ``uint8`` or ``float32`` in [0, 1]."""
    where = _where(row, column_name)
    if isinstance(item, (str, os.PathLike)):
        path = os.fspath(item)
        return _pil_to_tensor(
            _open_image(path, where), f"Image file {path!r} at {where}", torch
        )
    if isinstance(item, np.ndarray):
        return _array_to_tensor(item, f"Image array at {where}", torch)
    pil_image = sys.modules.get("PIL.Image")
    if pil_image is not None and isinstance(item, pil_image.Image):
        return _pil_to_tensor(item, f"Image at {where}", torch)
    raise TypeError(
        f"Image at {where} is a {type(item).__name__}; expected a "
        "file path, a PIL.Image or an ndarray of shape (H, W) or (H, W, C)."
    )


def _open_image(path, where):
    """The decoded image at ``path`` (pixels loaded, file closed)."""
    Image = import_optional("PIL.Image", purpose=_PURPOSE)
    if os.path.isdir(path):
        raise ValueError(
            f"Image path {path!r} at {where} is a directory, expected an image file."
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"Image file {path!r} at {where} does not exist.")
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(
            f"Cannot read image file {path!r} at {where}: it is "
            f"corrupt or not an image ({type(exc).__name__}: {exc})."
        ) from exc


# Pillow's modes of 16-bit grayscale images (PNG, TIFF), whatever the byte order.
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_SIXTEEN_BIT_MAX = 65535


def _pil_to_tensor(image, what, torch):
    """A ``PIL.Image`` as a tensor, scaled by its bit depth.

    8-bit modes (and those Pillow reads at 8 bits, such as 16-bit RGB PNGs)
    are converted to RGB; 16-bit grayscale becomes ``value / 65535`` (Pillow's
    ``convert("RGB")`` would clip it at 255); float images (mode ``"F"``) must
    be in [0, 1]; 32-bit integer images have no known scale and raise.
    """
    mode = image.mode
    # Pillow before 10.4 reads 16-bit grayscale PNGs as mode "I".
    if mode in _SIXTEEN_BIT_MODES or (mode == "I" and image.format == "PNG"):
        return _array_to_tensor(
            np.asarray(image).astype(np.uint16, copy=False), what, torch
        )
    if mode == "I":
        raise ValueError(
            f"{what} is a 32-bit integer image (mode 'I'), whose full scale is "
            "unknown; convert it to floats in [0, 1] or to a uint16/uint8 array."
        )
    if mode == "F":
        return _array_to_tensor(np.asarray(image), what, torch)
    return _array_to_tensor(np.asarray(image.convert("RGB")), what, torch)


def _array_to_tensor(array, what, torch):
    if array.ndim == 3 and array.shape[2] in (1, 3):
        channels = array.shape[2]
    elif array.ndim == 2:
        channels = 1
    else:
        raise ValueError(
            f"{what} has shape {array.shape}; expected (H, W) "
            "grayscale, (H, W, 1) or (H, W, 3)."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"{what} has size {array.shape[0]} x {array.shape[1]} (H x W): it has "
            "no pixel."
        )
    if array.dtype.kind == "u" and array.dtype.itemsize == 2:
        array = array / _SIXTEEN_BIT_MAX
    if array.dtype == np.uint8:
        pass
    elif array.dtype.kind == "f":
        array = array.astype(np.float32, copy=False)
        if not np.isfinite(array).all():
            raise ValueError(f"{what} contains NaN or infinity.")
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 1:
            raise ValueError(
                f"{what} has values in [{low:g}, {high:g}]; float images must be "
                "in [0, 1] (or pass uint8 in [0, 255], uint16 in [0, 65535])."
            )
    else:
        raise TypeError(
            f"{what} has dtype {array.dtype}; expected uint8 in [0, 255], uint16 "
            "in [0, 65535] or floating point in [0, 1]."
        )
    if not array.flags.writeable:  # torch.from_numpy warns on read-only memory
        array = array.copy()
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    tensor = tensor.reshape(array.shape[0], array.shape[1], channels).permute(2, 0, 1)
    if channels == 1:
        tensor = tensor.expand(3, -1, -1)
    return tensor


def _as_column(X):
    """Return ``(column, column_name)``: a positionally indexable sequence."""
    column_name = None
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(
                f"CNNFeatureExtractor takes one image column, got a DataFrame with "
                f"{X.shape[1]} columns {list(X.columns)[:5]}."
            )
        X = X.iloc[:, 0]
    if isinstance(X, pd.Series):
        column_name = X.name
        column = X.to_numpy(dtype=object)
    elif isinstance(X, np.ndarray):
        if X.ndim == 1 or (X.ndim == 2 and X.shape[1] == 1 and X.dtype == object):
            column = X.reshape(-1)
        elif X.ndim in (3, 4) and X.dtype != object:
            column = X  # a stack of images along the first axis
        else:
            raise ValueError(
                f"Got an array of shape {X.shape} and dtype {X.dtype}; expected a "
                "1-D sequence of images (paths, PIL images or arrays) or a stack "
                "of images of shape (n, H, W) or (n, H, W, C)."
            )
    elif isinstance(X, (list, tuple)):
        column = X
    elif isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError(
            "Got a single path; pass a sequence of images, e.g. a list of paths."
        )
    else:
        raise TypeError(
            f"Got a {type(X).__name__}; expected a sequence of images (a list, a "
            "pandas Series or one-column DataFrame, or a 1-D object array)."
        )
    if len(column) == 0:
        raise ValueError("Found an empty image column; at least one image is needed.")
    return column, column_name


def _check_arch(torchvision, arch):
    names = torchvision.models.list_models(module=torchvision.models)
    if arch not in names:
        close = difflib.get_close_matches(arch, names, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(
            f"arch={arch!r} is not a torchvision classification model.{hint} "
            "See torchvision.models.list_models(module=torchvision.models)."
        )


def _weights_from_name(torchvision, arch, name):
    enum_class = torchvision.models.get_model_weights(arch)
    member = (
        name.split(".", 1)[1] if name.startswith(enum_class.__name__ + ".") else name
    )
    try:
        return enum_class[member]
    except KeyError:
        names = ["DEFAULT", *(n for n in enum_class.__members__ if n != "DEFAULT")]
        raise ValueError(
            f"checkpoint={name!r} is neither an existing state-dict file nor a weights "
            f"name of {arch!r}; valid names: {names}."
        ) from None


def _check_weights_member(torchvision, arch, weights):
    enum_class = torchvision.models.get_model_weights(arch)
    if not isinstance(weights, enum_class):
        raise ValueError(
            f"checkpoint={weights} are not weights of {arch!r}; expected a member of "
            f"{enum_class.__name__}."
        )
    return weights


def _network_from_cache(torch, torchvision, arch, weights):
    """Build ``arch`` with ``weights``, read only from the local torch hub cache."""
    file_name = os.path.basename(urllib.parse.urlparse(weights.url).path)
    path = os.path.join(torch.hub.get_dir(), "checkpoints", file_name)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"The weights {type(weights).__name__}.{weights.name} of {arch!r} are "
            f"not in the local torch hub cache: expected the file {path!r}. "
            f"CNNFeatureExtractor never downloads; fetch {weights.url} where "
            "there is network access and copy it there (or set TORCH_HOME to a "
            "directory whose hub/checkpoints holds it), or pass the file's path "
            "as checkpoint=."
        )
    # torchvision reads an existing checkpoint from the cache and only
    # downloads a missing one, which was just ruled out.
    try:
        return torchvision.models.get_model(arch, weights=weights)
    except (RuntimeError, OSError, ValueError) as exc:
        raise ValueError(
            f"Cannot load the cached weights file {path!r} into {arch!r}: {exc}"
        ) from exc


def _load_state_dict_file(torch, model, path, *, drop_classifier):
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types here
        raise ValueError(
            f"Cannot read the state dict file {path!r}: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(state_dict, dict) or not all(
        isinstance(value, torch.Tensor) for value in state_dict.values()
    ):
        raise ValueError(
            f"{path!r} does not hold a state dict (a mapping of parameter names to "
            "tensors, as saved by torch.save(model.state_dict(), path))."
        )
    prefix = _classifier_name(model) + "."
    if drop_classifier:
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith(prefix)}
    try:
        result = model.load_state_dict(state_dict, strict=not drop_classifier)
    except RuntimeError as exc:
        hint = (
            ""
            if drop_classifier
            else " A network fine-tuned on another number of classes loads with "
            "layer=None (its classifier is then not used)."
        )
        raise ValueError(
            f"The state dict in {path!r} does not fit the network: "
            f"{str(exc).rstrip('.')}.{hint}"
        ) from exc
    missing = [k for k in result.missing_keys if not k.startswith(prefix)]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"The state dict in {path!r} does not fit the network: missing keys "
            f"{missing[:5]}, unexpected keys {result.unexpected_keys[:5]}."
        )


def _classifier_name(model):
    """Qualified name of the final classification layer.

    The last ``Linear`` module, or the last ``Conv2d`` for networks without
    one (SqueezeNet); torchvision defines the classifier last.
    """
    torch = import_torch(_PURPOSE)
    linear = conv = None
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            linear = name
        elif isinstance(module, torch.nn.Conv2d):
            conv = name
    return linear if linear is not None else conv


def _select_output(model, layer, torchvision):
    """Truncate ``model`` so that it returns the activation at ``layer``."""
    torch = import_torch(_PURPOSE)
    if layer is None:
        parent_name, _, child = _classifier_name(model).rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, torch.nn.Identity())
        return model
    from torchvision.models.feature_extraction import (
        create_feature_extractor,
        get_graph_node_names,
    )

    model.eval()
    _, nodes = get_graph_node_names(model)
    if not any(node == layer or node.startswith(layer + ".") for node in nodes):
        close = difflib.get_close_matches(layer, nodes, n=5)
        raise ValueError(
            f"layer={layer!r} is not a node of {type(model).__name__}"
            + (f"; close names: {close}" if close else "")
            + f". Its {len(nodes)} nodes are listed by "
            "torchvision.models.feature_extraction.get_graph_node_names(model)[1]."
        )
    return create_feature_extractor(model, return_nodes={layer: "features"})
