from alignbook.book.cli import main

raise SystemExit(main())
