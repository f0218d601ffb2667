"""Built-in reader backends (see assistant/answer/reader.py)."""
