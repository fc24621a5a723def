#!/usr/bin/env python3
"""The settings file (APP_CONFIG_FILE, docs/configuration.md "Settings
file") with the real server:
  file     a file (CRLF, comments) turning maintenance mode on: /ready
           answers 503, /health 200, and its other settings apply (text
           log lines); the environment wins over the file, with a warning.
  refused  a file with several bad lines stops start-up (exit 1) listing
           each problem with file:line and the name; a missing file too.
  live     the file changed while the server runs (renamed into place, as a
           Kubernetes ConfigMap update does): maintenance mode and the log
           level follow within seconds; a broken file is refused with a log
           line and changes nothing; SIGHUP re-reads it.

Usage: e2e_settings.py <group>"""
import os
import signal
import subprocess
import sys

from e2e_test import (HTTP_GUEST, SERVE_BIN, Server, check, curl, free_port,
                      make_cert, run_group, wait_for_log, wait_until)


def write(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "wb") as f:
        f.write(text.encode())
    return path


def test_file(workdir):
    path = write(workdir, "settings.env",
                 "# maintenance for the test\r\n"
                 "APP_ENABLE_MAINTENANCE_MODE=true\r\n"
                 "\r\n"
                 "  APP_TEXT_LOG_FORMAT=true\r\n")
    with Server(workdir, env={"APP_CONFIG_FILE": path}) as server:
        status, _, body, _ = curl(server, "/ready")
        check(status == 503 and b"maintenance mode" in body,
              "/ready answers 503 when the file sets maintenance mode (%r)"
              % status)
        status, _, _, _ = curl(server, "/health")
        check(status == 200, "/health answers 200 in maintenance mode")
        text = server.log_text()
        check("tarmac serving" in text and not text.lstrip().startswith("{"),
              "the file's APP_TEXT_LOG_FORMAT applies")
    # the environment wins, and the server says so
    env = {"APP_CONFIG_FILE": path, "APP_ENABLE_MAINTENANCE_MODE": "false"}
    with Server(workdir, env=env) as server:
        status, _, _, _ = curl(server, "/ready")
        check(status == 200, "the environment's maintenance mode wins (%r)"
              % status)
        text = server.log_text()
        check("the environment's value is kept" in text and
              "APP_ENABLE_MAINTENANCE_MODE" in text,
              "a warning names the setting the environment keeps")


def start_refused(workdir, config_file):
    cert, key = make_cert(workdir)
    env = dict(os.environ)
    env.update({"APP_LISTEN_ADDR": "127.0.0.1:%d" % free_port(),
                "APP_CERT_FILE": cert, "APP_KEY_FILE": key,
                "APP_WASM_MODULE": HTTP_GUEST,
                "APP_CONFIG_FILE": config_file})
    out = subprocess.run([SERVE_BIN, "serve"], env=env, capture_output=True,
                         timeout=120)
    return out.returncode, out.stderr.decode()


def test_refused(workdir):
    path = write(workdir, "bad.env",
                 "APP_DEBUG=maybe\n"
                 "APP_NO_SUCH_SETTING=1\n"
                 "# fine\n"
                 "APP_EVENT_LOOPS=2\n"
                 "APP_EVENT_LOOPS=3\n"
                 "APP_WASM_POOL_SIZE = 4\n")
    code, err = start_refused(workdir, path)
    check(code == 1, "a bad settings file stops start-up (exit %d)" % code)
    for want in ["%s:1: APP_DEBUG=maybe is not a boolean" % path,
                 "%s:2: APP_NO_SUCH_SETTING is not a setting" % path,
                 "%s:5: APP_EVENT_LOOPS set again (first at line 4)" % path,
                 "%s:6: APP_WASM_POOL_SIZE : a blank before '='" % path]:
        check(want in err, "start-up error lists %r (%r)" % (want, err))
    check(len(err.strip().splitlines()) == 4,
          "one line per problem (%r)" % err)
    missing = os.path.join(workdir, "missing.env")
    code, err = start_refused(workdir, missing)
    check(code == 1 and "%s: cannot open" % missing in err,
          "a missing settings file stops start-up naming it (%d, %r)"
          % (code, err))


def replace(workdir, name, text):
    """Writes a new version beside the file and renames it into place."""
    tmp = write(workdir, name + ".new", text)
    os.rename(tmp, os.path.join(workdir, name))


def ready_status(server):
    return curl(server, "/ready")[0]


def test_live(workdir):
    path = write(workdir, "live.env", "APP_ENABLE_MAINTENANCE_MODE=false\n")
    with Server(workdir, env={"APP_CONFIG_FILE": path}) as server:
        check(ready_status(server) == 200, "/ready 200 before the change")
        replace(workdir, "live.env", "APP_ENABLE_MAINTENANCE_MODE=true\n"
                "APP_DEBUG=true\n")
        check(wait_until(lambda: ready_status(server) == 503, 30),
              "maintenance mode turned on by the file answers /ready 503")
        wait_for_log(server, "log level changed")
        replace(workdir, "live.env", "APP_ENABLE_MAINTENANCE_MODE=perhaps\n")
        wait_for_log(server, "reload failed: ")
        check("APP_ENABLE_MAINTENANCE_MODE=perhaps is not a boolean"
              in server.log_text(), "the refusal names the bad line")
        check(ready_status(server) == 503,
              "a refused file changes nothing: still in maintenance")
        # written in place with the watcher's events: SIGHUP re-reads it
        with open(path, "w") as f:
            f.write("APP_ENABLE_MAINTENANCE_MODE=false\n")
        server.proc.send_signal(signal.SIGHUP)
        check(wait_until(lambda: ready_status(server) == 200, 30),
              "maintenance mode off again")


GROUPS = {"file": test_file, "refused": test_refused, "live": test_live}

if __name__ == "__main__":
    sys.exit(run_group(GROUPS, __doc__))
