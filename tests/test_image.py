"""Tests of CNNFeatureExtractor against torchvision run directly."""

import io
import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
    parametrize_with_checks,
)

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
Image = pytest.importorskip("PIL.Image")

from _tolerance import FLOAT32  # noqa: E402
from torchvision.transforms._presets import ImageClassification  # noqa: E402

from skcrossmodal.feature_extraction import CNNFeatureExtractor  # noqa: E402
from skcrossmodal.feature_extraction import image as image_module  # noqa: E402

# The smallest torchvision classifier (0.06 GFLOPs at 224 x 224) keeps tests fast.
ARCH = "mobilenet_v3_small"
WEIGHTS = torchvision.models.MobileNet_V3_Small_Weights.IMAGENET1K_V1
CACHE_FILE = "mobilenet_v3_small-047dcff4.pth"
# The tests' generic behaviours use an early activation: cheap, and of order 1.
FAST_LAYER = "features.3"

pytestmark = pytest.mark.filterwarnings(
    "ignore:CNNFeatureExtractor\\(checkpoint=None\\):UserWarning"
)


def _extractor(**params):
    return CNNFeatureExtractor(
        arch=ARCH, **{"random_state": 0, "layer": FAST_LAYER, **params}
    )


def assert_close(actual, expected):
    """Equal up to float32 rounding: channels-last and NCHW convolutions, or
    other batch sizes, take different oneDNN kernels."""
    expected = np.asarray(expected)
    assert_allclose(actual, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


@pytest.fixture(scope="module")
def state_dict_path(tmp_path_factory):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = torchvision.models.get_model(ARCH)
    # Random BatchNorm statistics, so that the test sees them being loaded.
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.1, generator=generator)
            module.running_var.uniform_(0.5, 1.5, generator=generator)
    path = tmp_path_factory.mktemp("weights") / "mobilenet.pt"
    torch.save(model.state_dict(), path)
    return path


def _reference_model(state_dict_path):
    model = torchvision.models.get_model(ARCH)
    model.load_state_dict(torch.load(state_dict_path, weights_only=True))
    return model.eval()


def _reference_features(model, images):
    """torchvision run directly: the preset on each image tensor, NCHW."""
    preset = ImageClassification(crop_size=224)
    batch = torch.stack([preset(_to_tensor(image)) for image in images])
    with torch.inference_mode():
        return model(batch).numpy()


def _to_tensor(image):
    if isinstance(image, Image.Image):
        image = np.array(image.convert("RGB"))
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return [
        rng.integers(0, 256, size, dtype=np.uint8)
        for size in [(40, 32, 3), (24, 30, 3), (40, 32, 3), (64, 48, 3), (30, 30)]
    ]


def _without_classifier(model):
    model.classifier[3] = torch.nn.Identity()
    return model


@pytest.mark.parametrize("channels_last", [True, False])
def test_state_dict_features_match_torchvision(state_dict_path, images, channels_last):
    extractor = _extractor(
        checkpoint=state_dict_path,
        layer=None,
        batch_size=2,
        channels_last=channels_last,
    )
    features = extractor.fit_transform(images)
    expected = _reference_features(
        _without_classifier(_reference_model(state_dict_path)), images
    )
    assert features.dtype == np.float32
    assert features.shape == (5, 1024) == (5, extractor.n_features_out_)
    assert extractor.checkpoint_ == str(state_dict_path)
    assert_close(features, expected)


def test_default_output_is_resnet_pooled_features(images):
    model = torchvision.models.get_model("resnet18")
    extractor = CNNFeatureExtractor(random_state=0).fit(images[:1])
    assert extractor.n_features_out_ == model.fc.in_features == 512
    assert isinstance(extractor.module_.network.fc, torch.nn.Identity)


