"""Neural mappers (torch): MLP regression and contrastive two-tower training."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import functools
import itertools
import numbers

import numpy as np
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from .._estimator import fit_context
from .._frame import check_class_labels, validate_blocks
from .._similarity import iter_similarity_blocks
from .._torch import (
    HIDDEN_LAYER_SIZES_CONSTRAINT,
    BaseTorchEstimator,
    check_hidden_layer_sizes,
    fit_standard_scaler,
    import_torch,
    make_mlp,
    standardised_name,
)
from ._base import SharedSpaceMixin, validate_source_target

# Smallest temperature a learned one may reach (CLIP caps its logit scale at 100).
_MIN_TEMPERATURE = 0.01


def _mse_loss(module, batch):
    source, target = batch
    return ((module(source) - target) ** 2).mean()


def _cosine_loss(module, batch):
    F = import_torch().nn.functional
    source, target = batch
    return 1.0 - F.cosine_similarity(module(source), target, dim=1, eps=1e-8).mean()


class MLPMapper(SharedSpaceMixin, BaseTorchEstimator):
    """Nonlinear regression from a source modality into a target's feature space.

    A multi-layer perceptron (torch) is trained to predict the ``target``
    block from the ``source`` block of the same rows. The shared space is the
    target's feature space: ``transform`` maps the source block through the
    network and passes the target block through unchanged, so both blocks
    have ``n_target_features`` columns and can be compared by cosine.

    The source features are standardised internally (zero mean, unit
    variance per feature). With ``loss="mse"`` the target is centred and
    divided by one global scale (its root mean feature variance), which keeps
    the loss proportional to the mean squared error in the original units;
    predictions are mapped back to those units. With ``loss="cosine"`` the
    target is used as is, since the loss ignores its scale. The network
    computes in float32: blocks whose (standardised) values do not fit
    float32, or whose variance overflows float64, are refused with an error
    naming the modality, at fit and at transform time.

    Training uses the shared loop of
    :class:`skcrossmodal._torch.BaseTorchEstimator` (Adam, mini-batches,
    early stopping on a validation split that restores the best weights). It
    runs on the GPU when one is available (``device="auto"``).

    Parameters
    ----------
    source : str
        Modality mapped by the network.
    target : str
        Modality whose feature space is the shared space.
    hidden_layer_sizes : array-like of int, default=(256,)
        Width of each hidden layer; ``()`` gives a linear map.
    loss : {"mse", "cosine"}, default="mse"
        ``"mse"``: mean squared error; ``"cosine"``: one minus the cosine
        between the prediction and the target row (only directions matter).
    activation : {"relu", "tanh", "logistic", "identity", "gelu"}, default="relu"
        Non-linearity of the hidden layers.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    weight_decay : float, default=1e-4
        L2 penalty on the weight matrices (not the biases).
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        ``torch.optim.Adam``, ``AdamW`` (decoupled weight decay) or ``SGD``
        with Nesterov momentum 0.9.
    batch_size : int, default=64
        Rows per mini-batch.
    learning_rate : float, default=1e-3
        Step size of the optimizer.
    max_iter : int, default=200
        Largest number of epochs.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows and stop when their loss
        stops improving; otherwise the training loss is monitored. Either
        way, the weights of the best epoch are kept.
    validation_fraction : float, default=0.1
        Fraction of rows held out for early stopping.
    n_iter_no_change : int, default=10
        Epochs without an improvement of ``tol`` before stopping.
    tol : float, default=1e-4
        Smallest improvement of the monitored loss.
    random_state : int, RandomState instance or None, default=None
        The one seed of the fit: initialisation, validation split, shuffling
        and dropout. A fixed seed gives identical results on the CPU.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Torch device; ``"auto"`` picks CUDA, then MPS, then the CPU.
    verbose : int, default=0
        1 reports every epoch on stderr (``[MLPMapper] epoch 3/20: loss 0.41,
        val 0.46 (0.8 s)``), 2 every inference batch as well.

    Attributes
    ----------
    n_components_ : int
        Width of the shared space (the number of target features).
    module_ : torch.nn.Sequential
        The trained network (on the CPU; moved to ``device`` for transform).
    source_scaler_ : sklearn.preprocessing.StandardScaler
        Standardisation of the source block.
    target_mean_ : ndarray of shape (n_components_,)
        Offset added to the network's output (zero for ``loss="cosine"``).
    target_scale_ : float
        Scale applied to the network's output (one for ``loss="cosine"``).
    n_iter_ : int
        Epochs run.
    loss_curve_ : list of float
        Training loss of each epoch (in the scaled target space).
    validation_loss_curve_ : list of float or None
        Validation loss of each epoch, None without early stopping.
    best_epoch_ : int
        Epoch whose weights were kept.
    best_loss_ : float
        Monitored loss of that epoch.
    modalities_ : list of str
        ``[source, target]``.
    n_features_in_ : int
        Number of features of the source and target blocks together.
    feature_names_in_ : ndarray of str
        Their column names.
    feature_names_per_modality_ : dict of str to ndarray
        Column names of each block.

    See Also
    --------
    ContrastiveMapper : Two towers trained with a contrastive loss.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.mapping import MLPMapper
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(size=(60, 4))
    >>> X = make_frame(image=image, text=np.tanh(image[:, :3]))
    >>> mapper = MLPMapper("image", "text", hidden_layer_sizes=(16,),
    ...                    max_iter=5, random_state=0).fit(X)
    >>> mapper.transform(X).shape
    (60, 6)
    >>> image_only = X[["image__0", "image__1", "image__2", "image__3"]]
    >>> list(mapper.transform(image_only).columns)
    ['image__mlpmapper0', 'image__mlpmapper1', 'image__mlpmapper2']
    """

    _parameter_constraints = {
        **BaseTorchEstimator._parameter_constraints,
        "source": [str],
        "target": [str],
        "hidden_layer_sizes": HIDDEN_LAYER_SIZES_CONSTRAINT,
        "loss": [StrOptions({"mse", "cosine"})],
    }

    def __init__(
        self,
        source,
        target,
        *,
        hidden_layer_sizes=(256,),
        loss="mse",
        activation="relu",
        dropout=0.0,
        weight_decay=1e-4,
        optimizer="adam",
        batch_size=64,
        learning_rate=1e-3,
        max_iter=200,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        device="auto",
        verbose=0,
    ):
        super().__init__(
            activation=activation,
            dropout=dropout,
            weight_decay=weight_decay,
            optimizer=optimizer,
            batch_size=batch_size,
            learning_rate=learning_rate,
            max_iter=max_iter,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            random_state=random_state,
            device=device,
            verbose=verbose,
        )
        self.source = source
        self.target = target
        self.hidden_layer_sizes = hidden_layer_sizes
        self.loss = loss

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the network to predict the target block from the source block.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table holding the ``source`` and ``target`` blocks.
        y : None
            Ignored.

        Returns
        -------
        self : MLPMapper
            The fitted mapper.
        """
        hidden_layer_sizes = check_hidden_layer_sizes(self.hidden_layer_sizes)
        blocks = validate_source_target(self, X, reset=True)
        source, target = blocks[self.source], blocks[self.target]
        columns = self.feature_names_per_modality_
        self.source_scaler_ = fit_standard_scaler(
            source, f"Modality {self.source!r}", columns[self.source]
        )
        if self.loss == "mse":
            with np.errstate(over="ignore", invalid="ignore"):
                self.target_mean_ = target.mean(axis=0)
                scale = float(np.sqrt(target.var(axis=0).mean()))
            if not (np.isfinite(scale) and np.isfinite(self.target_mean_).all()):
                raise ValueError(
                    f"Modality {self.target!r} (the target) cannot be standardised: "
                    f"its variance (entries up to {np.abs(target).max():.3g}) "
                    "overflows float64; rescale it."
                )
            self.target_scale_ = scale if scale > 0 else 1.0
        else:
            self.target_mean_ = np.zeros(target.shape[1])
            self.target_scale_ = 1.0

        self.module_ = self._fit_network(
            lambda: make_mlp(
                source.shape[1],
                hidden_layer_sizes,
                target.shape[1],
                activation=self.activation,
                dropout=self.dropout,
            ),
            _mse_loss if self.loss == "mse" else _cosine_loss,
            (
                self.source_scaler_.transform(source),
                (target - self.target_mean_) / self.target_scale_,
            ),
            names=(
                standardised_name(self.source),
                f"Modality {self.target!r} (the target"
                + (", standardised)" if self.loss == "mse" else ")"),
            ),
        )
        self.n_components_ = target.shape[1]
        return self

    def _predict_target(self, source):
        output = self._predict_network(
            (self.source_scaler_.transform(source),),
            names=(standardised_name(self.source),),
        )
        return output * self.target_scale_ + self.target_mean_

    def _embed(self, blocks):
        return {
            modality: (
                self._predict_target(block) if modality == self.source else block
            )
            for modality, block in blocks.items()
        }

    def score(self, X, y=None):
        """How well the source block predicts the target block of the same rows.

        The fit of the objective being trained: the coefficient of
        determination R² (averaged uniformly over target features) for
        ``loss="mse"``, the mean cosine between each predicted and true target
        row for ``loss="cosine"``. Both are at most 1, higher is better; they
        are not comparable across ``loss`` values (to choose ``loss``, use a
        retrieval scorer from :mod:`skcrossmodal.metrics`).

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table holding the ``source`` and ``target`` blocks.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        blocks = validate_blocks(self, X, reset=False)
        missing = [m for m in (self.source, self.target) if m not in blocks]
        if missing:
            raise ValueError(
                "MLPMapper.score needs the source and target blocks; X lacks "
                f"{missing}."
            )
        predicted = self._predict_target(blocks[self.source])
        target = blocks[self.target]
        if self.loss == "mse":
            return float(r2_score(target, predicted))
        norms = np.linalg.norm(predicted, axis=1) * np.linalg.norm(target, axis=1)
        cosines = np.einsum("ij,ij->i", predicted, target) / np.maximum(norms, 1e-12)
        return float(cosines.mean())


def _tower_embedding(module, block, *, tower):
    return module.embed(block, tower)


def _contrastive_loss(module, batch, *, supervised):
    from .._nn import contrastive_loss

    n_modalities = len(module.towers)
    labels = batch[n_modalities] if supervised else None
    return contrastive_loss(module(*batch[:n_modalities]), module.temperature(), labels)


class ContrastiveMapper(SharedSpaceMixin, BaseTorchEstimator):
    """Two (or more) towers trained with CLIP's symmetric InfoNCE loss.

    One multi-layer perceptron per modality maps its block to an
    ``n_components``-dimensional space; outputs are L2-normalised. Training
    treats row i of modality A and row i of modality B as a positive pair and
    every other row of the mini-batch as a negative: for a batch of logits
    ``L = A_emb @ B_emb.T / temperature``, the loss is the mean of the
    cross-entropies of ``L`` (A→B) and ``L.T`` (B→A) against the diagonal
    (Radford et al., 2021). With more than two modalities the loss is averaged
    over all pairs of modalities.

    With ``supervised=True`` and labels ``y``, every row of the batch with the
    same label counts as a positive: each row's loss is the mean negative
    log-softmax over its positives (the multi-positive InfoNCE of supervised
    contrastive learning, Khosla et al., 2020, applied across modalities).

    Input blocks are standardised internally; the towers compute in float32,
    so blocks whose standardised values do not fit float32 are refused with an
    error naming the modality. Training uses the shared loop of
    :class:`skcrossmodal._torch.BaseTorchEstimator` and runs on the GPU when
    one is available (``device="auto"``). Larger batches give more negatives.

    Parameters
    ----------
    n_components : int, default=64
        Width of the learned space.
    hidden_layer_sizes : array-like of int, default=(256,)
        Hidden layers of each tower; ``()`` gives linear towers.
    temperature : float, default=0.07
        Softmax temperature (CLIP's initial value). With
        ``learn_temperature=True`` it is the starting value of a learned
        temperature (bounded below by 0.01).
    learn_temperature : bool, default=False
        Learn the temperature with the towers, as CLIP does.
    modalities : list of str or None, default=None
        Modalities to learn towers for (at least two); None uses every block
        of the training table.
    supervised : bool, default=False
        Count rows with the same ``y`` in a batch as positives; needs ``y``.
    activation : {"relu", "tanh", "logistic", "identity", "gelu"}, default="relu"
        Non-linearity of the hidden layers.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    weight_decay : float, default=1e-4
        L2 penalty on the weight matrices (not the biases).
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        ``torch.optim.Adam``, ``AdamW`` (decoupled weight decay) or ``SGD``
        with Nesterov momentum 0.9.
    batch_size : int, default=256
        Rows per mini-batch: the rows of a batch are each other's negatives,
        so the default is larger than the other torch estimators' 64.
    learning_rate : float, default=1e-3
        Step size of the optimizer.
    max_iter : int, default=200
        Largest number of epochs.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows and stop when their loss
        stops improving; otherwise the training loss is monitored. Either
        way, the weights of the best epoch are kept.
    validation_fraction : float, default=0.1
        Fraction of rows held out for early stopping (at least two rows).
    n_iter_no_change : int, default=10
        Epochs without an improvement of ``tol`` before stopping.
    tol : float, default=1e-4
        Smallest improvement of the monitored loss.
    random_state : int, RandomState instance or None, default=None
        The one seed of the fit: initialisation, validation split, shuffling
        and dropout. A fixed seed gives identical results on the CPU.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Torch device; ``"auto"`` picks CUDA, then MPS, then the CPU.
    verbose : int, default=0
        1 reports every epoch on stderr (``[ContrastiveMapper] epoch 3/20: loss 0.41,
        val 0.46 (0.8 s)``), 2 every inference batch as well.

    Attributes
    ----------
    n_components_ : int
        Width of the learned space.
    module_ : skcrossmodal._nn.ContrastiveTowers
        The trained network (an ``nn.Module`` on the CPU):
        ``module_(*blocks)`` gives the unit-norm embeddings,
        ``module_.towers[k]`` is the tower of ``modalities_[k]``, and with a
        learned temperature ``module_.log_temperature`` holds its logarithm.
    scalers_ : dict of str to sklearn.preprocessing.StandardScaler
        Standardisation of each block.
    temperature_ : float
        Temperature after training (equal to ``temperature`` unless learned).
    n_iter_ : int
        Epochs run.
    loss_curve_ : list of float
        Training loss of each epoch.
    validation_loss_curve_ : list of float or None
        Validation loss of each epoch, None without early stopping.
    best_epoch_ : int
        Epoch whose weights were kept.
    best_loss_ : float
        Monitored loss of that epoch.
    modalities_ : list of str
        Modalities with a tower, in block order.
    n_features_in_ : int
        Number of features of those blocks together.
    feature_names_in_ : ndarray of str
        Their column names.
    feature_names_per_modality_ : dict of str to ndarray
        Column names of each block.

    See Also
    --------
    MLPMapper : Regression from one modality into another's feature space.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.mapping import ContrastiveMapper
    >>> rng = np.random.default_rng(0)
    >>> latent = rng.normal(size=(64, 4))
    >>> X = make_frame(image=latent @ rng.normal(size=(4, 6)),
    ...                text=latent @ rng.normal(size=(4, 5)))
    >>> mapper = ContrastiveMapper(n_components=3, hidden_layer_sizes=(16,),
    ...                            batch_size=32, max_iter=5, random_state=0).fit(X)
    >>> Z = mapper.transform(X)
    >>> Z.shape
    (64, 6)
    >>> bool(np.allclose(np.linalg.norm(Z.iloc[:, :3], axis=1), 1.0))
    True
    """

    _parameter_constraints = {
        **BaseTorchEstimator._parameter_constraints,
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "hidden_layer_sizes": HIDDEN_LAYER_SIZES_CONSTRAINT,
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
        "learn_temperature": ["boolean"],
        "modalities": ["array-like", None],
        "supervised": ["boolean"],
    }

    def __init__(
        self,
        n_components=64,
        *,
        hidden_layer_sizes=(256,),
        temperature=0.07,
        learn_temperature=False,
        modalities=None,
        supervised=False,
        activation="relu",
        dropout=0.0,
        weight_decay=1e-4,
        optimizer="adam",
        batch_size=256,
        learning_rate=1e-3,
        max_iter=200,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        device="auto",
        verbose=0,
    ):
        super().__init__(
            activation=activation,
            dropout=dropout,
            weight_decay=weight_decay,
            optimizer=optimizer,
            batch_size=batch_size,
            learning_rate=learning_rate,
            max_iter=max_iter,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            random_state=random_state,
            device=device,
            verbose=verbose,
        )
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.temperature = temperature
        self.learn_temperature = learn_temperature
        self.modalities = modalities
        self.supervised = supervised

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train one tower per modality on the paired rows of X.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table with at least two blocks.
        y : array-like of shape (n_samples,), default=None
            Class labels; used only (and then required, one for every row)
            when ``supervised=True``.

        Returns
        -------
        self : ContrastiveMapper
            The fitted mapper.
        """
        import_torch(purpose="ContrastiveMapper")
        if self.supervised and y is None:
            raise ValueError(
                "ContrastiveMapper(supervised=True) counts rows with the same label as "
                "positives and needs y; pass y to fit or set supervised=False."
            )
        hidden_layer_sizes = check_hidden_layer_sizes(self.hidden_layer_sizes)
        blocks = validate_blocks(
            self,
            X,
            reset=True,
            required=self.modalities,
            min_modalities=2,
            ensure_min_samples=2,
        )
        arrays = []
        self.scalers_ = {}
        for modality, block in blocks.items():
            self.scalers_[modality] = fit_standard_scaler(
                block,
                f"Modality {modality!r}",
                self.feature_names_per_modality_[modality],
            )
            arrays.append(self.scalers_[modality].transform(block))
        names = [standardised_name(modality) for modality in blocks]
        labels = None
        if self.supervised:
            y = check_class_labels(y, type(self).__name__)
            check_consistent_length(X, y)
            _, labels = np.unique(y, return_inverse=True)
            arrays.append(labels)
            names.append("y")

        def build():
            from .._nn import ContrastiveTowers

            towers = [
                make_mlp(
                    block.shape[1],
                    hidden_layer_sizes,
                    self.n_components,
                    activation=self.activation,
                    dropout=self.dropout,
                )
                for block in blocks.values()
            ]
            return ContrastiveTowers(
                towers,
                self.temperature,
                learn_temperature=self.learn_temperature,
                min_temperature=_MIN_TEMPERATURE,
            )

        self.module_ = self._fit_network(
            build,
            functools.partial(_contrastive_loss, supervised=self.supervised),
            tuple(arrays),
            min_samples_per_split=2,
            names=names,
        )
        self.temperature_ = float(self.module_.temperature().detach())
        self.n_components_ = self.n_components
        return self

    def _embed(self, blocks):
        embeddings = {}
        for modality, block in blocks.items():
            tower = self.modalities_.index(modality)
            embeddings[modality] = self._predict_network(
                (self.scalers_[modality].transform(block),),
                forward=functools.partial(_tower_embedding, tower=tower),
                names=(standardised_name(modality),),
            )
        return embeddings

    def score(self, X, y=None):
        """Instance-level top-1 retrieval accuracy between the blocks of X.

        For every ordered pair of modalities (A, B) present in X, each row's
        A embedding queries all B embeddings by cosine; the query is a hit
        when its own row ranks first. The score is the fraction of hits,
        averaged over the pairs (recall@1; chance is ``1 / n_samples``).
        Memory stays bounded (blocked similarity). For category-level
        retrieval use :func:`skcrossmodal.metrics.make_retrieval_scorer`.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table with at least two fitted blocks.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        embeddings = self._embed(validate_blocks(self, X, reset=False))
        if len(embeddings) < 2:
            raise ValueError(
                "ContrastiveMapper.score retrieves one modality from another and needs "
                f"at least two blocks; X has {list(embeddings)}."
            )
        accuracies = []
        for query, gallery in itertools.permutations(embeddings, 2):
            hits = 0
            for start, stop, similarity in iter_similarity_blocks(
                embeddings[query], embeddings[gallery], "cosine"
            ):
                hits += int(np.sum(similarity.argmax(axis=1) == np.arange(start, stop)))
            accuracies.append(hits / X.shape[0])
        return float(np.mean(accuracies))
