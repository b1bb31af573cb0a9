"""Tests of skcrossmodal.feature_extraction.text."""

import pickle
import re
import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from _tolerance import FLOAT32
from gensim.models import KeyedVectors
from sklearn.base import clone
from sklearn.exceptions import SkipTestWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks
from sklearn.utils._param_validation import InvalidParameterError

from skcrossmodal.feature_extraction import KeyedVectorsVectorizer, Word2VecVectorizer

TOKEN = re.compile(r"(?u)\b\w\w+\b")


def _tokens(document):
    return TOKEN.findall(document.lower())


@pytest.fixture
def keyed_vectors():
    rng = np.random.default_rng(0)
    words = ["cat", "dog", "sat", "mat", "log", "the", "on", "café", "ran", "fast"]
    kv = KeyedVectors(vector_size=6)
    kv.add_vectors(words, rng.standard_normal((len(words), 6)).astype(np.float32))
    return kv


@pytest.fixture
def documents():
    return [
        "The cat sat on the mat",
        "The dog sat on the log, the dog ran",
        "Café cat ran fast",
        "unknown words and the cat",
        "dog dog dog",
    ]


def _reference_pooling(kv, train, documents, pooling, alpha=1e-3):
    """Explicit loop over documents and tokens (the definition of each pooling)."""
    train_tokens = [[w for w in _tokens(d) if w in kv.key_to_index] for d in train]
    n = len(train_tokens)
    df = Counter(w for tokens in train_tokens for w in set(tokens))
    counts = Counter(w for tokens in train_tokens for w in tokens)
    total = sum(counts.values())

    def weight(word):
        if pooling == "tfidf":
            return np.log((1 + n) / (1 + df[word])) + 1
        if pooling == "sif":
            return alpha / (alpha + counts[word] / total)
        return 1.0

    def embed(docs):
        rows = []
        for document in docs:
            tokens = [w for w in _tokens(document) if w in kv.key_to_index]
            if not tokens:
                rows.append(np.zeros(kv.vector_size))
                continue
            weights = np.array([weight(w) for w in tokens])
            vectors = np.array([kv[w] for w in tokens], dtype=np.float64)
            denominator = weights.sum() if pooling == "tfidf" else len(tokens)
            rows.append(weights @ vectors / denominator)
        return np.array(rows)

    out = embed(documents)
    if pooling == "sif":
        _, _, vt = np.linalg.svd(embed(train))
        component = vt[0]
        out = out - np.outer(out @ component, component)
    return out


@pytest.mark.parametrize("pooling", ["mean", "tfidf", "sif"])
def test_pooling_matches_loop_reference(keyed_vectors, documents, pooling):
    vectorizer = KeyedVectorsVectorizer(keyed_vectors, pooling=pooling)
    vectorizer.fit(documents[:4])
    queries = documents + ["fast fast cat on the mat"]
    expected = _reference_pooling(keyed_vectors, documents[:4], queries, pooling)
    np.testing.assert_allclose(vectorizer.transform(queries), expected, atol=1e-5)
    assert vectorizer.transform(queries).dtype == np.float32


def test_mean_pooling_matches_gensim(keyed_vectors, documents):
    vectorizer = KeyedVectorsVectorizer(keyed_vectors).fit(documents)
    expected = [
        keyed_vectors.get_mean_vector(_tokens(d), pre_normalize=False)
        for d in documents
    ]
    np.testing.assert_allclose(vectorizer.transform(documents), expected, atol=1e-6)


def test_tfidf_weights_match_sklearn(keyed_vectors, documents):
    vectorizer = KeyedVectorsVectorizer(keyed_vectors, pooling="tfidf").fit(documents)
    tfidf = TfidfVectorizer(vocabulary=keyed_vectors.index_to_key).fit(documents)
    np.testing.assert_allclose(vectorizer.word_weights_, tfidf.idf_, rtol=1e-6)


