"""Importing this package registers every chapter's exercises."""

from edu_gen.course.grading.specs import (  # noqa: F401
    ch00,
    ch01,
    ch02,
    ch03,
    ch04,
    ch05,
    ch06,
    ch07,
    ch08,
    ch09,
    ch10a,
    ch10b,
)
