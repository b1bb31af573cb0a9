"""Tests of the neural mappers: MLPMapper and ContrastiveMapper."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import cross_val_score

torch = pytest.importorskip("torch")

from _tolerance import FLOAT32  # noqa: E402

from skcrossmodal import make_frame  # noqa: E402
from skcrossmodal._nn import symmetric_info_nce as _symmetric_info_nce  # noqa: E402
from skcrossmodal.mapping import ContrastiveMapper, MLPMapper  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _sine_data(n_samples=300, seed=0):
    """target = sin(source @ W): a smooth map that no linear model captures."""
    rng = np.random.default_rng(seed)
    source = rng.normal(size=(n_samples, 5))
    target = np.sin(source @ rng.normal(size=(5, 3)))
    return make_frame(image=source, text=target)


def _paired_data(n_samples=200, seed=0):
    """Two nonlinear, noisy views of one latent variable per row."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_samples, 8))
    image = np.tanh(latent @ rng.normal(size=(8, 20)))
    text = (latent @ rng.normal(size=(8, 12))) ** 2
    image += 0.05 * rng.normal(size=image.shape)
    text += 0.05 * rng.normal(size=text.shape)
    return make_frame(image=image, text=text)


def _small_mlp(**params):
    defaults = dict(hidden_layer_sizes=(16,), max_iter=5, batch_size=32, random_state=0)
    return MLPMapper("image", "text", **{**defaults, **params})


def _small_contrastive(**params):
    defaults = dict(
        n_components=4,
        hidden_layer_sizes=(16,),
        max_iter=5,
        batch_size=32,
        random_state=0,
    )
    return ContrastiveMapper(**{**defaults, **params})


# --------------------------------------------------------------------------- #
# MLPMapper
# --------------------------------------------------------------------------- #


def test_mlp_mapper_learns_a_nonlinear_map_better_than_ridge():
    X = _sine_data(n_samples=300)
    train, test = X.iloc[:240], X.iloc[240:]
    mapper = MLPMapper(
        "image",
        "text",
        hidden_layer_sizes=(64,),
        learning_rate=1e-2,
        max_iter=80,
        batch_size=32,
        random_state=0,
    ).fit(train)
    mlp_r2 = mapper.score(test)
    source = [c for c in X.columns if c.startswith("image__")]
    target = [c for c in X.columns if c.startswith("text__")]
    ridge = Ridge(alpha=1.0).fit(train[source], train[target])
    ridge_r2 = r2_score(test[target], ridge.predict(test[source]))
    # score is R² of the predicted target block, computed independently here.
    predicted = mapper.transform(test[source]).to_numpy()
    assert mlp_r2 == pytest.approx(r2_score(test[target], predicted))
    assert mlp_r2 > 0.5
    assert mlp_r2 > ridge_r2 + 0.4
    assert mapper.loss_curve_[-1] < mapper.loss_curve_[0]


def test_linear_mlp_mapper_matches_least_squares():
    # No hidden layer, no penalty, trained to convergence: ordinary least squares.
    rng = np.random.default_rng(0)
    source = rng.normal(size=(80, 4)) * [1.0, 5.0, 0.2, 2.0] + 3.0
    target = source @ rng.normal(size=(4, 2)) + rng.normal(size=(80, 2))
    X = make_frame(image=source, text=target)
    mapper = MLPMapper(
        "image",
        "text",
        hidden_layer_sizes=(),
        weight_decay=0.0,
        batch_size=80,
        learning_rate=0.05,
        max_iter=2000,
        tol=1e-9,
        n_iter_no_change=30,
        early_stopping=False,
        random_state=0,
    ).fit(X)
    predicted = mapper.transform(X[[c for c in X.columns if c.startswith("image")]])
    expected = LinearRegression().fit(source, target).predict(source)
    np.testing.assert_allclose(predicted.to_numpy(), expected, atol=5e-3)


