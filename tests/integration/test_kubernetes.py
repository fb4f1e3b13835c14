# SPDX-License-Identifier: MIT
"""deploy/kubernetes/ checked offline (no cluster runs here): every document
parses and round-trips through the Kubernetes API models of Debian's
python3-kubernetes without losing a field (a misspelt key is lost), and the
fields that make the topology work agree with each other and with pgseedd:
the sidecar runs runtime = external against the pod's Postgres, the probes
are /readyz and /livez on the API port with a Host header pgseedd accepts,
secrets, volumes, ports and selectors resolve, every container has resources
and a locked-down security context, and this pgseedd accepts the sidecar's
configuration."""

import copy
import json
import os
import subprocess
import tempfile
import urllib.parse

import kubernetes.client
import pytest
import yaml

from conftest import PGSEEDD, SOURCE_ROOT

DEPLOY = os.path.join(SOURCE_ROOT, "deploy", "kubernetes")
API = kubernetes.client.ApiClient()


def load():
    with open(os.path.join(DEPLOY, "kustomization.yaml")) as f:
        kustomization = yaml.safe_load(f)
    docs = []
    for name in kustomization["resources"]:
        with open(os.path.join(DEPLOY, name)) as f:
            docs.extend(d for d in yaml.safe_load_all(f) if d)
    return docs


def model_name(doc):
    group_version = doc["apiVersion"]
    version = group_version.split("/")[-1]
    return version.capitalize() + doc["kind"]


def lost_fields(doc):
    """Fields of doc that the model does not know (misspelt or misplaced), as paths."""
    obj = API._ApiClient__deserialize(copy.deepcopy(doc), model_name(doc))
    back = API.sanitize_for_serialization(obj)
    lost = []

    def walk(a, b, path):
        if isinstance(a, dict):
            for key, value in a.items():
                if not isinstance(b, dict) or key not in b:
                    lost.append(path + "/" + key)
                else:
                    walk(value, b[key], path + "/" + key)
        elif isinstance(a, list):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, "%s[%d]" % (path, i))
    walk(doc, back, "")
    return lost


@pytest.fixture(scope="module")
def docs():
    return load()


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, [d["metadata"]["name"] for d in docs if d["kind"] == kind])
    return found[0]


def container(sts, name):
    spec = sts["spec"]["template"]["spec"]
    found = [c for c in spec["containers"] + spec.get("initContainers", []) if c["name"] == name]
    assert len(found) == 1, name
    return found[0]


def env_of(c):
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def test_every_document_is_a_valid_model_without_unknown_fields(docs):
    assert {d["kind"] for d in docs} == {"Secret", "Service", "StatefulSet"}
    for d in docs:
        assert lost_fields(d) == [], (d["kind"], d["metadata"]["name"])


def test_the_checker_catches_a_misspelt_field_and_a_missing_required_one(docs):
    sts = copy.deepcopy(one(docs, "StatefulSet"))
    c = sts["spec"]["template"]["spec"]["containers"][1]
    c["readinesProbe"] = c.pop("readinessProbe")
    assert "/spec/template/spec/containers[1]/readinesProbe" in lost_fields(sts)
    del sts["spec"]["template"]["spec"]["containers"][0]["name"]
    with pytest.raises(ValueError):
        lost_fields(sts)


def test_sidecar_attaches_to_the_pods_postgres_on_runtime_external(docs):
    sts = one(docs, "StatefulSet")
    pg, sidecar = container(sts, "postgres"), container(sts, "pgseedd")
    env = env_of(sidecar)
    assert env["PGSEED_RUNTIME"] == "external"
    url = urllib.parse.urlparse(env["PGSEED_PG_URL"])
    assert url.scheme == "postgresql" and url.hostname == "127.0.0.1" and url.password is None
    pg_port = [p["containerPort"] for p in pg["ports"] if p["name"] == "postgres"]
    assert pg_port == [url.port]
    assert url.username == env_of(pg)["POSTGRES_USER"]
    # The sidecar reads the same password the server was initialised with.
    pw = [e for e in pg["env"] if e["name"] == "POSTGRES_PASSWORD"][0]["valueFrom"]["secretKeyRef"]
    mount = [m for m in sidecar["volumeMounts"] if env["PGSEED_PG_PASSWORD_FILE"].startswith(m["mountPath"] + "/")]
    assert mount, env["PGSEED_PG_PASSWORD_FILE"]
    volume = [v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == mount[0]["name"]][0]
    assert volume["secret"]["secretName"] == pw["name"]
    assert os.path.basename(env["PGSEED_PG_PASSWORD_FILE"]) == pw["key"]
    # pgseedd creates the working database itself.
    assert env_of(pg)["POSTGRES_DB"] != url.path.lstrip("/")


