"""Offline stand-in for the pip bootstrap script ansible-test downloads (its host is not reachable here).

ansible-test runs this inside a fresh virtual environment with pip's own arguments; pip comes from
the interpreter's bundled wheel (ensurepip), then the requested pip version is installed from PyPI.
"""

import ensurepip
import os
import subprocess
import sys

# get-pip.py takes pip-install arguments plus two flags of its own.
OWN_FLAGS = ("--no-setuptools", "--no-wheel")

ensurepip.bootstrap(upgrade=False)
# ensurepip turns pip's configuration files off for the whole process (PIP_CONFIG_FILE=/dev/null);
# the machine's pip.conf (index, CA bundle) must apply to the real install.
os.environ.pop("PIP_CONFIG_FILE", None)
arguments = [argument for argument in sys.argv[1:] if argument not in OWN_FLAGS]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + arguments))
