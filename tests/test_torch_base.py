"""The one torch estimator base: shared parameters, one seed, one fit path."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import ast
import inspect
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

torch = pytest.importorskip("torch")

from skcrossmodal import make_frame  # noqa: E402
from skcrossmodal._torch import (  # noqa: E402
    TRAINING_DEFAULTS,
    BaseTorchEstimator,
    fit_module,
    make_mlp,
    torch_seed,
)
from skcrossmodal.feature_extraction import CNNFeatureExtractor  # noqa: E402
from skcrossmodal.fusion import MLPFusionClassifier  # noqa: E402
from skcrossmodal.mapping import ContrastiveMapper, MLPMapper  # noqa: E402

TRAINED = [MLPMapper, ContrastiveMapper, MLPFusionClassifier]
# The one deliberate exception to TRAINING_DEFAULTS: the rows of a contrastive
# batch are each other's negatives, so a larger batch is a better default.
OVERRIDES = {ContrastiveMapper: {"batch_size": 256}}


@pytest.mark.parametrize("estimator", TRAINED, ids=lambda e: e.__name__)
def test_training_parameters_come_from_the_base(estimator):
    assert issubclass(estimator, BaseTorchEstimator)
    parameters = inspect.signature(estimator.__init__).parameters
    expected = {**TRAINING_DEFAULTS, **OVERRIDES.get(estimator, {})}
    assert {name: parameters[name].default for name in TRAINING_DEFAULTS} == expected
    for name in TRAINING_DEFAULTS:
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert name in estimator._parameter_constraints, name
    # Documented once per estimator, with the shared default.
    for name, default in expected.items():
        (line,) = [
            line
            for line in estimator.__doc__.splitlines()
            if line.startswith(f"    {name} : ")
        ]
        assert ast.literal_eval(line.split("default=")[1]) == default, line


@pytest.mark.parametrize(
    "estimator", [*TRAINED, CNNFeatureExtractor], ids=lambda e: e.__name__
)
def test_keyword_only_after_the_first_two(estimator):
    parameters = list(inspect.signature(estimator.__init__).parameters.values())[1:]
    positional = [p.name for p in parameters if p.kind is not p.KEYWORD_ONLY]
    assert len(positional) <= 2, positional


def test_glossary_names():
    for estimator in TRAINED:
        names = set(inspect.signature(estimator.__init__).parameters)
        assert {"weight_decay", "batch_size", "device", "verbose"} <= names
        assert not names & {"alpha", "num_workers", "weights"}
    names = set(inspect.signature(CNNFeatureExtractor.__init__).parameters)
    assert {"checkpoint", "n_jobs", "device", "verbose", "batch_size"} <= names
    assert not names & {"weights", "num_workers"}


def _frame(n_samples=60, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(n_samples, 4))
    return make_frame(image=image, text=np.tanh(image[:, :3]))


def _loss(module, batch):
    return ((module(batch[0]) - batch[1]) ** 2).mean()


def test_the_estimator_fit_is_the_one_seeded_path():
    # MLPMapper's fit is: one seed from random_state, the network built and
    # trained inside torch_seed, fit_module with that seed. Reproduce it by hand.
    X = _frame()
    params = dict(
        hidden_layer_sizes=(8,),
        dropout=0.3,
        max_iter=6,
        batch_size=16,
        early_stopping=True,
        random_state=3,
        device="cpu",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mapper = MLPMapper("image", "text", **params).fit(X)
        source = mapper.source_scaler_.transform(X.iloc[:, :4].to_numpy())
        target = (X.iloc[:, 4:].to_numpy() - mapper.target_mean_) / mapper.target_scale_
        with torch_seed(3) as seed:
            net = make_mlp(4, (8,), 3, dropout=0.3)
            history = fit_module(
                net,
                _loss,
                (source, target),
                seed=seed,
                max_iter=6,
                batch_size=16,
                weight_decay=1e-4,
                early_stopping=True,
                device="cpu",
            )
    for ours, reference in zip(
        mapper.module_.parameters(), net.parameters(), strict=True
    ):
        assert torch.equal(ours, reference)
    assert mapper.loss_curve_ == history["train_loss"]
    assert mapper.validation_loss_curve_ == history["validation_loss"]
    assert (mapper.best_epoch_, mapper.best_loss_) == (
        history["best_epoch"],
        history["best_loss"],
    )
    assert mapper.n_iter_ == history["n_iter"] == 6


@pytest.mark.parametrize(
    "random_state", [0, np.random.RandomState(0)], ids=["int", "RandomState"]
)
def test_an_int_and_its_random_state_give_the_same_fit(random_state):
    X = _frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = MLPMapper(
            "image", "text", hidden_layer_sizes=(8,), max_iter=3, random_state=0
        ).fit(X)
        mapper = MLPMapper(
            "image",
            "text",
            hidden_layer_sizes=(8,),
            max_iter=3,
            random_state=random_state,
        ).fit(X)
    np.testing.assert_array_equal(mapper.transform(X), reference.transform(X))


@pytest.mark.parametrize("estimator", TRAINED, ids=lambda e: e.__name__)
def test_modules_are_nn_modules_with_forward(estimator):
    rng = np.random.default_rng(0)
    X = _frame()
    y = rng.integers(0, 2, 60)
    kwargs = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if estimator is MLPMapper:
            fitted = MLPMapper("image", "text", **kwargs).fit(X)
        elif estimator is ContrastiveMapper:
            fitted = ContrastiveMapper(n_components=3, batch_size=32, **kwargs).fit(X)
        else:
            fitted = MLPFusionClassifier(**kwargs).fit(X, y)
    module = fitted.module_
    assert isinstance(module, torch.nn.Module)
    assert type(module).forward is not torch.nn.Module.forward
    blocks = [torch.zeros(5, 4), torch.zeros(5, 3)]
    with torch.no_grad():
        if estimator is MLPMapper:
            assert module(blocks[0]).shape == (5, 3)
        elif estimator is ContrastiveMapper:
            assert [e.shape for e in module(*blocks)] == [(5, 3), (5, 3)]
        else:
            assert module(*blocks, torch.ones(5, 2)).shape == (5, 2)


def test_tags():
    assert MLPFusionClassifier().__sklearn_tags__().target_tags.required
    assert not MLPMapper("a", "b").__sklearn_tags__().target_tags.required
    assert not ContrastiveMapper().__sklearn_tags__().target_tags.required
    for estimator in (MLPFusionClassifier(), MLPMapper("a", "b"), ContrastiveMapper()):
        assert not estimator.__sklearn_tags__().non_deterministic
    assert not CNNFeatureExtractor().__sklearn_tags__().input_tags.two_d_array


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_optimizer_is_a_parameter(optimizer):
    X = _frame(n_samples=80)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mapper = MLPMapper(
            "image",
            "text",
            hidden_layer_sizes=(8,),
            optimizer=optimizer,
            learning_rate=1e-2,
            max_iter=20,
            early_stopping=False,
            random_state=0,
        ).fit(X)
    assert mapper.loss_curve_[-1] < mapper.loss_curve_[0]


def test_invalid_training_parameters_are_refused_by_name():
    from sklearn.utils._param_validation import InvalidParameterError

    X = _frame()
    for params, name in [
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"batch_size": 0}, "batch_size"),
    ]:
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
            MLPMapper("image", "text", **params).fit(X)
