"""Structural checks of collector-config/: no collector binary can run here, so this test
stands in for `otelcol-contrib validate` and for a look at the dashboard against real data.

The dashboard half runs the example client and server under ``mcptrace run`` and checks
that every Prometheus metric and label the dashboard queries is one mcptrace emitted,
after Prometheus' OTLP translation, and that every event name its Loki queries use is a
contract event name from DESIGN.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import ROOT, example_client, metric_points, run_under_mcptrace, spans

CONFIG = ROOT / "collector-config"
# DESIGN.md lives beside the repository, not in it; docs/CONTRACTS.md is the repository's
# copy of its "Contracts" section (tests/foundation/test_contracts.py keeps the two equal)
DESIGN = ROOT.parent / "shared" / "DESIGN.md"
CONTRACTS = ROOT / "docs" / "CONTRACTS.md"
YAML_FILES = sorted(CONFIG.rglob("*.yaml"))
COLLECTOR_CONFIGS = ("agent.yaml", "spool-ingest.yaml")
DASHBOARD = CONFIG / "grafana" / "dashboards" / "mcptrace.json"
SIGNALS = ("traces", "logs", "metrics")

# Component types otelcol-contrib v0.165.0 (2026-11) accepts: the current name and, for the
# 2026 snake_case renames, the deprecated alias. Not the whole distribution: the core
# components plus the contrib ones an MCP agent/gateway config plausibly uses.
# Sources: the otelcol-contrib distribution manifest
# (opentelemetry-collector-releases distributions/otelcol-contrib/manifest.yaml), each
# component's metadata.yaml `type:` in opentelemetry-collector(-contrib), and the release
# notes of the renames: core v0.144.0 `otlp` -> `otlp_grpc` (#14403), `otlphttp` ->
# `otlp_http` (#14397); contrib issue #45339: `filelog` -> `file_log` (#46750, v0.150.0),
# `otlpjsonfile` -> `otlp_json_file` (#48728), `prometheusremotewrite` ->
# `prometheus_remote_write` (v0.154.0), `tcplog` -> `tcp_log`, `resourcedetection` ->
# `resource_detection`, `k8sattributes` -> `k8s_attributes`, `loadbalancing` ->
# `load_balancing`, `spanmetrics` -> `span_metrics`, `servicegraph` -> `service_graph`.
# Removed by v0.165.0 and so absent: the `loki` exporter (contrib #41413), `jmx` receiver
# (dropped from the distribution in v0.154.0), `signalfx` receiver (v0.165.0).
KNOWN_COMPONENTS: dict[str, frozenset[str]] = {
    "receivers": frozenset(
        {
            "otlp",
            "nop",
            "otlp_json_file",
            "otlpjsonfile",
            "file_log",
            "filelog",
            "tcp_log",
            "tcplog",
            "udplog",
            "syslog",
            "journald",
            "hostmetrics",
            "prometheus",
            "prometheus_simple",
            "jaeger",
            "zipkin",
            "kafka",
            "fluentforward",
            "statsd",
            "httpcheck",
            "docker_stats",
            "kubeletstats",
            "k8s_cluster",
            "k8sobjects",
            "k8s_events",
            "receiver_creator",
            "sqlquery",
            "otelarrow",
            "loki",
            "windowseventlog",
        }
    ),
    "processors": frozenset(
        {
            "batch",
            "memory_limiter",
            "attributes",
            "resource",
            "resource_detection",
            "resourcedetection",
            "k8s_attributes",
            "k8sattributes",
            "filter",
            "transform",
            "redaction",
            "probabilistic_sampler",
            "tail_sampling",
            "groupbyattrs",
            "groupbytrace",
            "cumulativetodelta",
            "deltatocumulative",
            "metricstransform",
            "span",
            "interval",
            "logdedup",
            "log_dedup",
            "geoip",
        }
    ),
    "exporters": frozenset(
        {
            "debug",
            "nop",
            "otlp_grpc",
            "otlp",
            "otlp_http",
            "otlphttp",
            "file",
            "prometheus",
            "prometheus_remote_write",
            "prometheusremotewrite",
            "load_balancing",
            "loadbalancing",
            "kafka",
            "elasticsearch",
            "clickhouse",
            "zipkin",
            "datadog",
            "googlecloud",
            "splunk_hec",
            "awss3",
            "otelarrow",
        }
    ),
    "extensions": frozenset(
        {
            "health_check",
            "file_storage",
            "db_storage",
            "pprof",
            "zpages",
            "basicauth",
            "bearertokenauth",
            "oauth2client",
            "oidc",
            "headers_setter",
            "sigv4auth",
            "opamp",
            "k8s_observer",
            "docker_observer",
            "host_observer",
        }
    ),
    "connectors": frozenset(
        {
            "forward",
            "count",
            "span_metrics",
            "spanmetrics",
            "service_graph",
            "servicegraph",
            "routing",
            "failover",
            "roundrobin",
            "exceptions",
            "sum",
            "signaltometrics",
        }
    ),
}


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def collector(name: str) -> dict[str, Any]:
    config = load_yaml(CONFIG / name)
    assert isinstance(config, dict), f"{name}: not a mapping"
    return config


def component_type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def pipelines(config: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    found = config["service"]["pipelines"]
    assert isinstance(found, dict) and found
    return found


# --- collector configs --------------------------------------------------------------------


def test_collector_config_files_exist() -> None:
    for name in COLLECTOR_CONFIGS:
        assert (CONFIG / name).is_file(), name
    assert DASHBOARD.is_file()


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(CONFIG)))
def test_yaml_parses(path: Path) -> None:
    assert isinstance(load_yaml(path), dict), f"{path}: top level is not a mapping"


@pytest.mark.parametrize("name", COLLECTOR_CONFIGS)
def test_pipeline_components_are_defined_and_known(name: str) -> None:
    config = collector(name)
    for pipeline_id, pipeline in pipelines(config).items():
        assert component_type(pipeline_id) in SIGNALS, f"{name}: pipeline {pipeline_id}"
        assert pipeline.get("receivers") and pipeline.get("exporters"), f"{name}: {pipeline_id}"
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                defined = config.get(section) or {}
                assert component in defined, f"{name}: {pipeline_id} uses undefined {component}"
    for component in config["service"].get("extensions", []):
        assert component in (config.get("extensions") or {}), f"{name}: extension {component}"
    for section, known in KNOWN_COMPONENTS.items():
        for component in config.get(section) or {}:
            kind = component_type(component)
            assert kind in known, f"{name}: {section} type {kind!r} unknown to otelcol-contrib"


@pytest.mark.parametrize("name", COLLECTOR_CONFIGS)
def test_memory_limiter_first_in_every_pipeline(name: str) -> None:
    for pipeline_id, pipeline in pipelines(collector(name)).items():
        processors = pipeline.get("processors") or []
        assert processors and component_type(processors[0]) == "memory_limiter", (
            f"{name}: {pipeline_id} processors {processors}"
        )


@pytest.mark.parametrize("name", COLLECTOR_CONFIGS)
def test_every_signal_has_a_pipeline(name: str) -> None:
    assert {component_type(p) for p in pipelines(collector(name))} == set(SIGNALS)


def walk_endpoints(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "endpoint" and isinstance(value, str):
                yield f"{where}.{key}", value
            else:
                yield from walk_endpoints(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk_endpoints(value, f"{where}[{index}]")


@pytest.mark.parametrize("name", COLLECTOR_CONFIGS)
def test_listeners_bind_loopback_only(name: str) -> None:
    config = collector(name)
    listeners = list(walk_endpoints(config.get("receivers"), "receivers"))
    listeners += list(walk_endpoints(config.get("extensions"), "extensions"))
    for where, endpoint in listeners:
        default = re.sub(r"^\$\{env:[A-Z0-9_]+:-(.*)\}$", r"\1", endpoint)
        assert default.startswith(("127.0.0.1:", "[::1]:", "localhost:")), f"{where}={endpoint}"
    if name == "agent.yaml":
        protocols = config["receivers"]["otlp"]["protocols"]
        assert protocols["grpc"]["endpoint"] == "127.0.0.1:4317"
        assert protocols["http"]["endpoint"] == "127.0.0.1:4318"


def test_agent_exports_each_signal_to_its_backend() -> None:
    config = collector("agent.yaml")
    exporters = config["exporters"]
    expected = {
        "traces": ("otlp_grpc", "tempo:4317"),
        "logs": ("otlp_http", "http://loki:3100/otlp"),
        "metrics": ("otlp_http", "http://prometheus:9090/api/v1/otlp"),
    }
    for signal, (kind, default) in expected.items():
        used = pipelines(config)[signal]["exporters"]
        assert "debug" in used
        backends = [e for e in used if component_type(e) == kind]
        assert len(backends) == 1, f"{signal}: {used}"
        endpoint = exporters[backends[0]]["endpoint"]
        assert re.fullmatch(r"\$\{env:[A-Z0-9_]+:-" + re.escape(default) + r"\}", endpoint), (
            f"{signal}: {endpoint} is not an overridable ${{env:VAR:-{default}}}"
        )
    assert config["processors"]["resource"]["attributes"][0]["key"] == "deployment.environment.name"


def test_agent_redaction_masks_secrets_but_not_mcptrace_data() -> None:
    # RE2 and Python agree on this subset; a pattern Python rejects would not load in Go either.
    redaction = collector("agent.yaml")["processors"]["redaction"]
    assert redaction["allow_all_keys"] is True, "an allow-list would drop mcptrace's attributes"
    patterns = [re.compile(p) for p in redaction["blocked_values"]]
    secrets = [
        "Authorization: Bearer abc.def-ghi_123",
        "AKIAIOSFODNN7EXAMPLE",
        "key=sk-proj-abcdefghijklmnopqrstuvwx",
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "ghp_" + "a1B2" * 9,
    ]
    for secret in secrets:
        assert any(p.search(secret) for p in patterns), f"not masked: {secret}"
    harmless = [
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # module sha256
        "d230c20e05651f5048cb98e2f84fcb06",  # trace id
        "/home/dev/desk-calendar-project-files/main.py",
        "tools/call word_count",
        "mcptrace.network.connect",
    ]
    for value in harmless:
        assert not any(p.search(value) for p in patterns), f"masked: {value}"
    keys = [re.compile(p) for p in redaction["blocked_key_patterns"]]
    for key in ("gen_ai.tool.name", "mcp.session.id", "file.path", "mcptrace.module.sha256"):
        assert not any(k.fullmatch(key) for k in keys), f"key masked: {key}"
    assert any(k.fullmatch("http.request.header.authorization") for k in keys)


def test_spool_ingest_reads_every_spool_file_from_the_beginning_with_stored_offsets() -> None:
    config = collector("spool-ingest.yaml")
    receivers = {
        rid: r
        for rid, r in config["receivers"].items()
        if component_type(rid) in ("otlp_json_file", "otlpjsonfile")
    }
    assert len(receivers) == 3
    extensions = config.get("extensions") or {}
    by_signal: dict[str, str] = {}
    for pipeline_id, pipeline in pipelines(config).items():
        for receiver in pipeline["receivers"]:
            by_signal[component_type(pipeline_id)] = receiver
    for signal in SIGNALS:
        receiver = receivers[by_signal[signal]]
        assert receiver["start_at"] == "beginning", signal
        storage = receiver["storage"]
        assert storage in extensions and storage in config["service"]["extensions"], storage
        assert component_type(storage) == "file_storage" and extensions[storage]["directory"]
        assert parse_size(receiver["max_log_size"]) >= 4 * 2**20, "spool lines can exceed 1 MiB"
        include = receiver["include"]
        assert include, signal
        sample = f"/spool/{signal}-20261121T204804-16371-0001.jsonl"
        for pattern in include:
            assert pattern.startswith("${env:MCPTRACE_SPOOL_DIR}/"), pattern
            glob = pattern.replace("${env:MCPTRACE_SPOOL_DIR}", "/spool")
            assert Path(sample).match(glob), f"{signal}: {pattern} misses {sample}"
            for other in SIGNALS:
                if other != signal:
                    assert not Path(sample.replace(signal, other, 1)).match(glob), pattern
            assert not Path(sample + ".partial").match(glob), f"{pattern} is wider than *.jsonl"


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)\s*([KMG]i?B)?", str(text))
    assert match, text
    factor = {None: 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "KB": 10**3, "MB": 10**6}
    return int(match.group(1)) * factor[match.group(2)]


# --- Grafana ------------------------------------------------------------------------------

DATASOURCE_VARIABLES = {"prometheus": "prometheus", "loki": "loki", "tempo": "tempo"}


@cache
def dashboard() -> dict[str, Any]:
    model: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return model


def all_panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])


def targets(kind: str) -> list[dict[str, Any]]:
    found = []
    for panel in all_panels():
        for target in panel.get("targets", []):
            datasource = target.get("datasource") or panel.get("datasource") or {}
            if datasource.get("type") == kind:
                found.append(target)
    return found


def test_dashboard_identity_and_datasource_variables() -> None:
    model = dashboard()
    assert model["id"] is None
    assert model["uid"] == "mcptrace-overview"
    assert "mcptrace" in model["tags"]
    variables = {v["name"]: v for v in model["templating"]["list"]}
    provisioned = load_yaml(CONFIG / "grafana/provisioning/datasources/mcptrace.yaml")
    uids = {ds["uid"]: ds["type"] for ds in provisioned["datasources"]}
    for name, kind in DATASOURCE_VARIABLES.items():
        variable = variables[name]
        assert variable["type"] == "datasource" and variable["query"] == kind
        assert uids.get(variable["current"]["value"]) == kind, f"${name} default"
    for panel in all_panels():
        if panel["type"] == "row":
            continue
        for holder in [panel, *panel.get("targets", [])]:
            datasource = holder.get("datasource")
            assert datasource, f"{panel['title']}: no datasource"
            kind = datasource["type"]
            assert datasource["uid"] == "${" + kind + "}", f"{panel['title']}: {datasource}"


def test_dashboard_provider_points_at_the_mounted_dashboards_folder() -> None:
    provisioning = load_yaml(CONFIG / "grafana/provisioning/dashboards/mcptrace.yaml")
    assert provisioning["apiVersion"] == 1
    (provider,) = provisioning["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    assert path.startswith("/")
    mount = "grafana/dashboards:" + path
    assert mount in (CONFIG / "README.md").read_text(encoding="utf-8"), "README mount differs"


@dataclass(frozen=True)
class Emitted:
    """What one run of the example client and server sends, as the backends will see it."""

    metrics: dict[str, set[str]]  # Prometheus metric name -> label names
    label_values: dict[str, set[str]]  # Prometheus label name -> values seen
    span_attributes: set[str]


@pytest.fixture(scope="module")
def emitted(tmp_path_factory: pytest.TempPathFactory) -> Emitted:
    spool = tmp_path_factory.mktemp("collector-config") / "spool"
    run_under_mcptrace(example_client(), spool)
    units = metric_units(spool)
    metrics: dict[str, set[str]] = {}
    values: dict[str, set[str]] = {}
    for point in metric_points(spool):
        labels = {prometheus_label(key) for key in point.attributes}
        for key, value in point.attributes.items():
            values.setdefault(prometheus_label(key), set()).add(str(value))
        for name in prometheus_names(point.name, units.get(point.name, ""), point.kind):
            metrics.setdefault(name, set()).update(labels)
    attributes = {key for span in spans(spool) for key in span.attributes}
    return Emitted(metrics, values, attributes)


def metric_units(spool: Path) -> dict[str, str]:
    units: dict[str, str] = {}
    for path in spool.glob("metrics-*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            for resource in json.loads(line).get("resourceMetrics", []):
                for scope in resource.get("scopeMetrics", []):
                    for metric in scope.get("metrics", []):
                        units[metric["name"]] = metric.get("unit", "")
    return units


# Prometheus' OTLP translation (default UnderscoreEscapingWithSuffixes) for the units
# mcptrace uses; an unknown unit fails loudly rather than guessing a suffix.
UNIT_SUFFIXES = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "1": "", "": ""}


def prometheus_label(attribute: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", attribute)


def prometheus_names(name: str, unit: str, kind: str) -> list[str]:
    unit = re.sub(r"\{[^}]*\}", "", unit)
    assert unit in UNIT_SUFFIXES, f"{name}: no Prometheus suffix known for unit {unit!r}"
    base = prometheus_label(name)
    suffix = UNIT_SUFFIXES[unit]
    if suffix and not base.endswith("_" + suffix):
        base += "_" + suffix
    if kind == "histogram":
        return [base + "_bucket", base + "_count", base + "_sum"]
    if kind == "sum":
        return [base + "_total"]
    return [base]


PROMQL_WORDS = frozenset(
    {
        *("sum", "avg", "min", "max", "count", "count_values", "stddev", "stdvar", "group"),
        *("topk", "bottomk", "quantile", "by", "without", "on", "ignoring", "group_left"),
        *("group_right", "bool", "and", "or", "unless", "offset", "rate", "irate", "increase"),
        *("delta", "idelta", "deriv", "histogram_quantile", "clamp_min", "clamp_max", "abs"),
        *("ceil", "floor", "round", "vector", "scalar", "time", "label_replace", "label_join"),
        *("sort", "sort_desc", "absent", "absent_over_time", "avg_over_time", "max_over_time"),
        *("min_over_time", "sum_over_time", "count_over_time", "last_over_time"),
    }
)


def promql_parts(expr: str) -> tuple[set[str], set[str], list[tuple[str, str, str]]]:
    """(metric names, label names, equality matchers) of a PromQL expression."""
    labels: set[str] = set()
    matchers: list[tuple[str, str, str]] = []
    for selector in re.findall(r"\{([^}]*)\}", expr):
        for label, op, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', selector):
            labels.add(label)
            matchers.append((label, op, value))
    rest = re.sub(r"\{[^}]*\}", " ", expr)
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", rest):
        labels.update(part.strip() for part in group.split(",") if part.strip())
    rest = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", rest)
    rest = re.sub(r"\[[^\]]*\]", " ", rest)
    rest = re.sub(r'"(?:[^"\\]|\\.)*"', " ", rest)
    rest = re.sub(r"\$\{?\w+\}?", " ", rest)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", rest))
    return words - PROMQL_WORDS, labels, matchers


# Labels Prometheus adds itself: `le` on histogram buckets; `job` (service.namespace/
# service.name) and `instance` (service.instance.id) from the resource.
PROMETHEUS_OWN_LABELS = frozenset({"le", "job", "instance"})


@pytest.mark.slow
def test_dashboard_prometheus_queries_use_metrics_mcptrace_emits(emitted: Emitted) -> None:
    metrics, values = emitted.metrics, emitted.label_values
    assert "mcp_server_operation_duration_seconds_count" in metrics, sorted(metrics)
    expressions = [t["expr"] for t in targets("prometheus")]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query" and variable["datasource"]["type"] == "prometheus":
            expressions.append(variable["definition"])
    assert len(expressions) >= 8
    used: set[str] = set()
    for expr in expressions:
        call = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", expr)
        names, labels, matchers = (
            ({call.group(1)}, {call.group(2)}, []) if call else promql_parts(expr)
        )
        assert names, f"no metric in {expr}"
        for name in names:
            assert name in metrics, f"{name} is not emitted by mcptrace; emitted: {sorted(metrics)}"
            used.add(name)
            allowed = metrics[name] | PROMETHEUS_OWN_LABELS
            for label in labels:
                assert label in allowed, f"{expr}: label {label} not on {name} ({sorted(allowed)})"
        for label, op, value in matchers:
            if op == "=" and "$" not in value:
                assert value in values.get(label, set()), f"{expr}: {label}={value!r} never seen"
    for target in targets("prometheus"):
        for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")):
            assert label in set().union(*metrics.values()) | PROMETHEUS_OWN_LABELS, label
    for family in (
        "mcp_server_operation_duration_seconds_count",
        "mcp_server_operation_duration_seconds_bucket",
        "mcp_server_session_duration_seconds_bucket",
    ):
        assert family in used, f"dashboard never queries {family}"


@pytest.mark.slow
def test_dashboard_breaks_requests_down_by_client(emitted: Emitted) -> None:
    """Who called: a panel per client, on a label the examples' server metric really has."""
    by_client = [
        panel
        for panel in all_panels()
        for target in panel.get("targets", [])
        if "by (mcptrace_mcp_client_name" in target.get("expr", "")
    ]
    assert {panel["title"] for panel in by_client} >= {"Requests per client"}
    seen = emitted.label_values.get("mcptrace_mcp_client_name", set())
    assert seen, "the example server's operation metric names no client"
    server_count = emitted.metrics["mcp_server_operation_duration_seconds_count"]
    assert "mcptrace_mcp_client_name" in server_count


