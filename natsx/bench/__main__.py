"""`python -m natsx.bench ARGS` is `natsx bench ARGS`."""
from natsx.bench.cli import main

raise SystemExit(main())