def test_sif_by_hand():
    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["aa", "bb"], np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    train = ["aa aa aa bb", "bb"]
    vectorizer = KeyedVectorsVectorizer(kv, pooling="sif", sif_alpha=0.5).fit(train)
    # p(aa) = 3/5, p(bb) = 2/5; weights a / (a + p) with a = 0.5.
    w_aa, w_bb = 0.5 / (0.5 + 0.6), 0.5 / (0.5 + 0.4)
    np.testing.assert_allclose(vectorizer.word_weights_, [w_aa, w_bb], rtol=1e-6)
    before = np.array([[3 * w_aa / 4, w_bb / 4], [0.0, w_bb]])
    # First right singular vector of `before`, from the 2x2 eigenproblem.
    gram = before.T @ before
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    u = eigenvectors[:, np.argmax(eigenvalues)]
    np.testing.assert_allclose(abs(vectorizer.principal_component_), abs(u), rtol=1e-5)
    expected = before - np.outer(before @ u, u)
    np.testing.assert_allclose(vectorizer.transform(train), expected, atol=1e-6)


def test_unknown_words_give_zero_vector_and_one_warning(keyed_vectors):
    vectorizer = KeyedVectorsVectorizer(keyed_vectors)
    with pytest.warns(UserWarning, match=r"1 of 3 documents .*rows 1\)") as record:
        X = vectorizer.fit_transform(["the cat", "nothing known here", "dog"])
    assert len(record) == 1
    assert vectorizer.n_empty_documents_ == 1
    np.testing.assert_array_equal(X[1], 0)
    with pytest.warns(UserWarning, match="2 of 2 documents") as record:
        vectorizer.transform(["zzz", "!!! ?"])
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vectorizer.transform(["cat"])


@pytest.mark.parametrize(
    "bad, row, message",
    [
        (["ok", None], 1, "NoneType"),
        (["ok", "fine", np.nan], 2, "float"),
        (["ok", 3], 1, "int"),
        (["", "ok"], 0, "empty"),
        (["ok", "   \n"], 1, "empty"),
    ],
)
def test_bad_documents_name_the_row(keyed_vectors, bad, row, message):
    vectorizer = KeyedVectorsVectorizer(keyed_vectors)
    with pytest.raises(
        ValueError, match=rf"row {row}\b.*{message}|{message}.*row {row}"
    ):
        vectorizer.fit(bad)
    vectorizer.fit(["cat"])
    with pytest.raises(ValueError, match=rf"row {row}\b"):
        vectorizer.transform(pd.Series(bad, dtype=object))


def test_bad_containers(keyed_vectors):
    vectorizer = KeyedVectorsVectorizer(keyed_vectors)
    with pytest.raises(ValueError, match="single str"):
        vectorizer.fit("the cat sat")
    with pytest.raises(ValueError, match=r"shape \(2, 1\)"):
        vectorizer.fit(np.array([["cat"], ["dog"]]))
    with pytest.raises(ValueError, match="DataFrame"):
        vectorizer.fit(pd.DataFrame({"caption": ["cat"]}))
    with pytest.raises(ValueError, match="at least one document"):
        vectorizer.fit([])
    with pytest.raises(InvalidParameterError, match="pooling"):
        KeyedVectorsVectorizer(keyed_vectors, pooling="max").fit(["cat"])


def test_accepts_series_and_arrays(keyed_vectors, documents):
    vectorizer = KeyedVectorsVectorizer(keyed_vectors).fit(documents)
    expected = vectorizer.transform(documents)
    np.testing.assert_array_equal(vectorizer.transform(pd.Series(documents)), expected)
    np.testing.assert_array_equal(
        vectorizer.transform(np.array(documents, dtype=object)), expected
    )
    np.testing.assert_array_equal(vectorizer.transform(np.array(documents)), expected)


def test_tokenizer_and_lowercase(keyed_vectors):
    vectorizer = KeyedVectorsVectorizer(keyed_vectors, tokenizer=str.split).fit(["cat"])
    # "cat," is one token for str.split, hence unknown.
    np.testing.assert_allclose(
        vectorizer.transform(["cat, dog"]), keyed_vectors[["dog"]], **FLOAT32
    )
    cased = KeyedVectorsVectorizer(keyed_vectors, lowercase=False).fit(["cat"])
    np.testing.assert_allclose(
        cased.transform(["Cat dog"]), keyed_vectors[["dog"]], **FLOAT32
    )


