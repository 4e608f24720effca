"""packaging/k8s/fleet/: the YAML parses, its objects select each other,
the timings of the rolling restart add up, and its gateway.conf passes
`wsgate -t`."""
import os
import re
import subprocess

import pytest

from gatewaykit import WSGATE_BIN

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLEET = os.path.join(ROOT, "packaging", "k8s", "fleet")


def docs():
    yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed")
    out = []
    for n in sorted(os.listdir(FLEET)):
        if n.endswith((".yaml", ".yml")):
            with open(os.path.join(FLEET, n)) as f:
                out += [(n, d) for d in yaml.safe_load_all(f) if d]
    return out


def find(kind, component=None):
    found = [d for _, d in docs() if d["kind"] == kind and (
        component is None or d["metadata"]["labels"].get(
            "app.kubernetes.io/component") == component)]
    assert len(found) == 1, (kind, component, len(found))
    return found[0]


def conf_text():
    return find("ConfigMap")["data"]["gateway.conf"]


def conf_key(key):
    m = re.search(r"^%s\s*=\s*(\S+)" % key, conf_text(), re.M)
    assert m, key
    return m.group(1)


def seconds(v):
    m = re.fullmatch(r"(\d+)(ms|s|m)?", v)
    n = int(m.group(1))
    return {"ms": n / 1000, "s": n, "m": 60 * n, None: n}[m.group(2)]


def test_every_document_parses_and_is_named():
    kinds = sorted(d["kind"] for _, d in docs())
    assert kinds == ["ConfigMap", "Deployment", "Deployment",
                     "PodDisruptionBudget", "Secret", "Service", "Service"]
    for name, d in docs():
        assert d.get("apiVersion") and d["metadata"].get("name"), name


def test_objects_select_each_other():
    gw = find("Deployment", "gateway")
    redis = find("Deployment", "redis")
    gw_labels = gw["spec"]["template"]["metadata"]["labels"]
    redis_labels = redis["spec"]["template"]["metadata"]["labels"]
    assert gw["spec"]["replicas"] >= 3
    assert gw["spec"]["selector"]["matchLabels"].items() <= gw_labels.items()
    for obj in (find("PodDisruptionBudget"), ):
        sel = obj["spec"]["selector"]["matchLabels"]
        assert sel.items() <= gw_labels.items()
        assert not sel.items() <= redis_labels.items()
    services = [d for _, d in docs() if d["kind"] == "Service"]
    by_name = {s["metadata"]["name"]: s for s in services}
    gsvc = [s for s in services
            if s["spec"]["selector"].items() <= gw_labels.items()]
    rsvc = [s for s in services
            if s["spec"]["selector"].items() <= redis_labels.items()]
    assert len(gsvc) == 1 and len(rsvc) == 1
    # gateway.conf's redis is the Redis Service, on its port
    host, port = conf_key("redis").rsplit(":", 1)
    assert host in by_name and by_name[host] is rsvc[0]
    assert int(port) == rsvc[0]["spec"]["ports"][0]["port"]
    c = gw["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert gsvc[0]["spec"]["ports"][0]["targetPort"] in ports
    assert re.search(r"^listen\s*=\s*0\.0\.0\.0:%d\b" % ports["ws"],
                     conf_text(), re.M)
    assert conf_key("admin_listen") == "0.0.0.0:%d" % ports["admin"]


def test_rolling_restart_timings_add_up():
    gw = find("Deployment", "gateway")
    spec = gw["spec"]["template"]["spec"]
    c = spec["containers"][0]
    rp = c["readinessProbe"]
    assert rp["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    delay, drain = seconds(conf_key("drain_delay")), \
        seconds(conf_key("drain_timeout"))
    # readiness fails and the endpoint goes before anyone is closed
    assert rp["periodSeconds"] * rp.get("failureThreshold", 3) < delay
    # the kubelet waits for the whole drain
    assert spec["terminationGracePeriodSeconds"] > delay + drain
    pre = " ".join(c["lifecycle"]["preStop"]["exec"]["command"])
    assert "kill -TERM 1" in pre and "kill -0 1" in pre
    assert gw["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_secrets_reach_the_paths_the_config_names():
    spec = find("Deployment", "gateway")["spec"]["template"]["spec"]
    c = spec["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in spec["volumes"]}
    secret = find("Secret")
    for key in ("admin_token_file", "token_id_key_file"):
        path = conf_key(key)
        d, f = os.path.split(path)
        vol = [n for n, p in mounts.items() if p == d]
        assert vol and "emptyDir" in vols[vol[0]], key
        assert f in secret["stringData"]
        init = spec["initContainers"][0]
        assert "/usr/bin/install" in init["command"][0]
        assert "600" in init["command"]
        assert any(x.endswith("/" + f) for x in init["command"])
    assert len(secret["stringData"]["token-id-key"]) >= 16


def test_the_fleet_config_passes_wsgate_t(tmp_path):
    text = conf_text()
    for key, name in (("admin_token_file", "admin-token"),
                      ("token_id_key_file", "token-id-key")):
        p = tmp_path / name
        p.write_text(find("Secret")["stringData"][name])
        os.chmod(p, 0o600)
        text = re.sub(r"^(%s\s*=\s*)\S+" % key, r"\g<1>%s" % p, text,
                      flags=re.M)
    # The Service name resolves only in the cluster.
    text = re.sub(r"^(redis\s*=\s*)[^:\s]+", r"\g<1>127.0.0.1", text,
                  flags=re.M)
    conf = tmp_path / "gateway.conf"
    conf.write_text(text)
    r = subprocess.run([WSGATE_BIN, "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and "configuration OK" in r.stdout, \
        r.stdout + r.stderr
    assert "warning" not in r.stderr
