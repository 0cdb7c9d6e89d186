"""lab/ is not a package: its tools are imported by name, as tests/lab/conftest.py does."""

import os
import sys

LAB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))), "lab")
if LAB not in sys.path:
    sys.path.insert(0, LAB)
