"""Task data: made locally, split deterministically, cached per process and on disk.

A data source is a function of its options returning a :class:`Dataset` (train, validation and
test arrays).  Sources are a plain table (:data:`SOURCES`), keyed by the name a task file gives in
``[data] source = ...``:

- ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, read from the package, no
  download); features scaled to [0, 1], shape ``[64]``.
- ``mnist1d``: MNIST-1D generated procedurally by the ``mnist1d`` package
  (``make_dataset(get_dataset_args())``: 4,000 train and 1,000 test sequences of length 40).
  Only the generator is called, never the package's download path.
- ``sequence``: a generated sequence-classification problem: one-hot tokens ``[length, vocab]``;
  the label is the most frequent of the first ``classes`` tokens, ties going to the one that
  occurs first.  Counting and order both matter, so token-wise, pooled and mixing models differ.
- ``npz``: a user's own ``.npz`` file (``x_train``, ``y_train``, ``x_test``, ``y_test``, optionally
  ``x_val``, ``y_val``), read with ``allow_pickle=False``.

The validation split is carved from the training split by a fixed permutation (``split_seed``),
so every worker, executor and resumed run sees the same examples in the same order.

Every source also takes ``train_subset = N``: only the first N training examples are kept (the
validation and test splits are unchanged), e.g. to provoke and study overfitting.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graphsynth.train.errors import task_error

# Bounds on what a task file may ask a generator to allocate.
MAX_SAMPLES = 1_000_000
MAX_FEATURES = 1_000_000
MAX_NPZ_BYTES = 2 * 1024**3


@dataclass
class Dataset:
    """float32 features and int64 labels for the three splits."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def summary(self) -> str:
        return (f"{len(self.x_train)} train / {len(self.x_val)} validation / {len(self.x_test)} test examples "
                f"of shape {list(self.feature_shape)}, {self.classes} classes")


def _int_opt(opts: dict[str, Any], key: str, default: int, lo: int, hi: int, source: str) -> int:
    v = opts.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise task_error("GS902", f"[data] {key} of source '{source}' must be an integer in [{lo}, {hi}], got {v!r}",
                         expected=f"int in [{lo}, {hi}]", got=repr(v))
    return v


def _float_opt(opts: dict[str, Any], key: str, default: float, lo: float, hi: float, source: str) -> float:
    v = opts.get(key, default)
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not lo <= float(v) <= hi:
        raise task_error("GS902", f"[data] {key} of source '{source}' must be a number in [{lo}, {hi}], got {v!r}",
                         expected=f"number in [{lo}, {hi}]", got=repr(v))
    return float(v)


def _split_val(x: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    perm = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * fraction)))
    val, train = perm[:n_val], perm[n_val:]
    return x[train], y[train], x[val], y[val]


