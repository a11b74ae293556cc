"""The Ray executor on a local cluster gives the archive the process pool gives."""

from __future__ import annotations

import pytest
from synth_util import tiny_task

from graphsynth.synth import search

ray = pytest.importorskip("ray", reason="the ray extra is not installed")


@pytest.fixture(scope="session")
def local_cluster():
    """One local cluster for the session: loopback only, no dashboard."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    if started:
        ray.shutdown()


@pytest.mark.long
def test_ray_gives_the_same_archive_as_the_process_pool(tmp_path, local_cluster):
    path = tiny_task(tmp_path)
    on_ray = search(path, "evolution", budget=4, seed=2, db=tmp_path / "ray.sqlite", executor="ray", batch=3)
    on_pool = search(path, "evolution", budget=4, seed=2, db=tmp_path / "pool.sqlite", executor="process", workers=1, batch=3)

    def key(a):
        return [(c.id, c.hash, c.status, c.parents, c.metrics) for c in a.candidates()]

    assert key(on_ray) == key(on_pool)
    assert {c.timings.get("worker") for c in on_ray.candidates("trained")} == {"ray"}
    assert sum(c.status == "trained" for c in on_ray.candidates()) == 4
    assert ray.is_initialized()  # a cluster the caller started is left running