# ---------------------------------------------------------------- loading files


def _write_glove(kv, path):
    with open(path, "w", encoding="utf-8") as file:
        for word in kv.index_to_key:
            file.write(word + " " + " ".join(repr(float(x)) for x in kv[word]) + "\n")


def _write_fasttext_vec(kv, path):
    # fastText's own .vec writer: header, then one line per word with a
    # trailing space.
    with open(path, "w", encoding="utf-8") as file:
        file.write(f"{len(kv)} {kv.vector_size}\n")
        for word in kv.index_to_key:
            file.write(word + " " + " ".join(f"{x:.5f}" for x in kv[word]) + " \n")


@pytest.mark.parametrize(
    "kind", ["word2vec_text", "word2vec_binary", "glove", "fasttext"]
)
@pytest.mark.parametrize("detect", [True, False])
def test_load_each_format(tmp_path, keyed_vectors, documents, kind, detect):
    path = tmp_path / f"vectors.{kind}"
    flags = {}
    if kind == "word2vec_text":
        keyed_vectors.save_word2vec_format(str(path), binary=False)
        flags = {"binary": False, "no_header": False}
    elif kind == "word2vec_binary":
        keyed_vectors.save_word2vec_format(str(path), binary=True)
        flags = {"binary": True, "no_header": False}
    elif kind == "glove":
        _write_glove(keyed_vectors, path)
        flags = {"binary": False, "no_header": True}
    else:
        _write_fasttext_vec(keyed_vectors, path)
        flags = {"binary": False, "no_header": False}
    vectorizer = KeyedVectorsVectorizer(
        path if detect else str(path), **({} if detect else flags)
    )
    X = vectorizer.fit_transform(documents)
    loaded = vectorizer.keyed_vectors_
    assert loaded.index_to_key == keyed_vectors.index_to_key
    np.testing.assert_allclose(loaded.vectors, keyed_vectors.vectors, atol=1e-5)
    expected = KeyedVectorsVectorizer(keyed_vectors).fit_transform(documents)
    np.testing.assert_allclose(X, expected, atol=1e-5)


def test_load_limit(tmp_path, keyed_vectors):
    path = tmp_path / "vectors.txt"
    keyed_vectors.save_word2vec_format(str(path))
    vectorizer = KeyedVectorsVectorizer(str(path), limit=3).fit(["cat"])
    assert vectorizer.keyed_vectors_.index_to_key == keyed_vectors.index_to_key[:3]


def test_load_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.vec"
    with pytest.raises(FileNotFoundError, match="missing.vec"):
        KeyedVectorsVectorizer(str(missing)).fit(["cat"])
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("this is not\na vector file\n")
    with pytest.raises(ValueError, match="garbage.txt"):
        KeyedVectorsVectorizer(str(garbage)).fit(["cat"])
    truncated = tmp_path / "truncated.txt"
    truncated.write_text("3 2\ncat 1.0 2.0\ndog 1.0\n")
    with pytest.raises(ValueError, match="truncated.txt"):
        KeyedVectorsVectorizer(str(truncated), binary=False).fit(["cat"])


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("binary", [False, True])
def test_non_finite_vectors_in_a_file_are_refused(
    tmp_path, keyed_vectors, value, binary
):
    broken = KeyedVectors(vector_size=keyed_vectors.vector_size)
    vectors = keyed_vectors.vectors.copy()
    vectors[3, 2] = float(value)
    broken.add_vectors(keyed_vectors.index_to_key, vectors)
    path = tmp_path / "vectors.bin"
    broken.save_word2vec_format(str(path), binary=binary)
    vectorizer = KeyedVectorsVectorizer(str(path))
    with pytest.raises(ValueError, match=r"vectors.bin.*NaN or infinite.*\['mat'\]"):
        vectorizer.fit(["the cat sat on the mat"])
    assert not hasattr(vectorizer, "keyed_vectors_")


