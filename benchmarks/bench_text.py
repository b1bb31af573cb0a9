"""Word-vector pooling: throughput against gensim's loop, and the Lee corpus check.

1. Throughput. ``KeyedVectorsVectorizer.transform`` (mean pooling: tokenise,
   sparse document-term matrix, one sparse-dense product) against the peer,
   gensim's own per-document loop ``KeyedVectors.get_mean_vector``, on the
   same synthetic 20-token documents and vectors, in the same run. Medians of
   repeats; the mean-pooled outputs are checked to agree. The default token
   pattern and ``tokenizer=str.split`` take the vectorised path for ASCII
   text; a custom tokenizer shows the per-document Python path. The target
   is 200,000 documents/s (issue 5); on a shared machine the rate per
   CPU-second is the estimate for an idle one.
2. Lee corpus (Lee, Pincombe and Welsh, 2005; shipped with gensim): train
   ``Word2VecVectorizer`` on ``lee_background.cor``, embed the 50 documents of
   ``lee.cor`` and report the Pearson correlation between document-vector
   cosines and the averaged human similarity judgements
   (``similarities0-1.txt``, upper triangle: 1,225 pairs), for each pooling.

Usage: python benchmarks/bench_text.py [--quick]
"""

import argparse
import re
import time
import warnings

import numpy as np
from gensim.models import KeyedVectors
from gensim.test.utils import datapath
from scipy.stats import pearsonr
from sklearn.feature_extraction.text import TfidfVectorizer

from skcrossmodal.feature_extraction import KeyedVectorsVectorizer, Word2VecVectorizer


def median_time(function, repeats):
    """Median wall-clock and CPU (process) seconds of ``function()``.

    On a shared, loaded machine the CPU time of this single-threaded work is
    the better estimate of what an idle machine gives.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(wall)), float(np.median(cpu)), result


def throughput(n_documents, n_peer, repeats):
    rng = np.random.default_rng(0)
    n_words, dim, length = 50_000, 100, 20
    words = np.array([f"word{i}" for i in range(n_words)])
    kv = KeyedVectors(vector_size=dim)
    kv.add_vectors(list(words), rng.standard_normal((n_words, dim)).astype(np.float32))
    # Zipf-like word frequencies, and 10% of tokens out of the vocabulary.
    ids = (rng.zipf(1.3, size=(n_documents, length)) - 1) % n_words
    tokens = words[ids].astype(object)
    tokens[rng.random(tokens.shape) < 0.1] = "unknownword"
    documents = [" ".join(row) for row in tokens]

    print(
        f"Throughput: {n_documents:,} documents of {length} tokens, "
        f"{n_words:,} words x {dim} dims, mean pooling, median of {repeats}"
    )
    peer = documents[:n_peer]
    peer_wall, peer_cpu, expected = median_time(
        lambda: np.array(
            [kv.get_mean_vector(d.split(), pre_normalize=False) for d in peer]
        ),
        repeats,
    )
    rows = [
        (
            "gensim get_mean_vector loop (peer)",
            n_peer / peer_wall,
            n_peer / peer_cpu,
            None,
        )
    ]
    variants = {
        "KeyedVectorsVectorizer, tokenizer=str.split": dict(
            tokenizer=str.split, lowercase=False
        ),
        "KeyedVectorsVectorizer, default regex + lowercase": {},
        "KeyedVectorsVectorizer, custom tokenizer (Python)": dict(
            tokenizer=re.compile(r"\S+").findall, lowercase=False
        ),
    }
    for label, params in variants.items():
        vectorizer = KeyedVectorsVectorizer(kv, **params).fit(documents[:1000])
        wall, cpu, X = median_time(
            lambda vectorizer=vectorizer: vectorizer.transform(documents), repeats
        )
        difference = float(np.abs(X[:n_peer] - expected).max())
        rows.append((label, n_documents / wall, n_documents / cpu, difference))
    print(
        f"{'method':50s} {'docs/s':>9s} {'ratio':>6s} {'docs/CPU-s':>10s} "
        f"{'ratio':>6s} {'max|diff|':>9s}"
    )
    _, peer_rate, peer_cpu_rate, _ = rows[0]
    for label, rate, cpu_rate, difference in rows:
        shown = "" if difference is None else f"{difference:.1e}"
        print(
            f"{label:50s} {rate:9,.0f} {rate / peer_rate:5.1f}x {cpu_rate:10,.0f} "
            f"{cpu_rate / peer_cpu_rate:5.1f}x {shown:>9s}"
        )
    target = 200_000
    _, rate, cpu_rate, _ = rows[2]
    print(
        f"Target >= {target:,} docs/s (default tokenisation): "
        f"{'met' if rate >= target else 'not met'} in wall-clock time, "
        f"{'met' if cpu_rate >= target else 'not met'} per CPU-second."
    )


def read_lines(name):
    with open(datapath(name), encoding="utf-8", errors="replace") as file:
        return [line.strip() for line in file if line.strip()]


def lee_correlation(seeds, epochs):
    background = read_lines("lee_background.cor")
    documents = read_lines("lee.cor")
    human = np.loadtxt(datapath("similarities0-1.txt"))
    assert len(documents) == 50 and human.shape == (50, 50)
    upper = np.triu_indices(50, k=1)

    def correlation(X):
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        return pearsonr((X @ X.T)[upper], human[upper]).statistic

    print(
        f"\nLee corpus: Word2Vec (skip-gram, 100 dims, window 5, min_count 2, "
        f"{epochs} epochs) trained on lee_background.cor ({len(background)} docs);"
    )
    print(
        "Pearson r between cosines of the 50 lee.cor documents and the human "
        f"judgements (1,225 pairs), seeds {list(seeds)}"
    )
    print(f"{'pooling':28s} {'mean r':>7s} {'min r':>7s} {'max r':>7s}")
    results = {pooling: [] for pooling in ["mean", "tfidf", "sif"]}
    seconds = []
    for seed in seeds:
        start = time.perf_counter()
        trained = Word2VecVectorizer(
            vector_size=100,
            context_window=5,
            min_count=2,
            sg=1,
            epochs=epochs,
            random_state=seed,
        ).fit(background)
        seconds.append(time.perf_counter() - start)
        for pooling in results:
            # Same vectors, other pooling: equal to Word2VecVectorizer(pooling=...)
            # with this seed, without training again.
            vectorizer = KeyedVectorsVectorizer(trained.keyed_vectors_, pooling=pooling)
            vectorizer.fit(background)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results[pooling].append(correlation(vectorizer.transform(documents)))
    for pooling, values in results.items():
        print(
            f"Word2Vec + {pooling:17s} {np.mean(values):7.3f} {np.min(values):7.3f} "
            f"{np.max(values):7.3f}"
        )
    tfidf = TfidfVectorizer(sublinear_tf=True).fit(background)
    baseline = correlation(tfidf.transform(documents).toarray())
    print(f"{'(tf-idf bag of words)':28s} {baseline:7.3f}")
    print(f"Word2Vec training: median {np.median(seconds):.1f} s per seed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    args = parser.parse_args()
    if args.quick:
        throughput(n_documents=50_000, n_peer=5_000, repeats=3)
        lee_correlation(seeds=[0], epochs=10)
    else:
        throughput(n_documents=200_000, n_peer=20_000, repeats=5)
        lee_correlation(seeds=[0, 1, 2], epochs=20)


if __name__ == "__main__":
    main()
