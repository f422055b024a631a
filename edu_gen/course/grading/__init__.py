"""Graded exercises: ``check(exercise_id, fn)`` in notebooks, ``grade_folder`` for instructors."""

from edu_gen.course.grading.checker import Result, check, get, grade
from edu_gen.course.grading.core import REGISTRY, CheckFailed, Exercise

__all__ = ["REGISTRY", "CheckFailed", "Exercise", "Result", "check", "get", "grade"]