def test_non_finite_keyed_vectors_are_refused(keyed_vectors):
    keyed_vectors.vectors[[1, 7]] = np.inf
    with pytest.raises(
        ValueError, match=r"2 words.*\['dog', 'café'\]; replace or remove"
    ):
        KeyedVectorsVectorizer(keyed_vectors).fit(["the cat"])


def test_directory_as_vector_path_says_so(tmp_path):
    with pytest.raises(ValueError, match="is a directory, expected a file"):
        KeyedVectorsVectorizer(str(tmp_path)).fit(["cat"])
    with pytest.raises(ValueError, match="is a directory, expected a file"):
        KeyedVectorsVectorizer(tmp_path).fit(["cat"])


def test_path_is_loaded_lazily_and_pickles(tmp_path, keyed_vectors, documents):
    path = tmp_path / "vectors.txt"
    vectorizer = KeyedVectorsVectorizer(str(path))  # not written yet: no error
    keyed_vectors.save_word2vec_format(str(path))
    vectorizer.fit(documents)
    restored = pickle.loads(pickle.dumps(vectorizer))
    np.testing.assert_array_equal(
        restored.transform(documents), vectorizer.transform(documents)
    )


# ---------------------------------------------------------------- Word2Vec


def _corpus(n=60):
    rng = np.random.default_rng(0)
    animals = ["cat", "dog", "horse", "cow", "sheep", "goat"]
    vehicles = ["car", "bus", "train", "plane", "boat", "truck"]
    documents, labels = [], []
    for i in range(n):
        label = i % 2
        words = rng.choice(vehicles if label else animals, size=6)
        documents.append(" ".join(["the", *words, "is", "here"]))
        labels.append(label)
    return documents, np.array(labels)


def test_word2vec_deterministic_with_seed():
    documents, _ = _corpus()
    params = dict(vector_size=10, epochs=3, n_jobs=1)
    a = Word2VecVectorizer(random_state=0, **params).fit_transform(documents)
    b = Word2VecVectorizer(random_state=0, **params).fit_transform(documents)
    c = Word2VecVectorizer(random_state=1, **params).fit_transform(documents)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    rng = np.random.RandomState(0)
    d = Word2VecVectorizer(random_state=rng, **params).fit_transform(documents)
    e = Word2VecVectorizer(random_state=np.random.RandomState(0), **params)
    np.testing.assert_array_equal(d, e.fit_transform(documents))


def test_word2vec_verbose_reports_each_epoch_and_changes_nothing(capsys):
    documents, _ = _corpus()
    params = dict(vector_size=6, epochs=3, random_state=0)
    quiet = Word2VecVectorizer(**params).fit_transform(documents)
    assert capsys.readouterr() == ("", "")
    loud = Word2VecVectorizer(verbose=1, **params).fit_transform(documents)
    captured = capsys.readouterr()
    assert captured.out == ""
    # The glossary's format: [ClassName] <step>: <what> (<seconds> s).
    n_words = len(set(" ".join(documents).split()))
    pattern = r"\[Word2VecVectorizer\] epoch (\d)/3: (\d+) words \(\d+\.\d s\)"
    matches = [re.fullmatch(pattern, line) for line in captured.err.splitlines()]
    assert all(matches), captured.err
    assert [(m[1], int(m[2])) for m in matches] == [
        (str(i), n_words) for i in (1, 2, 3)
    ]
    np.testing.assert_array_equal(quiet, loud)


def test_keyed_vectors_verbose_reports_reading_the_file(
    tmp_path, keyed_vectors, capsys
):
    path = tmp_path / "vectors.txt"
    keyed_vectors.save_word2vec_format(str(path), binary=False)
    KeyedVectorsVectorizer(str(path)).fit(["cat"])
    assert capsys.readouterr() == ("", "")
    KeyedVectorsVectorizer(str(path), verbose=1).fit(["cat"])
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"\[KeyedVectorsVectorizer\] read vectors: 10 words x 6 from "
        r"'.*vectors\.txt' \(\d+\.\d s\)\n",
        err,
    ), err


