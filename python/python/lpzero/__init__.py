"""lpzero: zero-cost proxies for language-model architecture search, as a small language.

The Python face of lpzero's core (the Rust library without its models): write a proxy as an
expression, lint it, score it on the inputs of one architecture, rank architectures with it
against their ground truth beside baselines, and evolve a new one by genetic programming. Inputs
come from numpy arrays, from lpzero's inputs files (``lpzero gather``), or from a PyTorch model
through :func:`lpzero.torch.gather`.

    >>> import lpzero
    >>> p = lpzero.Proxy("sum(abs(G * W))")
    >>> p.lint()          # [] : no Rule-based Pruning warning
    >>> p.score(inputs)   # one number, or None when invalid on these inputs
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _lpzero

__all__ = ["Proxy", "ProxyError", "Inputs", "stdlib", "score", "rank", "evolve", "inputs_names", "FORMAT_VERSION"]

FORMAT_VERSION = _lpzero.FORMAT_VERSION


class ProxyError(ValueError):
    """A proxy that does not parse or type-check. ``diagnostics`` holds the errors (dicts with
    ``code``, ``severity``, ``message``, ``line``, ``column``, ``help``, as ``lpzero lint --format
    json`` gives them)."""

    def __init__(self, text: str, diagnostics: List[dict]):
        self.text = text
        self.diagnostics = diagnostics
        lines = [f"{d['code']} line {d['line']}:{d['column']}: {d['message']}" for d in diagnostics]
        super().__init__(f"`{text}`: " + "; ".join(lines))


class Proxy:
    """A checked proxy: an expression of the proxy language (``sum(abs(G * W))``).

    Raises :class:`ProxyError` (with the diagnostics) when the text has errors. ``name`` is the
    proxy's name in reports (its text by default)."""

    def __init__(self, text: str, name: Optional[str] = None):
        a = json.loads(_lpzero.analyze(text, True, "<expr>"))
        errors = [d for d in a["diagnostics"] if d["severity"] == "error"]
        if errors or not a["definitions"]:
            raise ProxyError(text, errors)
        d = a["definitions"][0]
        self.text: str = d["text"]
        self.name: str = name if name is not None else self.text
        self.inputs: List[str] = d["inputs"]
        self._warnings = [d for d in a["diagnostics"] if d["severity"] == "warning"]

    def lint(self) -> List[dict]:
        """The Rule-based Pruning Strategy's warnings (an empty list when there are none)."""
        return list(self._warnings)

    def score(self, inputs: "Inputs") -> Optional[float]:
        """The proxy's value on one architecture's inputs, or None when it is invalid there."""
        return score([self], inputs)[self.name]

    def __repr__(self) -> str:
        return f"Proxy({self.text!r})" if self.name == self.text else f"Proxy({self.text!r}, name={self.name!r})"

    @staticmethod
    def file(path: Union[str, os.PathLike]) -> List["Proxy"]:
        """Every definition of a proxy file."""
        text = open(path, encoding="utf-8").read()
        a = json.loads(_lpzero.analyze(text, False, str(path)))
        errors = [d for d in a["diagnostics"] if d["severity"] == "error"]
        if errors:
            raise ProxyError(str(path), errors)
        return [Proxy(d["text"], name=d["name"]) for d in a["definitions"]]


def stdlib() -> Dict[str, Proxy]:
    """lpzero's bundled proxies, by name."""
    return {d["name"]: Proxy(d["text"], name=d["name"]) for d in json.loads(_lpzero.stdlib())}


def inputs_names() -> List[str]:
    """The inputs of the language (``A GA H GH S W G J P Z GS HG``)."""
    return [i["name"] for i in json.loads(_lpzero.ops())["inputs"]]