@pytest.mark.slow
def test_dashboard_tempo_queries_use_span_attributes_mcptrace_emits(emitted: Emitted) -> None:
    attributes = emitted.span_attributes
    queries = [t["query"] for t in targets("tempo")]
    assert '{ span.mcp.method.name = "tools/call" }' in queries
    for query in queries:
        for attribute in re.findall(r"\bspan\.([\w.]+)", query):
            assert attribute in attributes, f"{query}: span attribute {attribute} never emitted"


# DESIGN.md, "Contracts users and tests rely on", Event names: public interface.
CONTRACT_EVENT_NAMES = frozenset(
    {
        "mcptrace.file.open",
        "mcptrace.file.delete",
        "mcptrace.file.rename",
        "mcptrace.file.chmod",
        "mcptrace.file.mkdir",
        "mcptrace.file.listdir",
        "mcptrace.network.connect",
        "mcptrace.network.bind",
        "mcptrace.network.send",
        "mcptrace.network.resolve",
        "mcptrace.process.spawn",
        "mcptrace.process.fork",
        "mcptrace.process.kill",
        "mcptrace.code.exec",
        "mcptrace.code.deserialize",
        "mcptrace.native.load",
        "mcptrace.module.import",
        "mcptrace.sensor.tamper",
        "mcptrace.policy.violation",
    }
)


