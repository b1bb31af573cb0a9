"""Tests of the shared torch training and inference loop (skcrossmodal._torch)."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import functools
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

torch = pytest.importorskip("torch")

from _tolerance import FLOAT32  # noqa: E402

from skcrossmodal._estimator import Progress  # noqa: E402
from skcrossmodal._torch import (  # noqa: E402
    EarlyStopping,
    check_hidden_layer_sizes,
    fit_loop,
    fit_module,
    iter_batches,
    make_mlp,
    make_optimizer,
    predict_batches,
    run_epoch,
    torch_seed,
    train_step,
)


class Probe:
    """Stands for an estimator in Progress messages."""


def _seeded_mlp(random_state, *args, **kwargs):
    with torch_seed(random_state):
        return make_mlp(*args, **kwargs)


def _predict(net, tensors, batch_size=1024, names=None, **kwargs):
    return predict_batches(
        net, iter_batches(tensors, batch_size, names), device="cpu", **kwargs
    )


def _mse(module, batch):
    return ((module(batch[0]) - batch[1]) ** 2).mean()


def _regression_data(n_samples=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 3))
    y = (
        X @ np.array([[1.5], [-2.0], [0.5]])
        + 0.3
        + 0.01 * rng.normal(size=(n_samples, 1))
    )
    return X, y


def _weights(module):
    return [p.detach().clone() for p in module.parameters()]


def _fit(random_state=0, **params):
    X, y = _regression_data()
    kwargs = dict(max_iter=5, batch_size=16, device="cpu")
    kwargs.update(params)
    with warnings.catch_warnings(), torch_seed(random_state) as seed:
        warnings.simplefilter("ignore", ConvergenceWarning)
        net = make_mlp(3, (8,), 1)
        history = fit_module(net, _mse, (X, y), seed=seed, **kwargs)
    return net, history


def test_make_mlp_layers():
    net = make_mlp(4, (8, 6), 2, activation="tanh", dropout=0.5)
    kinds = [type(layer).__name__ for layer in net]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert (net[0].in_features, net[0].out_features) == (4, 8)
    assert (net[-1].in_features, net[-1].out_features) == (6, 2)

    encoder = make_mlp(4, (8,), None)
    assert [type(layer).__name__ for layer in encoder] == ["Linear", "ReLU"]
    linear = make_mlp(4, (), 3)
    assert len(linear) == 1 and linear[0].out_features == 3


def test_make_mlp_is_seeded_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a = _seeded_mlp(3, 5, (7,), 2)
    assert torch.equal(torch.get_rng_state(), state)
    b = _seeded_mlp(3, 5, (7,), 2)
    c = _seeded_mlp(4, 5, (7,), 2)
    for pa, pb in zip(_weights(a), _weights(b), strict=True):
        assert torch.equal(pa, pb)
    assert not torch.equal(a[0].weight, c[0].weight)


def test_make_mlp_errors():
    with pytest.raises(ValueError, match="out_features or at least one hidden layer"):
        make_mlp(3, (), None)
    with pytest.raises(ValueError, match="positive integers"):
        check_hidden_layer_sizes((4, 0))
    with pytest.raises(ValueError, match="activation must be one of"):
        make_mlp(3, (4,), 1, activation="swish")
    assert check_hidden_layer_sizes(5) == (5,)


def test_torch_seed_restores_global_state():
    before = torch.get_rng_state()
    with torch_seed(0) as seed:
        first = torch.rand(3)
    assert torch.equal(torch.get_rng_state(), before)
    with torch_seed(0) as same_seed:
        second = torch.rand(3)
    assert seed == same_seed
    assert torch.equal(first, second)
    # The seed is scikit-learn's first draw from random_state, so an int and
    # the RandomState it stands for give the same fit.
    expected = int(np.random.RandomState(0).randint(0, 2**31 - 1))
    with torch_seed(np.random.RandomState(0)) as from_instance:
        third = torch.rand(3)
    assert seed == from_instance == expected
    assert torch.equal(first, third)
    # The global generator draws as if seeded by hand with that seed.
    assert torch.equal(
        first, torch.rand(3, generator=torch.Generator().manual_seed(expected))
    )


def test_fit_module_matches_least_squares():
    # A linear module trained to convergence must land on the closed form.
    X, y = _regression_data(n_samples=48)
    net = _seeded_mlp(0, 3, (), 1)
    history = fit_module(
        net,
        _mse,
        (X, y),
        seed=0,
        max_iter=2000,
        batch_size=48,
        learning_rate=0.1,
        optimizer="sgd",
        tol=1e-10,
        n_iter_no_change=20,
        device="cpu",
    )
    design = np.hstack([X, np.ones((len(X), 1))])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    fitted = np.concatenate(
        [net[0].weight.detach().numpy().ravel(), net[0].bias.detach().numpy()]
    )
    np.testing.assert_allclose(fitted, coef.ravel(), atol=1e-3)
    assert history["stopped_early"]
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_fit_module_deterministic_for_a_seed():
    net_a, history_a = _fit(0)
    net_b, history_b = _fit(0)
    net_c, _ = _fit(1)
    for pa, pb in zip(_weights(net_a), _weights(net_b), strict=True):
        assert torch.equal(pa, pb)
    assert history_a["train_loss"] == history_b["train_loss"]
    assert any(
        not torch.equal(pa, pc)
        for pa, pc in zip(_weights(net_a), _weights(net_c), strict=True)
    )


def test_fit_module_dropout_is_deterministic_and_global_rng_untouched():
    X, y = _regression_data()
    state = torch.get_rng_state()
    weights = []
    for _ in range(2):
        with warnings.catch_warnings(), torch_seed(0) as seed:
            warnings.simplefilter("ignore", ConvergenceWarning)
            net = make_mlp(3, (16,), 1, dropout=0.5)
            fit_module(net, _mse, (X, y), seed=seed, max_iter=3, device="cpu")
        weights.append(_weights(net))
    assert torch.equal(torch.get_rng_state(), state)
    for pa, pb in zip(*weights, strict=True):
        assert torch.equal(pa, pb)


def test_early_stopping_restores_best_epoch():
    # tol is so large that no epoch counts as an improvement: training stops
    # after n_iter_no_change epochs and keeps the epoch of lowest validation loss.
    params = dict(
        early_stopping=True, validation_fraction=0.25, learning_rate=0.2, max_iter=50
    )
    net, history = _fit(0, tol=1e3, n_iter_no_change=4, **params)
    assert history["stopped_early"]
    # The first epoch improves on nothing; then 4 epochs without improvement.
    assert history["n_iter"] == 5
    validation = history["validation_loss"]
    assert len(validation) == len(history["train_loss"]) == 5
    best = int(np.argmin(validation)) + 1
    assert history["best_epoch"] == best
    assert history["best_loss"] == min(validation)
    # Re-running the same seeded trajectory up to the best epoch gives the
    # restored weights.
    reference, _ = _fit(
        0, tol=0.0, n_iter_no_change=100, **{**params, "max_iter": best}
    )
    for restored, expected in zip(_weights(net), _weights(reference), strict=True):
        assert torch.equal(restored, expected)


def test_training_loss_monitored_without_early_stopping():
    _, history = _fit(0, tol=1e3, n_iter_no_change=3, max_iter=100)
    assert history["validation_loss"] is None
    assert history["stopped_early"]
    assert history["n_iter"] == 4


def test_convergence_warning_when_max_iter_reached():
    X, y = _regression_data()
    net = _seeded_mlp(0, 3, (4,), 1)
    with pytest.warns(ConvergenceWarning, match="maximum iterations \\(2\\)"):
        history = fit_module(net, _mse, (X, y), seed=0, max_iter=2, device="cpu")
    assert history["n_iter"] == 2 and not history["stopped_early"]


def test_weight_decay_spares_biases():
    X, y = _regression_data()
    net = _seeded_mlp(0, 3, (), 1)
    weight, bias = net[0].weight.detach().clone(), net[0].bias.detach().clone()

    def no_gradient(module, batch):
        return 0.0 * module(batch[0]).sum()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit_module(
            net,
            no_gradient,
            (X, y),
            seed=0,
            max_iter=3,
            weight_decay=1.0,
            optimizer="adamw",
            device="cpu",
        )
    assert torch.equal(net[0].bias.detach(), bias)
    assert torch.all(net[0].weight.detach().abs() < weight.abs())


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_optimizers_reduce_the_loss(optimizer):
    _, history = _fit(0, optimizer=optimizer, max_iter=10, learning_rate=0.01)
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_stratified_validation_split_and_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    labels = np.repeat([0, 1], 10)
    seen = []

    def loss_fn(module, batch):
        features, y = batch
        assert y.dtype == torch.int64 and features.dtype == torch.float32
        if not module.training:
            seen.append(y.numpy().copy())
        return torch.nn.functional.cross_entropy(module(features), y)

    net = _seeded_mlp(0, 2, (4,), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit_module(
            net,
            loss_fn,
            (X, labels),
            seed=0,
            max_iter=1,
            early_stopping=True,
            validation_fraction=0.2,
            stratify=labels,
            device="cpu",
        )
    assert np.bincount(np.concatenate(seen)).tolist() == [2, 2]


def test_verbose_prints_epochs(capsys):
    import re

    _, history = _fit(0, progress=Progress(Probe(), 1), max_iter=2, early_stopping=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 2
    for epoch, line in enumerate(lines, start=1):
        match = re.fullmatch(
            rf"\[Probe\] epoch {epoch}/2: loss (\S+), val (\S+) \(\S+ s\)", line
        )
        assert match, line
        assert float(match[1]) == pytest.approx(
            history["train_loss"][epoch - 1], rel=1e-3
        )
        assert float(match[2]) == pytest.approx(
            history["validation_loss"][epoch - 1], rel=1e-3
        )
    _fit(0, progress=Progress(Probe(), 1), max_iter=50, tol=1e3, n_iter_no_change=2)
    last = capsys.readouterr().err.splitlines()[-1]
    assert re.fullmatch(
        r"\[Probe\] early stopping: no improvement of at least tol=1000.0 in 2 "
        r"epochs; keeping epoch \d \(\S+ s\)",
        last,
    ), last
    _fit(0, progress=Progress(Probe(), 0), max_iter=2)
    assert capsys.readouterr().err == ""


def test_fit_module_errors():
    X, y = _regression_data(n_samples=8)
    net = make_mlp(3, (4,), 1)
    fit = functools.partial(fit_module, seed=0)
    with pytest.raises(ValueError, match="same number of rows"):
        fit(net, _mse, (X, y[:5]), device="cpu")
    with pytest.raises(ValueError, match="too few to hold out"):
        fit(
            net,
            _mse,
            (X[:2], y[:2]),
            early_stopping=True,
            min_samples_per_split=2,
            device="cpu",
        )
    with pytest.raises(ValueError, match="needs at least 3 samples"):
        fit(net, _mse, (X[:2], y[:2]), min_samples_per_split=3, device="cpu")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        fit(net, _mse, (X, y), optimizer="lbfgs", device="cpu")
    with pytest.raises(ValueError, match="device must be"):
        fit(net, _mse, (X, y), device="quantum")
    with pytest.raises(ValueError, match="training loss became nan at epoch 1"):
        fit(net, lambda m, b: m(b[0]).sum() * float("nan"), (X, y), device="cpu")
    with pytest.raises(TypeError, match="numeric arrays"):
        fit(net, _mse, (X.astype(str), y), device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_requested_without_cuda():
    X, y = _regression_data(n_samples=8)
    with pytest.raises(ValueError, match="CUDA is not available"):
        fit_module(make_mlp(3, (4,), 1), _mse, (X, y), seed=0, device="cuda")


def test_predict_batches_matches_a_single_forward():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(37, 3))
    net = _seeded_mlp(0, 3, (5,), 2, dropout=0.5)
    net.train()
    expected = net.eval()(torch.as_tensor(X, dtype=torch.float32)).detach().numpy()
    net.train()
    output = _predict(net, (X,), batch_size=8)
    assert isinstance(output, np.ndarray) and output.shape == (37, 2)
    np.testing.assert_allclose(output, expected, **FLOAT32)
    assert net.training  # training mode restored
    assert next(net.parameters()).device.type == "cpu"

    doubled = _predict(net, (X, X), batch_size=10, forward=lambda m, a, b: m(a) + m(b))
    np.testing.assert_allclose(doubled, 2 * expected, rtol=1e-5, atol=1e-5)
    assert _predict(net, (X[:0],)).shape == (0, 2)


def test_predict_batches_reports_batches(capsys):
    import re

    X = np.zeros((10, 3))
    net = make_mlp(3, (), 2)
    _predict(net, (X,), batch_size=4, progress=Progress(Probe(), 1), n_batches=3)
    lines = capsys.readouterr().err.splitlines()
    done = [4, 8, 10]
    for k, line in enumerate(lines):
        assert re.fullmatch(
            rf"\[Probe\] batch {k + 1}/3: {done[k]} rows, \S+ rows/s \(\S+ s\)", line
        ), line
    assert len(lines) == 3


def test_early_stopping_follows_the_mlp_rule():
    # The rule of scikit-learn's MLP (_update_no_improvement_count), written out:
    # a loss above best - tol counts against patience, the best loss is kept.
    rng = np.random.default_rng(0)
    net = make_mlp(2, (), 1)
    for _ in range(20):
        losses = np.cumsum(rng.normal(-0.05, 0.1, size=30)) + 5
        patience, tol = int(rng.integers(1, 5)), float(rng.uniform(0, 0.1))
        stopping = EarlyStopping(patience, tol)
        best, count, expected_stop = np.inf, 0, None
        for epoch, loss in enumerate(losses, start=1):
            count = count + 1 if loss > best - tol else 0
            best = min(best, loss)
            if count >= patience:
                expected_stop = epoch
                break
        for epoch, loss in enumerate(losses, start=1):
            if stopping(epoch, float(loss), net):
                break
        assert (epoch if stopping.stopped else None) == expected_stop
        seen = losses[:epoch]
        assert stopping.best_loss == seen.min()
        assert stopping.best_epoch == int(np.argmin(seen)) + 1


def test_early_stopping_restores_the_best_weights_only_when_asked():
    net = make_mlp(2, (), 1)
    best = _weights(net)
    for restore_best in (True, False):
        stopping = EarlyStopping(patience=1, tol=0.0, restore_best=restore_best)
        with torch.no_grad():
            net[0].weight.copy_(best[0])
        stopping(1, 0.5, net)
        with torch.no_grad():
            net[0].weight.add_(1.0)
        stopping(2, 0.7, net)
        stopping.restore(net)
        changed = not torch.equal(net[0].weight, best[0])
        assert changed is not restore_best


def test_the_loop_is_fit_loop_run_epoch_train_step():
    # The split loop against a hand-written one: same steps, same weights.
    X, y = _regression_data(n_samples=40)
    tensors = (
        torch.as_tensor(X, dtype=torch.float32),
        torch.as_tensor(y, dtype=torch.float32),
    )
    net = _seeded_mlp(0, 3, (6,), 1)
    reference = _seeded_mlp(0, 3, (6,), 1)
    optimizer = make_optimizer("sgd", net, 0.01, 0.0)
    reference_optimizer = torch.optim.SGD(
        reference.parameters(), lr=0.01, momentum=0.9, nesterov=True
    )
    generator = torch.Generator().manual_seed(5)
    reference_generator = torch.Generator().manual_seed(5)

    loss = train_step(net, _mse, optimizer, tensors)
    expected = _mse(reference, tensors)
    reference_optimizer.zero_grad()
    expected.backward()
    reference_optimizer.step()
    assert float(loss) == pytest.approx(float(expected.detach()))
    for a, b in zip(_weights(net), _weights(reference), strict=True):
        assert torch.equal(a, b)

    mean = run_epoch(net, _mse, optimizer, tensors, batch_size=16, generator=generator)
    order = torch.randperm(40, generator=reference_generator)
    total = 0.0
    for start in range(0, 40, 16):
        rows = order[start : start + 16]
        batch_loss = _mse(reference, (tensors[0][rows], tensors[1][rows]))
        reference_optimizer.zero_grad()
        batch_loss.backward()
        reference_optimizer.step()
        total += float(batch_loss) * len(rows)
    assert mean == pytest.approx(total / 40, rel=1e-6)
    for a, b in zip(_weights(net), _weights(reference), strict=True):
        assert torch.equal(a, b)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        history = fit_loop(
            net,
            _mse,
            optimizer,
            tensors,
            max_iter=3,
            batch_size=16,
            generator=generator,
            early_stopping=EarlyStopping(10, 0.0),
        )
    assert history["n_iter"] == 3 and history["validation_loss"] is None
    assert history["best_epoch"] == int(np.argmin(history["train_loss"])) + 1


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("lbfgs", make_mlp(2, (), 1), 0.1, 0.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fit_module_on_cuda_matches_cpu_quality():
    X, y = _regression_data()
    losses = {}
    for device in ("cpu", "cuda"):
        net = _seeded_mlp(0, 3, (8,), 1)
        history = fit_module(
            net,
            _mse,
            (X, y),
            seed=0,
            max_iter=200,
            learning_rate=0.01,
            device=device,
        )
        assert history["device"].startswith(device)
        assert next(net.parameters()).device.type == "cpu"
        losses[device] = history["best_loss"]
    assert losses["cuda"] < 10 * losses["cpu"] + 1e-3


def test_values_beyond_float32_are_refused_before_training_or_inference():
    X, y = _regression_data(n_samples=16)
    huge = X.copy()
    huge[5, 2] = -1e300  # finite float64, infinite in float32
    net = _seeded_mlp(0, 3, (4,), 1)
    before = _weights(net)
    message = r"Modality 'image' has the value -1e\+300 at row 5, beyond float32"
    with pytest.raises(ValueError, match=message):
        fit_module(
            net, _mse, (huge, y), seed=0, names=("Modality 'image'", "y"), device="cpu"
        )
    for old, new in zip(before, _weights(net), strict=True):  # refused before any step
        assert torch.equal(old, new)
    with pytest.raises(ValueError, match=message):
        _predict(net, (huge,), names=("Modality 'image'",))
    # Unnamed, the array is still refused (it used to give NaN outputs).
    with pytest.raises(
        ValueError, match=r"An input array has the value -1e\+300 at row 5"
    ):
        _predict(net, (huge,))
    with pytest.raises(ValueError, match=r"non-finite value \(nan\) at row 0"):
        _predict(net, (np.full((2, 3), np.nan),))
    with pytest.raises(
        ValueError, match="names must name each of the 2 tensors, got 1"
    ):
        fit_module(net, _mse, (X, y), seed=0, names=("X",), device="cpu")
    # The largest float32 itself is fine.
    edge = np.full((1, 3), np.finfo(np.float32).max, dtype=np.float64)
    assert _predict(net, (edge,)).shape == (1, 1)


def test_stratified_early_stopping_needs_every_class_on_both_sides():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    labels = np.arange(20) % 3
    net = _seeded_mlp(0, 2, (4,), 3)

    def loss_fn(module, batch):
        return torch.nn.functional.cross_entropy(module(batch[0]), batch[1])

    def fit(**params):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return fit_module(
                net,
                loss_fn,
                (X, labels),
                seed=0,
                max_iter=1,
                early_stopping=True,
                device="cpu",
                name="Probe",
                **params,
            )

    # 2 held-out rows cannot hold 3 classes: scikit-learn's own message was
    # "The test_size = 2 should be greater or equal to the number of classes = 3".
    message = (
        r"Probe has 20 samples of 3 classes: too few to hold out "
        r"validation_fraction=0.1 \(2 samples\)"
    )
    with pytest.raises(ValueError, match=message):
        fit(validation_fraction=0.1, stratify=labels)
    lonely = labels.copy()
    lonely[0] = 3  # a class of one row cannot be on both sides
    with pytest.raises(ValueError, match="the rarest class has 1"):
        fit(validation_fraction=0.5, stratify=lonely)
    assert fit(validation_fraction=0.2, stratify=labels)["n_iter"] == 1
