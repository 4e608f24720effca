"""TLS test helpers: a throwaway CA with server and client certificates
made by the openssl command, and a Gateway started on a config text whose
"{port}" is the listen port it picks."""
import os
import ssl
import subprocess

from gatewaykit import Gateway


def insecure_ctx():
    """A client context that takes any certificate (the tests' own)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


def make_ca(d):
    """CA key/cert in d; returns (ca_cert, ca_key)."""
    key, cert = d / "ca.key", d / "ca.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out",
            str(cert), "-days", "2", "-subj", "/CN=wsgate test CA")
    return cert, key


def make_self_signed(d, cn="localhost"):
    """A self-signed P-256 server certificate for cn in d, its key mode
    600 (wsgate refuses a key others may read); returns (cert, key)."""
    key, cert = d / "key.pem", d / "cert.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out",
            str(cert), "-days", "2", "-subj", "/CN=" + cn)
    os.chmod(key, 0o600)
    return cert, key


def make_cert(d, name, ca, cn, san=None, server=False):
    """A key and a certificate for cn signed by ca; returns (cert, key)."""
    key, csr, cert = d / (name + ".key"), d / (name + ".csr"), \
        d / (name + ".pem")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(key), "-out", str(csr), "-subj",
            "/CN=" + cn)
    ext = d / (name + ".ext")
    lines = []
    if san:
        lines.append("subjectAltName=" + san)
    lines.append("extendedKeyUsage=" + ("serverAuth" if server else
                                        "clientAuth"))
    ext.write_text("\n".join(lines) + "\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey",
            str(ca[1]), "-CAcreateserial", "-out", str(cert), "-days", "2",
            "-extfile", str(ext))
    os.chmod(key, 0o600)
    return cert, key


def make_keypair(d, name, algorithm, pkeyopt):
    """A private key (openssl genpkey -algorithm ALGORITHM -pkeyopt
    PKEYOPT) and its public key in d, e.g. for signing tokens; returns
    (private key path, public key path)."""
    priv, pub = d / (name + ".pem"), d / (name + ".pub")
    openssl("genpkey", "-algorithm", algorithm, "-pkeyopt", pkeyopt,
            "-out", str(priv))
    openssl("pkey", "-in", str(priv), "-pubout", "-out", str(pub))
    return priv, pub


def gateway_from_text(tmp_path, text, name="tlsgw"):
    """A Gateway running `wsgate -d -c` on text, "{port}" filled in."""
    return Gateway(tmp_path, config_text=text, name=name)
