"""Print the README's set-up commands, one per line, exactly as written.

They are the single-line ```bash blocks that start with ``pip install``, in order: the first
installs and runs the main job on the bundled sample, the second installs the test dependencies
and runs the tests. `.ci/run` executes what this prints, so README and CI cannot disagree.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


def commands(readme: str) -> list[str]:
    found = []
    for block in BLOCK.findall(readme):
        lines = [ln.strip() for ln in block.splitlines() if ln.strip()]
        if len(lines) == 1 and lines[0].startswith("pip install"):
            found.append(lines[0])
    return found


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    cmds = commands(path.read_text())
    if len(cmds) != 2:
        sys.exit(f"CI: expected 2 one-line 'pip install' commands in {path}, found {len(cmds)}")
    print("\n".join(cmds))
