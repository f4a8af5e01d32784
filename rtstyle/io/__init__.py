"""Image and video file IO: ``images`` (OpenCV) and ``video`` (PyAV). RGB uint8 inside."""
