"""``python -m demo``: run the demo (what ``make demo`` does)."""

from __future__ import annotations

import sys

from demo.run_demo import main

sys.exit(main())