def design_event_names(text: str) -> frozenset[str]:
    """Event names in DESIGN.md's "Contracts" section; their attributes sit in parentheses."""
    contracts = text.split("## Contracts", 1)[1].split("\n## ", 1)[0]
    bullet = contracts.split("- Event names", 1)[1].split("\n- ", 1)[0]
    while re.search(r"\([^()]*\)", bullet):
        bullet = re.sub(r"\([^()]*\)", "", bullet)
    return frozenset(re.findall(r"`(mcptrace\.[a-z_]+\.[a-z_]+)`", bullet))


def test_contract_event_names_match_the_contracts() -> None:
    assert design_event_names(CONTRACTS.read_text(encoding="utf-8")) == CONTRACT_EVENT_NAMES
    if DESIGN.is_file():  # beside the repository on a maintainer's machine
        assert design_event_names(DESIGN.read_text(encoding="utf-8")) == CONTRACT_EVENT_NAMES


def logql_event_matchers(expr: str) -> list[tuple[str, str]]:
    found = []
    for op, quoted, raw in re.findall(
        r'event_name\s*(=~|!~|!=|=)\s*(?:("(?:[^"\\]|\\.)*")|`([^`]*)`)', expr
    ):
        found.append((op, json.loads(quoted) if quoted else raw))
    return found


def test_dashboard_loki_queries_use_contract_event_names() -> None:
    contract = CONTRACT_EVENT_NAMES
    expressions = [t["expr"] for t in targets("loki")]
    assert len(expressions) >= 3
    seen_exact: set[str] = set()
    for expr in expressions:
        assert '{service_name=~"$service"}' in expr, f"{expr}: no service stream selector"
        matchers = logql_event_matchers(expr)
        assert matchers, f"{expr}: no event_name filter"
        for op, value in matchers:
            if op in ("=", "!="):
                assert value in contract, f"{expr}: {value} is not a contract event name"
                seen_exact.add(value)
            else:
                pattern = re.compile(value)
                matched = {name for name in contract if pattern.fullmatch(name)}
                assert matched, f"{expr}: {value} matches no contract event name"
                for category in re.findall(r"\(([a-z|]+)\)", value):
                    for option in category.split("|"):
                        assert any(n.startswith(f"mcptrace.{option}.") for n in contract), option
    assert {"mcptrace.policy.violation", "mcptrace.module.import"} <= seen_exact
    module_queries = [e for e in expressions if "mcptrace.module.import" in e]
    assert all('mcptrace_module_verification="mismatch"' in e for e in module_queries)
