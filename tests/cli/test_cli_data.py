"""``diffbench generate`` and ``diffbench tasks``: output, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import diffbench.data.generation as generation_mod
from diffbench.cli import main
from diffbench.data.tasks import load_task, task_names
from diffbench.solver.backend import cupy_available

REPO = Path(__file__).resolve().parents[2]
SMOKE = yaml.safe_load((REPO / "datamodules" / "smoke.yaml").read_text())


def _error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI, expect exit 2 and exactly one stderr line ``error: ...``; return it."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def _task_yaml(tmp_path: Path, stem: str, **changes) -> str:
    raw = {**SMOKE, "name": stem, **changes}
    path = tmp_path / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


# ---------------------------------------------------------------- errors
def test_unknown_task(capsys, tmp_path: Path) -> None:
    line = _error_line(capsys, ["generate", "--task", "nope", "--data-dir", str(tmp_path / "d")])
    assert line == f"error: unknown task 'nope'; available: {', '.join(task_names())}"
    assert re.search(r"available: .*paper-512.*smoke.*standard-64", line)
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    "argv, pattern",
    [
        (["--devices", "0"], r"^error: --devices must be a positive integer, got 0$"),
        (["--devices", "-3"], r"^error: --devices must be a positive integer, got -3$"),
        (["--devices", "x"], r"^error: diffbench generate: argument --devices: invalid int value: 'x'"),
        (["--devices", "1.5"], r"^error: diffbench generate: argument --devices: invalid int value: '1\.5'"),
        (["--splits", "foo"], r"^error: unknown split\(s\) foo; allowed: train, val, test$"),
        (["--splits", "train,tset"], r"^error: unknown split\(s\) tset; allowed: train, val, test$"),
        (["--splits", ","], r"^error: unknown split\(s\) \(none\); allowed: train, val, test$"),
        (["--backend", "tpu"], r"^error: diffbench generate: argument --backend: invalid choice: 'tpu'"),
        (["--colour"], r"^error: diffbench: unrecognized arguments: --colour"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_bad_generate_arguments(capsys, tmp_path: Path, argv: list[str], pattern: str) -> None:
    data = tmp_path / "d"
    line = _error_line(capsys, ["generate", "--task", "smoke", "--data-dir", str(data), *argv])
    assert re.search(pattern, line), line
    assert not data.exists()


@pytest.mark.skipif(cupy_available(), reason="CuPy is usable here")
def test_cupy_backend_without_a_gpu_writes_nothing(capsys, tmp_path: Path) -> None:
    line = _error_line(capsys, ["generate", "--backend", "cupy", "--data-dir", str(tmp_path / "d")])
    assert "backend 'cupy' needs a CUDA GPU" in line
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    "changes, pattern",
    [
        ({"lattice": 4}, r"lattice N must be an integer >= 8, got 4"),
        ({"lattice": 7.5}, r"lattice N must be an integer >= 8, got 7\.5"),
        ({"sources": {**SMOKE["sources"], "radius": 0}}, r"radius must be a positive integer"),
        ({"sources": {**SMOKE["sources"], "radius": 16}}, r"does not fit in a 32x32 lattice"),
        ({"physics": {**SMOKE["physics"], "diffusivity": float("nan")}}, r"D > 0\), got nan"),
        (
            {"physics": {**SMOKE["physics"], "diffusivity": {"kind": "per-sample", "range": [0, 1]}}},
            r"diffusivity\.range must satisfy 0 < low",
        ),
        ({"physics": {**SMOKE["physics"], "decay": -1}}, r"decay must be finite and >= 0, got -1"),
        ({"physics": {**SMOKE["physics"], "boundary": "neumann"}}, r"singular"),
        ({"physics": {**SMOKE["physics"], "boundary": "robin"}}, r"unknown boundary 'robin'"),
        (
            {"physics": {**SMOKE["physics"], "diffusivity": {"kind": "per-sample", "range": ["a", 2]}}},
            r"must be a number",
        ),
        ({"colour": 1}, r"unknown key\(s\) colour"),
    ],
    ids=lambda v: str(v)[:30] if isinstance(v, dict) else None,
)
def test_bad_task_file(capsys, tmp_path: Path, changes: dict, pattern: str) -> None:
    path = _task_yaml(tmp_path, f"bad{abs(hash(str(changes))) % 10**8}", **changes)
    line = _error_line(capsys, ["generate", "--task", path, "--data-dir", str(tmp_path / "d")])
    assert re.search(pattern, line) and path in line, line
    assert not (tmp_path / "d").exists()


def test_unwritable_data_dir(capsys, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = _error_line(capsys, ["generate", "--data-dir", str(blocker / "data"), "--no-progress"])
    assert line.startswith(f"error: data dir {blocker / 'data' / 'smoke'} is not writable") and "--data-dir" in line


def test_cache_of_another_spec(capsys, tmp_path: Path) -> None:
    a = _task_yaml(tmp_path, "twin")
    (tmp_path / "other").mkdir()
    b = _task_yaml(tmp_path / "other", "twin", seed=SMOKE["seed"] + 1)
    data = tmp_path / "d"
    assert main(["generate", "--task", a, "--data-dir", str(data), "--no-progress", "--splits", "val"]) == 0
    capsys.readouterr()
    line = _error_line(capsys, ["generate", "--task", b, "--data-dir", str(data), "--no-progress"])
    assert "holds task 'twin' generated from a different spec" in line
    assert sorted(p.name for p in (data / "twin").iterdir()) == [".lock", "manifest.json", "val"]


# ---------------------------------------------------------------- success
def test_generate_smoke_prints_max_residual(capsys, tmp_path: Path) -> None:
    assert main(["generate", "--task", "smoke", "--data-dir", str(tmp_path), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 4 and lines[-1] == f"cache: {tmp_path / 'smoke'}"
    sizes = {"train": 320, "val": 60, "test": 120}
    for line, split in zip(lines, ("train", "val", "test")):
        m = re.fullmatch(rf"smoke {split}: (\d+) samples in 1 shard\(s\), solver (\S+), max residual (\S+)", line)
        assert m, line
        assert int(m.group(1)) == sizes[split] and m.group(2) == "dst"
        assert 0 <= float(m.group(3)) <= 1e-8
    assert re.search(r"generated 500 samples of smoke in [\d.]+ s \(\d+ samples/s\)", err)
    manifest = json.loads((tmp_path / "smoke" / "manifest.json").read_text())
    assert manifest["spec_hash"] == load_task("smoke").spec_hash

    # Again: verified, nothing regenerated, same report.
    assert main(["generate", "--task", "smoke", "--data-dir", str(tmp_path), "--no-progress"]) == 0
    out2, err2 = capsys.readouterr()
    assert out2 == out and "generated" not in err2

    # A corrupted shard: one warning line, regenerated, exit 0.
    shard = tmp_path / "smoke" / "val" / "shard-00000.npz"
    good = shard.read_bytes()
    shard.write_bytes(good[:100])
    assert main(["generate", "--task", "smoke", "--data-dir", str(tmp_path), "--no-progress"]) == 0
    out3, err3 = capsys.readouterr()
    warnings = [ln for ln in err3.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "failed its checksum" in warnings[0]
    assert shard.read_bytes() == good and out3 == out


def test_generate_one_split_from_env_data_dir(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIFFBENCH_DATA_DIR", str(tmp_path / "env"))
    assert main(["generate", "--splits", "test", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("smoke test: 120 samples")
    assert sorted(p.name for p in (tmp_path / "env" / "smoke").iterdir()) == [".lock", "manifest.json", "test"]


def test_generate_interrupted_exits_130_and_resumes(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = generation_mod._generate_shard
    calls = []

    def interrupt_second(*args, **kw):
        calls.append(args[1:3])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(generation_mod, "_generate_shard", interrupt_second)
    assert main(["generate", "--data-dir", str(tmp_path), "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "interrupted: completed work is kept" in err and "Traceback" not in err
    monkeypatch.setattr(generation_mod, "_generate_shard", real)
    assert main(["generate", "--data-dir", str(tmp_path), "--no-progress"]) == 0
    assert not list(tmp_path.rglob("*.tmp"))


def test_tasks_lists_the_tasks_with_n_and_sizes(capsys) -> None:
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["task", "axis", "N"]
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    assert list(rows) == task_names() and {"paper-512", "smoke", "standard-64"} <= set(rows)
    for name in task_names():
        t = load_task(name)
        sizes = f"{t.splits['train'].size}/{t.splits['val'].size}/{t.splits['test'].size}"
        assert rows[name][1:3] == [t.axis, str(t.lattice)] and sizes in rows[name], rows[name]
    assert rows["smoke"][2] == "32" and "320/60/120" in rows["smoke"]
    assert rows["standard-64"][2] == "64" and "2000/300/800" in rows["standard-64"]
    assert rows["paper-512"][2] == "512" and "320000/20000/80000" in rows["paper-512"]
    assert "1-20" in rows["paper-512"] and "stream" in rows["paper-512"]


def test_tasks_json(capsys) -> None:
    assert main(["tasks", "--json"]) == 0
    specs = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in specs] == task_names()
    for s in specs:
        assert s["spec_hash"] == load_task(s["name"]).spec_hash


def test_console_script_one_line_error(tmp_path: Path) -> None:
    """The installed entry point, in a real process: exit 2, one line, no traceback."""
    exe = Path(sys.executable).with_name("diffbench")
    if not exe.exists():
        pytest.skip(f"no console script next to {sys.executable}")
    env = {**os.environ, "DIFFBENCH_DATA_DIR": str(tmp_path / "d")}
    env.pop("DIFFBENCH_DEBUG", None)
    proc = subprocess.run(
        [str(exe), "generate", "--task", "nope"], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 2, proc
    assert proc.stderr.splitlines() == [f"error: unknown task 'nope'; available: {', '.join(task_names())}"]
    assert "Traceback" not in proc.stderr + proc.stdout and proc.stdout == ""
    assert not (tmp_path / "d").exists()


def test_data_commands_start_without_torch(tmp_path: Path) -> None:
    """`diffbench --help`, `tasks` and `generate` never import torch or Lightning (3 s of imports
    here before the stages' packages became lazy): generation processes start at once."""
    probe = (
        "import sys\n"
        "from diffbench.cli import main\n"
        "codes = [main(['tasks']), main(['generate', '--task', 'smoke', '--data-dir', sys.argv[1]])]\n"
        "heavy = sorted(m for m in ('torch', 'lightning', 'torchmetrics', 'wandb') if m in sys.modules)\n"
        "print('RESULT', codes, heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "RESULT [0, 0] []" in out.stdout, out.stdout[-2000:]
    assert (tmp_path / "smoke" / "manifest.json").is_file()


# ---------------------------------------------------------------- hostile inputs (issue 16)
def test_devices_beyond_the_machine_is_one_line_and_spawns_nothing(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class NoPool:
        def Pool(self, *a, **kw):
            raise AssertionError("spawned processes")

    monkeypatch.setattr(generation_mod.mp, "get_context", lambda *a: NoPool())
    data = tmp_path / "d"
    line = _error_line(
        capsys,
        ["generate", "--task", "smoke", "--data-dir", str(data), "--devices", "99999999999", "--backend", "numpy"],
    )
    assert re.fullmatch(
        r"error: --devices 99999999999 asks for more processes than this machine's \d+ usable CPU core\(s\); use --devices \d+ or fewer",
        line,
    ), line
    assert not data.exists()


@pytest.mark.parametrize("name", ["../../x", "/tmp/diffbench-abs-task"])
def test_task_name_that_would_leave_the_data_dir_is_refused(capsys, tmp_path: Path, name: str) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text(yaml.safe_dump({**SMOKE, "name": name}))
    data = tmp_path / "a" / "b" / "d"
    line = _error_line(
        capsys, ["generate", "--task", str(path), "--data-dir", str(data), "--no-progress", "--splits", "val"]
    )
    assert f"task name {name!r} is not allowed" in line and str(path) in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.yaml"] and not Path("/tmp/diffbench-abs-task").exists()


@pytest.mark.parametrize(
    "text, pattern",
    [
        (
            yaml.safe_dump({**SMOKE, "name": "latin"}).replace("flux", "flüx").encode("latin-1"),
            r"is not UTF-8 text \(byte 0xfc at offset \d+\); save it as UTF-8$",
        ),
        (
            yaml.safe_dump({**SMOKE, "name": "big", "lattice": 60000}).encode(),
            r"lattice N must be at most 4096 \(MAX_LATTICE\), got 60000$",
        ),
        (
            yaml.safe_dump(
                {
                    **SMOKE,
                    "name": "many",
                    "splits": {**SMOKE["splits"], "train": {"counts": [1, 5], "per_count": 10**12}},
                }
            ).encode(),
            r"splits\.train\.per_count must be at most 1000000 \(MAX_PER_COUNT\), got 1000000000000$",
        ),
        (
            (
                "name: bomb\n"
                + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9) if i else '1'}]\n" for i in range(10))
            ).encode(),
            r"uses YAML anchors or aliases \(&name / \*name\), which task files may not \(line 2\); write the values out$",
        ),
    ],
    ids=["non-utf8", "lattice-60000", "per-count-1e12", "alias-bomb"],
)
def test_hostile_task_yaml_is_one_line(capsys, tmp_path: Path, text: bytes, pattern: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(text)
    line = _error_line(capsys, ["generate", "--task", str(path), "--data-dir", str(tmp_path / "d"), "--no-progress"])
    assert re.search(pattern, line) and str(path) in line, line
    assert not (tmp_path / "d").exists()


def _damage(manifest: dict, case: str):
    if case == "list":
        return []
    m = json.loads(json.dumps(manifest))
    if case == "no-splits":
        del m["splits"]
    elif case == "splits-list":
        m["splits"] = []
    elif case == "int-entry":
        m["splits"]["train"]["shards"]["00000"] = 5
    elif case == "string-max-residual":
        m["splits"]["test"]["shards"]["00000"]["max_residual"] = "tiny"
    return m


@pytest.mark.parametrize("case", ["list", "no-splits", "splits-list", "int-entry", "string-max-residual"])
def test_corrupt_manifest_is_reported_and_repaired_by_generate(capsys, tmp_path: Path, case: str) -> None:
    data = tmp_path / "d"
    assert main(["generate", "--task", "smoke", "--data-dir", str(data), "--no-progress"]) == 0
    manifest = data / "smoke" / "manifest.json"
    good = manifest.read_bytes()
    shards = {p: p.read_bytes() for p in (data / "smoke").rglob("shard-*.npz")}
    manifest.write_text(json.dumps(_damage(json.loads(good), case)))
    capsys.readouterr()
    assert main(["generate", "--task", "smoke", "--data-dir", str(data), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and re.search(r"warning: .*manifest\.json is (malformed|unreadable)", err), err
    assert re.search(r"smoke test: 120 samples in 1 shard\(s\), solver dst, max residual \d\.\de-\d\d", out), out
    assert json.loads(manifest.read_bytes())["splits"] == json.loads(good)["splits"]
    assert {p: p.read_bytes() for p in shards} == shards


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 200 kB tmpfs (root only; skipped where mounting is not permitted)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mnt)], capture_output=True, text=True, check=False
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


def test_disk_full_during_generate_is_one_line(capsys, tiny_disk: Path) -> None:
    line = _error_line(capsys, ["generate", "--task", "smoke", "--data-dir", str(tiny_disk), "--no-progress"])
    assert re.fullmatch(
        r"error: cannot write .*/smoke/train/shard-00000\.npz: No space left on device; nothing half-written was left "
        r"\(free space or choose another --data-dir\)",
        line,
    ), line
    assert [p.name for p in tiny_disk.rglob("*") if p.is_file() and p.name != ".lock"] == []
