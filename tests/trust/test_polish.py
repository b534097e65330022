"""``diffbench solve``: every returned field meets the tolerance (re-checked here from the
independently assembled matrix), on adversarial inputs; reports against a cold start; refuses
bad inputs with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from diffbench.cli import main
from diffbench.solver.reference import assemble_matrix

N = 32


def _cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _disk(n, cy, cx, r):
    yy, xx = np.mgrid[:n, :n]
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(float)


def adversarial_sources(n: int = N) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    border = np.zeros((n, n))
    border[0, :] = 1.0
    border[:, -1] += 0.5
    border[-1, 0] = 2.0  # a corner
    overlap = _disk(n, 10, 10, 4) * 0.7 + _disk(n, 12, 13, 4) * 0.9 + _disk(n, 11, 11, 2) * 0.3
    points = np.zeros((n, n))
    ys, xs = rng.integers(0, n, size=(2, 100))
    np.add.at(points, (ys, xs), rng.uniform(0.01, 1.0, size=100))
    ratio = _disk(n, 5, 26, 2) * 1e3 + _disk(n, 25, 6, 2) * 1e-3  # flux ratio 10^6
    corner_spike = np.zeros((n, n))
    corner_spike[0, 0], corner_spike[n - 1, n - 1], corner_spike[n // 2, n // 2] = 1e6, 1.0, 1e-6 * 0 + 1e-6
    return {
        "border": border,
        "overlap": overlap,
        "points100": points,
        "ratio1e6": ratio,
        "corner_spike": corner_spike,
        "zero": np.zeros((n, n)),
    }


def _certificate(u, s, D=1.0, decay=0.0, boundary="dirichlet"):
    a = assemble_matrix(np.broadcast_to(np.asarray(D, dtype=float), s.shape), decay, boundary)
    r = a @ u.ravel() - s.ravel()
    den = np.linalg.norm(s)
    return np.linalg.norm(r) / (den if den > 0 else 1.0)


@pytest.mark.parametrize("tol", [1e-6, 1e-10])
def test_adversarial_inputs_meet_the_tolerance(tol, smoke_checkpoint, tmp_path, capsys):
    cases = adversarial_sources()
    S = np.stack(list(cases.values()))
    np.save(tmp_path / "S.npy", S)
    report = tmp_path / "report.json"
    code, out, err = _cli(
        [
            "solve",
            "--checkpoint",
            str(smoke_checkpoint),
            "--tol",
            str(tol),
            "--input",
            str(tmp_path / "S.npy"),
            "--output",
            str(tmp_path / "U.npy"),
            "--report",
            str(report),
            "--repeats",
            "1",
            "--threads",
            "1",
        ],
        capsys,
    )
    assert code == 0, err
    U = np.load(tmp_path / "U.npy")
    assert U.shape == S.shape and U.dtype == np.float64
    for name, u, s in zip(cases, U, S):
        assert _certificate(u, s) <= tol, name
    r = json.loads(report.read_text())
    assert r["residual_max"] <= tol and r["n_samples"] == len(cases)
    assert len(r["warm"]["iterations"]) == len(r["cold"]["iterations"]) == len(cases)
    assert r["cold"]["method"] == "mgcg" and r["warm"]["method"] == "mgcg" and r["direct"]["method"] == "dst"
    assert r["saved_vs_cold"]["iterations"] == r["cold"]["iterations_total"] - r["warm"]["iterations_total"]
    assert any("transform solver" in line for line in r["verdict"])
    assert "every residual <=" in out and "cold start" in out and "fastest direct solver (dst)" in out


@pytest.mark.parametrize("scale", ["residual", "energy"])
def test_a_good_guess_saves_iterations(scale, tmp_path, capsys, monkeypatch):
    """With a near-exact surrogate the warm start needs fewer iterations than the cold one."""
    from trust_testlib import OracleModel

    import diffbench.trust.commands as tc
    from diffbench.data import load_task

    monkeypatch.setattr(tc, "load_surrogate", lambda ckpt, device, task=None: (OracleModel(), load_task("smoke")))
    S = np.stack([adversarial_sources()[k] for k in ("overlap", "points100", "ratio1e6")])
    np.save(tmp_path / "S.npy", S)
    code, out, err = _cli(
        [
            "solve",
            "--checkpoint",
            "unused.ckpt",
            "--tol",
            "1e-8",
            "--input",
            str(tmp_path / "S.npy"),
            "--output",
            str(tmp_path / "U.npy"),
            "--report",
            str(tmp_path / "r.json"),
            "--repeats",
            "1",
            "--scale",
            scale,
        ],
        capsys,
    )
    assert code == 0, err
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["warm"]["scale"] == scale and r["warm"]["initial_residual_mean"] < 1e-5
    assert r["warm"]["iterations_total"] < r["cold"]["iterations_total"]
    assert r["saved_vs_cold"]["iterations"] > 0


def test_single_map_keeps_its_shape_and_output_is_not_overwritten(smoke_checkpoint, tmp_path, capsys):
    s = adversarial_sources()["overlap"]
    np.save(tmp_path / "s.npy", s)
    args = [
        "solve",
        "--checkpoint",
        str(smoke_checkpoint),
        "--tol",
        "1e-6",
        "--input",
        str(tmp_path / "s.npy"),
        "--output",
        str(tmp_path / "u.npy"),
        "--no-compare",
        "--threads",
        "1",
    ]
    assert _cli(args, capsys)[0] == 0
    u = np.load(tmp_path / "u.npy")
    assert u.shape == (N, N) and _certificate(u, s) <= 1e-6
    before = (tmp_path / "u.npy").read_bytes()
    code, _, err = _cli(args, capsys)
    assert code == 2 and "already exists" in err and "--force" in err
    assert (tmp_path / "u.npy").read_bytes() == before
    assert _cli(args + ["--force"], capsys)[0] == 0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary left behind


def _bad_inputs(tmp_path):
    np.save(tmp_path / "ok.npy", np.ones((N, N)))
    np.save(tmp_path / "rank1.npy", np.ones(N))
    np.save(tmp_path / "rank4.npy", np.ones((1, 1, N, N)))
    np.save(tmp_path / "wrong_n.npy", np.ones((2, 16, 16)))
    np.save(tmp_path / "rect.npy", np.ones((N, N + 1)))
    nan = np.ones((N, N))
    nan[3, 3] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "text.npy", np.array(["a", "b"]))
    (tmp_path / "garbage.npy").write_bytes(b"not a numpy file")
    (tmp_path / "plain.txt").write_text("1 2 3")


@pytest.mark.parametrize(
    "override, needle",
    [
        ({"--input": "rank1.npy"}, "shape (N, N) or (B, N, N)"),
        ({"--input": "rank4.npy"}, "shape (N, N) or (B, N, N)"),
        ({"--input": "wrong_n.npy"}, "lattice N = 32"),
        ({"--input": "rect.npy"}, "square"),
        ({"--input": "nan.npy"}, "NaN"),
        ({"--input": "text.npy"}, "real numbers"),
        ({"--input": "garbage.npy"}, "not a readable .npy"),
        ({"--input": "plain.txt"}, "must be a .npy file"),
        ({"--input": "missing.npy"}, "does not exist"),
        ({"--tol": "-0.001"}, "--tol must be a number in (0, 1)"),
        ({"--tol=-1e-6": None}, "--tol must be a number in (0, 1)"),  # argparse takes "-1e-6" alone for a flag
        ({"--tol": "1"}, "--tol must be a number in (0, 1)"),
        ({"--tol": "0"}, "--tol must be a number in (0, 1)"),
        ({"--tol": "nan"}, "--tol must be a number in (0, 1)"),
        ({"--tol": "abc"}, "invalid float value"),
        ({"--output": "out.txt"}, "must end in .npy"),
        ({"--output": "nodir/out.npy"}, "does not exist"),
        ({"--checkpoint": "missing.ckpt"}, "does not exist"),
        ({"--checkpoint": "plain.txt"}, "not a readable checkpoint"),
        ({"--decay": "-1"}, "--decay"),
        ({"--boundary": "sticky"}, "unknown boundary"),
        ({"--diffusivity": "-2"}, "positive"),
        ({"--device": "tpu"}, "--device"),
        ({"--scale": "optimal"}, "invalid choice"),
        ({"--task": "standard-64"}, "is not the task"),
        ({"--backend": "jax"}, "unknown backend 'jax'"),
    ],
)
def test_bad_inputs_are_one_line(override, needle, smoke_checkpoint, tmp_path, capsys):
    _bad_inputs(tmp_path)
    opts = {"--checkpoint": str(smoke_checkpoint), "--tol": "1e-6", "--input": "ok.npy", "--output": "out.npy"}
    opts.update(override)
    for key in ("--input", "--output"):
        opts[key] = str(tmp_path / opts[key])
    if opts["--checkpoint"] in ("missing.ckpt", "plain.txt"):
        opts["--checkpoint"] = str(tmp_path / opts["--checkpoint"])
    if "--tol=-1e-6" in opts:
        del opts["--tol"], opts["--tol=-1e-6"]
        opts["--tol=-1e-6"] = None
    args = ["solve", "--threads", "1", "--no-compare"] + [x for kv in opts.items() for x in kv if x is not None]
    code, _, err = _cli(args, capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err
    assert not (tmp_path / "out.npy").exists()


@pytest.fixture()
def varying_task(tmp_path, monkeypatch):
    """A task whose D (a log-normal field) and boundary vary per sample, in a private tasks dir."""
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    spec = {
        "name": "vary",
        "lattice": 16,
        "seed": 1,
        "sources": {"radius": 1},
        "physics": {
            "diffusivity": {"kind": "lognormal", "sigma": 1.0, "length": 3},
            "boundary": {
                "random": [
                    "dirichlet",
                    {"top": "dirichlet", "bottom": "neumann", "left": "dirichlet", "right": "neumann"},
                ]
            },
        },
        "splits": {s: {"counts": [1, 3], "per_count": 2} for s in ("train", "val", "test")},
    }
    (tasks / "vary.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.setenv("DIFFBENCH_TASKS_DIR", str(tasks))
    from trust_testlib import make_checkpoint

    return make_checkpoint(tmp_path / "vary.ckpt", "vary")


def test_varying_physics_needs_options_and_then_meets_the_tolerance(varying_task, tmp_path, capsys):
    rng = np.random.default_rng(1)
    S = np.zeros((3, 16, 16))
    S[:, 0, 5], S[:, 8, 8], S[1, 15, 15] = 1.0, 1e-3, 1e3
    np.save(tmp_path / "S.npy", S)
    D = np.exp(rng.normal(size=(16, 16)))
    np.save(tmp_path / "D.npy", D)
    base = [
        "solve",
        "--checkpoint",
        str(varying_task),
        "--tol",
        "1e-7",
        "--input",
        str(tmp_path / "S.npy"),
        "--output",
        str(tmp_path / "U.npy"),
        "--threads",
        "1",
        "--repeats",
        "1",
    ]
    code, _, err = _cli(base, capsys)
    assert code == 2 and "--diffusivity" in err and err.count("\n") == 1
    code, _, err = _cli(base + ["--diffusivity", str(tmp_path / "D.npy")], capsys)
    assert code == 2 and "--boundary" in err and err.count("\n") == 1
    mixed = '{"top": "dirichlet", "bottom": "neumann", "left": "dirichlet", "right": "neumann"}'
    code, out, err = _cli(
        base + ["--diffusivity", str(tmp_path / "D.npy"), "--boundary", mixed, "--report", str(tmp_path / "r.json")],
        capsys,
    )
    assert code == 0, err
    U = np.load(tmp_path / "U.npy")
    for u, s in zip(U, S):
        assert _certificate(u, s, D=D, boundary=json.loads(mixed)) <= 1e-7
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["direct"]["method"] == "mgcg" and not r["direct"]["exact"]
    assert any("no exact transform" in line for line in r["verdict"])


def test_cupy_backend_without_a_gpu_is_one_line(smoke_checkpoint, tmp_path, capsys):
    from diffbench.solver.backend import cupy_available

    if cupy_available():
        pytest.skip("a GPU is usable here: the CuPy test below covers --backend cupy")
    np.save(tmp_path / "S.npy", np.ones((N, N)))
    code, _, err = _cli(
        [
            "solve",
            "--checkpoint",
            str(smoke_checkpoint),
            "--input",
            str(tmp_path / "S.npy"),
            "--output",
            str(tmp_path / "U.npy"),
            "--backend",
            "cupy",
            "--no-compare",
        ],
        capsys,
    )
    assert code == 2 and err.count("\n") == 1 and "needs a CUDA GPU" in err
    assert not (tmp_path / "U.npy").exists()


@pytest.mark.gpu
@pytest.mark.parametrize("tol", [1e-6, 1e-10])
def test_cupy_polish_meets_the_tolerance_and_matches_numpy(tol, smoke_checkpoint, tmp_path, capsys):
    """--backend cupy: the same certified fields as NumPy (to the tolerance), on adversarial inputs."""
    from diffbench.solver.backend import cupy_available

    if not cupy_available():
        pytest.skip("needs a CUDA GPU and CuPy")
    S = np.stack(list(adversarial_sources().values()))
    np.save(tmp_path / "S.npy", S)
    outs = {}
    for backend in ("numpy", "cupy"):
        report = tmp_path / f"{backend}.json"
        code, out, err = _cli(
            [
                "solve",
                "--checkpoint",
                str(smoke_checkpoint),
                "--tol",
                str(tol),
                "--input",
                str(tmp_path / "S.npy"),
                "--output",
                str(tmp_path / f"{backend}.npy"),
                "--backend",
                backend,
                "--repeats",
                "1",
                "--report",
                str(report),
            ],
            capsys,
        )
        assert code == 0, err
        assert json.loads(report.read_text())["backend"] == backend and f"solves on {backend}" in out
        outs[backend] = np.load(tmp_path / f"{backend}.npy")
    for u, s in zip(outs["cupy"], S):
        assert _certificate(u, s) <= tol
    scale = np.abs(outs["numpy"]).max(axis=(-2, -1), keepdims=True) + 1e-300
    assert np.all(np.abs(outs["cupy"] - outs["numpy"]) / scale <= 100 * tol)
