"""Graded exercises: ``check(exercise_id, fn)`` in notebooks, ``grade_folder`` for instructors."""

from edu_gen.course.grading.core import REGISTRY, CheckFailed, Exercise, Result, check, get, grade

__all__ = ["REGISTRY", "CheckFailed", "Exercise", "Result", "check", "get", "grade"]
