"""`python -m respdb` runs the server, like `respdb-server`."""

import sys

from respdb.cli import main

sys.exit(main())
