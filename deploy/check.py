#!/usr/bin/env python3
"""Checks NEO's packaging files without Docker or a cluster (CI's "packaging" step).

- deploy/compose.yaml parses, every file it mounts or builds from exists, its named volumes
  are declared, the neo service is not scaled, and no image is `latest`;
- Prometheus' compose config scrapes neo:8001 as job "neo" and its rule files exist;
- Grafana's provisioning parses, the dashboard uses the provisioned datasource, and every
  metric it queries is one NEO exports (crates/neo-api/src/metrics.rs, `names`), a
  recording rule of deploy/prometheus/neo-slo.rules.yml, or Prometheus' own (up, ALERTS);
- the Kubernetes Deployment runs one replica with Recreate, refers only to the ConfigMap,
  PVC, ServiceAccount and Secret keys that deploy/k8s/ defines, and the ConfigMap's
  neo.toml and deploy/neo.container.toml parse as TOML;
- every file the Dockerfile COPYs from the build context exists and .dockerignore lets it in.

Usage: python3 deploy/check.py   (from anywhere; exits 1 listing every problem)
"""

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
problems = []


def problem(text):
    problems.append(text)


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def load_toml(text, where):
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            print(f"  (no tomllib: {where} not parsed)")
            return None
    try:
        return tomllib.loads(text)
    except Exception as e:  # noqa: BLE001 - any parse error is the finding
        problem(f"{where}: not valid TOML: {e}")
        return None


# ------------------------------------------------------------------------- metric names
def neo_metrics():
    """NEO's metric names, and which of them are histograms, from metrics.rs `names`."""
    source = (ROOT / "crates/neo-api/src/metrics.rs").read_text(encoding="utf-8")
    names, histograms = set(), set()
    doc = ""
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("///"):
            doc = doc + " " + stripped if doc else stripped
            continue
        m = re.match(r'pub const [A-Z0-9_]+: &str = "(neo_[a-z0-9_]+)";', stripped)
        if m:
            names.add(m.group(1))
            if doc.startswith("/// Histogram"):
                histograms.add(m.group(1))
        doc = ""
    if len(names) < 10:
        problem("crates/neo-api/src/metrics.rs: could not read the metric names")
    return names, histograms


def recording_rules():
    rules = set()
    for doc in load_yaml_docs(DEPLOY / "prometheus/neo-slo.rules.yml"):
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                if "record" in rule:
                    rules.add(rule["record"])
    return rules


def check_query(expr, where, names, histograms, rules):
    for token in re.findall(r"\bneo[_:][A-Za-z0-9_:]*", expr):
        if token.startswith("neo:"):
            if token not in rules:
                problem(f"{where}: {token} is not a recording rule in neo-slo.rules.yml")
            continue
        if token in names:
            continue
        base = re.sub(r"_(bucket|count|sum)$", "", token)
        if base != token and base in histograms:
            continue
        problem(f"{where}: {token} is not a metric NEO exports (metrics.rs names)")


