from reference_solution.cli import main

raise SystemExit(main())
