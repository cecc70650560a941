"""The blocking client where pre-fork servers and workers run it: a real gunicorn with
``--preload`` and 2 workers, a real Celery worker (prefork pool), a notebook run by nbclient.
Each is started by the test on loopback, bounded in time, and stopped by it."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from talkstack_async.testing import TalkstackEmulator
from tests.processes.conftest import env_for, run_script

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pre-fork servers are POSIX")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _installed(command: str) -> str:
    """The path of a console script of this environment (skips when it is not installed)."""
    found = shutil.which(command, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{command} is not installed (the test extra has it)")
    return found


def _stop(process: subprocess.Popen[str], timeout: float = 30) -> str:
    """SIGTERM, then SIGKILL if it does not go in time; returns what it printed."""
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate(timeout=10)
        pytest.fail(f"did not stop within {timeout} s:\n{output[-3000:]}")
    return output


APP = """
import os
from talkstack_sync import Talkstack

client = Talkstack()  # created at import, in the master, before the workers fork
PROJECT = os.environ["PROJECT_ID"]
client.projects.get(PROJECT)  # and used there too


def app(environ, start_response):
    project = client.projects.get(PROJECT)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{os.getpid()} {project.id}".encode()]
"""


def test_gunicorn_preload_with_two_workers_serves_with_a_client_made_at_import(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    gunicorn = _installed("gunicorn")
    seed = talkstack_server.seed()
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    port = _free_port()
    env = env_for(talkstack_server, seed.account.api_key, PROJECT_ID=seed.project_id)
    server = subprocess.Popen(
        [gunicorn, "--preload", "-w", "2", "-b", f"127.0.0.1:{port}", "--chdir", str(tmp_path),
         "--graceful-timeout", "5", "app:app"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)

        def get(_: int) -> str:
            url = f"http://127.0.0.1:{port}/"
            with urllib.request.urlopen(url, timeout=10) as response:
                return str(response.read().decode())

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(get, range(100)))
    finally:
        output = _stop(server)
    pids = {answer.split()[0] for answer in answers}
    assert {answer.split()[1] for answer in answers} == {seed.project_id}
    assert len(pids) == 2, f"only one worker answered: {pids}"
    assert "Traceback" not in output
    assert server.returncode == 0, output[-3000:]


TASKS = """
import os
from celery import Celery
from talkstack_sync import Talkstack

queue = os.environ["QUEUE_DIR"]
app = Celery("tasks", broker="filesystem://", backend=f"file://{os.environ['RESULTS_DIR']}")
app.conf.broker_transport_options = {
    "data_folder_in": queue, "data_folder_out": queue, "processed_folder": queue,
}
app.conf.broker_connection_retry_on_startup = True
client = Talkstack()  # module level: made in the worker's main process, before the pool forks
client.voices.list()


@app.task
def project_of(project_id):
    return [client.projects.get(project_id).id, os.getpid()]
"""


def test_a_celery_prefork_worker_runs_tasks_with_a_module_level_client(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    celery = _installed("celery")
    seed = talkstack_server.seed()
    (tmp_path / "tasks.py").write_text(textwrap.dedent(TASKS))
    for folder in ("queue", "results"):
        (tmp_path / folder).mkdir()
    env = env_for(
        talkstack_server,
        seed.account.api_key,
        QUEUE_DIR=str(tmp_path / "queue"),
        RESULTS_DIR=str(tmp_path / "results"),
    )
    env["PYTHONPATH"] = f"{tmp_path}:{env['PYTHONPATH']}"
    worker = subprocess.Popen(
        [celery, "-A", "tasks", "worker", "--pool", "prefork", "-c", "2", "--loglevel", "info",
         "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        sent = run_script(
            f"""
            import json
            from tasks import project_of
            results = [project_of.delay("{seed.project_id}") for _ in range(8)]
            print(json.dumps([r.get(timeout=60) for r in results]))
            """,
            env,
            timeout=120,
            cwd=tmp_path,
        )
    finally:
        output = _stop(worker)
    assert sent.returncode == 0, sent.stderr + output[-3000:]
    answers = json.loads(sent.stdout.strip().splitlines()[-1])
    assert [project for project, _ in answers] == [seed.project_id] * 8
    assert "Traceback" not in output, output[-3000:]


NOTEBOOK = [
    "from talkstack_sync import Talkstack\n"
    "from talkstack_async import AsyncTalkstack\n"
    "client = Talkstack()\n"
    "print('voices', len(client.voices.list()))",
    "aclient = AsyncTalkstack()\n"
    "voices = await aclient.voices.list()\n"
    "print('async voices', len(voices))",
    "import os\nprint('project', client.projects.get(os.environ['PROJECT_ID']).id)",
    "print('async project', (await aclient.projects.get(os.environ['PROJECT_ID'])).id)\n"
    "await aclient.aclose()\n"
    "client.close()",
]


def test_a_notebook_uses_the_blocking_client_and_awaits_the_async_one(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    seed = talkstack_server.seed()
    env = env_for(talkstack_server, seed.account.api_key, PROJECT_ID=seed.project_id)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    done = run_script(
        f"""
        import json, sys
        import nbformat
        from nbclient import NotebookClient

        cells = {NOTEBOOK!r}
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
        outputs = []
        for cell in notebook.cells:
            for output in cell.outputs:
                outputs.append(output.get("text") or output.get("ename", ""))
        print(json.dumps(outputs))
        """,
        env,
        timeout=180,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = "".join(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "voices 4" in printed
    assert "async voices 4" in printed
    assert f"project {seed.project_id}" in printed
    assert f"async project {seed.project_id}" in printed
