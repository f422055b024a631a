"""Course tooling: lesson build, slides, the ``edu-gen`` CLI, claim cells, widgets,
figures and grading. The only layer that knows chapters."""