def test_word2vec_glossary_parameters():
    documents, _ = _corpus()
    # Keyword-only after vector_size.
    with pytest.raises(TypeError, match="positional"):
        Word2VecVectorizer(10, 5)
    with pytest.raises(TypeError, match="window"):
        Word2VecVectorizer(window=5)
    with pytest.raises(TypeError, match="workers"):
        Word2VecVectorizer(workers=1)
    assert Word2VecVectorizer().get_params()["context_window"] == 5
    assert KeyedVectorsVectorizer.__init__.__kwdefaults__ is not None
    with pytest.raises(TypeError, match="positional"):
        KeyedVectorsVectorizer(None, "mean")
    # context_window is gensim's window: a wider one changes the vectors.
    params = dict(vector_size=6, epochs=3, random_state=0, sg=1)
    narrow = Word2VecVectorizer(context_window=1, **params).fit(documents)
    wide = Word2VecVectorizer(context_window=8, **params).fit(documents)
    assert not np.allclose(narrow.keyed_vectors_.vectors, wide.keyed_vectors_.vectors)


def test_word2vec_n_jobs_sets_gensim_workers(monkeypatch):
    import gensim.models
    from joblib import parallel_backend

    seen = []
    original = gensim.models.Word2Vec.__init__

    def spy(self, *args, **kwargs):
        seen.append(kwargs["workers"])
        original(self, *args, **kwargs)

    monkeypatch.setattr(gensim.models.Word2Vec, "__init__", spy)
    documents, _ = _corpus(20)
    params = dict(vector_size=4, epochs=1, random_state=0)
    Word2VecVectorizer(**params).fit(documents)
    Word2VecVectorizer(n_jobs=2, **params).fit(documents)
    with parallel_backend("threading", n_jobs=3):
        Word2VecVectorizer(**params).fit(documents)
    Word2VecVectorizer(n_jobs=-1, **params).fit(documents)
    from joblib import cpu_count

    assert seen == [1, 2, 3, cpu_count()]


def test_word2vec_pools_its_trained_vectors():
    documents, _ = _corpus()
    vectorizer = Word2VecVectorizer(vector_size=8, epochs=2, random_state=0)
    X = vectorizer.fit_transform(documents)
    kv = vectorizer.keyed_vectors_
    assert kv.vector_size == 8
    assert set(kv.index_to_key) == {w for d in documents for w in _tokens(d)}
    expected = [kv.get_mean_vector(_tokens(d), pre_normalize=False) for d in documents]
    np.testing.assert_allclose(X, expected, atol=1e-6)
    np.testing.assert_allclose(vectorizer.transform(documents), X, **FLOAT32)
    names = vectorizer.get_feature_names_out()
    assert list(names[:2]) == ["w2v0", "w2v1"] and len(names) == 8


def test_word2vec_min_count_and_errors():
    documents, _ = _corpus()
    vectorizer = Word2VecVectorizer(vector_size=4, min_count=20, random_state=0)
    vectorizer.fit(documents)
    assert "the" in vectorizer.keyed_vectors_.key_to_index
    with pytest.raises(ValueError, match="min_count=1000"):
        Word2VecVectorizer(min_count=1000).fit(documents)
    with pytest.raises(ValueError, match="No word"):
        Word2VecVectorizer().fit(["a b c"])  # no token of two characters
    with pytest.raises(InvalidParameterError, match="vector_size"):
        Word2VecVectorizer(vector_size=0).fit(documents)