class Inputs:
    """One architecture's proxy inputs: per input name (``W``, ``G``, ``A``, ...), a list of
    float32 arrays, one per layer or module in forward order (``W`` entries are ``[out, in]``).

    Build it from numpy arrays (``Inputs({"W": [w0, w1], "G": [g0, g1]}, arch="a")``), read it from
    an inputs file (:meth:`load`), or gather it from a PyTorch model (:func:`lpzero.torch.gather`).
    Shapes and counts are checked as lpzero checks gathered inputs (a gradient must have its
    tensor's shape, inputs of one alignment the same number of entries)."""

    def __init__(self, arrays: Optional[Mapping[str, Sequence[np.ndarray]]] = None, arch: str = "arch", **metadata):
        self._raw = _lpzero.RawInputs(arch)
        for name, entries in (arrays or {}).items():
            self.set(name, entries)
        if metadata:
            self.update_metadata(**metadata)

    @classmethod
    def _wrap(cls, raw) -> "Inputs":
        obj = cls.__new__(cls)
        obj._raw = raw
        return obj

    def set(self, name: str, entries: Sequence[np.ndarray]) -> None:
        """Sets input ``name`` from its entries (any numeric arrays; stored as float32)."""
        arrays = [np.ascontiguousarray(np.asarray(e), dtype="<f4") for e in entries]
        self._raw.insert(name, [list(a.shape) for a in arrays], [a.tobytes() for a in arrays])

    def __getitem__(self, name: str) -> List[np.ndarray]:
        return [np.frombuffer(b, dtype="<f4").reshape(shape) for shape, b in self._raw.get(name)]

    def __contains__(self, name: str) -> bool:
        return name in self._raw.names()

    @property
    def names(self) -> List[str]:
        """The inputs present."""
        return list(self._raw.names())

    @property
    def metadata(self) -> dict:
        """What the inputs say about themselves (arch, family, framework, batch, seq_len, seed,
        loss, params, gather_seconds, modules, extra)."""
        return json.loads(self._raw.meta_json())

    def update_metadata(self, **fields) -> None:
        """Sets metadata fields (see :attr:`metadata`); unknown keys go to ``extra`` as strings."""
        m = self.metadata
        for k, v in fields.items():
            if k in m and k != "extra":
                m[k] = v
            else:
                m["extra"][k] = str(v)
        self._raw.set_meta_json(json.dumps(m))

    @property
    def arch(self) -> str:
        return self.metadata["arch"]

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes an lpzero inputs file (safetensors; written whole or not at all)."""
        self._raw.save(os.fspath(path))

    @classmethod
    def load(cls, path: Union[str, os.PathLike], finite: bool = True) -> "Inputs":
        """Reads an inputs file (by default NaN or inf in it is an error)."""
        return cls._wrap(_lpzero.RawInputs.load(os.fspath(path), finite))

    def __repr__(self) -> str:
        return f"Inputs(arch={self.arch!r}, {', '.join(f'{n}: {len(self[n])}' for n in self.names)})"


ProxyLike = Union[str, Proxy]


def _proxies(proxies: Union[ProxyLike, Iterable[ProxyLike]]) -> List[Proxy]:
    if isinstance(proxies, (str, Proxy)):
        proxies = [proxies]
    out = [p if isinstance(p, Proxy) else Proxy(p) for p in proxies]
    if not out:
        raise ValueError("no proxy given")
    return out


def _pairs(ps: List[Proxy]):
    return [(p.name, p.text) for p in ps]


def score(proxies: Union[ProxyLike, Iterable[ProxyLike]], inputs: Inputs) -> Dict[str, Optional[float]]:
    """Each proxy's score on one architecture's inputs (None where invalid), by proxy name.
    Runs without the GIL."""
    rows = json.loads(_lpzero.score(_pairs(_proxies(proxies)), inputs._raw))
    return {r["proxy"]: r["score"] for r in rows}


def _truth_and_baselines(inputs, truth, ids, baselines, lower_is_better):
    inputs = list(inputs)
    if ids is None:
        ids = [i.arch for i in inputs]
    truth = [float(t) for t in truth]
    if lower_is_better:
        truth = [-t for t in truth]
    base = [(name, [float(v) for v in values]) for name, values in (baselines or {}).items()]
    return inputs, [str(i) for i in ids], truth, base


def rank(
    proxies: Union[ProxyLike, Iterable[ProxyLike]],
    inputs: Union[Sequence[Inputs], str, os.PathLike, None] = None,
    truth: Union[Sequence[float], str, os.PathLike, None] = None,
    ids: Optional[Sequence[str]] = None,
    baselines: Optional[Mapping[str, Sequence[float]]] = None,
    lower_is_better: bool = False,
    truth_column: Optional[str] = None,
) -> dict:
    """Ranks architectures with proxies: Spearman ρ and Kendall τ of each proxy's scores with the
    ground truth, beside the baselines, as the same report ``lpzero rank --format json`` prints
    (``proxies[k]["spearman"]``, ``["scores"]``, ``baselines``, ...).

    ``inputs`` is a list of :class:`Inputs` with ``truth`` a list (one value per architecture;
    ``lower_is_better`` for perplexities; ``baselines`` maps a name to one value per
    architecture), or a folder of inputs files with ``truth`` its CSV table (default
    ``FOLDER/truth.csv``), exactly as ``lpzero rank --inputs``."""
    ps = _pairs(_proxies(proxies))
    if isinstance(inputs, (str, os.PathLike)):
        t = None if truth is None else os.fspath(truth)
        return json.loads(_lpzero.rank_dir(ps, os.fspath(inputs), t, truth_column, lower_is_better))
    if inputs is None or truth is None:
        raise ValueError("rank needs inputs (a list of Inputs, or a folder) and their ground truth")
    inputs, ids, truth, base = _truth_and_baselines(inputs, truth, ids, baselines, lower_is_better)
    return json.loads(_lpzero.rank(ps, [i._raw for i in inputs], ids, truth, base))


def evolve(
    inputs: Sequence[Inputs],
    truth: Sequence[float],
    ids: Optional[Sequence[str]] = None,
    baselines: Optional[Mapping[str, Sequence[float]]] = None,
    lower_is_better: bool = False,
    out: Union[str, os.PathLike, None] = None,
    *,
    population: int = 80,
    iterations: int = 1000,
    crossover: float = 0.5,
    mutation: float = 0.5,
    parent_pool: float = 0.1,
    shape: str = "template",
    n_unary: int = 2,
    max_size: int = 12,
    read: Optional[Sequence[str]] = None,
    rps: bool = True,
    random_search: bool = False,
    seed: int = 0,
    search_archs: Optional[int] = None,
    heldout_archs: Optional[int] = None,
) -> dict:
    """Evolves a proxy on a search set of the architectures and reports it on the held-out rest,
    with the options and results of ``lpzero evolve`` (the returned dict is its ``summary.json``:
    ``best``, ``heldout``, ``counters``, ...). The run's files (checkpoint, history, best.proxy,
    convergence plot) go to ``out`` (a temporary folder when None)."""
    inputs, ids, truth, base = _truth_and_baselines(inputs, truth, ids, baselines, lower_is_better)
    options = dict(
        population=population, iterations=iterations, crossover=crossover, mutation=mutation, parent_pool=parent_pool,
        shape=shape, n_unary=n_unary, max_size=max_size, read=list(read or []), rps=rps, random_search=random_search,
        seed=seed, search_archs=search_archs, heldout_archs=heldout_archs,
    )
    options = {k: v for k, v in options.items() if v is not None}
    if out is None:
        out = tempfile.mkdtemp(prefix="lpzero-evolve-")
    return json.loads(_lpzero.evolve([i._raw for i in inputs], ids, truth, base, json.dumps(options), os.fspath(out)))
