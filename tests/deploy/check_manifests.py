#!/usr/bin/python3
"""Checks the deployment files against the server they deploy.

    check_manifests.py [--root REPO]     check REPO (default: this checkout)
    check_manifests.py --self-test       break copies on purpose: each must fail

What is checked (docs/deployment.md):
- every YAML file under deploy/ parses;
- every APP_* name in deploy/, the Dockerfile and docs/deployment.md is a
  real setting (the STRING(/BOOL(/UINT(/SIZE(/DURATION( rows of the
  settings table, src/server/config.c, or a getenv("APP_...") there), and every other variable set for
  the container is one the engine reads;
- the Dockerfile: EXPOSE is the default listen port, a numeric non-root
  USER, STOPSIGNAL SIGTERM, the seed's module path, the cache under the
  writable folder;
- Kubernetes: container port = default port, probes on /health and /ready
  (paths the server answers) over HTTPS, the Secret's keys mapped to the
  default certificate and key paths, tarmac.json where
  APP_WASM_FUNCTION_CONFIG says, the cache on an emptyDir, runAsNonRoot,
  readOnlyRootFilesystem, no privilege escalation, capabilities dropped,
  seccomp RuntimeDefault, selectors that select the pods;
- compose: the same settings, port, read-only root, user and cache tmpfs.

Needs python3-yaml (Debian), hence /usr/bin/python3. The last line is
"N passed, N failed"; exit status 1 when a check failed.
"""
import os
import posixpath
import re
import shutil
import sys
import tempfile

import yaml

SETTING_ROW = re.compile(r'\b(?:STRING|BOOL|UINT|SIZE|DURATION)\("(APP_[A-Z0-9_]+)"')
# Settings read outside the table: APP_CONFIG_FILE, the settings file.
SETTING_GETENV = re.compile(r'\bgetenv\("(APP_[A-Z0-9_]+)"\)')
APP_NAME = re.compile(r'\bAPP_[A-Z0-9_]+')
# Variables the engine (not the APP_* table) reads, and TMPDIR (the C
# compiler's temporary files).
ENGINE_VARIABLES = {"TARMAC_CACHE_DIR", "TARMAC_WASM2C", "CC", "TMPDIR"}
# Made by kubectl from the .wasm files, not kept as a manifest (README.md).
MADE_BY_HAND = {"tarmac-modules"}


class Checker:
    def __init__(self, root, quiet=False):
        self.root = root
        self.quiet = quiet
        self.passed = 0
        self.failed = 0
        self.failures = []

    def check(self, ok, what):
        if ok:
            self.passed += 1
            if not self.quiet:
                print("ok: " + what)
        else:
            self.failed += 1
            self.failures.append(what)
            if not self.quiet:
                print("FAILED: " + what, file=sys.stderr)
        return ok

    def read(self, rel):
        with open(os.path.join(self.root, rel), encoding="utf-8") as f:
            return f.read()


# ---------------------------------------------------------------- server ---

class Server:
    """What the server's source says: settings, defaults, endpoints."""

    def __init__(self, c):
        # The whole server folder, so the check survives code moving
        # between its files; defaults are config.c's.
        folder = os.path.join(c.root, "src", "server")
        sources = "".join(c.read(os.path.join("src", "server", f))
                          for f in sorted(os.listdir(folder)) if f.endswith(".c"))
        config = c.read("src/server/config.c")
        self.settings = set(SETTING_ROW.findall(sources)) | \
            set(SETTING_GETENV.findall(sources))

        def default(field):
            m = re.search(r'strcpy\(c->%s, "([^"]*)"\)' % field, config)
            return m.group(1) if m else None

        listen = default("listen_addr") or ""
        self.port = int(listen.rsplit(":", 1)[1]) if ":" in listen else None
        self.cert_file = default("cert_file")
        self.key_file = default("key_file")
        self.endpoints = set(re.findall(r'path_is\(req, "(/[a-z]+)"', sources))
        c.check(len(self.settings) > 20,
                "src/server: %d settings read" % len(self.settings))
        c.check(self.port and self.cert_file and self.key_file,
                "src/server/config.c: defaults read (port %s, %s, %s)"
                % (self.port, self.cert_file, self.key_file))
        c.check({"/health", "/ready"} <= self.endpoints,
                "src/server: /health and /ready are served (%s)"
                % " ".join(sorted(self.endpoints)))


# ------------------------------------------------------------------ files --