def _finish(x_tr: np.ndarray, y_tr: np.ndarray, x_va: np.ndarray, y_va: np.ndarray, x_te: np.ndarray,
            y_te: np.ndarray) -> Dataset:
    arrays = [np.ascontiguousarray(a, dtype=np.float32) if i % 2 == 0 else np.ascontiguousarray(a, dtype=np.int64)
              for i, a in enumerate((x_tr, y_tr, x_va, y_va, x_te, y_te))]
    classes = int(max(arrays[1].max(initial=0), arrays[3].max(initial=0), arrays[5].max(initial=0))) + 1
    return Dataset(*arrays, classes=classes)


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (pixels 0..16, labels), as ``load_digits`` returns them.

    Read straight from the file scikit-learn ships: importing ``sklearn.datasets`` (scipy and
    all) costs most of a second, more than a digits training itself, in every process that
    loads the task (each search worker, each CLI run).  ``load_digits`` where the file is not
    where this release keeps it."""
    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    if spec is None:
        raise task_error("GS904", "data source 'digits' needs scikit-learn", fix="pip install 'graphsynth[synth]'")
    for folder in spec.submodule_search_locations or ():
        shipped = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if shipped.is_file():
            with gzip.open(shipped, "rt", encoding="ascii") as f:
                table = np.loadtxt(f, delimiter=",")
            return table[:, :-1], table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data, d.target


def _digits(opts: dict[str, Any], base: Path | None) -> Dataset:
    seed = _int_opt(opts, "split_seed", 0, 0, 2**31 - 1, "digits")
    test = _float_opt(opts, "test_fraction", 0.2, 0.05, 0.5, "digits")
    val = _float_opt(opts, "val_fraction", 0.2, 0.05, 0.5, "digits")
    pixels, labels = digits_arrays()
    x, y = pixels.astype(np.float32) / 16.0, labels.astype(np.int64)
    x_rest, y_rest, x_te, y_te = _split_val(x, y, test, seed + 1)
    return _finish(*_split_val(x_rest, y_rest, val / (1 - test), seed), x_te, y_te)


def _mnist1d(opts: dict[str, Any], base: Path | None) -> Dataset:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise task_error("GS904", "data source 'mnist1d' needs the mnist1d package", fix="pip install 'graphsynth[synth]'") from None
    args = get_dataset_args()
    args.num_samples = _int_opt(opts, "num_samples", 5000, 100, 200_000, "mnist1d")
    args.seed = _int_opt(opts, "seed", 42, 0, 2**31 - 1, "mnist1d")
    val = _float_opt(opts, "val_fraction", 0.125, 0.05, 0.5, "mnist1d")
    split_seed = _int_opt(opts, "split_seed", 0, 0, 2**31 - 1, "mnist1d")
    state = np.random.get_state()  # make_dataset seeds numpy's global generator; leave it as it was
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(state)
    return _finish(*_split_val(d["x"], d["y"], val, split_seed), d["x_test"], d["y_test"])


def _sequence(opts: dict[str, Any], base: Path | None) -> Dataset:
    n = _int_opt(opts, "num_samples", 4000, 100, MAX_SAMPLES, "sequence")
    length = _int_opt(opts, "length", 12, 2, 4096, "sequence")
    vocab = _int_opt(opts, "vocab", 8, 2, 4096, "sequence")
    classes = _int_opt(opts, "classes", 4, 2, vocab, "sequence")
    seed = _int_opt(opts, "seed", 0, 0, 2**31 - 1, "sequence")
    test = _float_opt(opts, "test_fraction", 0.2, 0.05, 0.5, "sequence")
    val = _float_opt(opts, "val_fraction", 0.2, 0.05, 0.5, "sequence")
    if n * length * vocab > MAX_SAMPLES * 64:
        raise task_error("GS902", f"[data] sequence: {n} x {length} x {vocab} one-hot values exceed the limit of {MAX_SAMPLES * 64}")
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, vocab, size=(n, length))
    counts = np.stack([(tokens == c).sum(axis=1) for c in range(classes)], axis=1)  # [n, classes]
    first = np.stack([np.where((tokens == c).any(axis=1), (tokens == c).argmax(axis=1), length) for c in range(classes)], axis=1)
    # most frequent class token; ties go to the one seen first
    score = counts * (length + 1) + (length - first)
    y = score.argmax(axis=1)
    x = np.eye(vocab, dtype=np.float32)[tokens]
    x_rest, y_rest, x_te, y_te = _split_val(x, y, test, seed + 1)
    return _finish(*_split_val(x_rest, y_rest, val / (1 - test), seed + 2), x_te, y_te)


def _npz(opts: dict[str, Any], base: Path | None) -> Dataset:
    raw = opts.get("path")
    if not isinstance(raw, str) or not raw:
        raise task_error("GS902", "[data] source 'npz' needs path = \"file.npz\"", fix='add path = "data.npz" (relative to the task file)')
    path = (base / raw) if base is not None and not os.path.isabs(raw) else Path(raw)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise task_error("GS904", f"[data] cannot read {path}: {e.strerror}") from None
    if size > MAX_NPZ_BYTES:
        raise task_error("GS904", f"[data] {path} is {size} bytes; the limit is {MAX_NPZ_BYTES}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
    except Exception as e:  # noqa: BLE001 - a bad file is a diagnostic, never a traceback
        raise task_error("GS904", f"[data] {path} is not a readable .npz file ({type(e).__name__}: {str(e)[:200]})") from None
    need = ("x_train", "y_train", "x_test", "y_test")
    missing = [k for k in need if k not in arrays]
    if missing:
        raise task_error("GS904", f"[data] {path} lacks array(s) {', '.join(missing)}", expected=", ".join(need), got=", ".join(sorted(arrays)))
    for split in ("train", "test", "val"):
        x, y = arrays.get(f"x_{split}"), arrays.get(f"y_{split}")
        if x is None and y is None:
            continue
        if x is None or y is None or x.ndim < 2 or y.ndim != 1 or len(x) != len(y) or not np.issubdtype(y.dtype, np.integer) \
                or (len(y) and y.min() < 0) or not np.issubdtype(x.dtype, np.number):
            raise task_error("GS904", f"[data] {path}: x_{split} must be numeric [N, ...] and y_{split} integer labels >= 0 [N]")
    if "x_val" in arrays:
        return _finish(arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"], arrays["x_test"], arrays["y_test"])
    val = _float_opt(opts, "val_fraction", 0.2, 0.05, 0.5, "npz")
    return _finish(*_split_val(arrays["x_train"], arrays["y_train"], val, 0), arrays["x_test"], arrays["y_test"])


SOURCES: dict[str, Callable[[dict[str, Any], Path | None], Dataset]] = {
    "digits": _digits,
    "mnist1d": _mnist1d,
    "sequence": _sequence,
    "npz": _npz,
}

_MEMO: dict[str, Dataset] = {}


def data_key(spec: dict[str, Any]) -> str:
    """A stable key for a data spec (its options as canonical JSON)."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:20]


