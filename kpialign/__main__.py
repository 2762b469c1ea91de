from kpialign.cli import main

raise SystemExit(main())
