"""Shared helpers of the packaging tests: where the .deb is, extracting it,
running commands with their output kept for the failure message."""
import glob
import os
import subprocess

BUILD = os.environ.get("APIMETER_BUILD_DIR", "build")
SOURCE = os.environ.get("APIMETER_SOURCE_DIR", ".")
VERSION = os.environ.get("APIMETER_VERSION", "")
PACKAGES = os.path.join(BUILD, "packages")
UNITS = ("apimeter-agent.service", "apimeter-serve.service", "apimeter-alerts.service")


def run(argv, check=True, **kw):
    """Runs argv; returns the CompletedProcess (text). With check, a non-zero
    exit raises with the command's output in the message."""
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {r.returncode}\n"
                             f"stdout:\n{r.stdout[-4000:]}\nstderr:\n{r.stderr[-4000:]}")
    return r


def arch():
    return run(["dpkg", "--print-architecture"]).stdout.strip()


def deb_path():
    """The .deb built by build_deb.py (the packaging_build_deb fixture)."""
    want = os.path.join(PACKAGES, f"apimeter_{VERSION}_{arch()}.deb")
    found = glob.glob(os.path.join(PACKAGES, "*.deb"))
    if found != [want]:
        raise AssertionError(f"expected exactly {want}, found {found}")
    return want


def extract(deb, into):
    """dpkg-deb -x: the package's files under `into`; returns `into`."""
    run(["dpkg-deb", "-x", deb, into])
    return into