def deploy_files(root):
    out = []
    for base, dirs, files in os.walk(os.path.join(root, "deploy")):
        dirs.sort()
        for name in sorted(files):
            out.append(os.path.relpath(os.path.join(base, name), root))
    return out


def load_yaml(c):
    docs = {}
    for rel in deploy_files(c.root):
        if not rel.endswith((".yaml", ".yml")):
            continue
        try:
            docs[rel] = [d for d in yaml.safe_load_all(c.read(rel)) if d]
            c.check(bool(docs[rel]), rel + ": parses")
        except yaml.YAMLError as e:
            c.check(False, "%s: parses (%s)" % (rel, str(e).splitlines()[0]))
    return docs


def check_names(c, server):
    """Every APP_* name written anywhere in the deployment is a setting."""
    files = deploy_files(c.root) + ["Dockerfile", "docs/deployment.md"]
    for rel in files:
        if not os.path.exists(os.path.join(c.root, rel)):
            c.check(False, rel + " exists")
            continue
        unknown = sorted(set(APP_NAME.findall(c.read(rel))) - server.settings)
        c.check(not unknown, "%s: every APP_* name is a setting%s"
                % (rel, " (unknown: %s)" % ", ".join(unknown) if unknown else ""))


def check_env_names(c, server, where, names):
    bad = sorted(n for n in names
                 if n not in server.settings and n not in ENGINE_VARIABLES)
    c.check(not bad, "%s: every variable is one the server reads%s"
            % (where, " (not: %s)" % ", ".join(bad) if bad else ""))


# ------------------------------------------------------------- Dockerfile --

class Image:
    """The Dockerfile's last stage (the image): ENV, USER, EXPOSE,
    STOPSIGNAL; and its whole text, continuation lines joined."""

    def __init__(self, c):
        text = re.sub(r"\\\n", " ", c.read("Dockerfile"))
        stages = re.split(r"(?im)^FROM\s", text)
        run = stages[-1]
        self.env = {}
        for line in re.findall(r"(?im)^ENV\s+(.*)$", run):
            for k, v in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)', line):
                self.env[k] = v.strip('"')
        user = re.findall(r"(?im)^USER\s+(\S+)", run)
        self.user = user[-1] if user else None
        self.expose = re.findall(r"(?im)^EXPOSE\s+(\d+)", run)
        self.stopsignal = re.findall(r"(?im)^STOPSIGNAL\s+(\S+)", run)
        self.text = text


def check_image(c, server, image):
    c.check(image.expose == [str(server.port)],
            "Dockerfile: EXPOSE %s (the default listen port)" % server.port)
    uid = (image.user or "").split(":")[0]
    c.check(uid.isdigit() and int(uid) != 0,
            "Dockerfile: USER is a numeric non-root uid (got %s)" % image.user)
    c.check(image.stopsignal == ["SIGTERM"], "Dockerfile: STOPSIGNAL SIGTERM")
    check_env_names(c, server, "Dockerfile ENV", image.env)
    c.check(image.env.get("APP_WASM_MODULE") == "/module/tarmac_module.wasm",
            "Dockerfile: APP_WASM_MODULE=/module/tarmac_module.wasm (the seed's path)")
    cache = image.env.get("TARMAC_CACHE_DIR", "")
    c.check(cache.startswith("/var/cache/tarmac/"),
            "Dockerfile: TARMAC_CACHE_DIR under /var/cache/tarmac (got %s)" % cache)
    c.check(image.env.get("TMPDIR") == "/var/cache/tarmac",
            "Dockerfile: TMPDIR=/var/cache/tarmac (the only writable path)")
    for folder in {posixpath.dirname(server.cert_file), "/module", "/functions",
                   "/var/cache/tarmac"}:
        c.check(re.search(r"(?m)^RUN .*install -d .*%s( |$)" % re.escape(folder), image.text),
                "Dockerfile: makes " + folder)


# ------------------------------------------------------------- Kubernetes --

def by_kind(docs):
    out = {}
    for rel, items in docs.items():
        if "/kubernetes/" not in rel:
            continue
        for d in items:
            if isinstance(d, dict) and "kind" in d:
                out.setdefault(d["kind"], []).append(d)
    return out


def one(c, kinds, kind):
    items = kinds.get(kind, [])
    c.check(len(items) == 1, "kubernetes: one %s" % kind)
    return items[0] if items else {}


