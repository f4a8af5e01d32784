"""Frames in and out, RGB uint8 inside: ``images`` (OpenCV) and ``video`` (PyAV) files;
``sources`` (file, folder, camera, simulated camera) and ``sinks`` (file, window, virtual camera)
for the frame pipeline."""