def test_fine_tuned_state_dict_loads_without_its_classifier(tmp_path, images):
    model = torchvision.models.get_model(ARCH, num_classes=7)
    path = tmp_path / "fine_tuned.pt"
    torch.save(model.state_dict(), path)
    features = _extractor(checkpoint=path, layer=None).fit_transform(images[:2])
    expected = _reference_features(_without_classifier(model.eval()), images[:2])
    assert_close(features, expected)
    with pytest.raises(ValueError, match="(?s)does not fit the network.*layer=None"):
        _extractor(checkpoint=path, layer="classifier.3").fit(images)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"not a torch file", "Cannot read the state dict file"),
        ({"model": {"a": 1}}, "does not hold a state dict"),
        ({"features.0.0.weight": torch.zeros(1)}, "does not fit the network"),
    ],
)
def test_bad_state_dict_file(tmp_path, images, content, match):
    path = tmp_path / "bad.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(ValueError, match=match) as info:
        _extractor(checkpoint=path, layer=None).fit(images)
    assert str(path) in str(info.value)


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """A private, empty torch hub cache; downloading fails the test."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)

    def no_network(*args, **kwargs):
        raise AssertionError("CNNFeatureExtractor tried to download")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path


@pytest.mark.parametrize(
    "weights",
    ["DEFAULT", "IMAGENET1K_V1", "MobileNet_V3_Small_Weights.IMAGENET1K_V1", WEIGHTS],
)
def test_weights_name_loads_from_local_cache(
    torch_home, state_dict_path, images, weights
):
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / CACHE_FILE).write_bytes(state_dict_path.read_bytes())
    extractor = _extractor(checkpoint=weights, layer=None).fit(images)
    assert extractor.checkpoint_ == "MobileNet_V3_Small_Weights.IMAGENET1K_V1"
    assert repr(extractor.preprocess_) == repr(WEIGHTS.transforms())
    expected = _reference_features(
        _without_classifier(_reference_model(state_dict_path)), images
    )
    assert_close(extractor.transform(images), expected)


def test_missing_cache_file_says_where_to_put_it(torch_home, images):
    expected_path = torch_home / "hub" / "checkpoints" / CACHE_FILE
    with pytest.raises(FileNotFoundError, match="never downloads") as info:
        _extractor(checkpoint="DEFAULT").fit(images)
    assert str(expected_path) in str(info.value)
    assert WEIGHTS.url in str(info.value)


def test_unknown_weights(images):
    with pytest.raises(
        ValueError, match=r"valid names: \['DEFAULT', 'IMAGENET1K_V1'\]"
    ):
        _extractor(checkpoint="IMAGENET1K_V7").fit(images)
    with pytest.raises(ValueError, match="not weights of 'mobilenet_v3_small'"):
        _extractor(checkpoint=torchvision.models.ResNet18_Weights.DEFAULT).fit(images)


def test_random_init_warns_and_is_seeded(images):
    with pytest.warns(UserWarning, match="randomly initialised 'mobilenet_v3_small'"):
        first = _extractor(checkpoint=None, random_state=3).fit_transform(images)
    again = _extractor(checkpoint=None, random_state=3).fit_transform(images)
    other = _extractor(checkpoint=None, random_state=4).fit_transform(images)
    assert_array_equal(first, again)
    assert not np.allclose(first, other, rtol=0.1, atol=0)


def test_fit_learns_nothing_from_data(images):
    extractor = _extractor()
    first = extractor.fit(images).transform(images)
    refit = extractor.fit(images[:1]).transform(images)
    assert_array_equal(first, refit)


def test_input_kinds_give_the_same_features(tmp_path, images, state_dict_path):
    rgb, gray = images[3], images[4]
    rgb_path, gray_path = tmp_path / "rgb.png", tmp_path / "gray.png"
    Image.fromarray(rgb).save(rgb_path)
    Image.fromarray(gray).save(gray_path)
    column = [
        rgb,
        Image.fromarray(rgb),
        str(rgb_path),
        Image.fromarray(rgb).convert("RGBA"),  # opaque alpha, dropped by RGB
        gray,
        gray[:, :, None],
        np.repeat(gray[:, :, None], 3, axis=2),
        Image.fromarray(gray),  # mode "L"
        gray_path,  # pathlib.Path, grayscale PNG
    ]
    extractor = _extractor(checkpoint=state_dict_path, layer=None, batch_size=4)
    extractor.fit(column)
    features = extractor.transform(column)
    assert_close(features[:4], np.tile(features[0], (4, 1)))
    assert_close(features[4:], np.tile(features[4], (5, 1)))
    assert_close(
        features[[0, 4]],
        _reference_features(
            _without_classifier(_reference_model(state_dict_path)), [rgb, gray]
        ),
    )


def test_float_images_are_in_unit_range(state_dict_path):
    rng = np.random.default_rng(0)
    column = [rng.random((20, 24, 3)), rng.random((33, 21)).astype(np.float32)]
    expected = _reference_features(
        _without_classifier(_reference_model(state_dict_path)),
        [image.astype(np.float32) for image in column],
    )
    features = _extractor(checkpoint=state_dict_path, layer=None).fit_transform(column)
    assert_close(features, expected)


def test_sixteen_bit_images_are_scaled_by_their_depth(tmp_path):
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 65536, (30, 34), dtype=np.uint16)
    flat_low, flat_high = (
        np.full((30, 34), 1000, np.uint16),
        np.full((30, 34), 60000, np.uint16),
    )
    paths = []
    for name, pixels in [("texture", texture), ("low", flat_low), ("high", flat_high)]:
        paths.append(tmp_path / f"{name}.png")
        Image.fromarray(pixels).save(paths[-1])
        with Image.open(paths[-1]) as image:
            assert image.mode == "I;16"  # a 16-bit grayscale PNG
    tiff = tmp_path / "texture.tif"
    Image.fromarray(texture).save(tiff)
    extractor = _extractor().fit(paths)
    features = extractor.transform(
        [*paths, tiff, Image.fromarray(texture), texture, texture.astype(">u2")]
    )
    # The rule: a 16-bit image is the float image value / 65535.
    expected = extractor.transform(
        [(pixels / 65535) for pixels in (texture, flat_low, flat_high)]
    )
    assert_allclose(features[:3], expected, **FLOAT32)
    assert_allclose(features[3:], np.tile(expected[0], (4, 1)), **FLOAT32)
    # 1000 and 60000 were both clipped to 255 by an 8-bit conversion.
    assert np.abs(features[1] - features[2]).max() > 0.1


def test_integer_and_float_pil_modes(tmp_path):
    rng = np.random.default_rng(0)
    unit = rng.random((20, 22)).astype(np.float32)
    float_tiff = tmp_path / "float.tif"
    Image.fromarray(unit).save(float_tiff)
    extractor = _extractor().fit([unit])
    assert_allclose(
        extractor.transform([float_tiff, Image.fromarray(unit)]),
        np.tile(extractor.transform([unit]), (2, 1)),
        **FLOAT32,
    )
    loud_tiff = tmp_path / "loud.tif"
    Image.fromarray(unit * 300).save(loud_tiff)
    with pytest.raises(
        ValueError, match=r"loud.tif' at row 1 has values in \[.*\]; float images"
    ):
        extractor.transform([unit, loud_tiff])
    int_tiff = tmp_path / "int32.tif"
    Image.fromarray((unit * 70000).astype(np.int32)).save(int_tiff)
    with pytest.raises(
        ValueError, match=r"int32.tif' at row 0 is a 32-bit integer image \(mode 'I'\)"
    ):
        extractor.transform([int_tiff])


@pytest.mark.parametrize(
    "item", [np.zeros((0, 0), np.uint8), np.zeros((0, 5, 3)), "pil", "png"]
)
def test_empty_images_raise(tmp_path, images, item):
    if isinstance(item, str) and item == "pil":
        item = Image.new("RGB", (0, 0))
    elif isinstance(item, str):
        item = tmp_path / "empty.png"
        item.write_bytes(b"")
    extractor = _extractor().fit(images)
    with pytest.raises(ValueError, match="row 1.*(no pixel|corrupt)"):
        extractor.transform([images[0], item])


def test_directory_as_image_path_says_so(tmp_path, images):
    extractor = _extractor().fit(images)
    with pytest.raises(
        ValueError, match=r"at row 0 is a directory, expected an image file"
    ):
        extractor.transform([tmp_path])


def test_column_containers(images):
    extractor = _extractor(batch_size=3).fit(images)
    expected = extractor.transform(images)
    series = pd.Series(images, index=np.arange(10, 15), name="image")
    same_size = [image for image in images if image.shape == (40, 32, 3)]
    containers = [
        tuple(images),
        series,
        series.to_frame(),
        np.array(images, dtype=object),
        np.array(images, dtype=object).reshape(-1, 1),
    ]
    for container in containers:
        assert_array_equal(extractor.transform(container), expected)
    assert_array_equal(extractor.transform(np.stack(same_size)), expected[[0, 2]])
    grays = np.stack([images[4], images[4]])
    assert_array_equal(extractor.transform(grays), expected[[4, 4]])


def test_batches_and_order_do_not_change_features(images):
    full = _extractor(batch_size=5).fit_transform(images)
    for batch_size in (1, 2):
        assert_close(_extractor(batch_size=batch_size).fit_transform(images), full)
    order = [4, 2, 0, 3, 1]
    extractor = _extractor(batch_size=2).fit(images)
    assert_close(extractor.transform([images[i] for i in order]), full[order])


def test_images_are_decoded_batch_by_batch(images, monkeypatch):
    extractor = _extractor(batch_size=2).fit(images)
    events = []
    decode = image_module._decode

    def logged_decode(*args):
        events.append("decode")
        return decode(*args)

    monkeypatch.setattr(image_module, "_decode", logged_decode)
    extractor.module_.register_forward_pre_hook(lambda *args: events.append("forward"))
    extractor.transform(images)
    assert events == ["decode", "decode", "forward"] * 2 + ["decode", "forward"]


def test_dataloader_workers_give_the_same_features(images, tmp_path):
    paths = []
    for k, image in enumerate(images):
        paths.append(tmp_path / f"{k}.png")
        Image.fromarray(image).save(paths[-1])
    expected = _extractor(batch_size=2).fit_transform(images)
    workers = _extractor(batch_size=2, n_jobs=2).fit(paths)
    assert_close(workers.transform(paths), expected)
    paths[3].write_bytes(b"garbage")
    with pytest.raises(ValueError, match=re.escape(f"{str(paths[3])!r} at row 3")):
        workers.transform(paths)


def test_missing_and_corrupt_files_are_named(tmp_path, images):
    paths = []
    for k, image in enumerate(images):
        paths.append(str(tmp_path / f"{k}.jpg"))
        Image.fromarray(image).save(paths[-1])
    extractor = _extractor(batch_size=2).fit(paths)
    column = pd.Series(paths, name="photo")

    missing = column.copy()
    missing[3] = str(tmp_path / "nowhere.jpg")
    with pytest.raises(
        FileNotFoundError, match="nowhere.jpg' at row 3 of column 'photo'"
    ):
        extractor.transform(missing)

    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(open(paths[0], "rb").read()[:200])
    for row, bad in [(4, corrupt), (1, truncated)]:
        broken = column.copy()
        broken[row] = str(bad)
        with pytest.raises(ValueError, match=re.escape(f"{str(bad)!r} at row {row}")):
            extractor.transform(broken)


@pytest.mark.parametrize(
    "item, error, match",
    [
        (None, TypeError, "row 1 is a NoneType"),
        (np.zeros((8, 8, 4), dtype=np.uint8), ValueError, r"shape \(8, 8, 4\)"),
        (np.zeros((3, 8, 8), dtype=np.uint8), ValueError, r"shape \(3, 8, 8\)"),
        (np.zeros((8,), dtype=np.uint8), ValueError, r"shape \(8,\)"),
        (np.full((8, 8), 2.0), ValueError, r"values in \[2, 2\]"),
        (np.full((8, 8), np.nan), ValueError, "NaN"),
        (np.zeros((8, 8), dtype=np.int64), TypeError, "dtype int64"),
    ],
)
def test_bad_items_are_named(images, item, error, match):
    extractor = _extractor().fit(images)
    with pytest.raises(error, match=match):
        extractor.transform([images[0], item])


@pytest.mark.parametrize(
    "X, error, match",
    [
        ("photo.jpg", TypeError, "single path"),
        ([], ValueError, "empty"),
        (np.zeros((3, 4)), ValueError, r"shape \(3, 4\)"),
        (pd.DataFrame({"a": [1], "b": [2]}), ValueError, "one image column"),
        ({"a": 1}, TypeError, "dict"),
    ],
)
def test_bad_columns(X, error, match):
    with pytest.raises(error, match=match):
        _extractor().fit(X)


def test_bad_parameters(images):
    with pytest.raises(ValueError, match=r"Did you mean \['resnet18'"):
        CNNFeatureExtractor(arch="resnet19").fit(images)
    with pytest.raises(InvalidParameterError, match="batch_size"):
        _extractor(batch_size=0).fit(images)
    with pytest.raises(
        ValueError, match="layer='featurez.3' is not a node.*features.3"
    ):
        _extractor(layer="featurez.3").fit(images)


def test_layer_selects_an_activation(state_dict_path, images):
    model = _reference_model(state_dict_path)
    preset = ImageClassification(crop_size=224)
    batch = torch.stack([preset(_to_tensor(image)) for image in images])
    captured = {}
    model.features[9].register_forward_hook(
        lambda module, inputs, output: captured.update(out=output)
    )
    with torch.inference_mode():
        logits = model(batch).numpy()
    pooled = captured["out"].mean(dim=(2, 3)).numpy()

    extractor = _extractor(checkpoint=state_dict_path, layer="features.9", batch_size=2)
    assert_close(extractor.fit_transform(images), pooled)
    assert extractor.n_features_out_ == captured["out"].shape[1] == 96
    logits_extractor = _extractor(checkpoint=state_dict_path, layer="classifier.3")
    assert_close(logits_extractor.fit_transform(images), logits)


def test_feature_names_and_pandas_output(images):
    extractor = _extractor(layer="features.1").fit(images)
    assert_array_equal(
        extractor.get_feature_names_out(), [f"cnn{k}" for k in range(16)]
    )
    series = pd.Series(images, index=np.arange(10, 15))
    frame = extractor.set_output(transform="pandas").transform(series)
    assert list(frame.columns) == [f"cnn{k}" for k in range(16)]
    assert_array_equal(frame.index, series.index)


def test_unfitted_clone_and_pickle(images):
    extractor = _extractor(batch_size=2)
    with pytest.raises(NotFittedError):
        extractor.transform(images)
    expected = extractor.fit_transform(images)
    assert not hasattr(clone(extractor), "module_")
    restored = pickle.loads(pickle.dumps(extractor))
    assert restored.device_ == extractor.device_
    assert_array_equal(restored.transform(images), expected)
    # The pickle holds the network, so it loads where the weights file is gone.
    assert len(pickle.dumps(extractor)) > 4 * sum(
        p.numel() for p in extractor.module_.parameters()
    )


class _AllowListUnpickler(pickle.Unpickler):
    """A strict unpickler: estimator classes, numpy arrays, plain containers."""

    ALLOWED = {
        ("collections", "OrderedDict"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "_reconstruct"),
    }

    def find_class(self, module, name):
        if module.startswith(("skcrossmodal.", "sklearn.")) or (
            (module, name) in self.ALLOWED
        ):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not on the allow-list")


@pytest.fixture
def weights_only_loads(monkeypatch):
    """Fail on any torch.load without weights_only=True; record the calls."""
    calls = []
    load = torch.load

    def checked_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        assert kwargs.get("weights_only") is True, "torch.load may run code"
        return load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", checked_load)
    return calls


@pytest.mark.parametrize("layer", [None, FAST_LAYER, "features.9"])
def test_pickle_holds_plain_tensors_only(
    tmp_path, state_dict_path, images, layer, weights_only_loads
):
    weights = tmp_path / "weights.pt"
    weights.write_bytes(state_dict_path.read_bytes())
    extractor = _extractor(checkpoint=str(weights), layer=layer, batch_size=2)
    expected = extractor.fit_transform(images)
    payload = pickle.dumps(extractor)
    weights.unlink()  # the pickle alone rebuilds the network
    weights_only_loads.clear()
    restored = _AllowListUnpickler(io.BytesIO(payload)).load()
    assert weights_only_loads == [True]
    assert repr(restored.preprocess_) == repr(extractor.preprocess_)
    assert restored.device_ == extractor.device_
    assert_array_equal(restored.transform(images), expected)
    assert_array_equal(pickle.loads(payload).transform(images), expected)


def test_pickle_of_hub_weights_keeps_their_preprocessing(
    torch_home, state_dict_path, images
):
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / CACHE_FILE).write_bytes(state_dict_path.read_bytes())
    extractor = _extractor(checkpoint="DEFAULT", layer=None).fit(images)
    expected = extractor.transform(images)
    payload = pickle.dumps(extractor)
    (checkpoints / CACHE_FILE).unlink()
    restored = _AllowListUnpickler(io.BytesIO(payload)).load()
    assert repr(restored.preprocess_) == repr(WEIGHTS.transforms())
    assert_array_equal(restored.transform(images), expected)


_executed = []


class _Payload:
    """Runs code when unpickled by a trusting loader."""

    def __reduce__(self):
        return (_executed.append, ("ran",))


def test_tampered_network_bytes_are_refused_not_run(images):
    extractor = _extractor().fit(images)
    state = extractor.__getstate__()
    network_keys = [key for key, value in state.items() if isinstance(value, bytes)]
    assert len(network_keys) == 1
    buffer = io.BytesIO()
    torch.save({"features.0.0.weight": _Payload()}, buffer)
    state[network_keys[0]] = buffer.getvalue()
    tampered = CNNFeatureExtractor.__new__(CNNFeatureExtractor)
    with pytest.raises(ValueError, match="network stored in the pickle"):
        tampered.__setstate__(state)
    assert _executed == []


def test_verbose_reports_progress(images, capsys):
    _extractor(batch_size=2, verbose=1).fit_transform(images)
    err = capsys.readouterr().err
    assert "batch 3/3: 5 images" in err and "images/s" in err


@parametrize_with_checks(
    [CNNFeatureExtractor(arch=ARCH, random_state=0)],
    # With two_d_array=False (a column of images, like CountVectorizer's
    # strings) scikit-learn itself skips its data checks with a
    # SkipTestWarning; only check_estimator_cloneable runs here. The
    # data-free API checks run in test_sklearn_api_checks, and the data
    # checks' behaviours on image columns in SKLEARN_CHECKS_COVERED_HERE.
    expected_failed_checks=lambda estimator: {},
)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


SKLEARN_CHECKS_COVERED_HERE = {
    "check_estimators_unfitted": "test_unfitted_clone_and_pickle",
    "check_estimators_pickle": "test_unfitted_clone_and_pickle",
    "check_fit_idempotent": "test_fit_learns_nothing_from_data",
    "check_methods_subset_invariance": "test_batches_and_order_do_not_change_features",
    "check_methods_sample_order_invariance": (
        "test_batches_and_order_do_not_change_features"
    ),
    "check_transformer_general": "test_state_dict_features_match_torchvision",
    "check_set_output_transform_pandas": "test_feature_names_and_pandas_output",
    "check_fit1d / check_fit2d_*": "test_bad_columns (2-D numeric input raises)",
    "check_estimators_dtypes": "test_float_images_are_in_unit_range",
    "check_estimators_nan_inf": "test_bad_items_are_named",
    "check_estimators_empty_data": "test_bad_columns",
    "check_n_features_in": "not applicable: the input is one column of images",
}


@pytest.mark.parametrize(
    "check",
    [
        check_estimator_tags_renamed,
        check_valid_tag_types,
        check_estimator_repr,
        check_no_attributes_set_in_init,
        check_do_not_raise_errors_in_init_or_set_params,
        check_mixin_order,
        check_get_params_invariance,
        check_set_params,
        check_parameters_default_constructible,
    ],
)
def test_sklearn_api_checks(check):
    check(type(_extractor()).__name__, _extractor())


def test_covered_checks_name_existing_tests():
    names = set(globals())
    for test in SKLEARN_CHECKS_COVERED_HERE.values():
        if test.startswith("test_"):
            assert test.split()[0] in names


def test_inside_modality_union_pipeline(images):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from skcrossmodal.compose import make_modality_union

    rng = np.random.default_rng(0)
    bright = [rng.integers(150, 256, (20, 20, 3), dtype=np.uint8) for _ in range(6)]
    dark = [rng.integers(0, 100, (24, 18, 3), dtype=np.uint8) for _ in range(6)]
    X = pd.DataFrame({"image": bright + dark, "caption": ["x"] * 12})
    y = np.array([1] * 6 + [0] * 6)
    pipeline = make_pipeline(
        make_modality_union(
            image=(_extractor(layer="features.1", batch_size=4), "image")
        ),
        LogisticRegression(),
    )
    search = GridSearchCV(
        pipeline,
        {"modalityunion__image__layer": ["features.1", "features.2"]},
        cv=2,
    ).fit(X, y)
    assert search.best_score_ == 1.0
    union = search.best_estimator_[0]
    assert union.get_feature_names_out()[0] == "image__cnn0"
    assert union.transform(X).shape == (12, 16 if "1" in union["image"].layer else 24)


def test_n_jobs_none_follows_the_joblib_context(images, monkeypatch):
    # The glossary's n_jobs: None is 1 (no worker) unless a joblib context says more.
    import joblib

    seen = []
    real = torch.utils.data.DataLoader

    def spy(*args, **kwargs):
        seen.append(kwargs["num_workers"])
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.utils.data, "DataLoader", spy)
    extractor = _extractor(batch_size=2).fit(images)
    expected = extractor.transform(images)
    assert seen == []
    with joblib.parallel_config(n_jobs=2):
        assert_close(extractor.transform(images), expected)
    assert seen == [2]
    assert_array_equal(extractor.set_params(n_jobs=1).transform(images), expected)
    assert seen == [2]