# ---------------------------------------------------------------------------- compose
def check_compose():
    path = DEPLOY / "compose.yaml"
    (compose,) = load_yaml_docs(path)
    services = compose.get("services", {})
    for wanted in ("nats", "postgres", "neo", "prometheus", "grafana"):
        if wanted not in services:
            problem(f"compose.yaml: no service {wanted}")
    declared = set((compose.get("volumes") or {}).keys())
    for name, svc in services.items():
        image = svc.get("image", "")
        if image and (":" not in image or image.endswith(":latest")):
            problem(f"compose.yaml: {name} uses an unpinned image {image!r}")
        build = svc.get("build")
        if build:
            context = DEPLOY / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            if not (context / dockerfile).is_file():
                problem(f"compose.yaml: {name} builds from {context / dockerfile}, which does not exist")
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                if not (DEPLOY / source).exists():
                    problem(f"compose.yaml: {name} mounts {source}, which does not exist")
            elif source and source not in declared:
                problem(f"compose.yaml: {name} uses volume {source}, not declared under volumes")
        env_files = svc.get("env_file", [])
        for env_file in [env_files] if isinstance(env_files, str) else env_files:
            env_path = env_file if isinstance(env_file, str) else env_file.get("path", "")
            if not (DEPLOY / env_path).exists():
                problem(f"compose.yaml: {name} reads env_file {env_path}, which does not exist")
        for dep, cond in (svc.get("depends_on") or {}).items() if isinstance(svc.get("depends_on"), dict) else []:
            if dep not in services:
                problem(f"compose.yaml: {name} depends on unknown service {dep}")
    neo = services.get("neo", {})
    if (neo.get("deploy") or {}).get("replicas", 1) != 1 or "scale" in neo:
        problem("compose.yaml: the neo service must run one container (single-writer desk)")
    env = neo.get("environment", {})
    for key in ("NEO_BUS__KIND", "NEO_BUS__URL", "NEO_STORE__URL", "NEO_API__KEYS", "NEO_GATEWAY__PASSPHRASE"):
        if key not in env:
            problem(f"compose.yaml: the neo service does not set {key}")
    for top in ("secrets", "configs"):
        for name, spec in (compose.get(top) or {}).items():
            if "file" in spec and not (DEPLOY / spec["file"]).exists():
                problem(f"compose.yaml: {top} {name} file {spec['file']} does not exist")
    # Every ${VAR} the file needs is shown in env.example.
    example = (DEPLOY / "env.example").read_text(encoding="utf-8")
    live = "\n".join(l for l in path.read_text(encoding="utf-8").splitlines() if not l.lstrip().startswith("#"))
    needed = set(re.findall(r"\$\{([A-Z0-9_]+):\?", live))
    for var in sorted(needed):
        if not re.search(rf"^{var}=", example, re.M):
            problem(f"env.example: no {var}, which compose.yaml requires")
    # Prometheus' compose config.
    (prom,) = load_yaml_docs(DEPLOY / "prometheus/prometheus.compose.yml")
    jobs = {j.get("job_name"): j for j in prom.get("scrape_configs", [])}
    targets = [t for sc in jobs.get("neo", {}).get("static_configs", []) for t in sc.get("targets", [])]
    if "neo:8001" not in targets:
        problem('prometheus.compose.yml: no job "neo" scraping neo:8001 (the rules select job="neo")')
    for rule_file in prom.get("rule_files", []):
        if not (DEPLOY / "prometheus" / rule_file).is_file():
            problem(f"prometheus.compose.yml: rule file {rule_file} does not exist")


# ---------------------------------------------------------------------------- grafana
def check_grafana(names, histograms, rules):
    uids = set()
    for path in sorted((DEPLOY / "grafana/provisioning").rglob("*.yaml")):
        for doc in load_yaml_docs(path):
            for ds in doc.get("datasources", []):
                uids.add(ds.get("uid"))
    dashboards = sorted((DEPLOY / "grafana/dashboards").glob("*.json"))
    if not dashboards:
        problem("grafana/dashboards: no dashboard")
    used = set()
    for path in dashboards:
        dash = json.loads(path.read_text(encoding="utf-8"))
        rel = path.relative_to(ROOT)
        ids = set()
        for panel in dash.get("panels", []):
            if panel.get("id") in ids:
                problem(f"{rel}: duplicate panel id {panel.get('id')}")
            ids.add(panel.get("id"))
            ds = panel.get("datasource")
            if isinstance(ds, dict) and ds.get("uid") not in uids:
                problem(f"{rel}: panel {panel.get('title')!r} uses datasource {ds.get('uid')!r}, not provisioned")
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                check_query(expr, f"{rel}: panel {panel.get('title')!r}", names, histograms, rules)
                used.update(re.findall(r"\bneo_[a-z0-9_]*", expr))
    missing = sorted(n for n in names if not any(u == n or u.startswith(n + "_") for u in used))
    print(f"  grafana: {len(names) - len(missing)} of NEO's {len(names)} metrics on the dashboard; "
          f"not on it: {', '.join(missing) or 'none'}")


