"""Show the Python C-API interaction cython -a finds in the hot functions of a kernel.

    python ci/annotate_hot.py natsx/_core/conn.pyx queue_msg deliver_result on_msg match

Prints each line of those functions that cython -a shades (score > 0), with its score.
A hot loop should show only lines that run per batch or per error, never per message.
"""
from __future__ import annotations

import html
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    pyx, *functions = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "annotated.c"
        subprocess.run([sys.executable, "-m", "cython", "-3", "-a", pyx, "-o", str(out)], check=True)
        page = out.with_suffix(".html").read_text()
    scores = {int(n): int(s) for s, n in re.findall(
        r'<pre class="cython line score-(\d+)"[^>]*>.<span class="">(\d+)</span>', page)}
    current = None
    for number, line in enumerate(Path(pyx).read_text().splitlines(), 1):
        m = re.match(r"\s*(?:cdef|cpdef|def)\s+(?:[\w*]+\s+)*?(\w+)\(", line)
        if m:
            current = m.group(1)
        if current in functions and scores.get(number, 0) > 0:
            print(f"{current:16} {number:4} score {scores[number]:3}  {html.unescape(line.strip())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
