"""Numpy frames in and out, no torch: images, video + video_writer (PyAV, audio), sources, camera, sinks, window."""
