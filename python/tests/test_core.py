"""The Python face of lpzero's core: proxies and their diagnostics, scores against values computed
here in float64 with numpy, inputs files (written by Rust, read by Python and back), rank against
Spearman/Kendall computed here, and evolve against the command line on the same files."""

import csv
import json
import math
import os
import pathlib

import numpy as np
import pytest

import lpzero
from conftest import ROOT, run_cli

FIXTURES = ROOT / "tests" / "fixtures"


def test_a_proxy_knows_its_inputs_and_has_no_lint():
    p = lpzero.Proxy("sum(abs(G * W))")
    assert sorted(p.inputs) == ["G", "W"]
    assert p.lint() == []
    assert p.name == p.text == "sum(abs(G * W))"
    assert lpzero.Proxy("sum(fro(A))", name="a").name == "a"


def test_syntax_and_type_errors_carry_diagnostics():
    with pytest.raises(lpzero.ProxyError) as e:
        lpzero.Proxy("sum(abs(G * W)")
    d = e.value.diagnostics[0]
    assert d["severity"] == "error" and d["line"] == 1 and d["column"] >= 1 and d["code"]
    with pytest.raises(lpzero.ProxyError) as e:
        lpzero.Proxy("sum(fro(A) * fro(W))")
    assert [d["code"] for d in e.value.diagnostics] == ["E105"] and "correspond" in e.value.diagnostics[0]["message"]
    with pytest.raises(lpzero.ProxyError):
        lpzero.Proxy("sum(nosuchop(W))")
    # A ProxyError is a ValueError, with the codes in its message.
    with pytest.raises(ValueError, match="line 1"):
        lpzero.Proxy("")


def test_rule_based_pruning_lint():
    warnings = lpzero.Proxy("sum(log(exp(G)))").lint()
    assert warnings and all(w["severity"] == "warning" for w in warnings)
    defs = lpzero.Proxy.file(FIXTURES / "rps_violation.proxy")
    assert [p.name for p in defs] == ["snip", "wasteful"]
    with pytest.raises(lpzero.ProxyError):
        lpzero.Proxy.file(FIXTURES / "type_error.proxy")


def test_the_stdlib_is_there():
    lib = lpzero.stdlib()
    assert {"snip", "grad_norm", "fisher", "lpzero_gpt2", "lpzero_flexibert"} <= set(lib)
    assert lib["snip"].text == "sum(abs(G * W))"
    assert lpzero.inputs_names() == ["A", "GA", "H", "GH", "S", "W", "G", "J", "P", "Z", "GS", "HG", "L", "D", "N"]


def sample_inputs(seed=0, arch="a", scale=1.0):
    r = np.random.default_rng(seed)
    w = [r.normal(size=(4, 3)) * scale, r.normal(size=(2, 4)) * scale]
    g = [r.normal(size=(4, 3)) * 0.1, r.normal(size=(2, 4)) * 0.1]
    a = [r.normal(size=(2, 5, 6))]
    return lpzero.Inputs({"W": w, "G": g, "A": a}, arch=arch), w, g, a


def f32(xs):
    return [np.asarray(x, dtype=np.float32).astype(np.float64) for x in xs]


def test_scores_equal_float64_numpy():
    inputs, w, g, a = sample_inputs()
    w, g, a = f32(w), f32(g), f32(a)
    expected = {
        "sum(abs(G * W))": sum(np.abs(gi * wi).sum() for gi, wi in zip(g, w)),
        "sum(fro(G))": sum(np.sqrt((gi**2).sum()) for gi in g),
        "avg(sq(W))": np.mean([np.mean(wi**2) for wi in w]),
        "sum(numel(W))": 12 + 8,
    }
    got = lpzero.score(list(expected), inputs)
    for text, value in expected.items():
        assert got[text] == pytest.approx(value, rel=1e-5), text
    assert inputs["W"][0].dtype == np.float32 and inputs["W"][0].shape == (4, 3)


