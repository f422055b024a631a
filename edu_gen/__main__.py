"""`python -m edu_gen` is the `edu-gen` command."""

import sys

from edu_gen.course.cli import main

sys.exit(main())