def test_long_documents_are_trained_whole():
    # gensim truncates training sentences at 10,000 tokens; the vectorizer
    # splits longer documents, so the last word is trained too (its vector
    # moves away from gensim's initial value).
    from gensim.models import Word2Vec

    # Distinct words, so that gensim's frequent-word down-sampling keeps them.
    document = " ".join([f"word{i}" for i in range(10_500)] + ["lastword"])
    vectorizer = Word2VecVectorizer(vector_size=4, epochs=1, random_state=0)
    vectorizer.fit([document])
    seed = np.random.RandomState(0).randint(np.iinfo(np.int32).max)
    initial = Word2Vec(vector_size=4, min_count=1, seed=seed)
    initial.build_vocab([document.split()])
    assert not np.allclose(
        vectorizer.keyed_vectors_["lastword"], initial.wv["lastword"]
    )
    np.testing.assert_array_equal(
        initial.wv.index_to_key, vectorizer.keyed_vectors_.index_to_key
    )


def test_set_output_pandas_and_clone():
    documents, _ = _corpus(10)
    vectorizer = Word2VecVectorizer(vector_size=3, random_state=0).set_output(
        transform="pandas"
    )
    frame = vectorizer.fit_transform(pd.Series(documents, index=range(10, 20)))
    assert list(frame.columns) == ["w2v0", "w2v1", "w2v2"]
    assert list(frame.index) == list(range(10, 20))
    cloned = clone(vectorizer)
    assert cloned.get_params() == vectorizer.get_params()
    assert not hasattr(cloned, "keyed_vectors_")


# ---------------------------------------------------------------- sklearn checks

API_CHECKS = [
    estimator_checks.check_parameters_default_constructible,
    estimator_checks.check_no_attributes_set_in_init,
    estimator_checks.check_get_params_invariance,
    estimator_checks.check_set_params,
    estimator_checks.check_estimator_repr,
    estimator_checks.check_estimator_cloneable,
    estimator_checks.check_estimator_tags_renamed,
    estimator_checks.check_valid_tag_types,
    estimator_checks.check_mixin_order,
    estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
]


def _text_estimators():
    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["cat", "dog"], np.eye(2, dtype=np.float32))
    return [Word2VecVectorizer(vector_size=4), KeyedVectorsVectorizer(kv)]


@pytest.mark.parametrize(
    "estimator", _text_estimators(), ids=lambda e: type(e).__name__
)
def test_sklearn_skips_data_checks_for_text_input(estimator):
    # Like CountVectorizer, text extractors declare two_d_array=False, so
    # scikit-learn generates no data checks for them (they all feed 2-D float
    # arrays); parametrize_with_checks would yield nothing. The API checks,
    # which need no data, are run below, and the data behaviours (clone,
    # pickle, idempotent fit, fit_transform == fit + transform, subsets) are
    # tested on documents in this file.
    with pytest.warns(SkipTestWarning, match="Can't test estimator"):
        estimator_checks.check_estimator(estimator, on_fail=None)


@pytest.mark.parametrize(
    "estimator", _text_estimators(), ids=lambda e: type(e).__name__
)
@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
def test_sklearn_api_checks(estimator, check):
    check(type(estimator).__name__, estimator)


def test_text_tags():
    for estimator in _text_estimators():
        tags = estimator.__sklearn_tags__()
        assert tags.input_tags.string and tags.input_tags.one_d_array
        assert not tags.input_tags.two_d_array


@pytest.mark.parametrize("pooling", ["mean", "tfidf", "sif"])
def test_fit_is_idempotent_and_row_independent(pooling):
    documents, _ = _corpus(20)
    vectorizer = Word2VecVectorizer(vector_size=5, pooling=pooling, random_state=0)
    first = vectorizer.fit(documents).transform(documents)
    second = vectorizer.fit(documents).transform(documents)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(vectorizer.fit_transform(documents), first, atol=1e-6)
    np.testing.assert_allclose(
        vectorizer.transform(documents[5:9]), first[5:9], atol=1e-6
    )
    restored = pickle.loads(pickle.dumps(vectorizer))
    np.testing.assert_array_equal(restored.transform(documents), first)


# ---------------------------------------------------------------- composition


