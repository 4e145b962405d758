"""pytest fixtures for the hookmq system tests.

- `workers`: every test runs against a broker with 1 and with 4 worker threads.
- `start_broker(**overrides)`: factory; starts a broker with config sections merged over the
  defaults, e.g. `start_broker(limits={"max_queued": 5})`. Every broker started is stopped with
  SIGTERM after the test, which then fails if the broker died, did not exit 0, or (ASan builds,
  HOOKMQ_ASAN=1) printed a sanitizer report.
- `broker`: a broker with the default config.
- `proto`: MQTT 3.1.1 and 5.0, for features that exist in both.

Environment: HOOKMQ_BIN (the binary), HMQ_TEST_BROKER=hookmq|mosquitto (mosquitto is only a
peer to debug the tests against), HMQ_TEST_WORKERS (e.g. "4" to run one variant), HMQ_TEST_RUN_DEVIATING=1 (run the
mosquitto_deviates tests against mosquitto too, to re-check the recorded deviations).
"""

from __future__ import annotations

import os

import pytest

from helpers import ASAN, IS_MOSQUITTO, SANITIZER_PATTERNS, V5, V311, BrokerProcess

if os.environ.get("HMQ_TEST_WORKERS"):
    WORKERS = [int(w) for w in os.environ["HMQ_TEST_WORKERS"].split(",")]
elif IS_MOSQUITTO:
    WORKERS = [1]  # mosquitto is single-threaded: a second variant would test nothing new
else:
    WORKERS = [1, 4]


def pytest_configure(config: pytest.Config) -> None:
    if not IS_MOSQUITTO and not os.environ.get("HOOKMQ_BIN"):
        raise pytest.UsageError(
            "HOOKMQ_BIN must name the hookmq binary (make system sets it); "
            "HMQ_TEST_BROKER=mosquitto runs the tests against mosquitto instead")
    config.addinivalue_line(
        "markers",
        "mosquitto_deviates(reason): mosquitto 2.0.11 deviates from the MQTT specification or "
        "lacks the feature; skipped only when HMQ_TEST_BROKER=mosquitto, never against hookmq")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ASAN:  # sanitizer builds run several times slower: triple pytest.ini's per-test timeout
        for item in items:
            item.add_marker(pytest.mark.timeout(3 * int(config.getini("timeout") or 120)))
    if not IS_MOSQUITTO or os.environ.get("HMQ_TEST_RUN_DEVIATING"):
        return
    for item in items:
        marker = item.get_closest_marker("mosquitto_deviates")
        if marker is not None:
            reason = marker.args[0] if marker.args else marker.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(reason=f"mosquitto 2.0.11 deviates: {reason}"))


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(params=WORKERS, ids=lambda w: f"w{w}")
def workers(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture(params=[V311, V5], ids=["v311", "v5"])
def proto(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture
def start_broker(workers: int, tmp_path, request: pytest.FixtureRequest):
    started: list[BrokerProcess] = []
    default_workers = workers

    def start(workers: int | None = None, **overrides) -> BrokerProcess:
        b = BrokerProcess(tmp_path, workers or default_workers, overrides)
        started.append(b)
        b.start()
        return b

    yield start

    problems: list[str] = []
    for b in started:
        b.close_clients()
        found = b.stop()
        call = getattr(request.node, "rep_call", None)
        if found or (call is not None and call.failed):
            text = b.stderr_text()
            sanitizer = SANITIZER_PATTERNS.search(text)
            shown = text[sanitizer.start():] if sanitizer else b.stderr_tail(80)
            print(f"--- {b.kind} (port {b.port}, workers {b.workers}) stderr ---")
            print(shown[-20000:])
        problems += [f"{b.kind} on port {b.port}: {p}" for p in found]
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
def broker(start_broker) -> BrokerProcess:
    return start_broker()


@pytest.fixture
def hook_app(tmp_path, request: pytest.FixtureRequest):
    """Factory: `hook_app("message_hooks.py", "--features", "modify", port=0, start=True)`
    runs a hook server script of tests/system/hook_apps/ (see helpers.HookApp); every one is
    stopped after the test, and its log printed if the test failed."""
    from helpers import SDK_PYTHON, HookApp

    if not SDK_PYTHON.exists():
        pytest.fail("no SDK venv (sdk-python/.venv): run `make sdk-venv` (make system does)")
    apps: list[HookApp] = []

    def make(script: str, *args: str, port: int = 0, start: bool = True) -> HookApp:
        app = HookApp(tmp_path, script, args, port)
        apps.append(app)
        return app.start() if start else app

    yield make

    call = getattr(request.node, "rep_call", None)
    for app in apps:
        app.close()
        if call is not None and call.failed and app.log_path:
            print(f"--- hook server {app.script} (port {app.port}) log ---\n{app.log_tail()}")