def container_port(container, port):
    """A probe's or Service's port (a number or a port name) as a number."""
    for p in container.get("ports", []):
        if port in (p.get("name"), p.get("containerPort")):
            return p.get("containerPort")
    return port if isinstance(port, int) else None


def check_probes(c, server, container):
    for probe, paths in (("livenessProbe", {"/health"}),
                         ("readinessProbe", {"/ready"}),
                         ("startupProbe", {"/health", "/ready"})):
        get = (container.get(probe) or {}).get("httpGet") or {}
        path = get.get("path")
        c.check(path in paths and path in server.endpoints,
                "deployment: %s on %s (got %s)" % (probe, " or ".join(sorted(paths)), path))
        c.check(container_port(container, get.get("port")) == server.port,
                "deployment: %s on port %s" % (probe, server.port))
        c.check(get.get("scheme") == "HTTPS", "deployment: %s over HTTPS" % probe)


def check_security(c, pod, container, image):
    psc = pod.get("securityContext") or {}
    csc = container.get("securityContext") or {}
    c.check(csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True,
            "deployment: runAsNonRoot")
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    c.check(str(uid) == (image.user or "").split(":")[0],
            "deployment: runAsUser %s is the image's user" % uid)
    c.check(csc.get("readOnlyRootFilesystem") is True,
            "deployment: readOnlyRootFilesystem")
    c.check(csc.get("allowPrivilegeEscalation") is False,
            "deployment: allowPrivilegeEscalation false")
    c.check((csc.get("capabilities") or {}).get("drop") == ["ALL"],
            "deployment: capabilities drop ALL")
    seccomp = csc.get("seccompProfile", psc.get("seccompProfile")) or {}
    c.check(seccomp.get("type") == "RuntimeDefault", "deployment: seccomp RuntimeDefault")


def mounts_at(pod, container, path):
    """The volume mounted at path, or None."""
    for m in container.get("volumeMounts", []):
        if m.get("mountPath") == path:
            for v in pod.get("volumes", []):
                if v.get("name") == m.get("name"):
                    return v
    return None


def configmaps_of(volume):
    if "configMap" in volume:
        return [volume["configMap"]]
    sources = (volume.get("projected") or {}).get("sources", [])
    return [s["configMap"] for s in sources if "configMap" in s]


def check_certs(c, server, pod, container, secret):
    folder = posixpath.dirname(server.cert_file)
    c.check(posixpath.dirname(server.key_file) == folder,
            "defaults: certificate and key in one folder")
    vol = mounts_at(pod, container, folder) or {}
    ref = vol.get("secret") or {}
    c.check(ref.get("secretName") == (secret.get("metadata") or {}).get("name"),
            "deployment: the TLS Secret is mounted at " + folder)
    items = {i.get("key"): i.get("path") for i in ref.get("items", [])}
    c.check(items.get("tls.crt") == posixpath.basename(server.cert_file) and
            items.get("tls.key") == posixpath.basename(server.key_file),
            "deployment: tls.crt, tls.key -> %s, %s" % (server.cert_file, server.key_file))
    keys = set((secret.get("data") or {}).keys()) | set((secret.get("stringData") or {}).keys())
    c.check(secret.get("type") == "kubernetes.io/tls" and {"tls.crt", "tls.key"} <= keys,
            "secret: type kubernetes.io/tls with tls.crt and tls.key")


def check_functions(c, pod, container, env, configmaps):
    service_file = env.get("APP_WASM_FUNCTION_CONFIG", "")
    c.check(service_file.startswith("/"),
            "deployment: APP_WASM_FUNCTION_CONFIG names the service file (%s)" % service_file)
    vol = mounts_at(pod, container, posixpath.dirname(service_file)) or {}
    names = [m.get("name") for m in configmaps_of(vol)]
    has_file = any(posixpath.basename(service_file) in
                   ((configmaps.get(n) or {}).get("data") or {}) for n in names)
    c.check(has_file, "deployment: a ConfigMap puts %s in place" % service_file)
    for n in names:
        c.check(n in configmaps or n in MADE_BY_HAND,
                "deployment: ConfigMap %s is a manifest or made by hand (README)" % n)
    for n, cm in configmaps.items():
        text = ((cm.get("data") or {}).get("tarmac.json"))
        if text is not None:
            try:
                yaml.safe_load(text)  # JSON is YAML
                c.check(True, "configmap %s: tarmac.json parses" % n)
            except yaml.YAMLError:
                c.check(False, "configmap %s: tarmac.json parses" % n)


