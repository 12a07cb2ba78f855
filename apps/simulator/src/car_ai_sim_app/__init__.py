"""The voice-driven simulator app: a FastAPI backend that steps car_ai_rl's batched simulator
for browser sessions, with the safety supervisor always on, and a static page that runs the
exported ONNX policy with onnxruntime-web."""

__version__ = "0.1.0"
