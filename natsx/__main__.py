from natsx.cli import main

raise SystemExit(main())
