"""Regularised kernel canonical correlation analysis, exact or Nyström."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.kernel_approximation import Nystroem
from sklearn.metrics.pairwise import (
    additive_chi2_kernel,
    euclidean_distances,
    manhattan_distances,
    pairwise_kernels,
)
from sklearn.preprocessing import KernelCenterer
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import Interval, StrOptions

from .._estimator import Progress, fit_context
from .._frame import check_n_components
from ._base import PairedMapperMixin, check_squares_finite, validate_paired_blocks
from ._distributed import fit_from_dask, is_dask_collection
from ._linalg import (
    CCASolution,
    cca_from_covariances,
    cca_of_principal_coordinates,
    constant_features,
    flip_signs,
    principal_coordinates,
)

KERNELS = ("linear", "poly", "rbf", "laplacian", "chi2")

# Kernel matrices against the training rows or landmarks are computed in row
# batches of at most this many entries (256 MiB of float64).
_MAX_KERNEL_ENTRIES = 2**25

# gamma="scale" takes its median over the pairs of at most this many training
# rows (a random subset, drawn with random_state, when there are more).
_GAMMA_SCALE_MAX_ROWS = 1000


def _scale_gamma(kernel, sample, modality):
    """``1 / median`` of the kernel's own distance over the rows of ``sample``.

    rbf: squared euclidean distance; laplacian: L1 distance; chi2: chi-squared
    distance ``sum (x - y)^2 / (x + y)``; poly: the squared norm of a row (so
    that ``gamma x'x`` is 1 for the median row). The distances are taken over
    the pairs ``i < j``.
    """
    if kernel == "poly":
        values = np.einsum("ij,ij->i", sample, sample)
        what = "squared norm of its training rows"
    else:
        if kernel == "rbf":
            # Centred first: distances do not change, and the BLAS expansion
            # |x|^2 + |y|^2 - 2 x'y loses no digits to an offset.
            centred = sample - sample.mean(axis=0)
            distances = euclidean_distances(centred, squared=True)
            what = "squared euclidean distance"
        elif kernel == "laplacian":
            distances = manhattan_distances(sample)
            what = "L1 distance"
        else:
            distances = -additive_chi2_kernel(sample)
            what = "chi-squared distance"
        values = distances[np.triu_indices(len(sample), 1)]
        what += " between its training rows"
    median = float(np.median(values)) if values.size else 0.0
    if not median > 0:
        raise ValueError(
            f"gamma='scale' for modality {modality!r} ({kernel} kernel) is 1 / the "
            f"median {what}, but that median is {median}: most of the rows are "
            "identical (or zero). Pass a number for gamma."
        )
    return 1.0 / median


def _check_finite_kernel(matrix, modality, what):
    """Raise a ValueError naming the modality if a kernel matrix is not finite."""
    if not np.all(np.isfinite(matrix)):
        raise ValueError(
            f"The {what} of modality {modality!r} has non-finite entries; the "
            "kernel (a callable?) must return finite values for finite input."
        )


def _per_modality(value, modality, name):
    """The value of a scalar-or-per-modality parameter for one modality."""
    if isinstance(value, dict):
        if modality not in value:
            raise ValueError(
                f"{name} is a dict without an entry for modality {modality!r}; "
                f"it has {list(value)}."
            )
        return value[modality]
    return value


def _batched_rows(function, X, n_columns):
    """Apply ``function`` to row batches of X so that ``n_columns``-wide kernels fit."""
    batch_size = max(1, _MAX_KERNEL_ENTRIES // max(n_columns, 1))
    if X.shape[0] <= batch_size:
        return function(X)
    return np.vstack([function(X[batch]) for batch in gen_batches(len(X), batch_size)])


class KernelCCA(PairedMapperMixin, BaseEstimator):
    """Regularised kernel canonical correlation analysis of two modalities.

    Each modality is mapped to the feature space of a kernel, where linear
    CCA is regularised by shrinking the joint feature-space covariance ``C``
    toward the identity, ``C <- (1 - reg) C + reg I`` (canonical ridge,
    Vinod 1976; Hardoon et al. 2004). In the dual, with centred kernel
    matrices ``K_a`` and ``K_b``, the directions ``alpha``, ``beta`` maximise
    ``(1 - reg) alpha' K_a K_b beta / (n - 1)`` subject to
    ``alpha' ((1 - reg) K_a^2 / (n - 1) + reg K_a) alpha = 1`` (and the same
    for ``beta``): this is cca-zoo's ``KCCA`` with ``shrinkage=reg``. With a
    linear kernel on standardised features it is :class:`CCA` with
    ``scale=True`` and the same ``reg``.

    Two ways to solve it:

    * exact (``n_landmarks=None``): each centred ``n x n`` kernel matrix is
      eigendecomposed once, ``K = U diag(l) U'``, which makes the problem
      linear CCA of the kernel-PCA coordinates ``U diag(sqrt(l))``, whose
      regularised covariance ``(1 - reg) diag(l) / (n - 1) + reg I`` is
      diagonal: whitening is a division and one SVD gives the pairs. ``K^2``
      is never formed, so the spread of the kernel's eigenvalues is not
      squared. An eigenvalue below the rounding of the centred kernel
      (``n * eps * max |K|``; negative ones of a kernel that is not positive
      semi-definite too) is null and dropped, and so, the rule of
      :class:`CCA`, is a direction whose regularised variance
      ``(1 - reg) l / (n - 1) + reg`` is at most ``1e-10`` times the
      largest. With ``reg=0`` a feature-space direction whose standard
      deviation is below 1e-5 of the largest is therefore lost: with a
      linear kernel, standardise features whose units differ more than that,
      or use :class:`CCA`, which standardises before deciding ranks. Memory
      is O(n^2) and time O(n^3): a few thousand samples.
    * Nyström (``n_landmarks=m``): ``m`` training rows, the same for both
      modalities, are drawn as landmarks and each modality is mapped to its
      ``m`` Nyström features (:class:`sklearn.kernel_approximation.Nystroem`,
      exact when ``m = n``); their covariance goes into the same linear
      solver. Time O(n m^2 + m^3), memory O(n m): n = 100,000 in seconds.

    Parameters
    ----------
    n_components : int, default=2
        Number of canonical pairs; at most the smaller numerical rank of the
        two regularised feature-space covariances.
    kernel : {"linear", "poly", "rbf", "laplacian", "chi2"}, callable or dict, \
            default="rbf"
        Kernel of :func:`sklearn.metrics.pairwise.pairwise_kernels`. ``"chi2"``
        is the exponential chi-squared kernel
        ``exp(-gamma sum (x - y)^2 / (x + y))`` (non-negative features only),
        suited to histograms such as bag-of-visual-words or topic
        proportions. A callable is called on pairs of rows, as by
        ``pairwise_kernels`` (``gamma``, ``degree`` and ``coef0`` are not
        passed to it). A dict gives one kernel per modality.
    gamma : float, "scale", dict or None, default=None
        Coefficient of the rbf, laplacian, poly and chi2 kernels. ``"scale"``
        sets it per modality from the training block: ``1 /`` the median,
        over pairs of training rows, of the kernel's distance (squared
        euclidean for rbf, L1 for laplacian, chi-squared for chi2; for poly
        the median squared norm of a row), on at most 1,000 rows drawn with
        ``random_state``. It does not depend on the features' units and is the
        value to start from (then tune around it). None means
        ``1 / n_features_m`` (``1.0`` for chi2), which ignores the data's
        scale (for unit-variance rbf features it is about twice ``"scale"``;
        chi2's 1.0 on normalised histograms gives a near-identity kernel); it
        stays the default so that existing models do not change. A dict
        gives one value per modality. The value used is in ``gamma_``.
    degree : float, default=3
        Degree of the poly kernel.
    coef0 : float, default=1
        Constant term of the poly kernel.
    reg : float in [0, 1), default=1e-3
        Shrinkage of the feature-space covariance toward the identity (see
        above). Without it, an rbf kernel's feature space has a dimension per
        sample and any two modalities correlate perfectly on the training data.
    scale : bool, default=False
        Whether to divide each feature by its standard deviation (on the
        training rows) before the kernel, as ``scale`` standardises features
        in :class:`CCA`; a constant feature is left unscaled. Features are
        not centred (the chi2 kernel needs non-negative ones; the rbf and
        laplacian kernels do not depend on a shift).
    n_landmarks : int or None, default=None
        Number of Nyström landmarks; None solves the exact problem. At most
        the number of samples.
    modalities : tuple of two str, default=None
        The two blocks of ``X`` to relate. None requires ``X`` to have exactly
        two blocks.
    random_state : int, RandomState instance or None, default=None
        Draws the Nyström landmarks and the rows of ``gamma="scale"`` (when
        there are more than 1,000). Pass an int for reproducible results.
    n_jobs : int, default=None
        Number of jobs for the kernel computations (joblib). None means 1
        unless in a :obj:`joblib.parallel_backend` context.
    verbose : int, default=0
        With 1, the exact solver reports each kernel matrix and
        eigendecomposition (the O(n^2) and O(n^3) steps) on stderr.

    Attributes
    ----------
    canonical_correlations_ : ndarray of shape (n_components,)
        Canonical correlations of the regularised covariance, in descending
        order; with ``reg > 0`` each is at most the correlation of the
        training variates.
    gamma_ : dict of str to float or None
        Kernel coefficient used for each modality.
    scale_ : dict of str to ndarray of shape (n_features_m,)
        Per-feature standard deviation each modality is divided by with
        ``scale=True``, else ones.
    dual_coef_ : dict of str to ndarray of shape (n_samples, n_components)
        Exact solver only: variates are the centred kernel against the
        training rows ``X_fit_`` times these coefficients.
    X_fit_ : dict of str to ndarray of shape (n_samples, n_features_m)
        Exact solver only: a copy of the training rows of each modality.
    kernel_centerers_ : dict of str to KernelCenterer
        Exact solver only: centring of each modality's kernel.
    landmark_indices_ : ndarray of shape (n_landmarks,)
        Nyström only: the training rows used as landmarks.
    nystroem_ : dict of str to Nystroem
        Nyström only: the fitted feature map of each modality.
    mean_ : dict of str to ndarray of shape (n_landmarks,)
        Nyström only: mean of each modality's Nyström features.
    weights_ : dict of str to ndarray of shape (n_landmarks, n_components)
        Nyström only: canonical directions on the centred Nyström features.
    n_components_ : int
        Width of the shared space.
    modalities_ : list of str
        The two modalities, in block order of ``X`` at fit.
    n_features_in_ : int
        Number of feature columns of the two modalities.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Their column names.
    feature_names_per_modality_ : dict of str to ndarray
        Column names of each modality.

    See Also
    --------
    CCA : Linear CCA, with ``partial_fit``.
    MCCA : Linear CCA of more than two modalities.

    References
    ----------
    Vinod, H. D. (1976). Canonical ridge and econometrics of joint production.
    Journal of Econometrics, 4(2), 147-166.

    Hardoon, D. R., Szedmak, S., & Shawe-Taylor, J. (2004). Canonical
    correlation analysis: An overview with application to learning methods.
    Neural Computation, 16(12), 2639-2664.

    Williams, C. K. I., & Seeger, M. (2001). Using the Nyström method to speed
    up kernel machines. NIPS 13.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.mapping import KernelCCA
    >>> rng = np.random.default_rng(0)
    >>> angle = rng.uniform(0, 2 * np.pi, size=(200, 1))
    >>> X = make_frame(text=np.hstack([np.cos(angle), np.sin(angle)]),
    ...                image=angle + 0.01 * rng.normal(size=(200, 1)))
    >>> kcca = KernelCCA(n_components=1, kernel="rbf", gamma=1.0, reg=0.01,
    ...                  n_landmarks=50, random_state=0).fit(X)
    >>> bool(kcca.score(X) > 0.9)
    True
    >>> list(kcca.transform(X[["image__0"]]).columns)
    ['image__kernelcca0']
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "kernel": [StrOptions(set(KERNELS)), callable, dict],
        "gamma": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"scale"}),
            dict,
            None,
        ],
        "degree": [Interval(Real, 0, None, closed="left")],
        "coef0": [Interval(Real, None, None, closed="neither")],
        "reg": [Interval(Real, 0, 1, closed="left")],
        "scale": ["boolean"],
        "n_landmarks": [Interval(Integral, 1, None, closed="left"), None],
        "modalities": [None, tuple, list],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=2,
        *,
        kernel="rbf",
        gamma=None,
        degree=3,
        coef0=1,
        reg=1e-3,
        scale=False,
        n_landmarks=None,
        modalities=None,
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.reg = reg
        self.scale = scale
        self.n_landmarks = n_landmarks
        self.modalities = modalities
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the canonical directions of the two modalities of X.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_features)
            Modality table with the two modalities (see ``modalities``).
        y : None
            Ignored.

        Returns
        -------
        self : KernelCCA
            Fitted estimator.
        """
        if is_dask_collection(X):
            return fit_from_dask(self, X)
        # Kernel matrices are formed and decomposed in float64.
        blocks = validate_paired_blocks(
            self, X, reset=True, exactly_two=True, dtype=np.float64
        )
        n_samples = X.shape[0]
        if self.n_landmarks is not None and self.n_landmarks > n_samples:
            raise ValueError(
                f"n_landmarks={self.n_landmarks} exceeds the {n_samples} training "
                "samples the landmarks are drawn from."
            )
        check_squares_finite(self, blocks)
        self.scale_ = {}
        for modality, block in blocks.items():
            std = block.std(axis=0, ddof=1, dtype=np.float64)
            mean = block.mean(axis=0, dtype=np.float64)
            self.scale_[modality] = self._feature_scale(std, mean, n_samples)
        blocks = self._set_kernels(self._scaled(blocks))
        if self.n_landmarks is None:
            solution, state = self._fit_exact(blocks)
        else:
            solution, state = self._fit_nystroem(blocks)
        return self._publish(solution, state, n_samples)

    def _feature_scale(self, std, mean, n_samples):
        """``scale_`` of one block from its column statistics."""
        constant = constant_features(std, mean, n_samples)
        return np.where(constant, 1.0, std) if self.scale else np.ones_like(std)

    def _publish(self, solution, state, n_samples):
        """Set the fitted attributes from a solution (in memory and on Dask)."""
        a, b = self.modalities_
        check_n_components(
            self,
            self.n_components,
            min(solution.rank_a, solution.rank_b),
            f"the smaller numerical rank of the regularised kernel covariances of "
            f"{a!r} ({solution.rank_a}) and {b!r} ({solution.rank_b}), after "
            f"{n_samples} samples",
        )
        k = self.n_components
        coefficients = {a: solution.weights_a[:, :k], b: solution.weights_b[:, :k]}
        state["dual_coef_" if self.n_landmarks is None else "weights_"] = coefficients
        for stale in ("X_fit_", "kernel_centerers_", "dual_coef_", "landmark_indices_",
                      "nystroem_", "mean_", "weights_"):  # fmt: skip
            self.__dict__.pop(stale, None)
        self.__dict__.update(state)
        self.n_components_ = k
        self.canonical_correlations_ = solution.correlations[:k]
        return self

    def _scaled(self, blocks):
        """The blocks divided by ``scale_`` (the blocks themselves without scale)."""
        if not self.scale:
            return blocks
        return {m: block / self.scale_[m] for m, block in blocks.items()}

    def _set_kernels(self, blocks):
        """Resolve each modality's kernel and parameters; return checked blocks.

        Each block is checked for its kernel (see :meth:`_kernel_input`)
        before ``gamma="scale"`` measures it.
        """
        self._kernel_params, self.gamma_, checked = {}, {}, {}
        n_samples = next(iter(blocks.values())).shape[0]
        rows = None
        for modality, block in blocks.items():
            kernel = _per_modality(self.kernel, modality, "kernel")
            gamma = self._gamma_of(modality)
            if isinstance(kernel, str) and kernel not in KERNELS:
                raise ValueError(
                    f"kernel for modality {modality!r} must be one of {KERNELS} or a "
                    f"callable, got {kernel!r}."
                )
            positive = isinstance(gamma, Real) and not isinstance(gamma, bool)
            if not (gamma is None or gamma == "scale" or (positive and gamma > 0)):
                raise ValueError(
                    f"gamma for modality {modality!r} must be a positive number, "
                    f"'scale' or None, got {gamma!r}."
                )
            self._kernel_params[modality] = {
                "metric": kernel, "degree": self.degree, "coef0": self.coef0,
            }  # fmt: skip
            block = self._kernel_input(modality, block)
            if callable(kernel) or kernel == "linear":
                gamma = None
            elif gamma is None:
                gamma = 1.0 if kernel == "chi2" else 1.0 / block.shape[1]
            elif gamma == "scale":
                if rows is None:
                    rows = np.arange(n_samples)
                    if n_samples > _GAMMA_SCALE_MAX_ROWS:
                        rows = np.sort(
                            check_random_state(self.random_state).choice(
                                n_samples, size=_GAMMA_SCALE_MAX_ROWS, replace=False
                            )
                        )
                gamma = _scale_gamma(kernel, block[rows], modality)
            self._kernel_params[modality]["gamma"] = gamma
            self.gamma_[modality] = gamma
            checked[modality] = block
        return checked

    def _gamma_of(self, modality):
        """The ``gamma`` parameter's value for one modality."""
        return _per_modality(self.gamma, modality, "gamma")

    def _kernel_input(self, modality, block):
        """Check a block for its kernel; chi2 needs non-negative, writeable data."""
        if self._kernel_params[modality]["metric"] != "chi2":
            return block
        if np.any(block < 0):
            row, col = np.argwhere(block < 0)[0]
            column = self.feature_names_per_modality_[modality][col]
            raise ValueError(
                f"The chi2 kernel needs non-negative features, but modality "
                f"{modality!r} has {block[row, col]} in row {row}, column {column!r}."
            )
        # scikit-learn's chi2 kernel is compiled code that rejects read-only
        # buffers, which pandas hands out under copy-on-write.
        return np.require(block, requirements="W")

    def _metric_and_params(self, modality):
        params = dict(self._kernel_params[modality])
        metric = params.pop("metric")
        return metric, ({} if callable(metric) else params)

    def _kernel(self, modality, X, Y):
        metric, params = self._metric_and_params(modality)
        return pairwise_kernels(
            X, Y, metric=metric, filter_params=True, n_jobs=self.n_jobs, **params
        )

    def _fit_exact(self, blocks):
        """Solution of the exact problem, and the state to keep.

        With ``K = U diag(l) U'`` a centred kernel, the kernel-PCA coordinates
        ``F = U diag(sqrt(l))`` have Gram matrix ``K``: a direction ``c`` on
        them has variates ``F c = K alpha`` with dual coefficients ``alpha =
        U diag(1 / sqrt(l)) c``, feature-space covariance ``c' diag(l) c /
        (n - 1)`` and squared norm ``c'c``, the objective of the class
        docstring.
        """
        n_samples = next(iter(blocks.values())).shape[0]
        progress = Progress(self, self.verbose)
        centerers, coordinates = {}, []
        for modality, block in blocks.items():
            kernel = self._kernel(modality, block, block)
            _check_finite_kernel(kernel, modality, "kernel matrix")
            progress(f"kernel {modality!r}", f"{n_samples} x {n_samples}")
            centerers[modality] = KernelCenterer().fit(kernel)
            coordinates.append(
                principal_coordinates(
                    centerers[modality].transform(kernel),
                    self.reg,
                    np.max(np.abs(kernel)),
                )
            )
            progress(
                f"eigendecomposition {modality!r}",
                f"{len(coordinates[-1][1])} non-null directions",
            )
        (U_a, l_a), (U_b, l_b) = coordinates
        c_a, c_b, correlations = cca_of_principal_coordinates(
            U_a, l_a, U_b, l_b, self.reg, n_samples, self.n_components
        )
        dual_a = U_a @ (c_a / np.sqrt(l_a)[:, None])
        dual_b = U_b @ (c_b / np.sqrt(l_b)[:, None])
        dual_a, dual_b = flip_signs(dual_a, dual_b)
        solution = CCASolution(dual_a, dual_b, correlations, len(l_a), len(l_b))
        progress("canonical pairs", f"{len(correlations)} components")
        state = {
            "X_fit_": {m: np.array(block, copy=True) for m, block in blocks.items()},
            "kernel_centerers_": centerers,
        }
        return solution, state

    def _fit_nystroem(self, blocks):
        """Solution on the Nyström features' covariance, and the state to keep."""
        n_samples = next(iter(blocks.values())).shape[0]
        landmarks = self._draw_landmarks(n_samples)
        maps = self._nystroem_maps({m: block[landmarks] for m, block in blocks.items()})
        means, features = {}, []
        for modality, block in blocks.items():
            mapped = self._nystroem_features(maps, modality, block)
            mean = mapped.mean(axis=0)
            mapped -= mean
            means[modality] = mean
            features.append(mapped)
        F_a, F_b = features
        solution = self._nystroem_solution(
            F_a.T @ F_a, F_b.T @ F_b, F_a.T @ F_b, n_samples
        )
        return solution, {
            "landmark_indices_": landmarks, "nystroem_": maps, "mean_": means,
        }  # fmt: skip

    def _draw_landmarks(self, n_samples):
        """Sorted positions of the ``n_landmarks`` training rows used as landmarks."""
        random_state = check_random_state(self.random_state)
        return np.sort(
            random_state.choice(n_samples, size=self.n_landmarks, replace=False)
        )

    def _nystroem_maps(self, landmark_blocks):
        """One fitted ``Nystroem`` map per modality, from its landmark rows."""
        maps = {}
        for modality, rows in landmark_blocks.items():
            metric, params = self._metric_and_params(modality)
            maps[modality] = Nystroem(
                kernel=metric,
                n_components=self.n_landmarks,
                random_state=0,
                n_jobs=self.n_jobs,
                **params,
            ).fit(rows)
        return maps

    def _nystroem_features(self, maps, modality, block):
        """The Nyström features of one (scaled, checked) block."""
        mapped = _batched_rows(maps[modality].transform, block, self.n_landmarks)
        _check_finite_kernel(mapped, modality, "Nystroem feature map")
        return mapped

    def _nystroem_solution(self, cross_aa, cross_bb, cross_ab, n_samples):
        """Ridge CCA of the features from their centred cross-products."""
        identity = np.eye(self.n_landmarks)
        keep = 1.0 - self.reg
        return cca_from_covariances(
            keep * cross_aa / (n_samples - 1) + self.reg * identity,
            keep * cross_bb / (n_samples - 1) + self.reg * identity,
            keep * cross_ab / (n_samples - 1),
            self.n_components,
        )

    def _embed(self, blocks):
        check_squares_finite(self, blocks)
        dtypes = {m: block.dtype for m, block in blocks.items()}
        blocks = self._scaled(
            {m: np.asarray(block, dtype=np.float64) for m, block in blocks.items()}
        )
        embeddings = {}
        for modality, block in blocks.items():
            block = self._kernel_input(modality, block)
            if hasattr(self, "dual_coef_"):
                centerer = self.kernel_centerers_[modality]
                X_fit = self.X_fit_[modality]
                coefficients = self.dual_coef_[modality]
                embeddings[modality] = _batched_rows(
                    lambda rows, m=modality, c=centerer, fit=X_fit, w=coefficients: (
                        c.transform(self._kernel(m, rows, fit)) @ w
                    ),
                    block,
                    len(X_fit),
                )
            else:
                nystroem = self.nystroem_[modality]
                embeddings[modality] = (
                    _batched_rows(
                        nystroem.transform, block, len(self.landmark_indices_)
                    )
                    - self.mean_[modality]
                ) @ self.weights_[modality]
        return {
            m: embedding.astype(dtypes[m], copy=False)
            for m, embedding in embeddings.items()
        }
