"""A real Open Inference Protocol (KServe V2) server for the tests: Seldon MLServer on 127.0.0.1.

MLServer lives in its own venv (its pins would downgrade protobuf and others
under the code being tested): `scripts/test.sh` creates it once under
~/.cache/camhub and exports CAMHUB_MLSERVER_PYTHON. It serves one ONNX file
through tests/servers/mlserver_runtime/onnx_runtime.py. Only loopback is bound;
MLServer's gRPC port cannot be switched off, so the OS picks a free one.

Fixture (registered for the whole suite in ``tests/conftest.py``):

``v2_server``
    a factory: ``start(model, name="detector", version="1") -> MLServer``; every
    server it started is stopped at teardown. Skipped when MLServer's venv is
    missing, except under CI, where that is a failure.

Example::

    server = v2_server(model_path)
    ... detector url: server.url, model: server.name ...
    server.kill()          # SIGKILL, as a crash would
    server.restart()       # same port, ready again
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

HOST = "127.0.0.1"
RUNTIME_DIR = Path(__file__).resolve().parent / "mlserver_runtime"
MLSERVER_VERSION = "1.7.1"
CACHE = Path.home() / ".cache" / "camhub"
DEFAULT_PYTHON = CACHE / f"mlserver-{MLSERVER_VERSION}" / "bin" / "python"
START_TIMEOUT = 90.0
# What the `mlserver` console script runs.
_LAUNCH = "import sys; from mlserver.cli import main; sys.argv[0] = 'mlserver'; sys.exit(main())"


def mlserver_python() -> str | None:
    """The interpreter of MLServer's venv, or None when it is not installed."""
    given = os.environ.get("CAMHUB_MLSERVER_PYTHON")
    path = Path(given) if given else DEFAULT_PYTHON
    return str(path) if path.is_file() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


class MLServer:
    """One MLServer process serving one model; `restart()` brings it back on the same port."""

    def __init__(self, python: str, folder: Path, model: Path, name: str, version: str | None):
        self.python = python
        self.folder = folder
        self.name = name
        self.port = _free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = folder / "mlserver.log"
        settings = {
            "host": HOST,
            "http_port": self.port,
            "grpc_port": 0,
            "metrics_endpoint": None,
            "parallel_workers": 0,
            "debug": False,
            "gzip_enabled": False,
            "load_models_at_startup": True,
        }
        parameters: dict[str, object] = {"uri": str(model.resolve())}
        if version is not None:
            parameters["version"] = version
        model_settings = {
            "name": name,
            "implementation": "onnx_runtime.OnnxRuntimeModel",
            "parameters": parameters,
        }
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / "settings.json").write_text(json.dumps(settings))
        (folder / name / "model-settings.json").write_text(json.dumps(model_settings))
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_seconds = 0.0
        self.start()

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLSERVER_")}
        env["PYTHONPATH"] = str(RUNTIME_DIR)
        env["OMP_NUM_THREADS"] = "1"
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [self.python, "-c", _LAUNCH, "start", str(self.folder)],
                cwd=self.folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # /v2/health/ready alone is true with no model loaded yet: ask for the model too.
        while True:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"mlserver exited:\n{self.log_tail()}")
            model_ready = _status(f"{self.url}/v2/models/{self.name}/ready") == 200
            if model_ready and _status(f"{self.url}/v2/health/ready") == 200:
                break
            if time.monotonic() - started > START_TIMEOUT:
                self.stop()
                raise RuntimeError(f"mlserver not ready in {START_TIMEOUT} s:\n{self.log_tail()}")
            time.sleep(0.05)
        self.ready_seconds = time.monotonic() - started

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the server, as a crash or a power cut would."""
        self._signal(signal.SIGKILL)

    def restart(self) -> None:
        """Start it again on the same port and wait until the model is ready."""
        self.kill()
        self.start()

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def _signal(self, number: int) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, number)
            process.wait(10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def v2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    python = mlserver_python()
    if python is None:
        message = "MLServer's venv is missing (scripts/test.sh creates it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    servers: list[MLServer] = []

    def start(model: Path, name: str = "detector", version: str | None = "1") -> MLServer:
        server = MLServer(python, tmp_path_factory.mktemp("mlserver"), model, name, version)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
