#!/usr/bin/env python3
"""Checks NEO's packaging files without Docker or a cluster (CI's "packaging" step).

NEO is packaged as separate role processes (`neo serve --role gateway|desk|notify`, the
image's entrypoint being `neo`); the roles are read from crates/neo-pipeline/src/roles/mod.rs.

- deploy/compose.yaml parses, every file it mounts or builds from exists, its named volumes
  are declared, no image is `latest`; each neo-<role> service runs `serve --role <role>` with
  the image's --config and --data-dir, over NATS and PostgreSQL, with API keys (and the
  passphrase on the gateway), a /ready healthcheck, ports only on the gateway, and two desks;
- Prometheus' compose config scrapes every role service as job "neo" with its role label,
  and its rule files exist;
- Grafana's provisioning parses, the dashboard uses the provisioned datasource, every
  metric it queries is one NEO exports (crates/neo-api/src/metrics.rs, `names`), a
  recording rule of deploy/prometheus/neo-slo.rules.yml, or Prometheus' own (up, ALERTS),
  and every selector of NEO's metrics follows its role and instance variables;
- deploy/k8s/ has one Deployment per role (neo-gateway, neo-desk, neo-notify) and no other:
  each runs `serve --role <its role>` on the mounted ConfigMap (whose neo.toml parses, says
  [bus] kind = "nats" and names the container's port) and a mounted data dir, probes
  /ready and /health, has resources, a read-only root, no service account token, and the
  Secret keys neo serve needs (which the Secret template has); two or more desks; an
  autoscaling/v2 HPA on the gateway only (min 2, 70% CPU); one PDB with minAvailable 1 per
  role; the Ingress reaches the gateways' Service only; the NetworkPolicies let Prometheus
  reach every role, the ingress controller only the gateways, every role reach DNS, NATS
  and PostgreSQL, desks and notify workers HTTPS; deploy/prometheus/prometheus.k8s.yml
  keeps every role's pods and labels their role;
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


# ------------------------------------------------------------------------------ roles
def neo_roles():
    """The roles `neo serve --role` takes, from crates/neo-pipeline/src/roles/mod.rs."""
    source = (ROOT / "crates/neo-pipeline/src/roles/mod.rs").read_text(encoding="utf-8")
    roles = set(re.findall(r'Role::[A-Za-z]+ => "([a-z]+)"', source))
    if not roles:
        problem("crates/neo-pipeline/src/roles/mod.rs: could not read the role names")
    return roles


def image_paths():
    """The Dockerfile's ENTRYPOINT, and the --config and --data-dir paths of its CMD."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    entry = re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", text, re.M)
    cmd = re.search(r"^CMD\s+(\[.*\])\s*$", text, re.M)
    entrypoint = json.loads(entry.group(1)) if entry else []
    cmd = json.loads(cmd.group(1)) if cmd else []
    paths = {flag: cmd[cmd.index(flag) + 1] for flag in ("--config", "--data-dir") if flag in cmd[:-1]}
    if entrypoint != ["neo"]:
        problem(f"Dockerfile: ENTRYPOINT is {entrypoint}, not [\"neo\"] (compose and k8s pass neo's arguments only)")
    if set(paths) != {"--config", "--data-dir"}:
        problem("Dockerfile: CMD does not name --config and --data-dir")
    return paths


def serve_roles(args, where, roles):
    """The roles of `serve --role R ...` (neo's arguments, the image's entrypoint being neo)."""
    if not isinstance(args, list) or not args or args[0] != "serve":
        problem(f"{where}: runs {args!r}, not neo serve --role ... (the image's entrypoint is neo)")
        return []
    chosen = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--role"]
    if not chosen:
        problem(f"{where}: neo serve without --role")
    for role in chosen:
        if role not in roles | {"all"}:
            problem(f"{where}: --role {role!r} is not one of {', '.join(sorted(roles))} (or all)")
    return chosen


def flag_value(args, flag):
    return args[args.index(flag) + 1] if flag in args[:-1] else None


