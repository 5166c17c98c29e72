"""The dense leg's encoders: sentence-transformers and ONNX Runtime, the offline e5 conversion."""
