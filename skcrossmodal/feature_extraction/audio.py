"""Audio feature extraction: log-mel spectrograms and MFCCs in numpy/scipy.

Both extractors share one pipeline: read or take each waveform, resample it,
frame it (centred frames, zero padding), apply a window, take the power
spectrum with ``numpy.fft.rfft``, apply an HTK mel filterbank and a floored
natural log. :class:`MFCCExtractor` then applies an orthonormal DCT-II. The
frames of one waveform are processed at once (no loop over frames).
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import os
import struct
from math import gcd
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from joblib import effective_n_jobs
from scipy.fft import dct
from scipy.io import wavfile
from scipy.signal import get_window, resample_poly
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import gen_even_slices
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_array, check_is_fitted

from .._dask import is_dask_collection
from .._distributed_extract import keep_dask_output
from .._estimator import Progress, fit_context

__all__ = ["LogMelExtractor", "MFCCExtractor", "mel_filterbank"]

# With verbose, transform reports after every chunk of this many inputs.
_PROGRESS_INPUTS = 1000


def _hz_to_mel(frequency):
    """HTK mel scale: ``2595 * log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(frequency, dtype=np.float64) / 700.0)


def _mel_to_hz(mel):
    """Inverse of :func:`_hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sample_rate, n_fft, n_mels=40, fmin=0.0, fmax=None):
    """Triangular mel filterbank on the HTK mel scale.

    Filter ``m`` rises linearly (in Hz) from edge ``m`` to a peak of 1 at edge
    ``m + 1`` and falls to 0 at edge ``m + 2``, where the ``n_mels + 2`` edges
    are equally spaced on the HTK mel scale ``2595 log10(1 + f / 700)`` between
    ``fmin`` and ``fmax``. The filters are not area-normalised (HTK).

    Parameters
    ----------
    sample_rate : float
        Sampling rate in Hz.
    n_fft : int
        FFT length; the filters act on its ``n_fft // 2 + 1`` rfft bins.
    n_mels : int, default=40
        Number of filters.
    fmin : float, default=0.0
        Lowest edge in Hz.
    fmax : float, default=None
        Highest edge in Hz; None is the Nyquist frequency.

    Returns
    -------
    filterbank : ndarray of shape (n_mels, n_fft // 2 + 1)

    Examples
    --------
    >>> from skcrossmodal.feature_extraction.audio import mel_filterbank
    >>> mel_filterbank(8000, 256, n_mels=40).shape
    (40, 129)
    """
    fmax = sample_rate / 2.0 if fmax is None else fmax
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    frequencies = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (frequencies - lower) / (center - lower)
    falling = (upper - frequencies) / (upper - center)
    return np.maximum(0.0, np.minimum(rising, falling))


# Bit depths an integer waveform without one (int64, Python ints) is read as:
# the first whose signed range holds its values.
_UNTYPED_PCM_BITS = (16, 24, 32)


def _to_float(samples, label):
    """Integer PCM to float64 in [-1, 1); floats as float64.

    ``int8``/``int16``/``int32`` are PCM of their width (divided by
    ``2**(bits - 1)``), ``uint8``/``uint16``/``uint32`` offset binary (8-bit
    WAV's convention). 64-bit integers carry no bit depth (Python ints become
    int64): they are PCM of the smallest of 16, 24 or 32 bits whose range
    holds their values; wider values raise.
    """
    samples = np.asarray(samples)
    if samples.dtype.kind not in "iu" or samples.size == 0:
        return samples.astype(np.float64, copy=False)
    bits = 8 * samples.dtype.itemsize
    if bits == 64:
        low, high = int(samples.min()), int(samples.max())
        for bits in _UNTYPED_PCM_BITS:
            if -(2 ** (bits - 1)) <= low and high < 2 ** (bits - 1):
                break
        else:
            raise ValueError(
                f"The integer waveform of {label} has values in [{low}, {high}], "
                "beyond 32-bit PCM. 64-bit integers are read as 16-, 24- or 32-bit "
                "PCM (the smallest that holds the values); pass float samples in "
                "[-1, 1] or an int16/int32 array."
            )
        return samples.astype(np.float64) / 2 ** (bits - 1)
    full_scale = 2 ** (bits - 1)
    if samples.dtype.kind == "u":
        return (samples.astype(np.float64) - full_scale) / full_scale
    return samples.astype(np.float64) / full_scale


# A size field of 0xFFFFFFFF means "unknown": writers streaming to a pipe
# cannot seek back to fill it in.
_UNKNOWN_CHUNK_SIZE = 0xFFFFFFFF


def _missing_wav_bytes(path):
    """Return ``(declared, present)`` sizes of a truncated RIFF data chunk, or None.

    Walks the chunks of a RIFF/RIFX WAVE file up to its ``data`` chunk and
    compares the size the chunk declares with the bytes the file holds.
    Files that are not RIFF/RIFX (RF64 included), or whose data size is
    unknown, give None: scipy reads or rejects those itself.
    """
    file_size = os.path.getsize(path)
    with open(path, "rb") as file:
        header = file.read(12)
        if len(header) < 12 or header[:4] not in (b"RIFF", b"RIFX"):
            return None
        order = "<" if header[:4] == b"RIFF" else ">"
        position = 12
        while position + 8 <= file_size:
            file.seek(position)
            chunk_id, size = struct.unpack(order + "4sI", file.read(8))
            if chunk_id == b"data":
                present = file_size - position - 8
                if size == _UNKNOWN_CHUNK_SIZE or present >= size:
                    return None
                return size, present
            position += 8 + size + size % 2
    return None


def _read_wav(path, row):
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(
            f"Audio path {path!r} in row {row} is a directory, expected a .wav file."
        )
    if not os.path.isfile(path):
        shown, hint = repr(path), ""
        if path.startswith("["):
            shown = repr(path[:40]) + "..."
            hint = (
                " It looks like a waveform turned into text: Dask converts object "
                "columns to strings unless dask.config.set("
                "{'dataframe.convert-string': False}) is set when the Dask "
                "DataFrame is created."
            )
        raise FileNotFoundError(
            f"Audio file {shown} in row {row} does not exist.{hint}"
        )
    truncated = _missing_wav_bytes(path)
    if truncated is not None:
        declared, present = truncated
        raise ValueError(
            f"Audio file {path!r} in row {row} is truncated: its data chunk "
            f"declares {declared} bytes of audio but the file holds {present}, so "
            f"{1 - present / declared:.0%} of the recording is missing. Re-copy "
            "or re-export the file, or leave it out."
        )
    try:
        rate, samples = wavfile.read(path)
    except Exception as exc:
        raise ValueError(
            f"Could not read audio file {path!r} in row {row} as WAV: {exc}"
        ) from exc
    label = f"file {path!r} (row {row})"
    samples = _to_float(samples, label)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return samples, rate, label


class _SpectralExtractor(TransformerMixin, BaseEstimator):
    """Waveform reading, framing and log-mel spectrum shared by the extractors.

    A subclass sets ``_feature_prefix`` and may override ``_coefficients``
    (frames x n_mels log-mel -> frames x n_coefficients) and
    ``_n_coefficients``.
    """

    _parameter_constraints: dict = {
        "sample_rate": [Interval(Real, 0, None, closed="neither"), None],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "frame_length": [Interval(Real, 0, None, closed="neither")],
        "hop_length": [Interval(Real, 0, None, closed="neither")],
        "n_fft": [Interval(Integral, 1, None, closed="left"), None],
        "window": [str],
        "fmin": [Interval(Real, 0, None, closed="left")],
        "fmax": [Interval(Real, 0, None, closed="neither"), None],
        "log_floor": [Interval(Real, 0, None, closed="neither")],
        "pooling": [StrOptions({"mean_std", "frames"})],
        "n_frames": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    _feature_prefix = "spectral"

    @property
    def _n_coefficients(self):
        return self.n_mels

    def _coefficients(self, log_mel):
        return log_mel

    def _items(self, X):
        """X as a list of raw items: waveforms, paths or (waveform, rate) pairs."""
        name = type(self).__name__
        if isinstance(X, (str, bytes, os.PathLike)):
            raise ValueError(
                f"{name} expects a sequence of waveforms or file paths, got a single "
                f"{type(X).__name__}; wrap it in a list."
            )
        if (
            isinstance(X, pd.DataFrame)
            and X.shape[1] == 1
            and X.dtypes.iloc[0].kind == "O"
        ):
            items = X.iloc[:, 0].tolist()
        elif isinstance(X, (list, tuple, pd.Series)):
            items = list(X)
        elif not hasattr(X, "__array__") and not sp.issparse(X):
            try:
                items = list(X)
            except TypeError:
                raise ValueError(
                    f"{name} expects a sequence of waveforms or file paths, got "
                    f"{type(X).__name__}."
                ) from None
        else:
            array = X if sp.issparse(X) else np.asarray(X)
            if array.ndim == 1 and array.dtype == object:
                items = list(array)
            elif array.ndim == 1:
                raise ValueError(
                    f"{name} got a single 1-D numeric array of shape {array.shape}. "
                    "Reshape your data: pass a list of waveforms ([waveform] for "
                    "one), or a 2-D array with one waveform per row."
                )
            else:
                # A batch of equal-length waveforms, one per row.
                items = list(check_array(X, dtype="numeric", estimator=self))
        if not items:
            raise ValueError(f"{name} got no waveform.")
        return items

    def _waveform(self, item, row):
        """Return ``(samples, rate_or_None, label)`` of one raw item."""
        rate = None
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[1], Real):
                raise ValueError(
                    f"Row {row} is a tuple; {type(self).__name__} expects "
                    f"(waveform, sample_rate) pairs, got {item!r:.80}."
                )
            item, rate = item
            if rate <= 0:
                raise ValueError(f"Row {row} has a non-positive sample rate {rate}.")
        if isinstance(item, (str, os.PathLike)):
            samples, rate, label = _read_wav(item, row)
        else:
            try:
                samples = np.asarray(item)
            except Exception as exc:
                raise ValueError(
                    f"Row {row} is not a waveform: {type(item).__name__}."
                ) from exc
            if samples.dtype.kind not in "biuf" or samples.ndim != 1:
                raise ValueError(
                    f"Row {row} must be a 1-D numeric waveform or a .wav path, got "
                    f"{type(item).__name__} with dtype {samples.dtype} and shape "
                    f"{samples.shape}."
                )
            label = f"row {row}"
            samples = _to_float(samples, label)
        self._check_samples(samples, label)
        return samples, rate, label

    def _check_inputs(self, items, rows):
        """Check every input; return the rate of the first file or pair, or None.

        ``rows`` names the inputs in errors (positions, or index labels).
        """
        first_rate = None
        for row, item in zip(rows, items, strict=True):
            _, rate, _ = self._waveform(item, row)
            if first_rate is None and rate is not None:
                first_rate = float(rate)
        return first_rate

    @staticmethod
    def _check_samples(samples, label):
        if samples.size == 0:
            raise ValueError(f"The waveform of {label} is empty.")
        if not np.isfinite(samples).all():
            raise ValueError(f"The waveform of {label} contains NaN or inf.")

    def _resample(self, samples, rate, label):
        if rate is None or rate == self.sample_rate_:
            return samples
        up, down = int(round(self.sample_rate_)), int(round(rate))
        if up != self.sample_rate_ or down != rate:
            raise ValueError(
                f"Cannot resample {label} from {rate} Hz to {self.sample_rate_} Hz: "
                "resampling needs integer rates."
            )
        divisor = gcd(up, down)
        return resample_poly(samples, up // divisor, down // divisor)

    def _log_mel(self, samples):
        """Log-mel spectrogram of one waveform: (n_frames, n_mels)."""
        frame, hop = self.frame_samples_, self.hop_samples_
        half = frame // 2
        padded = np.pad(samples, (half, half))
        if padded.shape[0] < frame:
            padded = np.pad(padded, (0, frame - padded.shape[0]))
        frames = np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop]
        spectrum = np.fft.rfft(frames * self.window_, n=self.n_fft_, axis=1)
        # An overflow gives inf or NaN, which _extract reports naming the input.
        with np.errstate(over="ignore", invalid="ignore"):
            power = spectrum.real**2 + spectrum.imag**2
            return np.log(np.maximum(power @ self.filterbank_.T, self.log_floor))

    def _pool(self, log_mel):
        if self.pooling == "frames":
            n_present = min(log_mel.shape[0], self.n_frames)
            padded = np.full((self.n_frames, log_mel.shape[1]), np.log(self.log_floor))
            padded[:n_present] = log_mel[:n_present]
            return self._coefficients(padded).ravel()
        coefficients = self._coefficients(log_mel)
        return np.concatenate([coefficients.mean(axis=0), coefficients.std(axis=0)])

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fix the sample rate, frame sizes and mel filterbank.

        Parameters
        ----------
        X : sequence of waveforms, paths or (waveform, rate) pairs, 2-D array \
                or Dask DataFrame
            The audio; every item is read and checked. The first file's or
            pair's rate is the sample rate when ``sample_rate`` is None. A
            Dask DataFrame (or Series) of one raw column is checked on the
            workers, partition by partition; the first rate is that of the
            first partition that has a file or pair.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted extractor.
        """
        progress = Progress(self, self.verbose)
        if is_dask_collection(X):
            from .._distributed_extract import first_sample_rate

            first_rate, n_inputs = first_sample_rate(self, X)
        else:
            items = self._items(X)
            first_rate = self._check_inputs(items, range(len(items)))
            n_inputs = len(items)
        progress("check inputs", f"{n_inputs} inputs")
        if self.sample_rate is not None:
            self.sample_rate_ = float(self.sample_rate)
        elif first_rate is not None:
            self.sample_rate_ = first_rate
        else:
            raise ValueError(
                f"{type(self).__name__} cannot tell the sample rate: the inputs are "
                "bare waveforms and sample_rate=None. Set sample_rate, or pass .wav "
                "paths or (waveform, sample_rate) pairs."
            )
        self.frame_samples_ = max(1, int(round(self.frame_length * self.sample_rate_)))
        self.hop_samples_ = max(1, int(round(self.hop_length * self.sample_rate_)))
        if self.n_fft is None:
            self.n_fft_ = 1 << (self.frame_samples_ - 1).bit_length()
        elif self.n_fft < self.frame_samples_:
            raise ValueError(
                f"n_fft={self.n_fft} is shorter than a frame "
                f"({self.frame_samples_} samples at {self.sample_rate_} Hz)."
            )
        else:
            self.n_fft_ = self.n_fft
        fmax = self.sample_rate_ / 2 if self.fmax is None else self.fmax
        if not self.fmin < fmax <= self.sample_rate_ / 2:
            raise ValueError(
                f"Need fmin < fmax <= sample_rate / 2, got fmin={self.fmin}, "
                f"fmax={fmax}, sample_rate={self.sample_rate_}."
            )
        if self._n_coefficients > self.n_mels:
            raise ValueError(
                f"n_mfcc={self._n_coefficients} cannot exceed n_mels={self.n_mels}."
            )
        self.window_ = get_window(self.window, self.frame_samples_, fftbins=True)
        self.filterbank_ = mel_filterbank(
            self.sample_rate_, self.n_fft_, self.n_mels, self.fmin, fmax
        )
        return self

    def transform(self, X):
        """Extract the pooled spectral features of each waveform.

        Parameters
        ----------
        X : sequence of waveforms, paths or (waveform, rate) pairs, 2-D array \
                or Dask DataFrame
            1-D float or integer PCM waveforms (assumed to be at
            ``sample_rate_``), ``.wav`` paths or ``(waveform, rate)`` pairs, or
            a 2-D numeric array with one waveform per row. Paths and pairs are
            resampled to ``sample_rate_``. A Dask DataFrame (or Series) of one
            raw column is extracted lazily, partition by partition, on the
            workers (docs/scaling.md).

        Returns
        -------
        features : ndarray of shape (n_samples, n_features) or Dask DataFrame
            A lazy Dask DataFrame (columns :meth:`get_feature_names_out`, the
            input's index) for a Dask input.
            ``"mean_std"``: mean then standard deviation over frames of each
            coefficient; ``"frames"``: ``n_frames`` frames of coefficients,
            frame-major.
        """
        check_is_fitted(self)
        if is_dask_collection(X):
            from .._distributed_extract import transform_dask

            return transform_dask(self, X)
        items = self._items(X)
        return self._extract_all(items, range(len(items)))

    def _extract_all(self, items, rows):
        """Features of ``items`` (named ``rows`` in errors), in joblib chunks."""
        progress = Progress(self, self.verbose)
        n_chunks = effective_n_jobs(self.n_jobs)
        if progress:
            n_chunks = max(n_chunks, -(-len(items) // _PROGRESS_INPUTS))
        slices = gen_even_slices(len(items), min(n_chunks, len(items)))
        rows = list(rows)
        parts, n_done = [], 0
        for part in Parallel(n_jobs=self.n_jobs, return_as="generator")(
            delayed(self._extract)(items[chunk], rows[chunk]) for chunk in slices
        ):
            parts.append(part)
            n_done += part.shape[0]
            progress("extract", f"{n_done}/{len(items)} inputs")
        return np.vstack(parts)

    def _extract(self, items, rows):
        features = []
        for row, item in zip(rows, items, strict=True):
            samples, rate, label = self._waveform(item, row)
            samples = self._resample(samples, rate, label)
            log_mel = self._log_mel(samples)
            if not np.isfinite(log_mel).all():
                raise ValueError(
                    f"The power spectrum of {label} overflows float64: its largest "
                    f"amplitude is {np.abs(samples).max():g}. Scale the waveform "
                    "to [-1, 1] (integer PCM is scaled by its bit depth)."
                )
            features.append(self._pool(log_mel))
        return np.vstack(features)

    def _transform_rows(self, items, rows):
        return self._extract(items, rows)

    def _output_dtype(self):
        return np.dtype(np.float64)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``<prefix>_mean<k>`` then ``<prefix>_std<k>`` for ``"mean_std"``;
            ``<prefix>_t<frame>_<k>`` for ``"frames"``.
        """
        check_is_fitted(self)
        prefix, n = self._feature_prefix, self._n_coefficients
        if self.pooling == "frames":
            names = [
                f"{prefix}_t{t}_{k}" for t in range(self.n_frames) for k in range(n)
            ]
        else:
            names = [
                f"{prefix}_{stat}{k}" for stat in ("mean", "std") for k in range(n)
            ]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Raw inputs: .wav paths or waveforms, or a 2-D array of equal-length
        # waveforms (a 1-D numeric array is refused: one waveform or many?).
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags


_SAMPLE_RATE_DOC = """\
    sample_rate : float, default=None
        Rate (Hz) the features are computed at. ``.wav`` files and
        ``(waveform, rate)`` pairs at another rate are resampled to it with
        :func:`scipy.signal.resample_poly`; bare waveforms are assumed to be
        at it. None takes the rate of the first file or pair seen in ``fit``
        (bare waveforms then need ``sample_rate``)."""

_SpectralExtractor.transform = keep_dask_output(_SpectralExtractor.transform)
_SpectralExtractor.fit_transform = keep_dask_output(TransformerMixin.fit_transform)


_SHARED_PARAMETERS_DOC = """\
    n_mels : int, default=40
        Number of mel filters (HTK mel scale, triangular, peak 1).
    frame_length : float, default=0.025
        Frame (window) length in seconds.
    hop_length : float, default=0.01
        Step between frames in seconds. Frames are centred: the waveform is
        zero-padded by half a frame on each side.
    n_fft : int, default=None
        FFT length; None is the next power of two at or above a frame.
    window : str, default="hann"
        Window name for :func:`scipy.signal.get_window` (periodic).
    fmin : float, default=0.0
        Lowest filterbank edge in Hz.
    fmax : float, default=None
        Highest filterbank edge in Hz; None is the Nyquist frequency.
    log_floor : float, default=1e-10
        Mel energies are floored at this before the natural log.
    pooling : {"mean_std", "frames"}, default="mean_std"
        ``"mean_std"``: the mean and the standard deviation over time of each
        coefficient. ``"frames"``: the first ``n_frames`` frames, padded with
        silence (log-mel at ``log(log_floor)``) when shorter, flattened
        frame-major (for neural encoders).
    n_frames : int, default=100
        Frames kept by ``pooling="frames"`` (1 s at the default hop).
    n_jobs : int, default=None
        Number of joblib workers that read and transform the inputs in
        ``transform`` (contiguous chunks of rows). None means 1 unless in a
        :obj:`joblib.parallel_backend` context; -1 means all processors.
        On a Dask DataFrame the partitions run on the Dask workers instead.
    verbose : int, default=0
        1 reports on stderr how many inputs ``fit`` checked and, every 1000
        inputs, how many ``transform`` extracted, as
        ``[MFCCExtractor] extract: 2000/3000 inputs (4.1 s)``."""

_INPUTS_DOC = """\
    Inputs are 1-D waveforms, ``.wav`` paths (read with
    :func:`scipy.io.wavfile.read`; stereo is averaged to mono),
    ``(waveform, rate)`` pairs, or a 2-D numeric array with one equal-length
    waveform per row.

    **Integer waveforms** are PCM, scaled to [-1, 1) by their full scale:
    ``int8``, ``int16`` and ``int32`` arrays by their dtype's range
    (``2**15`` for int16), ``uint8``, ``uint16`` and ``uint32`` as offset
    binary centred at half their range (8-bit WAV's convention), as WAV files
    store them. ``int64``/``uint64`` arrays and lists of Python ints carry no
    bit depth: each such waveform is read as the smallest of 16-, 24- or
    32-bit PCM whose range holds its values (so ``pcm16.tolist()``,
    ``pcm16.astype("int64")`` and ``pcm16`` give the same features), and
    values beyond 32 bits raise.
    Pass 8-bit PCM as an ``int8``/``uint8`` array, and quiet 24-bit audio as
    ``int32`` (as scipy reads 24-bit WAV) or floats, to fix its scale. Float
    waveforms are used as they are.

    **Errors** name the row (and the file): a missing file
    (``FileNotFoundError``), a directory, an unreadable WAV, an empty
    waveform or one with NaN/inf, and an amplitude whose power spectrum
    overflows float64 (e.g. 1e200) raise ``ValueError``. So does a
    **truncated** ``.wav`` file, whose data chunk declares more bytes than the
    file holds (scipy only warns, without naming the file, and returns the
    samples present): an error rather than a warning because the features of
    the part that is left silently describe another, shorter recording, as a
    truncated image would another picture. A data size of ``0xFFFFFFFF``
    (written by programs streaming to a pipe) means "unknown" and the file is
    read to its end."""

_SHARED_ATTRIBUTES_DOC = """\
    sample_rate_ : float
        Rate the features are computed at.
    frame_samples_ : int
        Frame length in samples.
    hop_samples_ : int
        Hop length in samples.
    n_fft_ : int
        FFT length.
    window_ : ndarray of shape (frame_samples_,)
        Analysis window.
    filterbank_ : ndarray of shape (n_mels, n_fft_ // 2 + 1)
        Mel filterbank (see :func:`mel_filterbank`)."""


class LogMelExtractor(_SpectralExtractor):
    __doc__ = f"""Log-mel spectrogram features of waveforms or ``.wav`` files.

    For each input: optional resampling, centred frames with a window, power
    spectrum ``|rfft|^2``, HTK mel filterbank, natural log of the energies
    floored at ``log_floor``, then pooling over time.

{_INPUTS_DOC}

    Parameters
    ----------
{_SAMPLE_RATE_DOC}
{_SHARED_PARAMETERS_DOC}

    Attributes
    ----------
{_SHARED_ATTRIBUTES_DOC}

    See Also
    --------
    MFCCExtractor : The DCT of these log-mel energies.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.feature_extraction import LogMelExtractor
    >>> t = np.arange(8000) / 8000
    >>> waves = [np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 1000 * t)]
    >>> extractor = LogMelExtractor(sample_rate=8000, n_mels=20)
    >>> extractor.fit_transform(waves).shape
    (2, 40)
    >>> extractor.get_feature_names_out()[:2]
    array(['logmel_mean0', 'logmel_mean1'], dtype=object)
    """

    _feature_prefix = "logmel"

    def __init__(
        self,
        sample_rate=None,
        *,
        n_mels=40,
        frame_length=0.025,
        hop_length=0.01,
        n_fft=None,
        window="hann",
        fmin=0.0,
        fmax=None,
        log_floor=1e-10,
        pooling="mean_std",
        n_frames=100,
        n_jobs=None,
        verbose=0,
    ):
        self.sample_rate = sample_rate
        self.n_mels = n_mels
        self.frame_length = frame_length
        self.hop_length = hop_length
        self.n_fft = n_fft
        self.window = window
        self.fmin = fmin
        self.fmax = fmax
        self.log_floor = log_floor
        self.pooling = pooling
        self.n_frames = n_frames
        self.n_jobs = n_jobs
        self.verbose = verbose


class MFCCExtractor(_SpectralExtractor):
    __doc__ = f"""Mel-frequency cepstral coefficients of waveforms or ``.wav`` files.

    The MFCCs of a frame are the first ``n_mfcc`` coefficients of the
    orthonormal DCT-II (:func:`scipy.fft.dct`, ``norm="ortho"``) of its
    log-mel energies, computed exactly as in :class:`LogMelExtractor`; then
    pooled over time.

{_INPUTS_DOC}

    Parameters
    ----------
    sample_rate : float, default=None
        Rate (Hz) the features are computed at; see :class:`LogMelExtractor`
        (the same meaning for every shared parameter).
    n_mfcc : int, default=13
        Coefficients kept per frame (at most ``n_mels``).
{_SHARED_PARAMETERS_DOC}

    Attributes
    ----------
{_SHARED_ATTRIBUTES_DOC}

    See Also
    --------
    LogMelExtractor : The log-mel energies these are computed from.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.feature_extraction import MFCCExtractor
    >>> t = np.arange(8000) / 8000
    >>> waves = [np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 1000 * t)]
    >>> extractor = MFCCExtractor(sample_rate=8000)
    >>> extractor.fit_transform(waves).shape
    (2, 26)
    >>> extractor.get_feature_names_out()[:2]
    array(['mfcc_mean0', 'mfcc_mean1'], dtype=object)
    """

    _parameter_constraints: dict = {
        **_SpectralExtractor._parameter_constraints,
        "n_mfcc": [Interval(Integral, 1, None, closed="left")],
    }

    _feature_prefix = "mfcc"

    def __init__(
        self,
        sample_rate=None,
        *,
        n_mfcc=13,
        n_mels=40,
        frame_length=0.025,
        hop_length=0.01,
        n_fft=None,
        window="hann",
        fmin=0.0,
        fmax=None,
        log_floor=1e-10,
        pooling="mean_std",
        n_frames=100,
        n_jobs=None,
        verbose=0,
    ):
        self.sample_rate = sample_rate
        self.n_mfcc = n_mfcc
        self.n_mels = n_mels
        self.frame_length = frame_length
        self.hop_length = hop_length
        self.n_fft = n_fft
        self.window = window
        self.fmin = fmin
        self.fmax = fmax
        self.log_floor = log_floor
        self.pooling = pooling
        self.n_frames = n_frames
        self.n_jobs = n_jobs
        self.verbose = verbose

    @property
    def _n_coefficients(self):
        return self.n_mfcc

    def _coefficients(self, log_mel):
        return dct(log_mel, type=2, norm="ortho", axis=1)[:, : self.n_mfcc]