# ------------------------------------------------------------------------- kubernetes
def check_k8s():
    objects = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")) + sorted((DEPLOY / "k8s").glob("*/*.yaml")):
        for doc in load_yaml_docs(path):
            objects[(doc.get("kind"), doc["metadata"]["name"])] = (doc, path.relative_to(ROOT))
    deploy, _ = objects.get(("Deployment", "neo"), (None, None))
    if deploy is None:
        problem("deploy/k8s: no Deployment neo")
        return
    spec = deploy["spec"]
    if spec.get("replicas") != 1 or spec.get("strategy", {}).get("type") != "Recreate":
        problem("deploy/k8s Deployment neo: must be replicas: 1 with strategy Recreate (single-writer desk)")
    pod = spec["template"]["spec"]
    if pod.get("automountServiceAccountToken") is not False:
        problem("deploy/k8s Deployment neo: automountServiceAccountToken must be false")
    if ("ServiceAccount", pod.get("serviceAccountName")) not in objects:
        problem(f"deploy/k8s: no ServiceAccount {pod.get('serviceAccountName')}")
    for volume in pod.get("volumes", []):
        if "configMap" in volume and ("ConfigMap", volume["configMap"]["name"]) not in objects:
            problem(f"deploy/k8s: no ConfigMap {volume['configMap']['name']}")
        claim = volume.get("persistentVolumeClaim", {}).get("claimName")
        if claim and ("PersistentVolumeClaim", claim) not in objects:
            problem(f"deploy/k8s: no PersistentVolumeClaim {claim}")
    for container in pod["containers"]:
        sc = container.get("securityContext", {})
        if not (sc.get("readOnlyRootFilesystem") and sc.get("runAsNonRoot")):
            problem(f"deploy/k8s: container {container['name']} must be non-root with a read-only root filesystem")
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if not ref:
                continue
            secret, where = objects.get(("Secret", ref["name"]), (None, None))
            if secret is None:
                problem(f"deploy/k8s: no Secret (template) {ref['name']}")
            elif ref["key"] not in (secret.get("stringData") or {}) | (secret.get("data") or {}):
                problem(f"{where}: no key {ref['key']}, which {env['name']} reads")
    for (kind, name), (doc, where) in objects.items():
        if kind == "ConfigMap" and "neo.toml" in doc.get("data", {}):
            load_toml(doc["data"]["neo.toml"], f"{where} neo.toml")
    load_toml((DEPLOY / "neo.container.toml").read_text(encoding="utf-8"), "deploy/neo.container.toml")


# ------------------------------------------------------------------------- Dockerfile
def check_dockerfile():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    allowed = [line.strip()[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip().startswith("!")]
    for line in text.splitlines():
        m = re.match(r"COPY\s+(?!--from)(.+)", line.strip())
        if not m:
            continue
        parts = [p for p in m.group(1).split() if not p.startswith("--")]
        for source in parts[:-1]:
            if not (ROOT / source).exists():
                problem(f"Dockerfile: COPY {source}, which does not exist")
            if not any(source == a or source.startswith(a + "/") for a in allowed):
                problem(f"Dockerfile: COPY {source}, which .dockerignore leaves out of the build context")


def main():
    names, histograms = neo_metrics()
    rules = recording_rules()
    check_compose()
    check_grafana(names, histograms, rules)
    check_k8s()
    check_dockerfile()
    if problems:
        for p in problems:
            print(f"PROBLEM: {p}", file=sys.stderr)
        return 1
    print(f"ok: compose, Prometheus, Grafana ({len(names)} NEO metrics known), Kubernetes and Dockerfile references")
    return 0


if __name__ == "__main__":
    sys.exit(main())
