#!/usr/bin/env python3
"""End-to-end tests of the server's edge: TLS cipher suites and protocol
versions, and clients that do not read their responses (send timeout and
the bound on buffered response bytes).

usage: e2e_edge.py GROUP   (tls slow_readers)
Environment: as e2e_test.py.
"""
import os
import re
import subprocess
import sys
import tempfile

from e2e_test import FAILURES, Server, check


def make_rsa_cert(directory):
    cert = os.path.join(directory, "rsa.crt")
    key = os.path.join(directory, "rsa.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", key, "-out", cert, "-subj", "/CN=localhost", "-days", "2"],
        check=True, capture_output=True)
    return cert, key


def handshake(server, *args):
    """Runs openssl s_client with args; returns the negotiated cipher, or
    None when the handshake failed."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % server.port,
           "-servername", "localhost"] + list(args)
    out = subprocess.run(cmd, input=b"", capture_output=True, timeout=30)
    text = out.stdout.decode("latin-1")
    match = re.search(r"Cipher is (\S+)", text)
    if out.returncode != 0 or match is None or match.group(1) == "(NONE)":
        return None
    return match.group(1)


# Every client offer is made at security level 0, so that a refusal is the
# server's and not the client's own policy.
def offer(cipher):
    return ["-tls1_2", "-cipher", cipher + ":@SECLEVEL=0"]


def test_tls(workdir):
    rsa_cert, rsa_key = make_rsa_cert(workdir)
    with Server(workdir, env={"APP_CERT_FILE": rsa_cert,
                              "APP_KEY_FILE": rsa_key}) as server:
        for refused in ["AES128-SHA", "AES256-GCM-SHA384",
                        "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384"]:
            got = handshake(server, *offer(refused))
            check(got is None, "RSA certificate: TLS 1.2 %s refused (got %s)"
                  % (refused, got))
        for accepted in ["ECDHE-RSA-AES128-GCM-SHA256",
                         "ECDHE-RSA-AES256-GCM-SHA384",
                         "ECDHE-RSA-CHACHA20-POLY1305"]:
            got = handshake(server, *offer(accepted))
            check(got == accepted, "RSA certificate: TLS 1.2 %s accepted "
                  "(got %s)" % (accepted, got))
        got = handshake(server, "-tls1_1", "-cipher", "ALL:@SECLEVEL=0")
        check(got is None, "TLS 1.1 refused (got %s)" % got)
        got = handshake(server, "-tls1_3")
        check(got is not None and got.startswith("TLS_"),
              "TLS 1.3 accepted (got %s)" % got)
    with Server(workdir) as server:  # e2e_test makes an EC certificate
        for refused in ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
                        "ECDHE-ECDSA-AES128-SHA256"]:
            got = handshake(server, *offer(refused))
            check(got is None, "EC certificate: TLS 1.2 %s refused (got %s)"
                  % (refused, got))
        for accepted in ["ECDHE-ECDSA-AES128-GCM-SHA256",
                         "ECDHE-ECDSA-AES256-GCM-SHA384",
                         "ECDHE-ECDSA-CHACHA20-POLY1305"]:
            got = handshake(server, *offer(accepted))
            check(got == accepted, "EC certificate: TLS 1.2 %s accepted "
                  "(got %s)" % (accepted, got))
        got = handshake(server, "-tls1_1", "-cipher", "ALL:@SECLEVEL=0")
        check(got is None, "TLS 1.1 refused with an EC certificate (got %s)"
              % got)


GROUPS = {"tls": test_tls}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in GROUPS:
        print(__doc__)
        return 64
    with tempfile.TemporaryDirectory() as workdir:
        GROUPS[sys.argv[1]](workdir)
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
