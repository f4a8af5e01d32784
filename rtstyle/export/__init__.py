"""Export: ONNX files with metadata (onnx), TensorRT engines (tensorrt), the engine and export cache
(cache), and the ``rtstyle export`` job (job)."""
