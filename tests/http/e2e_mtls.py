#!/usr/bin/env python3
"""End-to-end tests of mutual TLS (APP_CA_FILE, APP_IGNORE_CLIENT_CERT) with
certificates made here by the openssl CLI: a test CA, a client certificate
it signed, one signed by a foreign CA, and an expired one.

usage: e2e_mtls.py GROUP   (required ignore startup reload)
  reload: the certificate and key replaced on disk while the server runs
  (renamed into place): new connections get the new certificate, one
  opened before keeps working; a key that does not match is refused with a
  log line and the certificate in use stays.
Environment: as e2e_test.py.
"""
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time

from e2e_test import (HELLO_WASM, Server, check, curl,
                      expect_startup_failure, run_group, wait_for_log,
                      wait_until)


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


def make_ca(directory, name):
    """A self-signed CA; returns (cert, key) paths."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
            "-out", cert, "-subj", "/CN=" + name, "-days", "2",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def make_request(directory, name):
    """A key and a certificate request for CN=name."""
    key = os.path.join(directory, name + ".key")
    csr = os.path.join(directory, name + ".csr")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
            "-out", csr, "-subj", "/CN=" + name)
    return csr, key


def make_client(directory, name, ca):
    """A client certificate signed by ca, valid now; returns (cert, key)."""
    csr, key = make_request(directory, name)
    cert = os.path.join(directory, name + ".crt")
    ext = os.path.join(directory, name + ".ext")
    with open(ext, "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
            "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
    return cert, key


def make_expired_client(directory, name, ca):
    """A client certificate signed by ca that expired in 2020 (`openssl ca`
    is the CLI that takes explicit dates in OpenSSL 3.0)."""
    csr, key = make_request(directory, name)
    cert = os.path.join(directory, name + ".crt")
    db = os.path.join(directory, name + "-db")
    os.mkdir(db)
    open(os.path.join(db, "index.txt"), "w").close()
    with open(os.path.join(db, "serial"), "w") as f:
        f.write("1000\n")
    conf = os.path.join(db, "ca.cnf")
    with open(conf, "w") as f:
        f.write("[ca]\ndefault_ca = test\n[test]\ndatabase = %s/index.txt\n"
                "new_certs_dir = %s\nserial = %s/serial\ndefault_md = sha256\n"
                "policy = any\n[any]\ncommonName = supplied\n" % (db, db, db))
    openssl("ca", "-batch", "-config", conf, "-cert", ca[0], "-keyfile",
            ca[1], "-in", csr, "-out", cert, "-notext",
            "-startdate", "20200101000000Z", "-enddate", "20200102000000Z")
    return cert, key


class Certs:
    def __init__(self, workdir):
        self.ca = make_ca(workdir, "test-ca")
        self.foreign_ca = make_ca(workdir, "foreign-ca")
        self.client = make_client(workdir, "client", self.ca)
        self.foreign = make_client(workdir, "foreign-client", self.foreign_ca)
        self.expired = make_expired_client(workdir, "expired-client", self.ca)


def get(server, version, cert=None):
    """curl with an optional client certificate over HTTP/1.1 or h2;
    (status, body, stderr)."""
    args = ["--http2"] if version == "2" else []
    if cert is not None:
        args += ["--cert", cert[0], "--key", cert[1]]
    status, _, body, got = curl(server, "/", *args, data=b"mtls")
    if status is not None:
        check(got == version, "curl spoke HTTP/%s (got %s)" % (version, got))
        return status, body, b""
    return None, None, body  # curl failed: body holds its stderr


def expect_served(server, version, cert, what):
    status, body, err = get(server, version, cert)
    check(status == 200 and body == b"mtls",
          "HTTP/%s %s: served (%s %r %r)" % (version, what, status, body, err))


def expect_refused(server, version, cert, what):
    """With TLS 1.3 (curl's default) the client finishes its side of the
    handshake and sends its request before the server has judged its
    certificate: it then reads the server's alert, or, when its own next
    write meets the closed connection first, a reset. Either way no HTTP
    answer (tls12_handshake checks the alert deterministically)."""
    status, body, err = get(server, version, cert)
    check(status is None and (b"alert" in err or b"reset" in err
                              or b"not connected" in err),
          "HTTP/%s %s: refused in the handshake, no HTTP answer (%s %r %r)"
          % (version, what, status, body, err))


def served_requests(server):
    """Requests that reached HTTP (access lines; APP_DEBUG is on)."""
    time.sleep(0.2)  # the access line follows the response
    return sum(1 for line in server.log_text().splitlines()
               if line.startswith("{") and json.loads(line).get("msg")
               == "request")


def tls12_handshake(port, cert=None):
    """A TLS 1.2 handshake (the client certificate is judged inside the
    handshake, not after it as in TLS 1.3). None on success, else the
    error text."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        ctx.load_cert_chain(cert[0], cert[1])
    with socket.create_connection(("127.0.0.1", port), 30) as raw:
        try:
            with ctx.wrap_socket(raw) as conn:
                conn.do_handshake()
            return None
        except (ssl.SSLError, ConnectionError) as e:
            return str(e)


def mtls_server(workdir, certs, ignore):
    env = {"APP_CA_FILE": certs.ca[0], "APP_DEBUG": "true"}
    if ignore:
        env["APP_IGNORE_CLIENT_CERT"] = "true"
    return Server(workdir, module=HELLO_WASM, env=env)


def test_required(workdir):
    certs = Certs(workdir)
    with mtls_server(workdir, certs, ignore=False) as server:
        for version in ["1.1", "2"]:
            expect_served(server, version, certs.client, "valid certificate")
            expect_refused(server, version, None, "no certificate")
            expect_refused(server, version, certs.foreign,
                           "certificate of a foreign CA")
            expect_refused(server, version, certs.expired,
                           "expired certificate")
        check(tls12_handshake(server.port, certs.client) is None,
              "TLS 1.2 handshake with a valid certificate")
        for what, cert, alert in [
                ("no", None, "ALERT_HANDSHAKE_FAILURE"),
                ("a foreign", certs.foreign, "ALERT_UNKNOWN_CA"),
                ("an expired", certs.expired, "ALERT_CERTIFICATE_EXPIRED")]:
            err = tls12_handshake(server.port, cert)
            check(err is not None and alert in err,
                  "TLS 1.2 handshake with %s certificate fails inside the "
                  "handshake with %s (%s)" % (what, alert, err))
        # the server is unharmed by the refusals
        expect_served(server, "2", certs.client, "valid certificate again")
        served = served_requests(server)
        check(served == 3, "only the 3 requests with a valid certificate "
              "reached HTTP (%d did)" % served)
        log = server.log_text()
        for why in ["unknown CA: unable to get local issuer certificate",
                    "certificate expired: certificate has expired"]:
            check("TLS handshake refused: " + why in log,
                  "the refusal's reason at debug level: %s" % why)


def test_ignore(workdir):
    certs = Certs(workdir)
    with mtls_server(workdir, certs, ignore=True) as server:
        for version in ["1.1", "2"]:
            expect_served(server, version, None, "no certificate (ignored)")
            expect_served(server, version, certs.client, "valid certificate")
            # as upstream (Go's VerifyClientCertIfGiven): a certificate that
            # is given is still verified
            expect_refused(server, version, certs.foreign,
                           "certificate of a foreign CA, ignoring")
            expect_refused(server, version, certs.expired,
                           "expired certificate, ignoring")
    # without a CA file the setting changes nothing: no certificate asked
    with Server(workdir, module=HELLO_WASM,
                env={"APP_IGNORE_CLIENT_CERT": "true"}) as server:
        expect_served(server, "1.1", None, "no CA file")
        expect_served(server, "2", certs.foreign, "no CA file, any cert")


def served_certificate(port):
    """The DER certificate the server presents to a new connection."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), 30) as raw:
        with ctx.wrap_socket(raw) as conn:
            return conn.getpeercert(binary_form=True)


def der(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def open_keepalive(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30,
                                       context=ctx)
    conn.connect()
    return conn


def keepalive_get(conn):
    """GET /health on the same connection (http.client keeps it open);
    the connection's socket must be the one opened first."""
    sock = conn.sock
    conn.request("GET", "/health")
    resp = conn.getresponse()
    resp.read()
    return resp.status if conn.sock is sock else None


def test_reload(workdir):
    with Server(workdir, module=HELLO_WASM) as server:
        cert = server.env["APP_CERT_FILE"]
        key = server.env["APP_KEY_FILE"]
        check(served_certificate(server.port) == der(cert),
              "the certificate of the files at start")
        before = open_keepalive(server.port)
        check(keepalive_get(before) == 200,
              "a connection opened before the change answers")
        new_dir = os.path.join(workdir, "new")
        os.mkdir(new_dir)
        new_cert, new_key = make_ca(new_dir, "reloaded")
        os.rename(new_key, key)  # the key first: a mismatch until the cert
        os.rename(new_cert, cert)
        want = der(cert)
        check(wait_until(lambda: served_certificate(server.port) == want, 30),
              "new connections get the new certificate")
        wait_for_log(server, 'reload succeeded: tls')
        check(keepalive_get(before) == 200,
              "the connection opened before keeps working")
        before.close()
        other_cert, other_key = make_ca(new_dir, "other")
        os.rename(other_key, key)  # a key without its certificate
        wait_for_log(server, "does not match")
        check(served_certificate(server.port) == want,
              "a key that does not match is refused; the certificate stays")
        expect_served(server, "2", None, "after a refused reload")


def test_startup(workdir):
    expect_startup_failure(workdir, {"APP_CA_FILE": "/nonexistent/ca.pem"},
                           "missing CA file", ["CA", "/nonexistent/ca.pem"])
    garbage = os.path.join(workdir, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("not a certificate\n")
    expect_startup_failure(workdir, {"APP_CA_FILE": garbage},
                           "CA file without certificates", ["CA", garbage])
    ca = make_ca(workdir, "startup-ca")
    broken = os.path.join(workdir, "broken.pem")
    with open(ca[0]) as f:
        text = f.read()
    with open(broken, "w") as f:  # a valid one, then a cut-off one
        f.write(text + text[:len(text) // 2])
    expect_startup_failure(workdir, {"APP_CA_FILE": broken},
                           "CA file with a broken certificate",
                           ["CA", broken])
    expect_startup_failure(workdir, {"APP_CA_FILE": ca[1]},
                           "CA file holding a key", ["CA", ca[1]])
    expect_startup_failure(workdir, {"APP_CA_FILE": workdir},
                           "CA file that is a folder",
                           ["CA", workdir, "not a regular file"])
    expect_startup_failure(workdir, {"APP_IGNORE_CLIENT_CERT": "perhaps"},
                           "bad boolean", ["APP_IGNORE_CLIENT_CERT"])
    # as upstream, the CA file does nothing without TLS: said in the log
    with Server(workdir, module=HELLO_WASM, tls=False,
                env={"APP_CA_FILE": ca[0]}) as server:
        status, _, body, _ = curl(server, "/", data=b"plain")
        check(status == 200 and body == b"plain", "plain HTTP served")
        check("APP_CA_FILE is ignored" in server.log_text(),
              "the ignored CA file is warned about")


GROUPS = {"required": test_required, "ignore": test_ignore,
          "startup": test_startup, "reload": test_reload}


if __name__ == "__main__":
    sys.exit(run_group(GROUPS, __doc__))
