"""Readable, runnable implementations of the self-supervised pretext methods of the course.

Start with ``python -m ssl_examples list``; every method lives in ``ssl_examples/methods/<name>.py``.
"""

__version__ = "0.1.0"
