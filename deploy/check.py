"""Offline checks of the deployment files; `just deploy-check` runs this in .venv-docs.

1. deploy/kubernetes/*.yaml: yamllint, then kubernetes-validate --strict against the
   Kubernetes schemas it ships (no cluster, no network).
2. The manifests agree with each other and with the application: the kustomization lists
   every manifest but the example Secret, names match (ConfigMap, Secret, PVC, Deployment,
   Service selector), every variable of .env.example is set by the ConfigMap or the Secret,
   the probes use /readyz and /healthz on port 8000, the migrate Job runs `contacts-api
   migrate`.
3. deploy/fly.toml parses as TOML (tomllib) and has the port, checks, release command and
   variables the service needs.
4. deploy/grafana/*.json: each dashboard loads as JSON, and every PromQL expression names only
   metrics the app exports (read from crates/server/src/observability/metrics.rs, histograms
   with their _bucket/_sum/_count series); the dashboards together cover requests, errors,
   latency, the pool, the cache and the mail outbox. The metrics port of the manifests is the
   port of METRICS_ADDR.
5. docker-compose.yml: `docker-compose config -q` (Debian's docker-compose validates without
   a Docker engine), in a temporary folder with .env.example as its .env, so a developer's
   own .env is never read, created or removed.

Exits non-zero, naming each problem, when anything fails.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "kubernetes"
BIN = Path(sys.executable).parent
SECRET_KEYS = {"JWT_SECRET", "DATABASE_URL", "REDIS_URL", "SMTP_PASSWORD", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"}
METRICS_SOURCE = ROOT / "crates" / "server" / "src" / "observability" / "metrics.rs"
# Manifests kept for reference or other setups, applied by hand, never by the kustomization.
EXAMPLES = {"secret.example.yaml", "pvc.example.yaml", "podmonitor.example.yaml"}
# Custom resources kubernetes-validate has no schema for; parsed and checked here instead.
CUSTOM_RESOURCES = {"podmonitor.example.yaml"}
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 110}, document-start: disable}}"

problems: list[str] = []


def check(condition: bool, message: str) -> None:
    if not condition:
        problems.append(message)


def run(title: str, command: list[str], cwd: Path = ROOT) -> None:
    print(f"--- {title}", flush=True)
    result = subprocess.run(command, cwd=cwd)
    check(result.returncode == 0, f"{title}: exit status {result.returncode}")


def env_example_vars() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            names.add(line.split("=", 1)[0].strip())
    return names


def load(name: str) -> dict:
    return yaml.safe_load((K8S / name).read_text())


def check_kubernetes() -> None:
    manifests = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    run("yamllint", [str(BIN / "yamllint"), "--strict", "-d", YAMLLINT_CONFIG, "deploy/kubernetes"])
    run(
        "kubernetes-validate --strict",
        [
            str(BIN / "kubernetes-validate"),
            "--strict",
            "--quiet",
            *[str(K8S / m) for m in manifests if m not in CUSTOM_RESOURCES],
        ],
    )

    print("--- consistency of the manifests", flush=True)
    kustomization = load("kustomization.yaml")
    check(kustomization.get("kind") == "Kustomization", "kustomization.yaml: kind is not Kustomization")
    listed = set(kustomization.get("resources", []))
    expected = set(manifests) - EXAMPLES
    for name in sorted(listed - set(manifests)):
        problems.append(f"kustomization.yaml lists {name}, which does not exist")
    for name in sorted(expected - listed):
        problems.append(f"kustomization.yaml does not list {name}")
    check(not listed & EXAMPLES, f"kustomization.yaml must not apply the examples {sorted(listed & EXAMPLES)}")

    configmap, secret = load("configmap.yaml"), load("secret.example.yaml")
    deployment, job = load("deployment.yaml"), load("migrate-job.yaml")
    service, hpa, monitor = load("service.yaml"), load("hpa.yaml"), load("podmonitor.example.yaml")

    config_keys = set(configmap["data"])
    secret_keys = set(secret["stringData"])
    check(secret_keys == SECRET_KEYS, f"secret.example.yaml keys {sorted(secret_keys)} != {sorted(SECRET_KEYS)}")
    check(not config_keys & SECRET_KEYS, f"secrets in the ConfigMap: {sorted(config_keys & SECRET_KEYS)}")
    missing = env_example_vars() - config_keys - secret_keys
    check(not missing, f".env.example variables set by neither the ConfigMap nor the Secret: {sorted(missing)}")
    unknown = (config_keys | secret_keys) - env_example_vars()
    check(not unknown, f"variables unknown to .env.example: {sorted(unknown)}")

    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    check(spec["replicas"] == 3, "deployment: replicas should be 3")
    check(pod["securityContext"].get("runAsNonRoot") is True, "deployment: runAsNonRoot must be true")
    check(pod["securityContext"].get("runAsUser") == 10001, "deployment: runAsUser must be 10001 (the image's user)")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    metrics_port = int(configmap["data"].get("METRICS_ADDR", ":0").rsplit(":", 1)[1])
    check(ports == {"http": 8000, "metrics": metrics_port}, f"deployment: ports {ports} != http 8000, metrics {metrics_port}")
    annotations = spec["template"]["metadata"].get("annotations", {})
    check(annotations.get("prometheus.io/scrape") == "true", "deployment: the pods need prometheus.io/scrape")
    check(annotations.get("prometheus.io/port") == str(metrics_port), "deployment: prometheus.io/port != METRICS_ADDR's")
    check(annotations.get("prometheus.io/path") == "/metrics", "deployment: prometheus.io/path must be /metrics")
    check(
        [e.get("port") for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]
        and monitor["spec"]["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items(),
        "podmonitor.example.yaml: it must scrape the `metrics` port of the API's pods",
    )
    check(
        all(p.get("targetPort") != "metrics" and p.get("port") != metrics_port for p in service["spec"]["ports"]),
        "service: the metrics port must not be published by the Service",
    )
    check(container["readinessProbe"]["httpGet"]["path"] == "/readyz", "deployment: readiness must GET /readyz")
    check(container["livenessProbe"]["httpGet"]["path"] == "/healthz", "deployment: liveness must GET /healthz")
    check("requests" in container.get("resources", {}), "deployment: resources.requests are needed by the HPA")
    env_from = [e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e]
    check(env_from == [configmap["metadata"]["name"]], "deployment: envFrom must name the ConfigMap")
    from_secret = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    check(set(from_secret) == SECRET_KEYS, f"deployment: secrets taken from the Secret: {sorted(from_secret)}")
    for name, ref in from_secret.items():
        check(ref["name"] == secret["metadata"]["name"], f"deployment: {name} names Secret {ref['name']}")
        check(ref["key"] == name, f"deployment: {name} reads key {ref['key']}")
    # Avatars in a bucket: the pods are stateless, no shared volume.
    check(configmap["data"].get("AVATAR_STORE") == "s3", "configmap: AVATAR_STORE must be s3 (stateless pods)")
    check(configmap["data"].get("S3_BUCKET"), "configmap: S3_BUCKET must be set with AVATAR_STORE=s3")
    claims = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    check(not claims, "deployment: no shared volume with AVATAR_STORE=s3")

    labels = spec["template"]["metadata"]["labels"]
    selector = service["spec"]["selector"]
    check(
        all(labels.get(k) == v for k, v in selector.items()),
        "service: its selector does not match the deployment's pods",
    )
    check(
        spec["selector"]["matchLabels"].items() <= labels.items(),
        "deployment: selector does not match its own pod labels",
    )
    target = hpa["spec"]["scaleTargetRef"]
    check(
        (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"]),
        "hpa: it must scale the Deployment",
    )
    check(hpa["apiVersion"] == "autoscaling/v2", "hpa: use autoscaling/v2")

    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    check(
        migrate.get("command", []) + migrate.get("args", []) == ["contacts-api", "migrate"],
        "migrate-job: it must run `contacts-api migrate`",
    )
    check(migrate["image"] == container["image"], "migrate-job: it must use the Deployment's image")
    images = {i["name"] for i in kustomization.get("images", [])}
    check(container["image"].split(":")[0] in images, "kustomization.yaml: images must name the app's image")


def exported_metrics() -> set[str]:
    """Every series name the app exports: the constants of the `names` module."""
    source = METRICS_SOURCE.read_text()
    names = set(re.findall(r'pub const [A-Z_]+: &str = "([a-z_]+)";', source.split("pub mod names", 1)[1].split("\n}\n", 1)[0]))
    series = set(names)
    for name in names:
        if "histogram" in source and name.endswith("_seconds"):
            series |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return series


PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
    "inf", "nan",
}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers that are not functions, keywords,
    label names or values, durations or Grafana variables."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\$\w+", "", expr)  # Grafana variables
    expr = re.sub(r"(?<![\w.])\d+(ms|s|m|h|d|w|y)\b", "", expr)  # durations (offset 5m)
    expr = re.sub(r"(?<![\w.])\d+(\.\d+)?([eE][+-]?\d+)?", "", expr)  # numbers such as 0.99 or 1e-9
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        rest = expr[match.end():].lstrip()
        word = match.group(0)
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def check_dashboards() -> None:
    print("--- deploy/grafana dashboards", flush=True)
    exported = exported_metrics()
    check(len(exported) >= 8, f"{METRICS_SOURCE.name}: only {sorted(exported)} found")
    used: set[str] = set()
    dashboards = sorted((ROOT / "deploy" / "grafana").glob("*.json"))
    check(bool(dashboards), "deploy/grafana: no dashboard")
    for path in dashboards:
        try:
            dashboard = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            problems.append(f"{path.name}: not JSON: {error}")
            continue
        exprs = [t["expr"] for p in dashboard.get("panels", []) for t in p.get("targets", [])]
        exprs += [v["query"] for v in dashboard.get("templating", {}).get("list", []) if v.get("type") == "query"]
        check(bool(exprs), f"{path.name}: no query")
        for expr in exprs:
            expr = re.sub(r"label_values\((\w+),\s*\w+\)", r"\1", expr)
            names = promql_metric_names(expr)
            check(bool(names), f"{path.name}: {expr!r} selects no metric")
            unknown = names - exported
            check(not unknown, f"{path.name}: {expr!r} uses metrics the app does not export: {sorted(unknown)}")
            used |= names
    needed = {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "db_pool_connections",
        "user_cache_requests_total",
        "mail_outbox_pending",
    }
    check(needed <= used, f"dashboards: nothing shows {sorted(needed - used)}")


def check_fly() -> None:
    print("--- deploy/fly.toml", flush=True)
    try:
        fly = tomllib.loads((ROOT / "deploy" / "fly.toml").read_text())
    except tomllib.TOMLDecodeError as error:
        problems.append(f"deploy/fly.toml is not valid TOML: {error}")
        return
    service = fly.get("http_service", {})
    check(service.get("internal_port") == 8000, "fly.toml: http_service.internal_port must be 8000")
    check(
        any(c.get("path") == "/readyz" for c in service.get("checks", [])),
        "fly.toml: an http_service check must GET /readyz",
    )
    # Fly keeps the image's ENTRYPOINT (contacts-api) and replaces CMD with this command.
    check(fly.get("deploy", {}).get("release_command") == "migrate", "fly.toml: release_command must be `migrate`")
    env = set(fly.get("env", {}))
    check(not env & SECRET_KEYS, f"fly.toml: secrets in [env]: {sorted(env & SECRET_KEYS)}")
    missing = env_example_vars() - env - SECRET_KEYS
    check(not missing, f"fly.toml: [env] lacks {sorted(missing)}")
    check(fly.get("env", {}).get("PORT") == "8000", "fly.toml: PORT must be 8000")
    metrics_addr = fly.get("env", {}).get("METRICS_ADDR", ":0")
    check(
        fly.get("metrics", {}).get("port") == int(metrics_addr.rsplit(":", 1)[1]),
        "fly.toml: [metrics] port must be METRICS_ADDR's",
    )


def check_compose() -> None:
    print("--- docker-compose.yml", flush=True)
    compose = shutil.which("docker-compose")
    if compose is None:
        problems.append("docker-compose is not installed (apt-get install docker-compose)")
        return
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(ROOT / "docker-compose.yml", folder)
        shutil.copy(ROOT / ".env.example", Path(folder) / ".env")
        run("docker-compose config -q", [compose, "-f", "docker-compose.yml", "config", "-q"], cwd=Path(folder))


def main() -> int:
    check_kubernetes()
    check_dashboards()
    check_fly()
    check_compose()
    if problems:
        print("\ndeploy-check FAILED:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print("\ndeploy-check: all deployment files are valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
