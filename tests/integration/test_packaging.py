"""Packaging: the Kubernetes YAML parses and hangs together, its gateway.conf
and the container's pass `wsgate -t`, the systemd unit has its hardening and
verifies, the container health check works against a real admin endpoint,
the container ships every library the binary links, and (WSGATE_DEB_TEST=1)
the .deb builds, unpacks and passes `wsgate -t`."""

import os
import re
import shutil
import subprocess

import pytest

from basekit import free_port, wait_for
from gatewaykit import WSGATE_BIN

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = os.path.join(ROOT, "packaging")
K8S = os.path.join(PKG, "k8s")
UNIT = os.path.join(PKG, "systemd", "wsgate.service")
DOCKERFILE = os.path.join(PKG, "docker", "Dockerfile")
HEALTHCHECK = os.path.join(PKG, "docker", "healthcheck.sh")
RELEASE_BIN = os.environ.get("WSGATE_RELEASE_BIN", os.path.join(ROOT, "wsgate"))


def need_bin(path):
    if not os.path.exists(path):
        pytest.fail("wsgate binary not found: %s" % path)


def check_config(path):
    need_bin(WSGATE_BIN)
    r = subprocess.run([WSGATE_BIN, "-t", "-c", path], capture_output=True,
                       text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "configuration OK" in r.stdout + r.stderr, \
        r.stdout + r.stderr


# ---------------------------------------------------------------- k8s

def k8s_docs():
    yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed")
    docs = []
    names = sorted(n for n in os.listdir(K8S) if n.endswith((".yaml", ".yml")))
    assert names, "no YAML under packaging/k8s"
    for n in names:
        with open(os.path.join(K8S, n)) as f:
            for d in yaml.safe_load_all(f):
                if d is not None:
                    docs.append((n, d))
    return docs


def by_kind(docs, kind):
    found = [d for _, d in docs if d.get("kind") == kind]
    assert len(found) == 1, "want one %s, got %d" % (kind, len(found))
    return found[0]


def test_k8s_yaml_parses():
    for name, d in k8s_docs():
        assert isinstance(d, dict), name
        for key in ("apiVersion", "kind", "metadata"):
            assert key in d, "%s: no %s" % (name, key)
        assert d["metadata"].get("name"), name


def test_k8s_sidecar_shape():
    docs = k8s_docs()
    cm, dep, svc = (by_kind(docs, k) for k in ("ConfigMap", "Deployment", "Service"))
    pod = dep["spec"]["template"]
    spec = pod["spec"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()

    vols = {v["name"]: v for v in spec["volumes"]}
    conts = {c["name"]: c for c in spec["containers"]}
    assert set(conts) == {"legacy", "wsgate"}
    # the socket volume is an emptyDir both containers mount at one path
    shared = [n for n, v in vols.items() if "emptyDir" in v]
    assert len(shared) == 1
    mounts = [{m["name"]: m["mountPath"] for m in c["volumeMounts"]} for c in conts.values()]
    assert all(shared[0] in m for m in mounts)
    assert len({m[shared[0]] for m in mounts}) == 1
    # gateway.conf comes from the ConfigMap
    cfg = [n for n, v in vols.items() if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
    assert cfg and cfg[0] in {m["name"] for m in conts["wsgate"]["volumeMounts"]}

    gw = conts["wsgate"]
    ports = {p["name"]: p["containerPort"] for p in gw["ports"]}
    assert gw["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gw["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe"):
        assert gw[probe]["httpGet"]["port"] in ports
    for p in svc["spec"]["ports"]:
        assert p["targetPort"] in ports
    # the config listens where the Pod and the probes say
    conf = cm["data"]["gateway.conf"]
    admin = re.search(r"^admin_listen\s*=\s*0\.0\.0\.0:(\d+)", conf, re.M)
    assert admin and int(admin.group(1)) == ports[gw["livenessProbe"]["httpGet"]["port"]]
    assert re.search(r"^listen\s*=\s*0\.0\.0\.0:%d\b" % ports["ws"], conf, re.M)
    sock = re.search(r"^backend\s*=\s*unix:(\S+)", conf, re.M)
    assert sock and os.path.dirname(sock.group(1)) == mounts[0][shared[0]]
    assert spec["securityContext"]["runAsNonRoot"] is True


def test_k8s_config_checks(tmp_path):
    cm = by_kind(k8s_docs(), "ConfigMap")
    p = tmp_path / "gateway.conf"
    p.write_text(cm["data"]["gateway.conf"])
    check_config(str(p))


def test_container_config_checks():
    check_config(os.path.join(PKG, "docker", "gateway.conf"))


# ---------------------------------------------------------------- systemd

def unit_keys():
    keys = {}
    with open(UNIT) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";", "[")):
                continue
            k, _, v = line.partition("=")
            keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def test_systemd_unit_hardening():
    k = unit_keys()
    want = {
        "User": "wsgate", "ProtectSystem": "strict", "ProtectHome": "yes",
        "PrivateTmp": "yes", "PrivateDevices": "yes", "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
        "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
        "LimitNOFILE": "65536", "RestrictNamespaces": "yes",
        "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
    }
    for key, val in want.items():
        assert k.get(key) == [val], "%s=%s, want %s" % (key, k.get(key), val)
    assert set(k["RestrictAddressFamilies"][0].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert "@system-service" in k["SystemCallFilter"]
    assert k["Type"][0] in ("exec", "notify")
    assert k["ExecStart"] == ["/usr/bin/wsgate -d -c /etc/wsgate/gateway.conf"]
    assert "/bin/kill -HUP $MAINPID" in k["ExecReload"]
    assert "DynamicUser" not in k  # the package creates a real user


def test_systemd_unit_verifies(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    need_bin(WSGATE_BIN)
    # verify wants the ExecStart binary and the Documentation man pages
    with open(UNIT) as f:
        text = f.read().replace("/usr/bin/wsgate", os.path.abspath(WSGATE_BIN))
    (tmp_path / "wsgate.service").write_text(text)
    for sec, page in (("8", "wsgate.8"), ("5", "gateway.conf.5")):
        d = tmp_path / "man" / ("man" + sec)
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(ROOT, "docs", page), d)
    env = dict(os.environ, MANPATH=str(tmp_path / "man"), SYSTEMD_LOG_LEVEL="notice")
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "wsgate.service")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "wsgate.service" not in r.stdout + r.stderr, r.stdout + r.stderr


# ---------------------------------------------------------------- container

def run_healthcheck(*args):
    return subprocess.run(["bash", HEALTHCHECK] + list(args), capture_output=True,
                          text=True, timeout=15)


def test_healthcheck_script(tmp_path):
    need_bin(WSGATE_BIN)
    port, admin = free_port(), free_port()
    conf = tmp_path / "gateway.conf"
    conf.write_text("[gateway]\nlisten = 127.0.0.1:%d\nadmin_listen = 127.0.0.1:%d\n"
                    "[route /x]\nbackend = tcp:127.0.0.1:9\n" % (port, admin))
    addr = "127.0.0.1:%d" % admin
    # nothing listening yet: unhealthy, quickly
    r = run_healthcheck(addr)
    assert r.returncode == 1 and "cannot connect" in r.stderr
    log = open(tmp_path / "wsgate.log", "w")
    p = subprocess.Popen([WSGATE_BIN, "-d", "-c", str(conf)], stdout=log,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        def healthy():
            assert p.poll() is None, (tmp_path / "wsgate.log").read_text()
            return run_healthcheck(addr).returncode == 0
        wait_for(healthy, 10, interval=0.1, what="the healthcheck to pass")
        assert run_healthcheck(addr, "/readyz").returncode == 0
        r = run_healthcheck(addr, "/no-such-page")
        assert r.returncode == 1 and "404" in r.stderr
        r = run_healthcheck()  # the default address is the container's
        assert r.returncode in (0, 1)
    finally:
        p.terminate()
        p.wait(timeout=20)
        log.close()


def runtime_packages():
    """The packages the Dockerfile's last stage apt-installs."""
    with open(DOCKERFILE) as f:
        text = f.read()
    last = text[text.rindex("\nFROM "):]
    m = re.search(r"apt-get install -y --no-install-recommends \\\n(.*?)\s*\\\n \&\&",
                  last, re.S)
    assert m, "no apt-get install in the runtime stage"
    return set(m.group(1).replace("\\", " ").split())


def test_container_has_linked_libraries():
    """Every library the binary links directly comes from a package the
    runtime stage installs (apt brings in what those need)."""
    if not all(shutil.which(t) for t in ("ldd", "readelf", "dpkg")):
        pytest.skip("needs ldd, readelf and dpkg")
    need_bin(RELEASE_BIN)
    have = runtime_packages()
    r = subprocess.run(["readelf", "-d", RELEASE_BIN], capture_output=True, text=True,
                       check=True)
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", r.stdout))
    assert needed
    r = subprocess.run(["ldd", RELEASE_BIN], capture_output=True, text=True, check=True)
    paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", r.stdout, re.M))
    missing = []
    for path in (paths[n] for n in sorted(needed)):
        q = subprocess.run(["dpkg", "-S", os.path.realpath(path)],
                           capture_output=True, text=True)
        if q.returncode != 0:
            q = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        assert q.returncode == 0, "no package owns %s" % path
        pkg = q.stdout.split(":")[0]
        if pkg not in have and pkg != "libc6":  # libc6 is in the base image
            missing.append("%s (%s)" % (pkg, path))
    assert not missing, "Dockerfile runtime stage lacks: %s" % ", ".join(missing)


# ---------------------------------------------------------------- .deb

@pytest.mark.skipif(os.environ.get("WSGATE_DEB_TEST") != "1",
                    reason="set WSGATE_DEB_TEST=1 to build the .deb (needs root or "
                           "dpkg-dev, debhelper installed)")
def test_deb_builds_and_checks(tmp_path):
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")  # `make test` ran them
    r = subprocess.run(["sh", os.path.join(PKG, "build-deb.sh")], capture_output=True,
                       text=True, timeout=900, env=env, cwd=ROOT)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    debs = [n for n in os.listdir(os.path.join(ROOT, "build", "deb"))
            if re.match(r"wsgate_.*\.deb$", n)]
    assert len(debs) == 1, debs
    deb = os.path.join(ROOT, "build", "deb", debs[0])
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", deb, str(root)], check=True)
    ctrl = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", deb, str(ctrl)], check=True)

    # The demo page's root names where the package put it; check the
    # config against the unpacked tree.
    conf = (root / "etc/wsgate/gateway.conf").read_text()
    assert re.search(r"^root\s*=\s*/usr/share/wsgate/www$", conf, re.M), conf
    assert (root / "usr/share/wsgate/www/index.html").exists()
    unpacked = tmp_path / "unpacked.conf"
    unpacked.write_text(conf.replace("/usr/share/wsgate/www",
                                     str(root / "usr/share/wsgate/www")))
    r = subprocess.run([str(root / "usr/bin/wsgate"), "-t", "-c",
                        str(unpacked)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "configuration OK" in r.stdout + r.stderr, \
        r.stdout + r.stderr
    assert (root / "lib/systemd/system/wsgate.service").read_text() == open(UNIT).read()
    assert "/etc/wsgate/gateway.conf" in (ctrl / "conffiles").read_text().split()
    assert "adduser --system" in (ctrl / "postinst").read_text()
    assert "deb-systemd-helper" in (ctrl / "postinst").read_text()
    depends = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True,
                             text=True, check=True).stdout
    for pkg in ("adduser", "libevent-2.1-7", "libssl3", "libinih1"):
        assert pkg in depends, depends
    # The websockify command for migrating users, clear of Debian's own.
    compat = root / "usr/lib/wsgate/compat/websockify"
    # dh_link makes it relative (Debian policy 10.5): it must land on
    # /usr/bin/wsgate either way.
    link = os.readlink(compat)
    assert os.path.normpath(os.path.join("/usr/lib/wsgate/compat", link)) \
        == "/usr/bin/wsgate", link
    assert not (root / "usr/bin/websockify").exists()
    assert (root / "usr/share/doc/wsgate/MIGRATING.md").exists()
    assert (root / "usr/lib/wsgate/rebind.so").exists()     # wrap_command
    pages = ["usr/share/man/man8/wsgate.8.gz", "usr/share/man/man5/gateway.conf.5.gz"]
    for page in pages:
        assert (root / page).exists(), page
    if shutil.which("man"):
        for page in pages:
            r = subprocess.run(["man", "--warnings", "-l", str(root / page)],
                               capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8"))
            assert r.returncode == 0 and r.stdout.strip(), r.stderr
            assert r.stderr == "", r.stderr