def test_word2vec_in_modality_union_grid_search():
    compose = pytest.importorskip("skcrossmodal.compose")
    documents, labels = _corpus(40)
    X = pd.DataFrame({"caption": documents, "other": np.arange(40.0)})
    pipeline = make_pipeline(
        compose.make_modality_union(
            text=(
                Word2VecVectorizer(epochs=20, context_window=8, random_state=0),
                "caption",
            )
        ),
        LogisticRegression(),
    )
    grid = GridSearchCV(
        pipeline, {"modalityunion__text__vector_size": [4, 8]}, cv=2
    ).fit(X, labels)
    assert grid.best_params_["modalityunion__text__vector_size"] in (4, 8)
    union = grid.best_estimator_.named_steps["modalityunion"]
    features = union.transform(X)
    assert list(features.columns[:2]) == ["text__w2v0", "text__w2v1"]
    assert grid.best_score_ > 0.9


def test_keyed_vectors_in_modality_union(keyed_vectors, documents):
    compose = pytest.importorskip("skcrossmodal.compose")
    X = pd.DataFrame({"caption": documents})
    union = compose.make_modality_union(
        text=(KeyedVectorsVectorizer(keyed_vectors, pooling="tfidf"), "caption")
    )
    features = union.fit_transform(X)
    expected = KeyedVectorsVectorizer(keyed_vectors, pooling="tfidf").fit_transform(
        documents
    )
    np.testing.assert_allclose(features.to_numpy(), expected, atol=1e-6)
    assert list(features.columns) == [f"text__kv{k}" for k in range(6)]


def test_fast_default_tokenizer_matches_the_pattern():
    from skcrossmodal.feature_extraction import text

    rng = np.random.default_rng(0)
    alphabet = list("ab Z_9 -.,'\n\téüñ中文ß\u0301٣") + ["  "]
    samples = ["".join(rng.choice(alphabet, size=60)) for _ in range(300)]
    samples.append("a bc déf_g x1 2 héllo-wörld ü ñn 中文 ab__c e\u0301t")
    for sample in samples:
        assert text._FAST_DEFAULT_TOKEN_REGEX.findall(sample) == re.findall(
            text._DEFAULT_TOKEN_PATTERN, sample
        )


def _general_document_term_matrix(vectorizer, documents):
    """The document-term matrix from tokenising each document in Python."""
    from skcrossmodal.feature_extraction import text

    vectors = vectorizer.keyed_vectors_.vectors
    return text._document_term_matrix(
        vectorizer._tokenize(documents),
        vectorizer.keyed_vectors_.key_to_index,
        vectors.shape[0],
        vectors.dtype,
    )


def _assert_same_csr(actual, expected):
    # Same entries in the same order (repeated tokens unsummed), same dtype.
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual.indptr, expected.indptr)
    np.testing.assert_array_equal(actual.indices, expected.indices)
    np.testing.assert_array_equal(actual.data, expected.data)


def _tricky_vocabulary_and_documents():
    rng = np.random.default_rng(0)
    keys = [
        "ab",
        "abc",
        "abcdefg",
        "abcdefgh",
        "abcdefghi",
        "abcdefghijklmnop",
        "abcdefghijklmnopq",
        "x" * 40,
        "a",
        "b",
        "_",
        "a_b",
        "x1",
        "42",
        "Cat",
        "cat",
        "CAT",
        "new york",
        "café",
        "naïve",
        "",
        "tab\tkey",
        "nul\x00",
        "nul",
        "unit\x1fsep",
        "DOG!",
        "dog",
        "ab.cd",
    ]
    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(keys, rng.standard_normal((len(keys), 3)).astype(np.float32))
    pieces = keys + [
        "ABCDEFGHI",
        "abcdefgh1",
        "abcdefghijklmnopqr",
        "x" * 41,
        "x" * 39,
        "A",
        "Café",
        "NAÏVE",
        "ß",
        "中文",
        "a\u0301",
        "٣٣",
        "---",
        "  ",
        "\t",
        "\n",
        "\x1c",
        "\x0b",
        "\x00",
        ",",
        "'",
        "tab",
        "key",
        "unit",
        "sep",
        "zz",
        "unknown",
        "éa",
        "1x",
    ]
    separators = [" ", "  ", ",", ", ", "\t", "\n", "-", "", "\x1f", "\x00"]
    documents = []
    for _ in range(300):
        n = rng.integers(1, 12)
        parts = rng.choice(np.array(pieces, dtype=object), size=n)
        seps = rng.choice(np.array(separators, dtype=object), size=n)
        document = "".join(p + s for p, s in zip(parts, seps, strict=True))
        documents.append(document if document.strip() else "zz")
    return kv, documents