def test_probes_are_readyz_and_livez_on_the_api_port_with_a_loopback_host(docs):
    sts = one(docs, "StatefulSet")
    sidecar = container(sts, "pgseedd")
    listen_port = int(env_of(sidecar)["PGSEED_LISTEN"].rsplit(":", 1)[1])
    ports = {p["name"]: p["containerPort"] for p in sidecar["ports"]}
    assert ports["api"] == listen_port
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/livez")):
        get = sidecar[probe]["httpGet"]
        assert get["path"] == path and ports.get(get["port"], get["port"]) == listen_port
        hosts = [h["value"] for h in get.get("httpHeaders", []) if h["name"].lower() == "host"]
        assert hosts and hosts[0] in ("127.0.0.1", "localhost"), (probe, hosts)
    pg = container(sts, "postgres")
    assert "pg_isready" in pg["readinessProbe"]["exec"]["command"]


def test_secrets_volumes_ports_and_selectors_resolve(docs):
    sts = one(docs, "StatefulSet")
    spec = sts["spec"]["template"]["spec"]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["selector"]["matchLabels"].items() <= labels.items()
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    volumes = {v["name"] for v in spec["volumes"]} | {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    port_names = set()
    for c in spec["containers"] + spec.get("initContainers", []):
        for m in c.get("volumeMounts", []):
            assert m["name"] in volumes, (c["name"], m["name"])
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in secrets[ref["name"]]["stringData"], ref
        port_names |= {p["name"] for p in c.get("ports", [])}
    for v in spec["volumes"]:
        if "secret" in v:
            assert v["secret"]["secretName"] in secrets
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    assert services[sts["spec"]["serviceName"]]["spec"]["clusterIP"] == "None"
    for svc in services.values():
        assert svc["spec"]["selector"].items() <= labels.items(), svc["metadata"]["name"]
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in port_names, (svc["metadata"]["name"], p)
    assert {"pgseed-postgres", "pgseed-api"} <= set(services)


def test_every_container_has_resources_and_a_locked_down_security_context(docs):
    sts = one(docs, "StatefulSet")
    spec = sts["spec"]["template"]["spec"]
    for c in spec["containers"] + spec.get("initContainers", []):
        res = c["resources"]
        assert {"cpu", "memory"} <= set(res["requests"]) and {"cpu", "memory"} <= set(res["limits"]), c["name"]
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] and sc["runAsUser"] != 0, c["name"]
        assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"


def test_this_pgseedd_accepts_the_sidecars_configuration(docs):
    sidecar = container(one(docs, "StatefulSet"), "pgseedd")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGSEED_")}
    with tempfile.TemporaryDirectory() as tmp:
        for name, value in env_of(sidecar).items():
            env[name] = value
        # The files the pod's volumes provide, here.
        for key in ("PGSEED_PG_PASSWORD_FILE", "PGSEED_TOKEN_FILE"):
            path = os.path.join(tmp, key.lower())
            with open(path, "w") as f:
                f.write("secret-value-for-the-check\n")
            os.chmod(path, 0o600)
            env[key] = path
        env["PGSEED_STATE_DIR"] = tmp
        env["PGSEED_CONFIG"] = "/dev/null"
        r = subprocess.run([PGSEEDD, "--print-config=json"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
    assert r.returncode == 0, r.stdout
    cfg = json.loads(r.stdout)
    assert cfg["pgseed.runtime"] == "external", cfg
    assert (cfg["postgres.host"], cfg["postgres.port"], cfg["postgres.user"]) == ("127.0.0.1", 5432, "app"), cfg
    assert cfg["postgres.database"] == "app" and cfg["api.listen"] == "0.0.0.0:7432", cfg
