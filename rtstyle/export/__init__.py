"""Export: ONNX files with metadata (onnx), TensorRT engines (tensorrt), and the cache of exports,
TensorRT engines and OpenVINO compiled models (cache). The ``rtstyle export`` job is in pipeline.jobs."""