def check_cache(c, pod, container, image):
    cache = image.env.get("TARMAC_CACHE_DIR", "")
    mount = None
    for m in container.get("volumeMounts", []):
        if cache.startswith(m.get("mountPath", "\0") + "/"):
            mount = m
    vol = mounts_at(pod, container, mount.get("mountPath")) if mount else None
    c.check(vol is not None and "emptyDir" in vol and not mount.get("readOnly"),
            "deployment: the compile cache (%s) is on a writable emptyDir" % cache)


def check_selectors(c, deployment, kinds):
    pod_labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
    match = deployment["spec"]["selector"].get("matchLabels") or {}
    c.check(match and match.items() <= pod_labels.items(),
            "deployment: its selector selects its pods")
    for kind in ("Service", "PodDisruptionBudget"):
        for d in kinds.get(kind, []):
            sel = d["spec"]["selector"]
            sel = sel.get("matchLabels", sel)
            c.check(sel and sel.items() <= pod_labels.items(),
                    "%s %s selects the pods" % (kind, d["metadata"]["name"]))
    for hpa in kinds.get("HorizontalPodAutoscaler", []):
        ref = hpa["spec"]["scaleTargetRef"]
        c.check(hpa["apiVersion"] == "autoscaling/v2" and ref["kind"] == "Deployment"
                and ref["name"] == deployment["metadata"]["name"],
                "hpa: autoscaling/v2 on the Deployment")


