"""`python -m natsx.loadgen ARGS` is `natsx bench ARGS`."""
from natsx.loadgen.cli import main

raise SystemExit(main())
