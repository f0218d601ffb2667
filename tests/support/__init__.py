"""What tests and benchmarks share: the sample corpus and questions, fakes of the systems we do
not run (an embedder, an LLM, Slack), and helpers that start real servers and processes.

Nothing here is a test; test files and benchmarks import from here, never from each other or
from a conftest.
"""
