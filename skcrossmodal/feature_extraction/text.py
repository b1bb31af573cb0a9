"""Text feature extraction: word vectors pooled into one vector per document.

Both vectorizers share one pooling implementation: the documents are tokenised,
turned into a sparse document-term matrix over the words that have a vector,
weighted (mean, tf-idf or smooth inverse frequency) and multiplied by the word
vector matrix, so no Python loop runs per document after tokenisation. With the
default token pattern or ``tokenizer=str.split``, ASCII documents are also
tokenised without a Python loop: over the bytes of the joined documents, with
tokens looked up by a 64-bit hash of their bytes, verified against the key
(:class:`_AsciiVocabulary`); the result is the same matrix.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import os
import re
import warnings
from itertools import chain, repeat
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from gensim.models import KeyedVectors
from gensim.models.callbacks import CallbackAny2Vec
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._dask import is_dask_collection
from .._distributed_extract import keep_dask_output
from .._estimator import Progress, fit_context

__all__ = ["Word2VecVectorizer", "KeyedVectorsVectorizer"]

# gensim's training loop truncates longer sentences; longer documents are cut
# into pieces of this many tokens for training so that no token is dropped.
_MAX_TRAINING_SENTENCE = 10_000

_DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_FAST_DEFAULT_TOKEN_REGEX = re.compile(r"\w\w+")


def _validate_documents(raw_documents, estimator, rows=None):
    """Return the documents as a list of non-empty strings, or raise naming the row.

    ``rows`` names the documents in errors (default: their positions).
    """
    name = type(estimator).__name__
    if isinstance(raw_documents, (str, bytes)):
        raise ValueError(
            f"{name} expects a 1-D sequence of documents, got a single "
            f"{type(raw_documents).__name__}; wrap it in a list."
        )
    if isinstance(raw_documents, pd.DataFrame):
        raise ValueError(
            f"{name} expects a 1-D sequence of documents (one text column), got a "
            f"DataFrame with columns {list(raw_documents.columns)}; select the "
            "column, or route it with skcrossmodal.compose.make_modality_union."
        )
    if isinstance(raw_documents, np.ndarray) and raw_documents.ndim != 1:
        raise ValueError(
            f"{name} expects a 1-D sequence of documents, got an array of shape "
            f"{raw_documents.shape}."
        )
    try:
        documents = list(raw_documents)
    except TypeError:
        raise ValueError(
            f"{name} expects a 1-D sequence of documents, got "
            f"{type(raw_documents).__name__}."
        ) from None
    if not documents:
        raise ValueError(f"{name} needs at least one document, got an empty sequence.")
    if not all(issubclass(kind, str) for kind in set(map(type, documents))):
        row, document = next(
            (i, d) for i, d in enumerate(documents) if not isinstance(d, str)
        )
        row = row if rows is None else rows[row]
        raise ValueError(
            f"Document in row {row} is a {type(document).__name__} ({document!r}); "
            f"{name} expects non-empty strings. Fill or drop missing text before "
            "extracting features."
        )
    lengths = np.fromiter(map(len, documents), dtype=np.intp, count=len(documents))
    blank = lengths == 0
    blank |= np.fromiter(map(str.isspace, documents), dtype=bool, count=len(documents))
    if blank.any():
        position = int(np.flatnonzero(blank)[0])
        row = position if rows is None else rows[position]
        raise ValueError(
            f"Document in row {row} is empty ({documents[position]!r}); {name} expects "
            "non-empty strings. Fill or drop empty text before extracting features."
        )
    return documents


def _csr_from_word_ids(word_ids, token_indptr, n_words, dtype):
    """Count matrix from each token's word id (-1: unknown, left out).

    ``token_indptr[i]:token_indptr[i + 1]`` are the tokens of document ``i``. A
    document's repeated tokens are separate entries of its row (not summed):
    sparse products and row sums treat them as counts, which saves a sort per
    row.
    """
    known = word_ids >= 0
    known_before = np.zeros(word_ids.shape[0] + 1, dtype=np.int64)
    np.cumsum(known, out=known_before[1:])
    indptr = known_before[token_indptr]
    word_ids = word_ids[known]
    data = np.ones(word_ids.shape[0], dtype=dtype)
    n_documents = token_indptr.shape[0] - 1
    return sp.csr_matrix((data, word_ids, indptr), shape=(n_documents, n_words))


def _document_term_matrix(tokenized, key_to_index, n_words, dtype):
    """Count matrix of shape (n_documents, n_words) over the known tokens."""
    n_documents = len(tokenized)
    lengths = np.fromiter(map(len, tokenized), dtype=np.intp, count=n_documents)
    token_indptr = np.zeros(n_documents + 1, dtype=np.int64)
    np.cumsum(lengths, out=token_indptr[1:])
    n_tokens = int(token_indptr[-1])
    word_ids = np.fromiter(
        map(key_to_index.get, chain.from_iterable(tokenized), repeat(-1, n_tokens)),
        dtype=np.int64,
        count=n_tokens,
    )
    return _csr_from_word_ids(word_ids, token_indptr, n_words, dtype)


# Tokenisations with a vectorised path on ASCII text, as a translation table
# marking the bytes that belong to tokens, and the shortest token: the default
# token pattern (runs of two or more \w characters) and str.split (runs of
# non-whitespace).
_ASCII_WORD_BYTES = bytes(c.isalnum() or c == "_" for c in map(chr, range(128)))
_ASCII_WORD_BYTES += bytes(128)
_ASCII_NON_SPACE_BYTES = bytes(not c.isspace() for c in map(chr, range(128)))
_ASCII_NON_SPACE_BYTES += bytes(128)
# Separates documents and ends the buffer: never part of a token, and lets the
# 8-byte reads of a token run past its end.
_SEPARATOR = "\n"
_PADDING = _SEPARATOR * 8
# Documents are tokenised in pieces of about this many characters, which
# bounds the memory of the temporary arrays (several bytes per character).
_CHUNK_CHARACTERS = 1 << 20
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
# _LOW_BYTES[k]: the lowest k bytes of a little-endian 8-byte word.
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


def _hash_tokens(data, starts, lengths, max_length):
    """64-bit hash of each token ``data[start:start + length]``, and its words.

    A token is read as little-endian 8-byte words, the bytes past its end
    zeroed; only its first ``max_length`` bytes are read. Returns the hashes
    and, for each offset 0, 8, 16, ..., the rows of the tokens longer than
    the offset (None: all) and their word there.
    """
    # Element i is data[i:i + 8] read as one little-endian 8-byte integer.
    words_at = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    first = words_at[starts] & _LOW_BYTES[np.minimum(lengths, 8)]
    hashes = (first * _HASH_MULTIPLIER) ^ lengths.astype(np.uint64)
    words = [(None, first)]
    for offset in range(8, min(int(lengths.max(initial=0)), max_length), 8):
        rows = np.flatnonzero(lengths > offset)
        word = (
            words_at[starts[rows] + offset]
            & _LOW_BYTES[np.minimum(lengths[rows] - offset, 8)]
        )
        hashes[rows] = (hashes[rows] ^ word) * _HASH_MULTIPLIER
        words.append((rows, word))
    return hashes, words


class _AsciiVocabulary:
    """Exact lookup of ASCII tokens, given by position in a byte buffer.

    Tokens are hashed (:func:`_hash_tokens`) and looked up in a hash index of
    the hashes of the ASCII keys; a hit counts only if the token's length and
    words equal the key's, so a hash collision cannot merge two words.
    ``build`` returns None if two keys share a hash (then the general path
    is used).
    """

    @classmethod
    def build(cls, keys):
        keys = list(keys)
        is_ascii = np.fromiter(map(str.isascii, keys), dtype=bool, count=len(keys))
        word_ids = np.flatnonzero(is_ascii)
        lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
        lengths = lengths[word_ids]
        # Longest first: the keys longer than an offset are a prefix of the
        # table, so the words at each offset are stored for those only.
        by_length = np.argsort(-lengths, kind="stable")
        word_ids, lengths = word_ids[by_length], lengths[by_length]
        data = ("".join([keys[i] for i in word_ids]) + _PADDING).encode("ascii")
        starts = np.zeros_like(lengths)
        np.cumsum(lengths[:-1], out=starts[1:])
        max_length = int(lengths.max(initial=0))
        hashes, words = _hash_tokens(data, starts, lengths, max_length)
        index = pd.Index(hashes)
        if not index.is_unique:
            return None
        vocabulary = cls()
        vocabulary.n_keys = len(keys)
        vocabulary.max_length = max_length
        vocabulary.index = index
        # A last entry that matches no token, for the tokens without a hit
        # (index -1).
        vocabulary.word_ids = np.append(word_ids, -1)
        vocabulary.lengths = np.append(lengths, 0)
        vocabulary.words = [np.append(words[0][1], 0)]
        vocabulary.words += [word for _, word in words[1:]]
        return vocabulary

    def lookup(self, data, starts, lengths):
        """Word id of each token ``data[start:start + length]``, -1 if unknown."""
        hashes, words = _hash_tokens(data, starts, lengths, self.max_length)
        entry = self.index.get_indexer(hashes)
        same = self.lengths[entry] == lengths
        same &= self.words[0][entry] == words[0][1]
        # The tokens looked up may all be shorter than the longest key, and
        # then have fewer chunks of words than the keys.
        for (rows, word), key_words in zip(words[1:], self.words[1:], strict=False):
            # Where the lengths are equal, the key is longer than the offset.
            checked = same[rows]
            same[rows[checked]] = key_words[entry[rows[checked]]] == word[checked]
        entry[~same] = -1
        return self.word_ids[entry]


def _ascii_token_ids(
    documents, document_lengths, token_bytes, min_length, lowercase, vocabulary
):
    """Word ids of the tokens of ASCII documents, and each document's first token.

    Tokens are the runs of bytes marked in ``token_bytes``, at least
    ``min_length`` long, after ASCII lower-casing if ``lowercase``.
    """
    joined = _SEPARATOR.join(["", *documents, _PADDING]).encode("ascii")
    if lowercase:
        joined = joined.lower()
    in_token = np.frombuffer(joined.translate(token_bytes), dtype=bool)
    edges = np.flatnonzero(in_token[1:] != in_token[:-1]) + 1
    starts, lengths = edges[::2], edges[1::2] - edges[::2]
    long_enough = lengths >= min_length
    starts, lengths = starts[long_enough], lengths[long_enough]
    # Document i starts after the separators before it and documents 0..i-1.
    document_starts = np.zeros(len(documents) + 1, dtype=np.int64)
    np.cumsum(document_lengths + 1, out=document_starts[1:])
    document_starts += 1
    token_indptr = np.searchsorted(starts, document_starts)
    return vocabulary.lookup(joined, starts, lengths), token_indptr


def _ascii_document_term_matrix(
    documents, token_bytes, min_length, lowercase, vocabulary, n_words, dtype
):
    """:func:`_document_term_matrix` of ASCII documents, vectorised over bytes."""
    n_documents = len(documents)
    document_lengths = np.fromiter(
        map(len, documents), dtype=np.int64, count=n_documents
    )
    chunk = np.cumsum(document_lengths) // _CHUNK_CHARACTERS
    bounds = [0, *(np.flatnonzero(np.diff(chunk)) + 1), n_documents]
    word_ids, token_indptr = [], [np.zeros(1, dtype=np.int64)]
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        chunk_word_ids, chunk_indptr = _ascii_token_ids(
            documents[start:stop],
            document_lengths[start:stop],
            token_bytes,
            min_length,
            lowercase,
            vocabulary,
        )
        token_indptr.append(chunk_indptr[1:] + token_indptr[-1][-1])
        word_ids.append(chunk_word_ids)
    return _csr_from_word_ids(
        np.concatenate(word_ids), np.concatenate(token_indptr), n_words, dtype
    )


class _WordVectorPooling(TransformerMixin, BaseEstimator):
    """Tokenisation and pooling shared by the word-vector vectorizers.

    A subclass implements ``_fit_word_vectors(documents) -> KeyedVectors`` and
    sets ``_feature_prefix``.
    """

    _parameter_constraints: dict = {
        "pooling": [StrOptions({"mean", "tfidf", "sif"})],
        "sif_alpha": [Interval(Real, 0, None, closed="neither")],
        "tokenizer": [callable, None],
        "token_pattern": [str],
        "lowercase": ["boolean"],
    }

    _feature_prefix = "wv"

    def _fit_word_vectors(self, documents):  # pragma: no cover - abstract
        raise NotImplementedError

    def _tokenize(self, documents):
        if self.lowercase:
            documents = map(str.lower, documents)
        if self.tokenizer is not None:
            tokenize = self.tokenizer
        elif self.token_pattern == _DEFAULT_TOKEN_PATTERN:
            # Same matches: every maximal run of word characters is found from
            # its start, and \w\w+ is greedy. The word boundaries cost time.
            tokenize = _FAST_DEFAULT_TOKEN_REGEX.findall
        else:
            tokenize = re.compile(self.token_pattern).findall
        return list(map(tokenize, documents))

    def _ascii_tokenization(self):
        """``(token_bytes, min_length)`` if the tokenisation has an ASCII fast path."""
        if self.tokenizer is None and self.token_pattern == _DEFAULT_TOKEN_PATTERN:
            return _ASCII_WORD_BYTES, 2
        if self.tokenizer is str.split:
            return _ASCII_NON_SPACE_BYTES, 1
        return None

    def _document_term_matrix(self, documents):
        """Count matrix of the documents' known tokens, shape (n_documents, n_words).

        ASCII documents take a vectorised path when the tokenisation allows
        (see :meth:`_ascii_tokenization`); it gives the same matrix as
        tokenising each document in Python.
        """
        keyed_vectors = self.keyed_vectors_
        n_words, dtype = keyed_vectors.vectors.shape[0], keyed_vectors.vectors.dtype
        tokenization = self._ascii_tokenization()
        vocabulary = self._ascii_vocabulary
        if vocabulary is not None and vocabulary.n_keys != len(keyed_vectors):
            # Words were added to the vectors after fit.
            vocabulary = _AsciiVocabulary.build(keyed_vectors.index_to_key)
        is_ascii = np.fromiter(
            map(str.isascii, documents), dtype=bool, count=len(documents)
        )
        if tokenization is None or vocabulary is None or not is_ascii.any():
            return _document_term_matrix(
                self._tokenize(documents), keyed_vectors.key_to_index, n_words, dtype
            )
        if is_ascii.all():
            return _ascii_document_term_matrix(
                documents, *tokenization, self.lowercase, vocabulary, n_words, dtype
            )
        ascii_rows, other_rows = np.flatnonzero(is_ascii), np.flatnonzero(~is_ascii)
        ascii_dtm = _ascii_document_term_matrix(
            [documents[i] for i in ascii_rows],
            *tokenization,
            self.lowercase,
            vocabulary,
            n_words,
            dtype,
        )
        other_dtm = _document_term_matrix(
            self._tokenize([documents[i] for i in other_rows]),
            keyed_vectors.key_to_index,
            n_words,
            dtype,
        )
        order = np.argsort(np.concatenate([ascii_rows, other_rows]))
        return sp.vstack([ascii_dtm, other_dtm], format="csr")[order]

    def _fit_pooling_weights(self, dtm):
        n_documents, n_words = dtm.shape
        if self.pooling == "tfidf":
            # Smooth idf, as TfidfTransformer: a word never seen in the training
            # documents gets the largest weight.
            unique = dtm.copy()
            unique.sum_duplicates()
            document_frequency = np.bincount(unique.indices, minlength=n_words)
            idf = np.log((1 + n_documents) / (1 + document_frequency)) + 1
            self.word_weights_ = idf.astype(dtm.dtype)
        elif self.pooling == "sif":
            term_counts = np.bincount(dtm.indices, minlength=n_words)
            total = term_counts.sum()
            probability = term_counts / total if total else np.zeros(n_words)
            self.word_weights_ = (
                self.sif_alpha / (self.sif_alpha + probability)
            ).astype(dtm.dtype)
        else:
            self.word_weights_ = None

    def _pool(self, dtm, *, fit=False):
        """Pool the word vectors of each row of ``dtm``; empty rows stay zero."""
        n_tokens = np.diff(dtm.indptr)
        if self.word_weights_ is not None:
            dtm.data *= self.word_weights_[dtm.indices]
        if self.pooling == "tfidf":
            norm = np.asarray(dtm.sum(axis=1)).ravel()
        else:
            norm = n_tokens.astype(dtm.dtype)
        empty = n_tokens == 0
        scale = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)
        dtm.data *= np.repeat(scale, n_tokens).astype(dtm.dtype, copy=False)
        embedding = np.asarray(dtm @ self.keyed_vectors_.vectors)
        if self.pooling == "sif":
            if fit:
                # First right singular vector of the (uncentred) training
                # document vectors, as in Arora et al.'s reference code.
                _, eigenvectors = np.linalg.eigh(
                    embedding.T.astype(np.float64) @ embedding
                )
                self.principal_component_ = eigenvectors[:, -1].astype(embedding.dtype)
            component = self.principal_component_
            embedding -= np.outer(embedding @ component, component)
        return embedding, empty

    def _warn_empty(self, empty):
        n_empty = int(empty.sum())
        if n_empty:
            rows = np.flatnonzero(empty)
            shown = ", ".join(map(str, rows[:5])) + (", ..." if n_empty > 5 else "")
            warnings.warn(
                f"{n_empty} of {empty.shape[0]} documents have no word with a vector "
                f"(rows {shown}); {type(self).__name__} gives them a zero vector.",
                UserWarning,
                stacklevel=3,
            )
        return n_empty

    def _fit(self, raw_documents, *, return_embedding):
        if is_dask_collection(raw_documents):
            raise TypeError(
                f"{type(self).__name__} cannot be fitted on a Dask collection: its "
                "fit needs all the fitted documents in one process (to train or "
                "load the word vectors and learn the pooling weights). Fit it on a "
                "sample that fits in memory, e.g. "
                "fit(ddf['caption'].sample(frac=0.1).compute()), then transform "
                "the Dask DataFrame: transform runs on the workers."
            )
        documents = _validate_documents(raw_documents, self)
        self.keyed_vectors_ = self._fit_word_vectors(documents)
        self._ascii_vocabulary = (
            _AsciiVocabulary.build(self.keyed_vectors_.index_to_key)
            if self._ascii_tokenization() is not None
            else None
        )
        dtm = self._document_term_matrix(documents)
        self._fit_pooling_weights(dtm)
        if return_embedding or self.pooling == "sif":
            embedding, empty = self._pool(dtm, fit=True)
        else:
            embedding, empty = None, np.diff(dtm.indptr) == 0
        self.n_empty_documents_ = self._warn_empty(empty)
        return embedding

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, raw_documents, y=None):
        """Learn the word vectors (where trained) and the pooling weights.

        Parameters
        ----------
        raw_documents : 1-D sequence of str
            Non-empty documents, e.g. a DataFrame column.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted vectorizer.
        """
        self._fit(raw_documents, return_embedding=False)
        return self

    @fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, raw_documents, y=None):
        """Fit, then return the pooled vector of each training document.

        Parameters
        ----------
        raw_documents : 1-D sequence of str
            Non-empty documents, e.g. a DataFrame column.
        y : None
            Ignored.

        Returns
        -------
        X : ndarray of shape (n_documents, n_features)
            Document vectors, zero for documents without a known word.
        """
        return self._fit(raw_documents, return_embedding=True)

    def transform(self, raw_documents):
        """Pool the word vectors of each document into one vector.

        Documents with no known word get a zero vector, and one warning per
        call says how many there are.

        Parameters
        ----------
        raw_documents : 1-D sequence of str or Dask DataFrame
            Non-empty documents. A Dask DataFrame (or Series) of one text
            column is pooled lazily, partition by partition, on the workers
            (docs/scaling.md).

        Returns
        -------
        X : ndarray of shape (n_documents, n_features) or Dask DataFrame
            Document vectors, in the dtype of the word vectors; a lazy Dask
            DataFrame (columns :meth:`get_feature_names_out`, the input's
            index) for a Dask input.
        """
        check_is_fitted(self)
        if is_dask_collection(raw_documents):
            from .._distributed_extract import transform_dask

            return transform_dask(self, raw_documents)
        return self._transform_rows(raw_documents)

    def _transform_rows(self, raw_documents, rows=None):
        documents = _validate_documents(raw_documents, self, rows=rows)
        dtm = self._document_term_matrix(documents)
        embedding, empty = self._pool(dtm)
        self._warn_empty(empty)
        return embedding

    def _output_dtype(self):
        return self.keyed_vectors_.vectors.dtype

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: ``<prefix>0``, ``<prefix>1``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; the output does not depend on input names.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        n_features = self.keyed_vectors_.vector_size
        return np.asarray(
            [f"{self._feature_prefix}{k}" for k in range(n_features)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.transformer_tags.preserves_dtype = []
        return tags


_WordVectorPooling.transform = keep_dask_output(_WordVectorPooling.transform)


_POOLING_DOC = """\
    pooling : {"mean", "tfidf", "sif"}, default="mean"
        How a document's word vectors become one vector. ``"mean"``: the
        average over the document's tokens that have a vector (repeats
        count). ``"tfidf"``: the average weighted by term count times the
        smooth idf ``ln((1 + n) / (1 + df)) + 1`` learnt on the fitted
        documents. ``"sif"``: smooth inverse frequency (Arora, Liang and Ma,
        ICLR 2017): the average of ``a / (a + p(w))``-weighted vectors, where
        ``p(w)`` is the word's relative frequency among the known tokens of the
        fitted documents and ``a`` is ``sif_alpha``, minus the projection on
        the first principal component (uncentred) of the fitted documents'
        vectors."""


class Word2VecVectorizer(_WordVectorPooling):
    __doc__ = f"""Train word2vec on the fitted documents and pool word vectors.

    ``fit`` trains a gensim :class:`~gensim.models.Word2Vec` model on the
    tokenised documents; ``transform`` pools the vectors of each document's
    words into one vector (see ``pooling``).

    Training is bit-reproducible only with ``n_jobs=1`` (the default) and a
    fixed ``random_state``: with several worker threads, gensim's updates
    depend on thread scheduling, so two fits with ``n_jobs>1`` and the same
    seed give (slightly) different vectors.

    Parameters
    ----------
    vector_size : int, default=100
        Dimension of the word (and document) vectors.
    context_window : int, default=5
        Largest distance between the current and a predicted word (gensim's
        ``window``).
    min_count : int, default=1
        Words with fewer occurrences in the fitted documents get no vector.
    sg : {{0, 1}}, default=0
        1 for skip-gram, 0 for CBOW.
    epochs : int, default=5
        Passes over the documents.
{_POOLING_DOC}
    tokenizer : callable, default=None
        Maps a (lower-cased, if ``lowercase``) document to its list of tokens.
        None uses ``token_pattern``.
    token_pattern : str, default=r"(?u)\\b\\w\\w+\\b"
        Regular expression whose matches (``re.findall``) are the tokens, as
        in :class:`~sklearn.feature_extraction.text.CountVectorizer`. Ignored
        when ``tokenizer`` is given.
    lowercase : bool, default=True
        Lower-case documents before tokenising.
    sif_alpha : float, default=1e-3
        The ``a`` of SIF weighting; Arora et al. recommend 1e-3 to 1e-4.
    n_jobs : int, default=None
        Training threads (gensim's ``workers``). None means 1 unless in a
        :obj:`joblib.parallel_backend` context; -1 means all processors.
        Results are bit-reproducible only with 1.
    random_state : int, RandomState instance or None, default=None
        Seeds gensim's initialisation, negative sampling and down-sampling.
    verbose : int, default=0
        1 reports the end of each training epoch on stderr, as
        ``[Word2VecVectorizer] epoch 3/5: 1204 words (0.4 s)``.

    Attributes
    ----------
    keyed_vectors_ : gensim.models.KeyedVectors
        The trained word vectors.
    word_weights_ : ndarray of shape (n_words,) or None
        Per-word pooling weights (idf for ``"tfidf"``, ``a / (a + p(w))`` for
        ``"sif"``); None for ``"mean"``.
    principal_component_ : ndarray of shape (vector_size,)
        The component removed by ``"sif"`` pooling (only then).
    n_empty_documents_ : int
        Fitted documents without any word that has a vector (zero vectors).

    See Also
    --------
    KeyedVectorsVectorizer : Pool pretrained word vectors instead.

    Examples
    --------
    >>> from skcrossmodal.feature_extraction import Word2VecVectorizer
    >>> docs = ["a cat sat on the mat", "a dog sat on the log", "cats and dogs"]
    >>> vectorizer = Word2VecVectorizer(vector_size=8, random_state=0)
    >>> vectorizer.fit_transform(docs).shape
    (3, 8)
    >>> vectorizer.get_feature_names_out()[:3]
    array(['w2v0', 'w2v1', 'w2v2'], dtype=object)
    """

    _parameter_constraints: dict = {
        **_WordVectorPooling._parameter_constraints,
        "vector_size": [Interval(Integral, 1, None, closed="left")],
        "context_window": [Interval(Integral, 1, None, closed="left")],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "sg": [Options(Integral, {0, 1})],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    _feature_prefix = "w2v"

    def __init__(
        self,
        vector_size=100,
        *,
        context_window=5,
        min_count=1,
        sg=0,
        epochs=5,
        pooling="mean",
        tokenizer=None,
        token_pattern=_DEFAULT_TOKEN_PATTERN,
        lowercase=True,
        sif_alpha=1e-3,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.vector_size = vector_size
        self.context_window = context_window
        self.min_count = min_count
        self.sg = sg
        self.epochs = epochs
        self.pooling = pooling
        self.tokenizer = tokenizer
        self.token_pattern = token_pattern
        self.lowercase = lowercase
        self.sif_alpha = sif_alpha
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _fit_word_vectors(self, documents):
        from gensim.models import Word2Vec

        tokenized = self._tokenize(documents)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        sentences = [
            tokens[start : start + _MAX_TRAINING_SENTENCE]
            for tokens in tokenized
            for start in range(0, len(tokens), _MAX_TRAINING_SENTENCE)
        ]
        model = Word2Vec(
            vector_size=self.vector_size,
            window=self.context_window,
            min_count=self.min_count,
            sg=self.sg,
            workers=effective_n_jobs(self.n_jobs),
            seed=seed,
        )
        try:
            model.build_vocab(sentences)
        except RuntimeError:
            pass
        if len(model.wv) == 0:
            raise ValueError(
                f"No word occurs at least min_count={self.min_count} times in the "
                f"{len(tokenized)} training documents (tokens found: "
                f"{sum(map(len, tokenized))}); lower min_count or check the "
                "tokenizer/token_pattern."
            )
        progress = Progress(self, self.verbose)
        callbacks = [_EpochProgress(progress, self.epochs)] if progress else []
        model.train(
            sentences,
            total_examples=model.corpus_count,
            epochs=self.epochs,
            callbacks=callbacks,
        )
        return model.wv


class _EpochProgress(CallbackAny2Vec):
    """Gensim callback reporting each finished training epoch."""

    def __init__(self, progress, n_epochs):
        self.progress = progress
        self.n_epochs = n_epochs
        self.epoch = 0

    def on_epoch_end(self, model):
        self.epoch += 1
        self.progress(f"epoch {self.epoch}/{self.n_epochs}", f"{len(model.wv)} words")


class KeyedVectorsVectorizer(_WordVectorPooling):
    __doc__ = f"""Pool pretrained word vectors into one vector per document.

    ``fit`` loads the vectors (lazily: the path is only read there) and learns
    the pooling weights from the fitted documents; the vectors themselves are
    not changed.

    Parameters
    ----------
    vectors : str, path-like or gensim.models.KeyedVectors
        The word vectors: a gensim ``KeyedVectors`` object, or the path of a
        word2vec text or binary file (``V D`` header line), a GloVe text file
        (no header) or a fastText ``.vec`` file (word2vec text format). A
        vector with NaN or infinity raises a ``ValueError`` naming its word;
        so does a directory given as the path.
{_POOLING_DOC}
    binary : bool, default=None
        Whether the file is in word2vec binary format; None detects it.
    no_header : bool, default=None
        Whether the text file lacks the ``V D`` header line (GloVe); None
        detects it.
    limit : int, default=None
        Read only the first ``limit`` vectors of the file (the most frequent
        words, in the usual files); None reads all.
    tokenizer : callable, default=None
        Maps a (lower-cased, if ``lowercase``) document to its list of tokens.
        None uses ``token_pattern``.
    token_pattern : str, default=r"(?u)\\b\\w\\w+\\b"
        Regular expression whose matches (``re.findall``) are the tokens.
        Ignored when ``tokenizer`` is given.
    lowercase : bool, default=True
        Lower-case documents before tokenising (set False for cased vectors).
    sif_alpha : float, default=1e-3
        The ``a`` of SIF weighting; Arora et al. recommend 1e-3 to 1e-4.
    verbose : int, default=0
        1 reports on stderr when a word-vector file has been read, as
        ``[KeyedVectorsVectorizer] read vectors: 400000 words x 300 from
        'glove.txt' (31.2 s)``.

    Attributes
    ----------
    keyed_vectors_ : gensim.models.KeyedVectors
        The loaded word vectors (``vectors`` itself when an object was given).
    word_weights_ : ndarray of shape (n_words,) or None
        Per-word pooling weights (idf for ``"tfidf"``, ``a / (a + p(w))`` for
        ``"sif"``); None for ``"mean"``.
    principal_component_ : ndarray of shape (vector_size,)
        The component removed by ``"sif"`` pooling (only then).
    n_empty_documents_ : int
        Fitted documents without any word that has a vector (zero vectors).

    See Also
    --------
    Word2VecVectorizer : Train the word vectors on the documents instead.

    Examples
    --------
    >>> import numpy as np
    >>> from gensim.models import KeyedVectors
    >>> from skcrossmodal.feature_extraction import KeyedVectorsVectorizer
    >>> kv = KeyedVectors(vector_size=2)
    >>> kv.add_vectors(["cat", "dog"], np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> vectorizer = KeyedVectorsVectorizer(kv).fit(["cat", "dog"])
    >>> vectorizer.transform(["cat and dog", "dog"])
    array([[0.5, 0.5],
           [0. , 1. ]], dtype=float32)
    """

    _parameter_constraints: dict = {
        **_WordVectorPooling._parameter_constraints,
        "vectors": [str, os.PathLike, KeyedVectors],
        "binary": ["boolean", None],
        "no_header": ["boolean", None],
        "limit": [Interval(Integral, 1, None, closed="left"), None],
        "verbose": ["verbose"],
    }

    _feature_prefix = "kv"

    def __init__(
        self,
        vectors,
        *,
        pooling="mean",
        binary=None,
        no_header=None,
        limit=None,
        tokenizer=None,
        token_pattern=_DEFAULT_TOKEN_PATTERN,
        lowercase=True,
        sif_alpha=1e-3,
        verbose=0,
    ):
        self.vectors = vectors
        self.pooling = pooling
        self.binary = binary
        self.no_header = no_header
        self.limit = limit
        self.tokenizer = tokenizer
        self.token_pattern = token_pattern
        self.lowercase = lowercase
        self.sif_alpha = sif_alpha
        self.verbose = verbose

    def _fit_word_vectors(self, documents):
        if isinstance(self.vectors, KeyedVectors):
            _check_finite_vectors(self.vectors, "The given KeyedVectors")
            return self.vectors
        progress = Progress(self, self.verbose)
        vectors = _load_word_vectors(
            self.vectors, binary=self.binary, no_header=self.no_header, limit=self.limit
        )
        progress(
            "read vectors",
            f"{len(vectors)} words x {vectors.vector_size} from "
            f"{os.fspath(self.vectors)!r}",
        )
        return vectors


def _check_finite_vectors(keyed_vectors, source):
    """Raise a ValueError naming the words whose vectors have NaN or inf."""
    finite = np.isfinite(keyed_vectors.vectors).all(axis=1)
    if finite.all():
        return
    rows = np.flatnonzero(~finite)
    words = [keyed_vectors.index_to_key[row] for row in rows[:5]]
    more = f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
    raise ValueError(
        f"{source} has NaN or infinite values in the vectors of {len(rows)} "
        f"word{'s' if len(rows) > 1 else ''}: {words}{more}; replace or remove "
        "them: pooling them would make every document that uses them non-finite."
    )


def _sniff_word_vector_format(path):
    """Return ``(binary, no_header)`` for a word2vec/GloVe/fastText file."""

    def is_vector_line(line, size=None):
        fields = line.rstrip().split(" ")
        if len(fields) < 2 or (size is not None and len(fields) != size + 1):
            return False
        try:
            [float(value) for value in fields[1:]]
        except ValueError:
            return False
        return True

    with open(path, "rb") as file:
        first = file.readline()
        second = file.readline()
    try:
        first_text = first.decode("utf-8")
    except UnicodeDecodeError:
        first_text = ""
    header = first_text.split()
    if len(header) == 2 and all(field.isdigit() for field in header):
        size = int(header[1])
        try:
            text_lines = is_vector_line(second.decode("utf-8"), size)
        except UnicodeDecodeError:
            text_lines = False
        return (not text_lines), False
    if first_text and is_vector_line(first_text):
        return False, True
    raise ValueError(
        f"{os.fspath(path)!r} is not a word-vector file: its first line is neither a "
        "'<n_words> <vector_size>' header (word2vec, fastText .vec) nor "
        "'<word> <float> ...' (GloVe)."
    )


def _load_word_vectors(path, *, binary=None, no_header=None, limit=None):
    """Load word vectors from a word2vec, GloVe or fastText ``.vec`` file.

    Parameters
    ----------
    path : str or path-like
        The file.
    binary : bool, default=None
        word2vec binary format; None detects it from the file.
    no_header : bool, default=None
        Text file without the ``V D`` header line (GloVe); None detects it.
    limit : int, default=None
        Read at most this many vectors.

    Returns
    -------
    vectors : gensim.models.KeyedVectors
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(
            f"Word-vector path {path!r} is a directory, expected a file (word2vec, "
            "GloVe or fastText .vec)."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Word-vector file {path!r} does not exist.")
    if binary is None or no_header is None:
        detected_binary, detected_no_header = _sniff_word_vector_format(path)
        binary = detected_binary if binary is None else binary
        no_header = detected_no_header if no_header is None else no_header
    if binary and no_header:
        raise ValueError(
            f"Cannot read {path!r}: gensim reads binary word2vec files only with "
            "their header line (no_header=True needs a text file)."
        )
    kind = (
        "word2vec binary"
        if binary
        else ("GloVe text" if no_header else "word2vec text")
    )
    try:
        vectors = KeyedVectors.load_word2vec_format(
            path, binary=binary, no_header=no_header, limit=limit
        )
    except Exception as exc:
        raise ValueError(
            f"Could not read word vectors from {path!r} as {kind}: {exc}"
        ) from exc
    _check_finite_vectors(vectors, f"Word-vector file {path!r}")
    return vectors
