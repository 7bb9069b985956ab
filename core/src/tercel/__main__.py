from tercel.cli import main

raise SystemExit(main())