def test_invalid_where_a_value_is_not_finite():
    inputs = lpzero.Inputs({"W": [np.full((2, 2), 1000.0)], "G": [np.zeros((2, 2))]})
    assert lpzero.Proxy("sum(exp(W))").score(inputs) is None  # exp(1000) overflows
    # A proxy that reads an input the architecture lacks is invalid there, not an exception.
    assert lpzero.Proxy("sum(fro(A))").score(inputs) is None


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="G"):
        lpzero.Inputs({"W": [np.zeros((2, 3))], "G": [np.zeros((3, 2))]})
    with pytest.raises(ValueError):
        lpzero.Inputs({"W": [np.zeros(3)]})  # W entries are matrices
    with pytest.raises(KeyError):
        lpzero.Inputs({"Q": [np.zeros((2, 2))]})
    with pytest.raises(ValueError, match="without"):
        lpzero.Inputs({"G": [np.zeros((2, 2))]}).save("/tmp/never-written.safetensors")
    assert not os.path.exists("/tmp/never-written.safetensors")


def test_files_round_trip_in_python(tmp_path):
    inputs, *_ = sample_inputs(arch="x1")
    inputs.update_metadata(seed=4, loss=2.5, note="hello")
    inputs.save(tmp_path / "x1.safetensors")
    back = lpzero.Inputs.load(tmp_path / "x1.safetensors")
    assert back.arch == "x1" and back.metadata["seed"] == 4 and back.metadata["loss"] == 2.5
    assert back.metadata["extra"]["note"] == "hello"
    for name in inputs.names:
        for x, y in zip(inputs[name], back[name]):
            assert x.tobytes() == y.tobytes()


