"""`python -m cli`: the `churniq` command."""

import sys

from cli.main import main

sys.exit(main())
