"""Kernel-side halves of the hidden checks ("probes").

These files are never imported by the grader: their *source text* is sent into the grading
kernel (``protocol.runner_source``), where a probe calls the student's code on a challenge and
returns plain data. They may use the standard library, numpy, torch and ``support`` only, and
nothing they return is trusted: the verdicts in ``reference_solution/grading/`` judge it.
"""