# ---------------------------------------------------------------------------- compose
def check_compose(roles, paths):
    path = DEPLOY / "compose.yaml"
    (compose,) = load_yaml_docs(path)
    services = compose.get("services", {})
    for wanted in ("nats", "postgres", "neo-gateway", "neo-desk", "neo-notify", "prometheus", "grafana"):
        if wanted not in services:
            problem(f"compose.yaml: no service {wanted}")
    if "neo" in services:
        problem("compose.yaml: a service neo (neo run, every role) beside the role services")
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
        for dep in svc.get("depends_on") if isinstance(svc.get("depends_on"), list) else []:
            if dep not in services:
                problem(f"compose.yaml: {name} depends on unknown service {dep}")
    # The role services: neo serve --role <the service's role> on the image's paths, over
    # NATS and PostgreSQL, ready on /ready.
    role_services = {}
    for name, svc in services.items():
        if not name.startswith("neo-"):
            continue
        where = f"compose.yaml: {name}"
        command = svc.get("command")
        chosen = serve_roles(command, where, roles)
        expected = EXPECTED_ROLES.get(name, [name.removeprefix("neo-")])
        if chosen != expected:
            problem(f"{where}: runs roles {chosen}, expected {expected!r}")
        for flag, wanted in paths.items():
            if flag_value(command or [], flag) != wanted:
                problem(f"{where}: {flag} is not the image's {wanted}")
        role_services[name] = chosen
        env = svc.get("environment") or {}
        if not isinstance(env, dict):
            problem(f"{where}: environment must be a mapping")
            env = {}
        if env.get("NEO_BUS__KIND") != "nats":
            problem(f"{where}: NEO_BUS__KIND is not nats (neo serve needs NATS)")
        if not str(env.get("NEO_STORE__URL", "")).startswith(("postgres://", "postgresql://")):
            problem(f"{where}: NEO_STORE__URL is not a PostgreSQL URL (neo serve needs one)")
        for key in ("NEO_BUS__URL", "NEO_API__KEYS"):
            if key not in env:
                problem(f"{where}: does not set {key}")
        if "gateway" in chosen and "NEO_GATEWAY__PASSPHRASE" not in env:
            problem(f"{where}: a gateway without NEO_GATEWAY__PASSPHRASE (neo serve refuses it)")
        if "gateway" not in chosen and svc.get("ports"):
            problem(f"{where}: publishes ports, but only a gateway serves anything beyond /health, /ready, /metrics")
        test = " ".join((svc.get("healthcheck") or {}).get("test") or [])
        if "/ready" not in test:
            problem(f"{where}: no healthcheck on /ready")
        replicas = (svc.get("deploy") or {}).get("replicas", 1)
        if svc.get("ports") and replicas != 1:
            problem(f"{where}: {replicas} replicas cannot all publish the same host port")
        if "desk" in chosen and replicas < 2 and sum("desk" in r for r in role_services.values()) < 2:
            problem(f"{where}: one desk and no standby (replicas: 2 gives one active and one standby)")
    # Every ${VAR} the file needs is shown in env.example.
    example = (DEPLOY / "env.example").read_text(encoding="utf-8")
    live = "\n".join(l for l in path.read_text(encoding="utf-8").splitlines() if not l.lstrip().startswith("#"))
    needed = set(re.findall(r"\$\{([A-Z0-9_]+):\?", live))
    for var in sorted(needed):
        if not re.search(rf"^{var}=", example, re.M):
            problem(f"env.example: no {var}, which compose.yaml requires")
    # Prometheus' compose config: job "neo" finds every role service, labelled with its role.
    (prom,) = load_yaml_docs(DEPLOY / "prometheus/prometheus.compose.yml")
    jobs = {j.get("job_name"): j for j in prom.get("scrape_configs", [])}
    job = jobs.get("neo")
    if job is None:
        problem('prometheus.compose.yml: no job "neo" (the rules select job="neo")')
    else:
        names = {n: sd.get("port") for sd in job.get("dns_sd_configs", []) for n in sd.get("names", [])}
        relabel = [r for r in job.get("relabel_configs", []) if r.get("target_label") == "role"]
        for service, chosen in role_services.items():
            if names.get(service) != 8001:
                problem(f"prometheus.compose.yml: job neo does not scrape {service}:8001")
            elif len(relabel) != 1:
                problem("prometheus.compose.yml: job neo has no single relabelling to role")
            else:
                m = re.fullmatch(relabel[0].get("regex", "(.*)"), service)
                got = m.expand(relabel[0].get("replacement", "$1").replace("$", "\\")) if m else None
                if got != chosen[0]:
                    problem(f"prometheus.compose.yml: {service} is labelled role={got!r}, not {chosen[0]!r}")
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
                # Every selector of NEO's own metrics follows the Role and Process variables.
                for selector in re.findall(r"\b(?:neo_[a-z0-9_]+|up)(?:\{[^}]*\})?", expr):
                    if selector.startswith("up") and "job=" not in selector:
                        continue
                    if 'role=~"$role"' not in selector or 'instance=~"$instance"' not in selector:
                        problem(f"{rel}: panel {panel.get('title')!r}: {selector} ignores the role and instance variables")
        variables = {v.get("name") for v in dash.get("templating", {}).get("list", [])}
        if not {"role", "instance"} <= variables:
            problem(f"{rel}: no role and instance variables")
    missing = sorted(n for n in names if not any(u == n or u.startswith(n + "_") for u in used))
    print(f"  grafana: {len(names) - len(missing)} of NEO's {len(names)} metrics on the dashboard; "
          f"not on it: {', '.join(missing) or 'none'}")