def test_mlp_mapper_shared_space_contract():
    X = _sine_data(n_samples=60)
    mapper = _small_mlp().fit(X)
    assert mapper.modalities_ == ["image", "text"]
    assert mapper.n_features_in_ == 8 and mapper.n_components_ == 3
    Z = mapper.transform(X)
    names = [f"{m}__mlpmapper{k}" for m in ("image", "text") for k in range(3)]
    assert list(Z.columns) == names
    assert list(mapper.get_feature_names_out()) == names
    assert Z.index.equals(X.index)
    # The target block passes through unchanged: the target's feature space.
    np.testing.assert_array_equal(Z.iloc[:, 3:].to_numpy(), X.iloc[:, 5:].to_numpy())

    # Absent modality: each block alone gives the same rows as in the full output.
    image_only = mapper.transform(X.iloc[:, :5])
    text_only = mapper.transform(X.iloc[:, 5:])
    assert list(image_only.columns) == names[:3]
    assert list(text_only.columns) == names[3:]
    np.testing.assert_allclose(
        image_only.to_numpy(), Z.iloc[:, :3].to_numpy(), **FLOAT32
    )
    np.testing.assert_allclose(
        text_only.to_numpy(), Z.iloc[:, 3:].to_numpy(), **FLOAT32
    )


def test_mlp_mapper_cosine_loss():
    X = _sine_data(n_samples=200)
    mapper = MLPMapper(
        "image",
        "text",
        loss="cosine",
        hidden_layer_sizes=(32,),
        learning_rate=1e-2,
        max_iter=40,
        random_state=0,
    ).fit(X)
    assert mapper.target_scale_ == 1.0 and not mapper.target_mean_.any()
    predicted = mapper.transform(X.iloc[:, :5]).to_numpy()
    target = X.iloc[:, 5:].to_numpy()
    cosines = np.sum(predicted * target, axis=1) / (
        np.linalg.norm(predicted, axis=1) * np.linalg.norm(target, axis=1)
    )
    assert mapper.score(X) == pytest.approx(cosines.mean())
    assert mapper.score(X) > 0.7


def test_mlp_mapper_is_deterministic_for_a_seed():
    X = _sine_data(n_samples=80)
    a = _small_mlp(dropout=0.2).fit(X).transform(X)
    b = _small_mlp(dropout=0.2).fit(X).transform(X)
    c = _small_mlp(dropout=0.2, random_state=1).fit(X).transform(X)
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert not np.allclose(a.iloc[:, :3].to_numpy(), c.iloc[:, :3].to_numpy())


def test_early_stopping_triggers_and_keeps_the_best_epoch():
    X = _sine_data(n_samples=100)
    mapper = _small_mlp(
        max_iter=500,
        n_iter_no_change=3,
        tol=1.0,
        early_stopping=True,
        validation_fraction=0.2,
    ).fit(X)
    assert mapper.n_iter_ == 4  # the first epoch, then 3 without improvement
    assert len(mapper.validation_loss_curve_) == len(mapper.loss_curve_) == 4
    assert mapper.best_epoch_ == int(np.argmin(mapper.validation_loss_curve_)) + 1
    assert mapper.best_loss_ == min(mapper.validation_loss_curve_)

    no_validation = _small_mlp(early_stopping=False, max_iter=3).fit(X)
    assert no_validation.validation_loss_curve_ is None
    assert no_validation.n_iter_ == 3


def test_verbose_prints_progress(capsys):
    import re

    mapper = _small_mlp(max_iter=2, verbose=1).fit(_sine_data(n_samples=40))
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    # The glossary's format: [ClassName] <step>: <what> (<seconds> s).
    number = r"[0-9.e+-]+"
    for epoch, line in enumerate(lines, start=1):
        assert re.fullmatch(
            rf"\[MLPMapper\] epoch {epoch}/2: loss {number}, val {number} \({number} s\)",
            line,
        ), line
        loss, val = map(float, re.findall(r"(?:loss|val) ([0-9.e+-]+)", line))
        assert loss == pytest.approx(mapper.loss_curve_[epoch - 1], rel=1e-3)
        assert val == pytest.approx(mapper.validation_loss_curve_[epoch - 1], rel=1e-3)
    assert len(lines) == 2
    # verbose=2 adds one line per inference batch of transform.
    mapper.set_params(verbose=2).transform(_sine_data(n_samples=40))
    assert re.fullmatch(
        rf"\[MLPMapper\] batch 1/1: 40 rows, {number} rows/s \({number} s\)",
        capsys.readouterr().err.strip(),
    )


# --------------------------------------------------------------------------- #
# ContrastiveMapper
# --------------------------------------------------------------------------- #


