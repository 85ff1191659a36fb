"""Settings: every bad value is one clear line naming the setting; good values take effect."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mcptrace.config import (
    SENSOR_CATEGORIES,
    ConfigError,
    load_settings,
    load_settings_lenient,
)
from support import PYTHON, clean_env, mcptrace_cmd

BAD_VALUES = [
    ({"MCPTRACE_MAX_EVENTS_PER_SPAN": "lots"}, "MCPTRACE_MAX_EVENTS_PER_SPAN"),
    ({"MCPTRACE_MAX_EVENTS_PER_SPAN": "-1"}, "MCPTRACE_MAX_EVENTS_PER_SPAN"),
    ({"MCPTRACE_SENSOR": "file,telepathy"}, "MCPTRACE_SENSOR"),
    ({"MCPTRACE_CAPTURE_ARGUMENTS": "perhaps"}, "MCPTRACE_CAPTURE_ARGUMENTS"),
    ({"MCPTRACE_POLICY": "/nonexistent/policy.toml"}, "MCPTRACE_POLICY"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:99999"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://x"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/xml"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
    ({"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "udp"}, "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"),
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
    ({"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "-3"}, "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"),
    ({"OTEL_EXPORTER_OTLP_COMPRESSION": "brotli"}, "OTEL_EXPORTER_OTLP_COMPRESSION"),
    # re.compile raises OverflowError and RecursionError for these, not re.error
    ({"MCPTRACE_REDACT_PATTERNS": "ok x{99999999999}"}, "MCPTRACE_REDACT_PATTERNS"),
    ({"MCPTRACE_REDACT_PATTERNS": "(" * 5000 + "a" + ")" * 5000}, "MCPTRACE_REDACT_PATTERNS"),
    # the SDK skips these items: an Authorization header silently not sent
    ({"OTEL_EXPORTER_OTLP_HEADERS": "Authorization Bearer s3cret"}, "OTEL_EXPORTER_OTLP_HEADERS"),
    ({"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "a=1,=s3cret"}, "OTEL_EXPORTER_OTLP_TRACES_HEADERS"),
    # the SDK's batch processors raise on these, which switched all telemetry off
    ({"OTEL_BSP_SCHEDULE_DELAY": "fast"}, "OTEL_BSP_SCHEDULE_DELAY"),
    ({"OTEL_BLRP_SCHEDULE_DELAY": "0"}, "OTEL_BLRP_SCHEDULE_DELAY"),
    ({"OTEL_BSP_MAX_QUEUE_SIZE": "huge"}, "OTEL_BSP_MAX_QUEUE_SIZE"),
    ({"OTEL_BLRP_MAX_QUEUE_SIZE": "-5"}, "OTEL_BLRP_MAX_QUEUE_SIZE"),
    ({"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "0"}, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
    # a timed wait this long overflows time_t in the SDK's worker thread (a traceback)
    ({"OTEL_BSP_SCHEDULE_DELAY": "9" * 30}, "OTEL_BSP_SCHEDULE_DELAY"),
    ({"OTEL_BLRP_MAX_QUEUE_SIZE": "9" * 30}, "OTEL_BLRP_MAX_QUEUE_SIZE"),
    (
        {"OTEL_BLRP_MAX_QUEUE_SIZE": "64", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "128"},
        "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
    ),
]


@pytest.mark.parametrize(("env", "setting"), BAD_VALUES)
def test_bad_value_is_one_line_naming_the_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400
    assert message.startswith(f"mcptrace: {setting}")


@pytest.mark.parametrize(("env", "setting"), BAD_VALUES)
def test_run_refuses_to_start_on_bad_value(
    env: dict[str, str], setting: str, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    result = subprocess.run(
        mcptrace_cmd(
            "run",
            "--spool",
            str(tmp_path / "spool"),
            "--",
            PYTHON,
            "-c",
            f"open({str(marker)!r}, 'w')",
        ),
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert setting in lines[0]
    assert "s3cret" not in result.stderr  # a header value may be a token
    assert not marker.exists()
    assert result.stdout == ""


@pytest.mark.slow
def test_unwritable_spool_dir_costs_telemetry_not_the_program(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = subprocess.run(
        mcptrace_cmd(
            "run", "--spool", str(blocker / "spool"), "--", PYTHON, "-c", "print('served')"
        ),
        # a fresh hash cache: the modules are new to it, so the process has something to
        # write at exit and finds the spool unwritable (a cache that has seen them all has not)
        env=clean_env(MCPTRACE_HASH_CACHE=str(tmp_path / "cache.sqlite3")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert result.stdout == "served\n"
    assert "MCPTRACE_SPOOL_DIR" in result.stderr
    assert "not writable" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_toml_file_is_read_and_env_wins(tmp_path: Path) -> None:
    config = tmp_path / "mcptrace.toml"
    config.write_text(
        'spool_dir = "/srv/spool"\nsensor = ["file", "network"]\nmax_events_per_span = 7\n'
        "capture_arguments = true\n"
    )
    settings = load_settings({"MCPTRACE_CONFIG": str(config), "MCPTRACE_MAX_EVENTS_PER_SPAN": "9"})
    assert settings.spool_dir == Path("/srv/spool")
    assert settings.sensor == frozenset({"file", "network"})
    assert settings.capture_arguments is True
    assert settings.max_events_per_span == 9  # environment over file


def test_toml_unknown_key_and_bad_type(tmp_path: Path) -> None:
    config = tmp_path / "mcptrace.toml"
    config.write_text('spool_directory = "/x"\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_settings({}, config)
    config.write_text('max_events_per_span = "many"\n')
    with pytest.raises(ConfigError, match="max_events_per_span"):
        load_settings({}, config)
    for not_a_path in ("5", "true", '["/x"]', '{ dir = "/x" }'):
        for key in ("spool_dir", "hash_cache", "policy"):
            config.write_text(f"{key} = {not_a_path}\n")
            with pytest.raises(ConfigError, match=f"{key}: .* is not a path"):
                load_settings({}, config)
    config.write_text("spool_dir = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({}, config)


def test_run_rejects_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "mcptrace.toml"
    config.write_text("sensor = 'files'\n")
    result = subprocess.run(
        mcptrace_cmd("run", "--config", str(config), "--", PYTHON, "-c", "pass"),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "sensor" in result.stderr and "unknown category" in result.stderr


def test_defaults() -> None:
    settings = load_settings({})
    assert settings.sensor == SENSOR_CATEGORIES
    assert settings.max_events_per_span == 32
    assert settings.capture_arguments is False
    assert settings.exporter_for("traces") == ("mcptrace_spool",)
    assert str(settings.spool_dir).endswith("mcptrace/spool")
    with_endpoint = load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert with_endpoint.exporter_for("logs") == ("otlp",)
    assert load_settings({"MCPTRACE_SENSOR": "none"}).sensor == frozenset()


def test_lenient_disables_only_the_broken_part() -> None:
    settings, errors = load_settings_lenient({"MCPTRACE_SENSOR": "bogus"})
    assert len(errors) == 1
    assert not settings.part_enabled("sensor")
    assert settings.part_enabled("export")
    assert settings.exporter_for("traces") == ("mcptrace_spool",)
    settings, errors = load_settings_lenient({"OTEL_EXPORTER_OTLP_ENDPOINT": "nope"})
    assert settings.exporter_for("traces") == ()
    assert settings.part_enabled("sensor")


@pytest.mark.slow
def test_running_program_keeps_running_with_bad_setting(tmp_path: Path) -> None:
    """Under opentelemetry-instrument a bad value is logged, the program is not stopped."""
    spool = tmp_path / "spool"
    script = (
        "from opentelemetry import trace\n"
        "with trace.get_tracer('t').start_as_current_span('still-traced'): pass\n"
        "print('program output')\n"
    )
    result = subprocess.run(
        [str(Path(PYTHON).with_name("opentelemetry-instrument")), PYTHON, "-c", script],
        env=clean_env(
            MCPTRACE_SPOOL_DIR=str(spool),
            MCPTRACE_SENSOR="file,bogus",
            OTEL_PYTHON_DISTRO="mcptrace",
            OTEL_PYTHON_CONFIGURATOR="mcptrace",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "program output\n"
    assert "mcptrace: MCPTRACE_SENSOR" in result.stderr
    assert any(path.name.startswith("traces-") for path in spool.iterdir())


def test_per_signal_protocols_and_exporter_names_as_opentelemetry_instrument() -> None:
    settings = load_settings(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            "OTEL_METRICS_EXPORTER": "otlp_proto_http",
            "OTEL_LOGS_EXPORTER": "otlp_proto_grpc",
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json",  # the exporter name wins
        }
    )
    assert settings.protocol_for("traces") == "http/protobuf"
    assert settings.protocol_for("metrics") == "http/protobuf"
    assert settings.protocol_for("logs") == "grpc"
    assert settings.exporter_for("metrics") == settings.exporter_for("logs") == ("otlp",)


def test_destination_reads_the_variables_like_the_sdk() -> None:
    from mcptrace.export.destination import Destination

    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://logs.example:9000/otlp/logs",
        "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc, x-a = 1 ,broken",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-only=metrics",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2.5",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "7",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": "/etc/ca.pem",
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": "/etc/k.pem",
    }
    # a running program (lenient): the broken item is reported, and skipped as the SDK does
    settings, errors = load_settings_lenient(env)
    assert [error.setting for error in errors] == ["OTEL_EXPORTER_OTLP_HEADERS"]
    targets = Destination.from_environment(settings, env).targets
    assert targets["traces"].url == "http://collector:4318/v1/traces"
    assert targets["logs"].url == "http://logs.example:9000/otlp/logs"  # used as it is
    assert targets["metrics"].url == "http://collector:4318/v1/metrics"
    assert targets["logs"].headers == {"authorization": "Bearer abc", "x-a": "1"}
    assert targets["metrics"].headers == {"x-only": "metrics"}  # replaces, does not merge
    assert (targets["traces"].timeout, targets["logs"].timeout) == (7.0, 2.5)  # seconds
    assert {t.compression for t in targets.values()} == {"gzip"}
    assert {t.certificate for t in targets.values()} == {"/etc/ca.pem"}
    assert targets["traces"].client_key == "/etc/k.pem" and targets["logs"].client_key is None


@pytest.mark.slow
def test_bad_batch_settings_keep_telemetry_in_a_running_program(tmp_path: Path) -> None:
    """A bad OTEL_BSP_*/OTEL_BLRP_* value is one line and its default; spans and logs still go."""
    spool = tmp_path / "spool"
    script = (
        "import logging\n"
        "from opentelemetry import trace\n"
        "with trace.get_tracer('t').start_as_current_span('still-traced'): pass\n"
        "print('program output')\n"
    )
    result = subprocess.run(
        [str(Path(PYTHON).with_name("opentelemetry-instrument")), PYTHON, "-c", script],
        env=clean_env(
            MCPTRACE_SPOOL_DIR=str(spool),
            OTEL_BSP_SCHEDULE_DELAY="9" * 30,
            OTEL_BLRP_MAX_QUEUE_SIZE="0",
            OTEL_BSP_MAX_QUEUE_SIZE="100",  # legal: the SDK's 512-item batch must shrink to fit
            OTEL_PYTHON_DISTRO="mcptrace",
            OTEL_PYTHON_CONFIGURATOR="mcptrace",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "program output\n"
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "OTEL_BSP_SCHEDULE_DELAY",
        "OTEL_BLRP_MAX_QUEUE_SIZE",
    ], result.stderr
    assert "setup failed" not in result.stderr
    traces = [path for path in spool.iterdir() if path.name.startswith("traces-")]
    assert traces and "still-traced" in traces[0].read_text()


def test_good_headers_are_accepted() -> None:
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20x,x-team=a=b, ,"}
    assert load_settings(env).endpoints == {}


@pytest.mark.parametrize(
    ("setting", "value", "fragment"),
    [
        ("MCPTRACE_SPOOL_DIR", "$MCPTRACE_TEST_UNSET_Q/spool", "$MCPTRACE_TEST_UNSET_Q is not set"),
        ("MCPTRACE_SPOOL_DIR", "${MCPTRACE_TEST_UNSET_Q}/spool", "is not set"),
        ("MCPTRACE_SPOOL_DIR", "~mcptrace-no-such-user/spool", "no user 'mcptrace-no-such-user'"),
        ("MCPTRACE_HASH_CACHE", "$MCPTRACE_TEST_UNSET_Q/cache.sqlite3", "is not set"),
        ("MCPTRACE_POLICY", "$MCPTRACE_TEST_UNSET_Q/policy.toml", "is not set"),
    ],
)
def test_unexpanded_path_is_refused_not_created_in_the_cwd(
    setting: str, value: str, fragment: str, tmp_path: Path
) -> None:
    """An unset variable (or unknown ~user) made a directory literally named so in the cwd."""
    work = tmp_path / "cwd"
    work.mkdir()
    result = subprocess.run(
        mcptrace_cmd("run", "--", PYTHON, "-c", "import subprocess; subprocess.run(['true'])"),
        env=clean_env(**{"MCPTRACE_SPOOL_DIR": str(tmp_path / "spool"), setting: value}),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{setting}: " in lines[0] and fragment in lines[0], lines
    assert list(work.iterdir()) == []
    config = tmp_path / "mcptrace.toml"
    key = setting.removeprefix("MCPTRACE_").lower()
    config.write_text(f"{key} = {value!r}\n")
    with pytest.raises(ConfigError, match=r"is not set|no user"):
        load_settings({}, config)


@pytest.mark.slow
def test_unexpanded_paths_in_a_running_program_create_nothing_in_the_cwd(tmp_path: Path) -> None:
    """Under opentelemetry-instrument: one line per setting, the program runs, the cwd is kept."""
    work = tmp_path / "cwd"
    work.mkdir()
    result = subprocess.run(
        [
            str(Path(PYTHON).with_name("opentelemetry-instrument")),
            PYTHON,
            "-c",
            "import json\nfrom opentelemetry import trace\n"
            "trace.get_tracer('t').start_span('x').end()\nprint('program output')\n",
        ],
        env=clean_env(
            XDG_STATE_HOME=str(tmp_path / "state"),
            MCPTRACE_HASH_CACHE="$MCPTRACE_TEST_UNSET_Q/cache.sqlite3",
            OTEL_PYTHON_DISTRO="mcptrace",
            OTEL_PYTHON_CONFIGURATOR="mcptrace",
        ),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "program output\n"
    assert "MCPTRACE_HASH_CACHE: $MCPTRACE_TEST_UNSET_Q is not set" in result.stderr
    assert list(work.iterdir()) == []


@pytest.mark.parametrize(
    "endpoint",
    [
        "ftp://deploy:Pw7tR4kLq9ZsXv2N@collector.example/",
        "https://deploy:Pw7tR4kLq9ZsXv2N@:4318",
        "http://deploy:Pw7tR4kLq9ZsXv2N@collector.example:99999",
        "http://collector.example:x/v1?token=Pw7tR4kLq9ZsXv2N",
    ],
)
def test_a_bad_endpoint_is_named_without_its_credentials(endpoint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
    assert "Pw7tR4kLq9ZsXv2N" not in str(caught.value)
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in str(caught.value)
