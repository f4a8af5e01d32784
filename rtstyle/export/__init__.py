"""Export: ONNX files with metadata (onnx), TensorRT engines (tensorrt), the compiled-file cache (cache)."""
