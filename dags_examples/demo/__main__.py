"""``python -m dags_examples.demo``: run the demo (what ``make demo`` does)."""

from __future__ import annotations

import sys

from dags_examples.demo.run_demo import main

sys.exit(main())
