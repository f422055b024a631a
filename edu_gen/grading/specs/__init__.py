"""Importing this package registers every chapter's exercises."""

from edu_gen.grading.specs import ch00, ch01, ch02  # noqa: F401