@pytest.mark.filterwarnings("ignore:.*no word with a vector:UserWarning")
@pytest.mark.parametrize("lowercase", [True, False])
@pytest.mark.parametrize(
    "params", [{}, {"tokenizer": str.split}], ids=["default pattern", "str.split"]
)
@pytest.mark.parametrize("ascii_only", [True, False])
def test_fast_document_term_matrix_matches_python_tokenising(
    monkeypatch, params, lowercase, ascii_only
):
    from skcrossmodal.feature_extraction import text

    kv, documents = _tricky_vocabulary_and_documents()
    if ascii_only:
        documents = [d for d in documents if d.isascii()]
    # Small pieces, so that documents are split over many chunks.
    monkeypatch.setattr(text, "_CHUNK_CHARACTERS", 64)
    vectorizer = KeyedVectorsVectorizer(kv, lowercase=lowercase, **params)
    vectorizer.fit(documents)
    assert vectorizer._ascii_vocabulary is not None
    expected = _general_document_term_matrix(vectorizer, documents)
    assert expected.nnz > len(documents) // 2
    _assert_same_csr(vectorizer._document_term_matrix(documents), expected)
    for document in documents[:20]:
        _assert_same_csr(
            vectorizer._document_term_matrix([document]),
            _general_document_term_matrix(vectorizer, [document]),
        )


def test_custom_tokenizers_take_the_general_path(keyed_vectors, documents):
    for params in [{"tokenizer": lambda d: d.split()}, {"token_pattern": r"\w+"}]:
        vectorizer = KeyedVectorsVectorizer(keyed_vectors, **params).fit(documents)
        assert vectorizer._ascii_vocabulary is None
        _assert_same_csr(
            vectorizer._document_term_matrix(documents),
            _general_document_term_matrix(vectorizer, documents),
        )


def test_fast_path_hash_collisions_are_exact(monkeypatch):
    from skcrossmodal.feature_extraction import text

    # With a zero multiplier the hash of a token is its length (8 bytes or
    # shorter), or 0: every token collides with the key of its length.
    monkeypatch.setattr(text, "_HASH_MULTIPLIER", np.uint64(0))
    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["ab", "xyz", "long_word_here"], np.eye(3, 2, dtype=np.float32))
    documents = ["ab cd xyz xya", "xy zz ab", "long_word_here long_word_hera"]
    vectorizer = KeyedVectorsVectorizer(kv).fit(documents)
    assert vectorizer._ascii_vocabulary is not None
    dtm = vectorizer._document_term_matrix(documents)
    _assert_same_csr(dtm, _general_document_term_matrix(vectorizer, documents))
    np.testing.assert_array_equal(dtm.indices, [0, 1, 0, 2])

    # Two keys of the same length share the hash: the general path is used.
    kv.add_vectors(["abc"], np.ones((1, 2), dtype=np.float32))
    assert text._AsciiVocabulary.build(kv.index_to_key) is None
    vectorizer = KeyedVectorsVectorizer(kv).fit(documents)
    assert vectorizer._ascii_vocabulary is None
    np.testing.assert_array_equal(
        vectorizer._document_term_matrix(["abc xyz"]).indices, [3, 1]
    )


def test_words_added_to_the_vectors_after_fit_are_used(keyed_vectors, documents):
    vectorizer = KeyedVectorsVectorizer(keyed_vectors).fit(documents)
    keyed_vectors.add_vectors(["unknown"], np.ones((1, 6), dtype=np.float32))
    X = vectorizer.transform(["unknown"])
    np.testing.assert_array_equal(X, np.ones((1, 6), dtype=np.float32))
