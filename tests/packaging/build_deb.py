"""Fixture: builds the .deb from this build tree with cpack, replacing any
older one, so the packaging tests inspect exactly this build."""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkg  # noqa: E402


def main():
    for old in glob.glob(os.path.join(pkg.PACKAGES, "*.deb")):
        os.remove(old)
    r = pkg.run(["cpack", "--config", os.path.join(pkg.BUILD, "CPackConfig.cmake")], cwd=pkg.BUILD)
    print(r.stdout)
    deb = pkg.deb_path()
    print(f"built {deb}: {os.path.getsize(deb)} bytes")


if __name__ == "__main__":
    main()
