"""The allocator settings a job starts with: set before Arrow is used, inherited by workers, the user's own kept."""

import json
import os
import subprocess
import sys

import pytest

from transforms import allocators

_REPORT = """
import json, os
from transforms import allocators
chosen = allocators.tune()
import pyarrow as pa
print(json.dumps({"pool": pa.default_memory_pool().backend_name, "chosen": chosen,
                  "inherited": {name: os.environ.get(name) for name in allocators.SETTINGS}}))
"""


def _report(environment: dict[str, str]) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in allocators.SETTINGS}
    done = subprocess.run([sys.executable, "-c", _REPORT], env=clean | environment, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return json.loads(done.stdout)


def test_arrow_allocates_through_the_system_allocator_and_workers_inherit_the_settings():
    report = _report({})
    assert report["pool"] == "system"
    assert report["chosen"] == report["inherited"] == allocators.SETTINGS


@pytest.mark.parametrize(
    "name, value",
    [("ARROW_DEFAULT_MEMORY_POOL", "mimalloc"), ("MALLOC_MMAP_THRESHOLD_", "131072"), ("MALLOC_TRIM_THRESHOLD_", "x")],
)
def test_a_users_own_setting_wins(name, value):
    report = _report({name: value})
    assert report["chosen"][name] == value
    if name == "ARROW_DEFAULT_MEMORY_POOL":
        assert report["pool"] == value


def test_the_command_line_tunes_before_any_job():
    done = subprocess.run([sys.executable, "-c", "from pipelines import cli; cli._main(['--help']); "
                           "import pyarrow as pa; print(pa.default_memory_pool().backend_name)"],
                          env={k: v for k, v in os.environ.items() if k not in allocators.SETTINGS},
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert done.stdout.split()[-1] == "system"
