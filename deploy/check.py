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
4. docker-compose.yml: `docker-compose config -q` (Debian's docker-compose validates without
   a Docker engine), in a temporary folder with .env.example as its .env, so a developer's
   own .env is never read, created or removed.

Exits non-zero, naming each problem, when anything fails.
"""

from __future__ import annotations

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
SECRET_KEYS = {"JWT_SECRET", "DATABASE_URL", "REDIS_URL", "SMTP_PASSWORD"}
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
        [str(BIN / "kubernetes-validate"), "--strict", "--quiet", *[str(K8S / m) for m in manifests]],
    )

    print("--- consistency of the manifests", flush=True)
    kustomization = load("kustomization.yaml")
    check(kustomization.get("kind") == "Kustomization", "kustomization.yaml: kind is not Kustomization")
    listed = set(kustomization.get("resources", []))
    expected = set(manifests) - {"secret.example.yaml"}
    for name in sorted(listed - set(manifests)):
        problems.append(f"kustomization.yaml lists {name}, which does not exist")
    for name in sorted(expected - listed):
        problems.append(f"kustomization.yaml does not list {name}")
    check("secret.example.yaml" not in listed, "kustomization.yaml must not apply the example Secret")

    configmap, secret = load("configmap.yaml"), load("secret.example.yaml")
    deployment, job = load("deployment.yaml"), load("migrate-job.yaml")
    service, hpa, pvc = load("service.yaml"), load("hpa.yaml"), load("pvc.yaml")

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
    check(
        {p["containerPort"] for p in container["ports"]} == {8000},
        "deployment: the container port must be 8000",
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
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v]
    check(claims == [pvc["metadata"]["name"]], "deployment: the avatar volume must be the PVC of pvc.yaml")
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    check(configmap["data"].get("AVATAR_DIR") in mounts, "deployment: AVATAR_DIR must be a mounted volume")

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
