"""The same job gives the same rows on every Beam runner we can start here, and ships to remote workers."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import duckdb
import pytest

from pipelines import ingest
from tests.conftest import Workspace, clf_line
from transforms.schema import DATASETS

AS_OF = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
PROJECT = Path(__file__).resolve().parents[1]
RUNNERS = {
    "fnapi": [],  # the default: in-process, a worker thread per core
    "fnapi-1-worker": ["--direct_num_workers=1"],
    "direct-2-processes": ["--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"],
    "portable-loopback": ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"],
    "portable-setup-file": ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK",
                            f"--setup_file={PROJECT / 'setup.py'}"],
}  # fmt: skip


def inputs(ws: Workspace) -> list[str]:
    """A file split into several byte ranges (with CRLF lines and broken ones), and a few small files."""
    big = [clf_line(f"192.0.2.{i % 97}", dt.datetime(2026, 11, 24, i % 24, i % 60), f"/p/{i % 300}",
                    status=(200, 404, 500, 401)[i % 4]) for i in range(4000)]  # fmt: skip
    for broken in (0, 1234, 3999):
        big[broken] = f"not a request {broken}"
    paths = [ws.log("big.log", "\r\n".join(big).encode() + b"\r\n")]
    for n in range(5):
        small = [clf_line(f"2001:db8::{n}", dt.datetime(2026, 11, 24, 10, i % 4, i), "/login", status=401)
                 for i in range(40)]  # fmt: skip
        paths.append(ws.log(f"small-{n}.log", small))
    return [str(p) for p in paths]


def outputs(ws: Workspace, manifest: dict) -> dict:
    """What a run wrote: each dataset's files and row multiset (run ids aside), and the manifest's counts."""
    found = {"totals": manifest["totals"], "inputs": manifest["inputs"]}
    for zone, dataset in DATASETS:
        folder = ws.zone(zone) / dataset
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.parquet"))
        rows = duckdb.sql(
            f"SELECT * EXCLUDE (run_id) FROM read_parquet('{folder}/*/*.parquet', hive_partitioning = true) ORDER BY ALL"
        ).fetchall() if files else []  # fmt: skip
        found[f"{zone}/{dataset}"] = (files, rows)
    return found


@pytest.fixture(scope="module")
def workspace_and_reference(tmp_path_factory) -> tuple[Workspace, list[str], dict]:
    """One workspace (inputs, keyring) for every runner; the in-process run's outputs as the reference."""
    ws = Workspace(tmp_path_factory.mktemp("runners"), input__range_bytes=50_000, input__chunk_lines=400)
    paths = inputs(ws)
    return ws, paths, outputs(ws, ingest.run(ws.config, paths, AS_OF))


@pytest.mark.parametrize("runner", [r for r in RUNNERS if r != "fnapi"])
def test_every_runner_writes_the_same_rows(workspace_and_reference, runner: str) -> None:
    ws, paths, reference = workspace_and_reference
    shutil.rmtree(ws.root / "data")
    got = outputs(ws, ingest.run(ws.config, paths, AS_OF, RUNNERS[runner]))
    assert got["totals"]["lines_read"] == 4200 and got["totals"]["quarantined"] == 3
    assert len(got["restricted/alerts"][1]) == 5  # each small file's client fails to log in 40 times
    for name, value in reference.items():
        assert got[name] == value, name


def test_wheel_and_sdist_carry_the_packages_and_their_data(tmp_path: Path) -> None:
    """What `--setup_file ./setup.py` ships to remote workers: the code and the embedded config."""
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), "."]
    subprocess.run(build, cwd=PROJECT, check=True, capture_output=True)
    subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path)], cwd=PROJECT, check=True,
                   capture_output=True)  # fmt: skip
    (wheel,) = tmp_path.glob("*.whl")
    (sdist,) = tmp_path.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for module in ("pipelines/ingest.py", "pipelines/cli.py", "transforms/windows.py", "transforms/parse/clf.py"):
        assert module in in_wheel and module in in_sdist, module
    assert "logshroud_configs/default.yaml" in in_wheel
    assert "configs/default.yaml" in in_sdist and "README.md" in in_sdist
    assert not any(name.startswith("tests/") for name in in_wheel)
