"""The benchmark itself, on a log small enough for the suite: what it runs and what it reports."""

from __future__ import annotations

import json
import statistics

from pipelines import bench


def test_bench_reports_the_median_default_run_with_its_cpu_time_and_steal(tmp_path, capsys) -> None:
    out = tmp_path / "bench"
    assert bench.main(["--lines", "3000", "--baseline-lines", "300", "--format-lines", "0", "--no-s3",
                       "--out", str(out)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    default, one_worker, baseline = results
    assert len(default["repeats"]) == 3 and default["seconds"] == statistics.median(default["repeats"])
    assert "median of 3 runs" in printed
    assert one_worker["repeats"] == [one_worker["seconds"]]
    assert baseline["run"] == "element-wise Beam baseline" and baseline["lines"] == 300
    for figures in results:
        assert figures["lines_per_s"] > 0 and figures["peak_rss_mb"] > 0
        assert 0 < figures["cpu_seconds"] < 10 * figures["seconds"]
        assert figures["steal"] is None or 0 <= figures["steal"] <= 1
    # Every default run ingested the whole log: its manifest adds up.
    (manifest,) = (out / "ingest" / "audit" / "manifests").glob("*.json")
    totals = json.loads(manifest.read_text())["totals"]
    assert totals["lines_read"] == 3000 and totals["balanced"]