def check_kubernetes(c, server, image, docs):
    kinds = by_kind(docs)
    deployment = one(c, kinds, "Deployment")
    secret = one(c, kinds, "Secret")
    for kind in ("Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        one(c, kinds, kind)
    if not deployment:
        return
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    check_env_names(c, server, "deployment env", env)
    c.check([p.get("containerPort") for p in container.get("ports", [])] == [server.port],
            "deployment: containerPort %s" % server.port)
    for svc in kinds.get("Service", []):
        for p in svc["spec"]["ports"]:
            c.check(container_port(container, p.get("targetPort")) == server.port,
                    "service: targetPort reaches %s" % server.port)
    check_probes(c, server, container)
    check_security(c, pod, container, image)
    check_certs(c, server, pod, container, secret)
    configmaps = {d["metadata"]["name"]: d for d in kinds.get("ConfigMap", [])}
    check_functions(c, pod, container, env, configmaps)
    check_cache(c, pod, container, image)
    res = container.get("resources") or {}
    c.check(bool((res.get("requests") or {}).get("memory")) and
            bool((res.get("limits") or {}).get("memory")),
            "deployment: memory requests and limits")
    check_selectors(c, deployment, kinds)


# ---------------------------------------------------------------- compose --

def volume_target(volume):
    """The container path of a compose volume ("src:target[:mode]"; the
    source may hold ${VAR:-default})."""
    if isinstance(volume, dict):
        return volume.get("target")
    parts = str(volume).split(":")
    if len(parts) > 2 and parts[-1] in ("ro", "rw", "z", "Z"):
        parts.pop()
    return parts[-1]


def check_compose(c, server, image, docs):
    compose = (docs.get("deploy/compose.yaml") or [{}])[0]
    tarmac = (compose.get("services") or {}).get("tarmac") or {}
    c.check(bool(tarmac), "compose: a tarmac service")
    env = tarmac.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    check_env_names(c, server, "compose environment", env)
    ports = [str(p).rsplit(":", 1)[-1] for p in tarmac.get("ports", [])]
    c.check(ports == [str(server.port)], "compose: publishes container port %s" % server.port)
    c.check(tarmac.get("read_only") is True, "compose: read_only")
    c.check(str(tarmac.get("user", "")).split(":")[0] == (image.user or "").split(":")[0],
            "compose: user is the image's user")
    cache = image.env.get("TARMAC_CACHE_DIR", "")
    tmpfs = [t for t in tarmac.get("tmpfs", [])
             if cache.startswith(t.split(":")[0] + "/")]
    c.check(len(tmpfs) == 1 and "exec" in tmpfs[0].split(":", 1)[-1].split(",")
            and "noexec" not in tmpfs[0],
            "compose: a tmpfs with exec holds the compile cache")
    targets = {volume_target(v) for v in tarmac.get("volumes", [])}
    c.check(posixpath.dirname(server.cert_file) in targets,
            "compose: certificates mounted at " + posixpath.dirname(server.cert_file))
    service_file = env.get("APP_WASM_FUNCTION_CONFIG", "")
    c.check(posixpath.dirname(service_file) in targets,
            "compose: the service file's folder is mounted (%s)" % service_file)
    health = " ".join((tarmac.get("healthcheck") or {}).get("test", []))
    c.check(":%s/" % server.port in health and
            any(p in health for p in server.endpoints),
            "compose: healthcheck on a served endpoint at port %s" % server.port)


def run(root, quiet=False):
    c = Checker(root, quiet)
    server = Server(c)
    docs = load_yaml(c)
    image = Image(c)
    check_names(c, server)
    check_image(c, server, image)
    check_kubernetes(c, server, image, docs)
    check_compose(c, server, image, docs)
    return c


# ------------------------------------------------------------- self-test --

# (file, text, replacement, why): each must make the check fail.
BREAKAGES = [
    ("deploy/kubernetes/deployment.yaml", "APP_EVENT_LOOPS", "APP_EVENT_LOPS", "a misspelt setting"),
    ("deploy/compose.yaml", "APP_KVSTORE_TYPE", "APP_KV_STORE_TYPE", "a misspelt setting in compose"),
    ("deploy/kubernetes/deployment.yaml", "containerPort: 8443", "containerPort: 8080", "another port"),
    ("deploy/kubernetes/deployment.yaml", "path: /ready", "path: /readyz", "a probe path the server lacks"),
    ("deploy/kubernetes/deployment.yaml", "readOnlyRootFilesystem: true",
     "readOnlyRootFilesystem: false", "a writable root"),
    ("deploy/kubernetes/deployment.yaml", "path: key.key", "path: tls.key", "the key where no default looks"),
    ("deploy/kubernetes/deployment.yaml", "mountPath: /functions", "mountPath: /function",
     "the service file's folder elsewhere"),
    ("deploy/kubernetes/service.yaml", "port: 443", "port: [443", "a YAML syntax error"),
    ("Dockerfile", "EXPOSE 8443", "EXPOSE 443", "EXPOSE not the listen port"),
    ("Dockerfile", "USER 10001:10001", "USER root", "a root user"),
    ("src/server/config.c", '"0.0.0.0:8443"', '"0.0.0.0:9443"', "the server's default port moved"),
    ("src/server/routes.c", 'path_is(req, "/ready"', 'path_is(req, "/readyz"',
     "the server no longer answers /ready"),
    ("deploy/compose.yaml", "/var/cache/tarmac:rw,exec", "/var/cache/tarmac:rw",
     "a compose cache tmpfs without exec"),
]


def self_test():
    fails = 0
    c = run(REPO, quiet=True)
    if c.failed:
        print("FAILED: the checkout itself fails: " + "; ".join(c.failures), file=sys.stderr)
        fails += 1
    else:
        print("ok: the checkout passes (%d checks)" % c.passed)
    with tempfile.TemporaryDirectory() as tmp:
        for rel, old, new, why in BREAKAGES:
            root = os.path.join(tmp, "copy")
            shutil.rmtree(root, ignore_errors=True)
            shutil.copytree(os.path.join(REPO, "deploy"), os.path.join(root, "deploy"))
            shutil.copytree(os.path.join(REPO, "src", "server"),
                            os.path.join(root, "src", "server"))
            for f in ("Dockerfile", "docs/deployment.md"):
                os.makedirs(os.path.dirname(os.path.join(root, f)), exist_ok=True)
                shutil.copy(os.path.join(REPO, f), os.path.join(root, f))
            path = os.path.join(root, rel)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if old not in text:
                print("FAILED: %s: %r not found to break" % (rel, old), file=sys.stderr)
                fails += 1
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new, 1))
            broken = run(root, quiet=True)
            if broken.failed:
                print("ok: %s is caught (%s)" % (why, broken.failures[0]))
            else:
                print("FAILED: %s (%s) is not caught" % (why, rel), file=sys.stderr)
                fails += 1
    total = len(BREAKAGES) + 1
    print("%d passed, %d failed" % (total - fails, fails))
    return 1 if fails else 0


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    root = sys.argv[2] if sys.argv[1:2] == ["--root"] else REPO
    result = run(root)
    print("%d passed, %d failed" % (result.passed, result.failed))
    sys.exit(1 if result.failed else 0)
