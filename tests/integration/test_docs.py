"""The man pages render without warnings, and --help names every option
the man page documents."""
import os
import shutil
import subprocess

import pytest

from gatewaykit import WSGATE_BIN

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = ["docs/wsgate.8", "docs/gateway.conf.5"]


@pytest.mark.skipif(shutil.which("man") is None, reason="man-db not installed")
@pytest.mark.parametrize("page", PAGES)
def test_man_page_renders_without_warnings(page):
    r = subprocess.run(["man", "--warnings", "-l", os.path.join(ROOT, page)],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "", r.stderr
    assert len(r.stdout.splitlines()) > 20


def test_help_lists_the_options_of_the_man_page():
    out = subprocess.run([WSGATE_BIN, "--help"], capture_output=True,
                         text=True, timeout=20).stdout
    with open(os.path.join(ROOT, "docs/wsgate.8")) as f:
        man = f.read()
    for opt in ("-c", "-t", "-d", "-v", "-h", "-V", "--config", "--test",
                "--foreground", "--verbose", "--help", "--version"):
        assert opt in out, opt
        assert opt.replace("-", "\\-") in man, opt