def test_info_nce_matches_a_numpy_computation():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 5))

    def log_softmax(a):
        a = a - a.max(axis=1, keepdims=True)
        return a - np.log(np.exp(a).sum(axis=1, keepdims=True))

    expected = (
        -(np.diag(log_softmax(logits)).mean() + np.diag(log_softmax(logits.T)).mean())
        / 2
    )
    got = _symmetric_info_nce(torch.as_tensor(logits), None)
    assert float(got) == pytest.approx(expected, rel=1e-12)
    # Unique labels: the supervised loss is CLIP's loss.
    unique = torch.arange(5)
    identity = unique[:, None] == unique[None, :]
    assert float(
        _symmetric_info_nce(torch.as_tensor(logits), identity)
    ) == pytest.approx(expected, rel=1e-12)
    # Shared labels: each row averages -log p over its positives.
    labels = np.array([0, 0, 1, 1, 1])
    positives = labels[:, None] == labels[None, :]
    rows = -(log_softmax(logits) * positives).sum(1) / positives.sum(1)
    columns = -(log_softmax(logits.T) * positives.T).sum(1) / positives.T.sum(1)
    got = _symmetric_info_nce(torch.as_tensor(logits), torch.as_tensor(positives))
    assert float(got) == pytest.approx((rows.mean() + columns.mean()) / 2, rel=1e-12)


def test_contrastive_mapper_retrieves_its_own_pairs():
    X = _paired_data(n_samples=300)
    train, test = X.iloc[:200], X.iloc[200:]
    mapper = ContrastiveMapper(
        n_components=16,
        hidden_layer_sizes=(64,),
        temperature=0.1,
        batch_size=64,
        learning_rate=3e-3,
        max_iter=40,
        random_state=0,
    ).fit(train)
    assert mapper.loss_curve_[-1] < mapper.loss_curve_[0]
    # Instance-level recall@1, computed here by brute force over the test rows.
    Z = mapper.transform(test)
    image, text = Z.iloc[:, :16].to_numpy(), Z.iloc[:, 16:].to_numpy()
    hits_i2t = np.mean(np.argmax(image @ text.T, axis=1) == np.arange(100))
    hits_t2i = np.mean(np.argmax(text @ image.T, axis=1) == np.arange(100))
    assert mapper.score(test) == pytest.approx((hits_i2t + hits_t2i) / 2)
    chance = 1 / 100
    assert mapper.score(test) > 15 * chance


def test_contrastive_mapper_shared_space_contract():
    X = _paired_data(n_samples=64)
    mapper = _small_contrastive().fit(X)
    assert mapper.modalities_ == ["image", "text"]
    assert mapper.n_components_ == 4 and mapper.n_features_in_ == 32
    Z = mapper.transform(X)
    names = [f"{m}__contrastivemapper{k}" for m in ("image", "text") for k in range(4)]
    assert list(Z.columns) == names
    assert list(mapper.get_feature_names_out()) == names
    for start in (0, 4):
        np.testing.assert_allclose(
            np.linalg.norm(Z.iloc[:, start : start + 4], axis=1), 1.0, **FLOAT32
        )
    text_only = mapper.transform(X.iloc[:, 20:])
    assert list(text_only.columns) == names[4:]
    np.testing.assert_allclose(
        text_only.to_numpy(), Z.iloc[:, 4:].to_numpy(), **FLOAT32
    )
    with pytest.raises(ValueError, match="needs at least two blocks"):
        mapper.score(X.iloc[:, 20:])


def test_contrastive_mapper_is_deterministic_for_a_seed():
    X = _paired_data(n_samples=64)
    a = _small_contrastive().fit(X).transform(X).to_numpy()
    b = _small_contrastive().fit(X).transform(X).to_numpy()
    c = _small_contrastive(random_state=1).fit(X).transform(X).to_numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_supervised_contrastive_groups_classes_across_modalities():
    # Image and text noise are independent: only the class links the two views.
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 40)
    image = rng.normal(size=(4, 10))[y] + 0.5 * rng.normal(size=(160, 10))
    text = rng.normal(size=(4, 6))[y] + 0.5 * rng.normal(size=(160, 6))
    X = make_frame(image=image, text=text)
    train = np.arange(160) % 4 != 0
    mapper = ContrastiveMapper(
        n_components=8,
        hidden_layer_sizes=(32,),
        supervised=True,
        batch_size=64,
        learning_rate=3e-3,
        max_iter=30,
        random_state=0,
    ).fit(X[train], y[train])
    Z = mapper.transform(X[~train])
    image_z, text_z = Z.iloc[:, :8].to_numpy(), Z.iloc[:, 8:].to_numpy()
    nearest = np.argmax(image_z @ text_z.T, axis=1)
    assert np.mean(y[~train][nearest] == y[~train]) > 0.8  # chance: 0.25