def test_corrupt_files_are_clear_errors(tmp_path):
    inputs, *_ = sample_inputs()
    inputs.save(tmp_path / "a.safetensors")
    data = (tmp_path / "a.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        lpzero.Inputs.load(tmp_path / "cut.safetensors")
    nan = lpzero.Inputs({"W": [np.array([[1.0, np.nan]])]})
    nan.save(tmp_path / "nan.safetensors")
    with pytest.raises(ValueError, match="NaN"):
        lpzero.Inputs.load(tmp_path / "nan.safetensors")
    assert math.isnan(lpzero.Inputs.load(tmp_path / "nan.safetensors", finite=False)["W"][0][0, 1])
    with pytest.raises(ValueError):
        lpzero.Inputs.load(tmp_path / "absent.safetensors")


def test_numpys_safetensors_files_load(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    w = np.arange(6, dtype=np.float16).reshape(2, 3)
    st.save_file({"W.0": w, "G.0": np.ones((2, 3), np.float64)}, str(tmp_path / "plain.safetensors"))
    i = lpzero.Inputs.load(tmp_path / "plain.safetensors")
    assert i.arch == "plain"
    assert lpzero.Proxy("sum(G * W)").score(i) == pytest.approx(15.0)


def gathered_by_rust(tmp_path, lpzero_bin):
    """Two architectures of the GPT-2 fixture benchmark, gathered by `lpzero gather`."""
    out = tmp_path / "rust"
    run_cli(lpzero_bin, "gather", "--bench", str(FIXTURES / "bench" / "gpt2"), "--out", str(out), "--batch", "2", "--seq-len", "8")
    return out


def test_rust_files_round_trip_bit_identical(tmp_path, lpzero_bin):
    out = gathered_by_rust(tmp_path, lpzero_bin)
    for path in sorted(out.glob("*.safetensors")):
        ours = lpzero.Inputs.load(path)
        assert ours.metadata["framework"].startswith("lpzero")
        assert len(ours["W"]) == 8 and set(ours.names) == set(lpzero.inputs_names())
        ours.save(tmp_path / path.name)
        back = lpzero.Inputs.load(tmp_path / path.name)
        assert back.metadata == ours.metadata
        for name in ours.names:
            for x, y in zip(ours[name], back[name]):
                assert x.shape == y.shape and x.tobytes() == y.tobytes(), name
        # The command line reads the file Python wrote, and scores it as it scores its own.
        for f in (path, tmp_path / path.name):
            r = run_cli(lpzero_bin, "score", "--inputs", str(f), "-e", "sum(abs(G * W))", "--format", "json")
            doc = json.loads(r.stdout)
            value = doc["proxies"][0]["score"]
            assert doc["arch"] == ours.arch and doc["framework"] == ours.metadata["framework"]
            assert value == pytest.approx(lpzero.Proxy("sum(abs(G * W))").score(ours), rel=0, abs=0)


def ranks(x):
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(len(x))
    return r


def spearman(x, y):
    return float(np.corrcoef(ranks(np.asarray(x)), ranks(np.asarray(y)))[0, 1])


def kendall(x, y):
    n, s = len(x), 0
    for i in range(n):
        for j in range(i + 1, n):
            s += np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
    return s / (n * (n - 1) / 2)


def population(n=12, seed=5):
    r = np.random.default_rng(seed)
    archs, truth, size = [], [], []
    for k in range(n):
        scale = 0.5 + k / n
        inputs, w, g, a = sample_inputs(seed=100 + k, arch=f"arch{k:02d}", scale=scale)
        archs.append(inputs)
        size.append(float(sum(np.square(np.float32(x)).sum() for x in w)))
        truth.append(scale + r.normal() * 0.2)
    return archs, truth, size


def test_rank_equals_spearman_and_kendall_computed_here():
    archs, truth, size = population()
    report = lpzero.rank(["sum(sq(W))", "sum(abs(G * W))"], archs, truth, baselines={"size": size})
    p = report["proxies"][0]
    scores = [lpzero.Proxy("sum(sq(W))").score(a) for a in archs]
    assert p["spearman"] == pytest.approx(spearman(scores, truth), abs=1e-12)
    assert p["kendall"] == pytest.approx(kendall(scores, truth), abs=1e-12)
    b = report["baselines"][0]
    assert b["baseline"] == "size" and b["spearman"] == pytest.approx(spearman(size, truth), abs=1e-12)
    # Lower-is-better truth flips the sign.
    flipped = lpzero.rank("sum(sq(W))", archs, [-t for t in truth], lower_is_better=True)
    assert flipped["proxies"][0]["spearman"] == pytest.approx(p["spearman"], abs=1e-12)


def write_folder(folder, archs, truth):
    folder.mkdir(parents=True, exist_ok=True)
    for a in archs:
        a.save(folder / f"{a.arch}.safetensors")
    with open(folder / "truth.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "quality"])
        for a, t in zip(archs, truth):
            w.writerow([a.arch, repr(t)])


def test_rank_of_a_folder_equals_the_command_line(tmp_path, lpzero_bin):
    archs, truth, _ = population()
    write_folder(tmp_path / "f", archs, truth)
    proxies = ["sum(sq(W))", "sum(abs(G * W))", "avg(fro(A))"]
    py = lpzero.rank(proxies, tmp_path / "f")
    mem = lpzero.rank(proxies, archs, truth)
    args = ["rank", "--inputs", str(tmp_path / "f"), "--format", "json"]
    for p in proxies:
        args += ["-e", p]
    cli = json.loads(run_cli(lpzero_bin, *args).stdout)
    for a, b, c in zip(py["proxies"], cli["proxies"], mem["proxies"]):
        assert a["spearman"] == b["spearman"] == c["spearman"]
        assert a["kendall"] == b["kendall"] == c["kendall"]
        assert a["scores"] == b["scores"] == c["scores"]


def test_evolve_equals_the_command_line_and_repeats(tmp_path, lpzero_bin):
    archs, truth, _ = population(n=16)
    write_folder(tmp_path / "f", archs, truth)
    opts = dict(population=8, iterations=24, seed=3, search_archs=8, read=["W", "G", "A"])
    a = lpzero.evolve(archs, truth, out=tmp_path / "py1", **opts)
    b = lpzero.evolve(archs, truth, out=tmp_path / "py2", **opts)
    assert a["best"] == b["best"]
    run_cli(
        lpzero_bin, "evolve", "--inputs", str(tmp_path / "f"), "--out", str(tmp_path / "cli"), "--population", "8", "--iterations", "24",
        "--seed", "3", "--search-archs", "8", "--read", "W,G,A",
    )
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert a["best"] == cli["best"]
    assert a["heldout"] == cli["heldout"]
    assert (tmp_path / "py1" / "best.proxy").exists()
    with pytest.raises(ValueError):
        lpzero.evolve(archs, truth, shape="round", out=tmp_path / "bad")
