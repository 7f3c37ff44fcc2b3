"""How logshroud runs its Beam pipelines: in-process by default, any Beam runner when told.

The default is Beam's FnApiRunner with a worker thread per core. Its in-memory
workers run bundles side by side in threads of this process. The work in a bundle
is Arrow and numpy kernels, which release the GIL, so threads use the cores
without the cost of worker processes (start-up, and every element encoded
between them).
"""

from __future__ import annotations

import inspect
import os

from apache_beam.runners.worker import statesampler

DEFAULT_RUNNER = "FnApiRunner"

# How often an in-process worker's state sampler wakes (see `sample_states_often`).
SAMPLING_PERIOD_MS = 10


def runner_options(beam_args: list[str]) -> list[str]:
    """Beam options, with logshroud's default where they name no runner: in-process, a worker thread per core."""
    beam_args = list(beam_args)
    if not any(a.startswith("--runner") for a in beam_args):
        beam_args.append(f"--runner={DEFAULT_RUNNER}")
        if not any(a.startswith("--direct_num_workers") for a in beam_args):
            beam_args.append(f"--direct_num_workers={os.cpu_count() or 1}")
    return beam_args


def sample_states_often() -> None:
    """Make the state samplers of this process's Beam workers wake every `SAMPLING_PERIOD_MS`.

    A worker times its steps with a sampler thread that sleeps up to 200 ms between
    samples (Beam's default), and a bundle is not done before that thread has woken
    to see it stop. So each stage of a run ended up to 0.2 s after its work: 0.3 to
    0.6 s of a 6-second ingest of the benchmark log. Woken every 10 ms, the sampler
    (a lock and an addition, without the GIL) costs nothing measurable, and a stage
    ends within 10 ms of its work. Only samplers made in this process change: the
    in-process runner's; a cluster's workers keep their own.

    Should Beam's sampler take its period some other way, it is left as it is.
    """
    init = statesampler.StateSampler.__init__
    period = inspect.signature(init).parameters.get("sampling_period_ms")
    if period is not None and init.__defaults__ == (period.default,):
        init.__defaults__ = (SAMPLING_PERIOD_MS,)