# ------------------------------------------------------------------------- kubernetes
def selects(selector, labels):
    """Whether a label selector (matchLabels, matchExpressions) selects `labels`."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def policy_ports(policy, direction):
    """(port, peers) for each rule of a NetworkPolicy's ingress or egress."""
    out = []
    for rule in policy["spec"].get(direction) or []:
        peers = rule.get("from" if direction == "ingress" else "to") or []
        namespaces = [p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                      for p in peers]
        for port in rule.get("ports") or [{"port": None}]:
            out.append((port.get("port"), namespaces))
    return out


# The desk pods also run the market role: both are one active per account with a standby.
EXPECTED_ROLES = {"neo-gateway": ["gateway"], "neo-desk": ["desk", "market"], "neo-notify": ["notify"]}


def check_k8s(roles, paths):
    objects = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")) + sorted((DEPLOY / "k8s").glob("*/*.yaml")):
        for doc in load_yaml_docs(path):
            key = (doc.get("kind"), doc["metadata"]["name"])
            if key in objects:
                problem(f"{path.relative_to(ROOT)}: {key[0]} {key[1]} is defined twice")
            objects[key] = (doc, path.relative_to(ROOT))
    of_kind = lambda kind: {n: d for (k, n), (d, _) in objects.items() if k == kind}  # noqa: E731
    deployments = of_kind("Deployment")
    if set(deployments) != set(EXPECTED_ROLES):
        problem(f"deploy/k8s: Deployments {sorted(deployments)}, expected one per role: {sorted(EXPECTED_ROLES)}")
    configmaps = of_kind("ConfigMap")
    pods = {}  # Deployment name -> (pod labels, pod spec, roles)
    for name, deploy in deployments.items():
        where = f"deploy/k8s Deployment {name}"
        spec = deploy["spec"]
        pod = spec["template"]["spec"]
        labels = spec["template"]["metadata"].get("labels", {})
        if not selects(spec.get("selector"), labels):
            problem(f"{where}: its selector does not select its own pods")
        if spec.get("strategy", {}).get("type") != "RollingUpdate":
            problem(f"{where}: strategy must be RollingUpdate")
        if pod.get("automountServiceAccountToken") is not False:
            problem(f"{where}: automountServiceAccountToken must be false")
        if ("ServiceAccount", pod.get("serviceAccountName")) not in objects:
            problem(f"deploy/k8s: no ServiceAccount {pod.get('serviceAccountName')}")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for volume in volumes.values():
            if "configMap" in volume and ("ConfigMap", volume["configMap"]["name"]) not in objects:
                problem(f"deploy/k8s: no ConfigMap {volume['configMap']['name']}")
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            if claim and ("PersistentVolumeClaim", claim) not in objects:
                problem(f"deploy/k8s: no PersistentVolumeClaim {claim}")
        containers = pod["containers"]
        if len(containers) != 1:
            problem(f"{where}: expected one container")
            continue
        container = containers[0]
        if "command" in container:
            problem(f"{where}: sets command, which replaces the image's entrypoint (neo): use args")
        args = container.get("args") or []
        chosen = serve_roles(args, where, roles)
        if name in EXPECTED_ROLES and chosen != EXPECTED_ROLES[name]:
            problem(f"{where}: runs roles {chosen}, expected {EXPECTED_ROLES[name]!r}")
        # A label value holds one name: a pod's first role (desk pods also run the market).
        if labels.get("app.kubernetes.io/component") != chosen[0]:
            problem(f"{where}: pod label app.kubernetes.io/component is not its first role {chosen[0]!r}")
        pods[name] = (labels, pod, chosen)
        # --config is the ConfigMap's neo.toml as mounted; --data-dir a mounted volume.
        mounts = {m["mountPath"]: volumes.get(m["name"], {}) for m in container.get("volumeMounts", [])}
        config_path = flag_value(args, "--config") or ""
        config_dir, _, config_file = config_path.rpartition("/")
        config_volume = mounts.get(config_dir, {}).get("configMap")
        if not config_volume or config_file not in [i["path"] for i in config_volume.get("items", [])]:
            problem(f"{where}: --config {config_path} is not a file of a mounted ConfigMap")
        elif config_volume["name"] in configmaps:
            text = configmaps[config_volume["name"]]["data"].get(
                next(i["key"] for i in config_volume["items"] if i["path"] == config_file), "")
            config = load_toml(text, f"ConfigMap {config_volume['name']}") or {}
            if config.get("bus", {}).get("kind") != "nats":
                problem(f"ConfigMap {config_volume['name']}: [bus] kind is not nats (neo serve needs it)")
            url = config.get("store", {}).get("url")
            if url is not None and not url.startswith(("postgres://", "postgresql://")):
                problem(f"ConfigMap {config_volume['name']}: [store] url is not PostgreSQL")
            port = config.get("server", {}).get("port")
            container_ports = [p["containerPort"] for p in container.get("ports", [])]
            if port not in container_ports:
                problem(f"{where}: [server] port {port} is not a container port ({container_ports})")
            annotations = spec["template"]["metadata"].get("annotations", {})
            if annotations.get("prometheus.io/port") not in (None, str(port)):
                problem(f"{where}: prometheus.io/port is not [server] port {port}")
        if flag_value(args, "--data-dir") not in mounts:
            problem(f"{where}: --data-dir {flag_value(args, '--data-dir')} is not a mounted volume "
                    "(the root filesystem is read-only)")
        if flag_value(args, "--data-dir") != paths.get("--data-dir"):
            problem(f"{where}: --data-dir is not the image's {paths.get('--data-dir')}")
        probes = {p: (container.get(p) or {}).get("httpGet", {}).get("path")
                  for p in ("readinessProbe", "livenessProbe")}
        if probes != {"readinessProbe": "/ready", "livenessProbe": "/health"}:
            problem(f"{where}: readiness must be /ready and liveness /health, not {probes}")
        resources = container.get("resources", {})
        if not (resources.get("requests", {}).get("cpu") and resources.get("limits", {}).get("memory")):
            problem(f"{where}: no CPU request or memory limit")
        sc = container.get("securityContext", {})
        if not (sc.get("readOnlyRootFilesystem") and sc.get("runAsNonRoot")):
            problem(f"{where}: the container must be non-root with a read-only root filesystem")
        env_refs = {}
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if not ref:
                continue
            env_refs[env["name"]] = ref
            secret, secret_where = objects.get(("Secret", ref["name"]), (None, None))
            if secret is None:
                problem(f"deploy/k8s: no Secret (template) {ref['name']}")
            elif ref["key"] not in (secret.get("stringData") or {}) | (secret.get("data") or {}):
                problem(f"{secret_where}: no key {ref['key']}, which {env['name']} reads")
        needed = ["NEO_STORE__URL", "NEO_API__KEYS"] + (["NEO_GATEWAY__PASSPHRASE"] if "gateway" in chosen else [])
        for var in needed:
            if var not in env_refs or env_refs[var].get("optional"):
                problem(f"{where}: {var} must come from the Secret, not optional (neo serve needs it)")
    # Replicas: gateways under the HPA, two desks (active + standby), notify workers.
    desk = deployments.get("neo-desk", {}).get("spec", {})
    if desk.get("replicas", 1) < 2:
        problem("deploy/k8s Deployment neo-desk: replicas must be 2 or more (one active, standbys)")
    hpas = of_kind("HorizontalPodAutoscaler")
    targets = {h["spec"]["scaleTargetRef"]["name"]: h for h in hpas.values()}
    gateway_hpa = targets.get("neo-gateway")
    if gateway_hpa is None:
        problem("deploy/k8s: no HorizontalPodAutoscaler targets the Deployment neo-gateway")
    else:
        spec = gateway_hpa["spec"]
        cpu = [m["resource"]["target"].get("averageUtilization") for m in spec.get("metrics", [])
               if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"]
        if gateway_hpa["apiVersion"] != "autoscaling/v2" or spec["scaleTargetRef"].get("kind") != "Deployment":
            problem("deploy/k8s: the gateway's HPA must be autoscaling/v2 on a Deployment")
        if spec.get("minReplicas", 1) < 2 or cpu != [70]:
            problem(f"deploy/k8s: the gateway's HPA must keep 2 or more and aim at 70% CPU, not {spec}")
    for target in targets:
        if target != "neo-gateway":
            problem(f"deploy/k8s: an HPA scales {target}; only the stateless gateway scales on load")
    # A PDB for each role, selecting exactly its pods.
    pdbs = of_kind("PodDisruptionBudget")
    for name, (labels, _, _) in pods.items():
        covering = [n for n, pdb in pdbs.items() if selects(pdb["spec"].get("selector"), labels)]
        if len(covering) != 1 or pdbs[covering[0]]["spec"].get("minAvailable") != 1:
            problem(f"deploy/k8s: Deployment {name} needs one PodDisruptionBudget with minAvailable: 1 (has {covering})")
    # Services: what each selects; the Ingress reaches gateways only.
    services = of_kind("Service")
    selected = {n: [d for d, (labels, _, _) in pods.items() if selects({"matchLabels": s["spec"].get("selector")}, labels)]
                for n, s in services.items() if s["spec"].get("selector")}
    for n, ds in selected.items():
        if not ds:
            problem(f"deploy/k8s: Service {n} selects no NEO pod")
    for ing in of_kind("Ingress").values():
        for rule in ing["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]["name"]
                if selected.get(backend) != ["neo-gateway"]:
                    problem(f"deploy/k8s Ingress: {path['path']} goes to {backend}, which is not the gateways' Service")
    metrics_services = [n for n, ds in selected.items() if set(ds) == set(pods)]
    unannotated = [d for d, (_, _, _) in pods.items()
                   if deployments[d]["spec"]["template"]["metadata"].get("annotations", {}).get("prometheus.io/scrape") != "true"]
    if unannotated and not metrics_services:
        problem(f"deploy/k8s: no Service over every role and no scrape annotations on {unannotated}")
    # NetworkPolicies: what reaches each role and what it reaches.
    policies = of_kind("NetworkPolicy")
    for name, (labels, _, chosen) in pods.items():
        applying = [p for p in policies.values() if selects(p["spec"]["podSelector"], labels)]
        ingress = [x for p in applying for x in policy_ports(p, "ingress")]
        egress = {port for p in applying for port, _ in policy_ports(p, "egress")}
        if not any(port == 8001 and "monitoring" in ns for port, ns in ingress):
            problem(f"deploy/k8s NetworkPolicy: Prometheus (monitoring) may not reach {name} on 8001")
        from_ingress = any(port == 8001 and "ingress-nginx" in ns for port, ns in ingress)
        if from_ingress != ("gateway" in chosen):
            problem(f"deploy/k8s NetworkPolicy: the ingress controller {'may not' if not from_ingress else 'may'} reach {name}")
        for port in (53, 4222, 5432):
            if port not in egress:
                problem(f"deploy/k8s NetworkPolicy: {name} may not reach port {port}")
        if {"desk", "notify"} & set(chosen) and 443 not in egress:
            problem(f"deploy/k8s NetworkPolicy: {name} may not reach HTTPS (443)")
    # Prometheus' Kubernetes job finds every role's pods and labels their role.
    (prom,) = load_yaml_docs(DEPLOY / "prometheus/prometheus.k8s.yml")
    job = {j.get("job_name"): j for j in prom.get("scrape_configs", [])}.get("neo")
    if job is None:
        problem('prometheus.k8s.yml: no job "neo" (the rules select job="neo")')
    else:
        relabel = job.get("relabel_configs", [])
        keep = [r for r in relabel if r.get("action") == "keep"]
        role = [r for r in relabel if r.get("target_label") == "role"]
        for name, (labels, pod, chosen) in pods.items():
            meta = {"__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", k): v for k, v in labels.items()}
            meta["__meta_kubernetes_pod_container_port_name"] = pod["containers"][0]["ports"][0]["name"]
            for r in keep:
                value = r.get("separator", ";").join(meta.get(l, "") for l in r["source_labels"])
                if not re.fullmatch(r["regex"], value):
                    problem(f"prometheus.k8s.yml: job neo does not keep {name}'s pods ({value!r})")
            if len(role) != 1 or meta.get(role[0]["source_labels"][0]) != chosen[0]:
                problem(f"prometheus.k8s.yml: job neo does not label {name}'s pods role={chosen[0]}")
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
    roles = neo_roles()
    paths = image_paths()
    check_compose(roles, paths)
    check_grafana(names, histograms, rules)
    check_k8s(roles, paths)
    check_dockerfile()
    if problems:
        for p in dict.fromkeys(problems):
            print(f"PROBLEM: {p}", file=sys.stderr)
        return 1
    print(f"ok: compose, Prometheus, Grafana ({len(names)} NEO metrics known), Kubernetes and Dockerfile references;"
          f" roles {', '.join(sorted(roles))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
