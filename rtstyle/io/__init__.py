"""Numpy frames in and out, RGB uint8 inside, no torch: ``images`` (OpenCV), ``video`` and
``video_writer`` (PyAV, audio passed through), ``sources`` (file, folder, test card), ``camera``
(live and simulated cameras), ``sinks`` (file, virtual camera) and ``window`` (the display)."""
