"""Training the reader (``python -m assistant.training.train``): data from ../shared/datasets,
split by time; a MiniLM cross-encoder fine-tuned with torch on the CPU; exported to the int8
onnxruntime graph shipped in assistant/answer/readers/. Needs the ``train`` extra; nothing at
run time imports this package."""
