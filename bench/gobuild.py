"""Build a one-file Go program against Debian's nats.go, offline.

Debian ships nats.go as a GOPATH tree (golang-go + golang-github-nats-io-go-nats-dev, which
ci/test.sh installs), so programs are built without modules. Used by the nats.go client test
and by bench.headroom's nats.go generator.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

GOCODE = "/usr/share/gocode"


def build_go_program(source: Path, workdir: Path, name: str) -> Path:
    """Compile `source` (package main) as `name` inside `workdir`; returns the executable."""
    go = shutil.which("go")
    if not go or not Path(GOCODE, "src/github.com/nats-io/nats.go").exists():
        raise RuntimeError("nats.go is needed: apt-get install golang-go golang-github-nats-io-go-nats-dev "
                           "(ci/test.sh does)")
    pkg = workdir / "src" / name
    pkg.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, pkg / "main.go")
    exe = workdir / name
    env = dict(os.environ, GO111MODULE="off", GOPATH=f"{workdir}:{GOCODE}", GOCACHE=str(workdir / "cache"),
               GOFLAGS="")
    subprocess.run([go, "build", "-o", str(exe), name], cwd=workdir, env=env, check=True, timeout=600)
    return exe