def test_learned_temperature_and_three_modalities():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(96, 4))
    X = make_frame(
        image=latent @ rng.normal(size=(4, 6)),
        text=latent @ rng.normal(size=(4, 5)),
        audio=np.tanh(latent @ rng.normal(size=(4, 7))),
    )
    mapper = _small_contrastive(
        learn_temperature=True, temperature=0.2, max_iter=10, learning_rate=1e-2
    ).fit(X)
    assert mapper.modalities_ == ["image", "text", "audio"]
    assert len(mapper.module_.towers) == 3
    assert mapper.temperature_ != pytest.approx(0.2)
    assert mapper.temperature_ >= 0.01
    assert mapper.transform(X).shape == (96, 12)
    assert 0.0 <= mapper.score(X) <= 1.0

    # Fitting on a subset of the blocks: the unused block is ignored later.
    pair = _small_contrastive(modalities=["text", "audio"]).fit(X)
    assert pair.modalities_ == ["text", "audio"]
    assert list(pair.transform(X).columns)[0] == "text__contrastivemapper0"
    assert pair.transform(X).shape == (96, 8)


# --------------------------------------------------------------------------- #
# Both
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "mapper, data",
    [(_small_mlp(), _sine_data), (_small_contrastive(), _paired_data)],
    ids=["MLPMapper", "ContrastiveMapper"],
)
def test_clone_pickle_idempotent_and_invariant(mapper, data):
    X = data(n_samples=64)
    fitted = clone(mapper).fit(X)
    Z = fitted.transform(X).to_numpy()

    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X).to_numpy(), Z)
    assert restored.score(X) == fitted.score(X)

    unfitted = clone(fitted)
    assert not hasattr(unfitted, "module_")
    assert unfitted.get_params() == mapper.get_params()

    # Refitting gives the same model (the seed is a parameter).
    np.testing.assert_array_equal(fitted.fit(X).transform(X).to_numpy(), Z)
    # Each row's output depends on that row only (batched inference).
    order = np.random.default_rng(0).permutation(64)
    np.testing.assert_allclose(
        fitted.transform(X.iloc[order]).to_numpy(), Z[order], **FLOAT32
    )
    np.testing.assert_allclose(
        fitted.transform(X.iloc[:7]).to_numpy(), Z[:7], **FLOAT32
    )


@pytest.mark.parametrize(
    "mapper, data",
    [(_small_mlp(), _sine_data), (_small_contrastive(), _paired_data)],
    ids=["MLPMapper", "ContrastiveMapper"],
)
def test_usable_in_cross_val_score(mapper, data):
    scores = cross_val_score(mapper, data(n_samples=64), cv=2)
    assert scores.shape == (2,) and np.all(np.isfinite(scores))


def test_errors():
    X = _sine_data(n_samples=40)
    with pytest.raises(ValueError, match="source and target are both 'image'"):
        MLPMapper("image", "image").fit(X)
    with pytest.raises(ValueError, match=r"needs modalities \['audio'\]"):
        MLPMapper("audio", "text").fit(X)
    with pytest.raises(ValueError, match="needs modality blocks"):
        _small_mlp().fit(X.to_numpy())
    with pytest.raises(ValueError, match="needs at least 2 samples"):
        _small_mlp().fit(X.iloc[:1])
    with pytest.raises(ValueError, match="too few to hold out"):
        _small_contrastive().fit(_paired_data(n_samples=10))
    with pytest.raises(ValueError, match="needs at least 2 modality blocks"):
        _small_contrastive().fit(X.iloc[:, :5])
    with pytest.raises(ValueError, match="supervised=True.*needs y"):
        _small_contrastive(supervised=True).fit(X)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be positive"):
        _small_mlp(hidden_layer_sizes=(8, -1)).fit(X)
    with pytest.raises(ValueError, match="'loss' parameter"):
        _small_mlp(loss="huber").fit(X)

    bad = X.copy()
    bad.iloc[3, 6] = np.nan
    with pytest.raises(ValueError, match="row 3, column 'text__1'"):
        _small_mlp().fit(bad)

    fitted = _small_mlp().fit(X)
    with pytest.raises(ValueError, match=r"modalities \['audio'\] that MLPMapper"):
        fitted.transform(make_frame(audio=np.ones((2, 3))))
    with pytest.raises(
        ValueError, match=r"needs the source and target blocks; X lacks \['text'\]"
    ):
        fitted.score(X.iloc[:, :5])
    with pytest.raises(ValueError, match="needs modality blocks"):
        fitted.transform(X.to_numpy())


