"""Neural fusion: per-modality encoders, a fusion layer and a classification head."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import numbers

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from .._estimator import fit_context
from .._frame import check_class_labels, validate_blocks
from .._torch import (
    HIDDEN_LAYER_SIZES_CONSTRAINT,
    BaseTorchEstimator,
    check_hidden_layer_sizes,
    fit_standard_scaler,
    import_torch,
    make_mlp,
    standardised_name,
)


def _cross_entropy(module, batch):
    F = import_torch().nn.functional
    *inputs, target = batch
    return F.cross_entropy(module(*inputs), target)


class MLPFusionClassifier(ClassifierMixin, BaseTorchEstimator):
    """Neural fusion classifier: one encoder per modality, a fusion layer, a head.

    Each modality block is standardised and encoded by its own small MLP; the
    codes are fused by concatenation, a gated unit or a low-rank tensor
    product, and a linear head gives the class scores. The network is
    trained end to end with the cross-entropy loss by the shared loop
    :func:`skcrossmodal._torch.fit_module` (mini-batches, Adam, early
    stopping), on the GPU when one is available. ``modality_dropout`` hides
    random modalities of random rows during training, so that the network
    learns to predict from the blocks present; at prediction time an absent
    block is simply missing from X.

    Parameters
    ----------
    fusion : {"concat", "gated", "lowrank_tensor"}, default="concat"
        How the codes ``h_m`` are combined:

        - ``"concat"``: ``[h_1, ..., h_M]`` (an absent modality gives zeros).
        - ``"gated"``: ``sum_m g_m * tanh(h_m)``, where the gates ``g_m`` are a
          softmax over the present modalities of a linear function of all
          codes (the gated multimodal unit of Arevalo et al., 2017).
        - ``"lowrank_tensor"``: ``sum_r prod_m ([h_m, 1] W_m^r)``, the
          low-rank outer-product fusion of Liu et al. (2018); an absent
          modality keeps only its constant 1.
    hidden_layer_sizes : int or tuple of int, default=(128,)
        Hidden layers of each modality's encoder; the last size is the width
        of the codes.
    rank : int, default=4
        Rank of the ``"lowrank_tensor"`` fusion.
    modality_dropout : float, default=0.0
        Probability of hiding each modality of each training row (a row
        always keeps at least one).
    activation : {"relu", "tanh", "logistic", "identity", "gelu"}, default="relu"
        Non-linearity of the encoders.
    dropout : float, default=0.0
        Dropout after each hidden layer and before the head.
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
        Hold out ``validation_fraction`` of the rows (stratified) and stop
        when their loss stops improving; otherwise the training loss is
        monitored. Either way the best epoch's weights are kept. Both sides
        of the split need every class (at least as many rows as classes, and
        two rows of each class).
    validation_fraction : float, default=0.1
        Fraction held out for early stopping.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    tol : float, default=1e-4
        Smallest improvement of the monitored loss.
    random_state : int, RandomState instance or None, default=None
        The one seed of the fit: initialisation, validation split, shuffling,
        dropout and modality dropout. A fixed seed gives identical results on
        the CPU.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Torch device; "auto" picks CUDA, then MPS, then the CPU.
    verbose : int, default=0
        1 reports every epoch on stderr (``[MLPFusionClassifier] epoch 3/20:
        loss 0.41, val 0.46 (0.8 s)``), 2 every inference batch as well.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    module_ : skcrossmodal._nn.LateFusionNetwork
        The trained network (an ``nn.Module`` on the CPU):
        ``module_(*blocks, mask)`` gives the class logits, from
        ``module_.encoders``, ``module_.fusion`` and ``module_.head``. It
        computes in float32: a block whose standardised values do not fit
        float32 is refused.
    scalers_ : dict of str to sklearn.preprocessing.StandardScaler
        The standardisation of each block.
    n_iter_ : int
        Epochs run.
    loss_curve_ : list of float
        Training loss of each epoch.
    validation_loss_curve_ : list of float or None
        Validation loss of each epoch (None without early stopping).
    best_epoch_ : int
        Epoch whose weights were kept.
    best_loss_ : float
        Its monitored loss.
    modalities_ : list of str
        The modalities fused.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Names of those features.
    feature_names_per_modality_ : dict of str to ndarray
        Feature names of each block.

    See Also
    --------
    LateFusionClassifier : Fuse the outputs of one classifier per modality.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.fusion import MLPFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 50)
    >>> X = make_frame(text=rng.normal(y[:, None], 1.0, (100, 3)),
    ...                image=rng.normal(y[:, None], 1.0, (100, 2)))
    >>> clf = MLPFusionClassifier(hidden_layer_sizes=(8,), modality_dropout=0.3,
    ...                           max_iter=50, random_state=0, device="cpu")
    >>> clf = clf.fit(X, y)
    >>> clf.score(X, y) > 0.8
    True
    >>> clf.predict(X.filter(like="image__")).shape
    (100,)
    """

    _parameter_constraints = {
        **BaseTorchEstimator._parameter_constraints,
        "hidden_layer_sizes": HIDDEN_LAYER_SIZES_CONSTRAINT,
        "fusion": [StrOptions({"concat", "gated", "lowrank_tensor"})],
        "rank": [Interval(numbers.Integral, 1, None, closed="left")],
        "modality_dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    }

    def __init__(
        self,
        fusion="concat",
        *,
        hidden_layer_sizes=(128,),
        rank=4,
        modality_dropout=0.0,
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
        self.fusion = fusion
        self.hidden_layer_sizes = hidden_layer_sizes
        self.rank = rank
        self.modality_dropout = modality_dropout

    def _build_module(self, widths, n_classes):
        from .._nn import FUSION_MODULES, LateFusionNetwork

        sizes = check_hidden_layer_sizes(self.hidden_layer_sizes)
        if not sizes:
            raise ValueError(
                "MLPFusionClassifier needs at least one hidden layer per encoder; "
                "hidden_layer_sizes is empty."
            )
        encoders = [
            make_mlp(width, sizes, activation=self.activation, dropout=self.dropout)
            for width in widths
        ]
        options = {"rank": self.rank} if self.fusion == "lowrank_tensor" else {}
        fusion = FUSION_MODULES[self.fusion](len(widths), sizes[-1], **options)
        head = import_torch().nn.Linear(fusion.out_features, n_classes)
        return LateFusionNetwork(
            encoders,
            fusion,
            head,
            dropout=self.dropout,
            modality_dropout=self.modality_dropout,
        )

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the encoders, the fusion layer and the head end to end.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table with every block to fuse.
        y : array-like of shape (n_samples,)
            Class labels (a column vector is raveled with a
            ``DataConversionWarning``); a missing label is an error.

        Returns
        -------
        self : object
            Fitted classifier.
        """
        blocks = validate_blocks(self, X, reset=True, ensure_min_samples=2)
        if y is None:
            raise ValueError(
                "MLPFusionClassifier requires y to be passed, but the target y is None."
            )
        y = check_class_labels(y, type(self).__name__)
        check_consistent_length(X, y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                "MLPFusionClassifier needs samples of at least 2 classes, got 1 class "
                f"({self.classes_[0]!r})."
            )
        target = encoder.transform(y)
        self.scalers_ = {
            m: fit_standard_scaler(
                b, f"Modality {m!r}", self.feature_names_per_modality_[m]
            )
            for m, b in blocks.items()
        }
        scaled = [self.scalers_[m].transform(b) for m, b in blocks.items()]
        import_torch(purpose="MLPFusionClassifier")
        self.module_ = self._fit_network(
            lambda: self._build_module(
                [b.shape[1] for b in scaled], len(self.classes_)
            ),
            _cross_entropy,
            (*scaled, np.ones((len(target), len(scaled)), dtype=np.float32), target),
            stratify=target,
            names=[*map(standardised_name, blocks), "the mask", "y"],
        )
        return self

    def _logits(self, X):
        check_is_fitted(self)
        blocks = validate_blocks(self, X, reset=False)
        n_samples = X.shape[0]
        inputs, mask = (
            [],
            np.zeros((n_samples, len(self.modalities_)), dtype=np.float32),
        )
        for m, modality in enumerate(self.modalities_):
            scaler = self.scalers_[modality]
            if modality in blocks:
                inputs.append(scaler.transform(blocks[modality]))
                mask[:, m] = 1
            else:
                inputs.append(np.zeros((n_samples, scaler.n_features_in_)))
        return self._predict_network(
            (*inputs, mask),
            names=[*map(standardised_name, self.modalities_), "the mask"],
        )

    def decision_function(self, X):
        """Class scores (logits) from the modalities present in X.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table; fitted blocks may be absent, but not all.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Logits in the order of ``classes_``; for two classes, the logit
            of the second class minus that of the first.
        """
        logits = self._logits(X)
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X):
        """Class probabilities from the modalities present in X.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table; fitted blocks may be absent, but not all.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Softmax of the logits, in the order of ``classes_``.
        """
        logits = self._logits(X)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def predict(self, X):
        """Predict class labels from the modalities present in X.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table; fitted blocks may be absent, but not all.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]
