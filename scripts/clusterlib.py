"""Running scripts/cluster-local from Python (scripts/cluster-local-test, scripts/bench-costs):
start it in its own process group, wait for the settings it writes, stop everything after.

    with cluster_local(baedal) as c:      # c: DIR/cluster.env as a dict
        ... c["GATEWAY"], c["PID_WORKER_1"], client_env(c) ...
"""
import contextlib
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


class DidNotComeUp(Exception):
    """scripts/cluster-local exited or did not get ready; the message is its output."""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@contextlib.contextmanager
def cluster_local(baedal, patience=240):
    work = pathlib.Path(tempfile.mkdtemp(prefix="baedal-cluster."))
    out = work / "cluster-local.out"
    cluster = subprocess.Popen(
        [str(ROOT / "scripts/cluster-local"), "--port", str(free_port()), "--dir", str(work / "c")],
        env=dict(os.environ, BAEDAL_BIN=str(baedal)), stdout=open(out, "w"),
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        env_file = work / "c/cluster.env"
        deadline = time.time() + patience
        while not env_file.exists():
            if cluster.poll() is not None or time.time() > deadline:
                raise DidNotComeUp(out.read_text())
            time.sleep(0.5)
        yield dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    finally:
        try:
            os.killpg(cluster.pid, signal.SIGTERM)
            cluster.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(cluster.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


def client_env(c):
    """The environment a `baedal` client of the cluster runs with (loadgen, reconcile)."""
    return dict(os.environ, **{k: v for k, v in c.items() if not k.startswith("PID_")},
                RUST_LOG="warn")
