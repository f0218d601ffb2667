"""`assistant eval`: retrieval and answer quality on a benchmark's questions."""