def test_values_beyond_float32_are_refused_naming_the_modality():
    # torch computes in float32: these finite float64 values used to become
    # inf, and the networks' outputs NaN.
    X = _sine_data(n_samples=40)
    fitted = _small_mlp().fit(X)
    contrastive = _small_contrastive(early_stopping=False).fit(
        _paired_data(n_samples=40)
    )
    huge_image = make_frame(image=np.full((3, 5), 1.0))
    huge_image.iloc[1, 2] = 1e300
    standardised = (
        r"Modality 'image', standardised with the training mean and scale, has "
        r"the value [0-9.]+e\+300 at row 1, beyond float32"
    )
    with pytest.raises(ValueError, match=standardised):
        fitted.transform(huge_image)
    huge_paired = make_frame(image=np.ones((3, 20)))
    huge_paired.iloc[1, 0] = 1e300
    with pytest.raises(ValueError, match=standardised):
        contrastive.transform(huge_paired)
    # Targets used as they are (loss="cosine") must fit float32 themselves.
    huge_target = X.copy()
    huge_target.iloc[7, 6] = 1e300
    message = (
        r"Modality 'text' \(the target\) has the value 1e\+300 at row 7, "
        r"beyond float32"
    )
    with pytest.raises(ValueError, match=message):
        _small_mlp(loss="cosine").fit(huge_target)
    # A variance that overflows float64 cannot standardise anything.
    spread = X.copy()
    spread.iloc[:, 6] = np.linspace(-1e200, 1e200, 40)
    message = (
        r"Modality 'text' \(the target\) cannot be standardised.*overflows "
        r"float64"
    )
    with pytest.raises(ValueError, match=message):
        _small_mlp().fit(spread)
    spread = X.copy()
    spread.iloc[:, 1] = np.linspace(-1e200, 1e200, 40)
    message = (
        r"Modality 'image' cannot be standardised: the variance of column "
        r"'image__1'"
    )
    with pytest.raises(ValueError, match=message):
        _small_mlp().fit(spread)
    paired = _paired_data(n_samples=40)
    paired.iloc[:, 20] = np.linspace(-1e200, 1e200, 40)
    message = (
        r"Modality 'text' cannot be standardised: the variance of column "
        r"'text__0'"
    )
    with pytest.raises(ValueError, match=message):
        _small_contrastive(early_stopping=False).fit(paired)


@pytest.mark.parametrize("missing", [None, np.nan])
def test_supervised_contrastive_missing_label_names_its_row(missing):
    X = _paired_data(n_samples=40)
    labels = (np.arange(40) % 4).astype(object)
    labels[9] = missing
    # None used to fail sorting the labels; NaN was silently a class of its own.
    message = r"ContrastiveMapper: y has a missing label \((None|nan)\) in row 9"
    with pytest.raises(ValueError, match=message):
        _small_contrastive(supervised=True).fit(X, labels)
    with pytest.raises(ValueError, match=r"missing label \(nan\) in row 2"):
        _small_contrastive(supervised=True).fit(
            X, np.where(np.arange(40) == 2, np.nan, 1.0)
        )


def test_fitting_leaves_torch_global_rng_alone():
    state = torch.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _small_contrastive(dropout=0.3).fit(_paired_data(n_samples=64))
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_pickles_and_matches_cpu_quality():
    X = _sine_data(n_samples=200)
    cpu = _small_mlp(max_iter=30, device="cpu").fit(X)
    gpu = _small_mlp(max_iter=30, device="cuda").fit(X)
    assert next(gpu.module_.parameters()).device.type == "cpu"
    restored = pickle.loads(pickle.dumps(gpu))
    np.testing.assert_allclose(
        restored.transform(X).to_numpy(), gpu.transform(X).to_numpy(), **FLOAT32
    )
    assert gpu.score(X) == pytest.approx(cpu.score(X), abs=0.1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates CUDA on a CPU machine")
@pytest.mark.parametrize("make_mapper", [_small_mlp, _small_contrastive])
def test_auto_device_picks_up_cuda_when_it_exists(make_mapper, monkeypatch):
    # No GPU here: make torch report one, and check that device="auto" sends
    # the training data to it, which then fails (there is no driver).
    X = _paired_data(n_samples=40)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises((RuntimeError, AssertionError), match="(?i)cuda|nvidia"):
        make_mapper(device="auto").fit(X)
