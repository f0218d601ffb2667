"""What the terminal tests (in process and under a pseudo-terminal) share."""

import re

ANSI = re.compile(r"\x1b\[[0-9;]*m")
FINLAND = "What did Stoltenberg say about Finland?"
