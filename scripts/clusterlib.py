"""Running scripts/cluster-local from Python (scripts/cluster-local-test, scripts/bench-costs):
start it in its own process group, wait for the settings it writes, stop everything after.

    with cluster_local(baedal) as c:      # c: DIR/cluster.env as a dict
        ... c["GATEWAY"], c["PID_WORKER_1"], client_env(c) ...
        w = start_worker(c, "worker-cl2-1", build_id="cl-2")   # another worker (stop it yourself)
        temporal(c, "worker", "deployment", "set-current-version", ...)
"""
import contextlib
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent


class DidNotComeUp(Exception):
    """scripts/cluster-local exited or did not get ready; the message is its output."""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@contextlib.contextmanager
def cluster_local(baedal, patience=240, args=(), env=None, keep_logs_on_failure=False,
                  keep_logs=False):
    """scripts/cluster-local with `args` (say ["--durable", "--access-log"]), in `env` (default:
    this process's), BAEDAL_BIN set to `baedal`. Its directory (logs, cluster.env) is removed
    after, unless `keep_logs`, or the block failed and `keep_logs_on_failure`."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="baedal-cluster."))
    out = work / "cluster-local.out"
    cluster = subprocess.Popen(
        [str(ROOT / "scripts/cluster-local"), "--port", str(free_port()), "--dir", str(work / "c"),
         *args],
        env=dict(os.environ if env is None else env, BAEDAL_BIN=str(baedal)), stdout=open(out, "w"),
        stderr=subprocess.STDOUT, start_new_session=True)
    keep = keep_logs
    try:
        env_file = work / "c/cluster.env"
        deadline = time.time() + patience
        while not env_file.exists():
            if cluster.poll() is not None or time.time() > deadline:
                raise DidNotComeUp(out.read_text())
            time.sleep(0.5)
        yield dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    except BaseException as e:
        # A failed run keeps its logs (not when it only did not come up: that says why).
        keep = keep or (keep_logs_on_failure and not isinstance(e, DidNotComeUp) and
                        not (isinstance(e, SystemExit) and e.code in (0, None)))
        raise
    finally:
        try:
            os.killpg(cluster.pid, signal.SIGTERM)
            cluster.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(cluster.pid, signal.SIGKILL)
        if keep:
            print(f"clusterlib: the run's logs are in {work / 'c'}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def client_env(c):
    """The environment a `baedal` client of the cluster runs with (loadgen, reconcile)."""
    return dict(os.environ, **{k: v for k, v in c.items() if not k.startswith(("PID_", "CL_"))},
                RUST_LOG="warn")


def role_env(c):
    """The environment every role of the cluster runs with (cluster.env's CL_ROLE_ENV)."""
    lines = pathlib.Path(c["CL_ROLE_ENV"]).read_text().splitlines()
    return dict(os.environ, **dict(line.split("=", 1) for line in lines if "=" in line))


def start_worker(c, name, build_id=None, patience=90):
    """Another `baedal worker` in the cluster's environment, of `build_id` (default: the
    cluster's, CL_BUILD_ID), its probes on a free port, its log in CL_DIR/NAME.log; returned
    (a Popen, `.metrics` its probes' URL) once /readyz answers 200. Not one of cluster-local's
    processes: stop it yourself (SIGTERM, as a rollout does)."""
    port = free_port()
    env = dict(role_env(c), BAEDAL_METRICS_ADDR=f"127.0.0.1:{port}",
               BAEDAL_BUILD_ID=build_id or c["CL_BUILD_ID"],
               BAEDAL_WORKER_DEPLOYMENT=c["CL_WORKER_DEPLOYMENT"])
    log = pathlib.Path(c["CL_DIR"], f"{name}.log")
    proc = subprocess.Popen([c["CL_BIN"], "worker"], env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)
    proc.metrics = f"http://127.0.0.1:{port}"
    deadline = time.time() + patience
    while True:
        try:
            with urllib.request.urlopen(f"{proc.metrics}/readyz", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise DidNotComeUp(f"{name} did not get ready:\n{log.read_text()[-2000:]}")
        time.sleep(0.3)


def temporal(c, *args, check=True):
    """The `temporal` CLI (the project's .venv) against the cluster's dev server: stdout."""
    cli = shutil.which("temporal") or str(ROOT / ".venv/bin/temporal")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    out = subprocess.run([cli, *args, "--address", c["CL_TEMPORAL_ADDRESS"]], env=env,
                         capture_output=True, text=True, timeout=60)
    if check and out.returncode != 0:
        raise RuntimeError(f"temporal {' '.join(args)}: {out.stdout}{out.stderr}")
    return out.stdout if check else out
