"""Built-in embedding backends, one module each (see assistant/index/embedding.py)."""