def cache_dir() -> Path | None:
    """``$GRAPHSYNTH_DATA_CACHE`` (``off`` disables the disk cache), else ~/.cache/graphsynth/data."""
    env = os.environ.get("GRAPHSYNTH_DATA_CACHE")
    if env == "off":
        return None
    return Path(env) if env else Path.home() / ".cache" / "graphsynth" / "data"


def load_data(spec: dict[str, Any], base: Path | None = None) -> Dataset:
    """The dataset a ``[data]`` table describes; made once per process (and cached on disk for the
    sources that take a while to generate, so worker processes read it instead of re-making it)."""
    key = data_key({**spec, "_base": str(base) if spec.get("source") == "npz" else None})
    hit = _MEMO.get(key)
    if hit is not None:
        return hit
    source = spec.get("source")
    fn = SOURCES.get(source) if isinstance(source, str) else None
    if fn is None:
        raise task_error("GS904", f"[data] unknown source {source!r}", expected=" | ".join(SOURCES), got=repr(source))
    opts = {k: v for k, v in spec.items() if k not in ("source", "train_subset")}
    subset = _int_opt(spec, "train_subset", 0, 0, MAX_SAMPLES, str(source)) if "train_subset" in spec else 0
    cached = _read_cache(key) if source in ("mnist1d", "sequence") else None
    ds = cached if cached is not None else fn(opts, base)
    if subset and cached is None:
        ds = Dataset(ds.x_train[:subset].copy(), ds.y_train[:subset].copy(), ds.x_val, ds.y_val, ds.x_test, ds.y_test, ds.classes)
    if len(ds.x_train) > MAX_SAMPLES or int(np.prod(ds.feature_shape)) > MAX_FEATURES:
        raise task_error("GS904", f"[data] {source}: {len(ds.x_train)} examples of shape {list(ds.feature_shape)} exceed the limits "
                         f"({MAX_SAMPLES} examples, {MAX_FEATURES} features)")
    if cached is None and source in ("mnist1d", "sequence"):
        _write_cache(key, ds)
    _MEMO[key] = ds
    return ds


_FIELDS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def _read_cache(key: str) -> Dataset | None:
    d = cache_dir()
    if d is None:
        return None
    path = d / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = [np.asarray(z[f]) for f in _FIELDS]
            classes = int(z["classes"])
    except Exception:  # noqa: BLE001 - a missing or damaged cache entry is simply remade
        return None
    return Dataset(*arrays, classes=classes)


def _write_cache(key: str, ds: Dataset) -> None:
    d = cache_dir()
    if d is None:
        return
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{key}.{os.getpid()}.tmp.npz"
        np.savez(tmp, classes=np.int64(ds.classes), **{f: getattr(ds, f) for f in _FIELDS})
        os.replace(tmp, d / f"{key}.npz")  # atomic: a reader never sees half a file
    except OSError:
        pass  # the cache is an optimisation only
